/**
 * Coverage (SPEC §3.8). First, the O(log n) figures from the coverage index against a
 * brute-force pass over every position (fast-check, random books). The index follows the
 * store block by block — built at the first end-block, then updated from each block's
 * changes (positions opened, resized, re-margined, closed) — and at every block:
 *   - the stressed deficit equals Σ max(0, −E) over all positions computed from their
 *     liquidation keys, exactly, and is within n uusdc above the Σ computed from the
 *     exact equity of each position (the key rounds the margin term down);
 *   - the two largest single deficits equal the brute-force two largest (within 1 uusdc each);
 *   - the pool figures (required capital = worse direction, Cover-2) agree.
 * Then, through the application: the coverage controls (pre-emptive margin, reduce-only
 * below the critical level) switch on and lift as the pool is funded.
 */
import fc from "fast-check";
import { buildModules } from "../../chain/app/modules";
import { Context } from "../../chain/app/context";
import { EventManager } from "../../chain/app/events";
import { GasMeter } from "../../chain/app/gas";
import { CacheKV } from "../../chain/store/cache";
import { EMPTY_READER } from "../../chain/store/types";
import { toAddress } from "../../chain/crypto/keys";
import { Dec } from "../../chain/math/decimal";
import { equity } from "../../chain/x/margin/types/risk";
import { liquidationKey, positionValues } from "../../chain/x/margin/keeper";
import { poolStress, stressMove, stressPrices } from "../../chain/x/clearing/coverage";
import { localnetMarket } from "../../chain/app/genesis";
import { GenesisState } from "../../client/src/generated/backstop/clearing/v1/genesis";
import { Position } from "../../client/src/generated/backstop/margin/v1/margin";
import { chain, emptyPools, msg } from "../util/chain";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import * as MarginQ from "../../client/src/generated/backstop/margin/v1/query";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as InsTx from "../../client/src/generated/backstop/insurance/v1/tx";
import * as InsQ from "../../client/src/generated/backstop/insurance/v1/query";
import { Side, TimeInForce } from "../../client/src/generated/backstop/clearing/v1/clearing";

const arbPos = fc.record({
  owner: fc.integer({ min: 0, max: 80 }),
  long: fc.boolean(),
  size: fc.integer({ min: 0, max: 20_000 }), // 0 closes the position
  entry: fc.integer({ min: 40_000, max: 80_000 }),
  marginUsd: fc.integer({ min: 0, max: 30_000 }),
  snap: fc.integer({ min: -500, max: 500 }),
});

const owner = (i: number) => toAddress(Uint8Array.from({ length: 20 }, (_, j) => (i * 31 + j * 7 + 3) & 0xff));
const E30 = 10n ** 30n;
const ceil30 = (x: bigint) => (x <= 0n ? 0n : (x + E30 - 1n) / E30);

describe("coverage: O(log n) figures equal brute force", () => {
  it("stressed deficit, largest deficits and pool figures on random books, block after block", () => {
    let nonzero = 0;
    fc.assert(
      fc.property(
        fc.array(fc.array(arbPos, { maxLength: 40 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 20_000, max: 100_000 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -300, max: 300 }),
        (blocks, prices, indexInt) => {
          const m = buildModules();
          const committed = new CacheKV(EMPTY_READER);
          const market = GenesisState.fromJSON({ markets: [localnetMarket("BTC-USD", "majors", "0.05", "0.03", "0.1", "0.0001")] }).markets[0];
          let height = 1n;
          for (const block of blocks) {
            const state = new CacheKV(committed);
            const ctx: Context = { store: state, height, time: height, chainId: "t", events: new EventManager(), gas: GasMeter.infinite(), mode: "endblock", blockChanges: (s, e) => state.changesIn(s, e) };
            if (height === 1n) {
              m.manager.modules.find((x) => x.name === "clearing")!.initGenesis(ctx, GenesisState.toJSON({ params: { maxOrdersPerBlock: 1, maxOrdersPerAccountPerBlock: 0 }, markets: [market], orders: [], funding: [], nextOrderId: 1n }));
            }
            m.clearing.setFunding(ctx, { marketId: "BTC-USD", cumulativeIndex: Dec.fromInt(BigInt(indexInt) + height).toString(), lastRate: "0", intervalStartUnixSeconds: 0n, premiumSum: "0", premiumSamples: 0n });
            for (const b of block) {
              const size = Dec.ratio(BigInt(b.size), 10_000n, "floor");
              const p: Position = {
                owner: owner(b.owner),
                marketId: "BTC-USD",
                size: (b.long ? size : size.neg()).toString(),
                entryPrice: b.size === 0 ? "0" : Dec.fromInt(BigInt(b.entry)).toString(),
                marginUusdc: b.size === 0 ? "0" : (BigInt(b.marginUsd) * 1_000_000n).toString(),
                fundingIndexSnapshot: Dec.fromInt(BigInt(b.snap)).toString(),
                openedHeight: height,
              };
              m.margin.setPosition(ctx, p);
            }
            m.margin.syncCoverage(ctx);

            const positions = m.margin.positionsIn(ctx, "BTC-USD").filter((p) => !Dec.parse(p.size).isZero());
            const index = m.margin.fundingIndexOf(ctx, "BTC-USD");
            for (const pi of prices) {
              const price = Dec.fromInt(BigInt(pi));
              const y = price.sub(index).raw;
              let keyRaw = 0n;
              let exact = 0n;
              const singles: bigint[] = [];
              for (const p of positions) {
                const k = liquidationKey(p)!;
                const s = Dec.parse(p.size).abs().raw;
                const v = k.side === 0 ? s * (k.key.raw - y) : s * (y - k.key.raw);
                if (v > 0n) {
                  keyRaw += v;
                  singles.push(ceil30(v));
                }
                const e = equity(positionValues(p), price, index);
                if (e < 0n) exact += -e;
              }
              const got = m.margin.stressedDeficit(ctx, "BTC-USD", price);
              expect(got).toBe(ceil30(keyRaw));
              expect(got).toBeGreaterThanOrEqual(exact);
              expect(got).toBeLessThanOrEqual(exact + BigInt(positions.length) + 1n);
              singles.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
              expect(m.margin.largestDeficits(ctx, "BTC-USD", price)).toEqual([singles[0] ?? 0n, singles[1] ?? 0n]);
              if (got > 0n) nonzero++;
            }
            // The pool figures: the worse direction of the stress move around the oracle mark.
            m.oracle.setPrice(ctx, { ticker: "BTC-USD", price: Dec.fromInt(BigInt(prices[0])).toString(), height, timeUnixSeconds: height, numFeeders: 1 });
            const mk = m.markets.require(ctx, "BTC-USD");
            const fig = poolStress(ctx, m, [mk]);
            const sp = stressPrices(Dec.fromInt(BigInt(prices[0])), stressMove(m.insurance.getParams(ctx), m.oracle.sigma(ctx, "BTC-USD")));
            const down = m.margin.stressedDeficit(ctx, "BTC-USD", sp.down);
            const up = m.margin.stressedDeficit(ctx, "BTC-USD", sp.up);
            expect(fig.required).toBe(down > up ? down : up);
            const [d1, d2] = m.margin.largestDeficits(ctx, "BTC-USD", sp.down);
            const [u1, u2] = m.margin.largestDeficits(ctx, "BTC-USD", sp.up);
            expect(fig.cover2).toBe(d1 + d2 > u1 + u2 ? d1 + d2 : u1 + u2);

            state.write();
            height++;
          }
        },
      ),
      { numRuns: 150, seed: 11 },
    );
    expect(nonzero).toBeGreaterThan(50);
  });
});

describe("coverage controls through the application", () => {
  it("coverage below 1 raises margin, below critical the pool's markets go reduce-only, and both lift as LPs fund the pool", async () => {
    const c = await chain((s) => {
      emptyPools(s);
      for (const p of s.insurance.pools) if (p.id === "majors") Object.assign(p, { preemptive_margin: true, critical_coverage: "0.5" });
    });
    const [, alice, , carol, , lp1] = c.accounts;
    const USDC = 1_000_000n;
    const order = (who: typeof alice, side: "buy" | "sell", qty: string, reduceOnly = false) =>
      msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, { owner: who.address, marketId: "BTC-USD", side: side === "buy" ? Side.SIDE_BUY : Side.SIDE_SELL, price: "60000", quantity: qty, timeInForce: TimeInForce.TIME_IN_FORCE_GTC, reduceOnly });
    const fund = (amount: bigint) => c.block([[lp1, [msg("/backstop.insurance.v1.MsgDeposit", InsTx.MsgDeposit, { depositor: lp1.address, poolId: "majors", amount: { denom: "uusdc", amount: amount.toString() } })]]]);
    const majors = () => c.query("/backstop.insurance.v1.Query/Pool", InsQ.QueryPoolRequest, InsQ.QueryPoolResponse, { poolId: "majors" }).pool!;
    const imr = () => Dec.parse(c.query("/backstop.margin.v1.Query/MarketRisk", MarginQ.QueryMarketRiskRequest, MarginQ.QueryMarketRiskResponse, { marketId: "BTC-USD" }).risk!.imr);

    fund(1_000n * USDC);
    c.block([[alice, [msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner: alice.address, amount: { denom: "uusdc", amount: (100_000n * USDC).toString() } })]], [carol, [msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner: carol.address, amount: { denom: "uusdc", amount: (100_000n * USDC).toString() } })]]]);
    expect(majors().coverage).toBe(""); // nothing at risk yet
    expect(imr().toString()).toBe(Dec.parse("0.05").toString());
    c.block([[alice, [order(alice, "buy", "1")]], [carol, [order(carol, "sell", "1")]]]);

    // Stress move 10% (the floor: σ is still 0): at 54,000 alice's 3,000 margin is 3,000 short, at 66,000 carol's.
    let p = majors();
    expect(p.requiredCapitalUusdc).toBe((3_000n * USDC).toString());
    expect(p.cover2Uusdc).toBe((3_000n * USDC).toString());
    // Balance 1,000 + 20% of the 60 USDC of taker fees = 1,012: coverage 0.3373… < critical 0.5.
    expect(p.balanceUusdc).toBe((1_012n * USDC).toString());
    expect(p.coverage).toBe(Dec.ratio(1_012n, 3_000n, "floor").toString());
    expect(c.allEvents("backstop.insurance.v1.EventCoverage").some((e) => e.pool_id === "majors" && e.coverage === p.coverage)).toBe(true);
    // Reduce-only for new exposure (clearing/10), in CheckTx and in delivery; reducing still works.
    const [refused] = c.block([[alice, [order(alice, "buy", "0.1")]]]);
    expect([refused.codespace, refused.code]).toEqual(["clearing", 10]);
    expect(refused.log).toContain("below its critical level");
    const [reduce] = c.block([[alice, [order(alice, "sell", "0.1", true)]]]);
    expect(reduce.code).toBe(0);
    // Pre-emptive margin: the multiplier 1/0.3373 ≈ 2.96, so IMR ≈ 14.8%.
    expect(imr().gt(Dec.parse("0.14"))).toBe(true);
    expect(imr().lt(Dec.parse("0.15"))).toBe(true);

    // LPs fund the pool to 2,012 USDC (the reduce order rests unfilled): coverage 0.67, above critical, below 1.
    fund(1_000n * USDC);
    p = majors();
    expect(Dec.parse(p.coverage).gt(Dec.parse("0.5"))).toBe(true);
    expect(Dec.parse(p.coverage).lt(Dec.ONE)).toBe(true);
    const [accepted] = c.block([[carol, [order(carol, "sell", "0.1")]]]);
    expect(accepted.code).toBe(0);
    expect(imr().gt(Dec.parse("0.07"))).toBe(true);
    expect(imr().lt(Dec.parse("0.08"))).toBe(true);

    // Fully covered: margin back to its base.
    fund(10_000n * USDC);
    expect(Dec.parse(majors().coverage).gte(Dec.ONE)).toBe(true);
    expect(imr().toString()).toBe(Dec.parse("0.05").toString());
  });
});
