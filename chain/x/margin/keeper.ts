/**
 * x/margin keeper: free collateral, isolated positions and each market's current margin
 * ratios (SPEC §3.3). The formulas are the pure functions of `types/risk.ts`; this keeper
 * stores positions and moves uusdc between bank accounts and the `margin` module account.
 *
 * State (under the module prefix 0x04):
 *   0x00                      → Params
 *   0x01 ‖ owner              → Account (free collateral)
 *   0x02 ‖ market ‖ owner     → Position
 *   0x03 ‖ owner ‖ market     → (index: the markets an owner holds a position in)
 *   0x04 ‖ market             → MarketRisk (multiplier, IMR, MMR, MMR target)
 *   0x05 ‖ market ‖ side + 2·tier ‖ key ‖ owner → (the liquidation index, one per side and
 *                               risk tier; see `liquidationKey` and `riskTier`)
 *   0x06 ‖ market             → open interest: Σ long sizes (raw 18-place integer as a decimal string)
 */
import { Context } from "../../app/context";
import { ErrInsufficientFunds } from "../../app/errors";
import { Dec } from "../../math/decimal";
import { PrefixKV } from "../../store/prefix";
import { getProto, getShared, key, skey, prefixEndOf, scanProto, setProto } from "../../store/codec";
import { BankKeeper } from "../bank/keeper";
import { OracleKeeper } from "../oracle/keeper";
import { MarketKeeper, MAX_TIERS } from "../clearing/markets";
import { Account, MarketRisk, Params, Position, PositionRisk } from "../../../client/src/generated/backstop/margin/v1/margin";
import { Market } from "../../../client/src/generated/backstop/clearing/v1/clearing";
import {
  closePart,
  accruedFunding,
  averageEntry,
  notionalFloor,
  bankruptcyPrice,
  equity,
  initialRequirement,
  isBankrupt,
  isLiquidatable,
  maintenanceRequirement,
  marginMultiplier,
  PositionValues,
  liquidationPrice,
  UUSDC_PER_USD,
  scaledRatio,
  stepMmr,
} from "./types/risk";
import { ErrBelowInitialMargin, ErrInsufficientCollateral, ErrNoPosition } from "./errors";
import { MarketIndex, rawToUusdcCeil, SideIndex } from "./coverage";
import { Change, prefixEnd } from "../../store/types";

export const MARGIN_STORE_PREFIX = Uint8Array.of(0x04);
export const MARGIN_MODULE = "margin";
const PARAMS = 0x00;
const ACCOUNT = 0x01;
const POSITION = 0x02;
const BY_OWNER = 0x03;
const RISK = 0x04;
const LIQ_INDEX = 0x05;
const OPEN_INTEREST = 0x06;
const LONG = 0x00;
const SHORT = 0x01;
const KEY_OFFSET = 1n << 255n;
const TIERS = Array.from({ length: MAX_TIERS + 1 }, (_, t) => t);

/**
 * A position's risk tier (SPEC §3.3 risk limits): 0 for the market's base ratios, or i + 1
 * for the highest of its `risk_tiers` whose threshold the position's entry notional
 * (|size| × entry price) passes. The entry notional changes only with a fill, so a
 * position's tier — and its place in the liquidation index — is fixed between fills.
 */
export function riskTier(market: Market, size: Dec, entry: Dec): number {
  if (market.riskTiers.length === 0 || size.isZero()) return 0;
  const n = notionalFloor(size, entry);
  let t = 0;
  market.riskTiers.forEach((r, i) => {
    if (n > BigInt(r.notionalUusdc)) t = i + 1;
  });
  return t;
}

/**
 * The liquidation index orders positions by an MMR- and funding-free key:
 *   long  (s > 0): key = entry − margin/s − snapshot
 *   short (q = −s): key = entry + margin/q − snapshot
 * With I the market's funding index, a long is liquidatable iff key > mark·(1 − MMR) − I
 * and a short iff key < mark·(1 + MMR) − I; its liquidation price is (key + I)/(1 ∓ MMR).
 * MMR and I are common to the market, so the order never changes when they move: finding
 * the k positions a new mark crosses is an ordered scan from one end, O(k · log n).
 */
export function liquidationKey(p: Position): { side: number; key: Dec } | null {
  const v = positionValues(p);
  if (v.size.isZero()) return null;
  const m = Dec.ratio(v.margin, UUSDC_PER_USD, "floor");
  if (v.size.isPositive()) return { side: LONG, key: v.entryPrice.sub(m.div(v.size, "floor")).sub(v.fundingSnapshot) };
  return { side: SHORT, key: v.entryPrice.add(m.div(v.size.abs(), "floor")).sub(v.fundingSnapshot) };
}

/** A liquidation-index key's 32 bytes back to its raw value (exported for tests). */
export function decodeKey(b: Buffer): bigint {
  return BigInt("0x" + b.toString("hex", 0, 32)) - KEY_OFFSET;
}

/** A liquidation-index key as 32 big-endian bytes of raw + 2^255 (mod 2^256), so byte order is numeric order (exported for tests). */
export function encodeKey(k: Dec): Buffer {
  return Buffer.from(BigInt.asUintN(256, k.raw + KEY_OFFSET).toString(16).padStart(64, "0"), "hex");
}

export const DEFAULT_MARGIN_PARAMS: Params = { collateralDenom: "uusdc", maxMmrStepPerBlock: "0.001" };

/** The cumulative funding index of a market (USD per unit); the clearing module provides it. */
export type FundingIndexFn = (ctx: Context, marketId: string) => Dec;

/** The long part of a size string (raw): the size if positive, else 0. */
function longPart(size: string): bigint {
  const r = Dec.parse(size).raw;
  return r > 0n ? r : 0n;
}

export function positionValues(p: Position): PositionValues {
  return { size: Dec.parse(p.size), entryPrice: Dec.parse(p.entryPrice), margin: BigInt(p.marginUusdc), fundingSnapshot: Dec.parse(p.fundingIndexSnapshot) };
}

/** An owner's free collateral as an operation moves it (see `MarginKeeper.readFree`). */
export interface FreeTally {
  readonly owner: string;
  /** The amount now (uusdc). */
  amount: bigint;
  /** The amount in the store. */
  stored: bigint;
}

export class MarginKeeper {
  /** Until the clearing module installs its funding index, every index is zero. */
  private fundingIndex: FundingIndexFn = () => Dec.ZERO;

  constructor(
    private readonly bank: BankKeeper,
    private readonly oracle: OracleKeeper,
    private readonly markets: MarketKeeper,
  ) {}

  setFundingIndex(f: FundingIndexFn): void {
    this.fundingIndex = f;
  }

  /** Pre-emptive margin (SPEC §3.8): a factor ≥ 1 on a market's multiplier, from its pool's coverage; 1 until installed. */
  private coverageFactor: (ctx: Context, market: Market) => Dec = () => Dec.ONE;

  setCoverageFactor(f: (ctx: Context, market: Market) => Dec): void {
    this.coverageFactor = f;
  }

  private kv(ctx: Context): PrefixKV {
    return new PrefixKV(ctx.store, MARGIN_STORE_PREFIX);
  }

  getParams(ctx: Context): Params {
    return getShared(this.kv(ctx), skey(PARAMS), Params) ?? DEFAULT_MARGIN_PARAMS;
  }

  setParams(ctx: Context, p: Params): void {
    setProto(this.kv(ctx), skey(PARAMS), Params, p);
  }

  // --- free collateral -------------------------------------------------------------

  freeCollateral(ctx: Context, owner: string): bigint {
    const a = getProto(this.kv(ctx), skey(ACCOUNT, owner), Account);
    return a ? BigInt(a.freeCollateralUusdc) : 0n;
  }

  /**
   * An owner's free collateral read once, for an operation that moves it several times
   * (a fill: the reservation released, margin taken or released, the fee): the moves are
   * made on the returned tally and stored once by `saveFree`. Nothing else may move the
   * owner's free collateral in between.
   */
  readFree(ctx: Context, owner: string): FreeTally {
    const amount = this.freeCollateral(ctx, owner);
    return { owner, amount, stored: amount };
  }

  /** Stores a tally's amount (if it moved). */
  saveFree(ctx: Context, t: FreeTally): void {
    if (t.amount === t.stored) return;
    if (t.amount < 0n) throw new Error(`free collateral of ${t.owner} would be negative: ${t.amount}`);
    this.setFree(ctx, t.owner, t.amount);
    t.stored = t.amount;
  }

  private setFree(ctx: Context, owner: string, amount: bigint): void {
    if (amount === 0n) this.kv(ctx).delete(skey(ACCOUNT, owner));
    else setProto(this.kv(ctx), skey(ACCOUNT, owner), Account, { owner, freeCollateralUusdc: amount.toString() });
  }

  addFree(ctx: Context, owner: string, amount: bigint): bigint {
    const next = this.freeCollateral(ctx, owner) + amount;
    this.setFree(ctx, owner, next);
    return next;
  }

  subFree(ctx: Context, owner: string, amount: bigint): bigint {
    const have = this.freeCollateral(ctx, owner);
    if (have < amount) throw ErrInsufficientCollateral.wrap(`free collateral ${have}uusdc is less than ${amount}uusdc`);
    this.setFree(ctx, owner, have - amount);
    return have - amount;
  }

  accounts(ctx: Context): Account[] {
    return [...scanProto(this.kv(ctx), key(ACCOUNT), Account)].map(([, a]) => a);
  }

  /** CheckTx: the owner's bank balance covers a deposit (sdk/5 otherwise). */
  checkDeposit(ctx: Context, owner: string, amount: bigint): void {
    const denom = this.getParams(ctx).collateralDenom;
    const have = this.bank.getBalance(ctx, owner, denom);
    if (have < amount) throw ErrInsufficientFunds.wrap(`spendable balance ${have}${denom} is smaller than ${amount}${denom}`);
  }

  /** CheckTx: free collateral covers a withdrawal (margin/2 otherwise). */
  checkWithdraw(ctx: Context, owner: string, amount: bigint): void {
    const have = this.freeCollateral(ctx, owner);
    if (have < amount) throw ErrInsufficientCollateral.wrap(`free collateral ${have}uusdc is less than ${amount}uusdc`);
  }

  /** Bank → free collateral. */
  deposit(ctx: Context, owner: string, amount: bigint): bigint {
    this.bank.sendToModule(ctx, owner, MARGIN_MODULE, this.getParams(ctx).collateralDenom, amount);
    const free = this.addFree(ctx, owner, amount);
    ctx.events.emitTyped("backstop.margin.v1.EventDeposit", { owner, amount_uusdc: amount.toString() });
    return free;
  }

  /** Free collateral → bank. Never needs a price. */
  withdraw(ctx: Context, owner: string, amount: bigint): bigint {
    const free = this.subFree(ctx, owner, amount);
    this.bank.sendFromModule(ctx, MARGIN_MODULE, owner, this.getParams(ctx).collateralDenom, amount);
    ctx.events.emitTyped("backstop.margin.v1.EventWithdraw", { owner, amount_uusdc: amount.toString() });
    return free;
  }

  // --- positions --------------------------------------------------------------------

  getPosition(ctx: Context, owner: string, marketId: string): Position | undefined {
    return getProto(this.kv(ctx), skey(POSITION, marketId, owner), Position);
  }

  requirePosition(ctx: Context, owner: string, marketId: string): Position {
    const p = this.getPosition(ctx, owner, marketId);
    if (!p) throw ErrNoPosition.wrap(`${owner} has no position in ${marketId}`);
    return p;
  }

  private indexEntry(p: Position, market: Market | undefined): Buffer | null {
    const k = liquidationKey(p);
    if (!k) return null;
    const tier = market ? riskTier(market, Dec.parse(p.size), Dec.parse(p.entryPrice)) : 0;
    return Buffer.concat([key(LIQ_INDEX, p.marketId), Buffer.of(k.side + 2 * tier), encodeKey(k.key), Buffer.from(p.owner)]);
  }

  /**
   * Rebuilds a market's liquidation index (its risk tiers changed: positions move between
   * the per-tier indexes). O(positions in the market); an authority action.
   */
  reindexMarket(ctx: Context, market: Market): void {
    const kv = this.kv(ctx);
    const prefix = key(LIQ_INDEX, market.id);
    const stale = [...kv.iterator(prefix, prefixEndOf(prefix))].map(([k]) => Buffer.from(k));
    for (const k of stale) kv.delete(k);
    for (const p of this.positionsIn(ctx, market.id)) {
      const e = this.indexEntry(p, market);
      if (e) kv.set(e, Buffer.from(p.size));
    }
  }

  /**
   * Stores a position, keeping the liquidation index current (an entry's value is the
   * position's size, for the coverage index); a flat position with no margin is deleted.
   */
  setPosition(ctx: Context, p: Position, stored?: Position | null): void {
    const kv = this.kv(ctx);
    // `stored`, when the caller has just read it, is the position as it is in the store (null: none).
    const old = stored === undefined ? this.getPosition(ctx, p.owner, p.marketId) : (stored ?? undefined);
    const market = this.markets.get(ctx, p.marketId);
    const oldEntry = old ? this.indexEntry(old, market) : null;
    const newEntry = Dec.parse(p.size).isZero() ? null : this.indexEntry(p, market);
    // Open interest (Σ long sizes) follows every change of a position's long part.
    const oldLong = old ? longPart(old.size) : 0n;
    const newLong = longPart(p.size);
    if (oldLong !== newLong) this.moveOpenInterest(ctx, p.marketId, newLong - oldLong);
    if (oldEntry && (!newEntry || !oldEntry.equals(newEntry))) kv.delete(oldEntry);
    if (newEntry && (!oldEntry || !oldEntry.equals(newEntry) || old!.size !== p.size)) kv.set(newEntry, Buffer.from(p.size));
    if (Dec.parse(p.size).isZero() && BigInt(p.marginUusdc) === 0n) {
      kv.delete(skey(POSITION, p.marketId, p.owner));
      kv.delete(skey(BY_OWNER, p.owner, p.marketId));
      return;
    }
    setProto(kv, skey(POSITION, p.marketId, p.owner), Position, p);
    // A stored position has its owner entry already (the two are written and deleted together).
    if (!old) kv.set(skey(BY_OWNER, p.owner, p.marketId), new Uint8Array());
  }

  /** A market's open interest: Σ long sizes (= Σ short sizes), kept as positions change. */
  openInterest(ctx: Context, marketId: string): Dec {
    const raw = this.kv(ctx).get(skey(OPEN_INTEREST, marketId));
    return raw ? Dec.fromRaw(BigInt(Buffer.from(raw).toString())) : Dec.ZERO;
  }

  private moveOpenInterest(ctx: Context, marketId: string, delta: bigint): void {
    const next = this.openInterest(ctx, marketId).raw + delta;
    if (next < 0n) throw new Error(`open interest of ${marketId} would be negative`);
    if (next === 0n) this.kv(ctx).delete(skey(OPEN_INTEREST, marketId));
    else this.kv(ctx).set(skey(OPEN_INTEREST, marketId), Buffer.from(next.toString()));
  }

  positionsOf(ctx: Context, owner: string): Position[] {
    const kv = this.kv(ctx);
    const prefix = key(BY_OWNER, owner);
    const out: Position[] = [];
    for (const [k] of kv.iterator(prefix, prefixEndOf(prefix))) {
      const market = Buffer.from(k).subarray(prefix.length + 1).toString();
      const p = this.getPosition(ctx, owner, market);
      if (p) out.push(p);
    }
    return out;
  }

  positionsIn(ctx: Context, marketId: string): Position[] {
    return [...scanProto(this.kv(ctx), key(POSITION, marketId), Position)].map(([, p]) => p);
  }

  allPositions(ctx: Context): Position[] {
    return [...scanProto(this.kv(ctx), key(POSITION), Position)].map(([, p]) => p);
  }

  addPositionMargin(ctx: Context, owner: string, marketId: string, amount: bigint): bigint {
    this.markets.require(ctx, marketId);
    const p = this.requirePosition(ctx, owner, marketId);
    this.subFree(ctx, owner, amount);
    const margin = BigInt(p.marginUusdc) + amount;
    this.setPosition(ctx, { ...p, marginUusdc: margin.toString() });
    ctx.events.emitTyped("backstop.margin.v1.EventPositionMarginChanged", { owner, market_id: marketId, delta_uusdc: amount.toString(), margin_uusdc: margin.toString() });
    return margin;
  }

  /**
   * Moves margin back to free collateral. Unrealised profit is not collateral (SPEC §3.3):
   * at a fresh mark, both the margin left (net of accrued funding) and the equity must meet
   * the initial requirement — a position in profit may not be left standing on paper gains,
   * which a one-block move against it would turn into a deficit for the pool.
   */
  removePositionMargin(ctx: Context, owner: string, marketId: string, amount: bigint): bigint {
    const market = this.markets.require(ctx, marketId);
    const p = this.requirePosition(ctx, owner, marketId);
    const margin = BigInt(p.marginUusdc);
    if (amount > margin) throw ErrInsufficientCollateral.wrap(`position margin ${margin}uusdc is less than ${amount}uusdc`);
    const mark = this.oracle.freshMark(ctx, market.oracleTicker);
    const index = this.fundingIndex(ctx, marketId);
    const after: PositionValues = { ...positionValues(p), margin: margin - amount };
    const e = equity(after, mark, index);
    const im = initialRequirement(after.size, mark, this.ratiosFor(ctx, market, after).imr);
    const kept = after.margin - accruedFunding(after, index);
    if (kept < im) throw ErrBelowInitialMargin.wrap(`margin after removal ${kept}uusdc would be below the initial requirement ${im}uusdc (unrealised profit does not count)`);
    if (e < im) throw ErrBelowInitialMargin.wrap(`equity after removal ${e}uusdc would be below the initial requirement ${im}uusdc`);
    this.setPosition(ctx, { ...p, marginUusdc: (margin - amount).toString() });
    this.addFree(ctx, owner, amount);
    ctx.events.emitTyped("backstop.margin.v1.EventPositionMarginChanged", { owner, market_id: marketId, delta_uusdc: (-amount).toString(), margin_uusdc: (margin - amount).toString() });
    return margin - amount;
  }

  /** The cumulative funding index of a market now (zero until the clearing module sets one). */
  fundingIndexOf(ctx: Context, marketId: string): Dec {
    return this.fundingIndex(ctx, marketId);
  }

  /**
   * Settles a fill into the owner's isolated position (SPEC §3.3): accrued funding is
   * settled first; an increase moves notional·IMR from free collateral into the position
   * (as much as is free: the order's reservation made it so); a reduction releases margin
   * pro rata plus realised PnL to free collateral. A loss beyond the position's margin is
   * a deficit, returned for the insurance pool to pay into this module's account.
   * `q` is signed (positive: bought).
   */
  applyFill(ctx: Context, owner: string, marketId: string, q: Dec, price: Dec, imr: Dec): { realized: bigint; deficit: bigint; funding: bigint } {
    const free = this.readFree(ctx, owner);
    const out = this.fill(ctx, free, marketId, q, price, imr);
    this.saveFree(ctx, free);
    return out;
  }

  /** `applyFill` on a tally of the owner's free collateral (see `readFree`), which the caller saves. */
  fill(ctx: Context, free: FreeTally, marketId: string, q: Dec, price: Dec, imr: Dec): { realized: bigint; deficit: bigint; funding: bigint } {
    const owner = free.owner;
    const index = this.fundingIndex(ctx, marketId);
    const cur = this.getPosition(ctx, owner, marketId);
    let size = cur ? Dec.parse(cur.size) : Dec.ZERO;
    let entry = cur ? Dec.parse(cur.entryPrice) : Dec.ZERO;
    let margin = cur ? BigInt(cur.marginUusdc) : 0n;
    const funding = cur ? accruedFunding(positionValues(cur), index) : 0n;
    margin -= funding;
    let realized = 0n;
    let deficit = 0n;
    const open = (add: Dec) => {
      entry = size.isZero() ? price : averageEntry(size, entry, add, price);
      size = size.add(add);
      // New exposure that takes the position into a higher risk tier pays that tier's IMR.
      const market = this.markets.get(ctx, marketId);
      const tier = market ? riskTier(market, size, entry) : 0;
      const need = initialRequirement(add, price, tier === 0 ? imr : Dec.max(imr, this.ratiosForTier(ctx, market!, tier).imr));
      const take = need < free.amount ? need : free.amount;
      if (take > 0n) free.amount -= take;
      margin += take;
    };
    if (size.isZero() || size.isPositive() === q.isPositive()) {
      open(q);
    } else {
      const c = closePart(size, entry, margin, q, price);
      ({ size, entry, margin, realized, deficit } = c);
      free.amount += c.toFree;
      if (!c.extra.isZero()) open(c.extra);
    }
    this.setPosition(ctx, {
      owner,
      marketId,
      size: size.toString(),
      entryPrice: entry.toString(),
      marginUusdc: margin.toString(),
      fundingIndexSnapshot: index.toString(),
      openedHeight: cur && !Dec.parse(cur.size).isZero() ? cur.openedHeight : ctx.height,
    }, cur ?? null);
    return { realized, deficit, funding };
  }

  /**
   * Takes a fee from free collateral (a tally of it, see `readFree`, which the caller
   * saves), then from the position's margin; returns what it could take.
   */
  chargeFee(ctx: Context, free: FreeTally, marketId: string, fee: bigint): bigint {
    if (fee <= 0n) return 0n;
    const fromFree = fee < free.amount ? fee : free.amount;
    if (fromFree > 0n) free.amount -= fromFree;
    let left = fee - fromFree;
    if (left > 0n) {
      const p = this.getPosition(ctx, free.owner, marketId);
      const m = p ? BigInt(p.marginUusdc) : 0n;
      const take = left < m ? left : m;
      if (p && take > 0n) this.setPosition(ctx, { ...p, marginUusdc: (m - take).toString() });
      left -= take;
    }
    return fee - left;
  }

  /**
   * The liquidatable positions of a market at `mark`, found through the liquidation index:
   * longs from the highest key down, shorts from the lowest key up, stopping at the first
   * that the mark does not cross (each candidate is confirmed with the exact E < MM).
   */
  liquidatable(ctx: Context, market: Market, mark: Dec): Position[] {
    const kv = this.kv(ctx);
    const index = this.fundingIndex(ctx, market.id);
    // A hair of slack for the rounding of keys; candidates are confirmed exactly.
    const slack = Dec.fromRaw(mark.raw / 1_000_000_000n + 1n);
    const out: Position[] = [];
    const base = key(LIQ_INDEX, market.id);
    const prefixLen = base.length;
    // One ordered scan per side and risk tier, each with its tier's MMR: O(tiers · log n + k).
    for (let tier = 0; tier <= market.riskTiers.length; tier++) {
      const mmr = this.ratiosForTier(ctx, market, tier).mmr;
      const confirm = (k: Uint8Array): void => {
        const owner = Buffer.from(k).subarray(prefixLen + 1 + 32).toString();
        const p = this.getPosition(ctx, owner, market.id);
        if (p && isLiquidatable(positionValues(p), mark, index, mmr)) out.push(p);
      };
      const longT = mark.mul(Dec.ONE.sub(mmr), "floor").sub(index).sub(slack);
      const longP = Buffer.concat([base, Buffer.of(LONG + 2 * tier)]);
      for (const [k] of kv.iterator(Buffer.concat([longP, encodeKey(longT)]), prefixEndOf(longP), true)) confirm(k);
      const shortT = mark.mul(Dec.ONE.add(mmr), "ceil").sub(index).add(slack);
      const shortP = Buffer.concat([base, Buffer.of(SHORT + 2 * tier)]);
      for (const [k] of kv.iterator(shortP, Buffer.concat([shortP, encodeKey(shortT)]))) confirm(k);
    }
    return out;
  }

  /** Charges up to `fee` from a position's margin (a partial liquidation's fee), at most its equity at `mark`; returns what it took. */
  chargeFromMargin(ctx: Context, owner: string, marketId: string, fee: bigint, mark: Dec): bigint {
    const p = this.getPosition(ctx, owner, marketId);
    if (!p || fee <= 0n) return 0n;
    const m = BigInt(p.marginUusdc);
    // Capped by the margin and by the position's remaining equity at the mark (SPEC §3.6).
    const e = equity(positionValues(p), mark, this.fundingIndex(ctx, marketId));
    let take = fee < m ? fee : m;
    if (take > e) take = e;
    if (take <= 0n) return 0n;
    this.setPosition(ctx, { ...p, marginUusdc: (m - take).toString() });
    return take;
  }

  // --- coverage (SPEC §3.8) ----------------------------------------------------------

  /** The in-memory coverage index per market (derived from the liquidation index; see coverage.ts). */
  private coverage = new Map<string, MarketIndex>();
  /** The height whose end state the coverage index reflects (null: not loaded). */
  private coverageHeight: bigint | null = null;

  private indexPrefix(marketId: string, side: number): Buffer {
    return Buffer.concat([key(LIQ_INDEX, marketId), Buffer.of(side)]);
  }

  private loadCoverage(ctx: Context): void {
    const kv = this.kv(ctx);
    this.coverage = new Map();
    for (const m of this.markets.all(ctx)) {
      const side = (s: number) => {
        const tierEntries = function* (prefix: Buffer) {
          for (const [k, v] of kv.iterator(prefix, prefixEndOf(prefix))) {
            const b = Buffer.from(k);
            yield { key: decodeKey(b.subarray(prefix.length, prefix.length + 32)), owner: b.subarray(prefix.length + 32).toString(), size: Dec.parse(Buffer.from(v).toString()).abs().raw };
          }
        };
        // Each risk tier's index is sorted by (key, owner); the side's is their merge.
        const tiers = TIERS.map((t) => [...tierEntries(this.indexPrefix(m.id, s + 2 * t))]).filter((xs) => xs.length > 0);
        const merged = tiers.length <= 1 ? (tiers[0] ?? []) : tiers.flat().sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
        return SideIndex.fromSorted(s === LONG ? "long" : "short", merged);
      };
      this.coverage.set(m.id, { long: side(LONG), short: side(SHORT) });
    }
    this.coverageHeight = ctx.height;
  }

  /**
   * End-block: brings the coverage index to this block's state — from the block's changes
   * to the liquidation index when the index reflects the previous block, else (first block
   * after a start, a new market) rebuilt from the store.
   */
  syncCoverage(ctx: Context): void {
    const markets = this.markets.all(ctx);
    const follows = ctx.blockChanges && this.coverageHeight !== null && this.coverageHeight === ctx.height - 1n && markets.every((m) => this.coverage.has(m.id));
    if (!follows) return this.loadCoverage(ctx);
    for (const m of markets) {
      const idx = this.coverage.get(m.id)!;
      for (const s of [LONG, SHORT]) {
        const tree = s === LONG ? idx.long : idx.short;
        // Removals first, across the side's tier indexes: a position that moved between
        // tiers (a fill, a change of the market's tiers) is removed and inserted under the
        // same (key, owner), in whichever order its tiers' changes come.
        const inserts: { key: bigint; owner: string; size: bigint }[] = [];
        for (const t of TIERS) {
          const prefix = Buffer.concat([MARGIN_STORE_PREFIX, this.indexPrefix(m.id, s + 2 * t)]);
          for (const [k, v] of ctx.blockChanges!(prefix, prefixEnd(prefix)) as Iterable<Change>) {
            const entryKey = decodeKey(k.subarray(prefix.length, prefix.length + 32));
            const owner = k.subarray(prefix.length + 32).toString();
            if (v === null) tree.remove(entryKey, owner);
            else inserts.push({ key: entryKey, owner, size: Dec.parse(v.toString()).abs().raw });
          }
        }
        for (const e of inserts) tree.insert(e.key, e.owner, e.size);
      }
    }
    this.coverageHeight = ctx.height;
  }

  /** A market's coverage index (loaded from the store the first time a query needs it). */
  coverageIndex(ctx: Context, marketId: string): MarketIndex | undefined {
    if (this.coverageHeight === null) this.loadCoverage(ctx);
    return this.coverage.get(marketId);
  }

  /** Σ over the market's positions of max(0, −E) at `price`, in uusdc (rounded up): O(log n). */
  stressedDeficit(ctx: Context, marketId: string, price: Dec): bigint {
    const idx = this.coverageIndex(ctx, marketId);
    if (!idx) return 0n;
    const y = price.sub(this.fundingIndex(ctx, marketId)).raw;
    return rawToUusdcCeil(idx.long.deficitRaw(y) + idx.short.deficitRaw(y));
  }

  /** The two largest single-position deficits at `price`, in uusdc (rounded up), largest first. */
  largestDeficits(ctx: Context, marketId: string, price: Dec): [bigint, bigint] {
    const idx = this.coverageIndex(ctx, marketId);
    if (!idx) return [0n, 0n];
    const y = price.sub(this.fundingIndex(ctx, marketId)).raw;
    const all = [...idx.long.top2Raw(y), ...idx.short.top2Raw(y)].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    return [rawToUusdcCeil(all[0]), rawToUusdcCeil(all[1])];
  }

  // --- risk ------------------------------------------------------------------------

  /** The market's current ratios; before its first end-block, the targets at today's σ. */
  ratios(ctx: Context, market: Market): { multiplier: Dec; imr: Dec; mmr: Dec; mmrTarget: Dec } {
    const stored = getShared(this.kv(ctx), skey(RISK, market.id), MarketRisk);
    const t = this.targets(ctx, market);
    if (!stored) return { ...t, mmr: t.mmrTarget };
    // IMR applies at once to new exposure; MMR is the stepped value.
    return { multiplier: t.multiplier, imr: t.imr, mmr: Dec.parse(stored.mmr), mmrTarget: t.mmrTarget };
  }

  /** The ratios that apply to a position (its risk tier's; see `riskTier`). */
  ratiosFor(ctx: Context, market: Market, v: PositionValues): { multiplier: Dec; imr: Dec; mmr: Dec; mmrTarget: Dec } {
    return this.ratiosForTier(ctx, market, riskTier(market, v.size, v.entryPrice));
  }

  /**
   * The ratios of a risk tier: the tier's base IMR scaled by the market's multiplier, and
   * the market's current (stepped) MMR scaled by the tier's base MMR over the market's, so
   * a tier follows the same volatility and the same bounded step.
   */
  ratiosForTier(ctx: Context, market: Market, tier: number): { multiplier: Dec; imr: Dec; mmr: Dec; mmrTarget: Dec } {
    const r = this.ratios(ctx, market);
    if (tier === 0) return r;
    const t = market.riskTiers[tier - 1];
    const base = Dec.parse(market.mmrBase);
    const scale = (x: Dec) => Dec.min(x.mul(Dec.parse(t.mmr), "ceil").div(base, "ceil"), Dec.ONE);
    return { multiplier: r.multiplier, imr: scaledRatio(Dec.parse(t.imr), r.multiplier), mmr: scale(r.mmr), mmrTarget: scale(r.mmrTarget) };
  }

  private targets(ctx: Context, market: Market): { multiplier: Dec; imr: Dec; mmrTarget: Dec } {
    const max = Dec.parse(market.maxMarginMultiplier);
    const vol = marginMultiplier(this.oracle.sigma(ctx, market.oracleTicker), Dec.parse(market.volatilityTarget), max);
    const factor = this.coverageFactor(ctx, market);
    const multiplier = factor.eq(Dec.ONE) ? vol : Dec.min(vol.mul(factor, "ceil"), max);
    return { multiplier, imr: scaledRatio(Dec.parse(market.imrBase), multiplier), mmrTarget: scaledRatio(Dec.parse(market.mmrBase), multiplier) };
  }

  marketRisk(ctx: Context, market: Market): MarketRisk {
    const r = this.ratios(ctx, market);
    return { marketId: market.id, multiplier: r.multiplier.toString(), imr: r.imr.toString(), mmr: r.mmr.toString(), mmrTarget: r.mmrTarget.toString() };
  }

  /** End-block: each market's MMR moves toward its volatility target by at most max_mmr_step_per_block. */
  endBlock(ctx: Context): void {
    const step = Dec.parse(this.getParams(ctx).maxMmrStepPerBlock);
    for (const market of this.markets.all(ctx)) {
      const stored = getProto(this.kv(ctx), skey(RISK, market.id), MarketRisk);
      const t = this.targets(ctx, market);
      const mmr = stored ? stepMmr(Dec.parse(stored.mmr), t.mmrTarget, step) : t.mmrTarget;
      const next: MarketRisk = { marketId: market.id, multiplier: t.multiplier.toString(), imr: t.imr.toString(), mmr: mmr.toString(), mmrTarget: t.mmrTarget.toString() };
      if (stored && stored.mmr === next.mmr && stored.imr === next.imr && stored.mmrTarget === next.mmrTarget) continue;
      setProto(this.kv(ctx), skey(RISK, market.id), MarketRisk, next);
      ctx.events.emitTyped("backstop.margin.v1.EventMarginRatios", { market_id: market.id, imr: next.imr, mmr: next.mmr, mmr_target: next.mmrTarget });
    }
  }

  storedRisks(ctx: Context): MarketRisk[] {
    return [...scanProto(this.kv(ctx), key(RISK), MarketRisk)].map(([, r]) => r);
  }

  setStoredRisk(ctx: Context, r: MarketRisk): void {
    setProto(this.kv(ctx), skey(RISK, r.marketId), MarketRisk, r);
  }

  /** Everything a trader wants to know about a position at the current mark (stale or not). */
  positionRisk(ctx: Context, p: Position): PositionRisk {
    const market = this.markets.require(ctx, p.marketId);
    const price = this.oracle.getPrice(ctx, market.oracleTicker);
    const v = positionValues(p);
    const r = this.ratiosFor(ctx, market, v);
    const index = this.fundingIndex(ctx, p.marketId);
    const liq = liquidationPrice(v, index, r.mmr);
    const bk = bankruptcyPrice(v, index);
    const base = {
      position: p,
      imr: r.imr.toString(),
      mmr: r.mmr.toString(),
      accruedFundingUusdc: accruedFunding(v, index).toString(),
      liquidationPrice: liq ? liq.toString() : "",
      bankruptcyPrice: bk ? bk.toString() : "",
    };
    if (!price) {
      return { ...base, markPrice: "", equityUusdc: "", initialRequirementUusdc: "", maintenanceRequirementUusdc: "", liquidatable: false, bankrupt: false };
    }
    const mark = Dec.parse(price.price);
    return {
      ...base,
      markPrice: price.price,
      equityUusdc: equity(v, mark, index).toString(),
      initialRequirementUusdc: initialRequirement(v.size, mark, r.imr).toString(),
      maintenanceRequirementUusdc: maintenanceRequirement(v.size, mark, r.mmr).toString(),
      liquidatable: isLiquidatable(v, mark, index, r.mmr),
      bankrupt: isBankrupt(v, mark, index),
    };
  }
}
