/**
 * Red-team findings: attacks replayed through the real application (signed txs, block by
 * block), each asserting what the rules of docs/SOUNDNESS.md promise. A failing test here is
 * a finding; a passing one is an attack the rules stop (coverage beyond attacks.test.ts).
 */
import { TestAccount } from "../util/localnet";
import { Any } from "cosmjs-types/google/protobuf/any";
import { Dec } from "../../chain/math/decimal";
import { attackChain, Guard, M, mark, notional, Q, toStep, USDC } from "../util/attack";

const SOL = "SOL-USD";

const big = (s: string | undefined) => (!s ? 0n : BigInt(s));

/** The open-interest cap in force for a market (uusdc): min(absolute, ratio × the pool's net assets). */
function oiCap(c: Guard["c"], marketId: string): bigint {
  const m = Q.market(c, marketId).market!;
  const pool = Q.pool(c, m.insurancePoolId);
  let cap = big(m.maxOpenInterestUusdc);
  const ratio = m.maxOiToPool ? Dec.parse(m.maxOiToPool) : Dec.ZERO;
  if (ratio.isPositive()) {
    const rel = ratio.mulIntToInt(big(pool.netAssetsUusdc), "floor");
    if (cap === 0n || rel < cap) cap = rel;
  }
  return cap;
}

describe("red team", () => {
  // --- F1: stacked reduce-only orders flip a position past every cap, with no margin --------------
  it("F1: reduce-only orders never open new exposure (stacked reduce-only orders must not flip a position beyond the position cap, the OI cap, or without initial margin)", async () => {
    const c = await attackChain();
    const g = new Guard(c);
    const [, alice, bob] = c.accounts;
    const market = Q.market(c, SOL).market!;
    const posCap = big(market.maxPositionNotionalUusdc);
    const size = Dec.parse("30000"); // 4.5M USD at 150: within the 5M position cap
    g.block([
      [alice, [M.deposit(alice, 2_000_000n * USDC)]],
      [bob, [M.deposit(bob, 2_000_000n * USDC)]],
    ]);
    g.block([
      [alice, [M.order(alice, SOL, "buy", size, "150")]],
      [bob, [M.order(bob, SOL, "sell", size, "150")]],
    ]);
    expect(Q.position(c, alice.address, SOL)!.position!.size).toBe(size.toString());
    // Keep only what the reduce-only orders' fee reservations need.
    g.block([
      [alice, [M.withdraw(alice, c.free(alice.address) - 50_000n * USDC)]],
      [bob, [M.withdraw(bob, c.free(bob.address) - 50_000n * USDC)]],
    ]);
    // Four reduce-only orders each, every one within the position it reduces: together 4× it.
    const k = 4;
    const rs = g.block([
      [alice, Array.from({ length: k }, () => M.order(alice, SOL, "sell", size, "150", { reduceOnly: true }))],
      [bob, Array.from({ length: k }, () => M.order(bob, SOL, "buy", size, "150", { reduceOnly: true }))],
    ]);
    expect(rs.map((r) => r.code)).toEqual([0, 0]);
    const p = Q.position(c, alice.address, SOL);
    const s = p ? Dec.parse(p.position!.size) : Dec.ZERO;
    const px = mark(c, SOL);
    const violations: string[] = [];
    if (s.isNegative()) violations.push(`alice's long ${size} became a short ${s} through reduce-only orders`);
    if (notional(s, px) > posCap) violations.push(`alice's position is ${notional(s, px) / USDC} USD of notional, beyond the position cap ${posCap / USDC} USD`);
    const oi = notional(Dec.parse(Q.solvency(c).markets.find((m) => m.marketId === SOL)!.longSize), px);
    if (oi > oiCap(c, SOL)) violations.push(`open interest ${oi / USDC} USD is beyond the OI cap ${oiCap(c, SOL) / USDC} USD`);
    if (p && big(p.position!.marginUusdc) < big(p.initialRequirementUusdc)) violations.push(`alice's margin ${big(p.position!.marginUusdc) / USDC} USD is below the initial requirement ${big(p.initialRequirementUusdc) / USDC} USD`);
    expect(violations).toEqual([]);
    expect(g.violations).toEqual([]);
  });

  // --- F2: resting orders that cannot fill exhaust the open-interest cap's pending counters ---------
  it("F2: orders resting far outside the price band do not lock honest traders out of a market (OI cap griefing)", async () => {
    const c = await attackChain();
    const g = new Guard(c);
    const [, alice, bob, carol, dave, lp1, lp2, liquidator] = c.accounts;
    const market = Q.market(c, SOL).market!;
    const step = Dec.parse(market.stepSize);
    const px = mark(c, SOL);
    // The cap in base units at the mark, less a margin for rounding.
    const capSize = toStep(Dec.ratio(oiCap(c, SOL), USDC, "floor").div(px, "floor"), step).sub(Dec.parse("10"));
    const griefers = [carol, dave, liquidator, lp1, lp2]; // split so that each stays within the position cap
    const each = toStep(capSize.divInt(BigInt(griefers.length), "floor"), step);
    g.block(griefers.map((a) => [a, [M.deposit(a, 2_000_000n * USDC)]] as [TestAccount, Any[]]));
    // Each griefer: a bid at 1 USD (reserves ~nothing) and an ask at 2× the mark; neither can fill.
    const placed = g.block(griefers.map((a) => [a, [M.order(a, SOL, "buy", each, "1"), M.order(a, SOL, "sell", each, px.mulInt(2n).toString())]] as [TestAccount, Any[]]));
    expect(placed.map((r) => r.code)).toEqual(griefers.map(() => 0));
    const reserved = griefers.reduce((s, a) => s + Q.orders(c, a.address).reduce((t, o) => t + big(o.reservedUusdc), 0n), 0n);
    // Honest traders now want to trade 100 SOL with each other at the mark.
    g.block([
      [alice, [M.deposit(alice, 100_000n * USDC)]],
      [bob, [M.deposit(bob, 100_000n * USDC)]],
    ]);
    const honest = g.block([
      [alice, [M.order(alice, SOL, "buy", "100", px)]],
      [bob, [M.order(bob, SOL, "sell", "100", px)]],
    ]);
    const codes = honest.map((r) => (r.code === 0 ? "ok" : `${r.codespace}/${r.code}`));
    expect({ codes, griefersReservedUsd: Number(reserved / USDC), honestFilled: Q.position(c, alice.address, SOL)?.position?.size ?? "0" }).toEqual({ codes: ["ok", "ok"], griefersReservedUsd: Number(reserved / USDC), honestFilled: "100.000000000000000000" });
    expect(g.violations).toEqual([]);
  });

  // --- F3: MsgBidLiquidation adds exposure beyond the per-account position cap ----------------------
  it("F3: a liquidation bid may take the bidder past the position cap (liquidating is never blocked by a cap), margined at the IMR of the risk tier it reaches", async () => {
    const c = await attackChain();
    const g = new Guard(c);
    const [, alice, bob, carol, dave] = c.accounts;
    const market = Q.market(c, SOL).market!;
    const posCap = big(market.maxPositionNotionalUusdc);
    g.block([
      [alice, [M.deposit(alice, 5_000_000n * USDC)]],
      [bob, [M.deposit(bob, 5_000_000n * USDC)]],
      [carol, [M.deposit(carol, 1_000_000n * USDC)]],
      [dave, [M.deposit(dave, 5_000_000n * USDC)]],
    ]);
    // alice: a long just under the cap (well margined); carol: 10,000 SOL long on initial margin.
    g.block([
      [alice, [M.order(alice, SOL, "buy", "30000", "150")]],
      [bob, [M.order(bob, SOL, "sell", "30000", "150")]],
    ]);
    g.block([
      [carol, [M.order(carol, SOL, "buy", "10000", "150")]],
      [dave, [M.order(dave, SOL, "sell", "10000", "150")]],
    ]);
    expect(Q.position(c, alice.address, SOL)?.position?.size).toBe("30000.000000000000000000");
    expect(Q.position(c, carol.address, SOL)?.position?.size).toBe("10000.000000000000000000");
    // carol keeps nothing free; alice adds margin so that she is not the one liquidated.
    g.block([
      [alice, [M.addMargin(alice, SOL, 2_000_000n * USDC)]],
      [carol, [M.withdraw(carol, c.free(carol.address))]],
    ]);
    // SOL to just under carol's liquidation price: nobody bids in the book, so her auction starts.
    const tick = Dec.parse(market.tickSize);
    const liq = Dec.parse(Q.position(c, carol.address, SOL)!.liquidationPrice);
    const push = Dec.fromRaw(liq.raw - (liq.raw % tick.raw)).sub(tick.mulInt(1000n));
    g.push({ [SOL]: push });
    let a;
    for (let i = 0; i < 10 && !a; i++) {
      a = Q.auctions(c).find((x) => x.owner === carol.address && x.startPrice !== "");
      if (!a) g.block([]);
    }
    expect(a).toBeDefined();
    const left = Dec.parse(Q.position(c, carol.address, SOL)!.position!.size).abs();
    const margin0 = big(Q.position(c, alice.address, SOL)!.position!.marginUusdc);
    const [r] = g.block([[alice, [M.bid(alice, carol.address, SOL, left, mark(c, SOL))]]]);
    expect(r.code).toBe(0);
    // SPEC §3.3: "reducing, liquidating and taking over are never blocked by a cap": the liquidator
    // passes the position cap by bidding, and what it takes is margined at the IMR of the risk tier
    // its position reaches (tier 2 of SOL, 20%), so its equity meets the tier's initial requirement.
    const s = Dec.parse(Q.position(c, alice.address, SOL)!.position!.size);
    expect(notional(s, mark(c, SOL)) > posCap).toBe(true);
    const risk = Q.position(c, alice.address, SOL)!;
    expect(Dec.parse(risk.imr).gte(Dec.parse("0.2"))).toBe(true);
    const bid = c.lastEvents("backstop.clearing.v1.EventLiquidation").find((e) => e.liquidation.owner === carol.address)!.liquidation;
    const price = Dec.parse(bid.price);
    // At least the tier's base 20% of what it took (the volatility multiplier may add to it).
    expect(big(risk.position!.marginUusdc) - margin0 >= notional(left, price) / 5n).toBe(true);
    expect(g.violations).toEqual([]);
  });

  // --- passing: what the rules stop ---------------------------------------------------------------
  it("P1 (stopped): the open-interest pending counters follow self-trade cancellations, partial fills, cancels and liquidation cancellations back to zero; the end-block never throws", async () => {
    const c = await attackChain();
    const g = new Guard(c);
    const [, alice, bob] = c.accounts;
    const pending = () => {
      const m = Q.market(c, SOL);
      return { buy: Dec.parse(m.pendingBuy || "0").toString(), sell: Dec.parse(m.pendingSell || "0").toString() };
    };
    const d = (x: string) => Dec.parse(x).toString();
    g.block([
      [alice, [M.deposit(alice, 20_000n * USDC)]],
      [bob, [M.deposit(bob, 20_000n * USDC)]],
    ]);
    // alice's newer sell crosses her own bid: cancelled by self-trade prevention; bob fills 40 of her 100.
    const r = g.block([
      [alice, [M.order(alice, SOL, "buy", "100", "150"), M.order(alice, SOL, "sell", "50", "149")]],
      [bob, [M.order(bob, SOL, "sell", "40", "150")]],
    ]);
    expect(r.map((x) => x.code)).toEqual([0, 0]);
    expect(c.lastEvents("backstop.clearing.v1.EventOrderCancelled").some((e) => String(e.reason).startsWith("self-trade prevention"))).toBe(true);
    expect(Q.position(c, alice.address, SOL)!.position!.size).toBe(d("40"));
    expect(pending()).toEqual({ buy: d("60"), sell: d("0") });
    // Cancel the rest; then a resting bid far below, and a reduce-only sell (not counted).
    const live = Q.orders(c, alice.address);
    g.block([[alice, live.map((o) => M.cancel(alice, SOL, o.id))]]);
    expect(pending()).toEqual({ buy: d("0"), sell: d("0") });
    g.block([[alice, [M.order(alice, SOL, "buy", "30", "100"), M.order(alice, SOL, "sell", "40", "200", { reduceOnly: true })]]]);
    expect(pending()).toEqual({ buy: d("30"), sell: d("0") });
    // SOL falls through alice's liquidation price: her orders are cancelled for the liquidation.
    const liq = Dec.parse(Q.position(c, alice.address, SOL)!.liquidationPrice);
    g.push({ [SOL]: Dec.fromRaw(liq.raw - (liq.raw % Dec.parse("0.001").raw)).sub(Dec.parse("1")) });
    expect(c.lastEvents("backstop.clearing.v1.EventOrderCancelled").filter((e) => e.reason === "liquidation").length).toBe(2);
    for (let i = 0; i < 3; i++) g.block([]);
    expect(pending()).toEqual({ buy: d("0"), sell: d("0") });
    expect(Q.orders(c, alice.address).filter((o) => !o.isLiquidation)).toEqual([]);
    expect(g.violations).toEqual([]);
  });

  it("P2 (stopped): a closing order priced beyond its bankruptcy price is refused (clearing/20), so two colluders cannot cross off the mark to have the pool pay one of them", async () => {
    const c = await attackChain();
    const g = new Guard(c);
    const [, alice, bob] = c.accounts;
    g.block([
      [alice, [M.deposit(alice, 200_000n * USDC)]],
      [bob, [M.deposit(bob, 200_000n * USDC)]],
    ]);
    g.block([
      [alice, [M.order(alice, SOL, "buy", "1000", "150")]],
      [bob, [M.order(bob, SOL, "sell", "1000", "150")]],
    ]);
    const bk = Dec.parse(Q.position(c, alice.address, SOL)!.bankruptcyPrice);
    const below = Dec.fromRaw(bk.raw - (bk.raw % Dec.parse("0.001").raw)).sub(Dec.parse("0.5"));
    const paid0 = c.allEvents("backstop.insurance.v1.EventDeficitCovered").length;
    const [sell, buy] = g.block([
      [alice, [M.order(alice, SOL, "sell", "1000", below, { reduceOnly: true })]],
      [bob, [M.order(bob, SOL, "buy", "1000", below, { reduceOnly: true })]],
    ]);
    expect([sell.codespace, sell.code]).toEqual(["clearing", 20]);
    expect(buy.code).toBe(0);
    expect(c.allEvents("backstop.insurance.v1.EventDeficitCovered").length).toBe(paid0);
    expect(g.violations).toEqual([]);
  });
});
