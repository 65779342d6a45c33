/**
 * Backstop's events, typed: fills, liquidations, pool payouts (deficits covered and
 * withdrawals paid), coverage and prices, parsed from ABCI events (typed events carry
 * each field as JSON), and a websocket stream of them block by block.
 *
 *   const stream = await streamEvents("ws://127.0.0.1:26657", (e) => console.log(e.kind, e.height, e));
 *   …
 *   stream.stop();
 */
import { StreamingSocket } from "@cosmjs/socket";
import { Comet38Client } from "@cosmjs/tendermint-rpc";

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

/**
 * Streams every Backstop event as blocks are committed: subscribes to new block headers
 * over the websocket (`endpoint` is ws://host:26657; /websocket is added) and reads each
 * block's results (transactions and end-block events) over HTTP, in height order.
 *
 * A dropped connection is reported to `onError` and reopened (after 0.1 s, doubling up
 * to 5 s); the blocks committed meanwhile are read when it is back, so no event is
 * missed or repeated. `stop()` closes everything, and the process can exit.
 *
 * The websocket is CosmJS's `StreamingSocket` rather than `Comet38Client`'s, because the
 * latter's reconnecting socket (CosmJS 0.39) opens a new connection even after a
 * deliberate `disconnect()`, which keeps a process alive after `stop()`.
 */
export async function streamEvents(endpoint: string, onEvent: (e: BackstopEvent & { height: number }) => void, onError: (e: unknown) => void = () => {}): Promise<EventStream> {
  const base = endpoint.replace(/\/websocket\/?$/, "").replace(/\/$/, "");
  const comet = await Comet38Client.connect(base.replace(/^ws/, "http"));
  let stopped = false;
  let socket: StreamingSocket | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let attempt = 0;
  let delivered = 0; // the last height whose events went to onEvent
  let queue = Promise.resolve();

  // Blocks up to `height` not delivered yet, oldest first, one at a time.
  const catchUp = (height: number) => {
    queue = queue.then(async () => {
      for (let h = delivered === 0 ? height : delivered + 1; h <= height && !stopped; h++) {
        try {
          const r = await comet.blockResults(h);
          const events = [...r.results.flatMap((t) => (t.code === 0 ? t.events : [])), ...r.finalizeBlockEvents];
          delivered = h;
          for (const e of parseEvents(events)) onEvent({ ...e, height: h });
        } catch (e) {
          onError(e);
          return; // the next header tries again from here
        }
      }
    });
  };

  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = new StreamingSocket(`${base}/websocket`);
      socket = s;
      let subscribed = false;
      const lost = (e: unknown) => {
        if (!subscribed) return reject(e);
        if (stopped || socket !== s) return;
        onError(e);
        reconnect();
      };
      s.events.subscribe({
        next: (ev) => {
          let msg: any;
          try {
            msg = JSON.parse(String(ev.data));
          } catch (e) {
            return onError(e);
          }
          if (msg.id === SUBSCRIPTION_ID && !subscribed) {
            if (msg.error) return reject(new Error(`subscribe: ${msg.error.message ?? JSON.stringify(msg.error)}`));
            subscribed = true;
            attempt = 0;
            return resolve();
          }
          const height = Number(msg.result?.data?.value?.header?.height ?? 0);
          if (height > 0) catchUp(height);
        },
        error: (e) => lost(e instanceof Error ? e : new Error(`event stream: ${typeof e === "string" ? e : "socket error"}`)),
        complete: () => lost(new Error("event stream: the node closed the websocket")),
      });
      s.connect();
      s.connected.then(
        () => s.send(JSON.stringify({ jsonrpc: "2.0", id: SUBSCRIPTION_ID, method: "subscribe", params: { query: "tm.event='NewBlockHeader'" } })),
        reject,
      );
    });

  const reconnect = () => {
    socket?.disconnect();
    socket = null;
    retry = setTimeout(
      () => {
        retry = null;
        if (!stopped)
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
    (socket as StreamingSocket | null)?.disconnect(); // set by open()
    comet.disconnect();
    throw e;
  }
  return {
    stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      socket?.disconnect();
      socket = null;
      comet.disconnect();
    },
  };
}
