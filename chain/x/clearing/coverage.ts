/**
 * Coverage and stress, the pool sizing model (SPEC §3.8), run at the end of every block
 * after clearing, so that the figures describe the block's final positions:
 *
 *   stress move  S = max(stress_floor, z·σ·√horizon + gap_add_on)   (σ per price update)
 *   deficit      D(p) = Σ over a market's positions of max(0, −E at p)
 *   required     = max over the two directions of Σ over the pool's markets D(mark·(1 ∓ S))
 *   Cover-2      = the two largest single-position deficits under the worse direction
 *   coverage     = (balance − escrowed withdrawals) / required
 *
 * Each D(p) is a prefix sum over the coverage index (O(log n) per market; see
 * margin/coverage.ts). Positions are isolated, so an "account" of Cover-2 is a position:
 * its margin is all that stands in front of the pool.
 */
import { Context } from "../../app/context";
import { Dec } from "../../math/decimal";
import { OracleKeeper } from "../oracle/keeper";
import { MarginKeeper } from "../margin/keeper";
import { InsuranceKeeper } from "../insurance/keeper";
import { Params as InsuranceParams } from "../../../client/src/generated/backstop/insurance/v1/insurance";
import { Market } from "../../../client/src/generated/backstop/clearing/v1/clearing";
import { MarketKeeper } from "./markets";

export interface CoverageDeps {
  readonly markets: MarketKeeper;
  readonly oracle: OracleKeeper;
  readonly margin: MarginKeeper;
  readonly insurance: InsuranceKeeper;
}

/** S = max(stress_floor, z·σ·√horizon + gap_add_on), at most 1 (a price cannot fall below zero). */
export function stressMove(p: InsuranceParams, sigma: Dec): Dec {
  const horizon = Dec.fromInt(p.stressHorizonBlocks).sqrtFloor();
  const model = Dec.parse(p.stressZ).mul(sigma, "ceil").mul(horizon, "ceil").add(Dec.parse(p.gapAddOn));
  const s = Dec.max(Dec.parse(p.stressFloor), model);
  return Dec.min(s, Dec.ONE);
}

/** A market's stressed prices: mark·(1 − S) rounded down and mark·(1 + S) rounded up. */
export function stressPrices(mark: Dec, s: Dec): { down: Dec; up: Dec } {
  return { down: mark.mul(Dec.ONE.sub(s), "floor"), up: mark.mul(Dec.ONE.add(s), "ceil") };
}

export interface PoolStress {
  readonly required: bigint;
  readonly cover2: bigint;
  readonly down: bigint;
  readonly up: bigint;
}

/** The stress figures of the markets given (a pool's), from the coverage index. */
export function poolStress(ctx: Context, d: CoverageDeps, markets: readonly Market[]): PoolStress {
  const params = d.insurance.getParams(ctx);
  let down = 0n;
  let up = 0n;
  const topDown: bigint[] = [];
  const topUp: bigint[] = [];
  for (const m of markets) {
    const price = d.oracle.getPrice(ctx, m.oracleTicker);
    if (!price) continue;
    const mark = Dec.parse(price.price);
    const p = stressPrices(mark, stressMove(params, d.oracle.sigma(ctx, m.oracleTicker)));
    down += d.margin.stressedDeficit(ctx, m.id, p.down);
    up += d.margin.stressedDeficit(ctx, m.id, p.up);
    topDown.push(...d.margin.largestDeficits(ctx, m.id, p.down));
    topUp.push(...d.margin.largestDeficits(ctx, m.id, p.up));
  }
  const two = (xs: bigint[]) => {
    xs.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    return (xs[0] ?? 0n) + (xs[1] ?? 0n);
  };
  const cd = two(topDown);
  const cu = two(topUp);
  return { required: down > up ? down : up, cover2: cd > cu ? cd : cu, down, up };
}

/** End-block: every pool's required capital, Cover-2 and coverage, stored and emitted when they change. */
export function updateCoverage(ctx: Context, d: CoverageDeps): void {
  d.margin.syncCoverage(ctx);
  for (const pool of d.insurance.pools(ctx)) {
    const markets = pool.marketIds.map((id) => d.markets.get(ctx, id)).filter((m): m is Market => m !== undefined);
    const s = poolStress(ctx, d, markets);
    d.insurance.setCoverage(ctx, pool.id, s.required, s.cover2);
  }
}

/**
 * Pre-emptive margin: while a pool that asks for it (preemptive_margin) has coverage
 * below 1, its markets' margin multiplier is raised by 1/coverage; the market's
 * max_margin_multiplier still bounds the result. Lifts as coverage recovers.
 */
export function coverageFactor(ctx: Context, insurance: InsuranceKeeper, market: Market): Dec {
  const pool = insurance.getPool(ctx, market.insurancePoolId);
  if (!pool || !pool.preemptiveMargin || pool.coverage === "") return Dec.ONE;
  const c = Dec.parse(pool.coverage);
  if (c.gte(Dec.ONE)) return Dec.ONE;
  const max = Dec.parse(market.maxMarginMultiplier);
  if (c.isZero()) return max;
  return Dec.min(Dec.ONE.div(c, "ceil"), max);
}

/** Reduce-only for new exposure: the pool's coverage is below its (non-zero) critical level. */
export function belowCritical(ctx: Context, insurance: InsuranceKeeper, market: Market): { below: boolean; coverage: string; critical: string; poolId: string } {
  const pool = insurance.getPool(ctx, market.insurancePoolId);
  if (!pool || pool.coverage === "" || !pool.criticalCoverage) return { below: false, coverage: "", critical: "", poolId: market.insurancePoolId };
  const crit = Dec.parse(pool.criticalCoverage);
  return { below: crit.isPositive() && Dec.parse(pool.coverage).lt(crit), coverage: pool.coverage, critical: pool.criticalCoverage, poolId: pool.id };
}
