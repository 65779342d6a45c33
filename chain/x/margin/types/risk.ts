/**
 * The margin and risk formulas of SPEC §3.3, as pure functions over plain values.
 *
 * Units: sizes and prices are `Dec` (18 places; size is signed, positive for a long);
 * margin, equity and requirements are integer uusdc (bigint). Every conversion from a
 * decimal to uusdc rounds in the system's favour (SPEC §3.1): what a position owes
 * (losses, funding, requirements) rounds up, what it is owed rounds down, and prices
 * at which the system acts (liquidation, bankruptcy) round to the cautious side.
 */
import { Dec } from "../../../math/decimal";
import { divCeil } from "../../../math/int";

/** 1 uusdc = 10^-6 USD: a USD figure × 10^6 is uusdc. Prices are USD per unit of base. */
export const UUSDC_PER_USD = 1_000_000n;

export interface PositionValues {
  /** Signed size in base units (positive: long). */
  readonly size: Dec;
  /** Average entry price (USD per unit). */
  readonly entryPrice: Dec;
  /** Isolated margin in uusdc. */
  readonly margin: bigint;
  /** Cumulative funding index (USD per unit) at the last settlement. */
  readonly fundingSnapshot: Dec;
}

/** USD value × size → uusdc, rounded as asked. */
function usdToUusdc(usd: Dec, r: "floor" | "ceil"): bigint {
  return usd.mulIntToInt(UUSDC_PER_USD, r);
}

/** |size| × price in uusdc, rounded up (a notional that drives a requirement). */
export function notionalCeil(size: Dec, price: Dec): bigint {
  return usdToUusdc(size.abs().mul(price, "ceil"), "ceil");
}

/** |size| × price in uusdc, rounded down. */
export function notionalFloor(size: Dec, price: Dec): bigint {
  return usdToUusdc(size.abs().mul(price, "floor"), "floor");
}

/**
 * Funding the position owes since its snapshot, in uusdc: size × (index − snapshot).
 * Positive: the position pays. Rounded up in both cases (pays more, receives less).
 */
export function accruedFunding(p: PositionValues, index: Dec): bigint {
  return usdToUusdc(p.size.mul(index.sub(p.fundingSnapshot), "ceil"), "ceil");
}

/** Unrealised PnL at `mark` in uusdc: size × (mark − entry), rounded down (gains less, losses more). */
export function unrealizedPnl(p: PositionValues, mark: Dec): bigint {
  return usdToUusdc(p.size.mul(mark.sub(p.entryPrice), "floor"), "floor");
}

/** Equity E = margin + size·(mark − entry) − accrued funding, in uusdc. */
export function equity(p: PositionValues, mark: Dec, fundingIndex: Dec): bigint {
  return p.margin + unrealizedPnl(p, mark) - accruedFunding(p, fundingIndex);
}

/** Margin multiplier m = clamp(σ/σ*, 1, maxMultiplier), rounded up. */
export function marginMultiplier(sigma: Dec, sigmaTarget: Dec, maxMultiplier: Dec): Dec {
  if (!sigmaTarget.isPositive()) return Dec.ONE;
  const m = sigma.div(sigmaTarget, "ceil");
  if (m.lt(Dec.ONE)) return Dec.ONE;
  return m.gt(maxMultiplier) ? maxMultiplier : m;
}

/** A base ratio scaled by the multiplier, rounded up, at most 1. */
export function scaledRatio(base: Dec, multiplier: Dec): Dec {
  const r = base.mul(multiplier, "ceil");
  return r.gt(Dec.ONE) ? Dec.ONE : r;
}

/** Moves the current MMR toward its target by at most `maxStep` (SPEC §3.3: bounded per-block step). */
export function stepMmr(current: Dec, target: Dec, maxStep: Dec): Dec {
  if (current.lt(target)) return Dec.min(target, current.add(maxStep));
  if (current.gt(target)) return Dec.max(target, current.sub(maxStep));
  return current;
}

/** Initial requirement |size|·price·IMR in uusdc, rounded up. */
export function initialRequirement(size: Dec, price: Dec, imr: Dec): bigint {
  return usdToUusdc(size.abs().mul(price, "ceil").mul(imr, "ceil"), "ceil");
}

/** Maintenance requirement MM = |size|·mark·MMR in uusdc, rounded up. */
export function maintenanceRequirement(size: Dec, mark: Dec, mmr: Dec): bigint {
  return usdToUusdc(size.abs().mul(mark, "ceil").mul(mmr, "ceil"), "ceil");
}

/** Liquidatable when E < MM. */
export function isLiquidatable(p: PositionValues, mark: Dec, fundingIndex: Dec, mmr: Dec): boolean {
  if (p.size.isZero()) return false;
  return equity(p, mark, fundingIndex) < maintenanceRequirement(p.size, mark, mmr);
}

/** Bankrupt when E < 0. */
export function isBankrupt(p: PositionValues, mark: Dec, fundingIndex: Dec): boolean {
  return !p.size.isZero() && equity(p, mark, fundingIndex) < 0n;
}

/** Margin net of accrued funding, as USD (Dec). */
function netMarginUsd(p: PositionValues, fundingIndex: Dec): Dec {
  return Dec.ratio(p.margin - accruedFunding(p, fundingIndex), UUSDC_PER_USD, "floor");
}

/**
 * Bankruptcy price, where E = 0 (funding folded into margin):
 * long `entry − margin/size`, short `entry + margin/|size|`. Rounded to the cautious
 * side (up for a long, down for a short). Undefined (null) for a flat position.
 */
export function bankruptcyPrice(p: PositionValues, fundingIndex: Dec): Dec | null {
  if (p.size.isZero()) return null;
  const m = netMarginUsd(p, fundingIndex);
  if (p.size.isPositive()) return p.entryPrice.sub(m.div(p.size, "floor"));
  return p.entryPrice.add(m.div(p.size.abs(), "floor"));
}

/**
 * Liquidation price, where E = MM:
 *   long  (s > 0): p = (s·entry − margin) / (s·(1 − MMR))
 *   short (q = −s): p = (q·entry + margin) / (q·(1 + MMR))
 * Rounded to the cautious side (up for a long, down for a short); a long whose margin
 * covers the whole entry value has no positive liquidation price (returns 0).
 */
export function liquidationPrice(p: PositionValues, fundingIndex: Dec, mmr: Dec): Dec | null {
  if (p.size.isZero()) return null;
  const m = netMarginUsd(p, fundingIndex);
  if (p.size.isPositive()) {
    const num = p.size.mul(p.entryPrice, "ceil").sub(m);
    if (!num.isPositive()) return Dec.ZERO;
    return num.div(p.size.mul(Dec.ONE.sub(mmr), "floor"), "ceil");
  }
  const q = p.size.abs();
  const num = q.mul(p.entryPrice, "floor").add(m);
  return num.div(q.mul(Dec.ONE.add(mmr), "ceil"), "floor");
}

/** Realised PnL of closing `closeSize` (same sign as the position) at `price`, in uusdc (rounded down). */
export function realizedPnl(entry: Dec, closeSize: Dec, price: Dec): bigint {
  return usdToUusdc(closeSize.mul(price.sub(entry), "floor"), "floor");
}

/** Margin released when closing `part` of `whole` (pro rata, rounded down: the position keeps the dust). */
export function releasedMargin(margin: bigint, part: Dec, whole: Dec): bigint {
  if (whole.isZero()) return margin;
  return (margin * part.abs().raw) / whole.abs().raw;
}

/** The average entry price after adding `addSize` at `price` to a position of the same side. */
export function averageEntry(size: Dec, entry: Dec, addSize: Dec, price: Dec): Dec {
  const total = size.add(addSize).abs();
  if (total.isZero()) return price;
  const value = size.abs().mul(entry, "floor").add(addSize.abs().mul(price, "floor"));
  return value.div(total, "floor");
}

export interface CloseOutcome {
  /** Size, entry and margin after the close (margin ≥ 0). */
  readonly size: Dec;
  readonly entry: Dec;
  readonly margin: bigint;
  readonly realized: bigint;
  /** What the close pays to free collateral (released margin and profit, ≥ 0). */
  readonly toFree: bigint;
  /** The loss beyond the position's margin (≥ 0): the insurance waterfall pays it. */
  readonly deficit: bigint;
  /** The part of `q` beyond the position (signed, same sign as q): it opens the other way. */
  readonly extra: Dec;
}

/**
 * The closing part of a fill `q` (signed: positive bought) at `price` against a position
 * (size, entry, margin net of accrued funding): margin is released pro rata plus the
 * realised PnL; a loss beyond the released margin comes out of the margin left; a
 * position closed in full returns what margin is left; whatever is still negative is the
 * deficit. A fill on the position's own side (or a flat position) closes nothing.
 */
export function closePart(size: Dec, entry: Dec, margin: bigint, q: Dec, price: Dec): CloseOutcome {
  if (size.isZero() || size.isPositive() === q.isPositive()) return { size, entry, margin, realized: 0n, toFree: 0n, deficit: 0n, extra: q };
  const c = q.abs().lt(size.abs()) ? q.abs() : size.abs();
  const closeSigned = size.isPositive() ? c : c.neg();
  const realized = realizedPnl(entry, closeSigned, price);
  const released = releasedMargin(margin < 0n ? 0n : margin, closeSigned, size);
  let m = margin - released;
  const left = size.sub(closeSigned);
  let toFree = 0n;
  const gain = released + realized;
  if (gain >= 0n) toFree += gain;
  else m += gain;
  if (left.isZero() && m > 0n) {
    toFree += m;
    m = 0n;
  }
  let deficit = 0n;
  if (m < 0n) {
    deficit = -m;
    m = 0n;
  }
  return { size: left, entry: left.isZero() ? Dec.ZERO : entry, margin: m, realized, toFree, deficit, extra: q.add(closeSigned) };
}

/** Smallest amount of uusdc that must be added so that E ≥ requirement (0 when already met). */
export function shortfall(equityUusdc: bigint, requirement: bigint): bigint {
  return equityUusdc >= requirement ? 0n : requirement - equityUusdc;
}

export { divCeil };
