/**
 * Insurance pools through the real application: LP deposits mint shares at NAV,
 * withdrawals escrow shares and pay out automatically after the cooldown, cancel
 * returns the shares, and every uusdc and share is accounted for.
 */
import { Chain, chain, emptyPools, msg } from "../util/chain";
import { LOCALNET_POOL_SEED } from "../../chain/app/genesis";
import * as InsTx from "../../client/src/generated/backstop/insurance/v1/tx";
import * as InsQ from "../../client/src/generated/backstop/insurance/v1/query";
import { moduleAddress } from "../../chain/crypto/keys";
import { QuerySupplyOfRequest, QuerySupplyOfResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";
import { TxMsgData } from "cosmjs-types/cosmos/base/abci/v1beta1/abci";

const deposit = (depositor: string, poolId: string, amount: string) => msg("/backstop.insurance.v1.MsgDeposit", InsTx.MsgDeposit, { depositor, poolId, amount: { denom: "uusdc", amount } });
const request = (owner: string, poolId: string, shares: string) => msg("/backstop.insurance.v1.MsgRequestWithdrawal", InsTx.MsgRequestWithdrawal, { owner, poolId, shares });
const cancel = (owner: string, withdrawalId: bigint) => msg("/backstop.insurance.v1.MsgCancelWithdrawal", InsTx.MsgCancelWithdrawal, { owner, withdrawalId });

const pool = (c: Chain, poolId: string) => c.query("/backstop.insurance.v1.Query/Pool", InsQ.QueryPoolRequest, InsQ.QueryPoolResponse, { poolId });
const supply = (c: Chain, denom: string) => {
  const r = c.app.query({ path: "/cosmos.bank.v1beta1.Query/SupplyOf", data: QuerySupplyOfRequest.encode({ denom }).finish(), height: 0n, prove: false });
  return BigInt(QuerySupplyOfResponse.decode(r.value).amount!.amount);
};

/** Σ pool balances = the insurance module's uusdc; share supply = LP shares + escrowed + locked. */
function expectBooksBalance(c: Chain, lps: string[]) {
  const pools = c.query("/backstop.insurance.v1.Query/Pools", InsQ.QueryPoolsRequest, InsQ.QueryPoolsResponse, {}).pools;
  const moduleAddr = moduleAddress("insurance");
  expect(pools.reduce((s, p) => s + BigInt(p.balanceUusdc), 0n)).toBe(c.balance(moduleAddr));
  for (const p of pools) {
    const lpShares = lps.reduce((s, a) => s + c.balance(a, p.shareDenom), 0n);
    expect(supply(c, p.shareDenom)).toBe(BigInt(p.totalShares));
    expect(lpShares + BigInt(p.escrowedShares) + BigInt(p.lockedShares)).toBe(BigInt(p.totalShares));
    expect(c.balance(moduleAddr, p.shareDenom)).toBe(BigInt(p.escrowedShares) + BigInt(p.lockedShares));
  }
}

describe("insurance pools", () => {
  it("localnet genesis has majors, alts and the reserve, seeded with protocol capital held by locked shares, coverage controls on", async () => {
    const c = await chain();
    c.block([]);
    const pools = c.query("/backstop.insurance.v1.Query/Pools", InsQ.QueryPoolsRequest, InsQ.QueryPoolsResponse, {}).pools;
    const seed = (id: string) => LOCALNET_POOL_SEED[id].toString();
    expect(pools.map((p) => [p.id, p.marketIds, p.isReserve, p.shareDenom, p.balanceUusdc, p.lockedShares, p.totalShares, p.preemptiveMargin, p.criticalCoverage])).toEqual([
      ["alts", ["SOL-USD"], false, "share/alts", seed("alts"), "1000000000", "1000000000", true, "0.25"],
      ["majors", ["BTC-USD", "ETH-USD"], false, "share/majors", seed("majors"), "1000000000", "1000000000", true, "0.25"],
      ["reserve", [], true, "share/reserve", seed("reserve"), "1000000000", "1000000000", false, "0"],
    ]);
    // The insurance module holds the seeds and the locked shares: the books balance with no LP.
    expectBooksBalance(c, []);
  });

  it("deposits mint shares at NAV with the locked minimum; NAV is unchanged by deposits", async () => {
    const c = await chain(emptyPools);
    const [, , , , , lp1, lp2] = c.accounts;
    const [d1] = c.block([[lp1, [deposit(lp1.address, "majors", "1000000000")]]]);
    expect(d1.code).toBe(0);
    const p1 = pool(c, "majors");
    // First deposit: 10^6 shares per uusdc, 10^9 of them locked to the module.
    expect(p1.pool).toMatchObject({ balanceUusdc: "1000000000", totalShares: "1000000000000000", lockedShares: "1000000000" });
    expect(c.balance(lp1.address, "share/majors")).toBe(1_000_000_000_000_000n - 1_000_000_000n);
    const nav1 = p1.nav;
    c.block([[lp2, [deposit(lp2.address, "majors", "333333333")]]]);
    const p2 = pool(c, "majors");
    expect(p2.nav).toBe(nav1);
    expect(c.balance(lp2.address, "share/majors")).toBe(333_333_333_000_000n);
    expectBooksBalance(c, [lp1.address, lp2.address]);
  });

  it("withdrawal escrows shares, pays at the first block after the cooldown, and cancel returns the shares", async () => {
    const c = await chain(emptyPools);
    const [, , , , , lp1, lp2] = c.accounts;
    c.block([
      [lp1, [deposit(lp1.address, "alts", "5000000000")]],
      [lp2, [deposit(lp2.address, "alts", "2000000000")]],
    ]);
    const sharesLp2 = c.balance(lp2.address, "share/alts");
    const bank0 = c.balance(lp2.address);
    const [req] = c.block([[lp2, [request(lp2.address, "alts", sharesLp2.toString())]]]);
    expect(req.code).toBe(0);
    const requestedAt = c.time;
    expect(c.balance(lp2.address, "share/alts")).toBe(0n);
    const w = c.query("/backstop.insurance.v1.Query/Withdrawals", InsQ.QueryWithdrawalsRequest, InsQ.QueryWithdrawalsResponse, { address: lp2.address }).withdrawals;
    expect(w).toHaveLength(1);
    expect(w[0].maturesUnixSeconds).toBe(requestedAt + 60n);
    expectBooksBalance(c, [lp1.address, lp2.address]);

    // Blocks every 20 s: not paid at +40 s, paid at +60 s.
    c.block([], 20n);
    c.block([], 20n);
    expect(pool(c, "alts").pool?.escrowedShares).toBe(sharesLp2.toString());
    const feePaid = bank0 - c.balance(lp2.address);
    c.block([], 20n);
    expect(c.time).toBe(requestedAt + 60n);
    expect(c.balance(lp2.address) + feePaid - bank0).toBe(2_000_000_000n);
    expect(pool(c, "alts").pool).toMatchObject({ escrowedShares: "0", balanceUusdc: "5000000000" });
    expect(c.query("/backstop.insurance.v1.Query/Withdrawals", InsQ.QueryWithdrawalsRequest, InsQ.QueryWithdrawalsResponse, { address: lp2.address }).withdrawals).toEqual([]);
    expectBooksBalance(c, [lp1.address, lp2.address]);

    // lp1 asks and cancels: the shares come back, nothing is paid.
    const shares1 = c.balance(lp1.address, "share/alts");
    const [r1] = c.block([[lp1, [request(lp1.address, "alts", "1000")]]]);
    const id = InsTx.MsgRequestWithdrawalResponse.decode(TxMsgData.decode(r1.data).msgResponses[0].value).withdrawalId;
    expect(c.balance(lp1.address, "share/alts")).toBe(shares1 - 1000n);
    const [cx] = c.block([[lp1, [cancel(lp1.address, id)]]]);
    expect(cx.code).toBe(0);
    expect(c.balance(lp1.address, "share/alts")).toBe(shares1);
    c.block([], 120n);
    expect(c.balance(lp1.address, "share/alts")).toBe(shares1);
    expect(pool(c, "alts").pool?.balanceUusdc).toBe("5000000000");
    expectBooksBalance(c, [lp1.address, lp2.address]);

    // LP position at NAV: lp1 holds 5·10^15 − 10^9 shares of 5·10^15 over 5,000,000,000 uusdc (the locked 10^9 are worth 1,000).
    const lp = c.query("/backstop.insurance.v1.Query/LpPosition", InsQ.QueryLpPositionRequest, InsQ.QueryLpPositionResponse, { address: lp1.address });
    expect(lp.shares).toEqual([{ poolId: "alts", shares: shares1.toString(), valueUusdc: "4999999000" }]);
  });

  it("bad input: unknown pool, too small, more shares than held, someone else's withdrawal — registered errors, no change", async () => {
    const c = await chain(emptyPools);
    const [, alice, bob, , , lp1] = c.accounts;
    c.block([[lp1, [deposit(lp1.address, "majors", "1000000000")]]]);
    const codes = (r: { codespace: string; code: number }) => [r.codespace, r.code];
    expect(codes(c.check(alice, [deposit(alice.address, "nope", "1000")]))).toEqual(["insurance", 2]);
    expect(codes(c.check(alice, [deposit(alice.address, "majors", "0")]))).toEqual(["insurance", 8]);
    expect(codes(c.check(alice, [msg("/backstop.insurance.v1.MsgDeposit", InsTx.MsgDeposit, { depositor: alice.address, poolId: "majors", amount: { denom: "ustake", amount: "5" } })]))).toEqual(["insurance", 8]);
    expect(codes(c.check(alice, [request(alice.address, "majors", "-3")]))).toEqual(["insurance", 8]);
    const [tooMany] = c.block([[alice, [request(alice.address, "majors", "1")]]]);
    expect(codes(tooMany)).toEqual(["insurance", 6]);
    c.block([[lp1, [request(lp1.address, "majors", "5")]]]);
    const [notYours] = c.block([[bob, [cancel(bob.address, 1n)]]]);
    expect(codes(notYours)).toEqual(["insurance", 7]);
    expect(pool(c, "majors").pool?.escrowedShares).toBe("5");
    const [empty] = c.block([[alice, [deposit(alice.address, "reserve", "1")]]]);
    expect(codes(empty)).toEqual(["insurance", 5]);
    expect(pool(c, "reserve").pool?.totalShares).toBe("0");
  });
});

describe("pools and markets created by the authority", () => {
  it("a new pool starts empty and without markets; a market must name an existing segment pool, which then lists it; neither link changes by update", async () => {
    const c = await chain(emptyPools);
    const validator = c.accounts[0];
    c.block([]);
    const ClTx = await import("../../client/src/generated/backstop/clearing/v1/tx");
    const ClQ = await import("../../client/src/generated/backstop/clearing/v1/query");
    const btc = c.query("/backstop.clearing.v1.Query/Market", ClQ.QueryMarketRequest, ClQ.QueryMarketResponse, { marketId: "BTC-USD" }).market!;
    const alts = pool(c, "alts").pool!;
    const createPool = (p: object) => msg("/backstop.insurance.v1.MsgCreatePool", InsTx.MsgCreatePool, { authority: validator.address, pool: { ...alts, id: "rwa", shareDenom: "share/rwa", marketIds: [], balanceUusdc: "0", totalShares: "0", escrowedShares: "0", lockedShares: "0", debtUusdc: "0", creditLines: [], requiredCapitalUusdc: "0", cover2Uusdc: "0", coverage: "", ...p } });
    const createMarket = (insurancePoolId: string, id = "XAU-USD") => msg("/backstop.clearing.v1.MsgCreateMarket", ClTx.MsgCreateMarket, { authority: validator.address, market: { ...btc, id, oracleTicker: id, insurancePoolId } });
    const refused = (m: ReturnType<typeof msg>) => {
      const [r] = c.block([[validator, [m]]]);
      return [r.codespace, r.code, r.log];
    };
    expect(refused(createPool({ marketIds: ["BTC-USD"] }))).toEqual(["insurance", 3, expect.stringMatching(/a new pool has no markets yet/)]);
    expect(refused(createPool({ balanceUusdc: "1000000" }))).toEqual(["insurance", 3, expect.stringMatching(/balance, shares, debt and drawn credit must be zero/)]);
    expect(refused(createMarket("nopool"))).toEqual(["insurance", 2, expect.stringMatching(/nopool/)]);
    expect(refused(createMarket("reserve"))).toEqual(["sdk", 18, expect.stringMatching(/not the reserve/)]);
    expect(c.app.query({ path: "/backstop.clearing.v1.Query/Market", data: ClQ.QueryMarketRequest.encode({ marketId: "XAU-USD" }).finish(), height: 0n, prove: false }).code).not.toBe(0);
    expect(refused(createPool({}))).toEqual(["", 0, expect.anything()]);
    expect(refused(createMarket("rwa"))).toEqual(["", 0, expect.anything()]);
    // The template's 60 s cooldown was given; a pool that gives none gets SPEC §3.7's production default, 7 days.
    expect(pool(c, "rwa").pool).toMatchObject({ marketIds: ["XAU-USD"], balanceUusdc: "0", totalShares: "0", withdrawalCooldownSeconds: 60n });
    expect(refused(createPool({ id: "weekly", shareDenom: "share/weekly", withdrawalCooldownSeconds: 0n }))).toEqual(["", 0, expect.anything()]);
    expect(pool(c, "weekly").pool?.withdrawalCooldownSeconds).toBe(604_800n);
    const rwa = pool(c, "rwa").pool!;
    expect(refused(msg("/backstop.insurance.v1.MsgUpdatePool", InsTx.MsgUpdatePool, { authority: validator.address, pool: { ...rwa, marketIds: [] } }))).toEqual(["insurance", 3, expect.stringMatching(/markets follow the markets that name it/)]);
    expect(refused(msg("/backstop.clearing.v1.MsgUpdateMarket", ClTx.MsgUpdateMarket, { authority: validator.address, market: { ...btc, insurancePoolId: "rwa" } }))).toEqual(["sdk", 18, expect.stringMatching(/insurance pool cannot change/)]);
  });
});
