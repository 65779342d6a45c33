/**
 * The arithmetic of liquidation (SPEC §3.6) as pure functions, so that each rule can be
 * read and table-tested on its own; the keeper applies them to stored positions.
 * Prices and sizes are `Dec`; money is integer uusdc.
 */
import { Dec } from "../../../math/decimal";
import { notionalFloor } from "../../margin/types/risk";

export function roundUpTo(x: Dec, step: Dec): Dec {
  const r = x.raw % step.raw;
  if (r === 0n) return x;
  return Dec.fromRaw(x.raw > 0n ? x.raw - r + step.raw : x.raw - r);
}

export function roundDownTo(x: Dec, step: Dec): Dec {
  const r = x.raw % step.raw;
  if (r === 0n) return x;
  return Dec.fromRaw(x.raw > 0n ? x.raw - r : x.raw - r - step.raw);
}

export interface CloseInput {
  /** Signed size (positive: long). */
  readonly size: Dec;
  /** Equity at the mark, uusdc. */
  readonly equity: bigint;
  readonly mark: Dec;
  /** Bankruptcy price (E = 0). */
  readonly bankruptcy: Dec;
  readonly imr: Dec;
  readonly stepSize: Dec;
  readonly tickSize: Dec;
  readonly maxFraction: Dec;
  readonly minNotionalUusdc: bigint;
  readonly slippage: Dec;
  /** What the insurance waterfall can still pay this block, uusdc. */
  readonly room: bigint;
}

export interface CloseOrder {
  /** Quantity to close (unsigned, a multiple of the step). */
  readonly quantity: Dec;
  /** Limit price, on the tick. */
  readonly limit: Dec;
  /** Whether the mark is on the solvent side of the bankruptcy price. */
  readonly solvent: boolean;
}

/**
 * Tier 1, the incremental close: the smallest part of the position that restores
 * E ≥ IMR·notional at the mark — |s| − E/(IMR·mark), rounded up to the step — but at
 * most max_fraction of it (rounded up to the step); a position under min_notional, or
 * with E ≤ 0, goes whole. The limit is the bankruptcy price while the mark is on its
 * solvent side; past it, the mark less the slippage, but no further from the bankruptcy
 * price than `room` spread over the size (so a fill leaves no deficit the waterfall
 * cannot pay). Rounded to the tick on the position's side (up for a long's sell).
 */
export function incrementalClose(x: CloseInput): CloseOrder {
  const abs = x.size.abs();
  const long = x.size.isPositive();
  let quantity: Dec;
  if (notionalFloor(abs, x.mark) < x.minNotionalUusdc || x.equity <= 0n) quantity = abs;
  else {
    const keep = Dec.ratio(x.equity, 1_000_000n, "floor").div(x.imr.mul(x.mark, "ceil"), "floor");
    const need = roundUpTo(keep.gte(abs) ? x.stepSize : abs.sub(keep), x.stepSize);
    const cap = roundUpTo(abs.mul(x.maxFraction, "ceil"), x.stepSize);
    quantity = Dec.min(Dec.min(need, cap), abs);
  }
  const solvent = long ? x.mark.gt(x.bankruptcy) : x.mark.lt(x.bankruptcy);
  let limit = solvent ? x.bankruptcy : long ? x.mark.mul(Dec.ONE.sub(x.slippage), "floor") : x.mark.mul(Dec.ONE.add(x.slippage), "ceil");
  if (!solvent) {
    const shift = Dec.ratio(x.room > 0n ? x.room : 0n, 1_000_000n, "floor").div(abs, "floor");
    limit = long ? Dec.max(limit, x.bankruptcy.sub(shift)) : Dec.min(limit, x.bankruptcy.add(shift));
  }
  limit = long ? roundUpTo(Dec.max(limit, x.tickSize), x.tickSize) : roundDownTo(limit, x.tickSize);
  return { quantity, limit, solvent };
}

/**
 * Tier 2, the Dutch auction's takeover price after `blocks` blocks: from the start price,
 * worse for the position by `step` (a fraction of the start) per block, at most
 * `maxDiscount`; rounded to the tick against the position (down for a long).
 */
export function dutchPrice(start: Dec, blocks: bigint, step: Dec, maxDiscount: Dec, tick: Dec, long: boolean): Dec {
  const raw = step.mulInt(blocks < 0n ? 0n : blocks);
  const discount = raw.gt(maxDiscount) ? maxDiscount : raw;
  return long ? roundDownTo(start.mul(Dec.ONE.sub(discount), "floor"), tick) : roundUpTo(start.mul(Dec.ONE.add(discount), "ceil"), tick);
}

/** The liquidation fee: rate × closed notional (rounded up), capped by the equity left to pay it. */
export function liquidationFee(rate: Dec, notionalUusdc: bigint, available: bigint): bigint {
  const due = rate.mulIntToInt(notionalUusdc, "ceil");
  if (available <= 0n) return 0n;
  return due < available ? due : available;
}

/**
 * Tier 4's price: the bankruptcy price moved toward the mark by what the waterfall can
 * still pay (`room`, spread over the size), never past the mark; rounded to the tick on
 * the position's side (up for a long), so that the position leaves no deficit beyond room.
 */
export function adlPrice(size: Dec, bankruptcy: Dec, mark: Dec, room: bigint, tick: Dec): Dec {
  const long = size.isPositive();
  const shift = Dec.ratio(room > 0n ? room : 0n, 1_000_000n, "floor").div(size.abs(), "floor");
  const raw = long ? Dec.max(bankruptcy.sub(shift), mark) : Dec.min(bankruptcy.add(shift), mark);
  return long ? roundUpTo(Dec.max(raw, tick), tick) : roundDownTo(raw, tick);
}
