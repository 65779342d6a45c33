/**
 * Fixed-point decimals with 18 places on bigint (prices, quantities, rates).
 *
 * A `Dec` is an immutable value `raw / 10^18`. Every operation that can lose
 * precision takes its rounding direction explicitly — `"floor"` or `"ceil"` — so the
 * caller decides, per SPEC §3.1, whether a figure rounds in the system's favour.
 */
import { checked, divCeil, divFloor, isqrt } from "./int";

export const DEC_PLACES = 18;
export const DEC_ONE_RAW = 10n ** 18n;

export type Rounding = "floor" | "ceil";

function div(a: bigint, b: bigint, r: Rounding): bigint {
  return r === "floor" ? divFloor(a, b) : divCeil(a, b);
}

const DEC_RE = /^(-)?(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
const parsed = new Map<string, Dec>();
const PARSED_MAX = 16_384;

export class Dec {
  static readonly ZERO = new Dec(0n);
  static readonly ONE = new Dec(DEC_ONE_RAW);

  /** The scaled integer: value × 10^18. */
  readonly raw: bigint;

  private constructor(raw: bigint) {
    this.raw = checked(raw);
  }

  static fromRaw(raw: bigint): Dec {
    return new Dec(raw);
  }

  static fromInt(n: bigint | number): Dec {
    return new Dec(BigInt(n) * DEC_ONE_RAW);
  }

  /**
   * Parses a decimal string with at most 18 fractional digits, exactly.
   * Refuses exponents, signs other than a leading '-', empty parts and more than 18 places.
   */
  static parse(s: string): Dec {
    // Parameters, prices and sizes repeat in every block: recent strings are remembered
    // (a Dec is immutable, so one value may be shared; bounded).
    const hit = parsed.get(s);
    if (hit !== undefined) return hit;
    const d = Dec.parseUncached(s);
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(s, d);
    return d;
  }

  private static parseUncached(s: string): Dec {
    const m = typeof s === "string" ? DEC_RE.exec(s) : null;
    if (!m) throw new RangeError(`not a decimal: ${JSON.stringify(s)}`);
    const frac = m[3] ?? "";
    if (frac.length > DEC_PLACES) throw new RangeError(`more than ${DEC_PLACES} decimal places: ${s}`);
    const raw = BigInt(m[2]) * DEC_ONE_RAW + BigInt((frac + "0".repeat(DEC_PLACES)).slice(0, DEC_PLACES));
    return new Dec(m[1] ? -raw : raw);
  }

  /** `n / d` as a decimal, rounded as asked. */
  static ratio(n: bigint, d: bigint, r: Rounding): Dec {
    return new Dec(div(n * DEC_ONE_RAW, d, r));
  }

  add(o: Dec): Dec {
    return new Dec(this.raw + o.raw);
  }
  sub(o: Dec): Dec {
    return new Dec(this.raw - o.raw);
  }
  neg(): Dec {
    return new Dec(-this.raw);
  }
  abs(): Dec {
    return this.raw < 0n ? new Dec(-this.raw) : this;
  }
  mul(o: Dec, r: Rounding): Dec {
    return new Dec(div(this.raw * o.raw, DEC_ONE_RAW, r));
  }
  div(o: Dec, r: Rounding): Dec {
    return new Dec(div(this.raw * DEC_ONE_RAW, o.raw, r));
  }
  mulInt(n: bigint): Dec {
    return new Dec(this.raw * n);
  }
  divInt(n: bigint, r: Rounding): Dec {
    return new Dec(div(this.raw, n, r));
  }
  /** √this, rounded down (this ≥ 0). */
  sqrtFloor(): Dec {
    return new Dec(isqrt(this.raw * DEC_ONE_RAW));
  }
  /** The integer part, rounded as asked (e.g. a uusdc amount owed rounds up). */
  toInt(r: Rounding): bigint {
    return div(this.raw, DEC_ONE_RAW, r);
  }
  /** `this × n` as an integer (e.g. price × quantity → uusdc), rounded as asked. */
  mulIntToInt(n: bigint, r: Rounding): bigint {
    return div(this.raw * n, DEC_ONE_RAW, r);
  }

  cmp(o: Dec): -1 | 0 | 1 {
    return this.raw < o.raw ? -1 : this.raw > o.raw ? 1 : 0;
  }
  eq(o: Dec): boolean {
    return this.raw === o.raw;
  }
  lt(o: Dec): boolean {
    return this.raw < o.raw;
  }
  lte(o: Dec): boolean {
    return this.raw <= o.raw;
  }
  gt(o: Dec): boolean {
    return this.raw > o.raw;
  }
  gte(o: Dec): boolean {
    return this.raw >= o.raw;
  }
  isZero(): boolean {
    return this.raw === 0n;
  }
  isNegative(): boolean {
    return this.raw < 0n;
  }
  isPositive(): boolean {
    return this.raw > 0n;
  }
  static min(a: Dec, b: Dec): Dec {
    return a.raw <= b.raw ? a : b;
  }
  static max(a: Dec, b: Dec): Dec {
    return a.raw >= b.raw ? a : b;
  }

  /** Canonical form: always 18 fractional digits ("60000.000000000000000000"). */
  toString(): string {
    const neg = this.raw < 0n;
    const a = neg ? -this.raw : this.raw;
    const int = a / DEC_ONE_RAW;
    const frac = (a % DEC_ONE_RAW).toString().padStart(DEC_PLACES, "0");
    return `${neg ? "-" : ""}${int}.${frac}`;
  }

  toJSON(): string {
    return this.toString();
  }
}
