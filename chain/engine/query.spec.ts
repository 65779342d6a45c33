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
