/**
 * The uniform-price batch auction of SPEC §3.4, as a store-free pure function.
 *
 * Every live order of a market takes part in one call auction per block. The
 * clearing price p* is chosen among the candidate prices inside the oracle band:
 *   1. it maximises the matched quantity min(D(p), S(p)), where D(p) is the buy
 *      quantity with limit ≥ p and S(p) the sell quantity with limit ≤ p;
 *   2. ties go to the smallest imbalance |D(p) − S(p)|;
 *   3. then to the price closest to the oracle price; then to the lower price.
 * Volume and imbalance are constant between consecutive limit prices, so the
 * candidates are the limit prices inside the band, the band's edges and the oracle
 * price itself: the closest-to-oracle point of the best set is always among them.
 *
 * Allocation: the short side fills completely; the long side is filled in price
 * priority (orders better than p* before orders at p*) and then time priority
 * (ascending order id: earlier block, then earlier in the block). When p* sits at the
 * marginal order's limit — the usual case — that is exactly "orders better than the
 * clearing price fill fully; at the clearing price, fill in time priority".
 * Nobody trades at a price worse than their limit.
 */
import { Dec } from "../../../math/decimal";

export type Side = "buy" | "sell";

export interface AuctionOrder {
  /** Global order id: ascending ids are time priority. */
  readonly id: bigint;
  readonly side: Side;
  /** Limit price (USD per unit). */
  readonly price: Dec;
  /** Remaining quantity (> 0). */
  readonly quantity: Dec;
}

export interface AuctionParams {
  readonly oraclePrice: Dec;
  /** Max |p − oracle| / oracle (e.g. 0.05). */
  readonly band: Dec;
}

export interface Fill {
  readonly id: bigint;
  readonly side: Side;
  readonly quantity: Dec;
}

export type AuctionResult =
  | { readonly cleared: false; readonly reason: "no_orders" | "no_cross" | "outside_band" }
  | {
      readonly cleared: true;
      readonly price: Dec;
      readonly volume: Dec;
      /** Total buy and sell quantity willing at p* (D and S). */
      readonly demand: Dec;
      readonly supply: Dec;
      /** Fills in order-id order. */
      readonly fills: readonly Fill[];
    };

/** D(p) and S(p) at every candidate price, by binary search over prefix sums. */
class Curves {
  private readonly buyPrices: Dec[]; // descending
  private readonly buyCum: bigint[]; // cumulative raw quantity
  private readonly sellPrices: Dec[]; // ascending
  private readonly sellCum: bigint[];

  constructor(orders: readonly AuctionOrder[]) {
    const buys = orders.filter((o) => o.side === "buy").sort((a, b) => b.price.cmp(a.price));
    const sells = orders.filter((o) => o.side === "sell").sort((a, b) => a.price.cmp(b.price));
    this.buyPrices = buys.map((o) => o.price);
    this.sellPrices = sells.map((o) => o.price);
    let c = 0n;
    this.buyCum = buys.map((o) => (c += o.quantity.raw));
    c = 0n;
    this.sellCum = sells.map((o) => (c += o.quantity.raw));
  }

  /** Σ buy quantity with limit ≥ p (raw). */
  demand(p: Dec): bigint {
    // number of buys with price ≥ p (prices descending)
    let lo = 0;
    let hi = this.buyPrices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buyPrices[mid].gte(p)) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0n : this.buyCum[lo - 1];
  }

  /** Σ sell quantity with limit ≤ p (raw). */
  supply(p: Dec): bigint {
    let lo = 0;
    let hi = this.sellPrices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sellPrices[mid].lte(p)) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0n : this.sellCum[lo - 1];
  }
}

/**
 * The orders an auction can fill: the bids at or above the best ask and the asks at or
 * below the best bid (none if the book does not cross). Every price with volume lies in
 * [best ask, best bid], where the demand and supply of these orders are those of the whole
 * book, so `runAuction` over them clears as over the whole book (the property test in
 * auction.spec.ts checks it); the clearing keeper reads just these from its price index.
 */
export function crossing(orders: readonly AuctionOrder[]): AuctionOrder[] {
  let bid: Dec | null = null;
  let ask: Dec | null = null;
  for (const o of orders) {
    if (o.side === "buy" && (bid === null || o.price.gt(bid))) bid = o.price;
    if (o.side === "sell" && (ask === null || o.price.lt(ask))) ask = o.price;
  }
  if (bid === null || ask === null || bid.lt(ask)) return [];
  return orders.filter((o) => (o.side === "buy" ? o.price.gte(ask!) : o.price.lte(bid!)));
}

/** The band [oracle·(1 − band), oracle·(1 + band)], rounded inwards. */
export function bandLimits(p: AuctionParams): { lo: Dec; hi: Dec } {
  return {
    lo: p.oraclePrice.mul(Dec.ONE.sub(p.band), "ceil"),
    hi: p.oraclePrice.mul(Dec.ONE.add(p.band), "floor"),
  };
}

export function runAuction(orders: readonly AuctionOrder[], params: AuctionParams): AuctionResult {
  if (orders.length === 0) return { cleared: false, reason: "no_orders" };
  const curves = new Curves(orders);
  const { lo, hi } = bandLimits(params);

  // Does the book cross at all (anywhere)?
  let crossesAnywhere = false;
  const candidates: Dec[] = [lo, hi];
  if (params.oraclePrice.gte(lo) && params.oraclePrice.lte(hi)) candidates.push(params.oraclePrice);
  for (const o of orders) {
    if (!crossesAnywhere) {
      const v = curves.demand(o.price) < curves.supply(o.price) ? curves.demand(o.price) : curves.supply(o.price);
      if (v > 0n) crossesAnywhere = true;
    }
    if (o.price.gte(lo) && o.price.lte(hi)) candidates.push(o.price);
  }
  if (!crossesAnywhere) return { cleared: false, reason: "no_cross" };

  let best: { p: Dec; vol: bigint; imb: bigint; dist: bigint; d: bigint; s: bigint } | null = null;
  for (const p of candidates) {
    const d = curves.demand(p);
    const s = curves.supply(p);
    const vol = d < s ? d : s;
    const imb = d > s ? d - s : s - d;
    const dist = p.raw > params.oraclePrice.raw ? p.raw - params.oraclePrice.raw : params.oraclePrice.raw - p.raw;
    if (
      best === null ||
      vol > best.vol ||
      (vol === best.vol && (imb < best.imb || (imb === best.imb && (dist < best.dist || (dist === best.dist && p.raw < best.p.raw)))))
    ) {
      best = { p, vol, imb, dist, d, s };
    }
  }
  if (best === null || best.vol === 0n) return { cleared: false, reason: "outside_band" };

  const price = best.p;
  const volume = best.vol;
  const fills: Fill[] = [];
  allocate(
    orders.filter((o) => o.side === "buy" && o.price.gte(price)),
    (a, b) => b.price.cmp(a.price),
    volume,
    fills,
  );
  allocate(
    orders.filter((o) => o.side === "sell" && o.price.lte(price)),
    (a, b) => a.price.cmp(b.price),
    volume,
    fills,
  );
  fills.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { cleared: true, price, volume: Dec.fromRaw(volume), demand: Dec.fromRaw(best.d), supply: Dec.fromRaw(best.s), fills };
}

/** Fills `volume` from eligible orders in price priority, then ascending id. */
function allocate(eligible: AuctionOrder[], byPrice: (a: AuctionOrder, b: AuctionOrder) => number, volume: bigint, out: Fill[]): void {
  eligible.sort((a, b) => byPrice(a, b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let left = volume;
  for (const o of eligible) {
    if (left === 0n) break;
    const q = o.quantity.raw < left ? o.quantity.raw : left;
    out.push({ id: o.id, side: o.side, quantity: Dec.fromRaw(q) });
    left -= q;
  }
}

/**
 * A post-only order is refused if it would trade against the resting book at once:
 * a buy at or above the best resting ask, or a sell at or below the best resting bid.
 */
export function postOnlyWouldCross(side: Side, price: Dec, bestBid: Dec | null, bestAsk: Dec | null): boolean {
  if (side === "buy") return bestAsk !== null && price.gte(bestAsk);
  return bestBid !== null && price.lte(bestBid);
}
