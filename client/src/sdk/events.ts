/**
 * Backstop's events, typed: fills, liquidations, pool payouts (deficits covered and
 * withdrawals paid), coverage and prices, parsed from ABCI events (typed events carry
 * each field as JSON), and a websocket stream of them block by block.
 *
 *   const stream = await streamEvents("ws://127.0.0.1:26657", (e) => console.log(e.kind, e.height, e));
 *   …
 *   stream.stop();
 */
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

/**
 * Streams every Backstop event as blocks are committed: subscribes to new block
 * headers over the websocket and reads each block's results (transactions and
 * end-block events) in height order. `endpoint` is ws://host:26657 (CosmJS adds /websocket).
 */
export async function streamEvents(endpoint: string, onEvent: (e: BackstopEvent & { height: number }) => void, onError: (e: unknown) => void = () => {}): Promise<EventStream> {
  const comet = await Comet38Client.connect(endpoint);
  let queue = Promise.resolve();
  const sub = comet.subscribeNewBlockHeader().subscribe({
    next: (h) => {
      queue = queue.then(async () => {
        try {
          const r = await comet.blockResults(h.height);
          const events = [...r.results.flatMap((t) => (t.code === 0 ? t.events : [])), ...r.finalizeBlockEvents];
          for (const e of parseEvents(events)) onEvent({ ...e, height: h.height });
        } catch (e) {
          onError(e);
        }
      });
    },
    error: onError,
    complete: () => {},
  });
  return {
    stop() {
      sub.unsubscribe();
      comet.disconnect();
    },
  };
}
