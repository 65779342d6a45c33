/** Table tests of the risk formulas against hand-computed numbers (SPEC §3.1, §3.3). */
import { Dec } from "../../../math/decimal";
import {
  PositionValues,
  accruedFunding,
  averageEntry,
  bankruptcyPrice,
  equity,
  initialRequirement,
  isBankrupt,
  isLiquidatable,
  liquidationPrice,
  maintenanceRequirement,
  marginMultiplier,
  realizedPnl,
  releasedMargin,
  scaledRatio,
  stepMmr,
  unrealizedPnl,
} from "./risk";

const d = Dec.parse;
const pos = (size: string, entry: string, margin: bigint, snapshot = "0"): PositionValues => ({
  size: d(size),
  entryPrice: d(entry),
  margin,
  fundingSnapshot: d(snapshot),
});

// 2 BTC long at 60,000 with 6,000 USDC of margin; 1 ETH short at 3,000 with 150 USDC.
const long_2btc_at60000_m6000 = pos("2", "60000", 6_000_000_000n);
const short_1eth_at3000_m150 = pos("-1", "3000", 150_000_000n);

describe("equity, requirements, predicates", () => {
  it.each([
    // position, mark, index, mmr, equity, MM, liquidatable, bankrupt
    ["long at entry", long_2btc_at60000_m6000, "60000", "0", "0.03", 6_000_000_000n, 3_600_000_000n, false, false],
    ["long −5%: E = 0, MM = 3,420", long_2btc_at60000_m6000, "57000", "0", "0.03", 0n, 3_420_000_000n, true, false],
    ["long −6%: E < 0", long_2btc_at60000_m6000, "56400", "0", "0.03", -1_200_000_000n, 3_384_000_000n, true, true],
    ["long +10%", long_2btc_at60000_m6000, "66000", "0", "0.03", 18_000_000_000n, 3_960_000_000n, false, false],
    ["short +3.33%: E = 50, MM = 93", short_1eth_at3000_m150, "3100", "0", "0.03", 50_000_000n, 93_000_000n, true, false],
    ["short −10%: E = 450", short_1eth_at3000_m150, "2700", "0", "0.03", 450_000_000n, 81_000_000n, false, false],
    ["long with funding owed (index 0 → 100): pays 200 USD", long_2btc_at60000_m6000, "60000", "100", "0.03", 5_800_000_000n, 3_600_000_000n, false, false],
    ["short with funding (index 0 → 100): receives 100 USD", short_1eth_at3000_m150, "3000", "100", "0.03", 250_000_000n, 90_000_000n, false, false],
  ])("%s", (_n, p, mark, index, mmr, e, mm, liq, bk) => {
    expect(equity(p, d(mark), d(index))).toBe(e);
    expect(maintenanceRequirement(p.size, d(mark), d(mmr))).toBe(mm);
    expect(isLiquidatable(p, d(mark), d(index), d(mmr))).toBe(liq);
    expect(isBankrupt(p, d(mark), d(index))).toBe(bk);
  });

  it("initial requirement = |size|·price·IMR, rounded up", () => {
    expect(initialRequirement(d("2"), d("60000"), d("0.05"))).toBe(6_000_000_000n);
    expect(initialRequirement(d("-0.5"), d("150"), d("0.1"))).toBe(7_500_000n);
    // 1 unit at 1 USD with IMR 5e-7 needs 0.5 uusdc: rounds up to 1.
    expect(initialRequirement(d("1"), d("1"), d("0.0000005"))).toBe(1n);
    expect(maintenanceRequirement(d("1"), d("1"), d("0.0000005"))).toBe(1n);
  });
});

describe("liquidation and bankruptcy prices", () => {
  it.each([
    // long: (2·60000 − 6000)/(2·0.97) = 114000/1.94 = 58762.886597938144329896907… → rounded up
    ["long", long_2btc_at60000_m6000, "0", "0.03", "58762.886597938144329897", "57000.000000000000000000"],
    // short: (3000 + 150)/1.03 = 3058.252427184466019417475… → rounded down
    ["short", short_1eth_at3000_m150, "0", "0.03", "3058.252427184466019417", "3150.000000000000000000"],
    // long with 200 USD funding owed: margin' = 5800 → (120000 − 5800)/1.94 = 58865.979381443298969072164…
    ["long with funding", long_2btc_at60000_m6000, "100", "0.03", "58865.979381443298969073", "57100.000000000000000000"],
  ])("%s", (_n, p, index, mmr, liq, bk) => {
    expect(liquidationPrice(p, d(index), d(mmr))!.toString()).toBe(liq);
    expect(bankruptcyPrice(p, d(index))!.toString()).toBe(bk);
  });

  it("at the liquidation price E ≈ MM, and just beyond it the position is liquidatable", () => {
    const lp = liquidationPrice(long_2btc_at60000_m6000, Dec.ZERO, d("0.03"))!;
    expect(isLiquidatable(long_2btc_at60000_m6000, lp.add(d("0.01")), Dec.ZERO, d("0.03"))).toBe(false);
    expect(isLiquidatable(long_2btc_at60000_m6000, lp.sub(d("0.01")), Dec.ZERO, d("0.03"))).toBe(true);
    const sp = liquidationPrice(short_1eth_at3000_m150, Dec.ZERO, d("0.03"))!;
    expect(isLiquidatable(short_1eth_at3000_m150, sp.sub(d("0.01")), Dec.ZERO, d("0.03"))).toBe(false);
    expect(isLiquidatable(short_1eth_at3000_m150, sp.add(d("0.01")), Dec.ZERO, d("0.03"))).toBe(true);
  });

  it("a fully collateralised long has no positive liquidation price; a flat position has none", () => {
    expect(liquidationPrice(pos("1", "100", 100_000_000n), Dec.ZERO, d("0.03"))!.isZero()).toBe(true);
    expect(liquidationPrice(pos("0", "100", 1n), Dec.ZERO, d("0.03"))).toBeNull();
    expect(bankruptcyPrice(pos("0", "100", 1n), Dec.ZERO)).toBeNull();
  });
});

describe("rounding in the system's favour at the edges", () => {
  const tiny = "0.000000000000000001";
  it("funding: owed rounds up, received rounds down", () => {
    // 1e-18 units × 1e-6 USD of index = 1e-24 USD: owed → 1 uusdc, received → 0.
    expect(accruedFunding(pos(tiny, "1", 0n), d("0.000001"))).toBe(1n);
    expect(accruedFunding(pos(`-${tiny}`, "1", 0n), d("0.000001"))).toBe(0n);
    expect(accruedFunding(pos("2", "1", 0n, "100"), d("100.5"))).toBe(1_000_000n);
    expect(accruedFunding(pos("-1", "1", 0n, "100"), d("100.5"))).toBe(-500_000n);
  });

  it("PnL: gains round down, losses round up", () => {
    expect(unrealizedPnl(pos(tiny, "100", 0n), d("101"))).toBe(0n);
    expect(unrealizedPnl(pos(tiny, "100", 0n), d("99"))).toBe(-1n);
    expect(realizedPnl(d("100"), d("1"), d("90"))).toBe(-10_000_000n);
    expect(realizedPnl(d("100"), d("-1"), d("90"))).toBe(10_000_000n);
  });

  it("released margin is pro rata, rounded down", () => {
    expect(releasedMargin(1000n, d("1"), d("3"))).toBe(333n);
    expect(releasedMargin(1000n, d("-3"), d("-3"))).toBe(1000n);
  });
});

describe("volatility-driven margin", () => {
  it.each([
    ["σ = 2σ*", "0.02", "0.01", "3", "2.000000000000000000"],
    ["σ < σ*: floor at 1", "0.005", "0.01", "3", "1.000000000000000000"],
    ["σ = 5σ*: capped at max", "0.05", "0.01", "3", "3.000000000000000000"],
    ["σ/σ* rounds up", "0.01", "0.03", "3", "1.000000000000000000"],
    ["σ/σ* = 4/3 rounds up", "0.04", "0.03", "3", "1.333333333333333334"],
  ])("multiplier: %s", (_n, sigma, target, max, m) => {
    expect(marginMultiplier(d(sigma), d(target), d(max)).toString()).toBe(m);
  });

  it("scales the base ratios and caps them at 1", () => {
    expect(scaledRatio(d("0.05"), d("2")).toString()).toBe("0.100000000000000000");
    expect(scaledRatio(d("0.6"), d("2")).toString()).toBe("1.000000000000000000");
  });

  it.each([
    ["up by at most the step", "0.03", "0.06", "0.01", "0.040000000000000000"],
    ["down by at most the step", "0.06", "0.03", "0.01", "0.050000000000000000"],
    ["reaches a near target", "0.035", "0.04", "0.01", "0.040000000000000000"],
    ["stays at target", "0.03", "0.03", "0.01", "0.030000000000000000"],
  ])("MMR step: %s", (_n, cur, target, step, out) => {
    expect(stepMmr(d(cur), d(target), d(step)).toString()).toBe(out);
  });
});

describe("entry averaging", () => {
  it("averages by size", () => {
    expect(averageEntry(d("1"), d("100"), d("3"), d("200")).toString()).toBe("175.000000000000000000");
    expect(averageEntry(d("-1"), d("100"), d("-1"), d("101")).toString()).toBe("100.500000000000000000");
  });
});
