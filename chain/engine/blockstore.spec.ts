import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { open } from "lmdb";
import { BlockStore, JsonTxResult, PreparedTxs, StoredResults, StoredTx, txResultJson } from "./blockstore";

const hashOf = (s: string) => createHash("sha256").update(s).digest("hex").toUpperCase();

function result(sender: string, n: number): JsonTxResult {
  return {
    code: 0,
    data: null,
    log: "",
    info: "",
    gas_wanted: "100",
    gas_used: String(n),
    codespace: "",
    events: [
      { type: "message", attributes: [{ key: "sender", value: sender, index: true }] },
      { type: "tx", attributes: [{ key: "acc_seq", value: `${sender}/${n}`, index: true }, { key: "memo", value: "not indexed", index: false }] },
    ],
  };
}

/** Saves heights 1..3: block h has txs h-0, h-1, h-2 from senders alice, bob, alice. */
async function fill(store: BlockStore): Promise<StoredTx[]> {
  const all: StoredTx[] = [];
  for (let h = 1; h <= 3; h++) {
    const senders = ["alice", "bob", "alice"];
    const txs: StoredTx[] = senders.map((s, i) => ({
      hash: hashOf(`tx ${h}-${i}`), // sha256 of the tx bytes, as the engine computes it
      height: String(h),
      index: i,
      tx: Buffer.from(`tx ${h}-${i}`).toString("base64"),
      tx_result: result(s, h * 10 + i),
    }));
    const block = { block_id: { hash: hashOf(`block ${h}`), parts: { total: 1, hash: "" } }, block: { header: { height: String(h) } as any, data: { txs: txs.map((t) => t.tx) }, evidence: { evidence: [] }, last_commit: {} as any }, time: { seconds: String(h), nanos: 0 } };
    await store.saveBlock(block);
    const results: StoredResults = { height: String(h), txs_results: txs.map((t) => t.tx_result), finalize_block_events: [{ type: "end", attributes: [{ key: "h", value: String(h), index: false }] }], validator_updates: [], consensus_param_updates: null, app_hash: `A${h}`, commit: { height: String(h) } as any };
    const prepared = new PreparedTxs();
    for (const t of txs) prepared.add(t);
    await store.saveResults(results, prepared);
    all.push(...txs);
  }
  return all;
}

function check(s: BlockStore, all: StoredTx[]): void {
  const hex = (it: IterableIterator<Buffer>) => [...it].map((h) => h.toString("hex").toUpperCase());
  const alice = all.filter((t) => t.tx_result.events[0].attributes[0].value === "alice").map((t) => t.hash);
  expect(hex(s.txsByIndex("message.sender", "alice"))).toEqual(alice);
  expect(hex(s.txsByIndex("message.sender", "alice", true))).toEqual([...alice].reverse());
  expect(hex(s.txsByIndex("message.sender", "bob"))).toEqual([all[1].hash, all[4].hash, all[7].hash]);
  expect(hex(s.txsByIndex("message.sender", "ali"))).toEqual([]); // a prefix of a value is not the value
  expect(hex(s.txsByIndex("tx.acc_seq", "bob/31"))).toEqual([all[7].hash]);
  expect(hex(s.txsByIndex("tx.memo", "not indexed"))).toEqual([]);
  expect(hex(s.txsByIndex("tx.height", "2"))).toEqual(all.slice(3, 6).map((t) => t.hash));
  expect(hex(s.allTxs())).toEqual(all.map((t) => t.hash));
  expect(hex(s.allTxs(true))).toEqual(all.map((t) => t.hash).reverse());
  // Height bounds read only the index entries in range, both ways, ends included.
  for (const [lo, hi] of [[1, 1], [2, 3], [1, 3], [3, 3], [2, 1], [4, 9]]) {
    const want = all.filter((t) => Number(t.height) >= lo && Number(t.height) <= hi).map((t) => t.hash);
    expect(hex(s.allTxs(false, { lo, hi }))).toEqual(want);
    expect(hex(s.allTxs(true, { lo, hi }))).toEqual([...want].reverse());
    expect(hex(s.txsByIndex("message.sender", "bob", false, { lo, hi }))).toEqual(want.filter((h) => [all[1].hash, all[4].hash, all[7].hash].includes(h)));
  }
  expect(hex(s.txsByIndex("tx.hash", all[5].hash))).toEqual([all[5].hash]);
  expect(hex(s.txsByIndex("tx.hash", hashOf("nope")))).toEqual([]);
  expect(hex(s.txsByIndex("tx.hash", "zz"))).toEqual([]);
  for (const t of all) expect(s.tx(Buffer.from(t.hash, "hex"))).toEqual(t);
  expect(s.tx(Buffer.from(hashOf("nope"), "hex"))).toBeUndefined();
}

describe("BlockStore tx index", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "backstop-blockstore-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds txs by attribute in (height, index) order both ways, by hash, and after reopening", async () => {
    let store = new BlockStore(dir);
    const all = await fill(store);
    check(store, all);
    await store.close();
    store = new BlockStore(dir); // nothing cached: read from disk
    // A tx lookup parses its own result, not its block's results.
    const parse = jest.spyOn(JSON, "parse");
    try {
      expect(store.tx(Buffer.from(all[4].hash, "hex"))).toEqual(all[4]);
      const texts = parse.mock.calls.map((c) => String(c[0]));
      expect(texts).toContain(txResultJson(all[4].tx_result));
      expect(texts.some((t) => t.includes('"txs_results"'))).toBe(false);
    } finally {
      parse.mockRestore();
    }
    check(store, all);
    for (let h = 1; h <= 3; h++) {
      const r = store.blockResults(h)!;
      expect(r.txs_results).toEqual(all.filter((t) => t.height === String(h)).map((t) => t.tx_result));
      expect(r.finalize_block_events).toEqual([{ type: "end", attributes: [{ key: "h", value: String(h), index: false }] }]);
      expect([r.app_hash, r.commit.height, r.consensus_param_updates]).toEqual([`A${h}`, String(h), null]);
    }
    expect(store.height()).toBe(3);
    expect(store.resultsHeight()).toBe(3);
    await store.close();
  });

  it("refuses a block out of order and results before their block, writing nothing", async () => {
    const store = new BlockStore(dir);
    const all = await fill(store);
    const block = { block_id: { hash: hashOf("block 5"), parts: { total: 1, hash: "" } }, block: { header: { height: "5" } as any, data: { txs: [] }, evidence: { evidence: [] }, last_commit: {} as any }, time: { seconds: "5", nanos: 0 } };
    expect(() => store.saveBlock(block)).toThrow("saving height 5 after 3");
    const results: StoredResults = { height: "4", txs_results: [], finalize_block_events: [], validator_updates: [], consensus_param_updates: null, app_hash: "", commit: {} as any };
    expect(() => store.saveResults(results, new PreparedTxs())).toThrow("saving results of 4 after 3 (blocks to 3)");
    expect(store.height()).toBe(3);
    expect(store.resultsHeight()).toBe(3);
    check(store, all);
    await store.close();
  });

  it("rebuilds an index written in the older layout (JSON copies, one record per tx) when opened", async () => {
    let store = new BlockStore(dir);
    const all = await fill(store);
    await store.close();
    // What the previous layout left: no format mark, a JSON tx record, a per-tx index entry.
    const env = open({ path: dir, maxDbs: 8 });
    const meta = env.openDB({ name: "meta", keyEncoding: "ordered-binary", encoding: "json" });
    const txs = env.openDB({ name: "txs", keyEncoding: "binary", encoding: "binary" });
    const index = env.openDB({ name: "index", keyEncoding: "binary", encoding: "binary" });
    env.transactionSync(() => {
      meta.removeSync("index_format");
      txs.clearSync();
      index.clearSync();
      txs.putSync(Buffer.from(all[0].hash, "hex"), Buffer.from(JSON.stringify(all[0])));
      index.putSync(Buffer.from("message.sender=alice\0old"), Buffer.from(all[0].hash, "hex"));
    });
    await env.close();
    store = new BlockStore(dir);
    check(store, all);
    await store.close();
  });
});

describe("txResultJson", () => {
  const text = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("", "backstop1qqq", 'a"b\\c', "\u0000\u001f\u007f", "\ud800", "é€𝄞"));
  const attribute = fc.record({ key: text, value: text, index: fc.boolean() });
  const event = fc.record({ type: text, attributes: fc.array(attribute, { maxLength: 4 }) });
  // Fields in JsonTxResult's order, as jsonTxResult builds them and JSON.parse restores them.
  const txResult = fc
    .tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.option(text, { nil: null }), text, text, text, text, fc.array(event, { maxLength: 5 }), text)
    .map(([code, data, log, info, gas_wanted, gas_used, events, codespace]): JsonTxResult => ({ code, data, log, info, gas_wanted, gas_used, events, codespace }));

  it("writes exactly what JSON.stringify writes", () => {
    fc.assert(
      fc.property(txResult, (r) => {
        expect(txResultJson(r)).toBe(JSON.stringify(r));
        expect(JSON.parse(txResultJson(r))).toEqual(r);
      }),
      { numRuns: 2000 },
    );
  });

  it("hands a result with a field of another type to JSON.stringify", () => {
    const r = { ...result("backstop1x", 1), events: [{ type: "t", attributes: [{ key: "k", value: 7, index: "yes" }] }] } as unknown as JsonTxResult;
    expect(txResultJson(r)).toBe(JSON.stringify(r));
    const big = { ...result("backstop1x", 1), code: 2 ** 60 } as JsonTxResult;
    expect(txResultJson(big)).toBe(JSON.stringify(big));
  });
});

describe("PreparedTxs index records", () => {
  // The reference: every tx's keys as "type.key=value" texts, each tx once per text.
  function reference(txs: StoredTx[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of txs) {
      const keys = new Set<string>([`tx.height=${t.height}`, "tx.exists=1"]);
      for (const e of t.tx_result.events) for (const a of e.attributes) if (a.index && a.key) keys.add(`${e.type}.${a.key}=${a.value}`);
      for (const k of keys) out.set(k, [...(out.get(k) ?? []), t.hash]);
    }
    return out;
  }
  const part = fc.constantFrom("a", "b", "a.b", "b.c", "c", "", "tx", "height");
  const event = fc.record({ type: part, attributes: fc.array(fc.record({ key: part, value: fc.constantFrom("v", "w", "1", "7"), index: fc.boolean() }), { maxLength: 4 }) });

  it("groups each attribute's txs as one record per key text, each tx once, in order", () => {
    fc.assert(
      fc.property(fc.array(fc.array(event, { maxLength: 4 }), { minLength: 1, maxLength: 6 }), (perTx) => {
        const txs: StoredTx[] = perTx.map((events, i) => ({ hash: hashOf(`tx ${i}`), height: "7", index: i, tx: "", tx_result: { ...result("x", i), events } }));
        const p = new PreparedTxs();
        txs.forEach((t) => p.add(t));
        const got = new Map([...p.byKey()].map(([k, list]) => [k, list.map((h) => h.toString("hex").toUpperCase())]));
        expect(got).toEqual(reference(txs));
      }),
      { numRuns: 500 },
    );
  });
});
