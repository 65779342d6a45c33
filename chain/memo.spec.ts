import { Memo } from "./memo";

describe("Memo", () => {
  it("computes once per key, forgets everything when full, and remembers nothing that threw", () => {
    const calls: string[] = [];
    const m = new Memo<string, string>(2, (k) => {
      calls.push(k);
      if (k === "bad") throw new Error("bad key");
      return k.toUpperCase();
    });
    expect([m.get("a"), m.get("a"), m.get("b")]).toEqual(["A", "A", "B"]);
    expect(calls).toEqual(["a", "b"]);
    expect(() => m.get("bad")).toThrow("bad key");
    expect(m.size).toBe(2);
    expect(m.get("c")).toBe("C"); // full: cleared, then c
    expect(m.size).toBe(1);
    expect(m.get("a")).toBe("A");
    expect(calls).toEqual(["a", "b", "bad", "c", "a"]);
  });
});
