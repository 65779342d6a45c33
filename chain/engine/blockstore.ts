/**
 * The block store and tx index, in their own LMDB environment (`<home>/data/blockstore`).
 * Records are kept in CometBFT's JSON wire shapes, so the RPC serves them as they are.
 *
 *   blocks   height (u64 BE)         → { block_id, block } JSON
 *   hashes   block hash (bytes)      → height
 *   results  height                  → block results JSON (txs_results, events, app_hash)
 *   txs      tx hash (bytes)         → height (u64 BE) ‖ index (u32 BE): the tx and its result
 *                                      are read from its block and the block's results
 *   index    "key=value" \0 height   → the hashes of that block's txs with the attribute,
 *                                      in index order (event attributes, tx.height; tx.hash is
 *                                      looked up in `txs`): one record per attribute and block,
 *                                      so a block's txs that share attributes share records
 *   meta     "height" → last saved block; "results" → last block with results;
 *            "index_format" → the layout of txs and index (older layouts are rebuilt on open)
 */
import { open, RootDatabase, Database } from "lmdb";
import { mkdirSync } from "node:fs";
import { txHash } from "./mempool";
import { assertLmdbIntact } from "../store/lmdbcheck";

export interface JsonEvent {
  type: string;
  attributes: { key: string; value: string; index: boolean }[];
}

export interface JsonTxResult {
  code: number;
  data: string | null;
  log: string;
  info: string;
  gas_wanted: string;
  gas_used: string;
  events: JsonEvent[];
  codespace: string;
}

export interface JsonBlockId {
  hash: string;
  parts: { total: number; hash: string };
}

export interface JsonHeader {
  version: { block: string; app: string };
  chain_id: string;
  height: string;
  time: string;
  last_block_id: JsonBlockId;
  last_commit_hash: string;
  data_hash: string;
  validators_hash: string;
  next_validators_hash: string;
  consensus_hash: string;
  app_hash: string;
  last_results_hash: string;
  evidence_hash: string;
  proposer_address: string;
}

export interface JsonCommit {
  height: string;
  round: number;
  block_id: JsonBlockId;
  signatures: { block_id_flag: number; validator_address: string; timestamp: string; signature: string | null }[];
}

export interface StoredBlock {
  block_id: JsonBlockId;
  block: {
    header: JsonHeader;
    data: { txs: string[] };
    evidence: { evidence: unknown[] };
    last_commit: JsonCommit;
  };
  /** The time as seconds + nanos (exact, for replay). */
  time: { seconds: string; nanos: number };
}

export interface StoredResults {
  height: string;
  txs_results: JsonTxResult[];
  finalize_block_events: JsonEvent[];
  validator_updates: unknown[];
  consensus_param_updates: null;
  app_hash: string; // uppercase hex, the app hash after this block
  /** The commit of this block (CometBFT stores it as the next block's last_commit). */
  commit: JsonCommit;
}

export interface StoredTx {
  hash: string; // uppercase hex
  height: string;
  index: number;
  tx: string; // base64
  tx_result: JsonTxResult;
}

const ZERO = Buffer.of(0);
/** The layout of `txs` and `index` (2: pointers and per-block records; 1: JSON copies and per-tx records). */
const INDEX_FORMAT = 2;

/**
 * Parsed blocks kept in memory, and parsed results: few of the latter — a block's parsed
 * results are tens of thousands of objects, which the garbage collector keeps tracing, and
 * a tx lookup parses just its own result (`readTxResult`).
 */
const RECENT_BLOCKS = 8;
const RECENT_RESULTS = 2;

function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export class BlockStore {
  private readonly env: RootDatabase;
  private readonly blocks: Database<any, Buffer>;
  private readonly hashes: Database<any, Buffer>;
  private readonly results: Database<any, Buffer>;
  private readonly txs: Database<any, Buffer>;
  private readonly index: Database<Buffer, Buffer>;
  private readonly meta: Database<any, string>;
  /** The heights of the last block and the last results saved (`meta` once their writes commit). */
  private top: number;
  private resultsTop: number;

  constructor(path: string) {
    mkdirSync(path, { recursive: true });
    assertLmdbIntact(path, "the block store");
    this.env = open({ path, maxDbs: 8, compression: false, noSync: false });
    this.blocks = this.env.openDB({ name: "blocks", keyEncoding: "binary", encoding: "json" });
    this.hashes = this.env.openDB({ name: "hashes", keyEncoding: "binary", encoding: "json" });
    // JSON text (UTF-8), as `resultsJson` composes it from the txs' serialized results.
    this.results = this.env.openDB({ name: "results", keyEncoding: "binary", encoding: "binary" });
    this.txs = this.env.openDB({ name: "txs", keyEncoding: "binary", encoding: "binary" });
    this.index = this.env.openDB({ name: "index", keyEncoding: "binary", encoding: "binary" });
    this.meta = this.env.openDB({ name: "meta", keyEncoding: "ordered-binary", encoding: "json" });
    this.top = (this.meta.get("height") as number | undefined) ?? 0;
    this.resultsTop = (this.meta.get("results") as number | undefined) ?? 0;
    this.upgradeIndex();
  }

  close(): Promise<void> {
    return this.env.close();
  }

  /** Height of the last saved block (0: none); its write may still be in flight. */
  height(): number {
    return this.top;
  }

  /** Height of the last block whose results are saved (0: none); the write may still be in flight. */
  resultsHeight(): number {
    return this.resultsTop;
  }

  baseHeight(): number {
    return this.height() > 0 ? 1 : 0;
  }

  /**
   * Saves a block before it executes. Like every write here, its records are put
   * asynchronously: LMDB's writer thread commits and syncs them while this thread goes on
   * serving CheckTx and queries, and the returned promise settles once they are on disk
   * (it rejects if the write fails — a full disk, say). Records put in one turn of the
   * event loop commit in one transaction.
   */
  saveBlock(b: StoredBlock): Promise<void> {
    const h = Number(b.block.header.height);
    if (h !== this.top + 1) throw new Error(`block store: saving height ${h} after ${this.top}`);
    const writes = [this.blocks.put(u64(h), b), this.hashes.put(Buffer.from(b.block_id.hash, "hex"), h), this.meta.put("height", h)];
    this.top = h;
    this.remember(this.recentBlocks, h, b);
    return this.durable(writes);
  }

  /**
   * Saves a block's results and indexes its txs, in one transaction (see `saveBlock`).
   * `txs` are the block's txs as `PreparedTxs` made them, their results those of `r`.
   */
  saveResults(r: StoredResults, txs: PreparedTxs): Promise<void> {
    const h = Number(r.height);
    if (h !== this.resultsTop + 1 || h > this.top) throw new Error(`block store: saving results of ${h} after ${this.resultsTop} (blocks to ${this.top})`);
    if (txs.list.length !== r.txs_results.length) throw new Error(`block store: ${txs.list.length} txs for ${r.txs_results.length} results`);
    const { bytes, offsets } = resultsJson(r, txs.list);
    const writes: Promise<unknown>[] = [this.results.put(u64(h), bytes)];
    this.writeIndex(h, txs, (db, key, value) => writes.push(db.put(key, value)), offsets);
    writes.push(this.meta.put("results", h));
    this.resultsTop = h;
    this.remember(this.recentResults, h, r);
    return this.durable(writes);
  }

  /** Settles when every write has committed and the environment has flushed them to disk. */
  private async durable(writes: Promise<unknown>[]): Promise<void> {
    await Promise.all(writes);
    await this.env.flushed;
  }

  /** Writes a block's tx pointers and index records through `put`. */
  /**
   * `txs` records: a tx hash → height (8 bytes), index (4) and, when `offsets` are given,
   * where its result's JSON lies in the stored results (offset 4, length 4), so that a
   * lookup parses only that (records without them make it parse the block's results).
   */
  private writeIndex(h: number, txs: PreparedTxs, put: (db: Database<any, Buffer>, key: Buffer, value: Buffer) => unknown, offsets?: readonly number[]): void {
    const height = u64(h);
    txs.list.forEach((t, i) => {
      const at = Buffer.allocUnsafe(offsets ? 20 : 12);
      height.copy(at, 0);
      at.writeUInt32BE(t.tx.index, 8);
      if (offsets) {
        at.writeUInt32BE(offsets[i], 12);
        at.writeUInt32BE(t.resultBytes, 16);
      }
      put(this.txs, t.hash, at);
    });
    for (const [key, list] of txs.byKey()) put(this.index, Buffer.concat([Buffer.from(key), ZERO, height]), Buffer.concat(list));
  }

  /**
   * A home written before the current index layout (`INDEX_FORMAT`) has its tx index
   * rebuilt from the stored blocks and results, once, when it is opened.
   */
  private upgradeIndex(): void {
    if (this.meta.get("index_format") === INDEX_FORMAT) return;
    const top = this.resultsHeight();
    this.env.transactionSync(() => {
      this.txs.clearSync();
      this.index.clearSync();
      for (let h = 1; h <= top; h++) {
        const b = this.blocks.get(u64(h)) as StoredBlock | undefined;
        const r = this.readResults(h);
        if (!b || !r) continue;
        const txs = new PreparedTxs();
        b.block.data.txs.forEach((tx, i) => txs.add({ hash: txHash(Buffer.from(tx, "base64")), height: String(h), index: i, tx, tx_result: r.txs_results[i] }));
        this.writeIndex(h, txs, (db, key, value) => db.putSync(key, value));
      }
      this.meta.putSync("index_format", INDEX_FORMAT);
    });
  }

  block(height: number): StoredBlock | undefined {
    return this.recent(this.recentBlocks, height, () => this.blocks.get(u64(height)) as StoredBlock | undefined);
  }

  heightByHash(hashHex: string): number | undefined {
    return this.hashes.get(Buffer.from(hashHex, "hex")) as number | undefined;
  }

  blockResults(height: number): StoredResults | undefined {
    return this.recent(this.recentResults, height, () => this.readResults(height));
  }

  private readResults(height: number): StoredResults | undefined {
    const bytes = this.results.getBinary(u64(height));
    return bytes === undefined ? undefined : (JSON.parse(bytes.toString("utf8")) as StoredResults);
  }

  tx(hash: Buffer): StoredTx | undefined {
    const at = this.txs.getBinary(hash);
    if (!at) return undefined;
    const height = Number(at.readBigUInt64BE(0));
    const index = at.readUInt32BE(8);
    const block = this.block(height);
    const txResult = this.recentResults.get(height)?.txs_results[index] ?? (at.length >= 20 ? this.readTxResult(height, at.readUInt32BE(12), at.readUInt32BE(16)) : this.blockResults(height)?.txs_results[index]);
    if (!block || !txResult) return undefined;
    return { hash: hash.toString("hex").toUpperCase(), height: String(height), index, tx: block.block.data.txs[index], tx_result: txResult };
  }

  /** One tx's result, parsed from its place in the stored results of `height`. */
  private readTxResult(height: number, offset: number, length: number): JsonTxResult | undefined {
    const bytes = this.results.getBinaryFast(u64(height)); // valid until the next read: parsed at once
    if (bytes === undefined || offset + length > bytes.length) return undefined;
    return JSON.parse(bytes.toString("utf8", offset, offset + length)) as JsonTxResult;
  }

  /**
   * Recently read or saved blocks and results, parsed (clients look up the txs of the
   * last few blocks; the next block's header needs the last results). Stored records never
   * change, and callers treat what they get as read-only.
   */
  private readonly recentBlocks = new Map<number, StoredBlock>();
  private readonly recentResults = new Map<number, StoredResults>();

  private recent<T>(cache: Map<number, T>, height: number, read: () => T | undefined): T | undefined {
    const hit = cache.get(height);
    if (hit) return hit;
    const v = read();
    if (v) this.remember(cache, height, v);
    return v;
  }

  private remember<T>(cache: Map<number, T>, height: number, v: T): void {
    if (cache.size >= (cache === this.recentResults ? RECENT_RESULTS : RECENT_BLOCKS)) cache.delete(cache.keys().next().value as number);
    cache.set(height, v);
  }

  /** Tx hashes indexed under "key=value", in (height, index) order; only heights lo..hi if given. */
  *txsByIndex(key: string, value: string, reverse = false, heights?: { lo: number; hi: number }): IterableIterator<Buffer> {
    if (key === "tx.hash") {
      const hash = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, "hex") : undefined;
      if (hash && this.txs.doesExist(hash)) yield hash;
      return;
    }
    if (heights && heights.lo > heights.hi) return;
    const base = Buffer.concat([Buffer.from(`${key}=${value}`), ZERO]);
    // Keys are base ‖ the block's height (u64), so a height range is a key range. A range
    // includes its start and excludes its end, in either direction.
    const range = !heights
      ? reverse
        ? this.index.getRange({ start: Buffer.concat([Buffer.from(`${key}=${value}`), Buffer.of(1)]), end: base, reverse: true })
        : this.index.getRange({ start: base, end: Buffer.concat([Buffer.from(`${key}=${value}`), Buffer.of(1)]) })
      : reverse
        ? this.index.getRange({ start: Buffer.concat([base, u64(heights.hi)]), end: Buffer.concat([base, u64(heights.lo - 1)]), reverse: true })
        : this.index.getRange({ start: Buffer.concat([base, u64(heights.lo)]), end: Buffer.concat([base, u64(heights.hi + 1)]) });
    for (const { value: list } of range) {
      const n = (list as Buffer).length / 32;
      for (let i = 0; i < n; i++) {
        const j = reverse ? n - 1 - i : i;
        yield Buffer.from((list as Buffer).subarray(j * 32, (j + 1) * 32));
      }
    }
  }

  /** Every tx hash, in (height, index) order (used when a query has no indexed equality). */
  *allTxs(reverse = false, heights?: { lo: number; hi: number }): IterableIterator<Buffer> {
    yield* this.txsByIndex("tx.exists", "1", reverse, heights);
  }
}

/** Strings that JSON writes as they are (printable ASCII other than `"` and `\\`). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

class NotPlain extends Error {}

function str(s: unknown): string {
  if (typeof s !== "string") throw new NotPlain();
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/**
 * `JSON.stringify(r)` for a tx result, written by hand: a block's results are serialized
 * on the thread that runs CheckTx, and this takes under half the generic serializer's
 * time. It writes JsonTxResult's fields in its order (results are built by `jsonTxResult`
 * or parsed from this same text, so they have no others); a field of another type sends
 * the result to JSON.stringify. blockstore.spec checks the text equals JSON.stringify's.
 */
export function txResultJson(r: JsonTxResult): string {
  try {
    if (!Number.isSafeInteger(r.code) || typeof r.events !== "object") throw new NotPlain();
    let o = `{"code":${r.code},"data":${r.data === null ? "null" : str(r.data)},"log":${str(r.log)},"info":${str(r.info)},"gas_wanted":${str(r.gas_wanted)},"gas_used":${str(r.gas_used)},"events":[`;
    for (let i = 0; i < r.events.length; i++) {
      const e = r.events[i];
      o += `${i ? "," : ""}{"type":${str(e.type)},"attributes":[`;
      for (let j = 0; j < e.attributes.length; j++) {
        const a = e.attributes[j];
        if (typeof a.index !== "boolean") throw new NotPlain();
        o += `${j ? "," : ""}{"key":${str(a.key)},"value":${str(a.value)},"index":${a.index}}`;
      }
      o += "]}";
    }
    return `${o}],"codespace":${str(r.codespace)}}`;
  } catch (e) {
    if (e instanceof NotPlain) return JSON.stringify(r);
    throw e;
  }
}

/** A tx ready to be saved: its hash and its result as JSON text. */
export interface PreparedTx {
  readonly tx: StoredTx;
  readonly hash: Buffer;
  readonly resultJson: string;
  /** The UTF-8 length of `resultJson`. */
  readonly resultBytes: number;
}

/**
 * A block's txs made ready to save, one at a time — the per-tx work of `saveResults`,
 * which a caller can spread over turns of the event loop: each result serialized, and
 * the block's index records (each attribute's tx hashes, in index order) grouped.
 */
export class PreparedTxs {
  readonly list: PreparedTx[] = [];
  /**
   * The index records being grouped: event type → attribute key → value → positions in
   * `list` of the txs carrying it (each once, in order). Nested rather than keyed by the
   * "type.key=value" text, which would be built and hashed for every attribute of
   * every tx; the texts are made once per record, by `byKey`.
   */
  private readonly groups = new Map<string, Map<string, Map<string, number[]>>>();

  add(tx: StoredTx): void {
    const resultJson = txResultJson(tx.tx_result);
    const at = this.list.length;
    this.list.push({ tx, hash: Buffer.from(tx.hash, "hex"), resultJson, resultBytes: Buffer.byteLength(resultJson) });
    this.group("tx", "height", tx.height, at);
    this.group("tx", "exists", "1", at);
    for (const e of tx.tx_result.events) {
      for (const a of e.attributes) if (a.index && a.key) this.group(e.type, a.key, a.value, at);
    }
  }

  private group(type: string, key: string, value: string, at: number): void {
    let keys = this.groups.get(type);
    if (keys === undefined) this.groups.set(type, (keys = new Map()));
    let values = keys.get(key);
    if (values === undefined) keys.set(key, (values = new Map()));
    const list = values.get(value);
    if (list === undefined) values.set(value, [at]);
    else if (list[list.length - 1] !== at) list.push(at);
  }

  /** Each index key ("type.key=value") with the hashes of its txs, in index order. */
  byKey(): Map<string, Buffer[]> {
    const merged = new Map<string, number[]>();
    for (const [type, keys] of this.groups) {
      for (const [key, values] of keys) {
        for (const [value, list] of values) {
          const text = `${type}.${key}=${value}`;
          const other = merged.get(text);
          // Different (type, key) pairs can spell the same text ("a.b"+"c", "a"+"b.c"): one record.
          merged.set(text, other === undefined ? list : [...new Set([...other, ...list])].sort((x, y) => x - y));
        }
      }
    }
    const out = new Map<string, Buffer[]>();
    for (const [text, list] of merged) out.set(text, list.map((i) => this.list[i].hash));
    return out;
  }
}

/**
 * The results record as UTF-8 JSON (the bytes of `JSON.stringify(r)`), with the txs'
 * results as prepared, written straight into one buffer of the exact size (a block's
 * results run to megabytes: concatenating them as one string first costs a copy more).
 */
/** The results as stored: one JSON document, composed from the txs' serialized results; `offsets`: where each of them starts. */
function resultsJson(r: StoredResults, txs: readonly PreparedTx[]): { bytes: Buffer; offsets: number[] } {
  const head = `{"height":${JSON.stringify(r.height)},"txs_results":[`;
  const { height: _h, txs_results: _t, ...rest } = r;
  const restJson = JSON.stringify(rest);
  const tail = restJson === "{}" ? "]}" : `],${restJson.slice(1)}`;
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail) + Math.max(0, txs.length - 1);
  for (const t of txs) size += t.resultBytes;
  const out = Buffer.allocUnsafe(size);
  const offsets: number[] = [];
  let at = out.write(head, 0);
  for (let i = 0; i < txs.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ","
    offsets.push(at);
    at += out.write(txs[i].resultJson, at);
  }
  at += out.write(tail, at);
  if (at !== size) throw new Error(`block store: results serialized to ${at} bytes, expected ${size}`);
  return { bytes: out, offsets };
}

