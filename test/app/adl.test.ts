/**
 * The last tiers of the loss waterfall through the real application (SPEC §3.6 steps 4–6):
 *  - ADL: with the pool, the reserve and the credit lines (nearly) empty, a bankrupt long
 *    is closed against the shorts in profit, most levered first, at its bankruptcy price
 *    moved by what the pools could still pay — every figure computed by hand below;
 *  - pool takeover: a position that nobody takes in the book or the auction within
 *    auction_blocks is taken over by its pool at the mark, counted in the pool's NAV at
 *    mark, and unwound through the book in later blocks, the proceeds back in the pool.
 */
import { Chain, chain, emptyPools, msg } from "../util/chain";
import { TestAccount } from "../util/localnet";
import { Dec } from "../../chain/math/decimal";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as ClQ from "../../client/src/generated/backstop/clearing/v1/query";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import * as MarginQ from "../../client/src/generated/backstop/margin/v1/query";
import * as InsTx from "../../client/src/generated/backstop/insurance/v1/tx";
import * as InsQ from "../../client/src/generated/backstop/insurance/v1/query";
import * as OracleTx from "../../client/src/generated/backstop/oracle/v1/tx";
import { LiquidationTier, Side, TimeInForce } from "../../client/src/generated/backstop/clearing/v1/clearing";
import { poolAccount } from "../../chain/x/clearing/keeper";
import { QuerySupplyOfRequest, QuerySupplyOfResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";

const d = (s: string) => Dec.parse(s).toString();
const USDC = 1_000_000n;
const deposit = (owner: string, amount: bigint) => msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner, amount: { denom: "uusdc", amount: amount.toString() } });
const addMargin = (owner: string, amount: bigint) =>
  msg("/backstop.margin.v1.MsgAddPositionMargin", MarginTx.MsgAddPositionMargin, { owner, marketId: "BTC-USD", amount: { denom: "uusdc", amount: amount.toString() } });
const order = (owner: string, side: "buy" | "sell", quantity: string, price: string, reduceOnly = false) =>
  msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, { owner, marketId: "BTC-USD", side: side === "buy" ? Side.SIDE_BUY : Side.SIDE_SELL, price, quantity, timeInForce: TimeInForce.TIME_IN_FORCE_GTC, reduceOnly });
const push = (c: Chain, price: string) => {
  const o = c.accounts[8];
  return c.block([[o, [msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: o.address, ticker: "BTC-USD", price })]]]);
};
const position = (c: Chain, who: TestAccount | string) =>
  c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: typeof who === "string" ? who : who.address }).positions.find((p) => p.position?.marketId === "BTC-USD")?.position;
const pool = (c: Chain, id: string) => c.query("/backstop.insurance.v1.Query/Pool", InsQ.QueryPoolRequest, InsQ.QueryPoolResponse, { poolId: id });
const solvent = (c: Chain) => c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {}).holds;
const supply = (c: Chain) => {
  const r = c.app.query({ path: "/cosmos.bank.v1beta1.Query/SupplyOf", data: QuerySupplyOfRequest.encode({ denom: "uusdc" }).finish(), height: 0n, prove: false });
  return BigInt(QuerySupplyOfResponse.decode(r.value).amount!.amount);
};

describe("ADL and pool takeover", () => {
  it("pools exhausted: ADL closes the most levered winners first at the bankruptcy price, as computed by hand", async () => {
    const c = await chain((s) => {
      emptyPools(s);
      // The waterfall pays what it holds (the per-market loss budget of max_takeover_fraction has its own tests).
      for (const m of s.clearing.markets) m.max_takeover_fraction = "1";
    });
    const [, alice, bob, carol, dave, , lp2] = c.accounts;
    const supply0 = (c.block([]), supply(c));
    const all: TestAccount[] = [alice, bob, carol, dave, lp2];
    c.block(all.map((a) => [a, [deposit(a.address, 100_000n * USDC)]]));
    // One block, all takers: alice buys 2 BTC and lp2 1 BTC at 60,000; bob, carol and dave sell 1 each.
    const opened = c.block([
      [alice, [order(alice.address, "buy", "2", "60000")]],
      [lp2, [order(lp2.address, "buy", "1", "60000")]],
      [bob, [order(bob.address, "sell", "1", "60000")]],
      [carol, [order(carol.address, "sell", "1", "60000")]],
      [dave, [order(dave.address, "sell", "1", "60000")]],
    ]);
    expect(opened.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
    // Every position holds 5% initial margin: alice 6,000, the others 3,000. Bob, dave and lp2 add margin:
    // bob 6,000 in all, dave 12,000, lp2 13,000 (it stays solvent through the crash).
    c.block([
      [bob, [addMargin(bob.address, 3_000n * USDC)]],
      [dave, [addMargin(dave.address, 9_000n * USDC)]],
      [lp2, [addMargin(lp2.address, 10_000n * USDC)]],
    ]);
    expect(position(c, alice)).toMatchObject({ size: d("2"), marginUusdc: (6_000n * USDC).toString() });
    // Fees: 6 BTC traded at 60,000 by takers, 0.05% = 180 USDC; the pool's 20% = 36 USDC. The
    // reserve and the alts pool (majors' credit line) hold nothing: the waterfall can pay 36 USDC.
    expect(pool(c, "majors").pool!.balanceUusdc).toBe((36n * USDC).toString());
    expect(pool(c, "reserve").pool!.balanceUusdc).toBe("0");
    expect(pool(c, "alts").pool!.balanceUusdc).toBe("0");

    // BTC falls 10% to 54,000. Alice: E = 6,000 − 2 × 6,000 = −6,000 USDC, beyond the 36 USDC the pools hold.
    push(c, "54000");

    // Shorts in profit at 54,000 (6,000 each): equity carol 9,000, bob 12,000, dave 18,000 on a
    // 54,000 notional — leverage 6, 4.5, 3. Alice's 2 BTC go against carol, then bob; dave is untouched.
    // Price: bankruptcy 60,000 − 6,000/2 = 57,000, moved toward the mark by 36/2 = 18: 56,982.
    const adl = c.query("/backstop.clearing.v1.Query/AdlHistory", ClQ.QueryAdlHistoryRequest, ClQ.QueryAdlHistoryResponse, {}).records;
    // Each gives up (56,982 − 54,000) × 1 = 2,982 USDC of the profit it had at the mark.
    expect(adl.reverse().map((r) => [r.bankruptOwner, r.counterparty, r.quantity, r.price, r.amountUusdc])).toEqual([
      [alice.address, carol.address, d("1"), d("56982"), (2_982n * USDC).toString()],
      [alice.address, bob.address, d("1"), d("56982"), (2_982n * USDC).toString()],
    ]);
    expect(c.allEvents("backstop.clearing.v1.EventAdl")).toHaveLength(2);
    expect(position(c, alice)).toBeUndefined();
    expect(position(c, carol)).toBeUndefined();
    expect(position(c, bob)).toBeUndefined();
    expect(position(c, dave)).toMatchObject({ size: d("-1") });
    expect(position(c, lp2)).toMatchObject({ size: d("1") });
    // Alice lost her 6,000 margin and 36 USDC more, which the pool paid (all it had).
    const liq = c.query("/backstop.clearing.v1.Query/Liquidations", ClQ.QueryLiquidationsRequest, ClQ.QueryLiquidationsResponse, {}).liquidations;
    expect(liq[0]).toMatchObject({ owner: alice.address, tier: LiquidationTier.LIQUIDATION_TIER_ADL, quantity: d("2"), price: d("56982"), deficitUusdc: (36n * USDC).toString() });
    expect(pool(c, "majors").pool!.balanceUusdc).toBe("0");
    // Carol: margin 3,000 + (60,000 − 56,982) = 6,018 back to free collateral; bob: 6,000 + 3,018 = 9,018.
    // Both deposited 100,000 and paid the 30 USDC taker fee (bob and dave also moved margin in and out).
    expect(c.free(carol.address)).toBe((100_000n - 30n - 3_000n + 6_018n) * USDC);
    expect(c.free(bob.address)).toBe((100_000n - 30n - 6_000n + 9_018n) * USDC);
    expect(solvent(c)).toBe(true);
    expect(supply(c)).toBe(supply0);
  });

  it("a position nobody takes is taken over by its pool at mark, counted in its NAV, and unwound through the book", async () => {
    const c = await chain((s) => {
      emptyPools(s);
      // The pool may take the whole position over (the takeover cap has its own tests).
      for (const m of s.clearing.markets) m.max_takeover_fraction = "1";
    });
    const [, alice, , carol, dave, lp1] = c.accounts;
    c.block([
      [lp1, [msg("/backstop.insurance.v1.MsgDeposit", InsTx.MsgDeposit, { depositor: lp1.address, poolId: "majors", amount: { denom: "uusdc", amount: (100_000n * USDC).toString() } })]],
      [alice, [deposit(alice.address, 3_100n * USDC)]],
      [carol, [deposit(carol.address, 10_000n * USDC)]],
      [dave, [deposit(dave.address, 100_000n * USDC)]],
    ]);
    c.block([[alice, [order(alice.address, "buy", "1", "60000")]], [carol, [order(carol.address, "sell", "1", "60000")]]]);
    const acct = poolAccount("majors");
    // 57,500: alice is liquidatable (E 500 < MM 1,725) but solvent; the book has no bids, nobody bids in the auction.
    push(c, "57500");
    const watched = c.height;
    let takeover: Record<string, any>[] = [];
    for (let i = 0; i < 20 && takeover.length === 0; i++) {
      c.block([]);
      takeover = c.lastEvents("backstop.clearing.v1.EventPoolTakeover");
    }
    // auction_after_blocks (3), then auction_blocks (10) of auction.
    expect(c.height - watched).toBe(13n);
    expect(takeover[0]).toMatchObject({ pool_id: "majors", owner: alice.address, size: d("1"), price: d("57500"), deficit_uusdc: "0" });
    expect(position(c, alice)).toBeUndefined();
    expect(position(c, acct)).toMatchObject({ size: d("1"), entryPrice: d("57500"), marginUusdc: "0" });
    // Alice's remaining equity (500) paid the liquidation fee (1% of 57,500, capped at 500) to the pool.
    const liq = c.query("/backstop.clearing.v1.Query/Liquidations", ClQ.QueryLiquidationsRequest, ClQ.QueryLiquidationsResponse, {}).liquidations[0];
    expect(liq).toMatchObject({ tier: LiquidationTier.LIQUIDATION_TIER_POOL_TAKEOVER, feeUusdc: (500n * USDC).toString(), deficitUusdc: "0" });
    const balance = BigInt(pool(c, "majors").pool!.balanceUusdc);
    expect(solvent(c)).toBe(true);

    // The pool's NAV counts the inventory at mark: at 58,000 it is worth +500 USDC.
    push(c, "58000");
    const p = pool(c, "majors");
    const shares = BigInt(p.pool!.totalShares);
    expect(Dec.parse(p.nav).raw).toBe(Dec.ratio(balance + 500n * USDC, shares, "floor").raw);

    // Dave bids 1 BTC at 58,000: the pool sells half of what it holds per block
    // (max_liquidation_fraction_per_block), the rest at once under 1,000 USDC of notional.
    c.block([[dave, [order(dave.address, "buy", "1", "58000")]]]);
    expect(position(c, acct)).toMatchObject({ size: d("0.5") });
    c.block([]);
    expect(position(c, acct)).toMatchObject({ size: d("0.25") });
    const sizes: string[] = [];
    for (let i = 0; i < 10 && position(c, acct); i++) {
      c.block([]);
      sizes.push(position(c, acct)?.size ?? "flat");
    }
    // 0.25 → 0.125 → 0.0625 → 0.0312 (ceil to the 0.0001 step: sells 0.0313) → 0.0156 (< 1,000 USDC: whole) → flat.
    expect(sizes).toEqual([d("0.125"), d("0.0625"), d("0.0312"), d("0.0156"), "flat"]);
    expect(position(c, dave)).toMatchObject({ size: d("1") });
    // The pool got its 500 USDC of profit (1 × (58,000 − 57,500)) back as balance, plus its share of dave's fees.
    const fees = c.allEvents("backstop.clearing.v1.EventFill").filter((e) => e.owner === dave.address).reduce((s, e) => s + BigInt(e.fee_uusdc), 0n);
    expect(BigInt(pool(c, "majors").pool!.balanceUusdc)).toBe(balance + 500n * USDC + (fees * 2n) / 10n);
    expect(solvent(c)).toBe(true);
  });
});
