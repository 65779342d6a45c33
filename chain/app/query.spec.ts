/**
 * Query errors through the real application: every refusal carries a registered codespace
 * and code, whatever the request's bytes — a request that does not decode is sdk/18
 * (invalid request) and an unknown path sdk/6 (unknown request), as in the Cosmos SDK —
 * never the codespace "undefined" of an internal error.
 */
import { QueryBalanceRequest } from "cosmjs-types/cosmos/bank/v1beta1/query";
import { BackstopApp } from "./app";
import { ErrInvalidRequest, ErrUnknownRequest, UNDEFINED_CODESPACE } from "./errors";
import { initLocalnetApp, runBlock } from "../../test/util/localnet";

describe("query errors", () => {
  let app: BackstopApp;
  beforeAll(async () => {
    ({ app } = await initLocalnetApp());
    runBlock(app, 1n, []);
  });
  afterAll(() => app.close());

  const query = (path: string, data: Uint8Array) => app.query({ path, data, height: 0n, prove: false });

  /** Bytes that no request message decodes from: a field cut short, a tag of wire type 4, a length past the end. */
  const garbage = [Buffer.from([0x0a, 0x05, 0x61]), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from("definitely not protobuf"), Buffer.from([0x12, 0x08, 0x01])];

  it("answers a request that does not decode with sdk/18, on every registered path", () => {
    const paths = [...app.modules.manager.modules.flatMap((m) => m.queries.map((q) => q.path)), "/cosmos.tx.v1beta1.Service/Simulate"];
    expect(paths).toContain("/backstop.clearing.v1.Query/Market");
    let refused = 0;
    for (const path of paths) {
      for (const data of garbage) {
        const r = query(path, data);
        if (r.code === 0) continue; // some bytes happen to decode for some messages
        refused++;
        expect(r.codespace).not.toBe(UNDEFINED_CODESPACE);
        expect(r.codespace).not.toBe("");
      }
      // A field cut short decodes as no message at all: refused on every path, as invalid.
      const r = query(path, garbage[0]);
      expect([path, r.codespace, r.code]).toEqual([path, ErrInvalidRequest.codespace, ErrInvalidRequest.code]);
      expect(r.log).toMatch(/invalid request$/);
    }
    expect(refused).toBeGreaterThanOrEqual(paths.length);
  });

  it("answers an unknown path with sdk/6, and a good request still with code 0", () => {
    for (const path of ["/backstop.clearing.v1.Query/NoSuchMethod", "/nope", "", "store/bank/key"]) {
      const r = query(path, QueryBalanceRequest.encode({ address: "x", denom: "uusdc" }).finish());
      expect([r.codespace, r.code]).toEqual([ErrUnknownRequest.codespace, ErrUnknownRequest.code]);
    }
    const ok = query("/backstop.clearing.v1.Query/Markets", new Uint8Array());
    expect([ok.code, ok.codespace]).toEqual([0, ""]);
  });
});
