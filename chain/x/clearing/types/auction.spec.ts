/** Table and property tests of the batch auction (SPEC §3.4). */
import fc from "fast-check";
import { Dec } from "../../../math/decimal";
import { AuctionOrder, bandLimits, crossing, postOnlyWouldCross, runAuction, Side } from "./auction";

const d = Dec.parse;
const o = (id: number, side: Side, price: string, quantity: string): AuctionOrder => ({
  id: BigInt(id),
  side,
  price: d(price),
  quantity: d(quantity),
});
const params = (oracle: string, band = "0.1") => ({ oraclePrice: d(oracle), band: d(band) });
const fillsOf = (r: ReturnType<typeof runAuction>) =>
  r.cleared ? Object.fromEntries(r.fills.map((f) => [Number(f.id), f.quantity.toString().replace(/\.?0+$/, "")])) : {};

describe("runAuction (tables)", () => {
  it("crossing curves: the price maximises volume", () => {
    // Buys 5@102, 5@101, 5@100; sells 4@99, 4@100, 4@101.
    // p=100: D=15 S=8 → 8; p=101: D=10 S=12 → 10; p=102: D=5 S=12 → 5. Max volume 10 at 101.
    const r = runAuction(
      [o(1, "buy", "102", "5"), o(2, "buy", "101", "5"), o(3, "buy", "100", "5"), o(4, "sell", "99", "4"), o(5, "sell", "100", "4"), o(6, "sell", "101", "4")],
      params("100"),
    );
    expect(r.cleared && r.price.toString()).toBe("101.000000000000000000");
    expect(r.cleared && r.volume.toString()).toBe("10.000000000000000000");
    // Buys better or at 101 fill fully (10 = D); sells: 99 and 100 fully, 101 gets 2.
    expect(fillsOf(r)).toEqual({ 1: "5", 2: "5", 4: "4", 5: "4", 6: "2" });
  });

  it("no cross: best bid below best ask", () => {
    const r = runAuction([o(1, "buy", "99", "1"), o(2, "sell", "100", "1")], params("100"));
    expect(r).toEqual({ cleared: false, reason: "no_cross" });
    expect(runAuction([], params("100"))).toEqual({ cleared: false, reason: "no_orders" });
  });

  it("ties in volume go to the smallest imbalance", () => {
    // Buy 10@101; sells 5@99, 10@100. p=99: D=10 S=5 → 5 (imb 5); p=100: D=10 S=15 → 10 (imb 5); p=101: 10 (imb 5).
    // p=100 and p=101 tie in volume and imbalance → closest to oracle (100.6) is 101.
    const r = runAuction([o(1, "buy", "101", "10"), o(2, "sell", "99", "5"), o(3, "sell", "100", "10")], params("100.6"));
    expect(r.cleared && r.price.toString()).toBe("100.600000000000000000");
    // Between 100 and 101 every price has the same volume and imbalance: the oracle price itself wins.
    // Now make imbalance decide: add a buy 2@100 → p=100: D=12 S=15 → 12 (imb 3); p=101: D=10 S=15 → 10.
    const r2 = runAuction([o(1, "buy", "101", "10"), o(4, "buy", "100", "2"), o(2, "sell", "99", "5"), o(3, "sell", "100", "10")], params("100.6"));
    expect(r2.cleared && r2.price.toString()).toBe("100.000000000000000000");
    expect(r2.cleared && r2.volume.toString()).toBe("12.000000000000000000");
  });

  it("imbalance breaks a volume tie before oracle distance", () => {
    // Buys 6@100, 4@98; sells 6@98, 1@100 (oracle 98).
    // p=98: D=10, S=6 → 6, imb 4. p=100: D=6, S=7 → 6, imb 1. Same volume: imbalance picks 100 though 98 is the oracle.
    const r = runAuction([o(1, "buy", "100", "6"), o(2, "buy", "98", "4"), o(3, "sell", "98", "6"), o(4, "sell", "100", "1")], params("98"));
    expect(r.cleared && r.price.toString()).toBe("100.000000000000000000");
  });

  it("ties in volume and imbalance go to the price closest to the oracle", () => {
    // Buy 1@110, sell 1@90: any price in [90, 110] matches 1 with imbalance 0 → the oracle price 100.
    const r = runAuction([o(1, "buy", "110", "1"), o(2, "sell", "90", "1")], params("100", "0.5"));
    expect(r.cleared && r.price.toString()).toBe("100.000000000000000000");
  });

  it("time priority at the clearing price (earlier id first), partial fill of the marginal order", () => {
    // Three sells at 100 (ids 3, 1, 2 in submission order by id), one buy of 5 @ 100.
    const r = runAuction([o(3, "sell", "100", "3"), o(1, "sell", "100", "3"), o(2, "sell", "100", "3"), o(9, "buy", "100", "5")], params("100"));
    expect(fillsOf(r)).toEqual({ 1: "3", 2: "2", 9: "5" });
  });

  it("price priority before time priority on the rationed side", () => {
    // Sell 5 @ 100; buys 5 @ 100 (id 1, earlier) and 5 @ 105 (id 2, later): the better price fills first.
    const r = runAuction([o(1, "buy", "100", "5"), o(2, "buy", "105", "5"), o(3, "sell", "100", "5")], params("100"));
    expect(fillsOf(r)).toEqual({ 2: "5", 3: "5" });
  });

  it("the oracle band: a cross only outside the band does not clear; inside it clears at the edge", () => {
    // Book crosses only at 120 but the band around 100 is ±10%.
    const r = runAuction([o(1, "buy", "125", "1"), o(2, "sell", "120", "1")], params("100", "0.1"));
    expect(r).toEqual({ cleared: false, reason: "outside_band" });
    // Buy 1@115, sell 1@105 with oracle 100 ±10%: the best in-band price closest to oracle is 105.
    const r2 = runAuction([o(1, "buy", "115", "1"), o(2, "sell", "105", "1")], params("100", "0.1"));
    expect(r2.cleared && r2.price.toString()).toBe("105.000000000000000000");
    expect(bandLimits(params("100", "0.1")).hi.toString()).toBe("110.000000000000000000");
  });

  it("post-only orders that would cross the resting book are refused", () => {
    expect(postOnlyWouldCross("buy", d("101"), d("99"), d("101"))).toBe(true);
    expect(postOnlyWouldCross("buy", d("100.5"), d("99"), d("101"))).toBe(false);
    expect(postOnlyWouldCross("sell", d("99"), d("99"), d("101"))).toBe(true);
    expect(postOnlyWouldCross("sell", d("99.5"), null, null)).toBe(false);
  });
});

describe("runAuction (properties)", () => {
  const priceArb = fc.integer({ min: 90, max: 110 }).map((n) => Dec.fromInt(n));
  const qtyArb = fc.integer({ min: 1, max: 1000 }).map((n) => Dec.fromRaw(BigInt(n) * 10n ** 15n)); // 0.001 … 1
  const orderArb = fc.tuple(fc.boolean(), priceArb, qtyArb);
  const booksArb = fc.array(orderArb, { minLength: 1, maxLength: 40 }).map((os) =>
    os.map(([buy, price, quantity], i): AuctionOrder => ({ id: BigInt(i + 1), side: buy ? "buy" : "sell", price, quantity })),
  );

  it("maximises volume over every in-band price, respects limits, and matches buys to sells exactly", () => {
    fc.assert(
      fc.property(booksArb, fc.integer({ min: 95, max: 105 }), (orders, oracleInt) => {
        const oracle = Dec.fromInt(oracleInt);
        const p = { oraclePrice: oracle, band: d("0.05") };
        const r = runAuction(orders, p);
        const { lo, hi } = bandLimits(p);
        // Brute force: the volume at every in-band limit price and at the band edges.
        const vol = (x: Dec) => {
          let dd = 0n;
          let ss = 0n;
          for (const q of orders) {
            if (q.side === "buy" && q.price.gte(x)) dd += q.quantity.raw;
            if (q.side === "sell" && q.price.lte(x)) ss += q.quantity.raw;
          }
          return dd < ss ? dd : ss;
        };
        const grid = [lo, hi, ...orders.map((q) => q.price).filter((x) => x.gte(lo) && x.lte(hi))];
        const bestVol = grid.reduce((m, x) => (vol(x) > m ? vol(x) : m), 0n);
        if (!r.cleared) {
          expect(bestVol).toBe(0n);
          return;
        }
        expect(r.price.gte(lo) && r.price.lte(hi)).toBe(true);
        expect(r.volume.raw).toBe(bestVol);
        let buys = 0n;
        let sells = 0n;
        const byId = new Map(orders.map((q) => [q.id, q]));
        for (const f of r.fills) {
          const q = byId.get(f.id)!;
          expect(f.quantity.raw > 0n && f.quantity.raw <= q.quantity.raw).toBe(true);
          // Nobody trades at a price worse than their limit.
          if (q.side === "buy") {
            expect(r.price.lte(q.price)).toBe(true);
            buys += f.quantity.raw;
          } else {
            expect(r.price.gte(q.price)).toBe(true);
            sells += f.quantity.raw;
          }
        }
        expect(buys).toBe(r.volume.raw);
        expect(sells).toBe(r.volume.raw);
      }),
      { numRuns: 300 },
    );
  });

  it("clears the crossing orders alone exactly as the whole book (what the keeper reads from its price index)", () => {
    // Wider prices than the band, so that books cross outside it, inside it, and not at all.
    const wide = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 80, max: 120 }).map((n) => Dec.fromInt(n)), qtyArb), { minLength: 0, maxLength: 40 });
    fc.assert(
      fc.property(wide, fc.integer({ min: 90, max: 110 }), fc.constantFrom("0.02", "0.05", "0.2"), (os, oracleInt, band) => {
        const orders = os.map(([buy, price, quantity], i): AuctionOrder => ({ id: BigInt(i + 1), side: buy ? "buy" : "sell", price, quantity }));
        const p = { oraclePrice: Dec.fromInt(oracleInt), band: d(band) };
        const whole = runAuction(orders, p);
        const sub = crossing(orders);
        // A book that does not cross leaves nothing to clear; the whole book says why.
        if (sub.length === 0) expect(whole).toEqual({ cleared: false, reason: orders.length === 0 ? "no_orders" : "no_cross" });
        else expect(runAuction(sub, p)).toEqual(whole);
        // The subset is exactly the orders priced through the other side's best.
        for (const o of orders) {
          const through = orders.some((x) => x.side !== o.side && (o.side === "buy" ? o.price.gte(x.price) : o.price.lte(x.price)));
          expect(sub.includes(o)).toBe(through);
        }
      }),
      { numRuns: 500 },
    );
  });
});
