/** Unit specs live beside the code (*.spec.ts); integration and end-to-end tests in test/. */
const swc = ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } }, module: { type: "commonjs" } }];

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/chain", "<rootDir>/client", "<rootDir>/test"],
  testMatch: ["**/*.spec.ts", "**/*.test.ts"],
  transform: {
    "^.+\\.ts$": swc,
    // @noble/* and @scure/* (used by CosmJS) ship ES modules only; jest's CommonJS runtime needs them compiled.
    "^.+/node_modules/(@noble|@scure)/.+\\.js$": swc,
  },
  transformIgnorePatterns: ["/node_modules/(?!.*/?(@noble|@scure)/)"],
  moduleFileExtensions: ["ts", "js", "json"],
  testTimeout: 60000,
  // The slow reliability suite (soak, repeated kill -9) runs with `make test-long` (LONG_TESTS=1).
  testPathIgnorePatterns: process.env.LONG_TESTS ? ["/node_modules/"] : ["/node_modules/", "/test/long/"],
  // CosmJS 0.39 keeps the event loop alive after a test is done: its ReconnectingSocket
  // reconnects after an explicit disconnect(), and broadcastTx leaves its 60 s timer
  // running when CheckTx rejects. Every test awaits its own work; exit when they finish.
  forceExit: true,
};
