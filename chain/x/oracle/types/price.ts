/**
 * Oracle price aggregation and realised volatility, as pure functions (SPEC §3.2).
 *
 * Each block a ticker's price is the median of the fresh submissions of distinct
 * feeders, if at least `minFeeders` submitted within `maxStaleness`. The guard against
 * manipulation drops outliers — submissions further than `maxDeviation` from the median
 * of the block's fresh submissions — but only while at least `minFeeders` remain, so it
 * can make more feeders agree on a move but never holds back a price a quorum submitted
 * (with a quorum of 1, a single push of −30% is the mark in the next block).
 *
 * Volatility: an EWMA of squared returns, v ← λ·v + (1 − λ)·r², r = (p − p₋₁)/p₋₁,
 * σ = √v. σ is per price update, in the same units as each market's σ*.
 */
import { Dec } from "../../../math/decimal";

export interface FreshSubmission {
  readonly feeder: string;
  readonly price: Dec;
  /** Block time (unix seconds) of the submission. */
  readonly time: bigint;
}

export interface AggregationParams {
  readonly minFeeders: number;
  readonly maxStalenessSeconds: bigint;
  readonly maxDeviation: Dec;
}

/** Median of a non-empty list: the middle value, or the floor-average of the two middle values. */
export function median(values: readonly Dec[]): Dec {
  if (values.length === 0) throw new RangeError("median of nothing");
  const s = [...values].sort((a, b) => a.cmp(b));
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : s[mid - 1].add(s[mid]).divInt(2n, "floor");
}

export type Aggregate =
  | { readonly ok: true; readonly price: Dec; readonly feeders: number; readonly dropped: number }
  | { readonly ok: false; readonly reason: "no_quorum" };

/**
 * The price of a block from the latest submission of each feeder. `now` is the block time.
 * Submissions older than maxStaleness are ignored; one per feeder (the caller passes the latest).
 */
export function aggregate(subs: readonly FreshSubmission[], now: bigint, p: AggregationParams): Aggregate {
  const seen = new Set<string>();
  const fresh: Dec[] = [];
  for (const s of subs) {
    if (seen.has(s.feeder)) continue;
    seen.add(s.feeder);
    if (now - s.time <= p.maxStalenessSeconds) fresh.push(s.price);
  }
  if (fresh.length === 0 || fresh.length < p.minFeeders) return { ok: false, reason: "no_quorum" };
  const m = median(fresh);
  const band = m.mul(p.maxDeviation, "floor");
  const kept = fresh.filter((x) => x.sub(m).abs().lte(band));
  if (kept.length >= p.minFeeders && kept.length > 0 && kept.length < fresh.length) {
    return { ok: true, price: median(kept), feeders: kept.length, dropped: fresh.length - kept.length };
  }
  return { ok: true, price: m, feeders: fresh.length, dropped: 0 };
}

/** The next EWMA variance after a move from `prev` to `next`. */
export function nextVariance(variance: Dec, prev: Dec, next: Dec, lambda: Dec): Dec {
  if (!prev.isPositive()) return variance;
  const r = next.sub(prev).div(prev, "floor");
  const r2 = r.mul(r, "ceil");
  return lambda.mul(variance, "ceil").add(Dec.ONE.sub(lambda).mul(r2, "ceil"));
}

/** σ = √variance, rounded down. */
export function sigmaOf(variance: Dec): Dec {
  return variance.isNegative() ? Dec.ZERO : variance.sqrtFloor();
}
