/**
 * Clearing through the real application: orders checked at CheckTx and delivery, one
 * uniform-price batch auction per market per block, fills settled into isolated
 * positions with fees and novation, a balanced book and conserved uusdc.
 */
import { Chain, chain, msg } from "../util/chain";
import { TestAccount } from "../util/localnet";
import { Dec } from "../../chain/math/decimal";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as ClQ from "../../client/src/generated/backstop/clearing/v1/query";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import * as MarginQ from "../../client/src/generated/backstop/margin/v1/query";
import * as OracleTx from "../../client/src/generated/backstop/oracle/v1/tx";
import { Side, TimeInForce } from "../../client/src/generated/backstop/clearing/v1/clearing";
import { QuerySupplyOfRequest, QuerySupplyOfResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";

const d = (s: string) => Dec.parse(s).toString();
const deposit = (owner: string, amount: string) => msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner, amount: { denom: "uusdc", amount } });
const order = (owner: string, marketId: string, side: "buy" | "sell", quantity: string, price: string, o: { tif?: TimeInForce; reduceOnly?: boolean } = {}) =>
  msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, {
    owner,
    marketId,
    side: side === "buy" ? Side.SIDE_BUY : Side.SIDE_SELL,
    price,
    quantity,
    timeInForce: o.tif ?? TimeInForce.TIME_IN_FORCE_GTC,
    reduceOnly: o.reduceOnly ?? false,
  });
const cancel = (owner: string, marketId: string, orderId: bigint) => msg("/backstop.clearing.v1.MsgCancelOrder", ClTx.MsgCancelOrder, { owner, marketId, orderId });
const push = (feeder: string, ticker: string, price: string) => msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder, ticker, price });

function position(c: Chain, who: TestAccount, marketId: string) {
  try {
    return c.query("/backstop.margin.v1.Query/Position", MarginQ.QueryPositionRequest, MarginQ.QueryPositionResponse, { address: who.address, marketId }).position!;
  } catch {
    return undefined;
  }
}
function freeOf(c: Chain, who: TestAccount): bigint {
  return BigInt(c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: who.address }).account!.freeCollateralUusdc);
}
function ordersOf(c: Chain, who: TestAccount) {
  return c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: who.address }).orders;
}
function solvency(c: Chain) {
  return c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {});
}
function supply(c: Chain, denom = "uusdc"): bigint {
  const r = c.app.query({ path: "/cosmos.bank.v1beta1.Query/SupplyOf", data: QuerySupplyOfRequest.encode({ denom }).finish(), height: 0n, prove: false });
  return BigInt(QuerySupplyOfResponse.decode(r.value).amount!.amount);
}

describe("clearing", () => {
  it("two traders cross in the auction: both positions appear, fees are paid, the book balances and uusdc is conserved", async () => {
    const c = await chain();
    const [, alice, bob] = c.accounts;
    c.block([
      [alice, [deposit(alice.address, "100000000000")]],
      [bob, [deposit(bob.address, "100000000000")]],
    ]);
    const supply0 = supply(c);
    // Bob rests an ask at 60,100 for 2 BTC; next block alice bids 60,200 for 1.5 BTC.
    const bobFree0 = freeOf(c, bob);
    const [ask] = c.block([[bob, [order(bob.address, "BTC-USD", "sell", "2", "60100")]]]);
    expect(ask.code).toBe(0);
    // The order holds what it took from bob's free collateral, and says so.
    const reserved0 = BigInt(ordersOf(c, bob)[0].reservedUusdc);
    expect(reserved0).toBeGreaterThan(0n);
    expect(bobFree0 - freeOf(c, bob)).toBe(reserved0);
    const book = c.query("/backstop.clearing.v1.Query/Book", ClQ.QueryBookRequest, ClQ.QueryBookResponse, { marketId: "BTC-USD" });
    expect(book.asks).toEqual([{ price: d("60100"), quantity: d("2"), orderCount: 1 }]);
    const [bid] = c.block([[alice, [order(alice.address, "BTC-USD", "buy", "1.5", "60200")]]]);
    expect(bid.code).toBe(0);
    const auction = c.query("/backstop.clearing.v1.Query/LastAuction", ClQ.QueryLastAuctionRequest, ClQ.QueryLastAuctionResponse, { marketId: "BTC-USD" }).auction!;
    // Volume 1.5 at every price in [60100, 60200]; imbalance 0.5 throughout; closest to the oracle (60,000): 60,100.
    expect(auction).toMatchObject({ cleared: true, clearingPrice: d("60100"), matchedQuantity: d("1.5") });
    const pa = position(c, alice, "BTC-USD")!;
    const pb = position(c, bob, "BTC-USD")!;
    expect(pa.position).toMatchObject({ size: d("1.5"), entryPrice: d("60100") });
    expect(pb.position).toMatchObject({ size: d("-1.5"), entryPrice: d("60100") });
    // Initial margin 5% of 90,150 USD = 4,507.5 USDC into each position.
    expect(pa.position?.marginUusdc).toBe("4507500000");
    expect(pb.position?.marginUusdc).toBe("4507500000");
    // Fees: alice taker 0.05%, bob maker 0.02% of 90,150 USD.
    const fills = c.lastEvents("backstop.clearing.v1.EventFill");
    expect(fills.map((e) => [e.owner, e.fee_uusdc, e.maker])).toEqual([
      [bob.address, "18030000", true],
      [alice.address, "45075000", false],
    ]);
    // Bob's remaining 0.5 rests, holding the unfilled quarter of its reservation (rounded up).
    expect(BigInt(ordersOf(c, bob)[0].reservedUusdc)).toBe(reserved0 - (reserved0 * 3n) / 4n);
    // The book shows it.
    const book2 = c.query("/backstop.clearing.v1.Query/Book", ClQ.QueryBookRequest, ClQ.QueryBookResponse, { marketId: "BTC-USD" });
    expect(book2).toEqual({ bids: [], asks: [{ price: d("60100"), quantity: d("0.5"), orderCount: 1 }] });
    const s = solvency(c);
    expect(s.markets[0]).toMatchObject({ marketId: "BTC-USD", longSize: d("1.5"), shortSize: d("1.5"), balanced: true });
    expect(s.holds).toBe(true);
    expect(supply(c)).toBe(supply0);

    // Alice sells 1 back at 61,000 into a new bid from carol: she realises 1 × (61,000 − 60,100) = 900 USDC.
    const carol = c.accounts[3];
    c.block([[carol, [deposit(carol.address, "100000000000")]], [bob, [cancel(bob.address, "BTC-USD", 1n)]]]);
    const free0 = BigInt(c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: alice.address }).account!.freeCollateralUusdc);
    c.block([
      [carol, [order(carol.address, "BTC-USD", "buy", "1", "61000")]],
      [alice, [order(alice.address, "BTC-USD", "sell", "1", "61000", { reduceOnly: true })]],
    ]);
    const pa2 = position(c, alice, "BTC-USD")!;
    expect(pa2.position?.size).toBe(d("0.5"));
    const free1 = BigInt(c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: alice.address }).account!.freeCollateralUusdc);
    // Released margin 4,507.5 × 1/1.5 = 3,005 USDC, + 900 realised − taker fee 30.5.
    expect(free1 - free0).toBe(3_005_000_000n + 900_000_000n - 30_500_000n);
    expect(solvency(c).holds).toBe(true);
    expect(supply(c)).toBe(supply0);
  });

  it("the book by price: levels best first, price-then-time priority in the auction, best prices for post-only, resting orders left alone", async () => {
    const c = await chain();
    const [, alice, bob, carol] = c.accounts;
    c.block([[alice, [deposit(alice.address, "100000000000")]], [bob, [deposit(bob.address, "100000000000")]], [carol, [deposit(carol.address, "100000000000")]]]);
    const book = () => c.query("/backstop.clearing.v1.Query/Book", ClQ.QueryBookRequest, ClQ.QueryBookResponse, { marketId: "BTC-USD" });
    const lvl = (price: string, quantity: string, orderCount: number) => ({ price: d(price), quantity: d(quantity), orderCount });
    // Placed out of price order, over two blocks; none crosses.
    c.block([[bob, [order(bob.address, "BTC-USD", "sell", "1", "60300"), order(bob.address, "BTC-USD", "sell", "1", "60400")]], [carol, [order(carol.address, "BTC-USD", "buy", "1", "59800")]]]);
    c.block([[carol, [order(carol.address, "BTC-USD", "sell", "1", "60300"), order(carol.address, "BTC-USD", "sell", "1", "60200"), order(carol.address, "BTC-USD", "buy", "2", "59900")]]]);
    expect(book()).toEqual({ bids: [lvl("59900", "2", 1), lvl("59800", "1", 1)], asks: [lvl("60200", "1", 1), lvl("60300", "2", 2), lvl("60400", "1", 1)] });
    // A depth bounds the levels per side (a level's orders all count); past the maximum it is refused.
    const deep = (depth: number) => c.query("/backstop.clearing.v1.Query/Book", ClQ.QueryBookRequest, ClQ.QueryBookResponse, { marketId: "BTC-USD", depth });
    expect(deep(1)).toEqual({ bids: [lvl("59900", "2", 1)], asks: [lvl("60200", "1", 1)] });
    expect(deep(2)).toEqual({ bids: [lvl("59900", "2", 1), lvl("59800", "1", 1)], asks: [lvl("60200", "1", 1), lvl("60300", "2", 2)] });
    expect(() => deep(1001)).toThrow(/depth 1001 is above the maximum 1000/);
    expect(c.query("/backstop.clearing.v1.Query/LastAuction", ClQ.QueryLastAuctionRequest, ClQ.QueryLastAuctionResponse, { marketId: "BTC-USD" }).auction).toMatchObject({ cleared: false, reason: "no_cross" });
    // Post-only against the best prices of the index.
    expect(c.check(alice, [order(alice.address, "BTC-USD", "buy", "1", "60200", { tif: TimeInForce.TIME_IN_FORCE_POST_ONLY })]).code).toBe(7);
    expect(c.check(alice, [order(alice.address, "BTC-USD", "sell", "1", "59900", { tif: TimeInForce.TIME_IN_FORCE_POST_ONLY })]).code).toBe(7);
    expect(c.check(alice, [order(alice.address, "BTC-USD", "buy", "1", "60100", { tif: TimeInForce.TIME_IN_FORCE_POST_ONLY })]).code).toBe(0); // (a passing check takes the sequence)
    // Alice lifts 1.5 up to 60,300: the 60,200 ask fills, then at 60,300 the older of the two (bob's, placed a block earlier).
    const ids = c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: bob.address }).orders.map((o) => o.id);
    c.block([[alice, [order(alice.address, "BTC-USD", "buy", "1.5", "60300")]]]);
    const auction = c.query("/backstop.clearing.v1.Query/LastAuction", ClQ.QueryLastAuctionRequest, ClQ.QueryLastAuctionResponse, { marketId: "BTC-USD" }).auction!;
    expect(auction).toMatchObject({ cleared: true, clearingPrice: d("60300"), matchedQuantity: d("1.5") });
    const fills = c.lastEvents("backstop.clearing.v1.EventFill").map((e) => [e.owner, e.quantity]);
    expect(fills).toEqual(
      expect.arrayContaining([
        [carol.address, d("1")],
        [bob.address, d("0.5")],
        [alice.address, d("1.5")],
      ]),
    );
    expect(fills).toHaveLength(3);
    expect(c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: bob.address }).orders.map((o) => [o.id, o.filledQuantity])).toEqual([
      [ids[0], d("0.5")],
      [ids[1], d("0")],
    ]);
    // The bids and the asks beyond the clearing price were not touched; the book shows what is left.
    expect(book()).toEqual({ bids: [lvl("59900", "2", 1), lvl("59800", "1", 1)], asks: [lvl("60300", "1.5", 2), lvl("60400", "1", 1)] });
    expect(solvency(c).holds).toBe(true);
  });

  it("rejects bad orders with registered errors at CheckTx, and reduce-only, post-only and stale prices are enforced", async () => {
    const c = await chain();
    const [, alice, bob] = c.accounts;
    c.block([[alice, [deposit(alice.address, "10000000000")]], [bob, [deposit(bob.address, "10000000000")]]]);
    const codes = (r: { codespace: string; code: number }) => [r.codespace, r.code];
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "1", "60000.05")]))).toEqual(["clearing", 5]); // tick 0.1
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0.00005", "60000")]))).toEqual(["clearing", 5]); // step
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0", "60000")]))).toEqual(["clearing", 5]);
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "1", "-1")]))).toEqual(["clearing", 5]);
    expect(codes(c.check(alice, [order(alice.address, "DOGE-USD", "buy", "1", "1")]))).toEqual(["clearing", 2]);
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "10", "60000")]))).toEqual(["clearing", 11]); // 30,000 IM > 10,000 free
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "sell", "1", "60000", { reduceOnly: true })]))).toEqual(["clearing", 8]);
    // Post-only: a buy at or above the best ask is refused.
    c.block([[bob, [order(bob.address, "ETH-USD", "sell", "1", "3010")]]]);
    expect(codes(c.check(alice, [order(alice.address, "ETH-USD", "buy", "1", "3010", { tif: TimeInForce.TIME_IN_FORCE_POST_ONLY })]))).toEqual(["clearing", 7]);
    expect(c.check(alice, [order(alice.address, "ETH-USD", "buy", "1", "3000", { tif: TimeInForce.TIME_IN_FORCE_POST_ONLY })]).code).toBe(0);
    // An ioc that does not fill is gone after its block, and its reservation comes back.
    const free = () => BigInt(c.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: alice.address }).account!.freeCollateralUusdc);
    const f0 = free();
    c.block([[alice, [order(alice.address, "ETH-USD", "buy", "1", "2900", { tif: TimeInForce.TIME_IN_FORCE_IOC })]]]);
    expect(c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: alice.address }).orders).toEqual([]);
    expect(free()).toBe(f0);
    // A resting gtc holds its reservation until cancelled.
    const [placed] = c.block([[alice, [order(alice.address, "ETH-USD", "buy", "1", "2900")]]]);
    const id = ClTx.MsgPlaceOrderResponse.decode(c.msgResponses(placed)[0]).orderId;
    expect(free()).toBeLessThan(f0);
    const [cx] = c.block([[alice, [cancel(alice.address, "ETH-USD", id)]]]);
    expect(cx.code).toBe(0);
    expect(free()).toBe(f0);
    const [again] = c.block([[alice, [cancel(alice.address, "ETH-USD", id)]]]);
    expect(codes(again)).toEqual(["clearing", 6]);
    // Stale price: new exposure is refused with oracle/6.
    c.block([], 400n);
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0.01", "60000")]))).toEqual(["oracle", 6]);
  });

  it("max_open_orders_per_account counts an owner's live orders per market: filled, expired and cancelled orders free their slot", async () => {
    const c = await chain((s) => {
      for (const m of s.clearing.markets) m.max_open_orders_per_account = 2;
    });
    const [, alice, bob] = c.accounts;
    c.block([[alice, [deposit(alice.address, "100000000000")]], [bob, [deposit(bob.address, "100000000000")]]]);
    const codes = (r: { codespace: string; code: number }) => [r.codespace, r.code];
    const idOf = (r: any) => ClTx.MsgPlaceOrderResponse.decode(c.msgResponses(r)[0]).orderId;
    // Two resting bids in BTC-USD fill alice's slots there; ETH-USD is counted apart.
    const [b1] = c.block([[alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59000")]]]);
    c.block([[alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59100")]]]);
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59200")]))).toEqual(["clearing", 9]);
    const [third] = c.block([[alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59200")]]]);
    expect(codes(third)).toEqual(["clearing", 9]);
    expect(c.check(alice, [order(alice.address, "ETH-USD", "buy", "1", "2900")]).code).toBe(0);
    // A cancel frees a slot.
    expect(c.block([[alice, [cancel(alice.address, "BTC-USD", idOf(b1))]]])[0].code).toBe(0);
    expect(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59200")]).code).toBe(0);
    // An ioc takes a slot only while its block runs; afterwards the slot is free again.
    c.block([[alice, [order(alice.address, "BTC-USD", "buy", "0.1", "58000", { tif: TimeInForce.TIME_IN_FORCE_IOC })]]]);
    expect(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59200")]).code).toBe(0);
    // Bob sells into both of alice's bids: once they fill completely, both slots are free.
    c.block([[alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59300")]]]);
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0.1", "59200")]))).toEqual(["clearing", 9]);
    c.block([[bob, [order(bob.address, "BTC-USD", "sell", "0.2", "59000")]]]);
    expect(position(c, alice, "BTC-USD")!.position).toMatchObject({ size: d("0.2") });
    expect(c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: alice.address }).orders).toEqual([]);
    const [p1, p2] = c.block([
      [alice, [order(alice.address, "BTC-USD", "buy", "0.1", "58000")]],
      [alice, [order(alice.address, "BTC-USD", "buy", "0.1", "58000")]],
    ]);
    expect([p1.code, p2.code]).toEqual([0, 0]);
    expect(codes(c.check(alice, [order(alice.address, "BTC-USD", "buy", "0.1", "58000")]))).toEqual(["clearing", 9]);
  });

  it("funding paid by one side equals funding received by the other, to the rounding rule", async () => {
    const c = await chain((s) => {
      for (const m of s.clearing.markets) m.funding_interval_seconds = "10";
    });
    const [, alice, bob] = c.accounts;
    const o1 = c.accounts[8];
    c.block([[alice, [deposit(alice.address, "100000000000")]], [bob, [deposit(bob.address, "100000000000")]]]);
    // Trades print 1% above the oracle (premium) for three blocks, so longs pay shorts at the
    // end of the 10 s interval, at the capped rate 0.001 × 150 = 0.15 USD per SOL.
    for (let i = 0; i < 3; i++) {
      c.block([
        [alice, [order(alice.address, "SOL-USD", "buy", "10", "151.5")]],
        [bob, [order(bob.address, "SOL-USD", "sell", "10", "151.5")]],
        [o1, [push(o1.address, "SOL-USD", "150")]],
      ]);
    }
    for (let i = 0; i < 10; i++) c.block([]);
    const funding = c.query("/backstop.clearing.v1.Query/Funding", ClQ.QueryFundingRequest, ClQ.QueryFundingResponse, { marketId: "SOL-USD" }).funding!;
    expect(funding.cumulativeIndex).toBe(d("0.15"));
    expect(funding.lastRate).toBe(d("0.001"));
    const pa = position(c, alice, "SOL-USD")!;
    const pb = position(c, bob, "SOL-USD")!;
    const paid = BigInt(pa.accruedFundingUusdc);
    const received = -BigInt(pb.accruedFundingUusdc);
    // 30 SOL × 0.15 = 4.5 USDC.
    expect(paid).toBe(4_500_000n);
    // Both sides round against themselves (up): what longs pay covers what shorts get, within 1 uusdc per position.
    expect(paid - received).toBeGreaterThanOrEqual(0n);
    expect(paid - received).toBeLessThanOrEqual(2n);
    expect(solvency(c).holds).toBe(true);
  });
});

describe("clearing params", () => {
  it("the authority sets max_orders_per_block; orders beyond it in a block are refused (clearing/15) and the next block takes them", async () => {
    const c = await chain();
    const [validator, alice, bob] = c.accounts;
    c.block([[alice, [deposit(alice.address, "100000000000")]], [bob, [deposit(bob.address, "100000000000")]]]);
    const upd = (who: TestAccount, maxOrdersPerBlock: number) => msg("/backstop.clearing.v1.MsgUpdateParams", ClTx.MsgUpdateParams, { authority: who.address, params: { maxOrdersPerBlock, maxOrdersPerAccountPerBlock: 0 } });
    const [notAuthority] = c.block([[alice, [upd(alice, 3)]]]);
    expect([notAuthority.codespace, notAuthority.code]).toEqual(["sdk", 4]);
    const zero = c.check(validator, [upd(validator, 0)]);
    expect([zero.codespace, zero.code]).toEqual(["clearing", 16]);
    expect(c.block([[validator, [upd(validator, 3)]]]).map((r) => r.code)).toEqual([0]);
    expect(c.query("/backstop.clearing.v1.Query/Params", ClQ.QueryParamsRequest, ClQ.QueryParamsResponse, {}).params).toEqual({ maxOrdersPerBlock: 3, maxOrdersPerAccountPerBlock: 0 });
    const bids = (n: number) => Array.from({ length: n }, (_, i): [TestAccount, ReturnType<typeof msg>[]] => [i % 2 ? bob : alice, [order((i % 2 ? bob : alice).address, "BTC-USD", "buy", "0.001", String(50_000 + i))]]);
    const r = c.block(bids(5));
    expect(r.map((x) => [x.codespace, x.code])).toEqual([["", 0], ["", 0], ["", 0], ["clearing", 15], ["clearing", 15]]);
    const open = () => c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: alice.address }).orders.length + c.query("/backstop.clearing.v1.Query/Orders", ClQ.QueryOrdersRequest, ClQ.QueryOrdersResponse, { address: bob.address }).orders.length;
    expect(open()).toBe(3);
    expect(c.block(bids(2)).map((x) => x.code)).toEqual([0, 0]);
    expect(open()).toBe(5);
  });
});
