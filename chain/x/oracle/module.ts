/** x/oracle as an app module: MsgSubmitPrice, MsgUpdateParams, queries, genesis, end-block. */
import { AppModule, defineAuthorityMsg, defineMsg, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { ErrInvalidAddress, ErrInvalidRequest } from "../../app/errors";
import { isValidAddress } from "../../crypto/keys";
import { Dec } from "../../math/decimal";
import { AuthKeeper } from "../auth/keeper";
import { MsgSubmitPrice, MsgSubmitPriceResponse, MsgUpdateParams, MsgUpdateParamsResponse } from "../../../client/src/generated/backstop/oracle/v1/tx";
import {
  QueryFeedersRequest,
  QueryFeedersResponse,
  QueryParamsRequest,
  QueryParamsResponse,
  QueryPriceHistoryRequest,
  QueryPriceHistoryResponse,
  QueryPriceRequest,
  QueryPriceResponse,
  QueryPricesRequest,
  QueryPricesResponse,
  QueryVolatilityRequest,
  QueryVolatilityResponse,
} from "../../../client/src/generated/backstop/oracle/v1/query";
import { GenesisState } from "../../../client/src/generated/backstop/oracle/v1/genesis";
import { Params } from "../../../client/src/generated/backstop/oracle/v1/oracle";
import { DEFAULT_ORACLE_PARAMS, OracleKeeper } from "./keeper";
import { ErrInvalidParams, ErrInvalidPrice, ErrNoPrice, ErrNotFeeder, ErrUnknownTicker } from "./errors";
import { paginate } from "../../app/pagination";

/** Largest accepted price: 10^15 USD per unit. */
const MAX_PRICE = Dec.fromInt(10n ** 15n);
const TICKER_RE = /^[A-Z0-9]{1,16}(-[A-Z0-9]{1,16})?$/;

export function parsePrice(s: string): Dec {
  let p: Dec;
  try {
    p = Dec.parse(s);
  } catch (e) {
    throw ErrInvalidPrice.wrap((e as Error).message);
  }
  if (!p.isPositive()) throw ErrInvalidPrice.wrap(`price must be positive, got ${s}`);
  if (p.gt(MAX_PRICE)) throw ErrInvalidPrice.wrap(`price ${s} exceeds ${MAX_PRICE.toString()}`);
  return p;
}

export function validateOracleParams(p: Params | undefined): Params {
  if (!p) throw ErrInvalidParams.wrap("params missing");
  const seen = new Set<string>();
  for (const f of p.feeders) {
    if (!isValidAddress(f)) throw ErrInvalidParams.wrap(`invalid feeder address ${JSON.stringify(f)}`);
    if (seen.has(f)) throw ErrInvalidParams.wrap(`duplicate feeder ${f}`);
    seen.add(f);
  }
  if (p.minFeeders < 1) throw ErrInvalidParams.wrap("min_feeders must be at least 1");
  if (p.minFeeders > Math.max(1, p.feeders.length)) throw ErrInvalidParams.wrap(`min_feeders ${p.minFeeders} exceeds the ${p.feeders.length} feeders`);
  if (p.maxStalenessSeconds <= 0n) throw ErrInvalidParams.wrap("max_staleness_seconds must be positive");
  if (p.historyLength < 1 || p.historyLength > 100_000) throw ErrInvalidParams.wrap("history_length must be in [1, 100000]");
  const dec = (name: string, v: string, lo: Dec, hi: Dec, openLo: boolean) => {
    let d: Dec;
    try {
      d = Dec.parse(v);
    } catch (e) {
      throw ErrInvalidParams.wrap(`${name}: ${(e as Error).message}`);
    }
    if ((openLo ? d.lte(lo) : d.lt(lo)) || d.gte(hi)) throw ErrInvalidParams.wrap(`${name} ${v} out of range`);
  };
  dec("ewma_lambda", p.ewmaLambda, Dec.ZERO, Dec.ONE, true);
  dec("max_deviation", p.maxDeviation, Dec.ZERO, Dec.fromInt(10n), true);
  return p;
}

export class OracleModule implements AppModule {
  readonly name = "oracle";
  readonly msgs;
  readonly queries;

  constructor(
    readonly keeper: OracleKeeper,
    auth: AuthKeeper, // for the authority's messages (closed over by their handlers)
  ) {
    const k = keeper;
    this.msgs = [
      defineMsg({
        typeUrl: "/backstop.oracle.v1.MsgSubmitPrice",
        type: MsgSubmitPrice,
        response: MsgSubmitPriceResponse,
        signer: (m) => m.feeder,
        validateBasic: (m) => {
          if (!isValidAddress(m.feeder)) throw ErrInvalidAddress.wrap(`invalid feeder address ${JSON.stringify(m.feeder)}`);
          if (!TICKER_RE.test(m.ticker)) throw ErrUnknownTicker.wrap(`invalid ticker ${JSON.stringify(m.ticker)}`);
          parsePrice(m.price);
        },
        check: (ctx, m) => this.checkSubmit(ctx, m),
        handle: (ctx, m) => {
          this.checkSubmit(ctx, m);
          k.submit(ctx, m.feeder, m.ticker, parsePrice(m.price));
          ctx.events.emitTyped("backstop.oracle.v1.EventPriceSubmitted", { feeder: m.feeder, ticker: m.ticker, price: m.price });
          return {};
        },
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.oracle.v1.MsgUpdateParams",
        type: MsgUpdateParams,
        response: MsgUpdateParamsResponse,
        validate: (m) => void validateOracleParams(m.params),
        handle: (ctx, m) => {
          k.setParams(ctx, validateOracleParams(m.params));
          return {};
        },
      }),
    ];
    this.queries = [
      defineQuery("/backstop.oracle.v1.Query/Params", QueryParamsRequest, QueryParamsResponse, (ctx) => ({ params: k.getParams(ctx) })),
      defineQuery("/backstop.oracle.v1.Query/Price", QueryPriceRequest, QueryPriceResponse, (ctx, r) => {
        if (!k.hasTicker(ctx, r.ticker)) throw ErrUnknownTicker.wrap(r.ticker);
        const price = k.getPrice(ctx, r.ticker);
        if (!price) throw ErrNoPrice.wrap(r.ticker);
        return { price, stale: k.isStale(ctx, price) };
      }),
      defineQuery("/backstop.oracle.v1.Query/Prices", QueryPricesRequest, QueryPricesResponse, (ctx, r) => {
        const all = k.tickers(ctx).flatMap((t) => k.getPrice(ctx, t) ?? []);
        const { items, pagination } = paginate(all, r.pagination);
        return { prices: items, pagination };
      }),
      defineQuery("/backstop.oracle.v1.Query/PriceHistory", QueryPriceHistoryRequest, QueryPriceHistoryResponse, (ctx, r) => {
        if (!k.hasTicker(ctx, r.ticker)) throw ErrUnknownTicker.wrap(r.ticker);
        const { items, pagination } = paginate(k.history(ctx, r.ticker), r.pagination);
        return { prices: items, pagination };
      }),
      defineQuery("/backstop.oracle.v1.Query/Volatility", QueryVolatilityRequest, QueryVolatilityResponse, (ctx, r) => {
        if (!k.hasTicker(ctx, r.ticker)) throw ErrUnknownTicker.wrap(r.ticker);
        return { volatility: k.getVolatility(ctx, r.ticker) };
      }),
      defineQuery("/backstop.oracle.v1.Query/Feeders", QueryFeedersRequest, QueryFeedersResponse, (ctx) => ({
        feeders: k.getParams(ctx).feeders,
        submissions: k.tickers(ctx).flatMap((t) => k.submissions(ctx, t)),
      })),
    ];
  }

  private checkSubmit(ctx: Context, m: MsgSubmitPrice): void {
    if (!this.keeper.isFeeder(ctx, m.feeder)) throw ErrNotFeeder.wrap(`${m.feeder} is not a feeder`);
    if (!this.keeper.hasTicker(ctx, m.ticker)) throw ErrUnknownTicker.wrap(m.ticker);
  }

  defaultGenesis(): unknown {
    return GenesisState.toJSON({ params: DEFAULT_ORACLE_PARAMS, tickers: [], prices: [], volatilities: [] });
  }

  initGenesis(ctx: Context, g: unknown): void {
    const gs = GenesisState.fromJSON(g);
    this.keeper.setParams(ctx, validateOracleParams(gs.params ?? DEFAULT_ORACLE_PARAMS));
    for (const t of gs.tickers) {
      if (!TICKER_RE.test(t)) throw ErrInvalidRequest.wrap(`invalid genesis ticker ${JSON.stringify(t)}`);
      this.keeper.addTicker(ctx, t);
    }
    for (const p of gs.prices) {
      if (!this.keeper.hasTicker(ctx, p.ticker)) throw ErrUnknownTicker.wrap(`genesis price for ${p.ticker}`);
      this.keeper.setPrice(ctx, { ...p, price: parsePrice(p.price).toString(), height: p.height || ctx.height, timeUnixSeconds: p.timeUnixSeconds || ctx.time, numFeeders: p.numFeeders || 0 });
    }
    for (const v of gs.volatilities) this.keeper.setVolatility(ctx, v);
  }

  exportGenesis(ctx: Context): unknown {
    const tickers = this.keeper.tickers(ctx);
    return GenesisState.toJSON({
      params: this.keeper.getParams(ctx),
      tickers,
      prices: tickers.flatMap((t) => this.keeper.getPrice(ctx, t) ?? []),
      volatilities: tickers.map((t) => this.keeper.getVolatility(ctx, t)),
    });
  }

  endBlock(ctx: Context): void {
    this.keeper.endBlock(ctx);
  }
}
