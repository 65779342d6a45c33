import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { CacheKV } from "./cache";
import { CommitStore, MemoryBackend, openLmdbStore, openMemoryStore } from "./commit";
import { EMPTY_ROOT } from "./merkle";
import { PrefixKV } from "./prefix";
import { KVReader } from "./types";
import { getProto, getShared, key, setProto, skey, u64, u64s } from "./codec";
import { Market } from "../../client/src/generated/backstop/clearing/v1/clearing";
import { GasKV, GasMeter } from "../app/gas";

const b = (s: string) => Buffer.from(s);
const keys = (r: KVReader, start?: string, end?: string, reverse = false) =>
  [...r.iterator(start ? b(start) : undefined, end ? b(end) : undefined, reverse)].map(([k]) => Buffer.from(k).toString());

/** Runs one block: applies writes on a branch, stages and commits it. */
function commitBlock(store: CommitStore, height: bigint, writes: Record<string, string | null>): Buffer {
  const branch = new CacheKV(store);
  for (const [k, v] of Object.entries(writes)) {
    if (v === null) branch.delete(b(k));
    else branch.set(b(k), b(v));
  }
  const root = store.stage(branch.changes());
  store.commit(height, root);
  return root;
}

describe.each([
  ["memory", () => ({ store: openMemoryStore(), reopen: null as null | (() => CommitStore), cleanup: () => {} })],
  [
    "lmdb",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "backstop-store-"));
      let store = openLmdbStore(dir);
      return {
        store,
        reopen: () => {
          store.close();
          store = openLmdbStore(dir);
          return store;
        },
        cleanup: () => {
          store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
])("CommitStore (%s)", (_name, make) => {
  it("commits, iterates in key order both ways, and changes the root with the content", () => {
    const { store, cleanup } = make();
    try {
      expect(store.lastCommit().height).toBe(0n);
      const r1 = commitBlock(store, 1n, { b: "2", a: "1", d: "4", c: "3" });
      expect(r1.equals(EMPTY_ROOT)).toBe(false);
      expect(store.lastCommit()).toEqual({ height: 1n, appHash: r1 });
      expect(keys(store)).toEqual(["a", "b", "c", "d"]);
      expect(keys(store, "b", "d")).toEqual(["b", "c"]);
      expect(keys(store, "b", "d", true)).toEqual(["c", "b"]);
      expect(keys(store, undefined, undefined, true)).toEqual(["d", "c", "b", "a"]);
      const r2 = commitBlock(store, 2n, { c: "33" });
      expect(r2.equals(r1)).toBe(false);
      // Restoring the old value restores the old root: the root is a function of the content.
      const r3 = commitBlock(store, 3n, { c: "3" });
      expect(r3.equals(r1)).toBe(true);
      // Deleting everything gives the empty root.
      const r4 = commitBlock(store, 4n, { a: null, b: null, c: null, d: null });
      expect(r4.equals(EMPTY_ROOT)).toBe(true);
      expect(keys(store)).toEqual([]);
    } finally {
      cleanup();
    }
  });

  it("discards a branch: nothing reaches the store", () => {
    const { store, cleanup } = make();
    try {
      commitBlock(store, 1n, { a: "1" });
      const block = new CacheKV(store);
      const tx = new CacheKV(block);
      tx.set(b("a"), b("changed"));
      tx.set(b("z"), b("new"));
      expect(Buffer.from(tx.get(b("a"))!).toString()).toBe("changed");
      tx.reset(); // the transaction failed
      expect(Buffer.from(block.get(b("a"))!).toString()).toBe("1");
      expect(block.get(b("z"))).toBeUndefined();
      expect(block.size).toBe(0);
    } finally {
      cleanup();
    }
  });

  it("reopened after close, gives the same root, height and content", () => {
    const { store, reopen, cleanup } = make();
    try {
      if (!reopen) return expect(store.lastCommit().height).toBe(0n); // memory has no reopen
      for (let h = 1n; h <= 5n; h++) {
        const w: Record<string, string | null> = {};
        for (let i = 0; i < 50; i++) w[`k${(Number(h) * 37 + i * 11) % 120}`] = `v${h}-${i}`;
        if (h > 2n) w[`k${h}`] = null;
        commitBlock(store, h, w);
      }
      const before = store.lastCommit();
      const content = keys(store);
      const again = reopen();
      expect(again.lastCommit()).toEqual(before);
      expect(keys(again)).toEqual(content);
      // The reopened trie loads lazily and keeps computing the same roots as a fresh one.
      const r6 = commitBlock(again, 6n, { k1: "x", k999: "y" });
      const fresh = openMemoryStore();
      const all: Record<string, string> = {};
      for (const [k, v] of again.iterator()) all[Buffer.from(k).toString()] = Buffer.from(v).toString();
      expect(commitBlock(fresh, 1n, all).equals(r6)).toBe(true);
    } finally {
      cleanup();
    }
  });

  it("ends the store's iteration when a branch's iteration stops early (LMDB has 126 reader slots)", () => {
    const { store, cleanup } = make();
    try {
      commitBlock(store, 1n, { a: "1", b: "2", c: "3" });
      // A caller that stops after the first entry (as a best-price lookup does), in 300
      // blocks: each must end the read it began in the store below, or every commit leaves
      // one more LMDB read transaction pinned until a garbage collection.
      for (let h = 2n; h < 302n; h++) {
        const branch = new CacheKV(store);
        branch.set(b("a2"), b("x"));
        for (const [k] of new PrefixKV(new GasKV(branch, GasMeter.infinite()), Buffer.alloc(0)).iterator()) {
          expect(Buffer.from(k).toString()).toBe("a");
          break;
        }
        const it = branch.iterator(b("b"));
        expect(Buffer.from(it.next().value![0]).toString()).toBe("b");
        it.return!(undefined);
        commitBlock(store, h, { [`k${h}`]: "v" });
      }
      expect(store.get(b("c"))).toBeDefined(); // a read still finds a reader slot
    } finally {
      cleanup();
    }
  });
});

describe("Merkle root", () => {
  it("is independent of the order and batching of writes, and old nodes are deleted (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.option(fc.integer({ min: 0, max: 5 }), { nil: null })), {
          maxLength: 120,
        }),
        fc.integer({ min: 1, max: 7 }),
        (ops, blocks) => {
          // Apply ops over several blocks in one store...
          const backend = new MemoryBackend();
          const store = new CommitStore(backend);
          const final = new Map<string, string | null>();
          const per = Math.ceil(ops.length / blocks) || 1; // determinism-ok: test code
          let h = 1n;
          for (let i = 0; i < ops.length; i += per) {
            const w: Record<string, string | null> = {};
            for (const [k, v] of ops.slice(i, i + per)) {
              w[`key-${k}`] = v === null ? null : `val-${v}`;
              final.set(`key-${k}`, w[`key-${k}`]);
            }
            commitBlock(store, h++, w);
          }
          // ...and the final content at once into a fresh store: same root.
          const live: Record<string, string> = {};
          for (const [k, v] of [...final.entries()].reverse()) if (v !== null) live[k] = v;
          const other = openMemoryStore();
          const expected = commitBlock(other, 1n, live);
          expect(store.lastCommit().appHash.equals(expected)).toBe(true);
          // A trie with n leaves has 2n − 1 nodes: nothing replaced is left behind.
          const n = Object.keys(live).length;
          expect(backend.nodeCount()).toBe(n === 0 ? 0 : 2 * n - 1);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("CacheKV and PrefixKV", () => {
  it("merges a branch's writes and deletions with its parent in key order", () => {
    const store = openMemoryStore();
    commitBlock(store, 1n, { a: "1", c: "3", e: "5" });
    const branch = new CacheKV(store);
    branch.set(b("b"), b("2"));
    branch.delete(b("c"));
    branch.set(b("e"), b("55"));
    expect(keys(branch)).toEqual(["a", "b", "e"]);
    expect(keys(branch, undefined, undefined, true)).toEqual(["e", "b", "a"]);
    expect(keys(branch, "b", "e")).toEqual(["b"]);
    expect(branch.has(b("c"))).toBe(false);
    expect(Buffer.from(branch.get(b("e"))!).toString()).toBe("55");
  });

  it("lets a caller write to the branch while iterating it: keys added after the start are not seen, deleted ones are skipped", () => {
    const store = openMemoryStore();
    commitBlock(store, 1n, { a: "1", c: "3" });
    const block = new CacheKV(store);
    const tx = new CacheKV(block);
    for (const k of ["b", "d", "f"]) block.set(b(k), b(k));
    tx.set(b("e"), b("e"));
    const seen: string[] = [];
    for (const [k] of tx.iterator()) {
      const key = Buffer.from(k).toString();
      seen.push(key);
      if (key === "a") {
        tx.set(b("a2"), b("new")); // after the start: not seen by this iteration
        tx.delete(b("e")); // written by this branch before: skipped
        block.delete(b("f")); // the parent's own entry, deleted in place: skipped
        tx.set(b("d"), b("dd")); // an update: the iteration goes on in order
      }
    }
    expect(seen).toEqual(["a", "b", "c", "d"]);
    expect(keys(tx)).toEqual(["a", "a2", "b", "c", "d"]);
    // Stopping early reads no further, and the branch stays writable.
    for (const [k] of block.iterator(b("b"))) {
      expect(Buffer.from(k).toString()).toBe("b");
      break;
    }
    block.set(b("g"), b("g"));
    expect(keys(block)).toEqual(["a", "b", "c", "d", "g"]);
  });

  it("confines a module to its prefix", () => {
    const store = openMemoryStore();
    const branch = new CacheKV(store);
    const m1 = new PrefixKV(branch, b("m1/"));
    const m2 = new PrefixKV(branch, b("m2/"));
    m1.set(b("x"), b("1"));
    m1.set(b("y"), b("2"));
    m2.set(b("x"), b("3"));
    expect(keys(m1)).toEqual(["x", "y"]);
    expect(keys(m2)).toEqual(["x"]);
    expect(keys(branch)).toEqual(["m1/x", "m1/y", "m2/x"]);
  });
});

describe("CacheKV over CacheKV (a tx's branch over the block's)", () => {
  it("reads, iterates both ways in byte order and writes through like a plain map (property)", () => {
    const key = fc.uint8Array({ minLength: 1, maxLength: 4 }).map((a) => Buffer.from(a.map((x) => [0x00, 0x01, 0x7f, 0x80, 0xc3, 0xff][x % 6])));
    const op = fc.tuple(fc.boolean(), key, fc.option(fc.uint8Array({ maxLength: 3 }), { nil: null }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.array(op, { maxLength: 40 }), fc.boolean(), (base, txOps, keep) => {
        const store = openMemoryStore();
        commitBlock(store, 1n, Object.fromEntries(base.map(([, k, v]) => [k.toString("latin1"), v === null ? null : Buffer.from(v).toString("latin1")])));
        const model = new Map<string, string>();
        for (const [k, v] of store.iterator()) model.set(Buffer.from(k).toString("hex"), Buffer.from(v).toString("hex"));
        const block = new CacheKV(store);
        const tx = new CacheKV(block);
        const own = new Map<string, string | null>(); // the tx branch's own writes (null: deleted)
        for (const [inBlock, k, v] of txOps) {
          const hex = k.toString("hex");
          const val = v === null ? null : Buffer.from(v).toString("hex");
          if (inBlock) {
            if (v === null) block.delete(k);
            else block.set(k, v);
            if (val === null) model.delete(hex);
            else model.set(hex, val);
          } else {
            if (v === null) tx.delete(k);
            else tx.set(k, v);
            own.set(hex, val);
          }
        }
        const txModel = new Map(model);
        for (const [k, v] of own) {
          if (v === null) txModel.delete(k);
          else txModel.set(k, v);
        }
        const sorted = (m: Map<string, string>) => [...m].sort(([a], [b2]) => Buffer.compare(Buffer.from(a, "hex"), Buffer.from(b2, "hex")));
        const seen = (r: KVReader, reverse = false) => [...r.iterator(undefined, undefined, reverse)].map(([k, v]) => [Buffer.from(k).toString("hex"), Buffer.from(v).toString("hex")]);
        // What the tx sees: its own writes over the block's.
        const expectTx = sorted(txModel);
        for (const [k, v] of expectTx) expect(Buffer.from(tx.get(Buffer.from(k, "hex"))!).toString("hex")).toBe(v);
        for (const [k, v] of own) if (v === null) expect(tx.get(Buffer.from(k, "hex"))).toBeUndefined();
        expect(seen(tx)).toEqual(expectTx);
        expect(seen(tx, true)).toEqual([...expectTx].reverse());
        if (keep) {
          tx.write();
          expect(seen(block)).toEqual(expectTx);
          expect(block.changes().map(([k]) => k.toString("hex"))).toEqual([...block.changes()].map(([k]) => k).sort(Buffer.compare).map((k) => k.toString("hex")));
        } else expect(seen(block)).toEqual(sorted(model));
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe("CacheKV savepoints (a tx under a savepoint of the block's branch)", () => {
  // Each step writes or deletes a key, takes a savepoint, or rolls back or releases the
  // innermost one; the model is a branch per savepoint (the nested
  // branches transactions ran on before), written into its parent on release, dropped
  // on rollback. The savepointed branch must read, iterate and change like the model.
  it("rollback and release leave what nested branches dropped and written through would (property)", () => {
    const key = fc.uint8Array({ minLength: 1, maxLength: 3 }).map((a) => Buffer.from(a.map((x) => [0x00, 0x01, 0x80, 0xff][x % 4])));
    const step = fc.oneof(
      fc.tuple(fc.constant("put" as const), key, fc.option(fc.uint8Array({ maxLength: 2 }), { nil: null })),
      fc.tuple(fc.constant("mark" as const)),
      fc.tuple(fc.constant("rollback" as const)),
      fc.tuple(fc.constant("release" as const)),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.uint8Array({ maxLength: 2 })), { maxLength: 20 }), fc.array(step, { maxLength: 60 }), (base, steps) => {
        const store = openMemoryStore();
        commitBlock(store, 1n, Object.fromEntries(base.map(([k, v]) => [k.toString("latin1"), Buffer.from(v).toString("latin1")])));
        const block = new CacheKV(store);
        const modelBlock = new CacheKV(store);
        const marks: number[] = [];
        const branches: CacheKV[] = [modelBlock]; // branches[i + 1] models savepoint marks[i]
        const top = () => branches[branches.length - 1];
        for (const st of steps) {
          if (st[0] === "put") {
            const [, k, v] = st;
            if (v === null) {
              block.delete(k);
              top().delete(k);
            } else {
              block.set(k, v);
              top().set(k, v);
            }
          } else if (st[0] === "mark") {
            marks.push(block.mark());
            branches.push(new CacheKV(top()));
          } else if (st[0] === "rollback" && marks.length > 0) {
            block.rollback(marks[marks.length - 1]);
            top().reset();
          } else if (st[0] === "release" && marks.length > 0) {
            block.release(marks.pop()!);
            branches.pop()!.write();
          }
        }
        while (marks.length > 0) {
          block.release(marks.pop()!);
          branches.pop()!.write();
        }
        const all = (r: KVReader, reverse = false) => [...r.iterator(undefined, undefined, reverse)].map(([k, v]) => `${Buffer.from(k).toString("hex")}=${Buffer.from(v).toString("hex")}`);
        expect(all(block)).toEqual(all(modelBlock));
        expect(all(block, true)).toEqual(all(modelBlock, true));
        const changes = (c: CacheKV) => c.changes().map(([k, v]) => `${k.toString("hex")}=${v === null ? "-" : v.toString("hex")}`);
        expect(changes(block)).toEqual(changes(modelBlock));
        // The log is gone with the outermost savepoint: the branch may be reset again.
        expect(() => block.reset()).not.toThrow();
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it("iterating under a savepoint: keys held when it began are seen as they now stand, keys added are not", () => {
    const block = new CacheKV(openMemoryStore());
    for (const k of ["a", "b", "c"]) block.set(b(k), b("1")); // an earlier transaction's writes
    const m = block.mark();
    const seen: string[] = [];
    for (const [k, v] of block.iterator()) {
      const key = Buffer.from(k).toString();
      seen.push(`${key}=${Buffer.from(v).toString()}`);
      if (key === "a") {
        block.delete(b("b"));
        block.set(b("c"), b("2"));
        block.set(b("bb"), b("new"));
      }
    }
    expect(seen).toEqual(["a=1", "c=2"]);
    block.rollback(m);
    block.release(m);
    expect(keys(block)).toEqual(["a", "b", "c"]);
  });

  it("refuses a rollback or release of a savepoint not innermost or not held, and a write or reset while one is", () => {
    const block = new CacheKV(openMemoryStore());
    expect(() => block.rollback(0)).toThrow(/not the innermost/);
    expect(() => block.release(0)).toThrow(/not the innermost/);
    const m = block.mark();
    const inner = block.mark(); // no write between: still a different savepoint
    expect(inner).not.toBe(m);
    expect(() => block.rollback(m)).toThrow(/not the innermost/);
    expect(() => block.release(m)).toThrow(/not the innermost/);
    block.release(inner);
    block.set(b("z"), b("0"));
    block.set(b("a"), b("1"));
    expect(() => block.write()).toThrow(/savepoint held/);
    expect(() => block.reset()).toThrow(/savepoint held/);
    block.rollback(m);
    expect(block.get(b("a"))).toBeUndefined();
    expect(block.size).toBe(0);
    block.release(m);
  });
});

describe("string keys (Key)", () => {
  it("skey and u64s are key and u64 as latin1 strings, for any parts (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.array(fc.string({ unit: "binary", maxLength: 60 }), { maxLength: 4 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (table, parts, n) => {
        fc.pre(parts.every((x) => Buffer.byteLength(x, "utf8") <= 255));
        expect(Buffer.from(skey(table, ...parts), "latin1").equals(key(table, ...parts))).toBe(true);
        expect(Buffer.from(u64s(n), "latin1").equals(u64(n))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("a string key and its bytes are the same key through prefixes, branches, gas and the committed store", () => {
    const store = openMemoryStore();
    commitBlock(store, 1n, { "\x05ka": "committed" });
    const block = new CacheKV(store);
    const tx = new CacheKV(block);
    const meters = [new GasMeter(-1n), new GasMeter(-1n)];
    const views = meters.map((m) => new PrefixKV(new GasKV(tx, m), Uint8Array.of(5)));
    const [asString, asBytes] = [(k: string) => k, (k: string) => Buffer.from(k, "latin1")];
    // Read through to the committed store either way, and the same gas for both.
    expect(Buffer.from(views[0].get(asString("ka"))!).toString()).toBe("committed");
    expect(Buffer.from(views[1].get(asBytes("ka"))!).toString()).toBe("committed");
    expect(meters[0].consumed).toBe(meters[1].consumed);
    // Written one way, read, overwritten and deleted the other; bytes above 0x7f too.
    views[0].set(asString("k\xff\x80"), b("1"));
    expect(Buffer.from(views[1].get(asBytes("k\xff\x80"))!).toString()).toBe("1");
    views[1].set(asBytes("k\xff\x80"), b("2"));
    expect(Buffer.from(views[0].get(asString("k\xff\x80"))!).toString()).toBe("2");
    views[1].delete(asBytes("ka"));
    expect(views[0].has(asString("ka"))).toBe(false);
    tx.write();
    // The block's changes carry the keys' bytes, in byte order.
    expect(block.changes().map(([k, v]) => [k.toString("latin1"), v && v.toString()])).toEqual([
      ["\x05ka", null],
      ["\x05k\xff\x80", "2"],
    ]);
  });
});

describe("getShared", () => {
  it("decodes a stored record once per write, shares it frozen, and sees every write", () => {
    const store = openMemoryStore();
    const block = new CacheKV(store);
    const tx = new CacheKV(block);
    const k = skey(1, "BTC-USD");
    setProto(block, k, Market, Market.fromPartial({ id: "BTC-USD", tickSize: "0.1", maxOpenOrdersPerAccount: 100 }));
    const a = getShared(tx, k, Market)!;
    expect(getShared(tx, k, Market)).toBe(a); // the same stored bytes: the same value
    expect(getShared(block, k, Market)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => {
      (a as { tickSize: string }).tickSize = "1";
    }).toThrow(TypeError);
    expect(getProto(tx, k, Market)!.tickSize).toBe("0.1");
    // A write in the tx's branch: the tx sees the new record, the block still the old one.
    setProto(tx, k, Market, { ...a, tickSize: "0.5" });
    expect(getShared(tx, k, Market)!.tickSize).toBe("0.5");
    expect(getShared(block, k, Market)).toBe(a);
    tx.write();
    expect(getShared(block, k, Market)!.tickSize).toBe("0.5");
    expect(getShared(block, skey(1, "ETH-USD"), Market)).toBeUndefined();
  });
});

describe("encodeProto", () => {
  it("gives the bytes of a fresh writer, for every message and after an encode that threw", async () => {
    const { encodeProto } = await import("./codec");
    const { Order, Market } = await import("../../client/src/generated/backstop/clearing/v1/clearing");
    const orders = Array.from({ length: 50 }, (_, i) => Order.fromPartial({ id: BigInt(i), owner: "o".repeat(i * 7), marketId: "BTC-USD", price: String(i * 1000), quantity: "0.5", clientId: BigInt(i) * 1_000_000_000_000n }));
    for (const o of orders) expect(Buffer.from(encodeProto(Order, o))).toEqual(Buffer.from(Order.encode(o).finish()));
    expect(() => encodeProto(Order, { ...orders[3], id: "not a bigint" as unknown as bigint })).toThrow();
    const m = Market.fromPartial({ id: "ETH-USD", tickSize: "0.01", maxOpenOrdersPerAccount: 100 });
    expect(Buffer.from(encodeProto(Market, m))).toEqual(Buffer.from(Market.encode(m).finish()));
    for (const o of orders) expect(Buffer.from(encodeProto(Order, o))).toEqual(Buffer.from(Order.encode(o).finish()));
  });
});

describe("CacheKV over the committed store", () => {
  it("reads each key from the store once per branch (absent keys too); its own writes and deletes take precedence", () => {
    const store = openMemoryStore();
    commitBlock(store, 1n, { a: "1", b: "2" });
    let reads = 0;
    const counting: KVReader = {
      get: (k) => (reads++, store.get(k)),
      has: (k) => store.has(k),
      iterator: (s, e, r) => store.iterator(s, e, r),
    };
    const block = new CacheKV(counting);
    const tx = new CacheKV(block);
    for (let i = 0; i < 3; i++) {
      expect(Buffer.from(tx.get(b("a"))!).toString()).toBe("1");
      expect(tx.get(b("zz"))).toBeUndefined();
    }
    expect(reads).toBe(2);
    tx.set(b("a"), b("9"));
    tx.delete(b("b"));
    tx.write();
    expect(Buffer.from(block.get(b("a"))!).toString()).toBe("9");
    expect(block.get(b("b"))).toBeUndefined();
    expect(keys(block)).toEqual(["a"]);
    block.reset();
    expect(Buffer.from(block.get(b("a"))!).toString()).toBe("1");
    expect(reads).toBe(3);
  });
});
