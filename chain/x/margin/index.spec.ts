/**
 * The liquidation index against brute force (fast-check): on random books of long and
 * short positions with random entries, margins and funding snapshots, the positions the
 * index finds at a random mark (and MMR, and funding index) are exactly those with E < MM.
 */
import fc from "fast-check";
import { buildModules } from "../../app/modules";
import { Context } from "../../app/context";
import { EventManager } from "../../app/events";
import { GasMeter } from "../../app/gas";
import { CacheKV } from "../../store/cache";
import { EMPTY_READER } from "../../store/types";
import { toAddress } from "../../crypto/keys";
import { Dec } from "../../math/decimal";
import { isLiquidatable } from "./types/risk";
import { decodeKey, encodeKey, positionValues } from "./keeper";
import { localnetMarket } from "../../app/genesis";
import { GenesisState } from "../../../client/src/generated/backstop/clearing/v1/genesis";

const arbPos = fc.record({
  long: fc.boolean(),
  size: fc.integer({ min: 1, max: 10_000 }), // 0.0001 .. 1 BTC
  entry: fc.integer({ min: 40_000, max: 80_000 }),
  marginUsd: fc.integer({ min: 1, max: 20_000 }),
  snap: fc.integer({ min: -500, max: 500 }),
});

describe("liquidation index keys", () => {
  it("are 32 bytes of raw + 2^255 mod 2^256 (the byte-at-a-time definition), decode back, and sort as their values", () => {
    const reference = (raw: bigint) => {
      const b = Buffer.alloc(32);
      let x = raw + (1n << 255n);
      for (let i = 31; i >= 0; i--) {
        b[i] = Number(x & 0xffn);
        x >>= 8n;
      }
      return b;
    };
    const raw = fc.bigInt({ min: -(1n << 200n), max: 1n << 200n });
    fc.assert(
      fc.property(raw, raw, (a, b) => {
        const ka = encodeKey(Dec.fromRaw(a));
        expect(ka.equals(reference(a))).toBe(true);
        expect(decodeKey(ka)).toBe(a);
        expect(Math.sign(Buffer.compare(ka, encodeKey(Dec.fromRaw(b))))).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
      { numRuns: 500 },
    );
  });
});

describe("liquidation index", () => {
  it("finds exactly the positions with E < MM", () => {
    let foundAll = 0;
    let total = 0;
    fc.assert(
      fc.property(fc.array(arbPos, { minLength: 1, maxLength: 60 }), fc.integer({ min: 30_000, max: 90_000 }), fc.integer({ min: -300, max: 300 }), (book, markInt, indexInt) => {
        const m = buildModules();
        const store = new CacheKV(EMPTY_READER);
        const ctx: Context = { store, height: 1n, time: 1n, chainId: "t", events: new EventManager(), gas: GasMeter.infinite(), mode: "deliver" };
        m.manager.modules.find((x) => x.name === "clearing")!.initGenesis(ctx, GenesisState.toJSON({ params: { maxOrdersPerBlock: 1, maxOrdersPerAccountPerBlock: 0 }, markets: [GenesisState.fromJSON({ markets: [localnetMarket("BTC-USD", "majors", "0.05", "0.03", "0.1", "0.0001")] }).markets[0]], orders: [], funding: [], nextOrderId: 1n }));
        m.clearing.setFunding(ctx, { marketId: "BTC-USD", cumulativeIndex: Dec.fromInt(BigInt(indexInt)).toString(), lastRate: "0", intervalStartUnixSeconds: 0n, premiumSum: "0", premiumSamples: 0n });
        book.forEach((b, i) => {
          const size = Dec.ratio(BigInt(b.size), 10_000n, "floor");
          m.margin.setPosition(ctx, {
            owner: toAddress(Uint8Array.from({ length: 20 }, (_, j) => (i * 31 + j * 7) & 0xff)),
            marketId: "BTC-USD",
            size: (b.long ? size : size.neg()).toString(),
            entryPrice: Dec.fromInt(BigInt(b.entry)).toString(),
            marginUusdc: (BigInt(b.marginUsd) * 1_000_000n).toString(),
            fundingIndexSnapshot: Dec.fromInt(BigInt(b.snap)).toString(),
            openedHeight: 1n,
          });
        });
        const market = m.markets.require(ctx, "BTC-USD");
        const mark = Dec.fromInt(BigInt(markInt));
        const mmr = m.margin.ratios(ctx, market).mmr;
        const index = Dec.fromInt(BigInt(indexInt));
        const found = m.margin.liquidatable(ctx, market, mark).map((p) => p.owner).sort();
        const brute = m.margin.positionsIn(ctx, "BTC-USD").filter((p) => isLiquidatable(positionValues(p), mark, index, mmr)).map((p) => p.owner).sort();
        expect(found).toEqual(brute);
        total += book.length;
        foundAll += found.length;
      }),
      { numRuns: 200, seed: 7 },
    );
    // The generated books exercise both outcomes.
    expect(foundAll).toBeGreaterThan(total / 10);
    expect(foundAll).toBeLessThan(total);
  });
});
