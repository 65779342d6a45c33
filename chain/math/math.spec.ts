import { ArithmeticOverflowError, MAX_INT_256, checked, divCeil, divFloor, isqrt, parseUint } from "./int";
import { Dec } from "./decimal";

describe("divFloor / divCeil", () => {
  it.each([
    // a, b, floor, ceil
    [7n, 2n, 3n, 4n],
    [-7n, 2n, -4n, -3n],
    [7n, -2n, -4n, -3n],
    [-7n, -2n, 3n, 4n],
    [6n, 3n, 2n, 2n],
    [-6n, 3n, -2n, -2n],
    [0n, 5n, 0n, 0n],
    [1n, 1000000n, 0n, 1n],
  ])("%p / %p → floor %p, ceil %p", (a, b, f, c) => {
    expect(divFloor(a, b)).toBe(f);
    expect(divCeil(a, b)).toBe(c);
  });

  it("refuses division by zero", () => {
    expect(() => divFloor(1n, 0n)).toThrow(RangeError);
    expect(() => divCeil(1n, 0n)).toThrow(RangeError);
  });
});

describe("isqrt", () => {
  it.each([
    [0n, 0n],
    [1n, 1n],
    [3n, 1n],
    [4n, 2n],
    [15n, 3n],
    [16n, 4n],
    [10n ** 36n, 10n ** 18n],
    [10n ** 36n - 1n, 10n ** 18n - 1n],
  ])("⌊√%p⌋ = %p", (n, r) => {
    expect(isqrt(n)).toBe(r);
  });

  it("is the floor square root on a sweep of large values", () => {
    for (let k = 1n; k < 2000n; k += 7n) {
      const n = k * k * 1000003n + k;
      const r = isqrt(n);
      expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
    }
  });

  it("refuses negative input", () => {
    expect(() => isqrt(-1n)).toThrow(RangeError);
  });
});

describe("overflow", () => {
  it("accepts the 256-bit bound and refuses beyond it", () => {
    expect(checked(MAX_INT_256)).toBe(MAX_INT_256);
    expect(() => checked(MAX_INT_256 + 1n)).toThrow(ArithmeticOverflowError);
    expect(() => checked(-MAX_INT_256 - 1n)).toThrow(ArithmeticOverflowError);
  });

  it("refuses a decimal product beyond the bound", () => {
    const big = Dec.fromRaw(MAX_INT_256 / 10n);
    expect(() => big.mul(Dec.fromInt(100), "floor")).toThrow(ArithmeticOverflowError);
  });

  it("parses only canonical unsigned integers", () => {
    expect(parseUint("0")).toBe(0n);
    expect(parseUint("123")).toBe(123n);
    for (const bad of ["", "-1", "01", "1e3", "1.0", " 1", "0x10"]) expect(() => parseUint(bad)).toThrow(RangeError);
    expect(() => parseUint((MAX_INT_256 + 1n).toString())).toThrow(ArithmeticOverflowError);
  });
});

describe("Dec", () => {
  it("parses and prints exactly", () => {
    expect(Dec.parse("60000").toString()).toBe("60000.000000000000000000");
    expect(Dec.parse("-0.5").toString()).toBe("-0.500000000000000000");
    expect(Dec.parse("0.000000000000000001").raw).toBe(1n);
    for (const bad of ["", "1.", ".5", "1e5", "+1", "0.0000000000000000001", "abc", "1,5"]) {
      expect(() => Dec.parse(bad)).toThrow(RangeError);
    }
  });

  it("rounds multiplication and division in the named direction", () => {
    const third = Dec.ratio(1n, 3n, "floor");
    expect(third.raw).toBe(333333333333333333n);
    expect(Dec.ratio(1n, 3n, "ceil").raw).toBe(333333333333333334n);
    expect(Dec.ONE.div(Dec.fromInt(3), "ceil").raw).toBe(333333333333333334n);
    const tiny = Dec.fromRaw(1n);
    expect(tiny.mul(tiny, "floor").raw).toBe(0n);
    expect(tiny.mul(tiny, "ceil").raw).toBe(1n);
    // negative values: floor goes towards −∞
    expect(tiny.neg().mul(tiny, "floor").raw).toBe(-1n);
    expect(tiny.neg().mul(tiny, "ceil").raw).toBe(0n);
  });

  it("converts to integers in the named direction (owed rounds up, paid rounds down)", () => {
    const price = Dec.parse("60000.5");
    const qty = 3n; // notional of 3 units at 60000.5 = 180001.5
    expect(price.mulIntToInt(qty, "ceil")).toBe(180002n);
    expect(price.mulIntToInt(qty, "floor")).toBe(180001n);
    expect(Dec.parse("-1.5").toInt("floor")).toBe(-2n);
    expect(Dec.parse("-1.5").toInt("ceil")).toBe(-1n);
  });

  it("takes square roots rounding down", () => {
    expect(Dec.fromInt(4).sqrtFloor().toString()).toBe("2.000000000000000000");
    expect(Dec.fromInt(2).sqrtFloor().toString()).toBe("1.414213562373095048");
    const s = Dec.parse("0.0004").sqrtFloor();
    expect(s.toString()).toBe("0.020000000000000000");
  });

  it("compares", () => {
    expect(Dec.parse("1.1").gt(Dec.ONE)).toBe(true);
    expect(Dec.max(Dec.ONE, Dec.ZERO).eq(Dec.ONE)).toBe(true);
    expect(Dec.parse("-2").cmp(Dec.parse("-1"))).toBe(-1);
  });
});
