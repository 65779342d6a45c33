/**
 * x/insurance keeper: segmented pools that LPs fund and that pay deficits (SPEC §3.7).
 * Share math is the pure functions of `types/shares.ts`; this keeper holds the books.
 *
 * Money: every pool's uusdc sits in the `insurance` module account; a pool's
 * `balance_uusdc` is its part of it (Σ balances = the module's uusdc). Shares are the
 * bank denom `share/<pool>`: LP shares are in LPs' accounts, escrowed and locked shares
 * in the module account, so the share supply = LP shares + escrowed + locked.
 *
 * Borrowing: a pool that cannot pay a deficit draws on the reserve, then on its credit
 * lines (each with a cap); every draw is recorded on the borrower's credit line with that
 * lender, and the borrower's revenue repays its debts before it adds to its balance.
 * A pool's net assets (what its shares are worth) = balance − debt + lent out.
 *
 * State (under the module prefix 0x06):
 *   0x00                          → Params
 *   0x01 ‖ pool                   → Pool
 *   0x02 ‖ u64 id                 → Withdrawal
 *   0x03 ‖ u64 maturity ‖ u64 id  → (the payout queue, in maturity order)
 *   0x04 ‖ owner ‖ u64 id         → (withdrawals by owner)
 *   0x05                          → next withdrawal id (u64)
 *   0x06 ‖ pool ‖ u64 epoch       → PoolSnapshot (history per epoch)
 */
import { Context } from "../../app/context";
import { Dec } from "../../math/decimal";
import { PrefixKV } from "../../store/prefix";
import { getProto, getShared, key, skey, prefixEndOf, scanProto, setProto, u64 } from "../../store/codec";
import { BankKeeper } from "../bank/keeper";
import { Params, Pool, PoolSnapshot, Withdrawal } from "../../../client/src/generated/backstop/insurance/v1/insurance";
import { nav, PoolBook, shareValue, sharesForDeposit, withdrawalPayout } from "./types/shares";
import { ErrDepositTooSmall, ErrInsufficientShares, ErrPoolInsolvent, ErrUnknownPool, ErrUnknownWithdrawal } from "./errors";

export const INSURANCE_STORE_PREFIX = Uint8Array.of(0x06);
export const INSURANCE_MODULE = "insurance";
const PARAMS = 0x00;
const POOL = 0x01;
const WITHDRAWAL = 0x02;
const QUEUE = 0x03;
const BY_OWNER = 0x04;
const NEXT_ID = 0x05;
const HISTORY = 0x06;

export const DEFAULT_INSURANCE_PARAMS: Params = {
  epochBlocks: 100n,
  minLockedShares: "1000000000",
  maxPayoutsPerBlock: 100,
  stressFloor: "0.1",
  stressZ: "3",
  stressHorizonBlocks: 100n,
  gapAddOn: "0.05",
};

export const shareDenom = (poolId: string) => `share/${poolId}`;

const big = (s: string) => (s === "" ? 0n : BigInt(s));

/** Where a deficit was paid from. */
export interface DeficitOutcome {
  readonly paid: bigint;
  readonly unpaid: bigint;
  readonly sources: readonly { pool: string; amount: bigint }[];
}

export class InsuranceKeeper {
  /** The value at mark of positions a pool took over (the clearing module installs it). */
  private inventoryValue: (ctx: Context, poolId: string) => bigint = () => 0n;

  constructor(private readonly bank: BankKeeper, private readonly collateralDenom = "uusdc") {}

  setInventoryValue(f: (ctx: Context, poolId: string) => bigint): void {
    this.inventoryValue = f;
  }

  private kv(ctx: Context): PrefixKV {
    return new PrefixKV(ctx.store, INSURANCE_STORE_PREFIX);
  }

  getParams(ctx: Context): Params {
    return getShared(this.kv(ctx), skey(PARAMS), Params) ?? DEFAULT_INSURANCE_PARAMS;
  }

  setParams(ctx: Context, p: Params): void {
    setProto(this.kv(ctx), skey(PARAMS), Params, p);
  }

  // --- pools --------------------------------------------------------------------------

  getPool(ctx: Context, id: string): Pool | undefined {
    return getShared(this.kv(ctx), skey(POOL, id), Pool);
  }

  requirePool(ctx: Context, id: string): Pool {
    const p = this.getPool(ctx, id);
    if (!p) throw ErrUnknownPool.wrap(JSON.stringify(id));
    return p;
  }

  setPool(ctx: Context, p: Pool): void {
    setProto(this.kv(ctx), skey(POOL, p.id), Pool, p);
  }

  pools(ctx: Context): Pool[] {
    return [...scanProto(this.kv(ctx), key(POOL), Pool)].map(([, p]) => p);
  }

  reserve(ctx: Context): Pool | undefined {
    return this.pools(ctx).find((p) => p.isReserve);
  }

  /** The pool that insures a market. */
  poolOfMarket(ctx: Context, marketId: string): Pool | undefined {
    return this.pools(ctx).find((p) => p.marketIds.includes(marketId));
  }

  /** What other pools owe this one at face value (its credit drawn by borrowers). */
  lentOut(ctx: Context, poolId: string): bigint {
    let n = 0n;
    for (const p of this.pools(ctx)) for (const l of p.creditLines) if (l.lenderPoolId === poolId) n += big(l.drawnUusdc);
    return n;
  }

  /**
   * What other pools owe this one, each loan valued at what its borrower can repay (SPEC
   * §3.6 step 7: a loan is never counted at face value once the borrower cannot repay it):
   * a borrower whose gross assets (balance, takeover inventory at mark, and what it has lent
   * at face value — one level, so that mutual lines do not recurse) fall short of its debts
   * repays each lender pro rata, rounded down.
   */
  lentOutValue(ctx: Context, poolId: string): bigint {
    let n = 0n;
    for (const b of this.pools(ctx)) {
      const line = b.creditLines.find((l) => l.lenderPoolId === poolId);
      const drawn = line ? big(line.drawnUusdc) : 0n;
      if (drawn === 0n) continue;
      const debt = big(b.debtUusdc);
      const gross = big(b.balanceUusdc) + this.inventoryValue(ctx, b.id) + this.lentOut(ctx, b.id);
      n += gross >= debt ? drawn : gross <= 0n ? 0n : (drawn * gross) / debt;
    }
    return n;
  }

  /**
   * Net assets (balance − debt + what borrowers can repay + inventory taken over, at mark)
   * and shares: what NAV is computed from.
   */
  book(ctx: Context, p: Pool): PoolBook {
    return { assets: big(p.balanceUusdc) - big(p.debtUusdc) + this.lentOutValue(ctx, p.id) + this.inventoryValue(ctx, p.id), shares: big(p.totalShares) };
  }

  nav(ctx: Context, p: Pool): Dec {
    return nav(this.book(ctx, p));
  }

  // --- LPs ----------------------------------------------------------------------------

  /** Deposit uusdc into a pool; mints shares at NAV (the first deposit locks the minimum). */
  deposit(ctx: Context, depositor: string, poolId: string, amount: bigint): bigint {
    const pool = this.requirePool(ctx, poolId);
    const out = sharesForDeposit(this.book(ctx, pool), amount, big(this.getParams(ctx).minLockedShares));
    if (!out.ok) {
      if (out.reason === "pool_insolvent") throw ErrPoolInsolvent.wrap(poolId);
      throw ErrDepositTooSmall.wrap(`${amount}uusdc mints no shares in ${poolId}`);
    }
    const denom = shareDenom(poolId);
    this.bank.sendToModule(ctx, depositor, INSURANCE_MODULE, this.collateralDenom, amount);
    this.bank.mint(ctx, INSURANCE_MODULE, denom, out.minted);
    this.bank.sendFromModule(ctx, INSURANCE_MODULE, depositor, denom, out.toDepositor);
    this.setPool(ctx, {
      ...pool,
      balanceUusdc: (big(pool.balanceUusdc) + amount).toString(),
      totalShares: (big(pool.totalShares) + out.minted).toString(),
      lockedShares: (big(pool.lockedShares) + out.locked).toString(),
    });
    ctx.events.emitTyped("backstop.insurance.v1.EventPoolDeposit", { pool_id: poolId, depositor, amount_uusdc: amount.toString(), shares: out.toDepositor.toString() });
    return out.toDepositor;
  }

  peekNextWithdrawalId(ctx: Context): bigint {
    const raw = this.kv(ctx).get(skey(NEXT_ID));
    return raw ? Buffer.from(raw).readBigUInt64BE() : 1n;
  }

  setNextWithdrawalId(ctx: Context, id: bigint): void {
    this.kv(ctx).set(skey(NEXT_ID), u64(id));
  }

  private nextWithdrawalId(ctx: Context): bigint {
    const raw = this.kv(ctx).get(skey(NEXT_ID));
    const id = raw ? Buffer.from(raw).readBigUInt64BE() : 1n;
    this.kv(ctx).set(skey(NEXT_ID), u64(id + 1n));
    return id;
  }

  getWithdrawal(ctx: Context, id: bigint): Withdrawal | undefined {
    return getProto(this.kv(ctx), Buffer.concat([key(WITHDRAWAL), u64(id)]), Withdrawal);
  }

  /** Stores a withdrawal with its indexes (also used by genesis import). */
  putWithdrawal(ctx: Context, w: Withdrawal): void {
    const kv = this.kv(ctx);
    setProto(kv, Buffer.concat([key(WITHDRAWAL), u64(w.id)]), Withdrawal, w);
    kv.set(Buffer.concat([key(QUEUE), u64(BigInt(w.maturesUnixSeconds)), u64(w.id)]), new Uint8Array());
    kv.set(Buffer.concat([key(BY_OWNER, w.owner), u64(w.id)]), new Uint8Array());
  }

  private dropWithdrawal(ctx: Context, w: Withdrawal): void {
    const kv = this.kv(ctx);
    kv.delete(Buffer.concat([key(WITHDRAWAL), u64(w.id)]));
    kv.delete(Buffer.concat([key(QUEUE), u64(BigInt(w.maturesUnixSeconds)), u64(w.id)]));
    kv.delete(Buffer.concat([key(BY_OWNER, w.owner), u64(w.id)]));
  }

  withdrawalsOf(ctx: Context, owner: string): Withdrawal[] {
    const prefix = key(BY_OWNER, owner);
    const out: Withdrawal[] = [];
    for (const [k] of this.kv(ctx).iterator(prefix, prefixEndOf(prefix))) {
      const w = this.getWithdrawal(ctx, Buffer.from(k).subarray(prefix.length).readBigUInt64BE());
      if (w) out.push(w);
    }
    return out;
  }

  allWithdrawals(ctx: Context): Withdrawal[] {
    return [...scanProto(this.kv(ctx), key(WITHDRAWAL), Withdrawal)].map(([, w]) => w);
  }

  /** Escrows shares until the cooldown ends; the payout is shares × min(NAV now, NAV at payout). */
  requestWithdrawal(ctx: Context, owner: string, poolId: string, shares: bigint): Withdrawal {
    const pool = this.requirePool(ctx, poolId);
    const denom = shareDenom(poolId);
    const have = this.bank.getBalance(ctx, owner, denom);
    if (have < shares) throw ErrInsufficientShares.wrap(`${owner} holds ${have} ${denom}, asked for ${shares}`);
    this.bank.sendToModule(ctx, owner, INSURANCE_MODULE, denom, shares);
    const w: Withdrawal = {
      id: this.nextWithdrawalId(ctx),
      owner,
      poolId,
      shares: shares.toString(),
      navAtRequest: this.nav(ctx, pool).toString(),
      requestedUnixSeconds: ctx.time,
      maturesUnixSeconds: ctx.time + BigInt(pool.withdrawalCooldownSeconds),
      valueAtRequestUusdc: shareValue(this.book(ctx, pool), shares).toString(),
    };
    this.putWithdrawal(ctx, w);
    this.setPool(ctx, { ...pool, escrowedShares: (big(pool.escrowedShares) + shares).toString() });
    ctx.events.emitTyped("backstop.insurance.v1.EventWithdrawalRequested", {
      withdrawal_id: w.id.toString(),
      owner,
      pool_id: poolId,
      shares: w.shares,
      nav_at_request: w.navAtRequest,
      matures_unix_seconds: w.maturesUnixSeconds.toString(),
    });
    return w;
  }

  /** Returns the escrowed shares. */
  cancelWithdrawal(ctx: Context, owner: string, id: bigint): void {
    const w = this.getWithdrawal(ctx, id);
    if (!w || w.owner !== owner) throw ErrUnknownWithdrawal.wrap(`no withdrawal ${id} of ${owner}`);
    const pool = this.requirePool(ctx, w.poolId);
    this.bank.sendFromModule(ctx, INSURANCE_MODULE, owner, shareDenom(w.poolId), BigInt(w.shares));
    this.setPool(ctx, { ...pool, escrowedShares: (big(pool.escrowedShares) - BigInt(w.shares)).toString() });
    this.dropWithdrawal(ctx, w);
    ctx.events.emitTyped("backstop.insurance.v1.EventWithdrawalCancelled", { withdrawal_id: id.toString(), owner });
  }

  /** Pays matured withdrawals in maturity order, at most max_payouts_per_block of them. */
  processWithdrawals(ctx: Context): number {
    const kv = this.kv(ctx);
    const limit = this.getParams(ctx).maxPayoutsPerBlock;
    const qp = key(QUEUE);
    const due: bigint[] = [];
    for (const [k] of kv.iterator(qp, Buffer.concat([qp, u64(BigInt.asUintN(64, ctx.time + 1n))]))) {
      if (due.length >= limit) break;
      due.push(Buffer.from(k).subarray(qp.length + 8).readBigUInt64BE());
    }
    let paidOut = 0;
    for (const id of due) {
      const w = this.getWithdrawal(ctx, id)!;
      const shares = BigInt(w.shares);
      const atRequest = w.valueAtRequestUusdc !== "" ? BigInt(w.valueAtRequestUusdc) : Dec.parse(w.navAtRequest).mulIntToInt(shares, "floor");
      // What the shares are owed: min(value at request, value now).
      let pool = this.requirePool(ctx, w.poolId);
      const owed = withdrawalPayout(shares, atRequest, this.book(ctx, pool));
      // Cash the pool lent the reserve (rebalancing) comes back first when its own is short.
      const short = owed - big(pool.balanceUusdc);
      if (short > 0n) pool = this.recallFromReserve(ctx, pool, short);
      const balance = big(pool.balanceUusdc);
      const amount = owed < balance ? owed : balance;
      // What cannot be paid yet stays escrowed and queued: only the shares paid for are
      // burned (rounded up, in the pool's favour); the rest is paid as cash comes in.
      const burned = amount === owed ? shares : (shares * amount + owed - 1n) / owed;
      if (burned === 0n) continue;
      this.bank.burn(ctx, INSURANCE_MODULE, shareDenom(w.poolId), burned);
      if (amount > 0n) this.bank.sendFromModule(ctx, INSURANCE_MODULE, w.owner, this.collateralDenom, amount);
      this.setPool(ctx, {
        ...pool,
        balanceUusdc: (balance - amount).toString(),
        totalShares: (big(pool.totalShares) - burned).toString(),
        escrowedShares: (big(pool.escrowedShares) - burned).toString(),
      });
      if (burned === shares) this.dropWithdrawal(ctx, w);
      else {
        const left = shares - burned;
        this.putWithdrawal(ctx, { ...w, shares: left.toString(), valueAtRequestUusdc: ((atRequest * left) / shares).toString() });
      }
      paidOut++;
      ctx.events.emitTyped("backstop.insurance.v1.EventWithdrawalPaid", { withdrawal_id: id.toString(), owner: w.owner, pool_id: w.poolId, shares: burned.toString(), amount_uusdc: amount.toString() });
    }
    return paidOut;
  }

  /** Has the reserve repay up to `want` of what it owes `pool` (as far as its balance goes); returns the pool as it now stands. */
  private recallFromReserve(ctx: Context, pool: Pool, want: bigint): Pool {
    const reserve = this.reserve(ctx);
    const back = minB(want, recallable(reserve, pool.id));
    if (!reserve || back <= 0n) return pool;
    this.moveAsCredit(ctx, reserve.id, pool.id, back); // a repayment only: back ≤ what it owes
    return this.requirePool(ctx, pool.id);
  }

  /** LP shares of an address in every pool, valued at NAV. */
  lpShares(ctx: Context, owner: string): { poolId: string; shares: bigint; value: bigint }[] {
    const out: { poolId: string; shares: bigint; value: bigint }[] = [];
    for (const p of this.pools(ctx)) {
      const shares = this.bank.getBalance(ctx, owner, shareDenom(p.id));
      if (shares > 0n) out.push({ poolId: p.id, shares, value: shareValue(this.book(ctx, p), shares) });
    }
    return out;
  }

  // --- the keeper interface the liquidation engine uses ---------------------------------

  /**
   * Pays a deficit of `amount` uusdc incurred in `marketId` to module account `to`:
   * from the market's pool, then the reserve, then the pool's credit lines within their
   * caps. Draws beyond the pool's own balance are recorded as its debts. Returns what was
   * paid and what could not be (for ADL).
   */
  coverDeficit(ctx: Context, poolId: string, amount: bigint, to: string, marketId = ""): DeficitOutcome {
    const sources: { pool: string; amount: bigint }[] = [];
    let left = amount;
    let pool = this.requirePool(ctx, poolId);
    // Sibling pools lend only against net assets (SPEC §3.6 step 7): every uusdc paid
    // lowers the borrower's net assets by as much, so siblings lend at most what is left of
    // them after the pool's own cash and the reserve's loan.
    let backing = this.book(ctx, pool).assets;
    // 1. The pool itself.
    const own = minB(left, big(pool.balanceUusdc));
    if (own > 0n) {
      pool = { ...pool, balanceUusdc: (big(pool.balanceUusdc) - own).toString() };
      this.setPool(ctx, pool);
      sources.push({ pool: poolId, amount: own });
      left -= own;
      backing -= own;
    }
    // 2. The reserve, then 3. credit lines in order: each draw is a debt of the pool.
    const lenders: { id: string; cap: bigint | null }[] = [];
    const reserve = this.reserve(ctx);
    if (reserve && reserve.id !== poolId) lenders.push({ id: reserve.id, cap: null });
    for (const l of pool.creditLines) if (!reserve || l.lenderPoolId !== reserve.id) lenders.push({ id: l.lenderPoolId, cap: big(l.capUusdc) });
    for (const lender of lenders) {
      if (left === 0n) break;
      const lp = this.getPool(ctx, lender.id);
      if (!lp) continue;
      pool = this.requirePool(ctx, poolId);
      const line = pool.creditLines.find((l) => l.lenderPoolId === lender.id);
      const drawn = line ? big(line.drawnUusdc) : 0n;
      const room = lender.cap === null ? left : minB(maxB(0n, lender.cap - drawn), maxB(0n, backing));
      const take = minB(left, minB(room, big(lp.balanceUusdc)));
      if (take === 0n) continue;
      backing -= take;
      this.setPool(ctx, { ...lp, balanceUusdc: (big(lp.balanceUusdc) - take).toString() });
      const lines = line
        ? pool.creditLines.map((l) => (l.lenderPoolId === lender.id ? { ...l, drawnUusdc: (drawn + take).toString() } : l))
        : [{ lenderPoolId: lender.id, capUusdc: "", drawnUusdc: take.toString() }, ...pool.creditLines]; // the reserve's line goes first: repaid first
      this.setPool(ctx, { ...pool, creditLines: lines, debtUusdc: (big(pool.debtUusdc) + take).toString() });
      sources.push({ pool: lender.id, amount: take });
      left -= take;
    }
    const paid = amount - left;
    if (paid > 0n) this.bank.sendModuleToModule(ctx, INSURANCE_MODULE, to, this.collateralDenom, paid);
    for (const s of sources) {
      ctx.events.emitTyped("backstop.insurance.v1.EventDeficitCovered", { pool_id: poolId, source_pool_id: s.pool, amount_uusdc: s.amount.toString(), market_id: marketId, unpaid_uusdc: left.toString() });
    }
    if (sources.length === 0) ctx.events.emitTyped("backstop.insurance.v1.EventDeficitCovered", { pool_id: poolId, source_pool_id: "", amount_uusdc: "0", market_id: marketId, unpaid_uusdc: left.toString() });
    return { paid, unpaid: left, sources };
  }

  /**
   * What the waterfall of `coverDeficit` could pay for this pool now: its balance, the
   * reserve's, and the room on its credit lines (each within its cap and its lender's
   * balance). ADL happens only beyond this (SPEC §3.6 step 6, §3.9).
   */
  capacity(ctx: Context, poolId: string): bigint {
    const pool = this.getPool(ctx, poolId);
    if (!pool) return 0n;
    let n = big(pool.balanceUusdc);
    const reserve = this.reserve(ctx);
    if (reserve && reserve.id !== poolId) n += big(reserve.balanceUusdc);
    let lines = 0n;
    for (const l of pool.creditLines) {
      if (reserve && l.lenderPoolId === reserve.id) continue;
      const lender = this.getPool(ctx, l.lenderPoolId);
      if (!lender) continue;
      lines += minB(maxB(0n, big(l.capUusdc) - big(l.drawnUusdc)), big(lender.balanceUusdc));
    }
    // Siblings lend only against what is left of the pool's net assets (see coverDeficit).
    return n + minB(lines, maxB(0n, this.book(ctx, pool).assets - n));
  }

  /**
   * Records a pool's coverage figures (SPEC §3.8) and emits EventCoverage when they change.
   * Coverage = (balance − the value of escrowed withdrawals) / required capital, rounded
   * down; empty when nothing is required.
   */
  setCoverage(ctx: Context, poolId: string, required: bigint, cover2: bigint): Pool {
    const p = this.requirePool(ctx, poolId);
    const escrowed = shareValue(this.book(ctx, p), big(p.escrowedShares));
    // Cash the pool lent the reserve counts as far as the reserve holds it: it is recalled
    // for withdrawals (see processWithdrawals).
    const free = maxB(0n, big(p.balanceUusdc) + recallable(this.reserve(ctx), poolId) - escrowed);
    const coverage = required === 0n ? "" : Dec.ratio(free, required, "floor").toString();
    const netAssets = this.book(ctx, p).assets.toString();
    if (p.requiredCapitalUusdc === required.toString() && p.cover2Uusdc === cover2.toString() && p.coverage === coverage && p.netAssetsUusdc === netAssets) return p;
    const next = { ...p, requiredCapitalUusdc: required.toString(), cover2Uusdc: cover2.toString(), coverage, netAssetsUusdc: netAssets };
    this.setPool(ctx, next);
    ctx.events.emitTyped("backstop.insurance.v1.EventCoverage", { pool_id: poolId, required_capital_uusdc: required.toString(), cover2_uusdc: cover2.toString(), coverage });
    return next;
  }

  /**
   * Revenue for a pool (fee share, liquidation fees, dust) from module account `from`:
   * repays the pool's debts first, in the order they are drawn (the reserve, then credit
   * lines in order), and the rest adds to its balance.
   */
  receiveRevenue(ctx: Context, poolId: string, amount: bigint, from: string): void {
    if (amount <= 0n) return;
    this.bank.sendModuleToModule(ctx, from, INSURANCE_MODULE, this.collateralDenom, amount);
    let pool = this.requirePool(ctx, poolId);
    let left = amount;
    const lines = pool.creditLines.map((l) => ({ ...l }));
    for (const l of lines) {
      const drawn = big(l.drawnUusdc);
      const repay = minB(left, drawn);
      if (repay === 0n) continue;
      const lender = this.requirePool(ctx, l.lenderPoolId);
      this.setPool(ctx, { ...lender, balanceUusdc: (big(lender.balanceUusdc) + repay).toString() });
      l.drawnUusdc = (drawn - repay).toString();
      left -= repay;
      ctx.events.emitTyped("backstop.insurance.v1.EventDebtRepaid", { pool_id: poolId, lender_pool_id: l.lenderPoolId, amount_uusdc: repay.toString() });
    }
    pool = this.requirePool(ctx, poolId);
    const repaid = amount - left;
    this.setPool(ctx, {
      ...pool,
      creditLines: lines.filter((l) => big(l.drawnUusdc) > 0n || l.capUusdc !== ""),
      debtUusdc: (big(pool.debtUusdc) - repaid).toString(),
      balanceUusdc: (big(pool.balanceUusdc) + left).toString(),
    });
  }

  // --- epochs ---------------------------------------------------------------------------

  /**
   * Each epoch: rebalancing — a pool above target_coverage × cap_multiple of its required
   * capital sends the excess to the reserve; the reserve tops up pools below target, as far
   * as its balance goes — then a snapshot of every pool (NAV, balance, shares) for yield
   * history. Pools whose required capital is not yet known (zero) are left alone. Both
   * moves are credit (`moveAsCredit`): liquidity moves, no pool's net assets do.
   */
  endEpoch(ctx: Context, epoch: bigint): void {
    const reserve = this.reserve(ctx);
    for (const p of this.pools(ctx)) {
      if (!reserve || p.isReserve) continue;
      const required = big(p.requiredCapitalUusdc);
      if (required === 0n) continue;
      const target = Dec.parse(p.targetCoverage || "1").mulIntToInt(required, "ceil");
      const cap = Dec.parse(p.capMultiple || "1").mulIntToInt(target, "ceil");
      const bal = big(p.balanceUusdc);
      const r = this.requirePool(ctx, reserve.id);
      if (bal > cap) this.moveAsCredit(ctx, p.id, r.id, bal - cap);
      else if (bal < target) this.moveAsCredit(ctx, r.id, p.id, minB(target - bal, big(r.balanceUusdc)));
    }
    for (const p of this.pools(ctx)) {
      setProto(this.kv(ctx), Buffer.concat([key(HISTORY, p.id), u64(epoch)]), PoolSnapshot, {
        poolId: p.id,
        epoch,
        height: ctx.height,
        nav: this.nav(ctx, p).toString(),
        balanceUusdc: p.balanceUusdc,
        totalShares: p.totalShares,
        requiredCapitalUusdc: p.requiredCapitalUusdc,
        cover2Uusdc: p.cover2Uusdc,
        coverage: p.coverage,
      });
    }
  }

  /**
   * Moves `amount` of `from`'s balance to `to` without moving value between their LPs:
   * first it repays what `from` owes `to` (its credit line with `to` as lender), and the
   * rest is lent — a debt of `to` to `from` on `to`'s credit line with it, uncapped,
   * repaid first from `to`'s revenue like any draw (the reserve's line first). Net assets
   * (balance − debt + lent out) stay the same on both sides: an LP's deposit swept to the
   * reserve is still counted in its pool's NAV, and a pool topped up owes it back.
   */
  private moveAsCredit(ctx: Context, fromId: string, toId: string, amount: bigint): void {
    if (amount <= 0n) return;
    const from = this.requirePool(ctx, fromId);
    const owed = from.creditLines.find((l) => l.lenderPoolId === toId);
    const repaid = minB(amount, owed ? big(owed.drawnUusdc) : 0n);
    this.setPool(ctx, {
      ...from,
      balanceUusdc: (big(from.balanceUusdc) - amount).toString(),
      debtUusdc: (big(from.debtUusdc) - repaid).toString(),
      creditLines: from.creditLines
        .map((l) => (l.lenderPoolId === toId ? { ...l, drawnUusdc: (big(l.drawnUusdc) - repaid).toString() } : l))
        .filter((l) => big(l.drawnUusdc) > 0n || l.capUusdc !== ""),
    });
    const lent = amount - repaid;
    const to = this.requirePool(ctx, toId);
    const line = to.creditLines.find((l) => l.lenderPoolId === fromId);
    const lines =
      lent === 0n
        ? to.creditLines
        : line
          ? to.creditLines.map((l) => (l.lenderPoolId === fromId ? { ...l, drawnUusdc: (big(l.drawnUusdc) + lent).toString() } : l))
          : from.isReserve
            ? [{ lenderPoolId: fromId, capUusdc: "", drawnUusdc: lent.toString() }, ...to.creditLines] // the reserve's line goes first: repaid first
            : [...to.creditLines, { lenderPoolId: fromId, capUusdc: "", drawnUusdc: lent.toString() }];
    this.setPool(ctx, { ...to, balanceUusdc: (big(to.balanceUusdc) + amount).toString(), debtUusdc: (big(to.debtUusdc) + lent).toString(), creditLines: lines });
    ctx.events.emitTyped("backstop.insurance.v1.EventRebalance", { from_pool_id: fromId, to_pool_id: toId, amount_uusdc: amount.toString(), repaid_uusdc: repaid.toString(), lent_uusdc: lent.toString() });
  }

  history(ctx: Context, poolId: string): PoolSnapshot[] {
    return [...scanProto(this.kv(ctx), key(HISTORY, poolId), PoolSnapshot)].map(([, s]) => s);
  }

  endBlock(ctx: Context): void {
    this.processWithdrawals(ctx);
    const epochBlocks = this.getParams(ctx).epochBlocks;
    if (epochBlocks > 0n && ctx.height % epochBlocks === 0n) this.endEpoch(ctx, ctx.height / epochBlocks);
  }
}

/** What the reserve owes a pool (its rebalancing sweeps not yet returned), as far as the reserve holds the cash. */
function recallable(reserve: Pool | undefined, poolId: string): bigint {
  if (!reserve || reserve.id === poolId) return 0n;
  return minB(big(reserve.creditLines.find((l) => l.lenderPoolId === poolId)?.drawnUusdc ?? ""), big(reserve.balanceUusdc));
}

function minB(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
function maxB(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
