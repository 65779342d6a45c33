/**
 * Query extensions for `QueryClient.withExtensions`, one per module, over the
 * ts-proto query clients (ABCI query paths `/backstop.<module>.v1.Query/<Method>`).
 *
 *   const q = QueryClient.withExtensions(comet, setupOracleExtension, setupMarginExtension, setupClearingExtension);
 *   const { price } = await q.oracle.price("BTC-USD");
 */
import { createProtobufRpcClient, QueryClient } from "@cosmjs/stargate";
import * as oracle from "../generated/backstop/oracle/v1/query";
import * as margin from "../generated/backstop/margin/v1/query";
import * as clearing from "../generated/backstop/clearing/v1/query";
import * as insurance from "../generated/backstop/insurance/v1/query";

export interface OracleExtension {
  readonly oracle: {
    params(): Promise<oracle.QueryParamsResponse>;
    price(ticker: string): Promise<oracle.QueryPriceResponse>;
    prices(): Promise<oracle.QueryPricesResponse>;
    history(ticker: string, limit?: bigint): Promise<oracle.QueryPriceHistoryResponse>;
    volatility(ticker: string): Promise<oracle.QueryVolatilityResponse>;
    feeders(): Promise<oracle.QueryFeedersResponse>;
  };
}

export function setupOracleExtension(base: QueryClient): OracleExtension {
  const q = new oracle.QueryClientImpl(createProtobufRpcClient(base));
  return {
    oracle: {
      params: () => q.Params({}),
      price: (ticker) => q.Price({ ticker }),
      prices: () => q.Prices({ pagination: undefined }),
      history: (ticker, limit = 100n) => q.PriceHistory({ ticker, pagination: { key: new Uint8Array(), offset: 0n, limit, countTotal: false, reverse: true } }),
      volatility: (ticker) => q.Volatility({ ticker }),
      feeders: () => q.Feeders({}),
    },
  };
}

export interface MarginExtension {
  readonly margin: {
    params(): Promise<margin.QueryParamsResponse>;
    account(address: string): Promise<margin.QueryAccountResponse>;
    position(address: string, marketId: string): Promise<margin.QueryPositionResponse>;
    positions(marketId: string): Promise<margin.QueryPositionsResponse>;
    marketRisk(marketId: string): Promise<margin.QueryMarketRiskResponse>;
  };
}

export function setupMarginExtension(base: QueryClient): MarginExtension {
  const q = new margin.QueryClientImpl(createProtobufRpcClient(base));
  return {
    margin: {
      params: () => q.Params({}),
      account: (address) => q.Account({ address }),
      position: (address, marketId) => q.Position({ address, marketId }),
      positions: (marketId) => q.Positions({ marketId, pagination: undefined }),
      marketRisk: (marketId) => q.MarketRisk({ marketId }),
    },
  };
}

export interface ClearingExtension {
  readonly clearing: {
    params(): Promise<clearing.QueryParamsResponse>;
    markets(): Promise<clearing.QueryMarketsResponse>;
    market(marketId: string): Promise<clearing.QueryMarketResponse>;
    /** Aggregated price levels, best first; `depth` levels per side (the chain's default 100, at most 1000). */
    book(marketId: string, depth?: number): Promise<clearing.QueryBookResponse>;
    orders(address: string): Promise<clearing.QueryOrdersResponse>;
    order(orderId: bigint): Promise<clearing.QueryOrderResponse>;
    lastAuction(marketId: string): Promise<clearing.QueryLastAuctionResponse>;
    funding(marketId: string): Promise<clearing.QueryFundingResponse>;
    solvency(): Promise<clearing.QuerySolvencyResponse>;
    liquidations(): Promise<clearing.QueryLiquidationsResponse>;
    liquidationAuctions(): Promise<clearing.QueryLiquidationAuctionsResponse>;
    /** Auto-deleveraging steps, newest first. */
    adlHistory(): Promise<clearing.QueryAdlHistoryResponse>;
  };
}

export function setupClearingExtension(base: QueryClient): ClearingExtension {
  const q = new clearing.QueryClientImpl(createProtobufRpcClient(base));
  return {
    clearing: {
      params: () => q.Params({}),
      markets: () => q.Markets({ pagination: undefined }),
      market: (marketId) => q.Market({ marketId }),
      book: (marketId, depth = 0) => q.Book({ marketId, depth }),
      orders: (address) => q.Orders({ address, pagination: undefined }),
      order: (orderId) => q.Order({ orderId }),
      lastAuction: (marketId) => q.LastAuction({ marketId }),
      funding: (marketId) => q.Funding({ marketId }),
      solvency: () => q.Solvency({}),
      liquidations: () => q.Liquidations({ pagination: undefined }),
      liquidationAuctions: () => q.LiquidationAuctions({ pagination: undefined }),
      adlHistory: () => q.AdlHistory({ pagination: undefined }),
    },
  };
}

export interface InsuranceExtension {
  readonly insurance: {
    params(): Promise<insurance.QueryParamsResponse>;
    pools(): Promise<insurance.QueryPoolsResponse>;
    pool(poolId: string): Promise<insurance.QueryPoolResponse>;
    lpPosition(address: string): Promise<insurance.QueryLpPositionResponse>;
    withdrawals(address: string): Promise<insurance.QueryWithdrawalsResponse>;
    history(poolId: string): Promise<insurance.QueryPoolHistoryResponse>;
  };
}

export function setupInsuranceExtension(base: QueryClient): InsuranceExtension {
  const q = new insurance.QueryClientImpl(createProtobufRpcClient(base));
  return {
    insurance: {
      params: () => q.Params({}),
      pools: () => q.Pools({ pagination: undefined }),
      pool: (poolId) => q.Pool({ poolId }),
      lpPosition: (address) => q.LpPosition({ address }),
      withdrawals: (address) => q.Withdrawals({ address, pagination: undefined }),
      history: (poolId) => q.PoolHistory({ poolId, pagination: undefined }),
    },
  };
}
