/**
 * The built-in single-validator engine: it produces a block every block time from the
 * mempool and drives the application only through ABCI (PrepareProposal,
 * ProcessProposal, FinalizeBlock, Commit), storing blocks, results and a tx index.
 *
 * Crash safety: a block is saved before it is executed, its results (and tx index) are
 * saved before the application commits. On start, a handshake compares the
 * application's last height (Info) with the store and replays the stored blocks the
 * application has not committed, checking that it reaches the stored app hashes.
 */
import { hash } from "node:crypto";
import { EventEmitter } from "node:events";
import { AbciApplication, CheckTxType, ExecTxResult, Event, RequestFinalizeBlock, ResponseFinalizeBlock, ResponseProcessProposal_ProposalStatus } from "../app/abci";
import { BlockStore, JsonBlockId, JsonCommit, JsonEvent, JsonHeader, JsonTxResult, PreparedTxs, StoredBlock, StoredResults, StoredTx } from "./blockstore";
import { Mempool, txHash } from "./mempool";
import { GenesisDoc, parseRfc3339, rfc3339, signEd25519, ValidatorKey } from "../node/home";
import { Logger } from "./log";

export interface EngineOptions {
  readonly blockTimeMs: number;
  readonly maxBlockBytes?: number;
  /** Names the likely cause of a failure to persist a block (a full disk, an unwritable home), if it can. */
  readonly diagnose?: (e: unknown) => string | undefined;
}

export interface CheckResult {
  code: number;
  data: string | null;
  log: string;
  info: string;
  gas_wanted: string;
  gas_used: string;
  events: JsonEvent[];
  codespace: string;
}

export const sha256hex = (data: Uint8Array | string) => hash("sha256", data, "hex").toUpperCase();

/**
 * ABCI events as the RPC's JSON has them. The shapes are the same ({type, attributes:
 * [{key, value, index}]}, fields in that order), so the events are used as they are, not
 * copied: a block's events live until its results are saved, and copies of them were a
 * large part of what every young-generation collection had to move. Neither side changes
 * events once emitted.
 */
export function jsonEvents(events: readonly Event[]): JsonEvent[] {
  return events as Event[];
}

export function jsonTxResult(r: ExecTxResult | { code: number; data: Uint8Array; log: string; info: string; gasWanted: bigint; gasUsed: bigint; events: Event[]; codespace: string }): JsonTxResult {
  return {
    code: r.code,
    data: r.data && r.data.length ? Buffer.from(r.data).toString("base64") : null,
    log: r.log,
    info: r.info,
    gas_wanted: r.gasWanted.toString(),
    gas_used: r.gasUsed.toString(),
    events: jsonEvents(r.events),
    codespace: r.codespace,
  };
}

const EMPTY_HASH = sha256hex("");
/**
 * A block is executed and its results saved in slices of about this many milliseconds,
 * with the event loop served in between (CheckTx, queries). Measured by the clock, not by
 * a count of txs: what a tx costs varies by kind and by machine. Scheduling only — the
 * same txs run in the same order whatever the slicing.
 */
const SLICE_MS = 4;
/** Txs run between two looks at the clock. */
const SLICE_STEP = 16;

/** Resolves on the next turn of the event loop, after pending I/O has been served. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A deadline SLICE_MS from now (monotonic nanoseconds). */
function sliceEnd(): bigint {
  return process.hrtime.bigint() + BigInt(SLICE_MS * 1_000_000); // determinism-ok: scheduling, not state
}

/** Events emitted to subscribers: "block" (StoredBlock, StoredResults) and "tx" (StoredTx). */
export class Engine extends EventEmitter {
  readonly mempool = new Mempool();
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private producing = false;
  private lastAppHash = "";
  private lastBlockTime = { seconds: 0n, nanos: 0 };
  private txsTotal = 0;
  private lastBlockMs = 0;
  private committed = 0;

  constructor(
    readonly app: AbciApplication,
    readonly store: BlockStore,
    readonly genesis: GenesisDoc,
    readonly validator: ValidatorKey,
    readonly opts: EngineOptions,
    readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
  }

  get chainId(): string {
    return this.genesis.chain_id;
  }

  /** The last committed height: its block, results and state are all on disk. */
  height(): number {
    return this.committed;
  }

  latestAppHash(): string {
    return this.lastAppHash;
  }

  metrics() {
    return { height: this.height(), txsTotal: this.txsTotal, mempoolSize: this.mempool.size, lastBlockMs: this.lastBlockMs };
  }

  // ---------------------------------------------------------------------------
  // Handshake

  /** Brings the application level with the block store (InitChain or replay). */
  async handshake(): Promise<void> {
    const info = this.app.info({ version: "0.38.17", blockVersion: 11n, p2pVersion: 8n, abciVersion: "2.0.0" });
    let appHeight = Number(info.lastBlockHeight);
    const storeHeight = this.store.height();
    this.log.info("handshake", { app_height: appHeight, store_height: storeHeight, results_height: this.store.resultsHeight() });
    if (appHeight > storeHeight) {
      throw new Error(`the application is at height ${appHeight} but the block store only has ${storeHeight}: refusing to start (data directory mixed up?)`);
    }
    if (appHeight === 0) {
      const t = parseRfc3339(this.genesis.genesis_time);
      const res = this.app.initChain({
        time: { seconds: t.seconds, nanos: t.nanos },
        chainId: this.genesis.chain_id,
        consensusParams: {
          block: {
            maxBytes: BigInt(this.genesis.consensus_params.block.max_bytes),
            maxGas: BigInt(this.genesis.consensus_params.block.max_gas),
          },
          evidence: undefined,
          validator: undefined,
          version: undefined,
          abci: undefined,
        },
        validators: [],
        appStateBytes: Buffer.from(JSON.stringify(this.genesis.app_state ?? {})),
        initialHeight: BigInt(this.genesis.initial_height || "1"),
      });
      this.lastAppHash = Buffer.from(res.appHash).toString("hex").toUpperCase();
      this.lastBlockTime = t;
    } else {
      this.lastAppHash = Buffer.from(info.lastBlockAppHash).toString("hex").toUpperCase();
      const b = this.store.block(appHeight)!;
      this.lastBlockTime = { seconds: BigInt(b.time.seconds), nanos: b.time.nanos };
    }
    // Replay the stored blocks the application has not committed.
    while (appHeight < storeHeight) {
      const h = appHeight + 1;
      const stored = this.store.block(h)!;
      const res = this.finalize(stored);
      const prior = this.store.blockResults(h);
      const appHash = Buffer.from(res.appHash).toString("hex").toUpperCase();
      if (prior && prior.app_hash !== appHash) {
        throw new Error(`replay of block ${h} gave app hash ${appHash}, but ${prior.app_hash} was recorded: the application's state does not match its history`);
      }
      if (!prior) await (await this.saveResults(stored, res)).written;
      this.app.commit();
      this.lastAppHash = appHash;
      this.lastBlockTime = { seconds: BigInt(stored.time.seconds), nanos: stored.time.nanos };
      this.log.info("replayed block", { height: h, app_hash: appHash });
      appHeight = h;
    }
    if (storeHeight > 0 && this.store.resultsHeight() < storeHeight) throw new Error("block store results are behind its blocks after replay");
    this.committed = this.store.resultsHeight();
  }

  // ---------------------------------------------------------------------------
  // Mempool

  /** CheckTx and admission to the mempool. Throws for a duplicate or a full mempool. */
  checkAndAdd(tx: Uint8Array): { hash: string; result: CheckResult; sender: string } {
    if (tx.length > this.mempool.maxTxBytes) {
      throw new RangeError(`tx too large. Max size is ${this.mempool.maxTxBytes}, but got ${tx.length}`);
    }
    const hash = txHash(tx);
    if (this.mempool.has(hash) || this.mempool.isRecentlyCommitted(hash)) throw new DuplicateTxError("tx already exists in cache");
    const sender = this.mempool.admit(tx); // limits first: a tx refused here leaves the app's check state untouched
    const r = this.app.checkTx({ tx, type: CheckTxType.NEW });
    const result = jsonTxResult(r);
    if (r.code === 0) this.mempool.add({ tx, hash, gasWanted: r.gasWanted }, sender);
    return { hash, result, sender };
  }

  checkOnly(tx: Uint8Array): CheckResult {
    // A check against a throwaway: RECHECK does not change the mempool, and the app's
    // check state is reset at the next commit, so a failing probe changes nothing.
    const r = this.app.checkTx({ tx, type: CheckTxType.NEW });
    return jsonTxResult(r);
  }

  // ---------------------------------------------------------------------------
  // Blocks

  start(): void {
    const tick = async () => {
      if (this.stopping) return;
      const t0 = process.hrtime.bigint();
      try {
        this.inFlight = this.produceBlock();
        await this.inFlight;
      } catch (e) {
        const cause = this.opts.diagnose?.(e);
        this.log.error(`block production failed; stopping${cause ? `: ${cause}` : ""}`, { error: e instanceof Error ? e.stack : String(e), ...(cause ? { cause } : {}) });
        this.emit("fatal", e);
        return;
      } finally {
        this.inFlight = null;
      }
      if (this.stopping) return;
      const spent = Number(process.hrtime.bigint() - t0) / 1e6;
      this.timer = setTimeout(tick, Math.max(0, this.opts.blockTimeMs - spent));
    };
    this.timer = setTimeout(tick, this.opts.blockTimeMs);
  }

  private inFlight: Promise<void> | null = null;

  /** Stops producing blocks; resolves once a block in flight has been committed. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight?.catch(() => undefined);
  }

  private blockTime(): { seconds: bigint; nanos: number } {
    const nowNs = process.hrtime.bigint() - hrBase + wallBaseNs; // determinism-ok: the proposer's clock, recorded in the block
    let s = nowNs / 1_000_000_000n;
    let n = Number(nowNs % 1_000_000_000n);
    const prev = this.lastBlockTime;
    if (s < prev.seconds || (s === prev.seconds && n <= prev.nanos)) {
      s = prev.seconds;
      n = prev.nanos + 1_000_000;
      if (n >= 1e9) {
        s += 1n;
        n -= 1e9;
      }
    }
    return { seconds: s, nanos: n };
  }

  /**
   * Proposes, executes, saves and commits the next block. Execution runs in slices of
   * about `SLICE_MS` with the event loop served in between, so that CheckTx and
   * queries keep being answered while a large block executes (they read the check state
   * and the committed state, which execution does not touch; as with CometBFT's separate
   * ABCI connections). The block and its results are written by LMDB's writer thread,
   * and the event loop keeps serving while they go to disk; the application commits once
   * they are there, so that a crash never leaves state without the block that led to it.
   * The log line of each block gives the time of each phase.
   */
  async produceBlock(): Promise<void> {
    if (this.producing) return;
    this.producing = true;
    const t0 = process.hrtime.bigint();
    try {
      const height = this.store.height() + 1;
      const maxBytes = this.opts.maxBlockBytes ?? Number(this.genesis.consensus_params.block.max_bytes);
      const maxGas = BigInt(this.genesis.consensus_params.block.max_gas);
      const reaped = this.mempool.reap(maxBytes, maxGas);
      const prep = this.app.prepareProposal({
        maxTxBytes: BigInt(maxBytes),
        txs: reaped.map((t) => t.tx),
        localLastCommit: { round: 0, votes: [] },
        misbehavior: [],
        height: BigInt(height),
        time: { seconds: 0n, nanos: 0 },
        nextValidatorsHash: new Uint8Array(),
        proposerAddress: Buffer.from(this.validator.address, "hex"),
      });
      const txs = prep.txs;
      // The mempool has the hashes of what it reaped. The proposal holds some of those txs,
      // in its own order (fee per gas first; see the application's PrepareProposal); what it
      // leaves out stays in the mempool (only committed txs are removed) for a later block.
      let reapedHash: Map<Uint8Array, string> | undefined;
      const hashes = txs.map((t, i) => (reaped[i]?.tx === t ? reaped[i].hash : (reapedHash ??= new Map(reaped.map((r) => [r.tx, r.hash]))).get(t) ?? txHash(t)));
      const block = this.makeBlock(height, txs, hashes);
      const proc = this.app.processProposal({
        txs,
        proposedLastCommit: { round: 0, votes: [] },
        misbehavior: [],
        hash: Buffer.from(block.block_id.hash, "hex"),
        height: BigInt(height),
        time: { seconds: BigInt(block.time.seconds), nanos: block.time.nanos },
        nextValidatorsHash: new Uint8Array(),
        proposerAddress: Buffer.from(this.validator.address, "hex"),
      });
      if (proc.status !== ResponseProcessProposal_ProposalStatus.ACCEPT) throw new Error(`own proposal at height ${height} was rejected`);

      // The block and then its results are written by LMDB's writer thread while CheckTx
      // goes on; both are on disk before the application commits the state they lead to.
      const blockWritten = this.store.saveBlock(block);
      blockWritten.catch(() => undefined); // awaited below (a failure must not go unhandled meanwhile)
      const t1 = process.hrtime.bigint();
      const res = await this.finalizeInSteps(block, txs);
      const t2 = process.hrtime.bigint();
      const stored = await this.saveResults(block, res, hashes);
      const t3 = process.hrtime.bigint();
      await Promise.all([blockWritten, stored.written]);
      const t3w = process.hrtime.bigint();
      this.app.commit();
      this.committed = height;
      const t4 = process.hrtime.bigint();
      this.lastAppHash = stored.results.app_hash;
      this.lastBlockTime = { seconds: BigInt(block.time.seconds), nanos: block.time.nanos };
      this.txsTotal += txs.length;

      // Mempool: drop what was included, recheck the rest against the new state.
      this.mempool.committed(height, stored.txs.map((t) => t.hash));
      this.mempool.recheck((t) => this.app.checkTx({ tx: t.tx, type: CheckTxType.RECHECK }).code === 0);
      const t5 = process.hrtime.bigint();
      const ms = (a: bigint, b: bigint) => Math.round(Number(b - a) / 1e5) / 10;
      const phases = { propose: ms(t0, t1), execute: ms(t1, t2), save: ms(t2, t3), write_wait: ms(t3, t3w), commit: ms(t3w, t4), recheck: ms(t4, t5) };

      this.lastBlockMs = Number(process.hrtime.bigint() - t0) / 1e6;
      this.log.info("committed block", { height, txs: txs.length, app_hash: this.lastAppHash, ms: Math.round(this.lastBlockMs), phases_ms: phases });
      this.emit("block", block, stored.results);
      for (const t of stored.txs) this.emit("tx", t);
    } finally {
      this.producing = false;
    }
  }

  private async finalizeInSteps(b: StoredBlock, txs: Uint8Array[]): Promise<ResponseFinalizeBlock> {
    if (!this.app.beginFinalizeBlock) return this.finalize(b);
    const run = this.app.beginFinalizeBlock(this.finalizeRequest(b, txs));
    while (!run.done) {
      const end = sliceEnd();
      do run.step(SLICE_STEP);
      while (!run.done && process.hrtime.bigint() < end); // determinism-ok: scheduling, not state
      if (!run.done) await nextTurn();
    }
    return run.finish();
  }

  private finalize(b: StoredBlock): ResponseFinalizeBlock {
    return this.app.finalizeBlock(this.finalizeRequest(b));
  }

  /** The FinalizeBlock request for a stored block (`txs`: its txs' bytes, when the caller has them). */
  private finalizeRequest(b: StoredBlock, txs?: Uint8Array[]): RequestFinalizeBlock {
    return {
      txs: txs ?? b.block.data.txs.map((t) => Buffer.from(t, "base64")),
      decidedLastCommit: { round: 0, votes: [] },
      misbehavior: [],
      hash: Buffer.from(b.block_id.hash, "hex"),
      height: BigInt(b.block.header.height),
      time: { seconds: BigInt(b.time.seconds), nanos: b.time.nanos },
      nextValidatorsHash: Buffer.from(b.block.header.next_validators_hash, "hex"),
      proposerAddress: Buffer.from(b.block.header.proposer_address, "hex"),
    };
  }

  /**
   * Serializes and indexes a block's results a step of txs at a time (the event loop
   * served in between, as during execution), then hands them to the block store; `written`
   * settles when they are on disk.
   */
  private async saveResults(b: StoredBlock, res: ResponseFinalizeBlock, hashes?: string[]): Promise<{ results: StoredResults; txs: StoredTx[]; written: Promise<void> }> {
    const height = b.block.header.height;
    const txs: StoredTx[] = [];
    const prepared = new PreparedTxs();
    let end = sliceEnd();
    for (let i = 0; i < res.txResults.length; i++) {
      if (i % SLICE_STEP === SLICE_STEP - 1 && process.hrtime.bigint() >= end) { // determinism-ok: scheduling, not state
        await nextTurn();
        end = sliceEnd();
      }
      const tx = b.block.data.txs[i];
      const t: StoredTx = { hash: hashes?.[i] ?? txHash(Buffer.from(tx, "base64")), height, index: i, tx, tx_result: jsonTxResult(res.txResults[i]) };
      txs.push(t);
      prepared.add(t);
    }
    const results: StoredResults = {
      height,
      txs_results: txs.map((t) => t.tx_result),
      finalize_block_events: jsonEvents(res.events),
      validator_updates: [],
      consensus_param_updates: null,
      app_hash: Buffer.from(res.appHash).toString("hex").toUpperCase(),
      commit: this.makeCommit(b),
    };
    return { results, txs, written: this.store.saveResults(results, prepared) };
  }

  private validatorsHash(): string {
    return sha256hex(Buffer.concat([this.validator.pubkey, Buffer.from("10")]));
  }

  private makeBlock(height: number, txs: Uint8Array[], hashes: string[]): StoredBlock {
    const prev = height > 1 ? this.store.block(height - 1) : undefined;
    const prevResults = height > 1 ? this.store.blockResults(height - 1) : undefined;
    const time = this.blockTime();
    const lastBlockId: JsonBlockId = prev ? prev.block_id : { hash: "", parts: { total: 0, hash: "" } };
    const lastCommit: JsonCommit = prevResults ? prevResults.commit : { height: "0", round: 0, block_id: { hash: "", parts: { total: 0, hash: "" } }, signatures: [] };
    const header: JsonHeader = {
      version: { block: "11", app: "1" },
      chain_id: this.chainId,
      height: String(height),
      time: rfc3339(time.seconds, time.nanos),
      last_block_id: lastBlockId,
      last_commit_hash: sha256hex(JSON.stringify(lastCommit)),
      data_hash: txs.length ? sha256hex(Buffer.from(hashes.join(""), "hex")) : EMPTY_HASH,
      validators_hash: this.validatorsHash(),
      next_validators_hash: this.validatorsHash(),
      consensus_hash: sha256hex(JSON.stringify(this.genesis.consensus_params)),
      app_hash: this.lastAppHash,
      last_results_hash: prevResults ? sha256hex(JSON.stringify(prevResults.txs_results.map((r) => [r.code, r.data, r.gas_wanted, r.gas_used]))) : EMPTY_HASH,
      evidence_hash: EMPTY_HASH,
      proposer_address: this.validator.address,
    };
    const hash = sha256hex(JSON.stringify(header));
    return {
      block_id: { hash, parts: { total: 1, hash: sha256hex(hash) } },
      block: { header, data: { txs: txs.map((t) => Buffer.from(t).toString("base64")) }, evidence: { evidence: [] }, last_commit: lastCommit },
      time: { seconds: time.seconds.toString(), nanos: time.nanos },
    };
  }

  /** The validator's signed commit of a block (a precommit over chain id, height and block hash). */
  private makeCommit(b: StoredBlock): JsonCommit {
    const vote = Buffer.from(JSON.stringify({ chain_id: this.chainId, height: b.block.header.height, round: 0, block_id: b.block_id.hash }));
    return {
      height: b.block.header.height,
      round: 0,
      block_id: b.block_id,
      signatures: [
        { block_id_flag: 2, validator_address: this.validator.address, timestamp: b.block.header.time, signature: signEd25519(this.validator, vote).toString("base64") },
      ],
    };
  }
}

export class DuplicateTxError extends Error {}

const hrBase = process.hrtime.bigint(); // determinism-ok: engine clock (outside consensus)
const wallBaseNs = BigInt(Date.now()) * 1_000_000n; // determinism-ok: engine clock (outside consensus)
