/** x/margin as an app module: collateral and position-margin Msgs, queries, genesis, end-block. */
import { AppModule, defineAuthorityMsg, defineMsg, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { ErrInvalidAddress } from "../../app/errors";
import { COLLATERAL_DENOM } from "../../app/genesis";
import { isValidAddress } from "../../crypto/keys";
import { Dec } from "../../math/decimal";
import { AuthKeeper } from "../auth/keeper";
import { MarketKeeper } from "../clearing/markets";
import { ErrUnknownMarket } from "../clearing/errors";
import { paginate } from "../../app/pagination";
import {
  MsgAddPositionMargin,
  MsgAddPositionMarginResponse,
  MsgDeposit,
  MsgDepositResponse,
  MsgRemovePositionMargin,
  MsgRemovePositionMarginResponse,
  MsgUpdateParams,
  MsgUpdateParamsResponse,
  MsgWithdraw,
  MsgWithdrawResponse,
} from "../../../client/src/generated/backstop/margin/v1/tx";
import {
  QueryAccountRequest,
  QueryAccountResponse,
  QueryMarketRiskRequest,
  QueryMarketRiskResponse,
  QueryParamsRequest,
  QueryParamsResponse,
  QueryPositionRequest,
  QueryPositionResponse,
  QueryPositionsRequest,
  QueryPositionsResponse,
} from "../../../client/src/generated/backstop/margin/v1/query";
import { GenesisState } from "../../../client/src/generated/backstop/margin/v1/genesis";
import { Params } from "../../../client/src/generated/backstop/margin/v1/margin";
import { Coin } from "../../../client/src/generated/cosmos/base/v1beta1/coin";
import { DEFAULT_MARGIN_PARAMS, MarginKeeper } from "./keeper";
import { ErrInvalidAmount, ErrInvalidDenom, ErrInvalidParams, ErrNoPosition } from "./errors";

/** The largest amount a single Msg may move: 10^30 uusdc. */
const MAX_AMOUNT = 10n ** 30n;

function requireOwner(a: string): void {
  if (!isValidAddress(a)) throw ErrInvalidAddress.wrap(`invalid owner address ${JSON.stringify(a)}`);
}

/** A positive collateral amount (stateless: the denom is checked against params in the handler). */
export function parseAmount(c: Coin | undefined): bigint {
  if (!c) throw ErrInvalidAmount.wrap("amount missing");
  if (!/^\d+$/.test(c.amount)) throw ErrInvalidAmount.wrap(`amount ${JSON.stringify(c.amount)} is not a non-negative integer`);
  const n = BigInt(c.amount);
  if (n <= 0n) throw ErrInvalidAmount.wrap("amount must be positive");
  if (n > MAX_AMOUNT) throw ErrInvalidAmount.wrap(`amount ${c.amount} is out of range`);
  return n;
}

function requireMarketId(id: string): void {
  if (!/^[A-Z0-9]{1,16}-[A-Z0-9]{1,16}$/.test(id)) throw ErrUnknownMarket.wrap(JSON.stringify(id));
}

export function validateMarginParams(p: Params | undefined): Params {
  if (!p) throw ErrInvalidParams.wrap("params missing");
  // The collateral is uusdc (SPEC §2): pools, fees and the solvency check count in it.
  if (p.collateralDenom !== COLLATERAL_DENOM) throw ErrInvalidParams.wrap(`collateral denom must be ${COLLATERAL_DENOM}, got ${JSON.stringify(p.collateralDenom)}`);
  let step: Dec;
  try {
    step = Dec.parse(p.maxMmrStepPerBlock);
  } catch (e) {
    throw ErrInvalidParams.wrap(`max_mmr_step_per_block: ${(e as Error).message}`);
  }
  if (!step.isPositive() || step.gt(Dec.ONE)) throw ErrInvalidParams.wrap("max_mmr_step_per_block must be in (0, 1]");
  return p;
}

export class MarginModule implements AppModule {
  readonly name = "margin";
  readonly msgs;
  readonly queries;

  constructor(
    readonly keeper: MarginKeeper,
    private readonly markets: MarketKeeper,
    auth: AuthKeeper,
  ) {
    const k = keeper;
    const amount = (ctx: Context, c: Coin | undefined): bigint => {
      const n = parseAmount(c);
      const denom = k.getParams(ctx).collateralDenom;
      if (c!.denom !== denom) throw ErrInvalidDenom.wrap(`collateral is ${denom}, got ${c!.denom}`);
      return n;
    };
    this.msgs = [
      defineMsg({
        typeUrl: "/backstop.margin.v1.MsgDeposit",
        type: MsgDeposit,
        response: MsgDepositResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => (requireOwner(m.owner), parseAmount(m.amount)),
        check: (ctx, m) => k.checkDeposit(ctx, m.owner, amount(ctx, m.amount)),
        handle: (ctx, m) => ({ freeCollateralUusdc: k.deposit(ctx, m.owner, amount(ctx, m.amount)).toString() }),
      }),
      defineMsg({
        typeUrl: "/backstop.margin.v1.MsgWithdraw",
        type: MsgWithdraw,
        response: MsgWithdrawResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => (requireOwner(m.owner), parseAmount(m.amount)),
        check: (ctx, m) => k.checkWithdraw(ctx, m.owner, amount(ctx, m.amount)),
        handle: (ctx, m) => ({ freeCollateralUusdc: k.withdraw(ctx, m.owner, amount(ctx, m.amount)).toString() }),
      }),
      defineMsg({
        typeUrl: "/backstop.margin.v1.MsgAddPositionMargin",
        type: MsgAddPositionMargin,
        response: MsgAddPositionMarginResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => (requireOwner(m.owner), requireMarketId(m.marketId), parseAmount(m.amount)),
        handle: (ctx, m) => ({ marginUusdc: k.addPositionMargin(ctx, m.owner, m.marketId, amount(ctx, m.amount)).toString() }),
      }),
      defineMsg({
        typeUrl: "/backstop.margin.v1.MsgRemovePositionMargin",
        type: MsgRemovePositionMargin,
        response: MsgRemovePositionMarginResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => (requireOwner(m.owner), requireMarketId(m.marketId), parseAmount(m.amount)),
        handle: (ctx, m) => ({ marginUusdc: k.removePositionMargin(ctx, m.owner, m.marketId, amount(ctx, m.amount)).toString() }),
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.margin.v1.MsgUpdateParams",
        type: MsgUpdateParams,
        response: MsgUpdateParamsResponse,
        validate: (m) => void validateMarginParams(m.params),
        handle: (ctx, m) => {
          k.setParams(ctx, validateMarginParams(m.params));
          return {};
        },
      }),
    ];
    this.queries = [
      defineQuery("/backstop.margin.v1.Query/Params", QueryParamsRequest, QueryParamsResponse, (ctx) => ({ params: k.getParams(ctx) })),
      defineQuery("/backstop.margin.v1.Query/Account", QueryAccountRequest, QueryAccountResponse, (ctx, r) => {
        requireOwner(r.address);
        return {
          account: { owner: r.address, freeCollateralUusdc: k.freeCollateral(ctx, r.address).toString() },
          positions: k.positionsOf(ctx, r.address).map((p) => k.positionRisk(ctx, p)),
        };
      }),
      defineQuery("/backstop.margin.v1.Query/Position", QueryPositionRequest, QueryPositionResponse, (ctx, r) => {
        requireOwner(r.address);
        markets.require(ctx, r.marketId);
        const p = k.getPosition(ctx, r.address, r.marketId);
        if (!p) throw ErrNoPosition.wrap(`${r.address} has no position in ${r.marketId}`);
        return { position: k.positionRisk(ctx, p) };
      }),
      defineQuery("/backstop.margin.v1.Query/Positions", QueryPositionsRequest, QueryPositionsResponse, (ctx, r) => {
        markets.require(ctx, r.marketId);
        const { items, pagination } = paginate(k.positionsIn(ctx, r.marketId), r.pagination);
        return { positions: items, pagination };
      }),
      defineQuery("/backstop.margin.v1.Query/MarketRisk", QueryMarketRiskRequest, QueryMarketRiskResponse, (ctx, r) => ({
        risk: k.marketRisk(ctx, markets.require(ctx, r.marketId)),
      })),
    ];
  }

  defaultGenesis(): unknown {
    return GenesisState.toJSON({ params: DEFAULT_MARGIN_PARAMS, accounts: [], positions: [], marketRisks: [] });
  }

  initGenesis(ctx: Context, g: unknown): void {
    const gs = GenesisState.fromJSON(g);
    this.keeper.setParams(ctx, validateMarginParams(gs.params ?? DEFAULT_MARGIN_PARAMS));
    for (const a of gs.accounts) {
      requireOwner(a.owner);
      this.keeper.addFree(ctx, a.owner, BigInt(a.freeCollateralUusdc));
    }
    for (const p of gs.positions) {
      requireOwner(p.owner);
      this.markets.require(ctx, p.marketId);
      this.keeper.setPosition(ctx, p);
    }
    for (const r of gs.marketRisks) this.keeper.setStoredRisk(ctx, r);
  }

  exportGenesis(ctx: Context): unknown {
    return GenesisState.toJSON({
      params: this.keeper.getParams(ctx),
      accounts: this.keeper.accounts(ctx),
      positions: this.keeper.allPositions(ctx),
      marketRisks: this.keeper.storedRisks(ctx),
    });
  }

  endBlock(ctx: Context): void {
    this.keeper.endBlock(ctx);
  }
}
