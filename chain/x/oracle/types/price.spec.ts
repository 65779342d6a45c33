import { Dec } from "../../../math/decimal";
import { aggregate, median, nextVariance, sigmaOf } from "./price";

const d = Dec.parse;
const sub = (feeder: string, price: string, time = 100n) => ({ feeder, price: d(price), time });
const params = { minFeeders: 2, maxStalenessSeconds: 30n, maxDeviation: d("0.1") };

describe("median", () => {
  it.each([
    [["3"], "3"],
    [["3", "1", "2"], "2"],
    [["4", "1", "3", "2"], "2.5"],
    [["0.000000000000000001", "0.000000000000000002"], "0.000000000000000001"], // floor of 1.5e-18
  ])("%p → %s", (xs, m) => {
    expect(median(xs.map(d)).eq(d(m))).toBe(true);
  });
});

describe("aggregate", () => {
  it("takes the median of fresh submissions of distinct feeders", () => {
    const r = aggregate([sub("a", "100"), sub("b", "102"), sub("c", "101")], 110n, params);
    expect(r).toEqual({ ok: true, price: d("101"), feeders: 3, dropped: 0 });
  });

  it("ignores stale submissions and needs a quorum", () => {
    expect(aggregate([sub("a", "100", 10n), sub("b", "101", 100n)], 110n, params)).toEqual({ ok: false, reason: "no_quorum" });
    expect(aggregate([], 110n, params)).toEqual({ ok: false, reason: "no_quorum" });
  });

  it("counts a feeder once (its first entry: the caller passes the latest)", () => {
    expect(aggregate([sub("a", "100"), sub("a", "200")], 110n, params)).toEqual({ ok: false, reason: "no_quorum" });
  });

  it("drops an outlier while a quorum remains", () => {
    const r = aggregate([sub("a", "100"), sub("b", "101"), sub("c", "150")], 110n, params);
    expect(r).toEqual({ ok: true, price: d("100.5"), feeders: 2, dropped: 1 });
  });

  it("never holds back a price that a quorum submitted: a single feeder's −30% with quorum 1", () => {
    const r = aggregate([sub("a", "42000")], 110n, { ...params, minFeeders: 1 });
    expect(r).toEqual({ ok: true, price: d("42000"), feeders: 1, dropped: 0 });
  });
});

describe("volatility", () => {
  it("rises after a burst of large moves and decays after calm", () => {
    const lambda = d("0.9");
    let v = Dec.ZERO;
    let p = d("100");
    const sigmas: Dec[] = [];
    for (const next of ["110", "95", "112", "90"]) {
      v = nextVariance(v, p, d(next), lambda);
      p = d(next);
      sigmas.push(sigmaOf(v));
    }
    const afterBurst = sigmaOf(v);
    expect(afterBurst.gt(d("0.05"))).toBe(true);
    for (let i = 0; i < 40; i++) v = nextVariance(v, p, p, lambda); // calm: no moves
    expect(sigmaOf(v).lt(afterBurst.mul(d("0.2"), "floor"))).toBe(true);
    // Hand check of the first step: r = 0.1, v = 0.1 · 0.01 = 0.001, σ = 0.0316227766…
    expect(sigmas[0].toString()).toBe("0.031622776601683793");
  });
});
