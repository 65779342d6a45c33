/**
 * x/clearing as an app module: params (max_orders_per_block; genesis and MsgUpdateParams
 * from the authority), markets (genesis, MsgCreateMarket and MsgUpdateMarket from the
 * authority), orders (MsgPlaceOrder, MsgCancelOrder), the end-block batch auction with
 * settlement and funding, liquidation in its tiers (the incremental close through the
 * auction, the descending-price liquidation auction with MsgBidLiquidation, the pool's
 * takeover, ADL), and the queries of markets, book, orders, auctions, funding,
 * liquidations, ADL history and solvency.
 */
import { AppModule, defineAuthorityMsg, defineMsg, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { ErrInvalidAddress, ErrInvalidRequest } from "../../app/errors";
import { isValidAddress } from "../../crypto/keys";
import { Dec } from "../../math/decimal";
import { paginate, paginateIndexed } from "../../app/pagination";
import { AuthKeeper } from "../auth/keeper";
import { OracleKeeper } from "../oracle/keeper";
import { MarginKeeper } from "../margin/keeper";
import {
  MsgBidLiquidation,
  MsgBidLiquidationResponse,
  MsgCancelOrder,
  MsgCancelOrderResponse,
  MsgCreateMarket,
  MsgCreateMarketResponse,
  MsgPlaceOrder,
  MsgPlaceOrderResponse,
  MsgUpdateMarket,
  MsgUpdateMarketResponse,
  MsgUpdateParams,
  MsgUpdateParamsResponse,
} from "../../../client/src/generated/backstop/clearing/v1/tx";
import {
  QueryBookRequest,
  QueryBookResponse,
  QueryFundingRequest,
  QueryFundingResponse,
  QueryLastAuctionRequest,
  QueryLastAuctionResponse,
  QueryOrderRequest,
  QueryOrderResponse,
  QueryOrdersRequest,
  QueryOrdersResponse,
  QuerySolvencyRequest,
  QuerySolvencyResponse,
  QueryLiquidationsRequest,
  QueryLiquidationsResponse,
  QueryLiquidationAuctionsRequest,
  QueryLiquidationAuctionsResponse,
  QueryAdlHistoryRequest,
  QueryAdlHistoryResponse,
  QueryMarketRequest,
  QueryMarketResponse,
  QueryMarketsRequest,
  QueryMarketsResponse,
  QueryParamsRequest,
  QueryParamsResponse,
} from "../../../client/src/generated/backstop/clearing/v1/query";
import { GenesisState } from "../../../client/src/generated/backstop/clearing/v1/genesis";
import { Params, Side, TimeInForce } from "../../../client/src/generated/backstop/clearing/v1/clearing";
import { ClearingKeeper, DEFAULT_CLEARING_PARAMS, PlaceOrder } from "./keeper";
import { solvency } from "./solvency";
import { InsuranceKeeper } from "../insurance/keeper";
import { BankKeeper } from "../bank/keeper";
import { ErrInvalidOrder, ErrInvalidParams as ErrInvalidClearingParams, ErrUnknownOrder } from "./errors";
import { MarketKeeper, validateMarket } from "./markets";
import { ErrMarketExists, ErrUnknownMarket as ErrUnknownMarketId } from "./errors";

export function validateClearingParams(p: Params | undefined): Params {
  if (!p) throw ErrInvalidClearingParams.wrap("params missing");
  if (!Number.isSafeInteger(p.maxOrdersPerBlock) || p.maxOrdersPerBlock < 1) throw ErrInvalidClearingParams.wrap("max_orders_per_block must be at least 1");
  return p;
}

export class ClearingModule implements AppModule {
  readonly name = "clearing";
  readonly msgs;
  readonly queries;

  constructor(
    readonly markets: MarketKeeper,
    private readonly oracle: OracleKeeper,
    private readonly margin: MarginKeeper,
    auth: AuthKeeper,
    readonly keeper: ClearingKeeper,
    insurance: InsuranceKeeper,
    bank: BankKeeper,
  ) {
    const k = keeper;
    this.msgs = [
      defineMsg({
        typeUrl: "/backstop.clearing.v1.MsgPlaceOrder",
        type: MsgPlaceOrder,
        response: MsgPlaceOrderResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => void toPlaceOrder(m),
        check: (ctx, m) => void k.checkOrder(ctx, toPlaceOrder(m)),
        admit: (ctx, m) => k.countBlockOrder(ctx, m.owner),
        handle: (ctx, m) => ({ orderId: k.place(ctx, toPlaceOrder(m)).id }),
      }),
      defineMsg({
        typeUrl: "/backstop.clearing.v1.MsgCancelOrder",
        type: MsgCancelOrder,
        response: MsgCancelOrderResponse,
        signer: (m) => m.owner,
        validateBasic: (m) => {
          if (!isValidAddress(m.owner)) throw ErrInvalidAddress.wrap(`invalid owner address ${JSON.stringify(m.owner)}`);
          if (m.orderId <= 0n) throw ErrUnknownOrder.wrap("order id must be positive");
        },
        handle: (ctx, m) => (k.cancel(ctx, m.owner, m.marketId, m.orderId), {}),
      }),
      defineMsg({
        typeUrl: "/backstop.clearing.v1.MsgBidLiquidation",
        type: MsgBidLiquidation,
        response: MsgBidLiquidationResponse,
        signer: (m) => m.liquidator,
        validateBasic: (m) => void parseBid(m),
        handle: (ctx, m) => {
          const b = parseBid(m);
          const r = k.bidLiquidation(ctx, m.liquidator, m.owner, m.marketId, b.quantity, b.priceLimit);
          return { quantityTaken: r.taken.toString(), price: r.price.toString() };
        },
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.clearing.v1.MsgCreateMarket",
        type: MsgCreateMarket,
        response: MsgCreateMarketResponse,
        validate: (m) => void validateMarket(m.market),
        handle: (ctx, m) => {
          const market = validateMarket(m.market);
          // The market's pool must exist, and lists the market from now on.
          const pool = insurance.requirePool(ctx, market.insurancePoolId);
          if (pool.isReserve) throw ErrInvalidRequest.wrap("a market is backed by a segment pool, not the reserve");
          this.list(ctx, market);
          insurance.setPool(ctx, { ...pool, marketIds: [...pool.marketIds, market.id] });
          return {};
        },
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.clearing.v1.MsgUpdateParams",
        type: MsgUpdateParams,
        response: MsgUpdateParamsResponse,
        validate: (m) => void validateClearingParams(m.params),
        handle: (ctx, m) => {
          k.setParams(ctx, validateClearingParams(m.params));
          return {};
        },
      }),
      defineAuthorityMsg(auth, {
        typeUrl: "/backstop.clearing.v1.MsgUpdateMarket",
        type: MsgUpdateMarket,
        response: MsgUpdateMarketResponse,
        validate: (m) => void validateMarket(m.market),
        handle: (ctx, m) => {
          const next = validateMarket(m.market);
          const cur = this.markets.require(ctx, next.id);
          if (cur.oracleTicker !== next.oracleTicker) throw ErrInvalidRequest.wrap("a market's oracle ticker cannot change");
          if (cur.insurancePoolId !== next.insurancePoolId) throw ErrInvalidRequest.wrap("a market's insurance pool cannot change");
          this.markets.set(ctx, next);
          // New risk tiers move positions between the per-tier liquidation indexes.
          if (JSON.stringify(cur.riskTiers) !== JSON.stringify(next.riskTiers)) this.margin.reindexMarket(ctx, next);
          return {};
        },
      }),
    ];
    this.queries = [
      defineQuery("/backstop.clearing.v1.Query/Params", QueryParamsRequest, QueryParamsResponse, (ctx) => ({ params: k.getParams(ctx) })),
      defineQuery("/backstop.clearing.v1.Query/Markets", QueryMarketsRequest, QueryMarketsResponse, (ctx, r) => {
        const { items, pagination } = paginate(this.markets.all(ctx), r.pagination);
        return { markets: items, pagination };
      }),
      defineQuery("/backstop.clearing.v1.Query/Market", QueryMarketRequest, QueryMarketResponse, (ctx, r) => {
        const market = this.markets.require(ctx, r.marketId);
        const price = this.oracle.getPrice(ctx, market.oracleTicker);
        const pending = k.marketExposure(ctx, market.id);
        const cap = k.openInterestCap(ctx, market);
        return {
          market,
          markPrice: price?.price ?? "",
          funding: k.getFunding(ctx, market.id),
          openInterest: this.margin.openInterest(ctx, market.id).toString(),
          openInterestCapUusdc: cap === null ? "" : cap.toString(),
          pendingBuy: pending.buy.toString(),
          pendingSell: pending.sell.toString(),
        };
      }),
      defineQuery("/backstop.clearing.v1.Query/Book", QueryBookRequest, QueryBookResponse, (ctx, r) => {
        this.markets.require(ctx, r.marketId);
        if (r.depth > MAX_BOOK_DEPTH) throw ErrInvalidRequest.wrap(`depth ${r.depth} is above the maximum ${MAX_BOOK_DEPTH}`);
        return k.book(ctx, r.marketId, r.depth === 0 ? DEFAULT_BOOK_DEPTH : r.depth);
      }),
      defineQuery("/backstop.clearing.v1.Query/Orders", QueryOrdersRequest, QueryOrdersResponse, (ctx, r) => {
        if (!isValidAddress(r.address)) throw ErrInvalidAddress.wrap(`invalid address ${JSON.stringify(r.address)}`);
        const { items, pagination } = paginate(k.ordersOf(ctx, r.address), r.pagination);
        return { orders: items, pagination };
      }),
      defineQuery("/backstop.clearing.v1.Query/Order", QueryOrderRequest, QueryOrderResponse, (ctx, r) => {
        const order = k.getOrder(ctx, r.orderId);
        if (!order) throw ErrUnknownOrder.wrap(String(r.orderId));
        return { order };
      }),
      defineQuery("/backstop.clearing.v1.Query/LastAuction", QueryLastAuctionRequest, QueryLastAuctionResponse, (ctx, r) => {
        this.markets.require(ctx, r.marketId);
        return { auction: k.getAuction(ctx, r.marketId) };
      }),
      defineQuery("/backstop.clearing.v1.Query/Funding", QueryFundingRequest, QueryFundingResponse, (ctx, r) => {
        this.markets.require(ctx, r.marketId);
        return { funding: k.getFunding(ctx, r.marketId) };
      }),
      defineQuery("/backstop.clearing.v1.Query/Liquidations", QueryLiquidationsRequest, QueryLiquidationsResponse, (ctx, r) => {
        // Newest first, reading only the page (the history only grows).
        const n = k.liquidationCount(ctx);
        const { items, pagination } = paginateIndexed(n, (i) => k.liquidationAt(ctx, n - i), r.pagination);
        return { liquidations: items, pagination };
      }),
      defineQuery("/backstop.clearing.v1.Query/LiquidationAuctions", QueryLiquidationAuctionsRequest, QueryLiquidationAuctionsResponse, (ctx, r) => {
        const { items, pagination } = paginate(k.liquidationAuctions(ctx), r.pagination);
        return { auctions: items, pagination };
      }),
      defineQuery("/backstop.clearing.v1.Query/AdlHistory", QueryAdlHistoryRequest, QueryAdlHistoryResponse, (ctx, r) => {
        const n = k.adlCount(ctx);
        const { items, pagination } = paginateIndexed(n, (i) => k.adlRecordAt(ctx, n - i), r.pagination);
        return { records: items, pagination };
      }),
      defineQuery("/backstop.clearing.v1.Query/Solvency", QuerySolvencyRequest, QuerySolvencyResponse, (ctx) =>
        solvency(ctx, { bank, markets: this.markets, oracle: this.oracle, margin: this.margin, insurance, clearing: k }),
      ),
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
    this.keeper.setParams(ctx, validateClearingParams(gs.params ?? DEFAULT_CLEARING_PARAMS));
    this.keeper.markBlockStart(ctx);
    for (const m of gs.markets) this.list(ctx, validateMarket(m));
    for (const f of gs.funding) {
      this.markets.require(ctx, f.marketId);
      this.keeper.setFunding(ctx, f);
    }
  }

  exportGenesis(ctx: Context): unknown {
    if (this.markets.all(ctx).some((m) => this.keeper.hasOrders(ctx, m.id))) throw ErrInvalidRequest.wrap("cannot export genesis with live orders yet");
    return GenesisState.toJSON({
      params: this.keeper.getParams(ctx),
      markets: this.markets.all(ctx),
      orders: [],
      funding: this.markets.all(ctx).flatMap((m) => this.keeper.getFunding(ctx, m.id) ?? []),
      nextOrderId: 1n,
    });
  }

  endBlock(ctx: Context): void {
    this.keeper.endBlock(ctx);
  }
}

/** Price levels per side a book query returns when it names no depth, and the most it may ask for. */
export const DEFAULT_BOOK_DEPTH = 100;
export const MAX_BOOK_DEPTH = 1000;
const MARKET_ID_RE = /^[A-Z0-9]{1,16}-[A-Z0-9]{1,16}$/;
const MAX_ORDER_DEC = Dec.fromInt(10n ** 15n);

/** Stateless validation of MsgPlaceOrder (clearing/5 for anything malformed). */
export function toPlaceOrder(m: MsgPlaceOrder): PlaceOrder {
  if (!isValidAddress(m.owner)) throw ErrInvalidAddress.wrap(`invalid owner address ${JSON.stringify(m.owner)}`);
  if (!MARKET_ID_RE.test(m.marketId)) throw ErrUnknownMarketId.wrap(JSON.stringify(m.marketId));
  if (m.side !== Side.SIDE_BUY && m.side !== Side.SIDE_SELL) throw ErrInvalidOrder.wrap("side must be buy or sell");
  const tif = m.timeInForce === TimeInForce.TIME_IN_FORCE_UNSPECIFIED ? TimeInForce.TIME_IN_FORCE_GTC : m.timeInForce;
  if (tif !== TimeInForce.TIME_IN_FORCE_GTC && tif !== TimeInForce.TIME_IN_FORCE_IOC && tif !== TimeInForce.TIME_IN_FORCE_POST_ONLY) throw ErrInvalidOrder.wrap("time in force must be gtc, ioc or post-only");
  const dec = (name: string, v: string) => {
    let d: Dec;
    try {
      d = Dec.parse(v);
    } catch (e) {
      throw ErrInvalidOrder.wrap(`${name}: ${(e as Error).message}`);
    }
    if (!d.isPositive()) throw ErrInvalidOrder.wrap(`${name} must be positive, got ${v}`);
    if (d.gt(MAX_ORDER_DEC)) throw ErrInvalidOrder.wrap(`${name} ${v} is out of range`);
    return d;
  };
  return { owner: m.owner, marketId: m.marketId, side: m.side, price: dec("price", m.price), quantity: dec("quantity", m.quantity), tif, reduceOnly: m.reduceOnly, clientId: m.clientId };
}

/** Stateless validation of MsgBidLiquidation. */
export function parseBid(m: MsgBidLiquidation): { quantity: Dec; priceLimit: Dec } {
  if (!isValidAddress(m.liquidator)) throw ErrInvalidAddress.wrap(`invalid liquidator address ${JSON.stringify(m.liquidator)}`);
  if (!isValidAddress(m.owner)) throw ErrInvalidAddress.wrap(`invalid owner address ${JSON.stringify(m.owner)}`);
  if (!MARKET_ID_RE.test(m.marketId)) throw ErrUnknownMarketId.wrap(JSON.stringify(m.marketId));
  const dec = (name: string, v: string) => {
    let d: Dec;
    try {
      d = Dec.parse(v);
    } catch (e) {
      throw ErrInvalidOrder.wrap(`${name}: ${(e as Error).message}`);
    }
    if (!d.isPositive() || d.gt(MAX_ORDER_DEC)) throw ErrInvalidOrder.wrap(`${name} ${v} out of range`);
    return d;
  };
  return { quantity: dec("quantity", m.quantity), priceLimit: dec("price_limit", m.priceLimit) };
}
