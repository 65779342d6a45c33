/**
 * `backstop tx …` and `backstop q …`: transactions (signed from the keyring, simulated
 * for gas, broadcast, and awaited until included) and queries, through the SDK.
 */
import { fromBech32 } from "@cosmjs/encoding";
import { DeliverTxResponse } from "@cosmjs/stargate";
import { Command } from "../registry";
import { CliContext, httpEndpoint } from "../context";
import { flag, UsageError } from "../args";
import { CliError } from "../errors";
import { BackstopClient, BackstopClientOptions, BackstopQueryError, BackstopTxError } from "../../sdk/client";
import * as oracleQ from "../../generated/backstop/oracle/v1/query";
import * as marginQ from "../../generated/backstop/margin/v1/query";
import * as clearingQ from "../../generated/backstop/clearing/v1/query";
import * as insuranceQ from "../../generated/backstop/insurance/v1/query";

/** `1000uusdc` → [amount, denom]. */
export function parseCoin(s: string | undefined, what = "AMOUNT"): { amount: string; denom: string } {
  const m = /^(\d+)([a-zA-Z][a-zA-Z0-9/:._-]{2,127})$/.exec(s ?? "");
  if (!m) throw new UsageError(`${what} must be a coin like 1000000uusdc, got ${JSON.stringify(s ?? "")}`);
  return { amount: BigInt(m[1]).toString(), denom: m[2] };
}

function isAddress(s: string): boolean {
  try {
    return fromBech32(s).prefix === "backstop";
  } catch {
    return false;
  }
}

function arg(ctx: CliContext, i: number, name: string, usage: string): string {
  const v = ctx.args.positionals[i];
  if (v === undefined) throw new UsageError(`missing ${name}; usage: backstop ${usage}`);
  return v;
}

/** A positional that must be a backstop1… address. */
function addressArg(ctx: CliContext, i: number, name: string, usage: string): string {
  const v = arg(ctx, i, name, usage);
  if (!isAddress(v)) throw new UsageError(`${name} must be a backstop1… address, got ${JSON.stringify(v)}`);
  return v;
}

/** A positional that must be a positive decimal (quantities and prices: `0.5`, `60000`). */
function decimalArg(ctx: CliContext, i: number, name: string, usage: string): string {
  const v = arg(ctx, i, name, usage);
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`${name} must be a decimal number like 0.5 or 60000, got ${JSON.stringify(v)}`);
  if (v.split(".")[1]?.length > 18) throw new UsageError(`${name} has more than 18 decimal places: ${v}`);
  return v;
}

/**
 * How a tx pays, from the flags (Cosmos CLI conventions): `--gas N|auto` (auto, the
 * default: simulated, times `--gas-adjustment`, default 1.5), and the fee either
 * `--fees COIN` or gas × `--gas-prices` (default 0.025uusdc), not both.
 */
function feeOptions(ctx: CliContext): BackstopClientOptions {
  const gasPrice = flag(ctx.args, "gas-prices");
  if (gasPrice !== undefined && !/^\d+(\.\d{1,18})?[a-zA-Z][a-zA-Z0-9/:._-]{2,127}$/.test(gasPrice)) throw new UsageError(`--gas-prices must be an amount and a denom like 0.025uusdc, got ${JSON.stringify(gasPrice)}`);
  const feesFlag = flag(ctx.args, "fees");
  if (feesFlag !== undefined && gasPrice !== undefined) throw new UsageError("give --fees or --gas-prices, not both");
  const fees = feesFlag === undefined ? undefined : parseCoin(feesFlag, "--fees");
  const gasFlag = flag(ctx.args, "gas", "auto")!;
  if (gasFlag !== "auto" && !/^[1-9]\d{0,14}$/.test(gasFlag)) throw new UsageError(`--gas must be auto or a whole number of gas units, got ${JSON.stringify(gasFlag)}`);
  const adjustment = flag(ctx.args, "gas-adjustment");
  if (adjustment !== undefined && (!/^\d+(\.\d+)?$/.test(adjustment) || Number(adjustment) <= 0)) throw new UsageError(`--gas-adjustment must be a positive number like 1.5, got ${JSON.stringify(adjustment)}`);
  // (As in the Cosmos CLI, --gas-adjustment applies to --gas auto and is ignored with a fixed --gas.)
  return { gasPrice, fees, gas: gasFlag === "auto" ? "auto" : Number(gasFlag), gasMultiplier: adjustment === undefined ? undefined : Number(adjustment) };
}

async function signingClient(ctx: CliContext, fromArg?: string): Promise<BackstopClient> {
  const fromFlag = flag(ctx.args, "from");
  if (fromArg !== undefined && fromFlag !== undefined && fromFlag !== fromArg) throw new UsageError(`--from ${fromFlag} contradicts the sender ${fromArg} given as FROM`);
  const from = fromArg ?? fromFlag;
  if (!from) throw new UsageError("--from NAME|ADDRESS is required");
  const fee = feeOptions(ctx);
  const kr = ctx.keyring();
  let wallet;
  try {
    wallet = await kr.signer(from);
  } catch (e) {
    throw new CliError(`key ${JSON.stringify(from)}: ${(e as Error).message}`, { codespace: "cli", code: 3 });
  }
  const client = await BackstopClient.connect(httpEndpoint(ctx.node), wallet, fee);
  if (ctx.chainId !== undefined) {
    // What the user means to sign for must be the chain the node runs: refuse before signing.
    const actual = await client.signing.getChainId();
    if (actual !== ctx.chainId) {
      client.disconnect();
      throw new CliError(`--chain-id ${ctx.chainId} does not match the node's chain ${actual} (at ${ctx.node})`, { codespace: "cli", code: 1 });
    }
  }
  return client;
}

async function readClient(ctx: CliContext): Promise<BackstopClient> {
  return BackstopClient.connect(httpEndpoint(ctx.node));
}

export function txJson(r: DeliverTxResponse) {
  return {
    txhash: r.transactionHash,
    height: String(r.height),
    code: r.code,
    raw_log: r.rawLog ?? "",
    gas_wanted: r.gasWanted.toString(),
    gas_used: r.gasUsed.toString(),
    events: r.events.map((e) => ({ type: e.type, attributes: e.attributes.map((a) => ({ key: a.key, value: a.value })) })),
  };
}

/** A tx result as text (Cosmos CLI style): its fields, then each event as `type: key=value, …`. */
export function txText(r: DeliverTxResponse): string {
  return txJsonText(txJson(r));
}

/** `txText` of a tx's JSON fields (also a failed tx's, printed beside its error). */
export function txJsonText(j: ReturnType<typeof txJson> & { codespace?: string }): string {
  const lines = [`txhash: ${j.txhash}`, `height: ${j.height}`, `code: ${j.code}`, ...(j.codespace ? [`codespace: ${j.codespace}`] : []), `raw_log: ${JSON.stringify(j.raw_log)}`, `gas_wanted: ${j.gas_wanted}`, `gas_used: ${j.gas_used}`, "events:"];
  for (const e of j.events) lines.push(`  ${e.type}: ${e.attributes.map((a) => `${a.key}=${a.value}`).join(", ")}`);
  return lines.join("\n");
}

/** Runs a tx through the SDK; chain refusals become CliErrors with the chain's codespace and code. */
async function runTx(ctx: CliContext, client: BackstopClient, f: (c: BackstopClient) => Promise<DeliverTxResponse>): Promise<void> {
  try {
    ctx.progress("simulating, signing and broadcasting; waiting for inclusion…");
    const r = await f(client);
    ctx.print(txJson(r), () => txText(r));
  } catch (e) {
    if (e instanceof BackstopTxError) {
      // The tx's result fields as a tx prints them, beside the error: those of the block it
      // failed in, or — refused before inclusion (simulation, CheckTx) — height 0 and no events.
      const tx = e.response
        ? { ...txJson(e.response), codespace: e.codespace }
        : { txhash: e.txhash ?? "", height: "0", code: e.code, codespace: e.codespace, raw_log: e.message, gas_wanted: "0", gas_used: "0", events: [] };
      throw new CliError(e.message, { codespace: e.codespace, code: e.code, txhash: e.txhash, tx });
    }
    throw e;
  } finally {
    client.disconnect();
  }
}

/** Runs a query; chain errors carry the chain's codespace and code. */
async function runQuery<T>(ctx: CliContext, f: (c: BackstopClient) => Promise<T>, toJson: (r: T) => unknown): Promise<void> {
  const client = await readClient(ctx);
  try {
    const r = await f(client);
    ctx.print(toJson(r));
  } catch (e) {
    if (e instanceof BackstopQueryError) throw new CliError(e.message, { codespace: e.codespace, code: e.code });
    throw e;
  } finally {
    client.disconnect();
  }
}

function collateral(s: string | undefined): bigint {
  const c = parseCoin(s);
  if (c.denom !== "uusdc") throw new UsageError(`collateral is uusdc, got ${c.denom}`);
  return BigInt(c.amount);
}

export const chainCommands: Command[] = [
  // --- transactions -------------------------------------------------------------------
  {
    path: ["tx", "bank", "send"],
    usage: "tx bank send FROM TO AMOUNT",
    async run(ctx) {
      const u = "tx bank send FROM TO AMOUNT";
      const [from, to, amount] = [arg(ctx, 0, "FROM", u), addressArg(ctx, 1, "TO", u), parseCoin(arg(ctx, 2, "AMOUNT", u))];
      const c = await signingClient(ctx, from);
      await runTx(ctx, c, (x) => x.send(to, amount.amount, amount.denom));
    },
  },
  {
    path: ["tx", "oracle", "push-price"],
    usage: "tx oracle push-price TICKER PRICE --from FEEDER",
    async run(ctx) {
      const u = "tx oracle push-price TICKER PRICE";
      const [ticker, price] = [arg(ctx, 0, "TICKER", u), decimalArg(ctx, 1, "PRICE", u)];
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.submitPrice(ticker, price));
    },
  },
  {
    path: ["tx", "margin", "deposit"],
    usage: "tx margin deposit AMOUNT --from KEY",
    async run(ctx) {
      const amount = collateral(arg(ctx, 0, "AMOUNT", "tx margin deposit AMOUNT"));
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.depositCollateral(amount));
    },
  },
  {
    path: ["tx", "margin", "withdraw"],
    usage: "tx margin withdraw AMOUNT --from KEY",
    async run(ctx) {
      const amount = collateral(arg(ctx, 0, "AMOUNT", "tx margin withdraw AMOUNT"));
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.withdrawCollateral(amount));
    },
  },
  {
    path: ["tx", "margin", "add-position-margin"],
    usage: "tx margin add-position-margin MARKET AMOUNT --from KEY",
    async run(ctx) {
      const u = "tx margin add-position-margin MARKET AMOUNT";
      const market = arg(ctx, 0, "MARKET", u);
      const amount = collateral(arg(ctx, 1, "AMOUNT", u));
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.addPositionMargin(market, amount));
    },
  },
  {
    path: ["tx", "margin", "remove-position-margin"],
    usage: "tx margin remove-position-margin MARKET AMOUNT --from KEY",
    async run(ctx) {
      const u = "tx margin remove-position-margin MARKET AMOUNT";
      const market = arg(ctx, 0, "MARKET", u);
      const amount = collateral(arg(ctx, 1, "AMOUNT", u));
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.removePositionMargin(market, amount));
    },
  },
  {
    path: ["tx", "insurance", "deposit"],
    usage: "tx insurance deposit POOL AMOUNT --from KEY",
    async run(ctx) {
      const u = "tx insurance deposit POOL AMOUNT";
      const pool = arg(ctx, 0, "POOL", u);
      const amount = collateral(arg(ctx, 1, "AMOUNT", u));
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.depositToPool(pool, amount));
    },
  },
  {
    path: ["tx", "insurance", "request-withdrawal"],
    usage: "tx insurance request-withdrawal POOL SHARES --from KEY",
    async run(ctx) {
      const u = "tx insurance request-withdrawal POOL SHARES";
      const pool = arg(ctx, 0, "POOL", u);
      const shares = arg(ctx, 1, "SHARES", u);
      if (!/^\d+$/.test(shares)) throw new UsageError(`SHARES must be a whole number, got ${JSON.stringify(shares)}`);
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.requestWithdrawal(pool, shares));
    },
  },
  {
    path: ["tx", "insurance", "cancel-withdrawal"],
    usage: "tx insurance cancel-withdrawal WITHDRAWAL_ID --from KEY",
    async run(ctx) {
      const id = arg(ctx, 0, "WITHDRAWAL_ID", "tx insurance cancel-withdrawal WITHDRAWAL_ID");
      if (!/^\d+$/.test(id)) throw new UsageError(`WITHDRAWAL_ID must be a whole number, got ${JSON.stringify(id)}`);
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.cancelWithdrawal(BigInt(id)));
    },
  },
  {
    path: ["tx", "clearing", "place-order"],
    usage: "tx clearing place-order MARKET buy|sell QUANTITY PRICE [--tif gtc|ioc|post-only] [--reduce-only] --from KEY",
    async run(ctx) {
      const u = "tx clearing place-order MARKET buy|sell QUANTITY PRICE";
      const [market, side, quantity, price] = [arg(ctx, 0, "MARKET", u), arg(ctx, 1, "SIDE", u), decimalArg(ctx, 2, "QUANTITY", u), decimalArg(ctx, 3, "PRICE", u)];
      if (side !== "buy" && side !== "sell") throw new UsageError(`side must be buy or sell, got ${JSON.stringify(side)}`);
      const tif = flag(ctx.args, "tif", "gtc")!;
      if (tif !== "gtc" && tif !== "ioc" && tif !== "post-only") throw new UsageError("--tif must be gtc, ioc or post-only");
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.placeOrder({ marketId: market, side, quantity, price, tif, reduceOnly: ctx.args.flags.has("reduce-only") }));
    },
  },
  {
    path: ["tx", "clearing", "cancel-order"],
    usage: "tx clearing cancel-order MARKET ORDER_ID --from KEY",
    async run(ctx) {
      const u = "tx clearing cancel-order MARKET ORDER_ID";
      const [market, id] = [arg(ctx, 0, "MARKET", u), arg(ctx, 1, "ORDER_ID", u)];
      if (!/^\d+$/.test(id)) throw new UsageError(`ORDER_ID must be a whole number, got ${JSON.stringify(id)}`);
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.cancelOrder(market, BigInt(id)));
    },
  },
  {
    path: ["tx", "clearing", "bid-liquidation"],
    usage: "tx clearing bid-liquidation OWNER MARKET QUANTITY PRICE_LIMIT --from KEY   (take an auctioned position)",
    async run(ctx) {
      const u = "tx clearing bid-liquidation OWNER MARKET QUANTITY PRICE_LIMIT";
      const [owner, market, quantity, limit] = [addressArg(ctx, 0, "OWNER", u), arg(ctx, 1, "MARKET", u), decimalArg(ctx, 2, "QUANTITY", u), decimalArg(ctx, 3, "PRICE_LIMIT", u)];
      const c = await signingClient(ctx);
      await runTx(ctx, c, (x) => x.bidLiquidation(owner, market, quantity, limit));
    },
  },
  // --- queries ------------------------------------------------------------------------
  {
    path: ["q", "bank", "balances"],
    usage: "q bank balances ADDRESS",
    async run(ctx) {
      const address = addressArg(ctx, 0, "ADDRESS", "q bank balances ADDRESS");
      await runQuery(ctx, (c) => c.query.bank.allBalances(address), (balances) => ({ balances }));
    },
  },
  {
    path: ["q", "oracle", "price"],
    usage: "q oracle price TICKER",
    async run(ctx) {
      const ticker = arg(ctx, 0, "TICKER", "q oracle price TICKER");
      await runQuery(ctx, (c) => c.query.oracle.price(ticker), (r) => oracleQ.QueryPriceResponse.toJSON(r));
    },
  },
  {
    path: ["q", "oracle", "prices"],
    usage: "q oracle prices",
    run: (ctx) => runQuery(ctx, (c) => c.query.oracle.prices(), (r) => oracleQ.QueryPricesResponse.toJSON(r)),
  },
  {
    path: ["q", "oracle", "volatility"],
    usage: "q oracle volatility TICKER",
    async run(ctx) {
      const ticker = arg(ctx, 0, "TICKER", "q oracle volatility TICKER");
      await runQuery(ctx, (c) => c.query.oracle.volatility(ticker), (r) => oracleQ.QueryVolatilityResponse.toJSON(r));
    },
  },
  {
    path: ["q", "oracle", "feeders"],
    usage: "q oracle feeders",
    run: (ctx) => runQuery(ctx, (c) => c.query.oracle.feeders(), (r) => oracleQ.QueryFeedersResponse.toJSON(r)),
  },
  {
    path: ["q", "margin", "account"],
    usage: "q margin account ADDRESS",
    async run(ctx) {
      const address = addressArg(ctx, 0, "ADDRESS", "q margin account ADDRESS");
      await runQuery(ctx, (c) => c.query.margin.account(address), (r) => marginQ.QueryAccountResponse.toJSON(r));
    },
  },
  {
    path: ["q", "margin", "position"],
    usage: "q margin position ADDRESS MARKET",
    async run(ctx) {
      const u = "q margin position ADDRESS MARKET";
      const [address, market] = [addressArg(ctx, 0, "ADDRESS", u), arg(ctx, 1, "MARKET", u)];
      await runQuery(ctx, (c) => c.query.margin.position(address, market), (r) => marginQ.QueryPositionResponse.toJSON(r));
    },
  },
  {
    path: ["q", "margin", "market-risk"],
    usage: "q margin market-risk MARKET",
    async run(ctx) {
      const market = arg(ctx, 0, "MARKET", "q margin market-risk MARKET");
      await runQuery(ctx, (c) => c.query.margin.marketRisk(market), (r) => marginQ.QueryMarketRiskResponse.toJSON(r));
    },
  },
  {
    path: ["q", "clearing", "markets"],
    usage: "q clearing markets",
    run: (ctx) => runQuery(ctx, (c) => c.query.clearing.markets(), (r) => clearingQ.QueryMarketsResponse.toJSON(r)),
  },
  {
    path: ["q", "clearing", "market"],
    usage: "q clearing market MARKET",
    async run(ctx) {
      const market = arg(ctx, 0, "MARKET", "q clearing market MARKET");
      await runQuery(ctx, (c) => c.query.clearing.market(market), (r) => clearingQ.QueryMarketResponse.toJSON(r));
    },
  },
  {
    path: ["q", "insurance", "pools"],
    usage: "q insurance pools",
    run: (ctx) => runQuery(ctx, (c) => c.query.insurance.pools(), (r) => insuranceQ.QueryPoolsResponse.toJSON(r)),
  },
  {
    path: ["q", "insurance", "pool"],
    usage: "q insurance pool POOL",
    async run(ctx) {
      const pool = arg(ctx, 0, "POOL", "q insurance pool POOL");
      await runQuery(ctx, (c) => c.query.insurance.pool(pool), (r) => insuranceQ.QueryPoolResponse.toJSON(r));
    },
  },
  {
    path: ["q", "insurance", "withdrawals"],
    usage: "q insurance withdrawals ADDRESS",
    async run(ctx) {
      const address = addressArg(ctx, 0, "ADDRESS", "q insurance withdrawals ADDRESS");
      await runQuery(ctx, (c) => c.query.insurance.withdrawals(address), (r) => insuranceQ.QueryWithdrawalsResponse.toJSON(r));
    },
  },
  {
    path: ["q", "insurance", "lp"],
    usage: "q insurance lp ADDRESS   (shares in every pool, valued at NAV, and pending withdrawals)",
    async run(ctx) {
      const address = addressArg(ctx, 0, "ADDRESS", "q insurance lp ADDRESS");
      await runQuery(ctx, (c) => c.query.insurance.lpPosition(address), (r) => insuranceQ.QueryLpPositionResponse.toJSON(r));
    },
  },
  {
    path: ["q", "insurance", "history"],
    usage: "q insurance history POOL   (NAV and balance per epoch)",
    async run(ctx) {
      const pool = arg(ctx, 0, "POOL", "q insurance history POOL");
      await runQuery(ctx, (c) => c.query.insurance.history(pool), (r) => insuranceQ.QueryPoolHistoryResponse.toJSON(r));
    },
  },
  {
    path: ["q", "clearing", "book"],
    usage: "q clearing book MARKET [--depth N]   (N price levels per side, best first; default 100, at most 1000)",
    async run(ctx) {
      const market = arg(ctx, 0, "MARKET", "q clearing book MARKET [--depth N]");
      const depth = flag(ctx.args, "depth", "0")!;
      if (!/^\d{1,4}$/.test(depth)) throw new UsageError(`--depth must be a number of levels, got ${JSON.stringify(depth)}`);
      await runQuery(ctx, (c) => c.query.clearing.book(market, Number(depth)), (r) => clearingQ.QueryBookResponse.toJSON(r));
    },
  },
  {
    path: ["q", "clearing", "orders"],
    usage: "q clearing orders ADDRESS",
    async run(ctx) {
      const address = addressArg(ctx, 0, "ADDRESS", "q clearing orders ADDRESS");
      await runQuery(ctx, (c) => c.query.clearing.orders(address), (r) => clearingQ.QueryOrdersResponse.toJSON(r));
    },
  },
  {
    path: ["q", "clearing", "last-auction"],
    usage: "q clearing last-auction MARKET",
    async run(ctx) {
      const market = arg(ctx, 0, "MARKET", "q clearing last-auction MARKET");
      await runQuery(ctx, (c) => c.query.clearing.lastAuction(market), (r) => clearingQ.QueryLastAuctionResponse.toJSON(r));
    },
  },
  {
    path: ["q", "clearing", "funding"],
    usage: "q clearing funding MARKET",
    async run(ctx) {
      const market = arg(ctx, 0, "MARKET", "q clearing funding MARKET");
      await runQuery(ctx, (c) => c.query.clearing.funding(market), (r) => clearingQ.QueryFundingResponse.toJSON(r));
    },
  },
  {
    path: ["q", "clearing", "liquidations"],
    usage: "q clearing liquidations   (newest first)",
    run: (ctx) => runQuery(ctx, (c) => c.query.clearing.liquidations(), (r) => clearingQ.QueryLiquidationsResponse.toJSON(r)),
  },
  {
    path: ["q", "clearing", "liquidation-auctions"],
    usage: "q clearing liquidation-auctions   (positions on offer to liquidators, with their current price)",
    run: (ctx) => runQuery(ctx, (c) => c.query.clearing.liquidationAuctions(), (r) => clearingQ.QueryLiquidationAuctionsResponse.toJSON(r)),
  },
  {
    path: ["q", "clearing", "adl-history"],
    usage: "q clearing adl-history   (auto-deleveraging steps, newest first: who was closed against whom, at what price, for how much)",
    run: (ctx) => runQuery(ctx, (c) => c.query.clearing.adlHistory(), (r) => clearingQ.QueryAdlHistoryResponse.toJSON(r)),
  },
  {
    path: ["q", "tx"],
    usage: "q tx HASH   (a committed tx's result: height, code, gas and events)",
    async run(ctx) {
      const hash = arg(ctx, 0, "HASH", "q tx HASH");
      if (!/^[0-9a-fA-F]{64}$/.test(hash)) throw new UsageError(`HASH must be 64 hex digits, got ${JSON.stringify(hash)}`);
      const c = await readClient(ctx);
      try {
        const r = await c.getTxResult(hash.toUpperCase());
        if (!r) throw new CliError(`tx ${hash.toUpperCase()} not found`, { codespace: "cli", code: 1 });
        ctx.print(txJson(r), () => txText(r));
      } finally {
        c.disconnect();
      }
    },
  },
  {
    path: ["q", "solvency"],
    usage: "q solvency   (SPEC §3.9: collateral + pools ≥ positive equity + free collateral; balanced books)",
    run: (ctx) => runQuery(ctx, (c) => c.query.clearing.solvency(), (r) => clearingQ.QuerySolvencyResponse.toJSON(r)),
  },
];
