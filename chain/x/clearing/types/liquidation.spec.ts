/**
 * Table tests of the liquidation arithmetic (SPEC §3.6): the incremental close (fraction,
 * bankruptcy bound, slippage, waterfall room), the Dutch auction's price path, the
 * liquidation fee cap and the ADL price. Every expected figure is worked out by hand in
 * the row's comment.
 */
import { Dec } from "../../../math/decimal";
import { adlPrice, dutchPrice, incrementalClose, liquidationFee, roundDownTo, roundUpTo } from "./liquidation";

const D = (s: string) => Dec.parse(s);
const USDC = 1_000_000n;

const btc = {
  imr: D("0.05"),
  stepSize: D("0.0001"),
  tickSize: D("0.1"),
  maxFraction: D("0.5"),
  minNotionalUusdc: 1_000n * USDC,
  slippage: D("0.02"),
  room: 1_000_000n * USDC,
};

describe("incremental close", () => {
  const rows: { name: string; size: string; equity: bigint; mark: string; bk: string; room?: bigint; qty: string; limit: string; solvent: boolean }[] = [
    // 1 BTC long, mark 58,000, E = 1,000: keep E/(IMR·mark) = 1,000/2,900 = 0.34482… → close 1 − 0.3448 = 0.6552,
    // above the 50% cap → 0.5; the limit is the bankruptcy price 57,000.
    { name: "capped by the per-block fraction", size: "1", equity: 1_000n * USDC, mark: "58000", bk: "57000", qty: "0.5", limit: "57000", solvent: true },
    // 10 BTC long, mark 58,000, E = 27,000: keep 27,000/2,900 = 9.3103… → close 0.6897 (rounded up to the step), under the cap.
    { name: "the smallest part that restores initial margin", size: "10", equity: 27_000n * USDC, mark: "58000", bk: "55300", qty: "0.6897", limit: "55300", solvent: true },
    // 2 BTC short, mark 61,000, E = 1,000: keep 1,000/3,050 = 0.3278… → close 1.6722, capped at 1; limit = bankruptcy 61,500.
    { name: "a short: buys back up to its bankruptcy price", size: "-2", equity: 1_000n * USDC, mark: "61000", bk: "61500", qty: "1", limit: "61500", solvent: true },
    // 0.01 BTC (580 USDC of notional) is under min_liquidation_notional: whole.
    { name: "under min notional: whole", size: "0.01", equity: 10n * USDC, mark: "58000", bk: "57000", qty: "0.01", limit: "57000", solvent: true },
    // Bankrupt (E < 0): whole, limit the mark less 2% = 41,160 (the room is ample).
    { name: "bankrupt: whole, within slippage of mark", size: "1", equity: -15_000n * USDC, mark: "42000", bk: "57000", qty: "1", limit: "41160", solvent: false },
    // Bankrupt short at 70,000 (bk 63,000): whole, limit 70,000 × 1.02 = 71,400.
    { name: "bankrupt short: mark plus slippage", size: "-1", equity: -7_000n * USDC, mark: "70000", bk: "63000", qty: "1", limit: "71400", solvent: false },
    // Same long, but the waterfall can pay only 15,500: the limit may not go below 57,000 − 15,500/1 = 41,500.
    { name: "bounded by what the waterfall can pay", size: "1", equity: -15_000n * USDC, mark: "42000", bk: "57000", room: 15_500n * USDC, qty: "1", limit: "41500", solvent: false },
    // 3 BTC, room 1,000: bound 57,000 − 333.33… = 56,666.66… → rounded up to the tick 56,666.7.
    { name: "the bound rounds to the tick on the safe side", size: "3", equity: -45_000n * USDC, mark: "42000", bk: "57000", room: 1_000n * USDC, qty: "3", limit: "56666.7", solvent: false },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const out = incrementalClose({ ...btc, size: D(r.size), equity: r.equity, mark: D(r.mark), bankruptcy: D(r.bk), room: r.room ?? btc.room });
      expect({ qty: out.quantity.toString(), limit: out.limit.toString(), solvent: out.solvent }).toEqual({ qty: D(r.qty).toString(), limit: D(r.limit).toString(), solvent: r.solvent });
    });
  }
});

describe("Dutch auction price path", () => {
  // Start 58,000, 0.5% per block, at most 5%; a long's price falls, a short's rises.
  const start = D("58000");
  const path = (long: boolean) => [0n, 1n, 2n, 5n, 10n, 11n, 40n].map((b) => dutchPrice(start, b, D("0.005"), D("0.05"), D("0.1"), long).toString());
  it("a long: 58,000 × (1 − 0.005·blocks), floored to the tick, down to 5% off", () => {
    expect(path(true)).toEqual(["58000", "57710", "57420", "56550", "55100", "55100", "55100"].map((x) => D(x).toString()));
  });
  it("a short: 58,000 × (1 + 0.005·blocks), up to 5% over", () => {
    expect(path(false)).toEqual(["58000", "58290", "58580", "59450", "60900", "60900", "60900"].map((x) => D(x).toString()));
  });
  it("rounds against the position to the tick", () => {
    // 57,777.7 × 0.995 = 57,488.8115 → 57,488.8 for a long; × 1.005 = 58,066.5885 → 58,066.6 for a short.
    expect(dutchPrice(D("57777.7"), 1n, D("0.005"), D("0.05"), D("0.1"), true).toString()).toBe(D("57488.8").toString());
    expect(dutchPrice(D("57777.7"), 1n, D("0.005"), D("0.05"), D("0.1"), false).toString()).toBe(D("58066.6").toString());
  });
});

describe("liquidation fee cap", () => {
  const rows: [string, bigint, bigint, bigint][] = [
    // rate 1% of 57,500 = 575, equity left 500 → 500
    ["capped by the equity left", 57_500n * USDC, 500n * USDC, 500n * USDC],
    // 1% of 29,000 = 290 < 1,000 → 290
    ["in full when equity allows", 29_000n * USDC, 1_000n * USDC, 290n * USDC],
    // nothing left → nothing
    ["nothing when bankrupt", 42_000n * USDC, -5n * USDC, 0n],
    // 1% of 1 uusdc rounds up to 1 uusdc
    ["rounds up", 1n, 10n, 1n],
  ];
  for (const [name, notional, available, fee] of rows) it(name, () => expect(liquidationFee(D("0.01"), notional, available)).toBe(fee));
});

describe("ADL price", () => {
  it("the bankruptcy price when the pools hold nothing", () => expect(adlPrice(D("2"), D("57000"), D("54000"), 0n, D("0.1")).toString()).toBe(D("57000").toString()));
  it("moved toward the mark by the room over the size", () => expect(adlPrice(D("2"), D("57000"), D("54000"), 36n * USDC, D("0.1")).toString()).toBe(D("56982").toString()));
  it("never past the mark", () => expect(adlPrice(D("1"), D("57000"), D("54000"), 10_000n * USDC, D("0.1")).toString()).toBe(D("54000").toString()));
  it("a short: upward, rounded down to the tick", () => expect(adlPrice(D("-3"), D("63000"), D("70000"), 1_000n * USDC, D("0.1")).toString()).toBe(D("63333.3").toString()));
});

describe("tick rounding", () => {
  it("rounds up and down to a step, negative values too", () => {
    expect(roundUpTo(D("1.05"), D("0.1")).toString()).toBe(D("1.1").toString());
    expect(roundDownTo(D("1.05"), D("0.1")).toString()).toBe(D("1").toString());
    expect(roundUpTo(D("-1.05"), D("0.1")).toString()).toBe(D("-1").toString());
    expect(roundDownTo(D("-1.05"), D("0.1")).toString()).toBe(D("-1.1").toString());
    expect(roundUpTo(D("2"), D("0.1")).toString()).toBe(D("2").toString());
  });
});
