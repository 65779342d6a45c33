/**
 * x/clearing keeper: orders, the per-market batch auction at the end of every block, the
 * settlement of fills into isolated positions with fees and novation, and funding
 * (SPEC §3.4, §3.5). The auction itself is the pure `types/auction.ts`.
 *
 * Money: the clearing module is every trade's counterparty (novation). Collateral stays
 * in the `margin` module account: an order reserves its worst-case initial margin and
 * fee from free collateral; a fill releases the reservation and settles into the
 * position; fees go to the market's pool (pool_fee_share) and the fee collector; a loss
 * beyond a position's margin is paid into the margin account by the insurance pool.
 *
 * State (under the clearing prefix 0x05; 0x01 is the market table):
 *   0x02 ‖ market ‖ u64 id  → Order (live orders, in time priority)
 *   0x03 ‖ owner ‖ u64 id   → market id (orders by owner)
 *   0x04                    → next order id (u64)
 *   0x05 ‖ market           → AuctionResult (the latest auction)
 *   0x06 ‖ market           → FundingState
 *   0x07 ‖ u64 id           → reserved uusdc of an order (decimal string)
 *   0x08 ‖ u64 seq          → Liquidation (history)
 *   0x09                    → number of liquidations recorded (u64)
 *   0x0a ‖ market ‖ owner   → LiquidationAuction (a liquidatable position: watched, then auctioned)
 */
import { Context } from "../../app/context";
import { Dec } from "../../math/decimal";
import { PrefixKV } from "../../store/prefix";
import { getProto, key, prefixEndOf, scanProto, setProto, u64 } from "../../store/codec";
import { BankKeeper } from "../bank/keeper";
import { OracleKeeper } from "../oracle/keeper";
import { MarginKeeper, MARGIN_MODULE, positionValues } from "../margin/keeper";
import { InsuranceKeeper } from "../insurance/keeper";
import { FEE_COLLECTOR } from "../../app/tx";
import { AuctionResult, FundingState, Liquidation, LiquidationAuction, LiquidationTier, Market, MarketStatus, Order, Side, TimeInForce } from "../../../client/src/generated/backstop/clearing/v1/clearing";
import { CLEARING_STORE_PREFIX, MarketKeeper } from "./markets";
import { belowCritical, coverageFactor, updateCoverage } from "./coverage";
import { runAuction, postOnlyWouldCross, bandLimits } from "./types/auction";
import { bankruptcyPrice, equity, initialRequirement, isBankrupt, isLiquidatable, notionalCeil, notionalFloor } from "../margin/types/risk";
import {
  ErrBidPrice,
  ErrInsufficientMargin,
  ErrInvalidOrder,
  ErrNoLiquidationAuction,
  ErrMarketNotActive,
  ErrPostOnlyWouldCross,
  ErrReduceOnly,
  ErrTooManyOrders,
  ErrUnknownOrder,
} from "./errors";

const ORDER = 0x02;
const BY_OWNER = 0x03;
const NEXT_ID = 0x04;
const AUCTION = 0x05;
const FUNDING = 0x06;
const RESERVED = 0x07;
const LIQUIDATIONS = 0x08;
const LIQ_COUNT = 0x09;
const AUCTIONS = 0x0a;

export interface PlaceOrder {
  readonly owner: string;
  readonly marketId: string;
  readonly side: Side;
  readonly price: Dec;
  readonly quantity: Dec;
  readonly tif: TimeInForce;
  readonly reduceOnly: boolean;
  readonly clientId: bigint;
}

const isMultiple = (x: Dec, step: Dec) => step.isPositive() && x.raw % step.raw === 0n;

export class ClearingKeeper {
  constructor(
    private readonly bank: BankKeeper,
    private readonly markets: MarketKeeper,
    private readonly oracle: OracleKeeper,
    private readonly margin: MarginKeeper,
    private readonly insurance: InsuranceKeeper,
  ) {
    margin.setFundingIndex((ctx, marketId) => {
      const f = this.getFunding(ctx, marketId);
      return f ? Dec.parse(f.cumulativeIndex) : Dec.ZERO;
    });
    margin.setCoverageFactor((ctx, market) => coverageFactor(ctx, insurance, market));
  }

  private kv(ctx: Context): PrefixKV {
    return new PrefixKV(ctx.store, CLEARING_STORE_PREFIX);
  }

  // --- orders -------------------------------------------------------------------------

  private orderKey(marketId: string, id: bigint): Buffer {
    return Buffer.concat([key(ORDER, marketId), u64(id)]);
  }

  ordersIn(ctx: Context, marketId: string): Order[] {
    return [...scanProto(this.kv(ctx), key(ORDER, marketId), Order)].map(([, o]) => o);
  }

  ordersOf(ctx: Context, owner: string): Order[] {
    const kv = this.kv(ctx);
    const prefix = key(BY_OWNER, owner);
    const out: Order[] = [];
    for (const [k, v] of kv.iterator(prefix, prefixEndOf(prefix))) {
      const id = Buffer.from(k).subarray(prefix.length).readBigUInt64BE();
      const o = getProto(kv, this.orderKey(Buffer.from(v).toString(), id), Order);
      if (o) out.push(o);
    }
    return out;
  }

  getOrder(ctx: Context, id: bigint): Order | undefined {
    for (const m of this.markets.all(ctx)) {
      const o = getProto(this.kv(ctx), this.orderKey(m.id, id), Order);
      if (o) return o;
    }
    return undefined;
  }

  private putOrder(ctx: Context, o: Order): void {
    const kv = this.kv(ctx);
    setProto(kv, this.orderKey(o.marketId, o.id), Order, o);
    kv.set(Buffer.concat([key(BY_OWNER, o.owner), u64(o.id)]), Buffer.from(o.marketId));
  }

  private removeOrder(ctx: Context, o: Order): void {
    const kv = this.kv(ctx);
    kv.delete(this.orderKey(o.marketId, o.id));
    kv.delete(Buffer.concat([key(BY_OWNER, o.owner), u64(o.id)]));
    const r = this.reserved(ctx, o.id);
    if (r > 0n) this.margin.addFree(ctx, o.owner, r);
    kv.delete(Buffer.concat([key(RESERVED), u64(o.id)]));
  }

  reserved(ctx: Context, id: bigint): bigint {
    const raw = this.kv(ctx).get(Buffer.concat([key(RESERVED), u64(id)]));
    return raw ? BigInt(Buffer.from(raw).toString()) : 0n;
  }

  private setReserved(ctx: Context, id: bigint, amount: bigint): void {
    const k = Buffer.concat([key(RESERVED), u64(id)]);
    if (amount > 0n) this.kv(ctx).set(k, Buffer.from(amount.toString()));
    else this.kv(ctx).delete(k);
  }

  /** Σ reservations of an owner's orders: still the owner's collateral. */
  reservedOf(ctx: Context, owner: string): bigint {
    return this.ordersOf(ctx, owner).reduce((s, o) => s + this.reserved(ctx, o.id), 0n);
  }

  private nextOrderId(ctx: Context): bigint {
    const raw = this.kv(ctx).get(key(NEXT_ID));
    const id = raw ? Buffer.from(raw).readBigUInt64BE() : 1n;
    this.kv(ctx).set(key(NEXT_ID), u64(id + 1n));
    return id;
  }

  /** Stateful checks of a new order (CheckTx and delivery); returns its reservation. */
  checkOrder(ctx: Context, o: PlaceOrder): { market: Market; reserve: bigint } {
    const market = this.markets.require(ctx, o.marketId);
    if (market.status === MarketStatus.MARKET_STATUS_HALTED) throw ErrMarketNotActive.wrap(`${market.id} is halted`);
    if (market.status === MarketStatus.MARKET_STATUS_REDUCE_ONLY && !o.reduceOnly) throw ErrMarketNotActive.wrap(`${market.id} is reduce-only`);
    if (!o.reduceOnly) {
      const c = belowCritical(ctx, this.insurance, market);
      if (c.below) throw ErrMarketNotActive.wrap(`${market.id} takes reduce-only orders: pool ${c.poolId} coverage ${c.coverage} is below its critical level ${c.critical}`);
    }
    if (!isMultiple(o.price, Dec.parse(market.tickSize))) throw ErrInvalidOrder.wrap(`price ${o.price} is not a multiple of the tick size ${market.tickSize}`);
    if (!isMultiple(o.quantity, Dec.parse(market.stepSize))) throw ErrInvalidOrder.wrap(`quantity ${o.quantity} is not a multiple of the step size ${market.stepSize}`);
    if (o.quantity.lt(Dec.parse(market.minOrderSize))) throw ErrInvalidOrder.wrap(`quantity ${o.quantity} is below the minimum ${market.minOrderSize}`);
    const mine = this.ordersOf(ctx, o.owner).filter((x) => x.marketId === o.marketId);
    if (mine.length >= market.maxOpenOrdersPerAccount) throw ErrTooManyOrders.wrap(`${mine.length} open orders in ${market.id}`);

    const pos = this.margin.getPosition(ctx, o.owner, o.marketId);
    const size = pos ? Dec.parse(pos.size) : Dec.ZERO;
    if (o.reduceOnly) {
      const reduces = (o.side === Side.SIDE_SELL && size.isPositive()) || (o.side === Side.SIDE_BUY && size.isNegative());
      if (!reduces || o.quantity.gt(size.abs())) throw ErrReduceOnly.wrap(`position ${size}, ${o.side === Side.SIDE_BUY ? "buy" : "sell"} ${o.quantity}`);
    }
    // New exposure needs a fresh price (reduce-only never waits on one).
    const mark = o.reduceOnly ? this.oracle.mark(ctx, market.oracleTicker) : this.oracle.freshMark(ctx, market.oracleTicker);

    if (o.tif === TimeInForce.TIME_IN_FORCE_POST_ONLY) {
      const { bid, ask } = this.bestPrices(ctx, o.marketId);
      if (postOnlyWouldCross(o.side === Side.SIDE_BUY ? "buy" : "sell", o.price, bid, ask)) throw ErrPostOnlyWouldCross.wrap(`best bid ${bid ?? "-"}, best ask ${ask ?? "-"}`);
    }

    // Worst case: a buy fills at its limit; a sell at the top of the oracle band if that is higher.
    const { hi } = bandLimits({ oraclePrice: mark, band: Dec.parse(market.priceBand) });
    const worst = o.side === Side.SIDE_BUY ? o.price : Dec.max(o.price, hi);
    const fee = Dec.parse(market.takerFeeRate).mulIntToInt(notionalCeil(o.quantity, worst), "ceil");
    const im = o.reduceOnly ? 0n : initialRequirement(o.quantity, worst, this.margin.ratios(ctx, market).imr);
    const reserve = im + fee;
    const free = this.margin.freeCollateral(ctx, o.owner);
    if (free < reserve) throw ErrInsufficientMargin.wrap(`needs ${reserve}uusdc free, has ${free}uusdc`);
    return { market, reserve };
  }

  place(ctx: Context, o: PlaceOrder): Order {
    const { reserve } = this.checkOrder(ctx, o);
    const order: Order = {
      id: this.nextOrderId(ctx),
      owner: o.owner,
      marketId: o.marketId,
      side: o.side,
      price: o.price.toString(),
      quantity: o.quantity.toString(),
      filledQuantity: Dec.ZERO.toString(),
      timeInForce: o.tif,
      reduceOnly: o.reduceOnly,
      clientId: o.clientId,
      placedHeight: ctx.height,
      isLiquidation: false,
    };
    if (reserve > 0n) this.margin.subFree(ctx, o.owner, reserve);
    this.putOrder(ctx, order);
    this.setReserved(ctx, order.id, reserve);
    ctx.events.emitTyped("backstop.clearing.v1.EventOrderPlaced", { order: Order.toJSON(order) });
    return order;
  }

  cancel(ctx: Context, owner: string, marketId: string, id: bigint, reason = "cancelled"): void {
    const o = getProto(this.kv(ctx), this.orderKey(marketId, id), Order);
    if (!o || o.owner !== owner) throw ErrUnknownOrder.wrap(`no order ${id} of ${owner} in ${marketId}`);
    this.removeOrder(ctx, o);
    ctx.events.emitTyped("backstop.clearing.v1.EventOrderCancelled", { order_id: id.toString(), owner, market_id: marketId, reason });
  }

  bestPrices(ctx: Context, marketId: string): { bid: Dec | null; ask: Dec | null } {
    let bid: Dec | null = null;
    let ask: Dec | null = null;
    for (const o of this.ordersIn(ctx, marketId)) {
      const p = Dec.parse(o.price);
      if (o.side === Side.SIDE_BUY && (bid === null || p.gt(bid))) bid = p;
      if (o.side === Side.SIDE_SELL && (ask === null || p.lt(ask))) ask = p;
    }
    return { bid, ask };
  }

  /** Aggregated price levels: bids best (highest) first, asks best (lowest) first. */
  book(ctx: Context, marketId: string): { bids: { price: string; quantity: string; orderCount: number }[]; asks: { price: string; quantity: string; orderCount: number }[] } {
    const levels = new Map<string, { side: Side; price: Dec; qty: Dec; n: number }>();
    for (const o of this.ordersIn(ctx, marketId)) {
      const k = `${o.side}:${o.price}`;
      const rem = Dec.parse(o.quantity).sub(Dec.parse(o.filledQuantity));
      const l = levels.get(k) ?? { side: o.side, price: Dec.parse(o.price), qty: Dec.ZERO, n: 0 };
      l.qty = l.qty.add(rem);
      l.n += 1;
      levels.set(k, l);
    }
    const all = [...levels.values()];
    const fmt = (l: { price: Dec; qty: Dec; n: number }) => ({ price: l.price.toString(), quantity: l.qty.toString(), orderCount: l.n });
    return {
      bids: all.filter((l) => l.side === Side.SIDE_BUY).sort((a, b) => b.price.cmp(a.price)).map(fmt),
      asks: all.filter((l) => l.side === Side.SIDE_SELL).sort((a, b) => a.price.cmp(b.price)).map(fmt),
    };
  }

  // --- auction and settlement -----------------------------------------------------------

  getAuction(ctx: Context, marketId: string): AuctionResult | undefined {
    return getProto(this.kv(ctx), key(AUCTION, marketId), AuctionResult);
  }

  getFunding(ctx: Context, marketId: string): FundingState | undefined {
    return getProto(this.kv(ctx), key(FUNDING, marketId), FundingState);
  }

  setFunding(ctx: Context, f: FundingState): void {
    setProto(this.kv(ctx), key(FUNDING, f.marketId), FundingState, f);
  }

  /** End-block: one auction per market, settlement of its fills, ioc expiry, funding. */
  endBlock(ctx: Context): void {
    for (const market of this.markets.all(ctx)) {
      const price = this.oracle.getPrice(ctx, market.oracleTicker);
      if (!price) continue;
      const oracle = Dec.parse(price.price);
      // Liquidation comes after the oracle and before matching (SPEC §3.6).
      this.placeLiquidations(ctx, market, oracle);
      const clearing = this.runMarket(ctx, market, oracle);
      this.updateFunding(ctx, market, oracle, clearing);
    }
    // Coverage and stress of every pool over the block's final positions (SPEC §3.8).
    updateCoverage(ctx, { markets: this.markets, oracle: this.oracle, margin: this.margin, insurance: this.insurance });
  }

  private runMarket(ctx: Context, market: Market, oracle: Dec): Dec | null {
    const orders = this.ordersIn(ctx, market.id);
    const live = orders.map((o) => ({ id: o.id, side: o.side === Side.SIDE_BUY ? ("buy" as const) : ("sell" as const), price: Dec.parse(o.price), quantity: Dec.parse(o.quantity).sub(Dec.parse(o.filledQuantity)) }));
    const res = runAuction(live, { oraclePrice: oracle, band: Dec.parse(market.priceBand) });
    const result: AuctionResult = res.cleared
      ? { marketId: market.id, height: ctx.height, cleared: true, clearingPrice: res.price.toString(), matchedQuantity: res.volume.toString(), demand: res.demand.toString(), supply: res.supply.toString(), reason: "" }
      : { marketId: market.id, height: ctx.height, cleared: false, clearingPrice: "", matchedQuantity: "0", demand: "0", supply: "0", reason: res.reason };
    if (orders.length > 0) {
      setProto(this.kv(ctx), key(AUCTION, market.id), AuctionResult, result);
      ctx.events.emitTyped("backstop.clearing.v1.EventAuctionCleared", { result: AuctionResult.toJSON(result) });
    }
    const byId = new Map(orders.map((o) => [o.id, o]));
    if (res.cleared) {
      const imr = this.margin.ratios(ctx, market).imr;
      for (const f of res.fills) this.settleFill(ctx, market, byId.get(f.id)!, f.quantity, res.price, imr);
    }
    // ioc remainders expire; filled orders leave the book.
    for (const o of orders) {
      const cur = getProto(this.kv(ctx), this.orderKey(market.id, o.id), Order);
      if (!cur) continue;
      const rem = Dec.parse(cur.quantity).sub(Dec.parse(cur.filledQuantity));
      if (rem.isZero()) this.removeOrder(ctx, cur);
      else if (cur.timeInForce === TimeInForce.TIME_IN_FORCE_IOC) {
        this.removeOrder(ctx, cur);
        ctx.events.emitTyped("backstop.clearing.v1.EventOrderCancelled", { order_id: cur.id.toString(), owner: cur.owner, market_id: market.id, reason: "ioc expired" });
      }
    }
    return res.cleared ? res.price : null;
  }

  /**
   * Tier 1, the incremental close (SPEC §3.6 step 2): for every position the new mark
   * makes liquidatable (found through the liquidation index), a reduce-only ioc order into
   * this block's auction for the smallest part that restores E ≥ IMR·notional, at most
   * max_liquidation_fraction_per_block of it (a position under min_liquidation_notional
   * goes whole). Its limit is the bankruptcy price while the mark is on the solvent side
   * of it, else the mark less liquidation_slippage.
   */
  placeLiquidations(ctx: Context, market: Market, mark: Dec): number {
    const positions = this.margin.liquidatable(ctx, market, mark);
    this.updateAuctions(ctx, market, mark, positions);
    if (positions.length === 0) return 0;
    const { imr } = this.margin.ratios(ctx, market);
    const index = this.margin.fundingIndexOf(ctx, market.id);
    const step = Dec.parse(market.stepSize);
    const tick = Dec.parse(market.tickSize);
    for (const p of positions) {
      // (Liquidation orders are ioc: none is live from an earlier block.)
      const v = positionValues(p);
      const abs = v.size.abs();
      const e = equity(v, mark, index);
      let qty: Dec;
      if (notionalFloor(abs, mark) < BigInt(market.minLiquidationNotionalUusdc) || e <= 0n) qty = abs;
      else {
        // |s| − E/(IMR·mark), rounded up to the step; capped by the per-block fraction.
        const keep = Dec.ratio(e, 1_000_000n, "floor").div(imr.mul(mark, "ceil"), "floor");
        let need = keep.gte(abs) ? step : abs.sub(keep);
        need = roundUpTo(need, step);
        const cap = roundUpTo(abs.mul(Dec.parse(market.maxLiquidationFractionPerBlock), "ceil"), step);
        qty = Dec.min(Dec.min(need, cap), abs);
      }
      if (!qty.isPositive()) continue;
      const long = v.size.isPositive();
      const bk = bankruptcyPrice(v, index) ?? mark;
      const slip = Dec.parse(market.liquidationSlippage);
      const solvent = long ? mark.gt(bk) : mark.lt(bk);
      let limit = solvent ? bk : long ? mark.mul(Dec.ONE.sub(slip), "floor") : mark.mul(Dec.ONE.add(slip), "ceil");
      limit = long ? roundUpTo(Dec.max(limit, tick), tick) : roundDownTo(limit, tick);
      const order: Order = {
        id: this.nextOrderId(ctx),
        owner: p.owner,
        marketId: market.id,
        side: long ? Side.SIDE_SELL : Side.SIDE_BUY,
        price: limit.toString(),
        quantity: qty.toString(),
        filledQuantity: Dec.ZERO.toString(),
        timeInForce: TimeInForce.TIME_IN_FORCE_IOC,
        reduceOnly: true,
        clientId: 0n,
        placedHeight: ctx.height,
        isLiquidation: true,
      };
      this.putOrder(ctx, order);
      ctx.events.emitTyped("backstop.clearing.v1.EventOrderPlaced", { order: Order.toJSON(order) });
    }
    return positions.length;
  }

  // --- tier 2: the liquidation auction ---------------------------------------------------

  private auctionKey(marketId: string, owner: string): Buffer {
    return key(AUCTIONS, marketId, owner);
  }

  liquidationAuctions(ctx: Context, marketId?: string): LiquidationAuction[] {
    const prefix = marketId ? key(AUCTIONS, marketId) : key(AUCTIONS);
    return [...scanProto(this.kv(ctx), prefix, LiquidationAuction)].map(([, a]) => a).filter((a) => a.startPrice !== "");
  }

  /**
   * Tier 2 bookkeeping (SPEC §3.6 step 3): a liquidatable position is watched from the
   * block it is first found; once it has stayed liquidatable for auction_after_blocks, or
   * is bankrupt, it is offered in a descending-price auction that starts at the mark.
   * Positions no longer liquidatable leave the watch list. Work is O(k) in the positions
   * watched or crossing, never a scan of all positions.
   */
  private updateAuctions(ctx: Context, market: Market, mark: Dec, liquidatable: readonly { owner: string; size: string }[]): void {
    const kv = this.kv(ctx);
    const index = this.margin.fundingIndexOf(ctx, market.id);
    const mmr = this.margin.ratios(ctx, market).mmr;
    const crossing = new Set(liquidatable.map((p) => p.owner));
    for (const [, a] of [...scanProto(kv, key(AUCTIONS, market.id), LiquidationAuction)]) {
      const p = this.margin.getPosition(ctx, a.owner, market.id);
      if (!p || Dec.parse(p.size).isZero() || (!crossing.has(a.owner) && !isLiquidatable(positionValues(p), mark, index, mmr))) kv.delete(this.auctionKey(market.id, a.owner));
    }
    for (const p of liquidatable) {
      const k = this.auctionKey(market.id, p.owner);
      const cur = getProto(kv, k, LiquidationAuction);
      const pos = this.margin.getPosition(ctx, p.owner, market.id)!;
      const size = Dec.parse(pos.size).abs().toString();
      if (!cur) {
        setProto(kv, k, LiquidationAuction, { marketId: market.id, owner: p.owner, sizeRemaining: size, startHeight: ctx.height, startPrice: "", currentPrice: "" });
        continue;
      }
      const bankrupt = isBankrupt(positionValues(pos), mark, index);
      if (cur.startPrice === "" && (bankrupt || ctx.height - cur.startHeight >= market.auctionAfterBlocks)) {
        const started: LiquidationAuction = { ...cur, sizeRemaining: size, startHeight: ctx.height, startPrice: mark.toString(), currentPrice: mark.toString() };
        setProto(kv, k, LiquidationAuction, started);
        ctx.events.emitTyped("backstop.clearing.v1.EventLiquidationAuction", { auction: LiquidationAuction.toJSON(started) });
      } else if (cur.startPrice !== "") {
        setProto(kv, k, LiquidationAuction, { ...cur, sizeRemaining: size, currentPrice: this.auctionPrice(ctx, market, cur, Dec.parse(pos.size).isPositive()).toString() });
      }
    }
  }

  /** The takeover price now: from the start price, worse for the position by auction_step per block, at most auction_max_discount. */
  auctionPrice(ctx: Context, market: Market, a: LiquidationAuction, long: boolean): Dec {
    const start = Dec.parse(a.startPrice);
    const steps = ctx.height - a.startHeight;
    const raw = Dec.parse(market.auctionStep).mulInt(steps);
    const max = Dec.parse(market.auctionMaxDiscount);
    const discount = raw.gt(max) ? max : raw;
    const tick = Dec.parse(market.tickSize);
    return long ? roundDownTo(start.mul(Dec.ONE.sub(discount), "floor"), tick) : roundUpTo(start.mul(Dec.ONE.add(discount), "ceil"), tick);
  }

  /**
   * MsgBidLiquidation: the bidder takes `quantity` of an auctioned position at the current
   * auction price, with its own margin (initial margin from free collateral). The
   * position's deficit is paid by the pool; the liquidation fee goes to the pool.
   */
  bidLiquidation(ctx: Context, bidder: string, owner: string, marketId: string, quantity: Dec, priceLimit: Dec): { taken: Dec; price: Dec } {
    const market = this.markets.require(ctx, marketId);
    const a = getProto(this.kv(ctx), this.auctionKey(marketId, owner), LiquidationAuction);
    if (!a || a.startPrice === "") throw ErrNoLiquidationAuction.wrap(`${owner} in ${marketId}`);
    if (bidder === owner) throw ErrInvalidOrder.wrap("a position cannot be bid for by its owner");
    const pos = this.margin.requirePosition(ctx, owner, marketId);
    const size = Dec.parse(pos.size);
    const long = size.isPositive();
    if (!isMultiple(quantity, Dec.parse(market.stepSize))) throw ErrInvalidOrder.wrap(`quantity ${quantity} is not a multiple of the step size ${market.stepSize}`);
    const taken = Dec.min(quantity, size.abs());
    const price = this.auctionPrice(ctx, market, a, long);
    // The bidder buys a long (pays at most its limit) or sells into a short (receives at least its limit).
    if (long ? price.gt(priceLimit) : price.lt(priceLimit)) throw ErrBidPrice.wrap(`auction price ${price}, limit ${priceLimit}`);
    const { imr } = this.margin.ratios(ctx, market);
    const im = initialRequirement(taken, price, imr);
    const free = this.margin.freeCollateral(ctx, bidder);
    if (free < im) throw ErrInsufficientMargin.wrap(`needs ${im}uusdc free, has ${free}uusdc`);
    const ownerSide = long ? taken.neg() : taken;
    const { deficit } = this.margin.applyFill(ctx, owner, marketId, ownerSide, price, imr);
    this.margin.applyFill(ctx, bidder, marketId, ownerSide.neg(), price, imr);
    const fee = this.margin.chargeFromMargin(ctx, owner, marketId, Dec.parse(market.liquidationFeeRate).mulIntToInt(notionalCeil(taken, price), "ceil"));
    if (fee > 0n) this.insurance.receiveRevenue(ctx, market.insurancePoolId, fee, MARGIN_MODULE);
    if (deficit > 0n) this.payDeficit(ctx, market, deficit);
    this.recordLiquidation(ctx, { height: ctx.height, marketId, owner, tier: LiquidationTier.LIQUIDATION_TIER_AUCTION, quantity: taken.toString(), price: price.toString(), feeUusdc: fee.toString(), deficitUusdc: deficit.toString() });
    const left = this.margin.getPosition(ctx, owner, marketId);
    if (!left || Dec.parse(left.size).isZero()) this.kv(ctx).delete(this.auctionKey(marketId, owner));
    else setProto(this.kv(ctx), this.auctionKey(marketId, owner), LiquidationAuction, { ...a, sizeRemaining: Dec.parse(left.size).abs().toString(), currentPrice: price.toString() });
    return { taken, price };
  }

  private recordLiquidation(ctx: Context, l: Liquidation): void {
    const kv = this.kv(ctx);
    const seqKey = key(LIQUIDATIONS);
    const next = this.liquidationCount(ctx) + 1n;
    setProto(kv, Buffer.concat([seqKey, u64(next)]), Liquidation, l);
    kv.set(key(LIQ_COUNT), u64(next));
    ctx.events.emitTyped("backstop.clearing.v1.EventLiquidation", { liquidation: Liquidation.toJSON(l) });
  }

  liquidationCount(ctx: Context): bigint {
    const raw = this.kv(ctx).get(key(LIQ_COUNT));
    return raw ? Buffer.from(raw).readBigUInt64BE() : 0n;
  }

  liquidations(ctx: Context): Liquidation[] {
    return [...scanProto(this.kv(ctx), key(LIQUIDATIONS), Liquidation)].map(([, l]) => l);
  }

  private settleFill(ctx: Context, market: Market, o: Order, qty: Dec, price: Dec, imr: Dec): void {
    const total = Dec.parse(o.quantity).sub(Dec.parse(o.filledQuantity));
    // Release the filled part of the reservation (all of it when the order completes).
    const reserved = this.reserved(ctx, o.id);
    const release = qty.eq(total) ? reserved : (reserved * qty.raw) / total.raw;
    if (release > 0n) this.margin.addFree(ctx, o.owner, release);
    this.setReserved(ctx, o.id, reserved - release);
    this.putOrder(ctx, { ...o, filledQuantity: Dec.parse(o.filledQuantity).add(qty).toString() });

    const maker = o.placedHeight < ctx.height;
    const signed = o.side === Side.SIDE_BUY ? qty : qty.neg();
    const { realized, deficit } = this.margin.applyFill(ctx, o.owner, market.id, signed, price, imr);
    if (o.isLiquidation) {
      // The liquidation fee (rate × closed notional, capped by what equity is left) goes to the pool;
      // a deficit is paid by the pool at once (tier 3), so the counterparties are paid in full.
      const fee = this.margin.chargeFromMargin(ctx, o.owner, market.id, Dec.parse(market.liquidationFeeRate).mulIntToInt(notionalCeil(qty, price), "ceil"));
      if (fee > 0n) this.insurance.receiveRevenue(ctx, market.insurancePoolId, fee, MARGIN_MODULE);
      const unpaid = deficit > 0n ? this.payDeficit(ctx, market, deficit) : 0n;
      this.recordLiquidation(ctx, { height: ctx.height, marketId: market.id, owner: o.owner, tier: LiquidationTier.LIQUIDATION_TIER_INCREMENTAL, quantity: qty.toString(), price: price.toString(), feeUusdc: fee.toString(), deficitUusdc: deficit.toString() });
      ctx.events.emitTyped("backstop.clearing.v1.EventFill", {
        order_id: o.id.toString(),
        owner: o.owner,
        market_id: market.id,
        side: o.side === Side.SIDE_BUY ? "SIDE_BUY" : "SIDE_SELL",
        quantity: qty.toString(),
        price: price.toString(),
        fee_uusdc: fee.toString(),
        maker: false,
        realized_pnl_uusdc: realized.toString(),
      });
      void unpaid; // reported by the insurance module's EventDeficitCovered (unpaid_uusdc); ADL is not implemented yet
      return;
    }
    const rate = Dec.parse(maker ? market.makerFeeRate : market.takerFeeRate);
    const fee = this.margin.chargeFee(ctx, o.owner, market.id, rate.mulIntToInt(notionalCeil(qty, price), "ceil"));
    if (fee > 0n) this.distributeFee(ctx, market, fee);
    if (deficit > 0n) this.payDeficit(ctx, market, deficit);
    ctx.events.emitTyped("backstop.clearing.v1.EventFill", {
      order_id: o.id.toString(),
      owner: o.owner,
      market_id: market.id,
      side: o.side === Side.SIDE_BUY ? "SIDE_BUY" : "SIDE_SELL",
      quantity: qty.toString(),
      price: price.toString(),
      fee_uusdc: fee.toString(),
      maker,
      realized_pnl_uusdc: realized.toString(),
    });
  }

  /** The pool's share of a fee to the market's insurance pool, the rest to the fee collector. */
  private distributeFee(ctx: Context, market: Market, fee: bigint): void {
    const pool = this.insurance.getPool(ctx, market.insurancePoolId);
    const share = pool ? Dec.parse(pool.feeShare || "0").mulIntToInt(fee, "floor") : 0n;
    if (share > 0n) this.insurance.receiveRevenue(ctx, pool!.id, share, MARGIN_MODULE);
    if (fee - share > 0n) this.bank.sendModuleToModule(ctx, MARGIN_MODULE, FEE_COLLECTOR, this.margin.getParams(ctx).collateralDenom, fee - share);
  }

  /** A loss beyond a position's margin: the market's pool pays it into the margin account. */
  payDeficit(ctx: Context, market: Market, deficit: bigint): bigint {
    const out = this.insurance.coverDeficit(ctx, market.insurancePoolId, deficit, MARGIN_MODULE, market.id);
    return out.unpaid;
  }

  /**
   * Funding (SPEC §3.5): every block with an auction adds a premium sample
   * (auction − oracle)/oracle; at the end of each interval the rate is the average
   * premium, clamped to ±cap, and the cumulative index moves by rate × oracle price
   * (USD per unit). Positions settle it lazily (MarginKeeper.applyFill, equity).
   */
  private updateFunding(ctx: Context, market: Market, oracle: Dec, clearing: Dec | null): void {
    const f: FundingState = this.getFunding(ctx, market.id) ?? {
      marketId: market.id,
      cumulativeIndex: Dec.ZERO.toString(),
      lastRate: Dec.ZERO.toString(),
      intervalStartUnixSeconds: ctx.time,
      premiumSum: Dec.ZERO.toString(),
      premiumSamples: 0n,
    };
    let sum = Dec.parse(f.premiumSum);
    let samples = f.premiumSamples;
    if (clearing) {
      sum = sum.add(clearing.sub(oracle).div(oracle, "floor"));
      samples += 1n;
    }
    let next: FundingState = { ...f, premiumSum: sum.toString(), premiumSamples: samples };
    if (ctx.time - f.intervalStartUnixSeconds >= market.fundingIntervalSeconds) {
      const cap = Dec.parse(market.fundingRateCap);
      const avg = samples > 0n ? sum.divInt(samples, "floor") : Dec.ZERO;
      const rate = avg.gt(cap) ? cap : avg.lt(cap.neg()) ? cap.neg() : avg;
      const index = Dec.parse(f.cumulativeIndex).add(rate.mul(oracle, "floor"));
      next = { marketId: market.id, cumulativeIndex: index.toString(), lastRate: rate.toString(), intervalStartUnixSeconds: ctx.time, premiumSum: Dec.ZERO.toString(), premiumSamples: 0n };
      ctx.events.emitTyped("backstop.clearing.v1.EventFunding", { market_id: market.id, rate: rate.toString(), cumulative_index: index.toString() });
    }
    this.setFunding(ctx, next);
  }
}

function roundUpTo(x: Dec, step: Dec): Dec {
  const r = x.raw % step.raw;
  return r === 0n ? x : Dec.fromRaw(x.raw - r + step.raw);
}

function roundDownTo(x: Dec, step: Dec): Dec {
  return Dec.fromRaw(x.raw - (x.raw % step.raw));
}
