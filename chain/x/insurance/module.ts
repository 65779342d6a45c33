/** x/insurance as an app module: LP deposits and withdrawals, pools by the authority, queries, genesis, end-block. */
import { AppModule, defineAuthorityMsg, defineMsg, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { ErrInvalidAddress } from "../../app/errors";
import { isValidAddress } from "../../crypto/keys";
import { Dec } from "../../math/decimal";
import { paginate } from "../../app/pagination";
import { AuthKeeper } from "../auth/keeper";
import {
  MsgCancelWithdrawal,
  MsgCancelWithdrawalResponse,
  MsgCreatePool,
  MsgCreatePoolResponse,
  MsgDeposit,
  MsgDepositResponse,
  MsgRequestWithdrawal,
  MsgRequestWithdrawalResponse,
  MsgUpdateParams,
  MsgUpdateParamsResponse,
  MsgUpdatePool,
  MsgUpdatePoolResponse,
} from "../../../client/src/generated/backstop/insurance/v1/tx";
import {
  QueryLpPositionRequest,
  QueryLpPositionResponse,
  QueryParamsRequest,
  QueryParamsResponse,
  QueryPoolHistoryRequest,
  QueryPoolHistoryResponse,
  QueryPoolRequest,
  QueryPoolResponse,
  QueryPoolsRequest,
  QueryPoolsResponse,
  QueryWithdrawalsRequest,
  QueryWithdrawalsResponse,
} from "../../../client/src/generated/backstop/insurance/v1/query";
import { GenesisState } from "../../../client/src/generated/backstop/insurance/v1/genesis";
import { Params, Pool } from "../../../client/src/generated/backstop/insurance/v1/insurance";
import { Coin } from "../../../client/src/generated/cosmos/base/v1beta1/coin";
import { DEFAULT_INSURANCE_PARAMS, InsuranceKeeper, shareDenom } from "./keeper";
import { ErrInvalidAmount, ErrInvalidParams, ErrInvalidPool, ErrPoolExists, ErrUnknownPool } from "./errors";

const POOL_ID_RE = /^[a-z][a-z0-9-]{0,31}$/;
const MAX_AMOUNT = 10n ** 40n;

function requireAddr(a: string, what: string): void {
  if (!isValidAddress(a)) throw ErrInvalidAddress.wrap(`invalid ${what} address ${JSON.stringify(a)}`);
}

function requirePoolId(id: string): void {
  if (!POOL_ID_RE.test(id)) throw ErrUnknownPool.wrap(JSON.stringify(id));
}

function positiveInt(s: string, what: string): bigint {
  if (!/^\d+$/.test(s)) throw ErrInvalidAmount.wrap(`${what} ${JSON.stringify(s)} is not a non-negative integer`);
  const n = BigInt(s);
  if (n <= 0n) throw ErrInvalidAmount.wrap(`${what} must be positive`);
  if (n > MAX_AMOUNT) throw ErrInvalidAmount.wrap(`${what} ${s} is out of range`);
  return n;
}

function uusdc(c: Coin | undefined): bigint {
  if (!c) throw ErrInvalidAmount.wrap("amount missing");
  if (c.denom !== "uusdc") throw ErrInvalidAmount.wrap(`pools take uusdc, got ${JSON.stringify(c.denom)}`);
  return positiveInt(c.amount, "amount");
}

function decIn(name: string, v: string, lo: Dec, hi: Dec | null): void {
  let d: Dec;
  try {
    d = Dec.parse(v);
  } catch (e) {
    throw ErrInvalidPool.wrap(`${name}: ${(e as Error).message}`);
  }
  if (d.lt(lo) || (hi && d.gt(hi))) throw ErrInvalidPool.wrap(`${name} ${v} out of range`);
}

/** The withdrawal cooldown of a pool that does not set one: 7 days (SPEC §3.7's production default). */
export const DEFAULT_WITHDRAWAL_COOLDOWN_SECONDS = 7n * 24n * 3600n;

/** Stateless validation of a pool definition (an unset cooldown is the default); balances and shares start at zero. */
export function validatePool(p: Pool | undefined): Pool {
  if (!p) throw ErrInvalidPool.wrap("pool missing");
  if (!POOL_ID_RE.test(p.id)) throw ErrInvalidPool.wrap(`invalid pool id ${JSON.stringify(p.id)}`);
  for (const m of p.marketIds) if (!/^[A-Z0-9]{1,16}-[A-Z0-9]{1,16}$/.test(m)) throw ErrInvalidPool.wrap(`invalid market id ${JSON.stringify(m)}`);
  if (new Set(p.marketIds).size !== p.marketIds.length) throw ErrInvalidPool.wrap("duplicate market id");
  if (p.withdrawalCooldownSeconds < 0n) throw ErrInvalidPool.wrap("withdrawal_cooldown_seconds must not be negative");
  decIn("fee_share", p.feeShare, Dec.ZERO, Dec.ONE);
  decIn("target_coverage", p.targetCoverage, Dec.ZERO, null);
  decIn("cap_multiple", p.capMultiple, Dec.ONE, null);
  decIn("critical_coverage", p.criticalCoverage, Dec.ZERO, Dec.parse(p.targetCoverage));
  const lenders = new Set<string>();
  for (const l of p.creditLines) {
    if (!POOL_ID_RE.test(l.lenderPoolId) || l.lenderPoolId === p.id) throw ErrInvalidPool.wrap(`invalid lender ${JSON.stringify(l.lenderPoolId)}`);
    if (lenders.has(l.lenderPoolId)) throw ErrInvalidPool.wrap(`two credit lines from ${l.lenderPoolId}`);
    lenders.add(l.lenderPoolId);
    // An empty cap is a record of credit given outside a capped line (a reserve draw, a
    // rebalance): it gives no room to draw, and exported state carries it.
    if (l.capUusdc !== "" && !/^\d+$/.test(l.capUusdc)) throw ErrInvalidPool.wrap(`credit line cap ${JSON.stringify(l.capUusdc)} must be an integer or empty`);
  }
  return { ...p, shareDenom: shareDenom(p.id), withdrawalCooldownSeconds: p.withdrawalCooldownSeconds === 0n ? DEFAULT_WITHDRAWAL_COOLDOWN_SECONDS : p.withdrawalCooldownSeconds };
}

export function validateInsuranceParams(p: Params | undefined): Params {
  if (!p) throw ErrInvalidParams.wrap("params missing");
  if (p.epochBlocks <= 0n) throw ErrInvalidParams.wrap("epoch_blocks must be positive");
  if (!/^\d+$/.test(p.minLockedShares)) throw ErrInvalidParams.wrap("min_locked_shares must be an integer");
  if (p.maxPayoutsPerBlock < 1) throw ErrInvalidParams.wrap("max_payouts_per_block must be at least 1");
  for (const [n, v] of [["stress_floor", p.stressFloor], ["stress_z", p.stressZ], ["gap_add_on", p.gapAddOn]] as const) {
    try {
      if (Dec.parse(v).isNegative()) throw new Error("negative");
    } catch (e) {
      throw ErrInvalidParams.wrap(`${n}: ${(e as Error).message}`);
    }
  }
  return p;
}

export class InsuranceModule implements AppModule {
  readonly name = "insurance";
  readonly msgs;
  readonly queries;

  constructor(
    readonly keeper: InsuranceKeeper,
    auth: AuthKeeper,
  ) {
    const k = keeper;
    this.msgs = [
      defineMsg({
        typeUrl: "/backstop.insurance.v1.MsgDeposit",
        type: MsgDeposit,
        response: MsgDepositResponse,
        signer: (m) => m.depositor,
        validateBasic: (m) => (requireAddr(m.depositor, "depositor"), requirePoolId(m.poolId), uusdc(m.amount)),
        check: (ctx, m) => void k.requirePool(ctx, m.poolId),
        handle: (ctx, m) => ({ shares: k.deposit(ctx, m.depositor, m.poolId, uusdc(m.amount)).toString() }),
      }),
      defineMsg({
        typeUrl: "/backstop.insurance.v1.MsgRequestWithdrawal",
        type: MsgRequestWithdrawal,
        response: MsgRequestWithdrawalResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => (requireAddr(m.owner, "owner"), requirePoolId(m.poolId), positiveInt(m.shares, "shares")),
        check: (ctx, m) => void k.requirePool(ctx, m.poolId),
        handle: (ctx, m) => {
          const w = k.requestWithdrawal(ctx, m.owner, m.poolId, positiveInt(m.shares, "shares"));
          return { withdrawalId: w.id, maturesUnixSeconds: w.maturesUnixSeconds };
        },
      }),
      defineMsg({
        typeUrl: "/backstop.insurance.v1.MsgCancelWithdrawal",
        type: MsgCancelWithdrawal,
        response: MsgCancelWithdrawalResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => requireAddr(m.owner, "owner"),
        handle: (ctx, m) => (k.cancelWithdrawal(ctx, m.owner, m.withdrawalId), {}),
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.insurance.v1.MsgCreatePool",
        type: MsgCreatePool,
        response: MsgCreatePoolResponse,
        validate: (m) => void validatePool(m.pool),
        handle: (ctx, m) => {
          const p = validatePool(m.pool);
          // A new pool starts with empty books, and its markets join it by MsgCreateMarket
          // (a market names its pool; the pool's list follows).
          if (p.marketIds.length > 0) throw ErrInvalidPool.wrap("a new pool has no markets yet: MsgCreateMarket adds each, naming the pool");
          const books = [p.balanceUusdc, p.totalShares, p.escrowedShares, p.lockedShares, p.debtUusdc, ...p.creditLines.map((l) => l.drawnUusdc)];
          if (books.some((v) => v !== "" && v !== "0")) throw ErrInvalidPool.wrap("a new pool's balance, shares, debt and drawn credit must be zero");
          this.create(ctx, p);
          return {};
        },
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.insurance.v1.MsgUpdatePool",
        type: MsgUpdatePool,
        response: MsgUpdatePoolResponse,
        validate: (m) => void validatePool(m.pool),
        handle: (ctx, m) => {
          const next = validatePool(m.pool);
          const cur = k.requirePool(ctx, next.id);
          for (const l of next.creditLines) k.requirePool(ctx, l.lenderPoolId);
          if (next.marketIds.length !== cur.marketIds.length || next.marketIds.some((id, i) => id !== cur.marketIds[i])) {
            throw ErrInvalidPool.wrap(`a pool's markets follow the markets that name it (${cur.marketIds.join(", ") || "none"}); they cannot be changed here`);
          }
          // Parameters change; the books (balance, shares, debts, drawn credit) do not.
          // The lines named get their new caps (what is drawn stays); the uncapped records of
          // reserve draws and rebalances keep their place (first: repaid first); a capped
          // line dropped while drawn stays, capped at 0, until repaid.
          const drawn = new Map(cur.creditLines.map((l) => [l.lenderPoolId, l.drawnUusdc]));
          const named = new Set(next.creditLines.map((l) => l.lenderPoolId));
          const lines = [
            ...cur.creditLines.filter((l) => l.capUusdc === "" && !named.has(l.lenderPoolId)),
            ...next.creditLines.map((l) => ({ ...l, drawnUusdc: drawn.get(l.lenderPoolId) ?? "0" })),
            ...cur.creditLines.filter((l) => l.capUusdc !== "" && !named.has(l.lenderPoolId) && BigInt(l.drawnUusdc || "0") > 0n).map((l) => ({ ...l, capUusdc: "0" })),
          ];
          k.setPool(ctx, {
            ...cur,
            withdrawalCooldownSeconds: next.withdrawalCooldownSeconds,
            feeShare: next.feeShare,
            targetCoverage: next.targetCoverage,
            capMultiple: next.capMultiple,
            criticalCoverage: next.criticalCoverage,
            preemptiveMargin: next.preemptiveMargin,
            creditLines: lines,
          });
          return {};
        },
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.insurance.v1.MsgUpdateParams",
        type: MsgUpdateParams,
        response: MsgUpdateParamsResponse,
        validate: (m) => void validateInsuranceParams(m.params),
        handle: (ctx, m) => {
          k.setParams(ctx, validateInsuranceParams(m.params));
          return {};
        },
      }),
    ];
    this.queries = [
      defineQuery("/backstop.insurance.v1.Query/Params", QueryParamsRequest, QueryParamsResponse, (ctx) => ({ params: k.getParams(ctx) })),
      defineQuery("/backstop.insurance.v1.Query/Pools", QueryPoolsRequest, QueryPoolsResponse, (ctx, r) => {
        const { items, pagination } = paginate(k.pools(ctx), r.pagination);
        return { pools: items, pagination };
      }),
      defineQuery("/backstop.insurance.v1.Query/Pool", QueryPoolRequest, QueryPoolResponse, (ctx, r) => {
        const pool = k.requirePool(ctx, r.poolId);
        return { pool, nav: k.nav(ctx, pool).toString() };
      }),
      defineQuery("/backstop.insurance.v1.Query/LpPosition", QueryLpPositionRequest, QueryLpPositionResponse, (ctx, r) => {
        requireAddr(r.address, "LP");
        return {
          shares: k.lpShares(ctx, r.address).map((s) => ({ poolId: s.poolId, shares: s.shares.toString(), valueUusdc: s.value.toString() })),
          withdrawals: k.withdrawalsOf(ctx, r.address),
        };
      }),
      defineQuery("/backstop.insurance.v1.Query/Withdrawals", QueryWithdrawalsRequest, QueryWithdrawalsResponse, (ctx, r) => {
        requireAddr(r.address, "LP");
        const { items, pagination } = paginate(k.withdrawalsOf(ctx, r.address), r.pagination);
        return { withdrawals: items, pagination };
      }),
      defineQuery("/backstop.insurance.v1.Query/PoolHistory", QueryPoolHistoryRequest, QueryPoolHistoryResponse, (ctx, r) => {
        k.requirePool(ctx, r.poolId);
        const { items, pagination } = paginate(k.history(ctx, r.poolId), r.pagination);
        return { snapshots: items, pagination };
      }),
    ];
  }

  private create(ctx: Context, p: Pool, checkLenders = true): void {
    if (this.keeper.getPool(ctx, p.id)) throw ErrPoolExists.wrap(p.id);
    if (checkLenders) for (const l of p.creditLines) this.keeper.requirePool(ctx, l.lenderPoolId);
    if (p.isReserve && this.keeper.reserve(ctx)) throw ErrInvalidPool.wrap("there is already a reserve pool");
    this.keeper.setPool(ctx, {
      ...p,
      balanceUusdc: "0",
      totalShares: "0",
      escrowedShares: "0",
      lockedShares: "0",
      debtUusdc: "0",
      requiredCapitalUusdc: "0",
      cover2Uusdc: "0",
      coverage: "",
      creditLines: p.creditLines.map((l) => ({ ...l, drawnUusdc: "0" })),
    });
  }

  defaultGenesis(): unknown {
    return GenesisState.toJSON({ params: DEFAULT_INSURANCE_PARAMS, pools: [], withdrawals: [], nextWithdrawalId: 1n });
  }

  initGenesis(ctx: Context, g: unknown): void {
    const gs = GenesisState.fromJSON(g);
    this.keeper.setParams(ctx, validateInsuranceParams(gs.params ?? DEFAULT_INSURANCE_PARAMS));
    const pools = gs.pools.map((p) => validatePool(p));
    const ids = new Set(pools.map((p) => p.id));
    for (const p of pools) {
      for (const l of p.creditLines) if (!ids.has(l.lenderPoolId)) throw ErrUnknownPool.wrap(`credit line of ${p.id} from ${l.lenderPoolId}`);
      if (!p.balanceUusdc && !p.totalShares) this.create(ctx, p, false);
      else this.keeper.setPool(ctx, p);
    }
    for (const w of gs.withdrawals) {
      requireAddr(w.owner, "owner");
      this.keeper.requirePool(ctx, w.poolId);
      this.keeper.putWithdrawal(ctx, w);
    }
    if (gs.nextWithdrawalId > 0n) this.keeper.setNextWithdrawalId(ctx, gs.nextWithdrawalId);
  }

  exportGenesis(ctx: Context): unknown {
    return GenesisState.toJSON({
      params: this.keeper.getParams(ctx),
      pools: this.keeper.pools(ctx),
      withdrawals: this.keeper.allWithdrawals(ctx),
      nextWithdrawalId: this.keeper.peekNextWithdrawalId(ctx),
    });
  }

  endBlock(ctx: Context): void {
    this.keeper.endBlock(ctx);
  }
}
