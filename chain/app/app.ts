/**
 * BackstopApp: the ABCI 2.0 application.
 *
 * State lives in a CommitStore (LMDB on disk). A block executes on `deliverState`, a
 * branch over the committed store; every transaction runs on it under a savepoint (the
 * ante handler's, and the messages' inside it), kept on success and rolled back on
 * failure. FinalizeBlock ends by staging the block's changes in
 * the Merkle trie, which yields the app hash; Commit writes state, trie, height and
 * app hash in one transaction. CheckTx runs on `checkState`, a separate branch reset at
 * every Commit, so the mempool's view never leaks into consensus state.
 */
import { TxMsgData } from "cosmjs-types/cosmos/base/abci/v1beta1/abci";
import { SimulateRequest, SimulateResponse } from "cosmjs-types/cosmos/tx/v1beta1/service";
import { Any } from "cosmjs-types/google/protobuf/any";
import type { Event } from "cosmjs-types/tendermint/abci/types";
import {
  AbciApplication,
  CheckTxType,
  RequestCheckTx,
  RequestFinalizeBlock,
  RequestInfo,
  RequestInitChain,
  RequestPrepareProposal,
  RequestProcessProposal,
  RequestQuery,
  ResponseCheckTx,
  ResponseCommit,
  ResponseFinalizeBlock,
  ResponseInfo,
  ResponseInitChain,
  ResponsePrepareProposal,
  ResponseProcessProposal,
  ResponseProcessProposal_ProposalStatus,
  ResponseQuery,
  ExecTxResult,
  FinalizeRun,
} from "./abci";
import "./wire";
import { CacheKV } from "../store/cache";
import { CommitStore, openLmdbStore, openMemoryStore } from "../store/commit";
import { KVReader, KVStore } from "../store/types";
import { PrefixKV } from "../store/prefix";
import { Context, ExecMode } from "./context";
import { EventManager } from "./events";
import { GasKV, GasMeter } from "./gas";
import { AppError, ErrInvalidHeight, ErrInvalidRequest, ErrOutOfGas, ErrUnknownRequest, RegisteredError, toAbciError } from "./errors";
import { GasPrice, parseGasPrices } from "./coins";
import { ante, decodeTx, DecodedTx } from "./tx";
import { countOrders, FeePricer, ProposalTx, proposalTx, selectTxs } from "./proposal";
import type { Params as ClearingParams } from "../../client/src/generated/backstop/clearing/v1/clearing";
import { buildModules, AppModules } from "./modules";
import { mkdirSync } from "node:fs";

export const APP_NAME = "backstop";
export const APP_VERSION = "0.1.0";
/**
 * The protocol version reported in Info and recorded in the state at InitChain, bumped on
 * any consensus-breaking change. A build refuses to open state of another version (there
 * are no migrations yet). 2: an order's reservation lives in the order (`reserved_uusdc`),
 * not in a record of its own. 3: an epoch's rebalancing moves funds as credit (the reserve
 * owes a pool what it sweeps from it; a pool it tops up owes it), a first deposit into a
 * pool that already holds assets buys in at the locked shares' NAV, a liquidation cancels
 * its owner's orders in the market and caps a partial close's fee at the remaining equity,
 * and the clearing params are stored, changed by MsgUpdateParams and enforced.
 */
export const APP_PROTOCOL_VERSION = 4n;

/** Application metadata under prefix 0x00 (the modules use 0x01…). */
const META_PREFIX = Uint8Array.of(0x00);
const CHAIN_ID_KEY = Buffer.from("chain_id");
const CONSENSUS_KEY = Buffer.from("consensus_params");
const BLOCK_TIME_KEY = Buffer.from("block_time");
/** APP_PROTOCOL_VERSION of the build that ran InitChain (u64; absent: version 1). */
const PROTOCOL_VERSION_KEY = Buffer.from("protocol_version");

export interface AppOptions {
  /** Directory of the application's database; omit for an in-memory app (tests). */
  readonly dataDir?: string;
  /** The node's minimum gas prices for CheckTx, e.g. "0.0025uusdc,0.0025ustake". */
  readonly minGasPrices?: string;
  /** The largest transaction accepted, in bytes. */
  readonly maxTxBytes?: number;
}

interface ConsensusLimits {
  maxBlockBytes: number;
  /** −1: no limit. */
  maxBlockGas: bigint;
}

interface TxOutcome {
  code: number;
  codespace: string;
  log: string;
  data: Uint8Array;
  gasWanted: bigint;
  gasUsed: bigint;
  events: Event[];
}

const OK = { code: 0, codespace: "", log: "" } as const;

/** A transaction's outcome as CheckTx and FinalizeBlock report it. */
function execResult(r: TxOutcome): ExecTxResult {
  return { code: r.code, data: r.data, log: r.log, info: "", gasWanted: r.gasWanted, gasUsed: r.gasUsed, events: r.events, codespace: r.codespace };
}

export const DEFAULT_MIN_GAS_PRICES = "0.0025uusdc,0.0025ustake";

export class BackstopApp implements AbciApplication {
  readonly modules: AppModules;
  private readonly minGasPrices: GasPrice[];
  private readonly maxTxBytes: number;
  /** Prices fees for PrepareProposal's order, from the node's minimum gas prices. */
  private readonly feePricer: FeePricer;
  /** Proposal facts by tx bytes (see proposalTx). */
  private readonly proposalTxs = new WeakMap<Uint8Array, ProposalTx | null>();
  private checkState: CacheKV;
  private deliverState: CacheKV | null = null;
  /** Height and app hash of the block finalized but not yet committed. */
  /** A finalized block awaiting Commit (CheckTx and queries still see the state before it). */
  private pending: { height: bigint; appHash: Buffer; time: bigint } | null = null;
  private chainIdCache: string | null = null;
  private lastBlockTime = 0n;

  private constructor(
    private readonly store: CommitStore,
    opts: AppOptions,
  ) {
    this.modules = buildModules();
    this.minGasPrices = parseGasPrices(opts.minGasPrices ?? DEFAULT_MIN_GAS_PRICES);
    this.maxTxBytes = opts.maxTxBytes ?? 1024 * 1024;
    this.feePricer = new FeePricer(this.minGasPrices);
    if (store.lastCommit().height > 0n) {
      const raw = this.readMeta(store, PROTOCOL_VERSION_KEY);
      const version = raw ? Buffer.from(raw).readBigUInt64BE(0) : 1n;
      if (version !== APP_PROTOCOL_VERSION) {
        store.close();
        throw new Error(
          `the state was written by protocol version ${version}; this build runs version ${APP_PROTOCOL_VERSION} and has no migration from it: start from a fresh home (backstop localnet --reset)`,
        );
      }
    }
    this.checkState = new CacheKV(store);
    const t = this.readMeta(store, BLOCK_TIME_KEY);
    this.lastBlockTime = t ? Buffer.from(t).readBigInt64BE(0) : 0n;
  }

  static open(opts: AppOptions = {}): BackstopApp {
    if (!opts.dataDir) return new BackstopApp(openMemoryStore(), opts);
    mkdirSync(opts.dataDir, { recursive: true });
    return new BackstopApp(openLmdbStore(opts.dataDir), opts);
  }

  close(): void {
    this.store.close();
  }

  // ---------------------------------------------------------------------------
  // Contexts

  private meta(store: KVStore): PrefixKV {
    return new PrefixKV(store, META_PREFIX);
  }

  private readMeta(store: KVReader, key: Buffer): Uint8Array | undefined {
    return store.get(Buffer.concat([META_PREFIX, key]));
  }

  get chainId(): string {
    if (this.chainIdCache === null) {
      const raw = this.readMeta(this.store, CHAIN_ID_KEY);
      this.chainIdCache = raw ? Buffer.from(raw).toString() : "";
    }
    return this.chainIdCache;
  }

  private consensus(store: KVReader): ConsensusLimits {
    const raw = this.readMeta(store, CONSENSUS_KEY);
    if (!raw) return { maxBlockBytes: 22020096, maxBlockGas: -1n };
    const j = JSON.parse(Buffer.from(raw).toString());
    return { maxBlockBytes: Number(j.max_bytes), maxBlockGas: BigInt(j.max_gas) };
  }

  private makeContext(store: KVStore, mode: ExecMode, height: bigint, time: bigint, gas: GasMeter, events = new EventManager()): Context {
    // Transactions (and their simulation) pay for every store access; genesis, end-block
    // and queries run unmetered, so they skip the metering layer.
    const metered = mode !== "endblock" && mode !== "genesis" && mode !== "query";
    return { store: metered ? new GasKV(store, gas) : store, height, time, chainId: this.chainId, events, gas, mode };
  }

  /** A read-only context over the committed state (changes go to a discarded branch). */
  queryContext(): Context {
    const { height } = this.store.lastCommit();
    return this.makeContext(new CacheKV(this.store), "query", height, this.lastBlockTime, GasMeter.infinite());
  }

  // ---------------------------------------------------------------------------
  // ABCI: info and genesis

  info(_req: RequestInfo): ResponseInfo {
    const { height, appHash } = this.store.lastCommit();
    return {
      data: APP_NAME,
      version: APP_VERSION,
      appVersion: APP_PROTOCOL_VERSION,
      lastBlockHeight: height,
      lastBlockAppHash: height === 0n ? new Uint8Array() : appHash,
    };
  }

  initChain(req: RequestInitChain): ResponseInitChain {
    if (this.store.lastCommit().height !== 0n) throw new Error("InitChain on a chain that has already committed blocks");
    if (!req.chainId) throw ErrInvalidRequest.wrap("chain id is empty");
    this.deliverState = new CacheKV(this.store);
    const meta = this.meta(this.deliverState);
    meta.set(CHAIN_ID_KEY, Buffer.from(req.chainId));
    const version = Buffer.alloc(8);
    version.writeBigUInt64BE(APP_PROTOCOL_VERSION);
    meta.set(PROTOCOL_VERSION_KEY, version);
    this.chainIdCache = req.chainId;
    const block = req.consensusParams?.block;
    meta.set(
      CONSENSUS_KEY,
      Buffer.from(JSON.stringify({ max_bytes: String(block?.maxBytes ?? 22020096n), max_gas: String(block?.maxGas ?? -1n) })),
    );

    const text = Buffer.from(req.appStateBytes).toString().trim();
    const appState: Record<string, unknown> = text ? JSON.parse(text) : {};
    const time = req.time?.seconds ?? 0n;
    const height = req.initialHeight > 0n ? req.initialHeight : 1n;
    const ctx = this.makeContext(this.deliverState, "genesis", height, time, GasMeter.infinite());
    for (const m of this.modules.manager.modules) {
      m.initGenesis(ctx, appState[m.name] ?? m.defaultGenesis());
    }
    this.lastBlockTime = time;
    // Transactions may reach the mempool before block 1: check them against genesis.
    this.checkState = new CacheKV(this.deliverState);
    const appHash = this.store.stage(this.deliverState.changes());
    return { consensusParams: undefined, validators: req.validators, appHash };
  }

  /** The application state as genesis JSON (`app_state`), from the committed state. */
  exportGenesis(): Record<string, unknown> {
    const ctx = this.queryContext();
    const out: Record<string, unknown> = {};
    for (const m of this.modules.manager.modules) out[m.name] = m.exportGenesis(ctx);
    return out;
  }

  // ---------------------------------------------------------------------------
  // ABCI: mempool

  checkTx(req: RequestCheckTx): ResponseCheckTx {
    const mode: ExecMode = req.type === CheckTxType.RECHECK ? "recheck" : "check";
    const { height } = this.store.lastCommit();
    return execResult(this.runTx(mode, req.tx, this.checkState, height + 1n, this.lastBlockTime));
  }

  // ---------------------------------------------------------------------------
  // ABCI: consensus

  /**
   * The block's txs: by fee per gas, then arrival, each signer's in sequence order, within
   * the block's bytes and gas and the clearing params' order limits (`selectTxs` in
   * proposal.ts says how). What is left out stays in the mempool: the engine and CometBFT
   * remove only the txs a committed block holds.
   */
  prepareProposal(req: RequestPrepareProposal): ResponsePrepareProposal {
    const base = this.proposalBase();
    const params = this.proposalParams(base);
    const candidates = req.txs.map((tx) => this.proposalTx(tx));
    const picked = selectTxs(
      candidates,
      {
        maxBytes: Number(req.maxTxBytes),
        maxGas: this.consensus(base).maxBlockGas,
        maxOrders: params.maxOrdersPerBlock,
        maxOrdersPerAccount: params.maxOrdersPerAccountPerBlock,
      },
      this.feePricer,
    );
    return { txs: picked.map((i) => req.txs[i]) };
  }

  /**
   * Accepts a proposal within the block's bytes and with at most max_orders_per_block
   * MsgPlaceOrder messages. The keeper refuses orders beyond the limit at delivery anyway
   * (clearing/15); refusing the block keeps a proposer running other code from filling it
   * with txs that fail and still pay, and keeps every block's execution bounded.
   */
  processProposal(req: RequestProcessProposal): ResponseProcessProposal {
    const base = this.proposalBase();
    const { maxBlockBytes } = this.consensus(base);
    let bytes = 0;
    for (const tx of req.txs) bytes += tx.length;
    const { maxOrdersPerBlock } = this.proposalParams(base);
    const ok = (maxBlockBytes <= 0 || bytes <= maxBlockBytes) && countOrders(req.txs.map((tx) => this.proposalTx(tx))) <= maxOrdersPerBlock;
    return { status: ok ? ResponseProcessProposal_ProposalStatus.ACCEPT : ResponseProcessProposal_ProposalStatus.REJECT };
  }

  /**
   * The state the next block starts from: the committed state, or before block 1 the
   * genesis InitChain staged (deliverState is set only from InitChain or FinalizeBlock
   * until Commit, and proposals come between a Commit and the next FinalizeBlock).
   */
  private proposalBase(): KVReader {
    return this.deliverState ?? this.store;
  }

  /** The clearing params (order limits) of that state. */
  private proposalParams(base: KVReader): ClearingParams {
    return this.modules.clearing.getParams(this.makeContext(new CacheKV(base), "query", 0n, this.lastBlockTime, GasMeter.infinite()));
  }

  /**
   * What a proposal needs of a tx (`proposalTx`), by its bytes: remembered at CheckTx,
   * whose decoding it reuses (the engine proposes the very buffers its mempool got), or
   * decoded here; null if the tx cannot be decoded. Weakly held: an entry goes with its tx.
   */
  private proposalTx(bytes: Uint8Array): ProposalTx | null {
    let t = this.proposalTxs.get(bytes);
    if (t === undefined) {
      try {
        t = proposalTx(decodeTx(bytes, this.modules.manager, this.maxTxBytes));
      } catch {
        t = null;
      }
      this.proposalTxs.set(bytes, t);
    }
    return t;
  }

  finalizeBlock(req: RequestFinalizeBlock): ResponseFinalizeBlock {
    return this.beginFinalizeBlock(req).finish();
  }

  beginFinalizeBlock(req: RequestFinalizeBlock): FinalizeRun {
    const expected = this.store.lastCommit().height + 1n;
    if (this.store.lastCommit().height !== 0n && req.height !== expected) {
      throw new Error(`FinalizeBlock at height ${req.height}, expected ${expected}`);
    }
    if (!this.deliverState) this.deliverState = new CacheKV(this.store);
    const block = this.deliverState;
    const time = req.time?.seconds ?? this.lastBlockTime;
    const { maxBlockGas } = this.consensus(block);

    const txResults: ExecTxResult[] = [];
    let blockGas = 0n;
    let next = 0;
    const step = (n: number) => {
      const end = Math.min(req.txs.length, next + n);
      for (; next < end; next++) {
        const r = this.runTx("deliver", req.txs[next], block, req.height, time, maxBlockGas >= 0n ? maxBlockGas - blockGas : -1n);
        blockGas += r.gasUsed;
        txResults.push(execResult(r));
      }
    };
    return {
      get done() {
        return next >= req.txs.length;
      },
      step,
      finish: () => {
        step(req.txs.length);
        // End-block hooks, in module order, on the block's state.
        const events = new EventManager();
        const ctx: Context = { ...this.makeContext(block, "endblock", req.height, time, GasMeter.infinite(), events), blockChanges: (start, end) => block.changesIn(start, end) };
        for (const m of this.modules.manager.modules) m.endBlock?.(ctx);

        const t = Buffer.alloc(8);
        t.writeBigInt64BE(time);
        this.meta(block).set(BLOCK_TIME_KEY, t);
        const appHash = this.store.stage(block.changes());
        this.pending = { height: req.height, appHash, time };
        return { events: events.events(), txResults, validatorUpdates: [], consensusParamUpdates: undefined, appHash };
      },
    };
  }

  commit(): ResponseCommit {
    if (!this.pending) throw new Error("Commit without FinalizeBlock");
    this.store.commit(this.pending.height, this.pending.appHash);
    this.lastBlockTime = this.pending.time;
    this.pending = null;
    this.deliverState = null;
    this.checkState = new CacheKV(this.store);
    return { retainHeight: 0n };
  }

  // ---------------------------------------------------------------------------
  // ABCI: queries

  query(req: RequestQuery): ResponseQuery {
    const { height } = this.store.lastCommit();
    const fail = (err: unknown): ResponseQuery => {
      // An error that is not a registered one — a request that does not decode, above all —
      // is sdk/18 invalid request, as the Cosmos SDK's gRPC query router reports a handler's
      // plain error (baseapp gRPCErrorToSDKError), never the codespace "undefined".
      const e = toAbciError(err instanceof AppError ? err : ErrInvalidRequest.wrap(err instanceof Error ? err.message : String(err)));
      return { code: e.code, log: e.log, info: "", index: 0n, key: new Uint8Array(), value: new Uint8Array(), proofOps: undefined, height, codespace: e.codespace };
    };
    try {
      if (req.height !== 0n && req.height !== height) {
        throw ErrInvalidHeight.wrap(`state at height ${req.height} is not available; latest is ${height}`);
      }
      let value: Uint8Array;
      if (req.path === "/cosmos.tx.v1beta1.Service/Simulate") {
        value = this.simulate(req.data);
      } else {
        const route = this.modules.manager.query(req.path);
        if (!route) throw ErrUnknownRequest.wrap(`unknown query path ${req.path}`);
        value = route.handle(this.queryContext(), req.data);
      }
      return { code: 0, log: "", info: "", index: 0n, key: new Uint8Array(), value, proofOps: undefined, height, codespace: "" };
    } catch (err) {
      return fail(err);
    }
  }

  private simulate(data: Uint8Array): Uint8Array {
    const req = SimulateRequest.decode(data);
    const { height } = this.store.lastCommit();
    const r = this.runTx("simulate", req.txBytes, new CacheKV(this.checkState), height + 1n, this.lastBlockTime);
    if (r.code !== 0) throw new AppError(new RegisteredError(r.codespace, r.code, ""), r.log);
    const msgData = TxMsgData.decode(r.data);
    return SimulateResponse.encode({
      gasInfo: { gasWanted: r.gasWanted, gasUsed: r.gasUsed },
      result: { data: new Uint8Array(), log: "", events: r.events, msgResponses: msgData.msgResponses },
    }).finish();
  }

  // ---------------------------------------------------------------------------
  // Transaction execution

  /**
   * Runs one transaction on `state` under a savepoint: what it writes is undone if it
   * fails. The ante handler's writes (sequence, fee) survive a failure of the messages in
   * deliver mode, as in the Cosmos SDK; at CheckTx only the ante handler runs, with each
   * Msg's stateful `check`, whose writes are always undone.
   */
  private runTx(mode: ExecMode, bytes: Uint8Array, state: CacheKV, height: bigint, time: bigint, blockGasLeft = -1n): TxOutcome {
    const events = new EventManager();
    let gas = new GasMeter(0n);
    let tx: DecodedTx | undefined;
    const outcome = (err: unknown, data: Uint8Array = new Uint8Array(), evs: Event[] = []): TxOutcome => {
      // Fields spelled out: V8 spreads a freshly built object slowly (microseconds per tx).
      const e = err === null ? OK : toAbciError(err);
      return { code: e.code, codespace: e.codespace, log: e.log, data, gasWanted: tx?.gasLimit ?? 0n, gasUsed: gas.consumed, events: evs };
    };
    try {
      tx = decodeTx(bytes, this.modules.manager, this.maxTxBytes, mode === "simulate");
      if (blockGasLeft >= 0n && tx.gasLimit > blockGasLeft) {
        throw ErrOutOfGas.wrap(`out of gas in location: block gas meter; block gas left ${blockGasLeft}, tx wants ${tx.gasLimit}`);
      }
    } catch (err) {
      return outcome(err);
    }
    if (mode === "check" && !this.proposalTxs.has(bytes)) this.proposalTxs.set(bytes, proposalTx(tx));
    gas = mode === "simulate" ? GasMeter.infinite() : new GasMeter(tx.gasLimit);
    const txMark = state.mark();
    try {
      const ctx = this.makeContext(state, mode, height, time, gas, events);
      ante(ctx, tx, this.modules.auth, this.modules.bank, { simulate: mode === "simulate", minGasPrices: this.minGasPrices });

      if (mode === "check" || mode === "recheck") {
        const probeMark = state.mark();
        const probe = this.makeContext(state, mode, height, time, gas, new EventManager());
        try {
          // A Msg's check sees what the tx's earlier Msgs would admit (e.g. their order count).
          for (const m of tx.msgs) {
            m.def.check?.(probe, m.msg);
            m.def.admit?.(probe, m.msg);
          }
        } finally {
          state.rollback(probeMark);
          state.release(probeMark);
        }
        for (const m of tx.msgs) m.def.admit?.(ctx, m.msg);
        return outcome(null, new Uint8Array(), events.events());
      }

      const anteEvents = events.length;
      const msgMark = state.mark();
      const responses: Any[] = [];
      try {
        tx.msgs.forEach((m, i) => {
          const module = m.typeUrl.split(".")[1] ?? "";
          events.emit("message", [
            ["action", m.typeUrl],
            ["sender", m.signer],
            ["module", module],
            ["msg_index", String(i)],
          ]);
          responses.push(Any.fromPartial({ typeUrl: `${m.typeUrl}Response`, value: m.def.handle(ctx, m.msg) }));
        });
      } catch (err) {
        // The messages' writes are undone; the ante handler's stay.
        state.rollback(msgMark);
        events.truncate(anteEvents);
        return outcome(err, new Uint8Array(), events.events());
      } finally {
        state.release(msgMark);
      }
      const data = TxMsgData.encode({ data: [], msgResponses: responses }).finish();
      return outcome(null, data, events.events());
    } catch (err) {
      state.rollback(txMark);
      return outcome(err);
    } finally {
      state.release(txMark);
    }
  }
}
