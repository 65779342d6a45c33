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
 *   0x07                    (retired: an order's reservation is in the order, `reserved_uusdc`)
 *   0x08 ‖ u64 seq          → Liquidation (history)
 *   0x09                    → number of liquidations recorded (u64)
 *   0x0a ‖ market ‖ owner   → LiquidationAuction (a liquidatable position: watched, then auctioned)
 *   0x0b ‖ u64 seq          → AdlRecord (history)
 *   0x0c                    → number of ADL records (u64)
 *   0x0d ‖ owner ‖ market   → OrderExposure: the owner's live orders in the market and what
 *                             those that are not reduce-only could add (absent: none)
 *   0x0e, 0x0f                 (the book and ioc indexes; see below)
 *   0x10                    → Params
 *   0x11                    → the first order id of the current block (u64): ids are
 *                             sequential, so a block's orders so far = next id − this
 *   0x12 ‖ market           → OrderExposure of the market's live orders (buy, sell)
 *   0x13 ‖ owner            → u64 height ‖ u32 count: the owner's new orders in that block
 *   0x14 ‖ market           → u64 height ‖ uusdc (decimal string): deficits the waterfall paid
 *                             in the market in that block (the loss budget; see lossRoom)
 */
import { Context } from "../../app/context";
import { ProtoType } from "../../app/module";
import { Dec } from "../../math/decimal";
import { Memo } from "../../memo";
import { PrefixKV } from "../../store/prefix";
import { getProto, getShared, key, skey, u64s, prefixEndOf, scanProto, setProto, u64 } from "../../store/codec";
import { BankKeeper } from "../bank/keeper";
import { OracleKeeper } from "../oracle/keeper";
import { FreeTally, MarginKeeper, MARGIN_MODULE, positionValues, riskTier } from "../margin/keeper";
import { InsuranceKeeper } from "../insurance/keeper";
import { FEE_COLLECTOR } from "../../app/tx";
import { moduleAddress } from "../../crypto/keys";
import { AdlRecord, AuctionResult, FundingState, Liquidation, LiquidationAuction, LiquidationTier, Market, MarketStatus, Order, OrderExposure, Params, Side, TimeInForce } from "../../../client/src/generated/backstop/clearing/v1/clearing";
import { CLEARING_STORE_PREFIX, MarketKeeper } from "./markets";
import { Position } from "../../../client/src/generated/backstop/margin/v1/margin";
import { belowCritical, coverageFactor, updateCoverage } from "./coverage";
import { adlPrice, dutchPrice, incrementalClose, liquidationFee, roundDownTo, roundUpTo } from "./types/liquidation";
import { runAuction, postOnlyWouldCross, bandLimits } from "./types/auction";
import { accruedFunding, averageEntry, bankruptcyPrice, closePart, equity, initialRequirement, isBankrupt, isLiquidatable, notionalCeil, notionalFloor } from "../margin/types/risk";
import {
  ErrAccountBlockOrderLimit,
  ErrBeyondBankruptcy,
  ErrOpenInterestCap,
  ErrPositionCap,
  ErrBidPrice,
  ErrInsuranceExhausted,
  ErrInsufficientMargin,
  ErrBlockOrderLimit,
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
const LIQUIDATIONS = 0x08;
const LIQ_COUNT = 0x09;
const AUCTIONS = 0x0a;
const ADL = 0x0b;
const ADL_COUNT = 0x0c;
const EXPOSURE = 0x0d;
/** The book by price: BOOK ‖ market ‖ side ‖ price key ‖ id — each side best price first, then oldest. */
const BOOK = 0x0e;
/** The live ioc orders (they all expire at the end of the auction they entered): IOC ‖ market ‖ id. */
const IOC = 0x0f;
const PARAMS = 0x10;
const BLOCK_FIRST_ID = 0x11;
const MARKET_EXPOSURE = 0x12;
const BLOCK_ORDERS = 0x13;
const BLOCK_LOSS = 0x14;
const BUY_SIDE = 0x00;
const SELL_SIDE = 0x01;
/** The value of an index entry: the key is the information. */
const PRESENT = Buffer.of(1);
const PRICE_OFFSET = 1n << 256n;
const PRICE_SPAN = (1n << 257n) - 1n;

/**
 * A price as 33 big-endian bytes that sort as the side's priority: raw + 2^256 (every
 * Dec is within ±(2^256 − 1), so this is positive and below 2^257) for asks, lowest
 * first; its complement for bids, highest first.
 */
function priceKey(price: Dec, side: Side): Buffer {
  const x = price.raw + PRICE_OFFSET;
  return Buffer.from((side === Side.SIDE_BUY ? PRICE_SPAN - x : x).toString(16).padStart(66, "0"), "hex");
}

export const DEFAULT_CLEARING_PARAMS: Params = { maxOrdersPerBlock: 10_000, maxOrdersPerAccountPerBlock: 0 };

/** Recent price keys as latin1 strings (`Key`), by side and price: a book's prices repeat; bounded. */
const priceKeys = new Memo<string, string>(65_536, (k) => {
  const [side, price] = k.split(" ");
  return priceKey(Dec.parse(price), Number(side)).toString("latin1");
});

const poolAccounts = new Memo<string, string>(4_096, (poolId) => moduleAddress(`insurance/${poolId}`));
/** The account under which a pool holds the positions it took over (SPEC §3.6 step 4). */
export function poolAccount(poolId: string): string {
  return poolAccounts.get(poolId);
}

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

/** An auction's trading fees, summed over its fills and moved once (see runMarket). */
interface FeeTally {
  /** The pool's fraction of each fee (pool_fee_share). */
  readonly share: Dec;
  toPool: bigint;
  toCollector: bigint;
}

const big = (s: string) => (s === "" ? 0n : BigInt(s));
/** The long part of a size (raw): the size if positive, else 0. */
const longRaw = (size: Dec) => (size.raw > 0n ? size.raw : 0n);

/** An exposure with `q` added to the side's quantity. */
function addSide(e: Exposure, side: Side, q: Dec): { buy: Dec; sell: Dec } {
  return side === Side.SIDE_BUY ? { buy: e.buy.add(q), sell: e.sell } : { buy: e.buy, sell: e.sell.add(q) };
}

const isMultiple = (x: Dec, step: Dec) => step.isPositive() && x.raw % step.raw === 0n;

/** Live orders and what those that are not reduce-only could add to positions (base units). */
export interface Exposure {
  open: number;
  buy: Dec;
  sell: Dec;
}

const NO_EXPOSURE: Exposure = { open: 0, buy: Dec.ZERO, sell: Dec.ZERO };

/** Whether an order could add to its owner's exposure (liquidation orders are reduce-only). */
const opens = (o: { reduceOnly: boolean }) => !o.reduceOnly;

/** What an order still holds of its owner's free collateral (uusdc). */
export const reservedOf = (o: Order): bigint => (o.reservedUusdc === "" ? 0n : BigInt(o.reservedUusdc));

export class ClearingKeeper {
  constructor(
    private readonly bank: BankKeeper,
    private readonly markets: MarketKeeper,
    private readonly oracle: OracleKeeper,
    private readonly margin: MarginKeeper,
    private readonly insurance: InsuranceKeeper,
  ) {
    margin.setFundingIndex((ctx, marketId) => {
      const f = getShared(this.kv(ctx), skey(FUNDING, marketId), FundingState);
      return f ? Dec.parse(f.cumulativeIndex) : Dec.ZERO;
    });
    margin.setCoverageFactor((ctx, market) => coverageFactor(ctx, insurance, market));
    insurance.setInventoryValue((ctx, poolId) => this.inventoryValue(ctx, poolId));
  }

  private kv(ctx: Context): PrefixKV {
    return new PrefixKV(ctx.store, CLEARING_STORE_PREFIX);
  }

  getParams(ctx: Context): Params {
    return getShared(this.kv(ctx), skey(PARAMS), Params) ?? DEFAULT_CLEARING_PARAMS;
  }

  setParams(ctx: Context, p: Params): void {
    setProto(this.kv(ctx), skey(PARAMS), Params, p);
  }

  /** Marks where the next block's orders begin (at genesis and after each block's end-block). */
  markBlockStart(ctx: Context): void {
    const kv = this.kv(ctx);
    const next = kv.get(skey(NEXT_ID)) ?? u64(1n);
    const cur = kv.get(skey(BLOCK_FIRST_ID));
    if (!cur || !Buffer.from(cur).equals(Buffer.from(next))) kv.set(skey(BLOCK_FIRST_ID), next);
  }

  // --- orders -------------------------------------------------------------------------

  private orderKey(marketId: string, id: bigint): string {
    return skey(ORDER, marketId) + u64s(id);
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

  /** A side of a market's book: BOOK ‖ market ‖ side, as a latin1 string (`Key`). */
  private sideId(marketId: string, side: Side): string {
    return skey(BOOK, marketId) + String.fromCharCode(side === Side.SIDE_BUY ? BUY_SIDE : SELL_SIDE);
  }

  private sidePrefix(marketId: string, side: Side): Buffer {
    return Buffer.from(this.sideId(marketId, side), "latin1");
  }

  /** An order's entry in the book: BOOK ‖ market ‖ side ‖ price key ‖ id. */
  private bookKey(o: Order): string {
    return this.sideId(o.marketId, o.side) + priceKeys.get(`${o.side} ${o.price}`) + u64s(o.id);
  }

  /** The orders of an index (BOOK or IOC) under `prefix`, in the index's order: each entry's key ends with the order's id. */
  private *indexed(ctx: Context, marketId: string, prefix: Buffer): IterableIterator<Order> {
    const kv = this.kv(ctx);
    for (const [k] of kv.iterator(prefix, prefixEndOf(prefix))) {
      const id = Buffer.from(k.buffer, k.byteOffset + k.byteLength - 8, 8).readBigUInt64BE();
      const o = getProto(kv, this.orderKey(marketId, id), Order);
      if (!o) throw new Error(`index entry of order ${id} in ${marketId} without its order`);
      yield o;
    }
  }

  /** A side's live orders in priority order (best price first, then oldest), read lazily from the price index. */
  private bookSide(ctx: Context, marketId: string, side: Side): IterableIterator<Order> {
    return this.indexed(ctx, marketId, this.sidePrefix(marketId, side));
  }

  private first(ctx: Context, marketId: string, side: Side): Order | undefined {
    for (const o of this.bookSide(ctx, marketId, side)) return o;
    return undefined;
  }

  /**
   * A new live order: the order, its book and owner entries (and ioc entry), and the
   * owner's exposure in the market, which was `before` without it, and the market's.
   */
  private insertOrder(ctx: Context, o: Order, before: Exposure): void {
    const kv = this.kv(ctx);
    setProto(kv, this.orderKey(o.marketId, o.id), Order, o);
    kv.set(this.bookKey(o), PRESENT);
    if (o.timeInForce === TimeInForce.TIME_IN_FORCE_IOC) kv.set(skey(IOC, o.marketId) + u64s(o.id), PRESENT);
    kv.set(skey(BY_OWNER, o.owner) + u64s(o.id), Buffer.from(o.marketId));
    const q = opens(o) ? Dec.parse(o.quantity) : Dec.ZERO;
    this.setExposure(ctx, o.owner, o.marketId, { open: before.open + 1, ...addSide(before, o.side, q) });
    if (opens(o)) this.moveMarketExposure(ctx, o.marketId, o.side, q);
  }

  /** A live order's new state (its owner, market, side and price never change). */
  private updateOrder(ctx: Context, o: Order): void {
    setProto(this.kv(ctx), this.orderKey(o.marketId, o.id), Order, o);
  }

  private removeOrder(ctx: Context, o: Order): void {
    const kv = this.kv(ctx);
    kv.delete(this.orderKey(o.marketId, o.id));
    kv.delete(this.bookKey(o));
    if (o.timeInForce === TimeInForce.TIME_IN_FORCE_IOC) kv.delete(skey(IOC, o.marketId) + u64s(o.id));
    kv.delete(skey(BY_OWNER, o.owner) + u64s(o.id));
    const rem = opens(o) ? Dec.parse(o.quantity).sub(Dec.parse(o.filledQuantity)) : Dec.ZERO;
    const e = this.exposure(ctx, o.owner, o.marketId);
    this.setExposure(ctx, o.owner, o.marketId, { open: e.open - 1, ...addSide(e, o.side, rem.neg()) });
    if (!rem.isZero()) this.moveMarketExposure(ctx, o.marketId, o.side, rem.neg());
    const r = reservedOf(o);
    if (r > 0n) this.margin.addFree(ctx, o.owner, r);
  }

  /** How many live orders the owner has in the market: one read, not a scan of its orders. */
  openOrders(ctx: Context, owner: string, marketId: string): number {
    return this.exposure(ctx, owner, marketId).open;
  }

  /** The owner's live orders in a market and what those that are not reduce-only could add. */
  exposure(ctx: Context, owner: string, marketId: string): Exposure {
    const e = getProto(this.kv(ctx), skey(EXPOSURE, owner, marketId), OrderExposure);
    return e ? { open: e.openOrders, buy: Dec.parse(e.buy), sell: Dec.parse(e.sell) } : NO_EXPOSURE;
  }

  private setExposure(ctx: Context, owner: string, marketId: string, e: Exposure): void {
    if (e.open < 0 || e.buy.isNegative() || e.sell.isNegative()) throw new Error(`order exposure of ${owner} in ${marketId} would be negative`);
    const k = skey(EXPOSURE, owner, marketId);
    if (e.open === 0 && e.buy.isZero() && e.sell.isZero()) return this.kv(ctx).delete(k);
    setProto(this.kv(ctx), k, OrderExposure, { openOrders: e.open, buy: e.buy.toString(), sell: e.sell.toString() });
  }

  /** What a market's live orders that are not reduce-only could add, per side. */
  marketExposure(ctx: Context, marketId: string): { buy: Dec; sell: Dec } {
    const e = getProto(this.kv(ctx), skey(MARKET_EXPOSURE, marketId), OrderExposure);
    return e ? { buy: Dec.parse(e.buy), sell: Dec.parse(e.sell) } : { buy: Dec.ZERO, sell: Dec.ZERO };
  }

  private moveMarketExposure(ctx: Context, marketId: string, side: Side, q: Dec): void {
    if (q.isZero()) return;
    const e = addSide({ open: 0, ...this.marketExposure(ctx, marketId) }, side, q);
    if (e.buy.isNegative() || e.sell.isNegative()) throw new Error(`order exposure of ${marketId} would be negative`);
    const k = skey(MARKET_EXPOSURE, marketId);
    if (e.buy.isZero() && e.sell.isZero()) return this.kv(ctx).delete(k);
    setProto(this.kv(ctx), k, OrderExposure, { openOrders: 0, buy: e.buy.toString(), sell: e.sell.toString() });
  }

  /** The owner's new orders in the block at `height` so far. */
  blockOrders(ctx: Context, owner: string): number {
    const raw = this.kv(ctx).get(skey(BLOCK_ORDERS, owner));
    if (!raw) return 0;
    const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return b.readBigUInt64BE(0) === ctx.height ? b.readUInt32BE(8) : 0;
  }

  /**
   * Counts a new order of `owner` in this block (SPEC §3.4: a per-account limit of new
   * orders per block, ioc included). Also called when CheckTx admits an order, on the
   * check state, so that the mempool takes no more of an account's orders than a block can.
   */
  countBlockOrder(ctx: Context, owner: string, params = this.getParams(ctx)): void {
    if (params.maxOrdersPerAccountPerBlock <= 0) return;
    const b = Buffer.allocUnsafe(12);
    b.writeBigUInt64BE(ctx.height, 0);
    b.writeUInt32BE(this.blockOrders(ctx, owner) + 1, 8);
    this.kv(ctx).set(skey(BLOCK_ORDERS, owner), b);
  }

  private nextOrderId(ctx: Context): bigint {
    const raw = this.kv(ctx).get(skey(NEXT_ID));
    const id = raw ? Buffer.from(raw).readBigUInt64BE() : 1n;
    this.kv(ctx).set(skey(NEXT_ID), u64(id + 1n));
    return id;
  }

  /**
   * Stateful checks of a new order (CheckTx and delivery); returns its reservation, and
   * what it read that placing the order moves: the owner's free collateral and its count
   * of open orders in the market.
   */
  checkOrder(ctx: Context, o: PlaceOrder, params = this.getParams(ctx)): { market: Market; reserve: bigint; free: FreeTally; exposure: Exposure } {
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
    const exposure = this.exposure(ctx, o.owner, o.marketId);
    if (exposure.open >= market.maxOpenOrdersPerAccount) throw ErrTooManyOrders.wrap(`${exposure.open} open orders in ${market.id}`);
    const perBlock = params.maxOrdersPerAccountPerBlock;
    if (perBlock > 0 && this.blockOrders(ctx, o.owner) >= perBlock) throw ErrAccountBlockOrderLimit.wrap(`${o.owner} has placed ${perBlock} orders in this block; place it in a later block`);

    const pos = this.margin.getPosition(ctx, o.owner, o.marketId);
    const size = pos ? Dec.parse(pos.size) : Dec.ZERO;
    if (o.reduceOnly) {
      const reduces = (o.side === Side.SIDE_SELL && size.isPositive()) || (o.side === Side.SIDE_BUY && size.isNegative());
      if (!reduces || o.quantity.gt(size.abs())) throw ErrReduceOnly.wrap(`position ${size}, ${o.side === Side.SIDE_BUY ? "buy" : "sell"} ${o.quantity}`);
    }
    // New exposure needs a fresh price (reduce-only never waits on one).
    const mark = o.reduceOnly ? this.oracle.mark(ctx, market.oracleTicker) : this.oracle.freshMark(ctx, market.oracleTicker);
    // A close is never priced past the position's bankruptcy price: its loss beyond the
    // margin would be paid by the pool to whoever took the other side (two colluding
    // accounts crossing off the mark). Only the liquidation engine closes beyond it.
    if (pos && !size.isZero() && (o.side === Side.SIDE_BUY) === size.isNegative()) {
      const bk = bankruptcyPrice(positionValues(pos), this.margin.fundingIndexOf(ctx, market.id));
      if (bk && (size.isPositive() ? o.price.lt(bk) : o.price.gt(bk))) {
        throw ErrBeyondBankruptcy.wrap(`${size.isPositive() ? "sell" : "buy"} at ${o.price} closes beyond the bankruptcy price ${bk}; the liquidation engine closes such positions`);
      }
    }
    if (!o.reduceOnly) this.checkCaps(ctx, market, o, size, exposure, mark);

    if (o.tif === TimeInForce.TIME_IN_FORCE_POST_ONLY) {
      const { bid, ask } = this.bestPrices(ctx, o.marketId);
      if (postOnlyWouldCross(o.side === Side.SIDE_BUY ? "buy" : "sell", o.price, bid, ask)) throw ErrPostOnlyWouldCross.wrap(`best bid ${bid ?? "-"}, best ask ${ask ?? "-"}`);
    }

    // Worst case: a buy fills at its limit; a sell at the top of the oracle band if that is higher.
    const { hi } = bandLimits({ oraclePrice: mark, band: Dec.parse(market.priceBand) });
    const worst = o.side === Side.SIDE_BUY ? o.price : Dec.max(o.price, hi);
    const fee = Dec.parse(market.takerFeeRate).mulIntToInt(notionalCeil(o.quantity, worst), "ceil");
    // The IMR of the risk tier the position would reach if the order filled in full.
    const tier = riskTier(market, size.abs().add(o.quantity), worst);
    const im = o.reduceOnly ? 0n : initialRequirement(o.quantity, worst, this.margin.ratiosForTier(ctx, market, tier).imr);
    const reserve = im + fee;
    const free = this.margin.readFree(ctx, o.owner);
    if (free.amount < reserve) throw ErrInsufficientMargin.wrap(`needs ${reserve}uusdc free, has ${free.amount}uusdc`);
    return { market, reserve, free, exposure };
  }

  /**
   * SPEC §3.3 risk limits on new exposure, at placement:
   *  - position cap: the owner's long (short) part plus its live buys (sells) that are not
   *    reduce-only and this order, in notional at the worse of the mark and the order's
   *    price — assuming they all fill, so that many orders cannot pass a cap that each of
   *    them respects alone (an owner's own orders count against the owner only);
   *  - open-interest cap: open interest plus this order, in notional at the mark, within
   *    the lesser of max_open_interest_uusdc and max_oi_to_pool × the pool's net assets
   *    (as of the last end-block). This is the early refusal; the cap itself is enforced
   *    on what fills (`unbackedOrders`), where a block of many orders cannot pass it and
   *    orders resting far from the market hold nothing against others.
   * Reducing, liquidating and taking over are never refused by a cap.
   */
  private checkCaps(ctx: Context, market: Market, o: PlaceOrder, size: Dec, e: Exposure, mark: Dec): void {
    const buy = o.side === Side.SIDE_BUY;
    const posCap = big(market.maxPositionNotionalUusdc);
    if (posCap > 0n) {
      const held = buy ? Dec.max(size, Dec.ZERO) : Dec.max(size.neg(), Dec.ZERO);
      const total = held.add(buy ? e.buy : e.sell).add(o.quantity);
      const notional = notionalCeil(total, Dec.max(mark, o.price));
      if (notional > posCap) throw ErrPositionCap.wrap(`position and live orders would reach ${notional}uusdc of notional in ${market.id}; the cap is ${posCap}uusdc`);
    }
    const cap = this.openInterestCap(ctx, market);
    if (cap === null) return;
    const oi = notionalCeil(this.margin.openInterest(ctx, market.id).add(o.quantity), mark);
    if (oi > cap) throw ErrOpenInterestCap.wrap(`open interest with this order would reach ${oi}uusdc of notional in ${market.id}; the cap is ${cap}uusdc`);
  }

  /** The open-interest cap in force (uusdc of notional), or null when the market has none. */
  openInterestCap(ctx: Context, market: Market): bigint | null {
    let cap: bigint | null = null;
    const abs = big(market.maxOpenInterestUusdc);
    if (abs > 0n) cap = abs;
    const ratio = market.maxOiToPool === "" ? Dec.ZERO : Dec.parse(market.maxOiToPool);
    if (ratio.isPositive()) {
      const pool = this.insurance.getPool(ctx, market.insurancePoolId);
      const assets = pool ? big(pool.netAssetsUusdc) : 0n;
      const rel = ratio.mulIntToInt(assets > 0n ? assets : 0n, "floor");
      cap = cap === null || rel < cap ? rel : cap;
    }
    return cap;
  }

  place(ctx: Context, o: PlaceOrder): Order {
    const params = this.getParams(ctx);
    const { reserve, free, exposure } = this.checkOrder(ctx, o, params);
    this.countBlockOrder(ctx, o.owner, params);
    const id = this.nextOrderId(ctx);
    // At most max_orders_per_block orders placed by transactions in a block (ids are sequential).
    const first = this.kv(ctx).get(skey(BLOCK_FIRST_ID));
    const max = BigInt(params.maxOrdersPerBlock);
    if (first && id - Buffer.from(first).readBigUInt64BE() >= max) throw ErrBlockOrderLimit.wrap(`this block already holds ${max} orders; place it in a later block`);
    const order: Order = {
      id,
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
      reservedUusdc: reserve.toString(),
    };
    free.amount -= reserve;
    this.margin.saveFree(ctx, free);
    this.insertOrder(ctx, order, exposure);
    ctx.events.emitTyped("backstop.clearing.v1.EventOrderPlaced", { order: Order.toJSON(order) });
    return order;
  }

  cancel(ctx: Context, owner: string, marketId: string, id: bigint, reason = "cancelled"): void {
    const o = getProto(this.kv(ctx), this.orderKey(marketId, id), Order);
    if (!o || o.owner !== owner) throw ErrUnknownOrder.wrap(`no order ${id} of ${owner} in ${marketId}`);
    this.removeOrder(ctx, o);
    ctx.events.emitTyped("backstop.clearing.v1.EventOrderCancelled", { order_id: id.toString(), owner, market_id: marketId, reason });
  }

  /** The best bid and ask: the first entry of each side of the price index (O(log n)). */
  bestPrices(ctx: Context, marketId: string): { bid: Dec | null; ask: Dec | null } {
    const bid = this.first(ctx, marketId, Side.SIDE_BUY);
    const ask = this.first(ctx, marketId, Side.SIDE_SELL);
    return { bid: bid ? Dec.parse(bid.price) : null, ask: ask ? Dec.parse(ask.price) : null };
  }

  /** Whether the market has any live order. */
  hasOrders(ctx: Context, marketId: string): boolean {
    const prefix = key(ORDER, marketId);
    for (const _ of this.kv(ctx).iterator(prefix, prefixEndOf(prefix))) return true;
    return false;
  }

  /**
   * Aggregated price levels in the price index's order, at most `depth` per side: bids
   * best (highest) first, asks best (lowest) first. Reads only the orders of those levels.
   */
  book(ctx: Context, marketId: string, depth: number): { bids: { price: string; quantity: string; orderCount: number }[]; asks: { price: string; quantity: string; orderCount: number }[] } {
    const levels = (side: Side) => {
      const out: { price: string; quantity: Dec; orderCount: number }[] = [];
      for (const o of this.bookSide(ctx, marketId, side)) {
        const rem = Dec.parse(o.quantity).sub(Dec.parse(o.filledQuantity));
        const price = Dec.parse(o.price).toString();
        const last = out[out.length - 1];
        if (last && last.price === price) {
          last.quantity = last.quantity.add(rem);
          last.orderCount += 1;
        } else if (out.length === depth) break;
        else out.push({ price, quantity: rem, orderCount: 1 });
      }
      return out.map((l) => ({ price: l.price, quantity: l.quantity.toString(), orderCount: l.orderCount }));
    };
    return { bids: levels(Side.SIDE_BUY), asks: levels(Side.SIDE_SELL) };
  }

  /**
   * What an auction reads: the orders it can fill (bids at or above the best ask, asks at
   * or below the best bid — `crossing` of auction.ts, found from each side's best price
   * downwards in the price index, so O(k·log n) for k of them whatever the book's depth)
   * and the live ioc orders, which expire after it. `any` says whether the book is empty.
   */
  private auctionOrders(ctx: Context, marketId: string): { cross: Order[]; ioc: Order[]; any: boolean } {
    const { bid, ask } = this.bestPrices(ctx, marketId);
    const cross: Order[] = [];
    if (bid && ask && bid.gte(ask)) {
      for (const o of this.bookSide(ctx, marketId, Side.SIDE_BUY)) {
        if (Dec.parse(o.price).lt(ask)) break;
        cross.push(o);
      }
      for (const o of this.bookSide(ctx, marketId, Side.SIDE_SELL)) {
        if (Dec.parse(o.price).gt(bid)) break;
        cross.push(o);
      }
    }
    const ioc = [...this.indexed(ctx, marketId, key(IOC, marketId))];
    return { cross, ioc, any: bid !== null || ask !== null };
  }

  // --- auction and settlement -----------------------------------------------------------

  getAuction(ctx: Context, marketId: string): AuctionResult | undefined {
    return getProto(this.kv(ctx), skey(AUCTION, marketId), AuctionResult);
  }

  getFunding(ctx: Context, marketId: string): FundingState | undefined {
    return getProto(this.kv(ctx), skey(FUNDING, marketId), FundingState);
  }

  setFunding(ctx: Context, f: FundingState): void {
    setProto(this.kv(ctx), skey(FUNDING, f.marketId), FundingState, f);
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
      this.sweepPoolAccount(ctx, market);
      this.updateFunding(ctx, market, oracle, clearing);
    }
    // Coverage and stress of every pool over the block's final positions (SPEC §3.8).
    updateCoverage(ctx, { markets: this.markets, oracle: this.oracle, margin: this.margin, insurance: this.insurance });
    this.markBlockStart(ctx);
  }

  private runMarket(ctx: Context, market: Market, oracle: Dec): Dec | null {
    let { cross, ioc, any } = this.auctionOrders(ctx, market.id);
    if (this.preventSelfTrades(ctx, market, cross)) ({ cross, ioc, any } = this.auctionOrders(ctx, market.id));
    let res = this.clear(market, oracle, cross, any);
    // No credit without cash (SPEC §3.6 step 7): an auction whose fills would leave a loss
    // that nobody pays is cleared again without the orders that cause it.
    for (let drop = res.cleared ? this.unbackedOrders(ctx, market, cross, res) : []; drop.length > 0; drop = res.cleared ? this.unbackedOrders(ctx, market, cross, res) : []) {
      for (const { order, why } of drop) {
        this.removeOrder(ctx, order);
        ctx.events.emitTyped("backstop.clearing.v1.EventOrderCancelled", { order_id: order.id.toString(), owner: order.owner, market_id: market.id, reason: why });
      }
      ({ cross, ioc, any } = this.auctionOrders(ctx, market.id));
      res = this.clear(market, oracle, cross, any);
    }
    const result: AuctionResult = res.cleared
      ? { marketId: market.id, height: ctx.height, cleared: true, clearingPrice: res.price.toString(), matchedQuantity: res.volume.toString(), demand: res.demand.toString(), supply: res.supply.toString(), reason: "" }
      : { marketId: market.id, height: ctx.height, cleared: false, clearingPrice: "", matchedQuantity: "0", demand: "0", supply: "0", reason: res.reason };
    if (any) {
      setProto(this.kv(ctx), skey(AUCTION, market.id), AuctionResult, result);
      ctx.events.emitTyped("backstop.clearing.v1.EventAuctionCleared", { result: AuctionResult.toJSON(result) });
    }
    // The orders the auction touches, in id order, as they stand: only a fill changes an order while the market clears.
    const byId = new Map<bigint, Order>();
    for (const o of [...cross, ...ioc].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) byId.set(o.id, o);
    const filled = new Set<bigint>();
    if (res.cleared) {
      const imr = this.margin.ratios(ctx, market).imr;
      const pool = this.insurance.getPool(ctx, market.insurancePoolId);
      const fees: FeeTally = { share: pool ? Dec.parse(pool.feeShare || "0") : Dec.ZERO, toPool: 0n, toCollector: 0n };
      let opened = { buy: Dec.ZERO, sell: Dec.ZERO };
      for (const f of res.fills) {
        const o = byId.get(f.id)!;
        byId.set(f.id, this.settleFill(ctx, market, o, f.quantity, res.price, imr, fees));
        filled.add(f.id);
        if (opens(o)) {
          // What the order could still add shrinks by what it filled (the market's once per auction).
          const e = this.exposure(ctx, o.owner, market.id);
          this.setExposure(ctx, o.owner, market.id, { open: e.open, ...addSide(e, o.side, f.quantity.neg()) });
          opened = addSide({ open: 0, ...opened }, o.side, f.quantity);
        }
      }
      this.moveMarketExposure(ctx, market.id, Side.SIDE_BUY, opened.buy.neg());
      this.moveMarketExposure(ctx, market.id, Side.SIDE_SELL, opened.sell.neg());
      // The auction's fees move once: the pool's shares (each fill's rounded down) and the rest to the fee collector.
      if (fees.toPool > 0n) this.insurance.receiveRevenue(ctx, pool!.id, fees.toPool, MARGIN_MODULE);
      if (fees.toCollector > 0n) this.bank.sendModuleToModule(ctx, MARGIN_MODULE, FEE_COLLECTOR, this.margin.getParams(ctx).collateralDenom, fees.toCollector);
    }
    // ioc remainders expire; filled orders leave the book (only crossing orders can have
    // filled); a gtc order filled in part is stored as it now stands.
    for (const cur of byId.values()) {
      const rem = Dec.parse(cur.quantity).sub(Dec.parse(cur.filledQuantity));
      if (rem.isZero()) this.removeOrder(ctx, cur);
      else if (cur.timeInForce === TimeInForce.TIME_IN_FORCE_IOC) {
        this.removeOrder(ctx, cur);
        ctx.events.emitTyped("backstop.clearing.v1.EventOrderCancelled", { order_id: cur.id.toString(), owner: cur.owner, market_id: market.id, reason: "ioc expired" });
      } else if (filled.has(cur.id)) this.updateOrder(ctx, cur);
    }
    return res.cleared ? res.price : null;
  }

  /** The batch auction over the crossing orders (they clear as the whole book would; auction.ts). */
  private clear(market: Market, oracle: Dec, cross: readonly Order[], any: boolean): ReturnType<typeof runAuction> {
    if (cross.length === 0) return { cleared: false, reason: any ? "no_cross" : "no_orders" };
    const live = cross.map((o) => ({ id: o.id, side: o.side === Side.SIDE_BUY ? ("buy" as const) : ("sell" as const), price: Dec.parse(o.price), quantity: Dec.parse(o.quantity).sub(Dec.parse(o.filledQuantity)) }));
    return runAuction(live, { oraclePrice: oracle, band: Dec.parse(market.priceBand) });
  }

  /**
   * Self-trade prevention (SPEC §3.4): an account's own orders never fill against each
   * other. In a uniform-price auction an owner's buy and sell can both fill only if the
   * buy's limit is at or above the sell's, so among the crossing orders, taken oldest
   * first, an order that crosses an older live order of its owner on the other side is
   * cancelled (the newer one). Orders outside the crossing set cannot cross each other.
   * Liquidation orders are left alone (the owner's orders were cancelled when they were
   * placed). Returns whether anything was cancelled.
   */
  private preventSelfTrades(ctx: Context, market: Market, cross: readonly Order[]): boolean {
    const sides = new Map<string, { bid: Order | null; ask: Order | null }>();
    let cancelled = false;
    for (const o of [...cross].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (o.isLiquidation) continue;
      const own = sides.get(o.owner) ?? { bid: null, ask: null };
      sides.set(o.owner, own);
      const price = Dec.parse(o.price);
      const against = o.side === Side.SIDE_BUY ? own.ask : own.bid;
      if (against && (o.side === Side.SIDE_BUY ? price.gte(Dec.parse(against.price)) : price.lte(Dec.parse(against.price)))) {
        this.removeOrder(ctx, o);
        ctx.events.emitTyped("backstop.clearing.v1.EventOrderCancelled", { order_id: o.id.toString(), owner: o.owner, market_id: market.id, reason: `self-trade prevention: crosses the owner's order ${against.id}` });
        cancelled = true;
        continue;
      }
      if (o.side === Side.SIDE_BUY) {
        if (!own.bid || price.gt(Dec.parse(own.bid.price))) own.bid = o;
      } else if (!own.ask || price.lt(Dec.parse(own.ask.price))) own.ask = o;
    }
    return cancelled;
  }

  /**
   * The orders whose fills in `res` must not settle, found by settling the fills on copies
   * of the positions, in order of precedence:
   *  1. a reduce-only order that would not reduce what is left of its owner's position
   *     (several reduce-only orders, each within the position when placed, would together
   *     flip it: new exposure with no initial margin and past every cap);
   *  2. an order that is not a liquidation order and would close its position beyond the
   *     bankruptcy price (SPEC §3.6 step 7, no credit without cash: the owner's loss beyond
   *     margin would be paid by the pool to whoever took the other side);
   *  3. the newest orders that add exposure, while open interest would pass its cap (the
   *     cap is enforced here, on what actually fills, so that orders resting far from the
   *     market cannot hold it against honest traders);
   *  4. while the liquidation orders' deficits together pass what the waterfall will pay
   *     (`lossRoom`), the liquidation order with the largest deficit; its position is left
   *     for the next block's tiers (the auction, takeover, ADL).
   * Empty when every fill may settle.
   */
  private unbackedOrders(ctx: Context, market: Market, cross: readonly Order[], res: Extract<ReturnType<typeof runAuction>, { cleared: true }>): { order: Order; why: string }[] {
    const byId = new Map(cross.map((o) => [o.id, o]));
    const index = this.margin.fundingIndexOf(ctx, market.id);
    const sim = new Map<string, { size: Dec; entry: Dec; margin: bigint }>();
    const drop: { order: Order; why: string }[] = [];
    const opening: { order: Order; added: Dec }[] = [];
    let worst: { order: Order; deficit: bigint } | null = null;
    let total = 0n;
    let growth = 0n; // raw change of Σ long parts
    for (const f of res.fills) {
      const o = byId.get(f.id)!;
      let p = sim.get(o.owner);
      if (!p) {
        const pos = this.margin.getPosition(ctx, o.owner, market.id);
        const v = pos ? positionValues(pos) : null;
        p = v ? { size: v.size, entry: v.entryPrice, margin: v.margin - accruedFunding(v, index) } : { size: Dec.ZERO, entry: Dec.ZERO, margin: 0n };
      }
      const q = o.side === Side.SIDE_BUY ? f.quantity : f.quantity.neg();
      const c = closePart(p.size, p.entry, p.margin, q, res.price);
      const after = c.size.add(c.extra);
      // The opening part's margin does not change a deficit already made; the size does.
      sim.set(o.owner, { size: after, entry: c.extra.isZero() ? c.entry : c.size.isZero() ? res.price : averageEntry(c.size, c.entry, c.extra, res.price), margin: c.margin });
      if (o.reduceOnly && !c.extra.isZero()) {
        drop.push({ order: o, why: "reduce-only: would not reduce what is left of the position" });
        continue;
      }
      growth += longRaw(after) - longRaw(p.size);
      if (!c.extra.isZero()) opening.push({ order: o, added: c.extra.abs() });
      if (c.deficit === 0n) continue;
      if (!o.isLiquidation) {
        drop.push({ order: o, why: "would close beyond the bankruptcy price" });
        continue;
      }
      total += c.deficit;
      if (!worst || c.deficit > worst.deficit) worst = { order: o, deficit: c.deficit };
    }
    if (drop.length > 0) return drop;
    const cap = growth > 0n ? this.openInterestCap(ctx, market) : null;
    if (cap !== null) {
      const oi = this.margin.openInterest(ctx, market.id).add(Dec.fromRaw(growth));
      const mark = Dec.parse(this.oracle.getPrice(ctx, market.oracleTicker)!.price);
      if (notionalCeil(oi, mark) > cap) {
        // The newest orders that add exposure go first, until what they added covers the excess.
        let excess = oi.sub(Dec.ratio(cap, 1_000_000n, "floor").div(mark, "floor"));
        for (const x of opening.sort((a, b) => (a.order.id > b.order.id ? -1 : 1))) {
          if (!excess.isPositive()) break;
          drop.push({ order: x.order, why: "open-interest cap" });
          excess = excess.sub(x.added);
        }
        if (drop.length > 0) return drop;
      }
    }
    if (worst && total > this.lossRoom(ctx, market)) return [{ order: worst.order, why: "liquidation: the waterfall cannot pay the deficit of this fill" }];
    return [];
  }

  /**
   * Tier 1, the incremental close (SPEC §3.6 step 2): for every position the new mark
   * makes liquidatable (found through the liquidation index), a reduce-only ioc order into
   * this block's auction for the smallest part that restores E ≥ IMR·notional, at most
   * max_liquidation_fraction_per_block of it (a position under min_liquidation_notional
   * goes whole). Its limit is the bankruptcy price while the mark is on the solvent side
   * of it, else the mark less liquidation_slippage — but never so far that a fill at the
   * limit would leave a deficit beyond what the insurance waterfall can still pay this
   * block. A bankrupt position whose deficit at the mark is beyond the waterfall goes to
   * ADL instead (tier 4). Positions a pool took over are never liquidated: the pool
   * unwinds them (see unwindPoolInventory).
   */
  placeLiquidations(ctx: Context, market: Market, mark: Dec): number {
    const pools = new Set(this.insurance.pools(ctx).map((p) => poolAccount(p.id)));
    const positions = this.margin.liquidatable(ctx, market, mark).filter((p) => !pools.has(p.owner));
    this.updateAuctions(ctx, market, mark, positions);
    this.unwindPoolInventory(ctx, market, mark);
    if (positions.length === 0) return 0;
    const index = this.margin.fundingIndexOf(ctx, market.id);
    const step = Dec.parse(market.stepSize);
    const tick = Dec.parse(market.tickSize);
    const slip = Dec.parse(market.liquidationSlippage);
    // What the waterfall can pay (read once; only ADL below pays from it before the auction),
    // less the worst-case deficits of the liquidation orders placed so far in this market:
    // the waterfall must be able to pay all of them when the auction settles.
    let capacity = this.lossRoom(ctx, market);
    let committed = 0n;
    let placed = 0;
    for (const found of positions) {
      // A takeover or ADL above may have closed it; liquidation orders are ioc, so none is live.
      const p = this.margin.getPosition(ctx, found.owner, market.id);
      if (!p || Dec.parse(p.size).isZero()) continue;
      const v = positionValues(p);
      const e = equity(v, mark, index);
      const room = capacity - committed;
      const close = incrementalClose({
        size: v.size,
        equity: e,
        mark,
        bankruptcy: bankruptcyPrice(v, index) ?? mark,
        imr: this.margin.ratiosFor(ctx, market, v).imr,
        stepSize: step,
        tickSize: tick,
        maxFraction: Dec.parse(market.maxLiquidationFractionPerBlock),
        minNotionalUusdc: BigInt(market.minLiquidationNotionalUusdc),
        slippage: slip,
        room,
      });
      let qty = close.quantity;
      if (!qty.isPositive()) continue;
      if (!close.solvent && -e > room) {
        // Tier 4: nothing stands behind this deficit but the winners.
        const left = this.autoDeleverage(ctx, market, p, mark, room > 0n ? room : 0n);
        capacity = this.lossRoom(ctx, market);
        if (left.isZero()) continue;
        qty = left; // no profitable counterparty is left: the book takes the rest
      }
      if (!close.solvent && qty.eq(v.size.abs())) {
        const worst = equity(v, close.limit, index);
        if (worst < 0n) committed += -worst;
      }
      this.cancelOrdersOf(ctx, p.owner, market.id, "liquidation");
      this.placeLiquidationOrder(ctx, market, p.owner, v.size.isPositive(), qty, close.limit);
      placed++;
    }
    return placed;
  }

  /**
   * Cancels an owner's live orders in a market (not liquidation orders): a position being
   * liquidated must not fill against its owner's own resting orders, and their
   * reservations return to free collateral.
   */
  private cancelOrdersOf(ctx: Context, owner: string, marketId: string, reason: string): void {
    for (const o of this.ordersOf(ctx, owner)) {
      if (o.marketId !== marketId || o.isLiquidation) continue;
      this.removeOrder(ctx, o);
      ctx.events.emitTyped("backstop.clearing.v1.EventOrderCancelled", { order_id: o.id.toString(), owner, market_id: marketId, reason });
    }
  }

  private placeLiquidationOrder(ctx: Context, market: Market, owner: string, long: boolean, qty: Dec, limit: Dec): void {
    const order: Order = {
      id: this.nextOrderId(ctx),
      owner,
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
      reservedUusdc: "0",
    };
    this.insertOrder(ctx, order, this.exposure(ctx, owner, market.id));
    ctx.events.emitTyped("backstop.clearing.v1.EventOrderPlaced", { order: Order.toJSON(order) });
  }

  // --- tier 3: pool takeover and unwinding ------------------------------------------------

  /**
   * SPEC §3.6 step 4: a position that neither the book nor the auction took within
   * auction_blocks is taken over by its pool at the mark. The owner's position closes at
   * the mark (its deficit paid by the waterfall, the liquidation fee out of what equity is
   * left); the same size opens at the mark under the pool's account with no margin (E = 0),
   * so that the pool now carries it — its NAV counts it at mark — and unwinds it through
   * reduce-only orders in later auctions. If the waterfall cannot pay the deficit, ADL.
   */
  private takeOver(ctx: Context, market: Market, p: { owner: string }, mark: Dec): void {
    let pos = this.margin.getPosition(ctx, p.owner, market.id);
    if (!pos || Dec.parse(pos.size).isZero()) return;
    // The takeover cap (SPEC §3.6 step 7): the pool carries at most max_takeover_fraction
    // of its net assets in notional in this market; the part beyond goes to ADL first, at
    // the bankruptcy price, which leaves the rest's economics unchanged.
    const allowed = this.takeoverRoom(ctx, market, Dec.parse(pos.size), mark);
    const excess = Dec.parse(pos.size).abs().sub(allowed);
    if (excess.isPositive()) {
      this.autoDeleverage(ctx, market, pos, mark, 0n, excess);
      pos = this.margin.getPosition(ctx, p.owner, market.id);
      if (!pos || Dec.parse(pos.size).isZero()) return;
      // Whatever ADL could not place (no profitable counterparty left) stays with its owner.
      if (Dec.parse(pos.size).abs().gt(allowed)) return;
    }
    const v = positionValues(pos);
    const index = this.margin.fundingIndexOf(ctx, market.id);
    const e = equity(v, mark, index);
    const room = this.lossRoom(ctx, market);
    if (-e > room) {
      // What ADL cannot place stays liquidatable: this block's tier 1 offers it to the book.
      this.autoDeleverage(ctx, market, pos, mark, room);
      return;
    }
    const { imr } = this.margin.ratios(ctx, market);
    const acct = poolAccount(market.insurancePoolId);
    const free0 = this.margin.freeCollateral(ctx, pos.owner);
    const { deficit } = this.margin.applyFill(ctx, pos.owner, market.id, v.size.neg(), mark, imr);
    const fee = this.takeLiquidationFee(ctx, market, pos.owner, this.margin.freeCollateral(ctx, pos.owner) - free0, notionalCeil(v.size, mark));
    if (deficit > 0n) this.payDeficit(ctx, market, deficit);
    // Netting against inventory the pool holds on the other side realises that inventory's
    // loss or gain at the mark: a loss is the pool's own, paid like any deficit.
    const inv = this.margin.applyFill(ctx, acct, market.id, v.size, mark, imr);
    if (inv.deficit > 0n) this.payDeficit(ctx, market, inv.deficit);
    this.recordLiquidation(ctx, { height: ctx.height, marketId: market.id, owner: pos.owner, tier: LiquidationTier.LIQUIDATION_TIER_POOL_TAKEOVER, quantity: v.size.abs().toString(), price: mark.toString(), feeUusdc: fee.toString(), deficitUusdc: deficit.toString() });
    ctx.events.emitTyped("backstop.clearing.v1.EventPoolTakeover", { pool_id: market.insurancePoolId, market_id: market.id, owner: pos.owner, size: v.size.toString(), price: mark.toString(), deficit_uusdc: deficit.toString() });
  }

  /**
   * What the waterfall will pay for deficits in this market now: what it can pay
   * (`InsuranceKeeper.capacity`), but at most max_takeover_fraction of the pool's net
   * assets as of the block's start, less what it has paid in the market in this block —
   * the same bound as the takeover cap, so that one incident in one market costs the pool
   * at most that share of its capital however the loss arrives (a gap through the
   * bankruptcy price, the liquidation auction, a takeover) and however many accounts it is
   * split across; beyond it, ADL.
   */
  lossRoom(ctx: Context, market: Market): bigint {
    const capacity = this.insurance.capacity(ctx, market.insurancePoolId);
    const pool = this.insurance.getPool(ctx, market.insurancePoolId);
    if (!pool) return 0n;
    const fraction = market.maxTakeoverFraction === "" ? Dec.ONE : Dec.parse(market.maxTakeoverFraction);
    const assets = big(pool.netAssetsUusdc);
    const budget = fraction.mulIntToInt(assets > 0n ? assets : 0n, "floor") - this.blockLoss(ctx, market.id);
    const room = budget < capacity ? budget : capacity;
    return room > 0n ? room : 0n;
  }

  /** What the waterfall has paid for deficits in the market in this block. */
  private blockLoss(ctx: Context, marketId: string): bigint {
    const raw = this.kv(ctx).get(skey(BLOCK_LOSS, marketId));
    if (!raw) return 0n;
    const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return b.readBigUInt64BE(0) === ctx.height ? BigInt(b.subarray(8).toString()) : 0n;
  }

  /**
   * How much of a position of `size` the market's pool may take over now: its net assets ×
   * max_takeover_fraction in notional at the mark, less the inventory it already carries
   * on that side (or plus it, when the takeover nets against inventory on the other side);
   * on the step, rounded down.
   */
  private takeoverRoom(ctx: Context, market: Market, size: Dec, mark: Dec): Dec {
    const pool = this.insurance.getPool(ctx, market.insurancePoolId);
    if (!pool || !mark.isPositive()) return Dec.ZERO;
    const fraction = market.maxTakeoverFraction === "" ? Dec.ONE : Dec.parse(market.maxTakeoverFraction);
    const assets = this.insurance.book(ctx, pool).assets;
    const capSize = Dec.ratio(fraction.mulIntToInt(assets > 0n ? assets : 0n, "floor"), 1_000_000n, "floor").div(mark, "floor");
    const inv = this.margin.getPosition(ctx, poolAccount(pool.id), market.id);
    const held = inv ? Dec.parse(inv.size) : Dec.ZERO;
    const room = held.isZero() || held.isPositive() === size.isPositive() ? capSize.sub(held.abs()) : capSize.add(held.abs());
    return room.isPositive() ? Dec.min(roundDownTo(room, Dec.parse(market.stepSize)), size.abs()) : Dec.ZERO;
  }

  /** The liquidation fee of a full close: rate × notional, out of the equity the close released to free collateral. */
  private takeLiquidationFee(ctx: Context, market: Market, owner: string, released: bigint, notional: bigint): bigint {
    const fee = liquidationFee(Dec.parse(market.liquidationFeeRate), notional, released);
    if (fee <= 0n) return 0n;
    this.margin.subFree(ctx, owner, fee);
    this.insurance.receiveRevenue(ctx, market.insurancePoolId, fee, MARGIN_MODULE);
    return fee;
  }

  /**
   * A pool's inventory in this market is offered every block through a reduce-only ioc
   * order for at most max_liquidation_fraction_per_block of it (the rest whole once under
   * min_liquidation_notional), within liquidation_slippage
   * of the mark. What the fills release returns to the pool's balance (see sweepPoolAccount).
   */
  private unwindPoolInventory(ctx: Context, market: Market, mark: Dec): void {
    const acct = poolAccount(market.insurancePoolId);
    let pos = this.margin.getPosition(ctx, acct, market.id);
    if (!pos || Dec.parse(pos.size).isZero()) return;
    // The pool's inventory is risk-managed like any position (SPEC §3.6 step 7): when its
    // loss at the mark is more than the waterfall can pay, ADL closes it against the
    // profitable side, the pools paying what they can.
    const loss = -equity(positionValues(pos), mark, this.margin.fundingIndexOf(ctx, market.id));
    const room = this.lossRoom(ctx, market);
    if (loss > room) {
      this.autoDeleverage(ctx, market, pos, mark, room);
      pos = this.margin.getPosition(ctx, acct, market.id);
      if (!pos || Dec.parse(pos.size).isZero()) return;
    }
    const size = Dec.parse(pos.size);
    const abs = size.abs();
    const step = Dec.parse(market.stepSize);
    const tick = Dec.parse(market.tickSize);
    const slip = Dec.parse(market.liquidationSlippage);
    const whole = notionalFloor(abs, mark) < BigInt(market.minLiquidationNotionalUusdc);
    const qty = whole ? abs : Dec.min(roundUpTo(abs.mul(Dec.parse(market.maxLiquidationFractionPerBlock), "ceil"), step), abs);
    const long = size.isPositive();
    const limit = long ? roundUpTo(Dec.max(mark.mul(Dec.ONE.sub(slip), "floor"), tick), tick) : roundDownTo(mark.mul(Dec.ONE.add(slip), "ceil"), tick);
    this.placeLiquidationOrder(ctx, market, acct, long, qty, limit);
  }

  /** Free collateral of the pool's account (released by unwinding) goes back to the pool. */
  private sweepPoolAccount(ctx: Context, market: Market): void {
    const acct = poolAccount(market.insurancePoolId);
    const free = this.margin.freeCollateral(ctx, acct);
    if (free <= 0n) return;
    this.margin.subFree(ctx, acct, free);
    this.insurance.receiveRevenue(ctx, market.insurancePoolId, free, MARGIN_MODULE);
  }

  /** The value at mark of the positions a pool carries (signed uusdc), for its NAV. */
  inventoryValue(ctx: Context, poolId: string): bigint {
    const pool = this.insurance.getPool(ctx, poolId);
    if (!pool) return 0n;
    const acct = poolAccount(poolId);
    let n = 0n;
    for (const id of pool.marketIds) {
      const pos = this.margin.getPosition(ctx, acct, id);
      const market = this.markets.get(ctx, id);
      if (!pos || !market || Dec.parse(pos.size).isZero()) continue;
      const price = this.oracle.getPrice(ctx, market.oracleTicker);
      if (!price) continue;
      n += equity(positionValues(pos), Dec.parse(price.price), this.margin.fundingIndexOf(ctx, id));
    }
    return n;
  }

  // --- tier 4: auto-deleveraging -----------------------------------------------------------

  /**
   * SPEC §3.6 step 6, only when the waterfall cannot pay the deficit at the mark: the
   * bankrupt position closes against opposite-side positions in profit at the mark,
   * highest effective leverage (notional / equity at mark) first, ties by address; each
   * is closed as far as needed before the next. The price is the bankruptcy price moved
   * toward the mark by what the waterfall can still pay (`room`, spread over the size) and
   * rounded to the tick on the position's side: the pools pay what they can, the winners
   * give up only the rest. Each step is an ADL record and event with the profit it gave up
   * (the distance from mark to that price × quantity). Returns the size not closed
   * (non-zero only when no profitable counterparty is left). A last resort, so it reads
   * the market's opposite side in full.
   */
  autoDeleverage(ctx: Context, market: Market, p: { owner: string }, mark: Dec, room: bigint, qty?: Dec): Dec {
    const pos = this.margin.requirePosition(ctx, p.owner, market.id);
    const v = positionValues(pos);
    const index = this.margin.fundingIndexOf(ctx, market.id);
    const long = v.size.isPositive();
    const tick = Dec.parse(market.tickSize);
    const price = adlPrice(v.size, bankruptcyPrice(v, index) ?? mark, mark, room, tick);
    const { imr } = this.margin.ratios(ctx, market);
    const pools = new Set(this.insurance.pools(ctx).map((x) => poolAccount(x.id)));
    const ranked = this.margin
      .positionsIn(ctx, market.id)
      .filter((c) => c.owner !== p.owner && !pools.has(c.owner) && Dec.parse(c.size).isPositive() !== long && !Dec.parse(c.size).isZero())
      .map((c) => {
        const cv = positionValues(c);
        const ce = equity(cv, mark, index);
        return { c, size: cv.size.abs(), equity: ce, notional: notionalCeil(cv.size, mark), profit: ce - cv.margin };
      })
      .filter((x) => x.profit > 0n && x.equity > 0n)
      // leverage a > leverage b ⇔ notional_a · equity_b > notional_b · equity_a
      .sort((a, b) => {
        const l = a.notional * b.equity;
        const r = b.notional * a.equity;
        if (l !== r) return l > r ? -1 : 1;
        return a.c.owner < b.c.owner ? -1 : a.c.owner > b.c.owner ? 1 : 0;
      });
    let left = qty && qty.lt(v.size.abs()) ? qty : v.size.abs();
    let closed = Dec.ZERO;
    let deficit = 0n;
    for (const x of ranked) {
      if (left.isZero()) break;
      const take = Dec.min(left, x.size);
      const r = this.margin.applyFill(ctx, p.owner, market.id, long ? take.neg() : take, price, imr);
      deficit += r.deficit;
      this.margin.applyFill(ctx, x.c.owner, market.id, long ? take : take.neg(), price, imr);
      const given = notionalFloor(take, long ? price.sub(mark) : mark.sub(price));
      const rec: AdlRecord = { height: ctx.height, marketId: market.id, bankruptOwner: p.owner, counterparty: x.c.owner, quantity: take.toString(), price: price.toString(), amountUusdc: given.toString() };
      this.recordAdl(ctx, rec);
      left = left.sub(take);
      closed = closed.add(take);
    }
    if (closed.isPositive()) {
      if (deficit > 0n) this.payDeficit(ctx, market, deficit);
      this.recordLiquidation(ctx, { height: ctx.height, marketId: market.id, owner: p.owner, tier: LiquidationTier.LIQUIDATION_TIER_ADL, quantity: closed.toString(), price: price.toString(), feeUusdc: "0", deficitUusdc: deficit.toString() });
      const rest = this.margin.getPosition(ctx, p.owner, market.id);
      if (!rest || Dec.parse(rest.size).isZero()) this.kv(ctx).delete(this.auctionKey(market.id, p.owner));
    }
    return left;
  }

  private recordAdl(ctx: Context, r: AdlRecord): void {
    this.append(ctx, ADL, ADL_COUNT, AdlRecord, r);
    ctx.events.emitTyped("backstop.clearing.v1.EventAdl", { record: AdlRecord.toJSON(r) });
  }

  adlCount(ctx: Context): bigint {
    return this.count(ctx, ADL_COUNT);
  }

  /** The `seq`-th ADL record (1 = the first). */
  adlRecordAt(ctx: Context, seq: bigint): AdlRecord {
    const r = getProto(this.kv(ctx), Buffer.concat([key(ADL), u64(seq)]), AdlRecord);
    if (!r) throw new Error(`ADL record ${seq} missing`);
    return r;
  }

  adlHistory(ctx: Context): AdlRecord[] {
    return [...scanProto(this.kv(ctx), key(ADL), AdlRecord)].map(([, r]) => r);
  }

  /** Appends to a history kept under `table` ‖ u64 seq, its length under `countTable`. */
  private append<T>(ctx: Context, table: number, countTable: number, type: ProtoType<T>, value: T): void {
    const next = this.count(ctx, countTable) + 1n;
    setProto(this.kv(ctx), Buffer.concat([key(table), u64(next)]), type, value);
    this.kv(ctx).set(skey(countTable), u64(next));
  }

  private count(ctx: Context, countTable: number): bigint {
    const raw = this.kv(ctx).get(skey(countTable));
    return raw ? Buffer.from(raw).readBigUInt64BE() : 0n;
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
    const crossing = new Set(liquidatable.map((p) => p.owner));
    for (const [, a] of [...scanProto(kv, key(AUCTIONS, market.id), LiquidationAuction)]) {
      const p = this.margin.getPosition(ctx, a.owner, market.id);
      if (!p || Dec.parse(p.size).isZero() || (!crossing.has(a.owner) && !isLiquidatable(positionValues(p), mark, index, this.margin.ratiosFor(ctx, market, positionValues(p)).mmr))) kv.delete(this.auctionKey(market.id, a.owner));
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
      } else if (cur.startPrice !== "" && ctx.height - cur.startHeight >= market.auctionBlocks) {
        // Nobody took it within auction_blocks: the pool takes it over at mark (tier 3).
        kv.delete(k);
        this.takeOver(ctx, market, pos, mark);
      } else if (cur.startPrice !== "") {
        setProto(kv, k, LiquidationAuction, { ...cur, sizeRemaining: size, currentPrice: this.auctionPrice(ctx, market, cur, pos, mark).toString() });
      }
    }
  }

  /**
   * The takeover price now (SPEC §3.6 step 3 and step 7): from the current mark, worse for
   * the position by auction_step per block since the auction began, at most
   * auction_max_discount — and, while the position is solvent at the mark, never past its
   * bankruptcy price: a liquidator's discount comes out of the position's own equity,
   * never out of a pool. (Priced from the mark at the start, a position still
   * liquidatable through a rebound was sold far below the current mark, and a discount
   * above the MMR handed a colluding bidder the pool's money.)
   */
  auctionPrice(ctx: Context, market: Market, a: LiquidationAuction, pos: Position, mark: Dec): Dec {
    const v = positionValues(pos);
    const long = v.size.isPositive();
    const tick = Dec.parse(market.tickSize);
    const price = dutchPrice(mark, ctx.height - a.startHeight, Dec.parse(market.auctionStep), Dec.parse(market.auctionMaxDiscount), tick, long);
    const index = this.margin.fundingIndexOf(ctx, market.id);
    const bk = bankruptcyPrice(v, index);
    if (!bk || equity(v, mark, index) < 0n) return price;
    // Solvent at the mark: floored at the bankruptcy price, on the tick toward the mark.
    return long ? Dec.max(price, roundUpTo(bk, tick)) : Dec.min(price, roundDownTo(bk, tick));
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
    const mark = this.oracle.mark(ctx, market.oracleTicker);
    const price = this.auctionPrice(ctx, market, a, pos, mark);
    // The bidder buys a long (pays at most its limit) or sells into a short (receives at least its limit).
    if (long ? price.gt(priceLimit) : price.lt(priceLimit)) throw ErrBidPrice.wrap(`auction price ${price}, limit ${priceLimit}`);
    const { imr } = this.margin.ratios(ctx, market);
    // The bidder's margin at the IMR of the risk tier its position would reach.
    const held = this.margin.getPosition(ctx, bidder, marketId);
    const im = initialRequirement(taken, price, this.margin.ratiosForTier(ctx, market, riskTier(market, (held ? Dec.parse(held.size).abs() : Dec.ZERO).add(taken), price)).imr);
    const free = this.margin.freeCollateral(ctx, bidder);
    if (free < im) throw ErrInsufficientMargin.wrap(`needs ${im}uusdc free, has ${free}uusdc`);
    const ownerSide = long ? taken.neg() : taken;
    const free0 = this.margin.freeCollateral(ctx, owner);
    const { deficit } = this.margin.applyFill(ctx, owner, marketId, ownerSide, price, imr);
    // The waterfall must be able to pay what the bid leaves; beyond it, ADL decides (the tx reverts).
    const room = this.lossRoom(ctx, market);
    if (deficit > room) throw ErrInsuranceExhausted.wrap(`the bid leaves a deficit of ${deficit}uusdc; the waterfall can pay ${room}uusdc`);
    // A bid that closes the bidder's own opposite position beyond its bankruptcy price would
    // leave a loss nobody pays: refused (the tx reverts).
    const own = this.margin.applyFill(ctx, bidder, marketId, ownerSide.neg(), price, imr);
    if (own.deficit > 0n) throw ErrBeyondBankruptcy.wrap(`the bid closes ${bidder}'s own position beyond its bankruptcy price (a loss of ${own.deficit}uusdc beyond its margin)`);
    let fee: bigint;
    if (taken.eq(size.abs())) fee = this.takeLiquidationFee(ctx, market, owner, this.margin.freeCollateral(ctx, owner) - free0, notionalCeil(taken, price));
    else {
      fee = this.margin.chargeFromMargin(ctx, owner, marketId, Dec.parse(market.liquidationFeeRate).mulIntToInt(notionalCeil(taken, price), "ceil"), this.oracle.mark(ctx, market.oracleTicker));
      if (fee > 0n) this.insurance.receiveRevenue(ctx, market.insurancePoolId, fee, MARGIN_MODULE);
    }
    if (deficit > 0n) this.payDeficit(ctx, market, deficit);
    this.recordLiquidation(ctx, { height: ctx.height, marketId, owner, tier: LiquidationTier.LIQUIDATION_TIER_AUCTION, quantity: taken.toString(), price: price.toString(), feeUusdc: fee.toString(), deficitUusdc: deficit.toString() });
    const left = this.margin.getPosition(ctx, owner, marketId);
    if (!left || Dec.parse(left.size).isZero()) this.kv(ctx).delete(this.auctionKey(marketId, owner));
    else setProto(this.kv(ctx), this.auctionKey(marketId, owner), LiquidationAuction, { ...a, sizeRemaining: Dec.parse(left.size).abs().toString(), currentPrice: price.toString() });
    return { taken, price };
  }

  private recordLiquidation(ctx: Context, l: Liquidation): void {
    this.append(ctx, LIQUIDATIONS, LIQ_COUNT, Liquidation, l);
    ctx.events.emitTyped("backstop.clearing.v1.EventLiquidation", { liquidation: Liquidation.toJSON(l) });
  }

  liquidationCount(ctx: Context): bigint {
    return this.count(ctx, LIQ_COUNT);
  }

  /** The `seq`-th liquidation recorded (1 = the first). */
  liquidationAt(ctx: Context, seq: bigint): Liquidation {
    const l = getProto(this.kv(ctx), Buffer.concat([key(LIQUIDATIONS), u64(seq)]), Liquidation);
    if (!l) throw new Error(`liquidation ${seq} missing`);
    return l;
  }

  liquidations(ctx: Context): Liquidation[] {
    return [...scanProto(this.kv(ctx), key(LIQUIDATIONS), Liquidation)].map(([, l]) => l);
  }

  /** Settles one fill of an order; returns the order as it now stands, for the caller to store or remove. */
  private settleFill(ctx: Context, market: Market, o: Order, qty: Dec, price: Dec, imr: Dec, fees: FeeTally): Order {
    const total = Dec.parse(o.quantity).sub(Dec.parse(o.filledQuantity));
    // The owner's free collateral moves several times (reservation, margin, fee): read once, stored once.
    const free = this.margin.readFree(ctx, o.owner);
    // Release the filled part of the reservation (all of it when the order completes).
    const reserved = reservedOf(o);
    const release = qty.eq(total) ? reserved : (reserved * qty.raw) / total.raw;
    free.amount += release;
    const filled: Order = { ...o, filledQuantity: Dec.parse(o.filledQuantity).add(qty).toString(), reservedUusdc: (reserved - release).toString() };

    const maker = o.placedHeight < ctx.height;
    const signed = o.side === Side.SIDE_BUY ? qty : qty.neg();
    const free0 = free.amount;
    const { realized, deficit } = this.margin.fill(ctx, free, market.id, signed, price, imr);
    if (o.isLiquidation) this.margin.saveFree(ctx, free); // the liquidation paths below read and move it themselves
    if (o.isLiquidation && o.owner === poolAccount(market.insurancePoolId)) {
      // A pool unwinding its inventory: no fee to itself; a loss beyond the (zero) margin is its own.
      if (deficit > 0n) this.payDeficit(ctx, market, deficit);
      ctx.events.emitTyped("backstop.clearing.v1.EventFill", {
        order_id: o.id.toString(),
        owner: o.owner,
        market_id: market.id,
        side: o.side === Side.SIDE_BUY ? "SIDE_BUY" : "SIDE_SELL",
        quantity: qty.toString(),
        price: price.toString(),
        fee_uusdc: "0",
        maker: false,
        realized_pnl_uusdc: realized.toString(),
      });
      return filled;
    }
    if (o.isLiquidation) {
      // The liquidation fee (rate × closed notional, capped by what equity is left) goes to the pool;
      // a deficit is paid by the pool at once (tier 3), so the counterparties are paid in full.
      const left = this.margin.getPosition(ctx, o.owner, market.id);
      let fee: bigint;
      if (!left || Dec.parse(left.size).isZero()) {
        // Closed in full: the fee comes out of the equity the close released.
        fee = this.takeLiquidationFee(ctx, market, o.owner, free.amount - free0, notionalCeil(qty, price));
      } else {
        fee = this.margin.chargeFromMargin(ctx, o.owner, market.id, Dec.parse(market.liquidationFeeRate).mulIntToInt(notionalCeil(qty, price), "ceil"), this.oracle.mark(ctx, market.oracleTicker));
        if (fee > 0n) this.insurance.receiveRevenue(ctx, market.insurancePoolId, fee, MARGIN_MODULE);
      }
      if (deficit > 0n) this.payDeficit(ctx, market, deficit);
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
      return filled;
    }
    const rate = Dec.parse(maker ? market.makerFeeRate : market.takerFeeRate);
    const fee = this.margin.chargeFee(ctx, free, market.id, rate.mulIntToInt(notionalCeil(qty, price), "ceil"));
    this.margin.saveFree(ctx, free);
    if (fee > 0n) {
      const share = fees.share.mulIntToInt(fee, "floor");
      fees.toPool += share;
      fees.toCollector += fee - share;
    }
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
    return filled;
  }

  /** A loss beyond a position's margin: the market's pool pays it into the margin account (counted in the block's loss budget). */
  payDeficit(ctx: Context, market: Market, deficit: bigint): bigint {
    const out = this.insurance.coverDeficit(ctx, market.insurancePoolId, deficit, MARGIN_MODULE, market.id);
    if (out.paid > 0n) {
      const h = Buffer.allocUnsafe(8);
      h.writeBigUInt64BE(ctx.height, 0);
      this.kv(ctx).set(skey(BLOCK_LOSS, market.id), Buffer.concat([h, Buffer.from((this.blockLoss(ctx, market.id) + out.paid).toString())]));
    }
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
