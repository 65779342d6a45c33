/**
 * x/oracle and x/margin through the real application: signed transactions in blocks,
 * queries through ABCI Query, registered errors that change nothing.
 */
import { TestAccount } from "../util/localnet";
import { chain, msg } from "../util/chain";
import { Dec } from "../../chain/math/decimal";
import * as OracleTx from "../../client/src/generated/backstop/oracle/v1/tx";
import * as OracleQ from "../../client/src/generated/backstop/oracle/v1/query";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import * as MarginQ from "../../client/src/generated/backstop/margin/v1/query";
import * as ClearingQ from "../../client/src/generated/backstop/clearing/v1/query";
import { TxMsgData } from "cosmjs-types/cosmos/base/abci/v1beta1/abci";

/** The canonical (18-place) string of a decimal. */
const d = (s: string) => Dec.parse(s).toString();

const submit = (feeder: string, ticker: string, price: string) => msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder, ticker, price });
const deposit = (owner: string, amount: string, denom = "uusdc") => msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner, amount: { denom, amount } });
const withdraw = (owner: string, amount: string) => msg("/backstop.margin.v1.MsgWithdraw", MarginTx.MsgWithdraw, { owner, amount: { denom: "uusdc", amount } });
const addMargin = (owner: string, marketId: string, amount: string) => msg("/backstop.margin.v1.MsgAddPositionMargin", MarginTx.MsgAddPositionMargin, { owner, marketId, amount: { denom: "uusdc", amount } });
const removeMargin = (owner: string, marketId: string, amount: string) => msg("/backstop.margin.v1.MsgRemovePositionMargin", MarginTx.MsgRemovePositionMargin, { owner, marketId, amount: { denom: "uusdc", amount } });


describe("oracle", () => {
  it("localnet genesis: three markets with their prices, feeders oracle1 and oracle2", async () => {
    const c = await chain();
    c.block([]);
    expect(c.price("BTC-USD").price?.price).toBe(d("60000"));
    expect(c.price("ETH-USD").price?.price).toBe(d("3000"));
    expect(c.price("SOL-USD").price?.price).toBe(d("150"));
    const markets = c.query("/backstop.clearing.v1.Query/Markets", ClearingQ.QueryMarketsRequest, ClearingQ.QueryMarketsResponse, {}).markets;
    expect(markets.map((m) => [m.id, m.insurancePoolId, m.imrBase, m.mmrBase])).toEqual([
      ["BTC-USD", "majors", "0.05", "0.03"],
      ["ETH-USD", "majors", "0.05", "0.03"],
      ["SOL-USD", "alts", "0.1", "0.05"],
    ]);
    const feeders = c.query("/backstop.oracle.v1.Query/Feeders", OracleQ.QueryFeedersRequest, OracleQ.QueryFeedersResponse, {}).feeders;
    expect(feeders).toEqual([c.accounts[8].address, c.accounts[9].address].sort());
  });

  it("takes the median of distinct feeders, rejects an unauthorised feeder, and the authority alone changes feeders", async () => {
    const c = await chain();
    const [validator, alice, , , , , , liquidator, o1, o2] = c.accounts;
    // Only the authority may change params.
    const newParams = { feeders: [o1.address, o2.address, liquidator.address], minFeeders: 2, maxStalenessSeconds: 60n, ewmaLambda: "0.94", historyLength: 100, maxDeviation: "0.1" };
    const upd = (who: TestAccount) => msg("/backstop.oracle.v1.MsgUpdateParams", OracleTx.MsgUpdateParams, { authority: who.address, params: newParams });
    const [bad] = c.block([[alice, [upd(alice)]]]);
    expect([bad.codespace, bad.code]).toEqual(["sdk", 4]);
    const [ok] = c.block([[validator, [upd(validator)]]]);
    expect(ok.code).toBe(0);

    // Three feeders in one block: the median wins.
    const r = c.block([
      [o1, [submit(o1.address, "BTC-USD", "61000")]],
      [o2, [submit(o2.address, "BTC-USD", "61200")]],
      [liquidator, [submit(liquidator.address, "BTC-USD", "60900")]],
    ]);
    expect(r.map((x) => x.code)).toEqual([0, 0, 0]);
    expect(c.price("BTC-USD").price).toMatchObject({ price: d("61000"), numFeeders: 3 });

    // One feeder alone is below the quorum of 2: the price stays.
    c.block([[o1, [submit(o1.address, "ETH-USD", "3500")]]]);
    expect(c.price("ETH-USD").price?.price).toBe(d("3000"));

    // Alice is not a feeder: oracle/3 at CheckTx and at delivery, and nothing changes.
    const chk = c.check(alice, [submit(alice.address, "BTC-USD", "1")]);
    expect([chk.codespace, chk.code]).toEqual(["oracle", 3]);
    const [rej] = c.block([[alice, [submit(alice.address, "BTC-USD", "1")]]]);
    expect([rej.codespace, rej.code]).toEqual(["oracle", 3]);
    expect(c.price("BTC-USD").price?.price).toBe(d("61000"));
  });

  it("rejects bad submissions with registered errors", async () => {
    const c = await chain();
    const o1 = c.accounts[8];
    const cases: [string, string, string, number][] = [
      ["BTC-USD", "0", "oracle", 4],
      ["BTC-USD", "-5", "oracle", 4],
      ["BTC-USD", "abc", "oracle", 4],
      ["BTC-USD", "1e5", "oracle", 4],
      ["BTC-USD", "0.0000000000000000001", "oracle", 4],
      ["BTC-USD", "99999999999999999999", "oracle", 4],
      ["DOGE-USD", "1", "oracle", 2],
    ];
    for (const [ticker, price, codespace, code] of cases) {
      const r = c.check(o1, [submit(o1.address, ticker, price)]);
      expect({ ticker, price, codespace: r.codespace, code: r.code }).toEqual({ ticker, price, codespace, code });
    }
  });

  it("σ rises after a burst of large moves and decays after calm", async () => {
    const c = await chain();
    const o1 = c.accounts[8];
    c.block([]);
    const calm0 = c.sigma("SOL-USD");
    const burst = ["165", "140", "170", "135", "160"];
    for (const p of burst) c.block([[o1, [submit(o1.address, "SOL-USD", p)]]]);
    const high = c.sigma("SOL-USD");
    expect(high.gt(Dec.parse("0.05"))).toBe(true);
    expect(high.gt(calm0)).toBe(true);
    for (let i = 0; i < 30; i++) c.block([[o1, [submit(o1.address, "SOL-USD", "160")]]]);
    const after = c.sigma("SOL-USD");
    expect(after.lt(high.mulInt(1n).div(Dec.fromInt(2n), "floor"))).toBe(true);
    // The margin multiplier follows σ: SOL's IMR rose above its base 10% during the burst.
    const risk = c.query("/backstop.margin.v1.Query/MarketRisk", MarginQ.QueryMarketRiskRequest, MarginQ.QueryMarketRiskResponse, { marketId: "SOL-USD" }).risk!;
    expect(Dec.parse(risk.multiplier).gte(Dec.ONE)).toBe(true);
    const history = c.query("/backstop.oracle.v1.Query/PriceHistory", OracleQ.QueryPriceHistoryRequest, OracleQ.QueryPriceHistoryResponse, { ticker: "SOL-USD", pagination: { limit: 3n, reverse: true } as any });
    expect(history.prices.map((p) => p.price)).toEqual([d("160"), d("160"), d("160")]);
    expect(history.pagination?.nextKey.length).toBe(8);
  });
});

describe("margin", () => {
  it("the authority changes margin params, but never the collateral denom away from uusdc (SPEC §2)", async () => {
    const c = await chain();
    const validator = c.accounts[0];
    const upd = (collateralDenom: string) => msg("/backstop.margin.v1.MsgUpdateParams", MarginTx.MsgUpdateParams, { authority: validator.address, params: { collateralDenom, maxMmrStepPerBlock: "0.002" } });
    const bad = c.check(validator, [upd("ustake")]);
    expect([bad.codespace, bad.code]).toEqual(["margin", 7]);
    expect(bad.log).toMatch(/collateral denom must be uusdc, got "ustake"/);
    const [ok] = c.block([[validator, [upd("uusdc")]]]);
    expect(ok.code).toBe(0);
    const params = c.query("/backstop.margin.v1.Query/Params", MarginQ.QueryParamsRequest, MarginQ.QueryParamsResponse, {}).params;
    expect(params).toEqual({ collateralDenom: "uusdc", maxMmrStepPerBlock: "0.002" });
  });

  it("deposits and withdraws free collateral between bank and the module account", async () => {
    const c = await chain();
    const alice = c.accounts[1];
    c.block([]);
    const bank0 = c.balance(alice.address);
    const [d] = c.block([[alice, [deposit(alice.address, "5000000000")]]]);
    expect(d.code).toBe(0);
    expect(MarginTx.MsgDepositResponse.decode(TxMsgData.decode(d.data).msgResponses[0].value).freeCollateralUusdc).toBe("5000000000");
    expect(c.free(alice.address)).toBe(5_000_000_000n);
    const fee = (bank0 - c.balance(alice.address)) - 5_000_000_000n;
    expect(fee).toBeGreaterThan(0n);
    const [w] = c.block([[alice, [withdraw(alice.address, "1000000000")]]]);
    expect(w.code).toBe(0);
    expect(c.free(alice.address)).toBe(4_000_000_000n);

    // More than free collateral: margin/2, and nothing moves but the fee.
    const before = c.balance(alice.address);
    const [over] = c.block([[alice, [withdraw(alice.address, "4000000001")]]]);
    expect([over.codespace, over.code]).toEqual(["margin", 2]);
    expect(c.free(alice.address)).toBe(4_000_000_000n);
    expect(before - c.balance(alice.address)).toBe(fee);
  });

  it("rejects zero, negative, malformed, wrong-denom amounts and unknown markets", async () => {
    const c = await chain();
    const alice = c.accounts[1];
    const expectErr = (r: { codespace: string; code: number }, codespace: string, code: number) => expect([r.codespace, r.code]).toEqual([codespace, code]);
    expectErr(c.check(alice, [deposit(alice.address, "0")]), "margin", 6);
    expectErr(c.check(alice, [deposit(alice.address, "-1")]), "margin", 6);
    expectErr(c.check(alice, [deposit(alice.address, "1.5")]), "margin", 6);
    expectErr(c.check(alice, [deposit(alice.address, "100", "ustake")]), "margin", 5);
    expectErr(c.check(alice, [withdraw(alice.address, "1")]), "margin", 2);
    expectErr(c.check(alice, [deposit(alice.address, "99999999999999999999")]), "sdk", 5);
    const [unknown] = c.block([[alice, [addMargin(alice.address, "DOGE-USD", "10")]]]);
    expectErr(unknown, "clearing", 2);
    const [noPos] = c.block([[alice, [addMargin(alice.address, "BTC-USD", "10")]]]);
    expectErr(noPos, "margin", 3);
    expect(c.free(alice.address)).toBe(0n);
  });

  describe("position margin", () => {
    // Alice holds 1 BTC long from 60,000 with 3,000 USDC of margin (5% IMR at 60,000).
    const withPosition = async () =>
      chain((s) => {
        const alice = s.auth.accounts[1].address;
        s.margin.positions = [{ owner: alice, market_id: "BTC-USD", size: "1", entry_price: "60000", margin_uusdc: "3000000000", funding_index_snapshot: "0", opened_height: "1" }];
      });

    it("adds and removes margin, never below the initial requirement", async () => {
      const c = await withPosition();
      const alice = c.accounts[1];
      c.block([[alice, [deposit(alice.address, "1000000000")]]]);
      const [add] = c.block([[alice, [addMargin(alice.address, "BTC-USD", "500000000")]]]);
      expect(add.code).toBe(0);
      expect(c.free(alice.address)).toBe(500_000_000n);
      const pos = () => c.query("/backstop.margin.v1.Query/Position", MarginQ.QueryPositionRequest, MarginQ.QueryPositionResponse, { address: alice.address, marketId: "BTC-USD" }).position!;
      expect(pos().position?.marginUusdc).toBe("3500000000");
      // Equity 3,500 USDC; initial requirement 3,000 USDC: 500 may go, 500.000001 may not.
      const [tooMuch] = c.block([[alice, [removeMargin(alice.address, "BTC-USD", "500000001")]]]);
      expect([tooMuch.codespace, tooMuch.code]).toEqual(["margin", 4]);
      expect(pos().position?.marginUusdc).toBe("3500000000");
      const [ok] = c.block([[alice, [removeMargin(alice.address, "BTC-USD", "500000000")]]]);
      expect(ok.code).toBe(0);
      expect(c.free(alice.address)).toBe(1_000_000_000n);
      const r = pos();
      expect(r).toMatchObject({ equityUusdc: "3000000000", initialRequirementUusdc: "3000000000", maintenanceRequirementUusdc: "1800000000", liquidatable: false, bankrupt: false });
      // Liquidation price of a 1 BTC long from 60,000 with 3,000 margin at MMR 3%: 57,000 / 0.97, rounded up.
      expect(r.liquidationPrice).toBe(Dec.parse("57000").div(Dec.parse("0.97"), "ceil").toString());
      expect(r.bankruptcyPrice).toBe(d("57000"));
    });

    it("a stale price blocks removing margin but never withdrawing free collateral", async () => {
      const c = await withPosition();
      const alice = c.accounts[1];
      c.block([[alice, [deposit(alice.address, "1000000000"), addMargin(alice.address, "BTC-USD", "500000000")]]]);
      // Jump past max_staleness (300 s) with no feeder submissions.
      c.block([], 400n);
      expect(c.price("BTC-USD").stale).toBe(true);
      const [stale] = c.block([[alice, [removeMargin(alice.address, "BTC-USD", "1")]]]);
      expect([stale.codespace, stale.code]).toEqual(["oracle", 6]);
      const [w] = c.block([[alice, [withdraw(alice.address, "500000000")]]]);
      expect(w.code).toBe(0);
      expect(c.free(alice.address)).toBe(0n);
      // A fresh submission makes the price usable again.
      const o1 = c.accounts[8];
      c.block([[o1, [submit(o1.address, "BTC-USD", "60000")]]]);
      expect(c.price("BTC-USD").stale).toBe(false);
      const [again] = c.block([[alice, [removeMargin(alice.address, "BTC-USD", "1")]]]);
      expect(again.code).toBe(0);
    });
  });
});
