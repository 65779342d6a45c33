import { eventMap, matches, parseQuery, QueryError } from "./query";

describe("event query language", () => {
  it("parses conditions joined by AND", () => {
    expect(parseQuery("tm.event='Tx' AND message.sender='backstop1abc' AND tx.height>=5")).toEqual([
      { key: "tm.event", op: "=", value: "Tx", numeric: false },
      { key: "message.sender", op: "=", value: "backstop1abc", numeric: false },
      { key: "tx.height", op: ">=", value: "5", numeric: true },
    ]);
    expect(parseQuery("transfer.amount CONTAINS 'uusdc' AND acc.x EXISTS")[1]).toEqual({ key: "acc.x", op: "EXISTS", value: null, numeric: false });
  });

  it.each(["", "tx.height", "tx.height >", "a='b' OR c='d'", "a='b' c='d'", "'x'='y'", "a CONTAINS 5"])("refuses %p", (q) => {
    expect(() => parseQuery(q)).toThrow(QueryError);
  });

  it("matches events, numerically where the operand is a number", () => {
    const ev = eventMap([{ type: "message", attributes: [{ key: "sender", value: "alice" }] }], { "tx.height": "12", "tm.event": "Tx" });
    expect(matches(parseQuery("message.sender='alice' AND tx.height>9"), ev)).toBe(true);
    expect(matches(parseQuery("message.sender='bob'"), ev)).toBe(false);
    expect(matches(parseQuery("tx.height<=11"), ev)).toBe(false);
    expect(matches(parseQuery("tx.height=12"), ev)).toBe(true);
    expect(matches(parseQuery("message.sender CONTAINS 'lic'"), ev)).toBe(true);
    expect(matches(parseQuery("transfer.amount EXISTS"), ev)).toBe(false);
  });
});

describe("tx_search height bounds", () => {
  it("turns tx.height conditions into the range of heights to read", async () => {
    const { heightRange } = await import("./rpc");
    const { parseQuery } = await import("./query");
    const r = (q: string) => heightRange(parseQuery(q), 100);
    expect(r("tx.height>=40")).toEqual({ lo: 40, hi: 100 });
    expect(r("tx.height>40 AND tx.height<=60")).toEqual({ lo: 41, hi: 60 });
    expect(r("tx.height=7")).toEqual({ lo: 7, hi: 7 });
    expect(r("tx.height<1")).toEqual({ lo: 1, hi: 0 }); // empty
    expect(r("message.sender='x'")).toBeNull();
  });
});
