/**
 * Backstop's events, typed: fills, liquidations, pool payouts (deficits covered and
 * withdrawals paid), coverage and prices, parsed from ABCI events (typed events carry
 * each field as JSON), and a websocket stream of them block by block.
 *
 *   const stream = await streamEvents("ws://127.0.0.1:26657", (e) => console.log(e.kind, e.height, e));
 *   …
 *   stream.stop();
 */
import { WebSocket } from "ws";
import { Comet38Client, RpcClient } from "@cosmjs/tendermint-rpc";

export interface AbciEventLike {
  readonly type: string;
  readonly attributes: readonly { readonly key: string; readonly value: string }[];
}

export type BackstopEvent =
  | { kind: "fill"; orderId: bigint; owner: string; marketId: string; side: "buy" | "sell"; quantity: string; price: string; feeUusdc: bigint; maker: boolean; realizedPnlUusdc: bigint }
  | { kind: "liquidation"; marketId: string; owner: string; tier: string; quantity: string; price: string; feeUusdc: bigint; deficitUusdc: bigint }
  | { kind: "deficit_covered"; poolId: string; sourcePoolId: string; marketId: string; amountUusdc: bigint; unpaidUusdc: bigint }
  | { kind: "withdrawal_paid"; withdrawalId: bigint; owner: string; poolId: string; shares: bigint; amountUusdc: bigint }
  | { kind: "coverage"; poolId: string; requiredCapitalUusdc: bigint; cover2Uusdc: bigint; coverage: string }
  | { kind: "price"; ticker: string; price: string; previousPrice: string; sigma: string }
  | { kind: "adl"; marketId: string; bankruptOwner: string; counterparty: string; quantity: string; price: string; amountUusdc: bigint }
  | { kind: "pool_takeover"; poolId: string; marketId: string; owner: string; size: string; price: string; deficitUusdc: bigint };

const TIERS = ["UNSPECIFIED", "INCREMENTAL", "AUCTION", "POOL_TAKEOVER", "ADL"];

function attrs(e: AbciEventLike): Record<string, any> {
  const out: Record<string, any> = {};
  for (const a of e.attributes) {
    try {
      out[a.key] = JSON.parse(a.value);
    } catch {
      out[a.key] = a.value;
    }
  }
  return out;
}

const big = (v: unknown) => BigInt(String(v ?? "0"));

/** The Backstop events among a list of ABCI events, in order. */
export function parseEvents(events: readonly AbciEventLike[]): BackstopEvent[] {
  const out: BackstopEvent[] = [];
  for (const e of events) {
    const a = attrs(e);
    switch (e.type) {
      case "backstop.clearing.v1.EventFill":
        out.push({ kind: "fill", orderId: big(a.order_id), owner: a.owner, marketId: a.market_id, side: a.side === "SIDE_BUY" ? "buy" : "sell", quantity: a.quantity, price: a.price, feeUusdc: big(a.fee_uusdc), maker: a.maker === true, realizedPnlUusdc: big(a.realized_pnl_uusdc) });
        break;
      case "backstop.clearing.v1.EventLiquidation": {
        const l = a.liquidation ?? {};
        const tier = typeof l.tier === "string" ? l.tier.replace("LIQUIDATION_TIER_", "") : TIERS[Number(l.tier ?? 0)];
        out.push({ kind: "liquidation", marketId: l.market_id, owner: l.owner, tier: tier.toLowerCase(), quantity: l.quantity, price: l.price, feeUusdc: big(l.fee_uusdc), deficitUusdc: big(l.deficit_uusdc) });
        break;
      }
      case "backstop.clearing.v1.EventAdl": {
        const r = a.record ?? {};
        out.push({ kind: "adl", marketId: r.market_id, bankruptOwner: r.bankrupt_owner, counterparty: r.counterparty, quantity: r.quantity, price: r.price, amountUusdc: big(r.amount_uusdc) });
        break;
      }
      case "backstop.clearing.v1.EventPoolTakeover":
        out.push({ kind: "pool_takeover", poolId: a.pool_id, marketId: a.market_id, owner: a.owner, size: a.size, price: a.price, deficitUusdc: big(a.deficit_uusdc) });
        break;
      case "backstop.insurance.v1.EventDeficitCovered":
        out.push({ kind: "deficit_covered", poolId: a.pool_id, sourcePoolId: a.source_pool_id, marketId: a.market_id, amountUusdc: big(a.amount_uusdc), unpaidUusdc: big(a.unpaid_uusdc) });
        break;
      case "backstop.insurance.v1.EventWithdrawalPaid":
        out.push({ kind: "withdrawal_paid", withdrawalId: big(a.withdrawal_id), owner: a.owner, poolId: a.pool_id, shares: big(a.shares), amountUusdc: big(a.amount_uusdc) });
        break;
      case "backstop.insurance.v1.EventCoverage":
        out.push({ kind: "coverage", poolId: a.pool_id, requiredCapitalUusdc: big(a.required_capital_uusdc), cover2Uusdc: big(a.cover2_uusdc), coverage: a.coverage });
        break;
      case "backstop.oracle.v1.EventPriceUpdated":
        out.push({ kind: "price", ticker: a.ticker, price: a.price, previousPrice: a.previous_price, sigma: a.sigma });
        break;
    }
  }
  return out;
}

export interface EventStream {
  stop(): void;
}

const SUBSCRIPTION_ID = "backstop-events";
const SUBSCRIBE_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * CosmJS's RpcClient over HTTP, whose requests `disconnect()` aborts and which gives up on
 * one after `timeoutMs`. (CosmJS's HttpClient can do neither: a request in flight to a
 * node that stopped answering kept a stopped stream's process alive.)
 */
function abortableHttp(url: string, timeoutMs: number): RpcClient {
  const stopped = new AbortController();
  return {
    async execute(request) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
        signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(timeoutMs)]),
      });
      if (res.status >= 400) throw new Error(`${request.method}: HTTP ${res.status}`);
      const body = (await res.json()) as Awaited<ReturnType<RpcClient["execute"]>> & { error?: unknown };
      if (body.error) throw new Error(`${request.method}: ${JSON.stringify(body.error)}`);
      return body;
    },
    disconnect: () => stopped.abort(),
  };
}

/**
 * Streams every Backstop event as blocks are committed: subscribes to new block headers
 * over the websocket (`endpoint` is ws://host:26657; /websocket is added) and reads each
 * block's results (transactions and end-block events) over HTTP, in height order.
 *
 * A dropped connection (or one not subscribed within 10 s) is reported to `onError` and
 * reopened (after 0.1 s, doubling up to 5 s); the blocks committed meanwhile are read when
 * it is back, and a block whose results could not be read is read again with the next
 * header, so no event is missed or repeated. An exception thrown by `onEvent` goes to
 * `onError`. After `stop()` no event is delivered, every connection (even one still
 * opening) and request is closed, no timer is left, and the process can exit. A block
 * results request unanswered for 10 s counts as failed (read again with the next header).
 *
 * The websocket is `ws`'s rather than `Comet38Client`'s: the reconnecting socket of
 * CosmJS 0.39 opens a new connection even after a deliberate `disconnect()`, and cannot
 * abort one that is still connecting.
 */
export async function streamEvents(endpoint: string, onEvent: (e: BackstopEvent & { height: number }) => void, onError: (e: unknown) => void = () => {}): Promise<EventStream> {
  const base = endpoint.replace(/\/websocket\/?$/, "").replace(/\/$/, "");
  const comet = Comet38Client.create(abortableHttp(base.replace(/^ws/, "http"), REQUEST_TIMEOUT_MS));
  let stopped = false;
  let current: { socket: WebSocket; timer: ReturnType<typeof setTimeout> } | null = null; // the connection, or the attempt
  let retry: ReturnType<typeof setTimeout> | null = null;
  let attempt = 0;
  let next: number | undefined; // the next height whose events are due
  let queue = Promise.resolve();

  const close = (s: WebSocket) => {
    s.removeAllListeners();
    s.on("error", () => {}); // terminating a socket still connecting reports that
    s.terminate();
  };

  // Every block from `next` up to `height`, oldest first, one at a time.
  const catchUp = (height: number) => {
    queue = queue.then(async () => {
      next ??= height; // the first header: events from its block on
      let h: number = next;
      while (!stopped && h <= height) {
        let events: readonly AbciEventLike[];
        try {
          const r = await comet.blockResults(h);
          events = [...r.results.flatMap((t) => (t.code === 0 ? t.events : [])), ...r.finalizeBlockEvents];
        } catch (e) {
          if (!stopped) onError(e);
          return; // read again with the next header
        }
        if (stopped) return;
        next = h + 1;
        for (const e of parseEvents(events)) {
          try {
            onEvent({ ...e, height: h });
          } catch (err) {
            onError(err);
          }
        }
        h++;
      }
    });
  };

  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = new WebSocket(`${base}/websocket`);
      let subscribed = false;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        close(s);
        if (current?.socket === s) current = null;
        if (!subscribed) reject(e);
        else if (!stopped) {
          onError(e);
          reconnect();
        }
      };
      const timer = setTimeout(() => fail(new Error(`event stream: not subscribed within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`)), SUBSCRIBE_TIMEOUT_MS);
      current = { socket: s, timer };
      s.on("open", () => s.send(JSON.stringify({ jsonrpc: "2.0", id: SUBSCRIPTION_ID, method: "subscribe", params: { query: "tm.event='NewBlockHeader'" } })));
      s.on("message", (data) => {
        let msg: any;
        try {
          msg = JSON.parse(data.toString());
        } catch (e) {
          return onError(e);
        }
        if (!subscribed) {
          if (msg.id !== SUBSCRIPTION_ID) return;
          if (msg.error) return fail(new Error(`event stream: subscribe refused: ${msg.error.message ?? JSON.stringify(msg.error)}`));
          subscribed = true;
          attempt = 0;
          clearTimeout(timer);
          return resolve();
        }
        const height = Number(msg.result?.data?.value?.header?.height ?? 0);
        if (height > 0) catchUp(height);
      });
      s.on("error", (e) => fail(new Error(`event stream: ${e.message}`)));
      s.on("close", () => fail(new Error("event stream: the node closed the websocket")));
    });

  const reconnect = () => {
    retry = setTimeout(
      () => {
        retry = null;
        if (stopped) return;
        open().catch((e) => {
          if (stopped) return;
          onError(e);
          reconnect();
        });
      },
      Math.min(100 * 2 ** attempt++, 5_000),
    );
  };

  try {
    await open();
  } catch (e) {
    comet.disconnect();
    throw e;
  }
  return {
    stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      if (current) {
        clearTimeout(current.timer);
        close(current.socket);
        current = null;
      }
      comet.disconnect();
    },
  };
}
