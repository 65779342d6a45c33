/**
 * Shared helpers of the attack tests (test/app/attacks.test.ts, adversarial.fuzz.test.ts):
 * Msg builders, typed queries, a chain with extra signing accounts, a `Guard` that checks
 * the soundness invariants after every block, and the accounting of what a group of
 * accounts gained.
 *
 * Nothing here depends on the values of the localnet's parameters: bounds are read from
 * the chain (markets, pools, params) when they are needed.
 */
import { Bip39, EnglishMnemonic, Secp256k1, Slip10, Slip10Curve, stringToPath } from "@cosmjs/crypto";
import { toBech32 } from "@cosmjs/encoding";
import { QueryAccountRequest, QueryAccountResponse } from "cosmjs-types/cosmos/auth/v1beta1/query";
import { BaseAccount } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { Any } from "cosmjs-types/google/protobuf/any";
import { AuthInfo, TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import secp256k1 from "secp256k1";
import { Chain, msg } from "./chain";
import { initLocalnetApp, msgSend, signTx, TestAccount } from "./localnet";
import { LOCALNET_MNEMONIC } from "../../chain/app/genesis";
import { pubkeyToAddressBytes, moduleAddress } from "../../chain/crypto/keys";
import { poolAccount } from "../../chain/x/clearing/keeper";
import { Dec } from "../../chain/math/decimal";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as ClQ from "../../client/src/generated/backstop/clearing/v1/query";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import * as MarginQ from "../../client/src/generated/backstop/margin/v1/query";
import * as InsTx from "../../client/src/generated/backstop/insurance/v1/tx";
import * as InsQ from "../../client/src/generated/backstop/insurance/v1/query";
import * as OracleTx from "../../client/src/generated/backstop/oracle/v1/tx";
import { Market, Params as ClearingParams, Side, TimeInForce } from "../../client/src/generated/backstop/clearing/v1/clearing";
import { Pool } from "../../client/src/generated/backstop/insurance/v1/insurance";
import { PositionRisk } from "../../client/src/generated/backstop/margin/v1/margin";

export const USDC = 1_000_000n;
/** The fee every test tx pays: what signTx puts in a tx by default (read from one). */
export const TX_FEE: bigint = (() => {
  const privkey = new Uint8Array(32).fill(1);
  const key: TestAccount = { name: "fee", address: "", privkey, pubkey: secp256k1.publicKeyCreate(privkey, true) };
  const raw = TxRaw.decode(signTx(key, [], { accountNumber: 0n, sequence: 0n }));
  return BigInt(AuthInfo.decode(raw.authInfoBytes).fee!.amount.find((a) => a.denom === "uusdc")!.amount);
})();
export const MARGIN_ADDRESS = moduleAddress("margin");

// --- Msgs ------------------------------------------------------------------------------

const coin = (amount: bigint) => ({ denom: "uusdc", amount: amount.toString() });

export const M = {
  deposit: (who: TestAccount, amount: bigint) => msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner: who.address, amount: coin(amount) }),
  withdraw: (who: TestAccount, amount: bigint) => msg("/backstop.margin.v1.MsgWithdraw", MarginTx.MsgWithdraw, { owner: who.address, amount: coin(amount) }),
  addMargin: (who: TestAccount, marketId: string, amount: bigint) => msg("/backstop.margin.v1.MsgAddPositionMargin", MarginTx.MsgAddPositionMargin, { owner: who.address, marketId, amount: coin(amount) }),
  removeMargin: (who: TestAccount, marketId: string, amount: bigint) =>
    msg("/backstop.margin.v1.MsgRemovePositionMargin", MarginTx.MsgRemovePositionMargin, { owner: who.address, marketId, amount: coin(amount) }),
  order: (who: TestAccount, marketId: string, side: "buy" | "sell", quantity: Dec | string, price: Dec | string, o: { ioc?: boolean; reduceOnly?: boolean; clientId?: bigint } = {}) =>
    msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, {
      owner: who.address,
      marketId,
      side: side === "buy" ? Side.SIDE_BUY : Side.SIDE_SELL,
      quantity: quantity.toString(),
      price: price.toString(),
      timeInForce: o.ioc ? TimeInForce.TIME_IN_FORCE_IOC : TimeInForce.TIME_IN_FORCE_GTC,
      reduceOnly: o.reduceOnly ?? false,
      clientId: o.clientId ?? 0n,
    }),
  cancel: (who: TestAccount, marketId: string, orderId: bigint) => msg("/backstop.clearing.v1.MsgCancelOrder", ClTx.MsgCancelOrder, { owner: who.address, marketId, orderId }),
  bid: (who: TestAccount, owner: string, marketId: string, quantity: Dec | string, priceLimit: Dec | string) =>
    msg("/backstop.clearing.v1.MsgBidLiquidation", ClTx.MsgBidLiquidation, { liquidator: who.address, owner, marketId, quantity: quantity.toString(), priceLimit: priceLimit.toString() }),
  price: (feeder: TestAccount, ticker: string, price: Dec | string) => msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: feeder.address, ticker, price: price.toString() }),
  poolDeposit: (who: TestAccount, poolId: string, amount: bigint) => msg("/backstop.insurance.v1.MsgDeposit", InsTx.MsgDeposit, { depositor: who.address, poolId, amount: coin(amount) }),
  poolWithdraw: (who: TestAccount, poolId: string, shares: bigint) => msg("/backstop.insurance.v1.MsgRequestWithdrawal", InsTx.MsgRequestWithdrawal, { owner: who.address, poolId, shares: shares.toString() }),
  send: (from: TestAccount, to: TestAccount, amount: bigint) => msgSend(from.address, to.address, amount.toString()),
  clearingParams: (authority: TestAccount, params: ClearingParams) => msg("/backstop.clearing.v1.MsgUpdateParams", ClTx.MsgUpdateParams, { authority: authority.address, params }),
};

// --- queries -----------------------------------------------------------------------------

export const Q = {
  market: (c: Chain, marketId: string) => c.query("/backstop.clearing.v1.Query/Market", ClQ.QueryMarketRequest, ClQ.QueryMarketResponse, { marketId }),
  clearingParams: (c: Chain) => c.query("/backstop.clearing.v1.Query/Params", ClQ.QueryParamsRequest, ClQ.QueryParamsResponse, {}).params!,
  pool: (c: Chain, poolId: string) => c.query("/backstop.insurance.v1.Query/Pool", InsQ.QueryPoolRequest, InsQ.QueryPoolResponse, { poolId }).pool!,
  pools: (c: Chain) => c.query("/backstop.insurance.v1.Query/Pools", InsQ.QueryPoolsRequest, InsQ.QueryPoolsResponse, {}).pools,
  solvency: (c: Chain) => c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {}),
  account: (c: Chain, address: string) => c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address }),
  position: (c: Chain, address: string, marketId: string): PositionRisk | undefined => Q.account(c, address).positions.find((p) => p.position?.marketId === marketId),
  orders: (c: Chain, address: string) => c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address }).orders,
  auctions: (c: Chain) => c.query("/backstop.clearing.v1.Query/LiquidationAuctions", ClQ.QueryLiquidationAuctionsRequest, ClQ.QueryLiquidationAuctionsResponse, {}).auctions,
  liquidations: (c: Chain) => c.query("/backstop.clearing.v1.Query/Liquidations", ClQ.QueryLiquidationsRequest, ClQ.QueryLiquidationsResponse, {}).liquidations,
  marketRisk: (c: Chain, marketId: string) => c.query("/backstop.margin.v1.Query/MarketRisk", MarginQ.QueryMarketRiskRequest, MarginQ.QueryMarketRiskResponse, { marketId }).risk!,
  sequence: (c: Chain, who: TestAccount): bigint => {
    const r = c.app.query({ path: "/cosmos.auth.v1beta1.Query/Account", data: QueryAccountRequest.encode({ address: who.address }).finish(), height: 0n, prove: false });
    if (r.code !== 0) return 0n;
    return BaseAccount.decode(QueryAccountResponse.decode(r.value).account!.value).sequence;
  },
  accountNumber: (c: Chain, address: string): bigint | undefined => {
    const r = c.app.query({ path: "/cosmos.auth.v1beta1.Query/Account", data: QueryAccountRequest.encode({ address }).finish(), height: 0n, prove: false });
    if (r.code !== 0) return undefined;
    return BaseAccount.decode(QueryAccountResponse.decode(r.value).account!.value).accountNumber;
  },
};

export const mark = (c: Chain, marketId: string): Dec => Dec.parse(Q.market(c, marketId).markPrice);
const big = (s: string | undefined) => (!s ? 0n : BigInt(s));

/** max_takeover_fraction of a market (empty: 1, as clearing.proto says). */
export function takeoverFraction(m: Market): Dec {
  const f = (m as Partial<Market>).maxTakeoverFraction;
  return f ? Dec.parse(f) : Dec.ONE;
}

/** Rounds a quantity down to the market's step. */
export function toStep(q: Dec, step: Dec): Dec {
  return Dec.fromRaw(q.raw - (q.raw % step.raw));
}

/** Rounds a price to the market's tick (down, or up). */
export function toTick(p: Dec, tick: Dec, up = false): Dec {
  const r = p.raw % tick.raw;
  if (r === 0n) return p;
  return Dec.fromRaw(p.raw - r + (up ? tick.raw : 0n));
}

/** |size| × price in uusdc (rounded up). */
export function notional(size: Dec, price: Dec): bigint {
  return size.abs().mul(price, "ceil").mulIntToInt(USDC, "ceil");
}

/** A decimal of `frac` (e.g. "0.95") times a price, on the tick. */
export function scaled(price: Dec, frac: string, tick: Dec, up = false): Dec {
  return toTick(price.mul(Dec.parse(frac), up ? "ceil" : "floor"), tick, up);
}

export const usd = (x: bigint) => `${x < 0n ? "-" : ""}${(Number(x < 0n ? -x : x) / 1e6).toLocaleString("en-US", { maximumFractionDigits: 2 })} USDC`;

// --- pools ---------------------------------------------------------------------------------

/** The equity at mark of what a pool carries under its own account (its takeover inventory), signed. */
export function inventoryValue(c: Chain, pool: Pool): bigint {
  let n = 0n;
  for (const p of Q.account(c, poolAccount(pool.id)).positions) {
    if (!pool.marketIds.includes(p.position!.marketId) || p.equityUusdc === "") continue;
    n += BigInt(p.equityUusdc);
  }
  return n;
}

/** A pool's inventory in a market (signed size), or zero. */
export function inventory(c: Chain, poolId: string, marketId: string): Dec {
  const p = Q.position(c, poolAccount(poolId), marketId);
  return p ? Dec.parse(p.position!.size) : Dec.ZERO;
}

/**
 * A pool's net assets: the chain's own figure when the Pool carries one (net_assets_uusdc),
 * else balance − debt + what it lent out + its inventory at mark (what its NAV is made of).
 */
export function netAssets(c: Chain, poolId: string, pools: Pool[] = Q.pools(c)): bigint {
  const pool = pools.find((p) => p.id === poolId);
  if (!pool) throw new Error(`no pool ${poolId}`);
  const own = (pool as { netAssetsUusdc?: string }).netAssetsUusdc;
  if (own !== undefined && own !== "") return BigInt(own);
  let lent = 0n;
  for (const p of pools) for (const l of p.creditLines) if (l.lenderPoolId === poolId) lent += big(l.drawnUusdc);
  return big(pool.balanceUusdc) - big(pool.debtUusdc) + lent + inventoryValue(c, pool);
}

/** Everything the pools hold together: Σ balances (debts and loans between pools cancel) + Σ inventory at mark. */
export function poolsValue(c: Chain): bigint {
  let n = 0n;
  for (const p of Q.pools(c)) n += big(p.balanceUusdc) + inventoryValue(c, p);
  return n;
}

// --- accounts ------------------------------------------------------------------------------

/** Keys of the localnet mnemonic at HD indices `from`… (m/44'/118'/0'/0/i): signing accounts beyond the ten of genesis. */
export async function deriveAccounts(from: number, n: number): Promise<TestAccount[]> {
  const seed = await Bip39.mnemonicToSeed(new EnglishMnemonic(LOCALNET_MNEMONIC));
  const out: TestAccount[] = [];
  for (let i = from; i < from + n; i++) {
    const { privkey } = Slip10.derivePath(Slip10Curve.Secp256k1, seed, stringToPath(`m/44'/118'/0'/0/${i}`));
    const { pubkey } = await Secp256k1.makeKeypair(privkey);
    const compressed = Secp256k1.compressPubkey(pubkey);
    out.push({ name: `extra${i}`, address: toBech32("backstop", pubkeyToAddressBytes(compressed)), privkey, pubkey: compressed });
  }
  return out;
}

/**
 * A localnet chain, its first block run, with `extra` more signing accounts (HD indices 10…). Only
 * the ten localnet accounts are in genesis: the validator sends each extra account 1 USDC
 * in one tx, in order, which creates their auth accounts with the next account numbers
 * (10, 11, …), the numbers `Chain` signs with (an account's index in `accounts`).
 */
export async function attackChain(extra = 0, edit?: (s: Record<string, any>) => void): Promise<Chain> {
  const { app, accounts } = await initLocalnetApp(undefined, edit);
  const more = await deriveAccounts(accounts.length, extra);
  const c = new Chain(app, [...accounts, ...more]);
  c.block([]);
  if (more.length > 0) {
    const [r] = c.block([[accounts[0], more.map((a) => M.send(accounts[0], a, USDC))]]);
    if (r.code !== 0) throw new Error(`creating the extra accounts failed: ${r.log}`);
    more.forEach((a, i) => {
      const n = Q.accountNumber(c, a.address);
      if (n !== BigInt(accounts.length + i)) throw new Error(`extra account ${a.address} has account number ${n}, expected ${accounts.length + i}`);
    });
  }
  return c;
}

/**
 * What an account holds, as a trader sees it: bank uusdc + free collateral + what its
 * orders reserve + Σ max(0, equity at mark) of its positions (a position under water is
 * worth nothing to its owner; its loss beyond the margin is someone else's).
 */
export function accountValue(c: Chain, address: string): bigint {
  const a = Q.account(c, address);
  let n = c.balance(address) + big(a.account?.freeCollateralUusdc);
  for (const o of Q.orders(c, address)) n += big(o.reservedUusdc);
  for (const p of a.positions) {
    const e = big(p.equityUusdc);
    if (e > 0n) n += e;
  }
  return n;
}

export const groupValue = (c: Chain, group: TestAccount[]) => group.reduce((s, a) => s + accountValue(c, a.address), 0n);

// --- the guard -------------------------------------------------------------------------------

type Txs = Parameters<Chain["block"]>[0];

/**
 * Runs blocks and checks, after every one, what must hold whatever traders do:
 *  - the solvency check (margin account + pools ≥ Σ positive equity + free collateral);
 *  - Σ long = Σ short in every market;
 *  - every pool takeover (EventPoolTakeover) takes at most max_takeover_fraction of the
 *    pool's net assets in notional (taken size × price), and a pool's inventory in a
 *    market, in the block it grows, stays within that cap (net assets before or after the
 *    block, whichever is larger; one step of rounding).
 * Violations are collected (the first few of each kind) for one assertion at the end.
 */
export class Guard {
  readonly violations: string[] = [];
  private readonly counts = new Map<string, number>();
  private navBefore = new Map<string, bigint>();
  private invBefore = new Map<string, Dec>();
  /** Takeovers seen: pool, market, notional, cap. */
  readonly takeovers: { pool: string; market: string; notional: bigint; cap: bigint }[] = [];

  constructor(readonly c: Chain) {
    this.snapshot();
  }

  note(kind: string, text: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n <= 3) this.violations.push(`h${this.c.height} ${text}`);
    else if (n === 4) this.violations.push(`… more "${kind}" violations`);
  }

  block(txs: Txs, dt?: bigint) {
    const r = this.c.block(txs, dt);
    this.check();
    return r;
  }

  /** One block of nothing but oracle pushes (feeder account index 8). */
  push(prices: Record<string, Dec | string>, extra: Txs = []) {
    const feeder = this.c.accounts[8];
    return this.block([...extra, [feeder, Object.entries(prices).map(([t, p]) => M.price(feeder, t, p))]]);
  }

  private snapshot(): void {
    const pools = Q.pools(this.c);
    this.navBefore = new Map(pools.map((p) => [p.id, netAssets(this.c, p.id, pools)]));
    this.invBefore = new Map();
    for (const p of pools) for (const m of p.marketIds) this.invBefore.set(`${p.id} ${m}`, inventory(this.c, p.id, m));
  }

  check(): void {
    const c = this.c;
    const s = Q.solvency(c);
    if (!s.holds) {
      const need = BigInt(s.positiveEquityUusdc) + BigInt(s.freeCollateralUusdc);
      const have = BigInt(s.collateralAccountUusdc) + BigInt(s.poolBalancesUusdc);
      this.note("solvency", `solvency fails: margin account ${usd(BigInt(s.collateralAccountUusdc))} + pools ${usd(BigInt(s.poolBalancesUusdc))} < positive equity ${usd(BigInt(s.positiveEquityUusdc))} + free ${usd(BigInt(s.freeCollateralUusdc))} (short by ${usd(need - have)})`);
    }
    for (const m of s.markets) if (m.longSize !== m.shortSize) this.note("balance", `${m.marketId}: Σ long ${m.longSize} ≠ Σ short ${m.shortSize}`);

    const pools = Q.pools(c);
    const after = new Map(pools.map((p) => [p.id, netAssets(c, p.id, pools)]));
    const capOf = (poolId: string, m: Market) => {
      const na = [this.navBefore.get(poolId) ?? 0n, after.get(poolId) ?? 0n].reduce((a, b) => (a > b ? a : b));
      return takeoverFraction(m).mulIntToInt(na > 0n ? na : 0n, "floor");
    };
    for (const e of c.lastEvents("backstop.clearing.v1.EventPoolTakeover")) {
      const m = Q.market(c, e.market_id).market!;
      const size = Dec.parse(String(e.size));
      const n = notional(size, Dec.parse(String(e.price)));
      const cap = capOf(String(e.pool_id), m);
      this.takeovers.push({ pool: String(e.pool_id), market: m.id, notional: n, cap });
      const slack = notional(Dec.parse(m.stepSize), Dec.parse(String(e.price))) + 1n;
      if (n > cap + slack) this.note("takeover", `pool ${e.pool_id} took over ${e.size} ${m.id} at ${e.price} (${usd(n)} of notional) beyond max_takeover_fraction ${takeoverFraction(m)} × its net assets = ${usd(cap)}`);
    }
    for (const p of pools) {
      for (const id of p.marketIds) {
        const now = inventory(c, p.id, id);
        const before = this.invBefore.get(`${p.id} ${id}`) ?? Dec.ZERO;
        if (!now.abs().gt(before.abs())) continue;
        const m = Q.market(c, id);
        const px = Dec.parse(m.markPrice);
        const n = notional(now, px);
        const cap = capOf(p.id, m.market!);
        if (n > cap + notional(Dec.parse(m.market!.stepSize), px) + 1n) this.note("inventory", `pool ${p.id}'s inventory in ${id} grew to ${now} (${usd(n)} at mark) beyond max_takeover_fraction × net assets = ${usd(cap)}`);
      }
    }
    this.snapshot();
  }
}

// --- opening positions as large as the chain allows -------------------------------------------------

/**
 * Each (buyer, seller) pair crosses `qty` at `price` in `marketId` with gtc orders in one
 * block, as much of it as the chain accepts: orders refused (a cap, margin) or left resting
 * are cancelled and the pair tries half the size, down to the minimum order size; once a
 * size opens, it tries to add half of what separates it from the smallest size refused, a
 * few times (a binary search for the largest position the chain lets it build). Returns
 * the size each pair opened (zero: none).
 */
export function crossLargest(g: Guard, marketId: string, pairs: [TestAccount, TestAccount][], qty: Dec, price: Dec): Dec[] {
  const c = g.c;
  const m = Q.market(c, marketId).market!;
  const step = Dec.parse(m.stepSize);
  const min = Dec.parse(m.minOrderSize);
  const sizeOf = (who: TestAccount) => Dec.parse(Q.position(c, who.address, marketId)?.position?.size ?? "0");
  /** One attempt at crossing q more; returns what opened. */
  const attempt = (buyer: TestAccount, seller: TestAccount, q: Dec): Dec => {
    const size0 = sizeOf(buyer);
    g.block([
      [buyer, [M.order(buyer, marketId, "buy", q, price)]],
      [seller, [M.order(seller, marketId, "sell", q, price)]],
    ]);
    const opened = sizeOf(buyer).sub(size0);
    const cancels: [TestAccount, Any[]][] = [];
    for (const who of [buyer, seller]) {
      const live = Q.orders(c, who.address).filter((o) => o.marketId === marketId && !o.isLiquidation);
      if (live.length > 0) cancels.push([who, live.map((o) => M.cancel(who, marketId, o.id))]);
    }
    if (cancels.length > 0) g.block(cancels);
    return opened;
  };
  return pairs.map(([buyer, seller]) => {
    const target = toStep(qty, step);
    let total = Dec.ZERO;
    let q = target;
    let hi = target;
    while (q.gte(min)) {
      const d = attempt(buyer, seller, q);
      if (d.isPositive()) {
        total = d;
        break;
      }
      hi = q;
      q = toStep(q.divInt(2n, "floor"), step);
    }
    if (total.isZero() || total.gte(target)) return total;
    for (let i = 0; i < 6; i++) {
      const delta = toStep(hi.sub(total).divInt(2n, "floor"), step);
      if (delta.lt(min)) break;
      const d = attempt(buyer, seller, delta);
      if (d.isPositive()) total = total.add(d);
      else hi = total.add(delta);
    }
    return total;
  });
}

/** Withdraws an account's whole free collateral (at most `cap`); returns the tx's result and the amount asked for. */
export function withdrawAll(g: Guard, who: TestAccount, cap?: bigint): { code: number; codespace: string; log: string; amount: bigint } {
  let amount = g.c.free(who.address);
  if (cap !== undefined && cap < amount) amount = cap;
  if (amount <= 0n) return { code: 0, codespace: "", log: "", amount: 0n };
  const [r] = g.block([[who, [M.withdraw(who, amount)]]]);
  return { code: r.code, codespace: r.codespace, log: r.log, amount };
}

/**
 * Bystanders: each withdraws its whole free collateral at the end; the withdrawal must
 * succeed and leave its bank balance where it was before it deposited (less the fees of
 * its own txs). `bank0` and `seq0` are its bank balance and sequence before it deposited.
 */
export function checkBystandersWithdraw(g: Guard, bystanders: { who: TestAccount; bank0: bigint; seq0: bigint }[]): void {
  const c = g.c;
  for (const b of bystanders) {
    const free = c.free(b.who.address);
    const w = withdrawAll(g, b.who);
    if (w.code !== 0) g.note("bystander", `bystander ${b.who.name} could not withdraw its free collateral ${usd(free)}: ${w.codespace}/${w.code} ${w.log.slice(0, 160)}`);
    const fees = (Q.sequence(c, b.who) - b.seq0) * TX_FEE;
    const bank = c.balance(b.who.address);
    if (bank !== b.bank0 - fees) g.note("bystander", `bystander ${b.who.name}'s bank balance is ${usd(bank)}, expected ${usd(b.bank0 - fees)} (short by ${usd(b.bank0 - fees - bank)}); free collateral left ${usd(c.free(b.who.address))}`);
  }
}

/** The amount the insurance waterfall paid for deficits in the blocks so far (Σ EventDeficitCovered). */
export function deficitsPaid(c: Chain, fromIndex = 0): bigint {
  return c
    .allEvents("backstop.insurance.v1.EventDeficitCovered")
    .slice(fromIndex)
    .reduce((s, e) => s + BigInt(e.amount_uusdc ?? "0"), 0n);
}
