/**
 * The crash scenario through the real application (SPEC §3.6, issue acceptance): LPs fund
 * the majors pool, traders open leveraged longs and a short, the oracle gaps down 30% in
 * one block. The underwater longs are liquidated through the auction, the pool pays every
 * deficit at once, the short's profit is paid in full, the solvency check holds at every
 * height, uusdc is conserved, and nothing is left unpaid (no ADL needed).
 */
import { Chain, chain, msg } from "../util/chain";
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
import { QuerySupplyOfRequest, QuerySupplyOfResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";

const d = (s: string) => Dec.parse(s).toString();
const deposit = (owner: string, amount: string) => msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner, amount: { denom: "uusdc", amount } });
const withdraw = (owner: string, amount: string) => msg("/backstop.margin.v1.MsgWithdraw", MarginTx.MsgWithdraw, { owner, amount: { denom: "uusdc", amount } });
const order = (owner: string, side: "buy" | "sell", quantity: string, price: string, o: { tif?: TimeInForce; reduceOnly?: boolean } = {}) =>
  msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, { owner, marketId: "BTC-USD", side: side === "buy" ? Side.SIDE_BUY : Side.SIDE_SELL, price, quantity, timeInForce: o.tif ?? TimeInForce.TIME_IN_FORCE_GTC, reduceOnly: o.reduceOnly ?? false });

const free = (c: Chain, who: TestAccount) => BigInt(c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: who.address }).account!.freeCollateralUusdc);
const pos = (c: Chain, who: TestAccount) => c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: who.address }).positions.find((p) => p.position?.marketId === "BTC-USD");
const pool = (c: Chain, id: string) => c.query("/backstop.insurance.v1.Query/Pool", InsQ.QueryPoolRequest, InsQ.QueryPoolResponse, { poolId: id }).pool!;
const supply = (c: Chain) => {
  const r = c.app.query({ path: "/cosmos.bank.v1beta1.Query/SupplyOf", data: QuerySupplyOfRequest.encode({ denom: "uusdc" }).finish(), height: 0n, prove: false });
  return BigInt(QuerySupplyOfResponse.decode(r.value).amount!.amount);
};

describe("liquidation", () => {
  it("a 30% gap: longs liquidated in the auction, the pool pays the deficits, the short is paid in full", async () => {
    const c = await chain();
    const [, alice, bob, carol, dave, lp1] = c.accounts;
    const oracle1 = c.accounts[8];
    const checks: boolean[] = [];
    const step = (txs: Parameters<Chain["block"]>[0]) => {
      const r = c.block(txs);
      checks.push(c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {}).holds);
      return r;
    };
    const supply0 = (c.block([]), supply(c));

    // LPs fund majors; traders deposit.
    step([
      [lp1, [msg("/backstop.insurance.v1.MsgDeposit", InsTx.MsgDeposit, { depositor: lp1.address, poolId: "majors", amount: { denom: "uusdc", amount: "1000000000000" } })]],
      [alice, [deposit(alice.address, "3100000000")]],
      [bob, [deposit(bob.address, "6200000000")]],
      [carol, [deposit(carol.address, "10000000000")]],
      [dave, [deposit(dave.address, "1000000000000")]],
    ]);
    // Alice buys 1 BTC and bob 2 BTC at 20× (5% IM); carol sells them 3 BTC; dave rests bids far below.
    const opened = step([
      [alice, [order(alice.address, "buy", "1", "60000")]],
      [bob, [order(bob.address, "buy", "2", "60000")]],
      [carol, [order(carol.address, "sell", "3", "60000")]],
      [dave, [order(dave.address, "buy", "3", "42000")]],
    ]);
    expect(opened.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(pos(c, alice)!.position).toMatchObject({ size: d("1"), marginUusdc: "3000000000" });
    expect(pos(c, bob)!.position).toMatchObject({ size: d("2"), marginUusdc: "6000000000" });
    expect(pos(c, carol)!.position).toMatchObject({ size: d("-3"), marginUusdc: "9000000000" });
    const majors0 = BigInt(pool(c, "majors").balanceUusdc);
    const carolFree0 = free(c, carol);

    // The oracle gaps down 30% in one block: 60,000 → 42,000.
    step([[oracle1, [msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: oracle1.address, ticker: "BTC-USD", price: "42000" })]]]);
    expect(c.price("BTC-USD").price?.price).toBe(d("42000"));

    // Both longs were closed whole (bankrupt) into dave's bids at 42,000, in this very block.
    const liqs = c.query("/backstop.clearing.v1.Query/Liquidations", ClQ.QueryLiquidationsRequest, ClQ.QueryLiquidationsResponse, {}).liquidations;
    expect(liqs.map((l) => [l.owner, l.tier, l.quantity, l.price, l.deficitUusdc]).sort()).toEqual(
      [
        [alice.address, LiquidationTier.LIQUIDATION_TIER_INCREMENTAL, d("1"), d("42000"), "15000000000"],
        [bob.address, LiquidationTier.LIQUIDATION_TIER_INCREMENTAL, d("2"), d("42000"), "30000000000"],
      ].sort(),
    );
    expect(pos(c, alice)).toBeUndefined();
    expect(pos(c, bob)).toBeUndefined();
    // The pool paid both deficits (15,000 + 30,000 USDC) at once, and took its 20% of dave's
    // maker fee (0.02% of 126,000 USD = 25.2 USDC → 5.04 USDC).
    const covered = c.allEvents("backstop.insurance.v1.EventDeficitCovered").reduce((s, e) => s + BigInt(e.amount_uusdc), 0n);
    expect(covered).toBe(45_000_000_000n);
    expect(majors0 - BigInt(pool(c, "majors").balanceUusdc)).toBe(45_000_000_000n - 5_040_000n);
    expect(pool(c, "majors").debtUusdc).toBe("0");
    expect(pos(c, dave)!.position?.size).toBe(d("3"));

    // Carol closes at 42,000 against dave and withdraws: 3 × 18,000 = 54,000 USDC profit, in full.
    step([
      [carol, [order(carol.address, "buy", "3", "42000", { reduceOnly: true })]],
      [dave, [order(dave.address, "sell", "3", "42000", { reduceOnly: true })]],
    ]);
    expect(pos(c, carol)).toBeUndefined();
    const carolFree1 = free(c, carol);
    const takerFee = 63_000_000n; // 0.05% of 126,000 USD
    expect(carolFree1 - carolFree0).toBe(9_000_000_000n + 54_000_000_000n - takerFee);
    const [w] = step([[carol, [withdraw(carol.address, carolFree1.toString())]]]);
    expect(w.code).toBe(0);

    expect(checks.every(Boolean)).toBe(true);
    expect(supply(c)).toBe(supply0);
    // Nothing was left unpaid: every EventDeficitCovered has unpaid 0.
    expect(c.allEvents("backstop.insurance.v1.EventDeficitCovered").every((e) => e.unpaid_uusdc === "0")).toBe(true);
    // And no ADL while the pool could pay.
    expect(c.allEvents("backstop.clearing.v1.EventAdl")).toEqual([]);
    expect(c.query("/backstop.clearing.v1.Query/AdlHistory", ClQ.QueryAdlHistoryRequest, ClQ.QueryAdlHistoryResponse, {}).records).toEqual([]);
  });

  it("partial liquidation: a position that is liquidatable but solvent closes the smallest part that restores initial margin, at its bankruptcy price bound", async () => {
    const c = await chain((s) => {
      for (const m of s.clearing.markets) m.min_liquidation_notional_uusdc = "0";
    });
    const [, alice, , carol, dave] = c.accounts;
    const oracle1 = c.accounts[8];
    c.block([[alice, [deposit(alice.address, "3100000000")]], [carol, [deposit(carol.address, "10000000000")]], [dave, [deposit(dave.address, "100000000000")]]]);
    c.block([[alice, [order(alice.address, "buy", "1", "60000")]], [carol, [order(carol.address, "sell", "1", "60000")]]]);
    // Mark 58,000: E = 3,000 − 2,000 = 1,000 USDC < MM = 1,740: liquidatable, not bankrupt.
    c.block([
      [dave, [order(dave.address, "buy", "1", "58000")]],
      [oracle1, [msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: oracle1.address, ticker: "BTC-USD", price: "58000" })]],
    ]);
    const liqs = c.query("/backstop.clearing.v1.Query/Liquidations", ClQ.QueryLiquidationsRequest, ClQ.QueryLiquidationsResponse, {}).liquidations;
    expect(liqs).toHaveLength(1);
    // Smallest part restoring E ≥ IMR·notional: keep E/(IMR·mark) = 1,000/(0.05·58,000) = 0.3448… → close 0.6552 (step 0.0001, up);
    // capped at 50% per block → 0.5, sold at ≥ the bankruptcy price 57,000 (filled at 58,000).
    expect(liqs[0]).toMatchObject({ quantity: d("0.5"), price: d("58000"), deficitUusdc: "0" });
    const p = pos(c, alice)!;
    expect(p.position?.size).toBe(d("0.5"));
    expect(c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {}).holds).toBe(true);
  });

  it("a position being liquidated never fills against its owner's own resting orders: they are cancelled first", async () => {
    const c = await chain((s) => {
      for (const m of s.clearing.markets) m.min_liquidation_notional_uusdc = "0";
    });
    const [, alice, , carol, dave] = c.accounts;
    const oracle1 = c.accounts[8];
    c.block([[alice, [deposit(alice.address, "10000000000")]], [carol, [deposit(carol.address, "10000000000")]], [dave, [deposit(dave.address, "100000000000")]]]);
    c.block([[alice, [order(alice.address, "buy", "1", "60000")]], [carol, [order(carol.address, "sell", "1", "60000")]]]);
    // Alice also rests a bid above where the mark will go: the best bid when her position is liquidated.
    expect(c.block([[alice, [order(alice.address, "buy", "0.5", "58500")]]]).map((r) => r.code)).toEqual([0]);
    const free0 = free(c, alice);
    c.block([
      [dave, [order(dave.address, "buy", "1", "57000")]],
      [oracle1, [msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: oracle1.address, ticker: "BTC-USD", price: "58000" })]],
    ]);
    expect(c.lastEvents("backstop.clearing.v1.EventOrderCancelled")).toEqual([expect.objectContaining({ owner: alice.address, reason: "liquidation" })]);
    expect(c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: alice.address }).orders).toEqual([]);
    // Half the position went to dave's bid (at the bankruptcy price, 57,000), none to her own.
    const liqs = c.query("/backstop.clearing.v1.Query/Liquidations", ClQ.QueryLiquidationsRequest, ClQ.QueryLiquidationsResponse, {}).liquidations;
    expect(liqs.map((l) => [l.quantity, l.price])).toEqual([[d("0.5"), d("57000")]]);
    expect(pos(c, alice)!.position?.size).toBe(d("0.5"));
    expect(pos(c, dave)!.position?.size).toBe(d("0.5"));
    // The cancelled bid's reservation came back to her free collateral.
    expect(free(c, alice)).toBeGreaterThan(free0);
    expect(c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {}).holds).toBe(true);
  });

  it("tier 2: a position nobody takes in the book enters the descending-price auction, and a liquidator takes half with its own margin", async () => {
    const c = await chain();
    const [, alice, , carol, dave] = c.accounts;
    const oracle1 = c.accounts[8];
    const bid = (who: TestAccount, owner: string, quantity: string, priceLimit: string) =>
      msg("/backstop.clearing.v1.MsgBidLiquidation", ClTx.MsgBidLiquidation, { liquidator: who.address, owner, marketId: "BTC-USD", quantity, priceLimit });
    c.block([[alice, [deposit(alice.address, "3100000000")]], [carol, [deposit(carol.address, "10000000000")]], [dave, [deposit(dave.address, "100000000000")]]]);
    c.block([[alice, [order(alice.address, "buy", "1", "60000")]], [carol, [order(carol.address, "sell", "1", "60000")]]]);
    // Not in an auction yet: clearing/12.
    const [early] = c.block([[dave, [bid(dave, alice.address, "0.5", "60000")]]]);
    expect([early.codespace, early.code]).toEqual(["clearing", 12]);
    // Mark 58,000: liquidatable (E 1,000 < MM 1,740), not bankrupt; the book has no bids, so tier 1 cannot fill.
    c.block([[oracle1, [msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: oracle1.address, ticker: "BTC-USD", price: "58000" })]]]);
    const auctions = () => c.query("/backstop.clearing.v1.Query/LiquidationAuctions", ClQ.QueryLiquidationAuctionsRequest, ClQ.QueryLiquidationAuctionsResponse, {}).auctions;
    expect(auctions()).toEqual([]);
    c.block([]);
    c.block([]);
    c.block([]); // auction_after_blocks = 3
    const [a] = auctions();
    expect(a).toMatchObject({ owner: alice.address, sizeRemaining: d("1"), startPrice: d("58000") });
    // One block later the price is 0.5% worse for the position: 58,000 × 0.995 = 57,710.
    const [tooLow] = c.block([[dave, [bid(dave, alice.address, "0.5", "57000")]]]);
    expect([tooLow.codespace, tooLow.code]).toEqual(["clearing", 13]);
    const [ok] = c.block([[dave, [bid(dave, alice.address, "0.5", "58000")]]]);
    expect(ok.code).toBe(0);
    const r = ClTx.MsgBidLiquidationResponse.decode(c.msgResponses(ok)[0]);
    const steps = BigInt(c.height) - a.startHeight;
    const expected = Dec.parse("58000").mul(Dec.ONE.sub(Dec.parse("0.005").mulInt(steps)), "floor");
    expect(r).toEqual({ quantityTaken: d("0.5"), price: Dec.fromRaw(expected.raw - (expected.raw % Dec.parse("0.1").raw)).toString() });
    expect(pos(c, alice)!.position?.size).toBe(d("0.5"));
    expect(pos(c, dave)!.position).toMatchObject({ size: d("0.5"), entryPrice: r.price });
    const liqs = c.query("/backstop.clearing.v1.Query/Liquidations", ClQ.QueryLiquidationsRequest, ClQ.QueryLiquidationsResponse, {}).liquidations;
    expect(liqs[0]).toMatchObject({ owner: alice.address, tier: LiquidationTier.LIQUIDATION_TIER_AUCTION, quantity: d("0.5"), price: r.price });
    expect(c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {}).holds).toBe(true);
  });
});
