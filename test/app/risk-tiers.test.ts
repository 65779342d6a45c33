/**
 * Risk tiers (SPEC §3.3: margin ratios rise with a position's notional) through the real
 * application, on the localnet's BTC-USD tiers: base 5% / 3%; above 5,000,000 USD of
 * entry notional 7.5% / 4.5%; above 20,000,000 USD 10% / 6%. Figures worked by hand.
 */
import { chain, msg } from "../util/chain";
import { Dec } from "../../chain/math/decimal";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as ClQ from "../../client/src/generated/backstop/clearing/v1/query";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import * as MarginQ from "../../client/src/generated/backstop/margin/v1/query";
import * as InsQ from "../../client/src/generated/backstop/insurance/v1/query";
import * as OracleTx from "../../client/src/generated/backstop/oracle/v1/tx";
import { Side, TimeInForce } from "../../client/src/generated/backstop/clearing/v1/clearing";

const USDC = 1_000_000n;
const d = (s: string) => Dec.parse(s).toString();
const deposit = (owner: string, amount: bigint) => msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner, amount: { denom: "uusdc", amount: amount.toString() } });
const addMargin = (owner: string, amount: bigint) => msg("/backstop.margin.v1.MsgAddPositionMargin", MarginTx.MsgAddPositionMargin, { owner, marketId: "BTC-USD", amount: { denom: "uusdc", amount: amount.toString() } });
const order = (owner: string, side: "buy" | "sell", quantity: string, price: string) =>
  msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, { owner, marketId: "BTC-USD", side: side === "buy" ? Side.SIDE_BUY : Side.SIDE_SELL, price, quantity, timeInForce: TimeInForce.TIME_IN_FORCE_GTC });

describe("risk tiers", () => {
  it("a large position pays its tier's IMR and is liquidated at its tier's MMR; new tiers move positions between the liquidation indexes", async () => {
    const c = await chain();
    const [validator, alice, bob, carol, , , , , oracle1] = c.accounts;
    const position = (addr: string) => c.query("/backstop.margin.v1.Query/Position", MarginQ.QueryPositionRequest, MarginQ.QueryPositionResponse, { address: addr, marketId: "BTC-USD" }).position!;
    const liquidationOrders = () => c.lastEvents("backstop.clearing.v1.EventOrderPlaced").filter((e) => e.order.is_liquidation).map((e) => e.order.owner);
    c.block([alice, bob, carol].map((a) => [a, [deposit(a.address, 5_000_000n * USDC)]]));
    // Alice buys 100 BTC (6,000,000 USD: tier 1), bob 10 (600,000: base), carol sells 110 (6,600,000: tier 1).
    const opened = c.block([
      [alice, [order(alice.address, "buy", "100", "60000")]],
      [bob, [order(bob.address, "buy", "10", "60000")]],
      [carol, [order(carol.address, "sell", "110", "60000")]],
    ]);
    expect(opened.map((r) => r.log)).toEqual(["", "", ""]);
    expect(position(alice.address).position).toMatchObject({ size: d("100"), marginUusdc: (450_000n * USDC).toString() }); // 7.5%
    expect(position(bob.address).position).toMatchObject({ size: d("10"), marginUusdc: (30_000n * USDC).toString() }); // 5%
    expect(position(carol.address).position).toMatchObject({ size: d("-110"), marginUusdc: (495_000n * USDC).toString() }); // 7.5%
    expect(position(alice.address)).toMatchObject({ imr: d("0.075"), mmr: d("0.045") });
    expect(position(bob.address)).toMatchObject({ imr: d("0.05"), mmr: d("0.03") });

    // Bob tops up to the same 7.5% as alice: 45,000 on 600,000.
    c.block([[bob, [addMargin(bob.address, 15_000n * USDC)]]]);
    // BTC to 57,500. Alice: E = 450,000 − 100 × 2,500 = 200,000 < MM 100 × 57,500 × 4.5% = 258,750: liquidated.
    // Bob: E = 45,000 − 25,000 = 20,000 ≥ MM 10 × 57,500 × 3% = 17,250: not, at the same margin ratio.
    c.block([[oracle1, [msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: oracle1.address, ticker: "BTC-USD", price: "57500" })]]]);
    expect(liquidationOrders()).toEqual([alice.address]);
    expect(position(alice.address)).toMatchObject({ liquidatable: true, equityUusdc: (200_000n * USDC).toString() });
    expect(position(bob.address)).toMatchObject({ liquidatable: false, equityUusdc: (20_000n * USDC).toString() });
    const required = () => c.query("/backstop.insurance.v1.Query/Pool", InsQ.QueryPoolRequest, InsQ.QueryPoolResponse, { poolId: "majors" }).pool!.requiredCapitalUusdc;
    const before = required();
    expect(BigInt(before)).toBeGreaterThan(0n);

    // The authority puts every position above 500,000 USD into a 4.5% MMR tier: bob's position moves
    // to the tier's liquidation index, and the next block finds it (MM 25,875 > E 20,000).
    const btc = c.query("/backstop.clearing.v1.Query/Market", ClQ.QueryMarketRequest, ClQ.QueryMarketResponse, { marketId: "BTC-USD" }).market!;
    const tiers = [{ notionalUusdc: (500_000n * USDC).toString(), imr: "0.075", mmr: "0.045" }];
    const upd = c.block([[validator, [msg("/backstop.clearing.v1.MsgUpdateMarket", ClTx.MsgUpdateMarket, { authority: validator.address, market: { ...btc, riskTiers: tiers } })]]]);
    expect(upd[0].code).toBe(0);
    expect(liquidationOrders()).toEqual(expect.arrayContaining([alice.address, bob.address]));
    // (The 4% move raised σ a little above its target, so every ratio now carries a multiplier just above 1.)
    const r = position(bob.address);
    expect(r.liquidatable).toBe(true);
    expect(Dec.parse(r.mmr).gte(Dec.parse("0.045"))).toBe(true);
    // The coverage index followed the move (a position lost from it would lower the stressed deficit).
    expect(required()).toBe(before);
    expect(c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {}).holds).toBe(true);
  });

  it("tiers must ascend, with MMR below IMR and ratios that never fall: bad tiers are refused (clearing/3) and change nothing", async () => {
    const c = await chain();
    const validator = c.accounts[0];
    c.block([]);
    const btc = c.query("/backstop.clearing.v1.Query/Market", ClQ.QueryMarketRequest, ClQ.QueryMarketResponse, { marketId: "BTC-USD" }).market!;
    const update = (riskTiers: { notionalUusdc: string; imr: string; mmr: string }[]) =>
      c.block([[validator, [msg("/backstop.clearing.v1.MsgUpdateMarket", ClTx.MsgUpdateMarket, { authority: validator.address, market: { ...btc, riskTiers } })]]])[0];
    for (const bad of [
      [{ notionalUusdc: "2000", imr: "0.1", mmr: "0.06" }, { notionalUusdc: "1000", imr: "0.2", mmr: "0.1" }], // thresholds descend
      [{ notionalUusdc: "1000", imr: "0.06", mmr: "0.06" }], // MMR not below IMR
      [{ notionalUusdc: "1000", imr: "0.04", mmr: "0.02" }], // below the base ratios
      [{ notionalUusdc: "-5", imr: "0.1", mmr: "0.06" }],
    ]) {
      const r = update(bad);
      expect([r.codespace, r.code]).toEqual(["clearing", 3]);
    }
    expect(c.query("/backstop.clearing.v1.Query/Market", ClQ.QueryMarketRequest, ClQ.QueryMarketResponse, { marketId: "BTC-USD" }).market!.riskTiers).toEqual(btc.riskTiers);
  });
});
