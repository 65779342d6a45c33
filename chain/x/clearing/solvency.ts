/**
 * The solvency check of SPEC §3.9, at the current marks: the collateral account (the
 * margin module's uusdc) plus the pools' balances must cover every position's positive
 * equity plus all free collateral (reserved order margin included); and every market's
 * book is balanced (Σ long sizes = Σ short sizes).
 */
import { Context } from "../../app/context";
import { Dec } from "../../math/decimal";
import { BankKeeper } from "../bank/keeper";
import { OracleKeeper } from "../oracle/keeper";
import { MarginKeeper, MARGIN_MODULE, positionValues } from "../margin/keeper";
import { InsuranceKeeper } from "../insurance/keeper";
import { equity } from "../margin/types/risk";
import { MarketKeeper } from "./markets";
import { ClearingKeeper, reservedOf } from "./keeper";
import { QuerySolvencyResponse } from "../../../client/src/generated/backstop/clearing/v1/query";

export interface SolvencyDeps {
  readonly bank: BankKeeper;
  readonly markets: MarketKeeper;
  readonly oracle: OracleKeeper;
  readonly margin: MarginKeeper;
  readonly insurance: InsuranceKeeper;
  readonly clearing: ClearingKeeper;
}

export function solvency(ctx: Context, d: SolvencyDeps): QuerySolvencyResponse {
  const denom = d.margin.getParams(ctx).collateralDenom;
  let positive = 0n;
  let balancedAll = true;
  const markets = d.markets.all(ctx).map((m) => {
    const price = d.oracle.getPrice(ctx, m.oracleTicker);
    const mark = price ? Dec.parse(price.price) : Dec.ZERO;
    const index = d.margin.fundingIndexOf(ctx, m.id);
    let longs = Dec.ZERO;
    let shorts = Dec.ZERO;
    let pos = 0n;
    let neg = 0n;
    for (const p of d.margin.positionsIn(ctx, m.id)) {
      const v = positionValues(p);
      if (v.size.isPositive()) longs = longs.add(v.size);
      else shorts = shorts.add(v.size.abs());
      const e = equity(v, mark, index);
      if (e > 0n) pos += e;
      else neg += -e;
    }
    positive += pos;
    const balanced = longs.eq(shorts);
    if (!balanced) balancedAll = false;
    return { marketId: m.id, longSize: longs.toString(), shortSize: shorts.toString(), balanced, positiveEquityUusdc: pos.toString(), negativeEquityUusdc: neg.toString() };
  });
  let free = 0n;
  for (const a of d.margin.accounts(ctx)) free += BigInt(a.freeCollateralUusdc);
  for (const m of d.markets.all(ctx)) for (const o of d.clearing.ordersIn(ctx, m.id)) free += reservedOf(o);
  const pools = d.insurance.pools(ctx).map((p) => ({ poolId: p.id, balanceUusdc: p.balanceUusdc }));
  const poolTotal = pools.reduce((s, p) => s + BigInt(p.balanceUusdc), 0n);
  const account = d.bank.getBalance(ctx, d.bank.moduleAddress(MARGIN_MODULE), denom);
  return {
    markets,
    pools,
    collateralAccountUusdc: account.toString(),
    poolBalancesUusdc: poolTotal.toString(),
    positiveEquityUusdc: positive.toString(),
    freeCollateralUusdc: free.toString(),
    holds: balancedAll && account + poolTotal >= positive + free,
  };
}
