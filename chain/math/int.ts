/**
 * Integer arithmetic on bigint with the rounding direction named at every division.
 *
 * Consensus code never uses `number` for amounts: every amount is a bigint, every
 * decimal a fixed-point bigint (see decimal.ts). Cosmos SDK's `Int` is bounded to
 * 256 bits; we keep the same bound so that a value that would overflow there is
 * refused here too.
 */

/** 2^256 − 1, the largest magnitude an amount may take (Cosmos SDK `math.Int`). */
export const MAX_INT_256 = (1n << 256n) - 1n;

export class ArithmeticOverflowError extends Error {
  constructor(readonly value: bigint) {
    super(`integer overflow: magnitude exceeds 256 bits`);
    this.name = "ArithmeticOverflowError";
  }
}

/** Returns `x` when |x| < 2^256, throws ArithmeticOverflowError otherwise. */
export function checked(x: bigint): bigint {
  if (x > MAX_INT_256 || x < -MAX_INT_256) throw new ArithmeticOverflowError(x);
  return x;
}

/** ⌊a / b⌋ (towards −∞). Throws on b = 0. */
export function divFloor(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new RangeError("division by zero");
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** ⌈a / b⌉ (towards +∞). Throws on b = 0. */
export function divCeil(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new RangeError("division by zero");
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) === (b < 0n)) ? q + 1n : q;
}

/** ⌊√n⌋ for n ≥ 0 (Newton's method on bigint). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError("square root of a negative number");
  if (n < 2n) return n;
  // Initial guess: 2^⌈bits/2⌉ ≥ √n, so the iteration decreases monotonically.
  let x = 1n << BigInt((n.toString(2).length + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

export function absBig(a: bigint): bigint {
  return a < 0n ? -a : a;
}

export function clampBig(x: bigint, lo: bigint, hi: bigint): bigint {
  return x < lo ? lo : x > hi ? hi : x;
}

const UINT_RE = /^(0|[1-9][0-9]*)$/;

/** Parses a non-negative decimal integer string strictly ("007", "1e3", "-1" are refused). */
export function parseUint(s: string): bigint {
  if (typeof s !== "string" || !UINT_RE.test(s)) throw new RangeError(`not a non-negative integer: ${JSON.stringify(s)}`);
  return checked(BigInt(s));
}
