/**
 * The block store and tx index, in their own LMDB environment (`<home>/data/blockstore`).
 * Records are kept in CometBFT's JSON wire shapes, so the RPC serves them as they are.
 *
 *   blocks   height (u64 BE)         → { block_id, block } JSON
 *   hashes   block hash (bytes)      → height
 *   results  height                  → block results JSON (txs_results, events, app_hash)
 *   txs      tx hash (bytes)         → { hash, height, index, tx, tx_result } JSON
 *   index    "key=value" \0 height \0 index → tx hash        (event attributes, tx.height, tx.hash)
 *   meta     "height" → last saved block; "results" → last block with results
 */
import { open, RootDatabase, Database } from "lmdb";
import { mkdirSync } from "node:fs";
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

  constructor(path: string) {
    mkdirSync(path, { recursive: true });
    assertLmdbIntact(path, "the block store");
    this.env = open({ path, maxDbs: 8, compression: false, noSync: false });
    this.blocks = this.env.openDB({ name: "blocks", keyEncoding: "binary", encoding: "json" });
    this.hashes = this.env.openDB({ name: "hashes", keyEncoding: "binary", encoding: "json" });
    this.results = this.env.openDB({ name: "results", keyEncoding: "binary", encoding: "json" });
    this.txs = this.env.openDB({ name: "txs", keyEncoding: "binary", encoding: "json" });
    this.index = this.env.openDB({ name: "index", keyEncoding: "binary", encoding: "binary" });
    this.meta = this.env.openDB({ name: "meta", keyEncoding: "ordered-binary", encoding: "json" });
  }

  close(): Promise<void> {
    return this.env.close();
  }

  /** Height of the last saved block (0: none). */
  height(): number {
    return (this.meta.get("height") as number | undefined) ?? 0;
  }

  /** Height of the last block whose results are saved (0: none). */
  resultsHeight(): number {
    return (this.meta.get("results") as number | undefined) ?? 0;
  }

  baseHeight(): number {
    return this.height() > 0 ? 1 : 0;
  }

  saveBlock(b: StoredBlock): void {
    const h = Number(b.block.header.height);
    if (h !== this.height() + 1) throw new Error(`block store: saving height ${h} after ${this.height()}`);
    this.env.transactionSync(() => {
      this.blocks.putSync(u64(h), b);
      this.hashes.putSync(Buffer.from(b.block_id.hash, "hex"), h);
      this.meta.putSync("height", h);
    });
  }

  /** Saves a block's results and indexes its txs, in one transaction. */
  saveResults(r: StoredResults, txs: readonly StoredTx[]): void {
    const h = Number(r.height);
    this.env.transactionSync(() => {
      this.results.putSync(u64(h), r);
      for (const t of txs) {
        const hash = Buffer.from(t.hash, "hex");
        this.txs.putSync(hash, t);
        for (const key of indexKeys(t)) {
          this.index.putSync(Buffer.concat([Buffer.from(key), Buffer.of(0), u64(h), Buffer.of(0), u64(t.index)]), hash);
        }
      }
      this.meta.putSync("results", h);
    });
  }

  block(height: number): StoredBlock | undefined {
    return this.blocks.get(u64(height)) as StoredBlock | undefined;
  }

  heightByHash(hashHex: string): number | undefined {
    return this.hashes.get(Buffer.from(hashHex, "hex")) as number | undefined;
  }

  blockResults(height: number): StoredResults | undefined {
    return this.results.get(u64(height)) as StoredResults | undefined;
  }

  tx(hash: Buffer): StoredTx | undefined {
    return this.txs.get(hash) as StoredTx | undefined;
  }

  /** Tx hashes indexed under "key=value", in (height, index) order. */
  *txsByIndex(key: string, value: string, reverse = false): IterableIterator<Buffer> {
    const prefix = Buffer.concat([Buffer.from(`${key}=${value}`), Buffer.of(0)]);
    const end = Buffer.concat([Buffer.from(`${key}=${value}`), Buffer.of(1)]);
    const range = reverse ? this.index.getRange({ start: end, end: prefix, reverse: true }) : this.index.getRange({ start: prefix, end });
    for (const { value: hash } of range) yield hash as Buffer;
  }

  /** Every tx hash, in (height, index) order (used when a query has no indexed equality). */
  *allTxs(reverse = false): IterableIterator<Buffer> {
    yield* this.txsByIndex("tx.exists", "1", reverse);
  }
}

/** The index keys of a tx: tx.hash, tx.height, and every indexed event attribute. */
export function indexKeys(t: StoredTx): string[] {
  const keys = new Set<string>([`tx.hash=${t.hash}`, `tx.height=${t.height}`, "tx.exists=1"]);
  for (const e of t.tx_result.events) {
    for (const a of e.attributes) if (a.index && a.key) keys.add(`${e.type}.${a.key}=${a.value}`);
  }
  return [...keys];
}
