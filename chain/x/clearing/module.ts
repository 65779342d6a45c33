/**
 * x/clearing as an app module. This part lists markets and their parameters (genesis,
 * MsgCreateMarket, MsgUpdateMarket from the authority) and serves the market queries;
 * orders, the batch auction and funding are not wired in yet (see the clearing issue),
 * so their Msgs are not registered and the chain rejects them as unknown.
 */
import { AppModule, defineMsg, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { ErrInvalidAddress, ErrInvalidRequest } from "../../app/errors";
import { isValidAddress } from "../../crypto/keys";
import { Dec } from "../../math/decimal";
import { paginate } from "../../app/pagination";
import { AuthKeeper } from "../auth/keeper";
import { OracleKeeper } from "../oracle/keeper";
import { MarginKeeper } from "../margin/keeper";
import { MsgCreateMarket, MsgCreateMarketResponse, MsgUpdateMarket, MsgUpdateMarketResponse } from "../../../client/src/generated/backstop/clearing/v1/tx";
import {
  QueryMarketRequest,
  QueryMarketResponse,
  QueryMarketsRequest,
  QueryMarketsResponse,
  QueryParamsRequest,
  QueryParamsResponse,
} from "../../../client/src/generated/backstop/clearing/v1/query";
import { GenesisState } from "../../../client/src/generated/backstop/clearing/v1/genesis";
import { Params } from "../../../client/src/generated/backstop/clearing/v1/clearing";
import { MarketKeeper, validateMarket } from "./markets";
import { ErrMarketExists } from "./errors";

export const DEFAULT_CLEARING_PARAMS: Params = { maxOrdersPerBlock: 10_000 };

export class ClearingModule implements AppModule {
  readonly name = "clearing";
  readonly msgs;
  readonly queries;

  constructor(
    readonly markets: MarketKeeper,
    private readonly oracle: OracleKeeper,
    private readonly margin: MarginKeeper,
    auth: AuthKeeper,
  ) {
    const requireAuthorityAddress = (a: string) => {
      if (!isValidAddress(a)) throw ErrInvalidAddress.wrap(`invalid authority address ${JSON.stringify(a)}`);
    };
    this.msgs = [
      defineMsg({
        typeUrl: "/backstop.clearing.v1.MsgCreateMarket",
        type: MsgCreateMarket,
        response: MsgCreateMarketResponse,
        signer: (m) => m.authority,
        validateBasic: (m) => (requireAuthorityAddress(m.authority), validateMarket(m.market)),
        handle: (ctx, m) => {
          auth.requireAuthority(ctx, m.authority);
          this.list(ctx, validateMarket(m.market));
          return {};
        },
      }),
      defineMsg({
        typeUrl: "/backstop.clearing.v1.MsgUpdateMarket",
        type: MsgUpdateMarket,
        response: MsgUpdateMarketResponse,
        signer: (m) => m.authority,
        validateBasic: (m) => (requireAuthorityAddress(m.authority), validateMarket(m.market)),
        handle: (ctx, m) => {
          auth.requireAuthority(ctx, m.authority);
          const next = validateMarket(m.market);
          const cur = this.markets.require(ctx, next.id);
          if (cur.oracleTicker !== next.oracleTicker) throw ErrInvalidRequest.wrap("a market's oracle ticker cannot change");
          this.markets.set(ctx, next);
          return {};
        },
      }),
    ];
    this.queries = [
      defineQuery("/backstop.clearing.v1.Query/Params", QueryParamsRequest, QueryParamsResponse, () => ({ params: DEFAULT_CLEARING_PARAMS })),
      defineQuery("/backstop.clearing.v1.Query/Markets", QueryMarketsRequest, QueryMarketsResponse, (ctx, r) => {
        const { items, pagination } = paginate(this.markets.all(ctx), r.pagination);
        return { markets: items, pagination };
      }),
      defineQuery("/backstop.clearing.v1.Query/Market", QueryMarketRequest, QueryMarketResponse, (ctx, r) => {
        const market = this.markets.require(ctx, r.marketId);
        const price = this.oracle.getPrice(ctx, market.oracleTicker);
        let oi = Dec.ZERO;
        for (const p of this.margin.positionsIn(ctx, market.id)) {
          const s = Dec.parse(p.size);
          if (s.isPositive()) oi = oi.add(s);
        }
        return { market, markPrice: price?.price ?? "", funding: undefined, openInterest: oi.toString() };
      }),
    ];
  }

  /** Lists a market: its oracle ticker is registered with the oracle. */
  private list(ctx: Context, m: ReturnType<typeof validateMarket>): void {
    if (this.markets.get(ctx, m.id)) throw ErrMarketExists.wrap(m.id);
    this.markets.set(ctx, m);
    if (!this.oracle.hasTicker(ctx, m.oracleTicker)) this.oracle.addTicker(ctx, m.oracleTicker);
  }

  defaultGenesis(): unknown {
    return GenesisState.toJSON({ params: DEFAULT_CLEARING_PARAMS, markets: [], orders: [], funding: [], nextOrderId: 1n });
  }

  initGenesis(ctx: Context, g: unknown): void {
    const gs = GenesisState.fromJSON(g);
    if (gs.orders.length > 0) throw ErrInvalidRequest.wrap("genesis orders are not supported yet");
    for (const m of gs.markets) this.list(ctx, validateMarket(m));
  }

  exportGenesis(ctx: Context): unknown {
    return GenesisState.toJSON({ params: DEFAULT_CLEARING_PARAMS, markets: this.markets.all(ctx), orders: [], funding: [], nextOrderId: 1n });
  }
}
