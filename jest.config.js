/** Unit specs live beside the code (*.spec.ts); integration and end-to-end tests in test/. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/chain", "<rootDir>/client", "<rootDir>/test"],
  testMatch: ["**/*.spec.ts", "**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } } }] },
  moduleFileExtensions: ["ts", "js", "json"],
  testTimeout: 60000,
};
