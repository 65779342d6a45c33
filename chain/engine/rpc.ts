/**
 * CometBFT 0.38-compatible JSON-RPC: over HTTP POST (single and batch), HTTP GET with
 * URI parameters, and a websocket at /websocket with subscribe/unsubscribe. Responses
 * follow CometBFT's wire format so that unmodified CosmJS (`Comet38Client`,
 * `StargateClient`) works against it. Prometheus metrics are served at /metrics.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { URL } from "node:url";
import { createFront, Front, HttpReply, JSON_HEADERS, Peer, startFrontWorker } from "./rpcfront";
import { Engine, DuplicateTxError, jsonTxResult } from "./engine";
import { StoredBlock, StoredResults, StoredTx } from "./blockstore";
import { Condition, eventMap, matches, parseQuery, QueryError } from "./query";
import { MempoolFullError, txHash } from "./mempool";

/** The heights a query's `tx.height` conditions allow, within 1..latest (null: none bound them). */
export function heightRange(conds: readonly Condition[], latest: number): { lo: number; hi: number } | null {
  let lo = 1;
  let hi = latest;
  let bound = false;
  for (const c of conds) {
    if (c.key !== "tx.height" || c.value === null || !/^\d+$/.test(c.value)) continue;
    const v = Number(c.value);
    if (c.op === "=") {
      lo = Math.max(lo, v);
      hi = Math.min(hi, v);
    } else if (c.op === ">") lo = Math.max(lo, v + 1);
    else if (c.op === ">=") lo = Math.max(lo, v);
    else if (c.op === "<") hi = Math.min(hi, v - 1);
    else if (c.op === "<=") hi = Math.min(hi, v);
    else continue;
    bound = true;
  }
  return bound ? { lo, hi } : null;
}
import { Logger } from "./log";
import { pubkeyAddress, rememberVerified } from "../crypto/keys";
import { BaseAccount } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { PubKey } from "cosmjs-types/cosmos/crypto/secp256k1/keys";
import { QueryAccountRequest, QueryAccountResponse } from "cosmjs-types/cosmos/auth/v1beta1/query";

export const COMET_VERSION = "0.38.17";
const MAX_BODY = 8 * 1024 * 1024;

/**
 * CometBFT's limits on event subscriptions ([rpc] in its config.toml), with its defaults:
 * without them any number of websocket clients could each hold any number of
 * subscriptions, and every block's events would be matched against all of them.
 */
export interface RpcLimits {
  /** Websocket connections that may hold subscriptions at once (max_subscription_clients). */
  readonly maxSubscriptionClients?: number;
  /** Subscriptions one websocket connection may hold (max_subscriptions_per_client). */
  readonly maxSubscriptionsPerClient?: number;
}
export const DEFAULT_MAX_SUBSCRIPTION_CLIENTS = 100;
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT = 5;
/** The longest event query `subscribe` takes, as in CometBFT (rpc/core/events.go). */
const MAX_QUERY_LENGTH = 512;

/** The limits with CometBFT's defaults filled in; throws if one is not a whole number ≥ 0. */
export function rpcLimits(l: RpcLimits = {}): Required<RpcLimits> {
  const limit = (name: string, v: number | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a whole number ≥ 0, got ${v}`);
    return v;
  };
  return {
    maxSubscriptionClients: limit("max_subscription_clients", l.maxSubscriptionClients, DEFAULT_MAX_SUBSCRIPTION_CLIENTS),
    maxSubscriptionsPerClient: limit("max_subscriptions_per_client", l.maxSubscriptionsPerClient, DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT),
  };
}

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: string,
  ) {
    super(message);
  }
}

const invalidParams = (data: string) => new RpcError(-32602, "Invalid params", data);
const internal = (data: string) => new RpcError(-32603, "Internal error", data);

type Params = Record<string, unknown>;

function str(p: Params, k: string, required = false): string | undefined {
  const v = p[k];
  if (v === undefined || v === null || v === "") {
    if (required) throw invalidParams(`missing parameter ${k}`);
    return undefined;
  }
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") throw invalidParams(`parameter ${k} must be a string`);
  return v;
}

function int(p: Params, k: string): number | undefined {
  const v = str(p, k);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidParams(`parameter ${k} must be an integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** Bytes given as base64 (JSON-RPC) or 0x-hex (URI). */
function bytes(p: Params, k: string): Buffer {
  const v = str(p, k, true)!;
  if (/^0x[0-9a-fA-F]*$/.test(v)) return Buffer.from(v.slice(2), "hex");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw invalidParams(`parameter ${k} must be base64 or 0x-prefixed hex`);
  return Buffer.from(v, "base64");
}

function hashParam(p: Params, k: string): Buffer {
  const v = str(p, k, true)!;
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v.replace(/^0x/, ""), "hex");
  const b = bytes(p, k);
  if (b.length !== 32) throw invalidParams(`parameter ${k} must be a 32-byte hash`);
  return b;
}

interface Subscription {
  readonly id: unknown;
  readonly query: string;
  readonly conds: Condition[];
  readonly kind: "NewBlock" | "NewBlockHeader" | "Tx" | "other";
}

function reply(status: number, body: unknown, type = "application/json"): HttpReply {
  const headers = type === "application/json" ? JSON_HEADERS : { ...JSON_HEADERS, "content-type": type };
  return { status, headers, body: typeof body === "string" ? body : JSON.stringify(body) };
}

export class RpcServer {
  private front: Front | null = null;
  /**
   * The websocket connections that hold subscriptions, and theirs: a connection is here
   * only while it holds at least one, so the map's size is the number of subscription
   * clients as CometBFT counts them (its event bus's subscribers).
   */
  private readonly subs = new Map<Peer, Subscription[]>();
  private readonly commitWaiters = new Map<string, ((t: StoredTx) => void)[]>();
  private readonly limits: Required<RpcLimits>;

  constructor(
    private readonly engine: Engine,
    private readonly log: Logger,
    limits: RpcLimits = {},
  ) {
    this.limits = rpcLimits(limits);
    engine.on("block", (b: StoredBlock, r: StoredResults) => this.publishBlock(b, r));
    engine.on("tx", (t: StoredTx) => this.publishTx(t));
  }

  /**
   * Starts serving. The transport (rpcfront.ts) runs on a worker thread when its compiled
   * module is there to load (a built node), else on this thread.
   */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const handlers = {
      request: (method: string, url: string, body: string | null) => this.respond(method, url, body),
      preverified: rememberVerified,
      wsOpen: () => {}, // a connection counts once it subscribes
      wsMessage: (peer: Peer, text: string) => {
        this.handleWsText(peer, text).then((out) => {
          if (out !== undefined && peer.open) peer.send(JSON.stringify(out));
        });
      },
      wsGone: (peer: Peer) => this.subs.delete(peer),
    };
    const file = join(__dirname, "rpcfront.js");
    this.front =
      !existsSync(file)
        ? createFront(MAX_BODY, handlers)
        : startFrontWorker(file, MAX_BODY, handlers, (e) => this.log.error("rpc transport thread failed", { error: e.stack ?? e.message }), this.engine.chainId);
    return this.front.listen(host, port);
  }

  close(): Promise<void> {
    this.subs.clear();
    return this.front ? this.front.close() : Promise.resolve();
  }

  // ---------------------------------------------------------------------------
  // Requests

  /** One HTTP request: JSON-RPC in a POST body, a URI request in a GET, /metrics. */
  private async respond(method: string, rawUrl: string, body: string | null): Promise<HttpReply> {
    if (method === "OPTIONS") {
      return { status: 204, headers: { "access-control-allow-origin": "*", "access-control-allow-headers": "content-type", "access-control-allow-methods": "GET, POST" }, body: "" };
    }
    if (method === "GET") {
      const url = new URL(rawUrl, "http://localhost");
      if (url.pathname === "/metrics") return reply(200, this.metrics(), "text/plain; version=0.0.4");
      const name = url.pathname.replace(/^\//, "");
      if (name === "") return reply(200, { jsonrpc: "2.0", id: -1, result: { methods: Object.keys(this.methods) } });
      const params: Params = {};
      for (const [k, v] of url.searchParams) params[k] = v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
      try {
        return reply(200, { jsonrpc: "2.0", id: -1, result: await this.call(name, params) });
      } catch (err) {
        return reply(rpcStatus(err), { jsonrpc: "2.0", id: -1, error: toRpcError(err) });
      }
    }
    if (method !== "POST") return reply(405, { jsonrpc: "2.0", id: -1, error: { code: -32600, message: "Invalid Request", data: "use GET or POST" } });
    return reply(200, await this.handleText(body ?? ""));
  }

  private async handleText(text: string): Promise<unknown> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return { jsonrpc: "2.0", id: -1, error: { code: -32700, message: "Parse error. Invalid JSON", data: String(e instanceof Error ? e.message : e) } };
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) return { jsonrpc: "2.0", id: -1, error: { code: -32600, message: "Invalid Request", data: "empty batch" } };
      return Promise.all(parsed.map((r) => this.handleOne(r)));
    }
    return this.handleOne(parsed);
  }

  private async handleOne(r: unknown, ws?: Peer): Promise<unknown> {
    if (typeof r !== "object" || r === null || (r as { jsonrpc?: unknown }).jsonrpc !== "2.0" || typeof (r as { method?: unknown }).method !== "string") {
      return { jsonrpc: "2.0", id: (r as { id?: unknown })?.id ?? -1, error: { code: -32600, message: "Invalid Request", data: "expected a JSON-RPC 2.0 request object" } };
    }
    const { id, method, params } = r as { id: unknown; method: string; params?: unknown };
    const p: Params = params && typeof params === "object" && !Array.isArray(params) ? (params as Params) : {};
    try {
      const result = ws ? await this.callWs(ws, id, method, p) : await this.call(method, p);
      return { jsonrpc: "2.0", id, result };
    } catch (err) {
      return { jsonrpc: "2.0", id, error: toRpcError(err) };
    }
  }

  private async handleWsText(ws: Peer, text: string): Promise<unknown> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return { jsonrpc: "2.0", id: -1, error: { code: -32700, message: "Parse error. Invalid JSON", data: String(e) } };
    }
    return this.handleOne(parsed, ws);
  }

  private async callWs(ws: Peer, id: unknown, method: string, p: Params): Promise<unknown> {
    if (method === "subscribe") {
      const query = str(p, "query", true)!;
      const list = this.subs.get(ws);
      // Checked first, in CometBFT's order and words (rpc/core/events.go); refusals are
      // JSON-RPC internal errors (-32603) there too, since Subscribe returns a plain error.
      // A connection that already subscribes is not a new client: it is held to its own limit.
      const { maxSubscriptionClients, maxSubscriptionsPerClient } = this.limits;
      if (!list && this.subs.size >= maxSubscriptionClients) throw internal(`max_subscription_clients ${maxSubscriptionClients} reached`);
      if ((list?.length ?? 0) >= maxSubscriptionsPerClient) throw internal(`max_subscriptions_per_client ${maxSubscriptionsPerClient} reached`);
      if (query.length > MAX_QUERY_LENGTH) throw internal("maximum query length exceeded");
      let conds: Condition[];
      try {
        conds = parseQuery(query);
      } catch (e) {
        throw invalidParams(`failed to parse query: ${(e as Error).message}`);
      }
      const ev = conds.find((c) => c.key === "tm.event" && c.op === "=");
      const kind = ev?.value === "NewBlock" ? "NewBlock" : ev?.value === "NewBlockHeader" ? "NewBlockHeader" : ev?.value === "Tx" ? "Tx" : "other";
      if (list?.some((s) => s.query === query)) throw internal("already subscribed");
      // A connection that closed while its request was on the way would hold its slot for good.
      if (!ws.open) throw internal("connection closed");
      if (list) list.push({ id, query, conds, kind });
      else this.subs.set(ws, [{ id, query, conds, kind }]);
      return {};
    }
    if (method === "unsubscribe") {
      const query = str(p, "query", true)!;
      const list = this.subs.get(ws) ?? [];
      const i = list.findIndex((s) => s.query === query);
      if (i < 0) throw internal("subscription not found");
      list.splice(i, 1);
      if (list.length === 0) this.subs.delete(ws); // frees its client slot
      return {};
    }
    if (method === "unsubscribe_all") {
      this.subs.delete(ws);
      return {};
    }
    return this.call(method, p);
  }

  private publishBlock(b: StoredBlock, r: StoredResults): void {
    if (this.subs.size === 0) return;
    const events = eventMap(r.finalize_block_events, { "tm.event": "NewBlock", "block.height": b.block.header.height });
    for (const [ws, list] of this.subs) {
      for (const s of list) {
        if (s.kind === "NewBlock" && matches(s.conds, events)) {
          this.push(ws, s, { type: "tendermint/event/NewBlock", value: { block: b.block, block_id: b.block_id, result_finalize_block: this.finalizeResult(r) } }, events);
        } else if (s.kind === "NewBlockHeader" && matches(s.conds, new Map([...events, ["tm.event", ["NewBlockHeader"]]]))) {
          this.push(ws, s, { type: "tendermint/event/NewBlockHeader", value: { header: b.block.header } }, events);
        }
      }
    }
  }

  private publishTx(t: StoredTx): void {
    const waiters = this.commitWaiters.get(t.hash);
    if (waiters) {
      this.commitWaiters.delete(t.hash);
      for (const w of waiters) w(t);
    }
    if (this.subs.size === 0) return;
    const events = eventMap(t.tx_result.events, { "tm.event": "Tx", "tx.hash": t.hash, "tx.height": t.height });
    for (const [ws, list] of this.subs) {
      for (const s of list) {
        if (s.kind === "Tx" && matches(s.conds, events)) {
          this.push(ws, s, { type: "tendermint/event/Tx", value: { TxResult: { height: t.height, index: t.index, tx: t.tx, result: t.tx_result } } }, events);
        }
      }
    }
  }

  private push(ws: Peer, s: Subscription, data: unknown, events: Map<string, string[]>): void {
    if (!ws.open) return;
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: s.id, result: { query: s.query, data, events: Object.fromEntries(events) } }));
  }

  private metrics(): string {
    const m = this.engine.metrics();
    return [
      "# HELP backstop_height Latest committed block height.",
      "# TYPE backstop_height gauge",
      `backstop_height ${m.height}`,
      "# HELP backstop_block_duration_ms Time to produce, execute and commit the latest block.",
      "# TYPE backstop_block_duration_ms gauge",
      `backstop_block_duration_ms ${m.lastBlockMs.toFixed(3)}`,
      "# HELP backstop_txs_total Transactions included in blocks since start.",
      "# TYPE backstop_txs_total counter",
      `backstop_txs_total ${m.txsTotal}`,
      "# HELP backstop_mempool_size Transactions in the mempool.",
      "# TYPE backstop_mempool_size gauge",
      `backstop_mempool_size ${m.mempoolSize}`,
      "# HELP backstop_rpc_commit_waiters broadcast_tx_commit calls waiting for their tx's block.",
      "# TYPE backstop_rpc_commit_waiters gauge",
      `backstop_rpc_commit_waiters ${[...this.commitWaiters.values()].reduce((n, l) => n + l.length, 0)}`,
      "",
    ].join("\n");
  }

  // ---------------------------------------------------------------------------
  // Methods

  private call(method: string, p: Params): Promise<unknown> {
    const f = this.methods[method];
    if (!f) return Promise.reject(new RpcError(-32601, "Method not found", `unknown method ${method}`));
    try {
      return Promise.resolve(f(p));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private finalizeResult(r: StoredResults) {
    return {
      txs_results: r.txs_results,
      events: r.finalize_block_events,
      validator_updates: r.validator_updates,
      consensus_param_updates: r.consensus_param_updates,
      app_hash: Buffer.from(r.app_hash, "hex").toString("base64"),
    };
  }

  private heightParam(p: Params): number {
    const latest = this.engine.height();
    const h = int(p, "height") ?? latest;
    if (h <= 0) throw invalidParams(`height must be greater than 0, but got ${h}`);
    if (h > latest) throw invalidParams(`height ${h} must be less than or equal to the current blockchain height ${latest}`);
    return h;
  }

  private validatorJson() {
    const v = this.engine.validator;
    return { address: v.address, pub_key: { type: "tendermint/PubKeyEd25519", value: v.pubkey.toString("base64") }, voting_power: "10", proposer_priority: "0" };
  }

  private txJson(t: StoredTx) {
    return { hash: t.hash, height: t.height, index: t.index, tx_result: t.tx_result, tx: t.tx };
  }

  private readonly methods: Record<string, (p: Params) => unknown> = {
    health: () => ({}),

    status: () => {
      const h = this.engine.height();
      const latest = h > 0 ? this.engine.store.block(h) : undefined;
      const first = h > 0 ? this.engine.store.block(1) : undefined;
      return {
        node_info: {
          protocol_version: { p2p: "8", block: "11", app: "1" },
          id: this.engine.validator.address.toLowerCase(),
          listen_addr: "tcp://127.0.0.1:26656",
          network: this.engine.chainId,
          version: COMET_VERSION,
          channels: "40202122233038606100",
          moniker: "backstop",
          other: { tx_index: "on", rpc_address: "" },
        },
        sync_info: {
          latest_block_hash: latest?.block_id.hash ?? "",
          latest_app_hash: this.engine.latestAppHash() || "",
          latest_block_height: String(h),
          latest_block_time: latest?.block.header.time ?? this.engine.genesis.genesis_time,
          earliest_block_hash: first?.block_id.hash ?? "",
          earliest_app_hash: first?.block.header.app_hash ?? "",
          earliest_block_height: first ? "1" : "0",
          earliest_block_time: first?.block.header.time ?? this.engine.genesis.genesis_time,
          catching_up: false,
        },
        validator_info: this.validatorJson(),
      };
    },

    net_info: () => ({ listening: true, listeners: ["Listener(@)"], n_peers: "0", peers: [] }),

    genesis: () => ({ genesis: this.engine.genesis }),

    abci_info: () => {
      const r = this.engine.app.info({ version: COMET_VERSION, blockVersion: 11n, p2pVersion: 8n, abciVersion: "2.0.0" });
      return {
        response: {
          data: r.data,
          version: r.version,
          app_version: r.appVersion.toString(),
          last_block_height: r.lastBlockHeight.toString(),
          last_block_app_hash: Buffer.from(r.lastBlockAppHash).toString("base64"),
        },
      };
    },

    abci_query: (p) => {
      const path = str(p, "path", true)!;
      const dataHex = str(p, "data") ?? "";
      if (!/^(0x)?[0-9a-fA-F]*$/.test(dataHex) || dataHex.replace(/^0x/, "").length % 2 !== 0) throw invalidParams("data must be hex");
      const height = int(p, "height") ?? 0;
      const r = this.engine.app.query({ path, data: Buffer.from(dataHex.replace(/^0x/, ""), "hex"), height: BigInt(height), prove: p.prove === true || p.prove === "true" });
      return {
        response: {
          code: r.code,
          log: r.log,
          info: r.info,
          index: r.index.toString(),
          key: Buffer.from(r.key).toString("base64"),
          value: Buffer.from(r.value).toString("base64"),
          proofOps: null,
          height: r.height.toString(),
          codespace: r.codespace,
        },
      };
    },

    broadcast_tx_async: (p) => {
      const tx = bytes(p, "tx");
      const hash = txHash(tx);
      setImmediate(() => {
        try {
          this.engine.checkAndAdd(tx);
        } catch {
          /* async: the result is not reported */
        }
      });
      return { code: 0, data: "", log: "", codespace: "", hash };
    },

    broadcast_tx_sync: (p) => {
      const { hash, result } = this.checkAndAdd(bytes(p, "tx"));
      return { code: result.code, data: result.data ?? "", log: result.log, codespace: result.codespace, hash };
    },

    broadcast_tx_commit: async (p) => {
      const tx = bytes(p, "tx");
      const hash = txHash(tx);
      // The waiter is registered before CheckTx and removed however the call ends (refused,
      // thrown, timed out or committed), without touching other callers' waiters for the
      // same tx.
      let waiter!: (t: StoredTx) => void;
      let timer: NodeJS.Timeout | undefined;
      const committed = new Promise<StoredTx | null>((resolve) => {
        waiter = resolve;
        timer = setTimeout(() => resolve(null), 30_000);
      });
      this.commitWaiters.set(hash, [...(this.commitWaiters.get(hash) ?? []), waiter]);
      try {
        const { result } = this.checkAndAdd(tx);
        if (result.code !== 0) {
          return { check_tx: result, tx_result: jsonTxResult({ code: 0, data: new Uint8Array(), log: "", info: "", gasWanted: 0n, gasUsed: 0n, events: [], codespace: "" }), hash, height: "0" };
        }
        const t = await committed;
        if (!t) throw internal("timed out waiting for tx to be included in a block");
        return { check_tx: result, tx_result: t.tx_result, hash, height: t.height };
      } finally {
        clearTimeout(timer);
        const rest = (this.commitWaiters.get(hash) ?? []).filter((w) => w !== waiter);
        if (rest.length > 0) this.commitWaiters.set(hash, rest);
        else this.commitWaiters.delete(hash);
      }
    },

    check_tx: (p) => this.engine.checkOnly(bytes(p, "tx")),

    num_unconfirmed_txs: () => ({
      n_txs: String(this.engine.mempool.size),
      total: String(this.engine.mempool.size),
      total_bytes: String(this.engine.mempool.totalBytes),
      txs: null,
    }),

    unconfirmed_txs: (p) => {
      const limit = Math.min(Math.max(int(p, "limit") ?? 30, 1), 100);
      const list = this.engine.mempool.list(limit);
      return {
        n_txs: String(list.length),
        total: String(this.engine.mempool.size),
        total_bytes: String(this.engine.mempool.totalBytes),
        txs: list.map((t) => Buffer.from(t.tx).toString("base64")),
      };
    },

    block: (p) => {
      const b = this.engine.store.block(this.heightParam(p))!;
      return { block_id: b.block_id, block: b.block };
    },

    block_by_hash: (p) => {
      const hash = hashParam(p, "hash").toString("hex").toUpperCase();
      const h = this.engine.store.heightByHash(hash);
      if (h === undefined || h > this.engine.height()) return { block_id: { hash: "", parts: { total: 0, hash: "" } }, block: null };
      const b = this.engine.store.block(h)!;
      return { block_id: b.block_id, block: b.block };
    },

    block_results: (p) => {
      const r = this.engine.store.blockResults(this.heightParam(p))!;
      return {
        height: r.height,
        txs_results: r.txs_results,
        finalize_block_events: r.finalize_block_events,
        validator_updates: r.validator_updates,
        consensus_param_updates: r.consensus_param_updates,
        app_hash: Buffer.from(r.app_hash, "hex").toString("base64"),
      };
    },

    blockchain: (p) => {
      const latest = this.engine.height();
      let max = int(p, "maxHeight") ?? latest;
      let min = int(p, "minHeight") ?? 1;
      if (max > latest || max <= 0) max = latest;
      if (min < 1) min = 1;
      if (min > max) throw invalidParams(`min height ${min} can't be greater than max height ${max}`);
      min = Math.max(min, max - 19);
      const metas = [];
      for (let h = max; h >= min; h--) {
        const b = this.engine.store.block(h)!;
        metas.push({ block_id: b.block_id, block_size: String(JSON.stringify(b.block).length), header: b.block.header, num_txs: String(b.block.data.txs.length) });
      }
      return { last_height: String(latest), block_metas: metas };
    },

    commit: (p) => {
      const h = this.heightParam(p);
      const b = this.engine.store.block(h)!;
      const r = this.engine.store.blockResults(h)!;
      return { signed_header: { header: b.block.header, commit: r.commit }, canonical: true };
    },

    validators: (p) => {
      const h = this.heightParam(p);
      return { block_height: String(h), validators: [this.validatorJson()], count: "1", total: "1" };
    },

    consensus_params: (p) => ({ block_height: String(this.heightParam(p)), consensus_params: this.engine.genesis.consensus_params }),

    tx: (p) => {
      const hash = hashParam(p, "hash");
      const t = this.engine.store.tx(hash);
      if (!t || Number(t.height) > this.engine.height()) throw internal(`tx (${hash.toString("hex").toUpperCase()}) not found`);
      return this.txJson(t);
    },

    tx_search: (p) => {
      const q = str(p, "query", true)!;
      let conds: Condition[];
      try {
        conds = parseQuery(q);
      } catch (e) {
        throw invalidParams(`failed to parse query: ${(e as Error).message}`);
      }
      const perPage = Math.min(Math.max(int(p, "per_page") ?? 30, 1), 100);
      const page = int(p, "page") ?? 1;
      const order = str(p, "order_by") ?? "asc";
      if (order !== "asc" && order !== "desc") throw invalidParams(`order_by must be "asc" or "desc"`);
      if (page < 1) throw invalidParams(`page should be within [1, ...] range, given ${page}`);
      const eq = conds.find((c) => c.op === "=" && c.key !== "tm.event");
      const latest = this.engine.height();
      // An indexed equality narrows the search, and bounds on tx.height narrow the index's
      // range (its keys end with the height): only the txs in range are read.
      const heights = heightRange(conds, latest) ?? undefined;
      const source = eq ? this.engine.store.txsByIndex(eq.key, eq.value!, order === "desc", heights) : this.engine.store.allTxs(order === "desc", heights);
      const found: StoredTx[] = [];
      const seen = new Set<string>();
      for (const hash of source) {
        const hex = hash.toString("hex");
        if (seen.has(hex)) continue;
        seen.add(hex);
        const t = this.engine.store.tx(hash);
        if (!t || Number(t.height) > latest) continue;
        const events = eventMap(t.tx_result.events, { "tm.event": "Tx", "tx.hash": t.hash, "tx.height": t.height });
        if (matches(conds, events)) found.push(t);
        if (found.length > 10_000) break;
      }
      const total = found.length;
      const pages = Math.max(1, Math.ceil(total / perPage)); // determinism-ok: RPC paging
      if (page > pages) throw invalidParams(`page should be within [1, ${pages}] range, given ${page}`);
      return { txs: found.slice((page - 1) * perPage, page * perPage).map((t) => this.txJson(t)), total_count: String(total) };
    },
  };

  private checkAndAdd(tx: Buffer) {
    if (tx.length === 0) throw invalidParams("tx is empty");
    let out: ReturnType<Engine["checkAndAdd"]>;
    try {
      out = this.engine.checkAndAdd(tx);
    } catch (e) {
      if (e instanceof DuplicateTxError || e instanceof MempoolFullError || e instanceof RangeError) throw internal(e.message);
      throw e;
    }
    if (out.result.code === 0 && out.sender) this.announce(out.sender);
    return out;
  }

  /** Senders whose account number the transport's signature pre-check has been told (bounded). */
  private readonly announced = new Set<string>();

  /** Tells the transport a sender's account number, once, after its first accepted tx. */
  private announce(sender: string): void {
    const learn = this.front?.learnAccount;
    if (!learn || this.announced.has(sender)) return;
    const address = pubkeyAddress(PubKey.decode(Buffer.from(sender, "hex")).key); // the mempool's sender: an encoded PubKey
    const q = this.engine.app.query({ path: "/cosmos.auth.v1beta1.Query/Account", data: QueryAccountRequest.encode({ address }).finish(), height: 0n, prove: false });
    if (q.code !== 0) return;
    const any = QueryAccountResponse.decode(q.value).account;
    if (any?.typeUrl !== "/cosmos.auth.v1beta1.BaseAccount") return;
    if (this.announced.size >= 200_000) this.announced.clear();
    this.announced.add(sender);
    learn(address, BaseAccount.decode(any.value).accountNumber);
  }
}

function toRpcError(err: unknown): { code: number; message: string; data: string } {
  if (err instanceof RpcError) return { code: err.code, message: err.message, data: err.data ?? "" };
  if (err instanceof QueryError) return { code: -32602, message: "Invalid params", data: err.message };
  return { code: -32603, message: "Internal error", data: err instanceof Error ? err.message : String(err) };
}

function rpcStatus(err: unknown): number {
  if (err instanceof RpcError && err.code === -32601) return 404;
  return 500;
}
