/**
 * LP share accounting of an insurance pool (SPEC §3.7), as pure functions.
 *
 * Shares are integers. NAV is the pool's net assets per share. Every conversion rounds
 * in the pool's favour: a deposit mints shares rounded down, a payout pays uusdc rounded
 * down, so shares can never redeem more than the pool holds and NAV never falls through
 * deposits or withdrawals.
 *
 * The first deposit into an empty pool mints `INITIAL_SHARES_PER_UUSDC` shares per uusdc
 * and locks `minLocked` of them to the module forever (the donation attack: a first
 * depositor who mints 1 share and donates to the pool cannot make later deposits round
 * to zero shares, because the locked shares own most of any donation). What a pool holds
 * before it has shares (fees or dust that came first) belongs to the locked shares too:
 * the first depositor's shares are worth the deposit, never the pool's earlier assets.
 */
import { Dec } from "../../../math/decimal";

/** Shares minted per uusdc by the first deposit into an empty pool. */
export const INITIAL_SHARES_PER_UUSDC = 1_000_000n;

export interface PoolBook {
  /** Net assets of the pool in uusdc (balance + inventory at mark − debts). */
  readonly assets: bigint;
  /** Total shares outstanding (LPs + escrowed + locked). */
  readonly shares: bigint;
}

export type DepositOutcome =
  | { readonly ok: true; readonly minted: bigint; readonly toDepositor: bigint; readonly locked: bigint }
  | { readonly ok: false; readonly reason: "too_small" | "pool_insolvent" };

/** Shares for a deposit of `amount` uusdc. */
export function sharesForDeposit(pool: PoolBook, amount: bigint, minLocked: bigint): DepositOutcome {
  if (amount <= 0n) return { ok: false, reason: "too_small" };
  if (pool.shares === 0n) {
    if (pool.assets < 0n) return { ok: false, reason: "pool_insolvent" };
    if (pool.assets > 0n) {
      // The locked minimum takes the assets already there; the deposit buys in at that NAV.
      const locked = minLocked > 0n ? minLocked : 1n;
      const toDepositor = (amount * locked) / pool.assets; // rounded down
      if (toDepositor === 0n) return { ok: false, reason: "too_small" };
      return { ok: true, minted: locked + toDepositor, toDepositor, locked };
    }
    const minted = amount * INITIAL_SHARES_PER_UUSDC;
    if (minted <= minLocked) return { ok: false, reason: "too_small" };
    return { ok: true, minted, toDepositor: minted - minLocked, locked: minLocked };
  }
  if (pool.assets <= 0n) return { ok: false, reason: "pool_insolvent" };
  const minted = (amount * pool.shares) / pool.assets; // rounded down
  if (minted === 0n) return { ok: false, reason: "too_small" };
  return { ok: true, minted, toDepositor: minted, locked: 0n };
}

/** NAV in uusdc per share (18 places, rounded down); 0 for a pool with no shares. */
export function nav(pool: PoolBook): Dec {
  if (pool.shares === 0n || pool.assets <= 0n) return Dec.ZERO;
  return Dec.ratio(pool.assets, pool.shares, "floor");
}

/** Value of `shares` at the pool's current NAV, uusdc rounded down. */
export function shareValue(pool: PoolBook, shares: bigint): bigint {
  if (pool.shares === 0n || pool.assets <= 0n) return 0n;
  return (shares * pool.assets) / pool.shares;
}

/**
 * Payout of a matured withdrawal: min(the shares' value at request, their value now),
 * rounded down, and never more than the pool's liquid balance — SPEC §3.7's `shares ×
 * min(NAV at request, NAV at payout)`, with the value at request kept exactly in uusdc
 * rather than through an 18-place NAV (which rounds to zero in a pool whose NAV falls
 * below 1e-18 uusdc per share). The LP bears a loss taken during the cooldown and leaves
 * any gain in the pool. Without `liquidBalance`: what the shares are owed, whatever the
 * pool holds.
 */
export function withdrawalPayout(shares: bigint, valueAtRequest: bigint, pool: PoolBook, liquidBalance?: bigint): bigint {
  const now = shareValue(pool, shares);
  const v = valueAtRequest < now ? valueAtRequest : now;
  if (v < 0n) return 0n;
  return liquidBalance !== undefined && v > liquidBalance ? liquidBalance : v;
}
