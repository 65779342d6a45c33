/**
 * The margin keeper on an in-memory store with the localnet genesis: a partial
 * liquidation's fee comes out of the position's margin, capped by the margin and by the
 * position's remaining equity at the mark (SPEC §3.6).
 */
import { buildModules } from "../../app/modules";
import { Context } from "../../app/context";
import { EventManager } from "../../app/events";
import { GasMeter } from "../../app/gas";
import { localnetAppState } from "../../app/genesis";
import { CacheKV } from "../../store/cache";
import { EMPTY_READER } from "../../store/types";
import { toAddress } from "../../crypto/keys";
import { Dec } from "../../math/decimal";

const addr = (i: number) => toAddress(Uint8Array.from({ length: 20 }, (_, j) => (i * 11 + j) & 0xff));

describe("margin keeper", () => {
  it("chargeFromMargin takes at most the margin and the remaining equity at the mark", () => {
    const m = buildModules();
    const store = new CacheKV(EMPTY_READER);
    const ctx = (): Context => ({ store, height: 2n, time: 1_000n, chainId: "t", events: new EventManager(), gas: GasMeter.infinite(), mode: "deliver" });
    const genesis = localnetAppState(Array.from({ length: 10 }, (_, i) => addr(i))) as Record<string, unknown>;
    for (const mod of m.manager.modules) mod.initGenesis(ctx(), genesis[mod.name] ?? mod.defaultGenesis());
    const owner = addr(42);
    const open = () =>
      m.margin.setPosition(ctx(), { owner, marketId: "BTC-USD", size: "1", entryPrice: "60000", marginUusdc: "3000000000", fundingIndexSnapshot: "0", openedHeight: 1n });
    const margin = () => BigInt(m.margin.getPosition(ctx(), owner, "BTC-USD")!.marginUusdc);
    // Mark 60,000: equity = margin = 3,000 USDC; an 800 USDC fee is taken whole.
    open();
    expect(m.margin.chargeFromMargin(ctx(), owner, "BTC-USD", 800_000_000n, Dec.parse("60000"))).toBe(800_000_000n);
    expect(margin()).toBe(2_200_000_000n);
    // Mark 57,500: equity = 3,000 − 2,500 = 500 USDC; the fee is capped there.
    open();
    expect(m.margin.chargeFromMargin(ctx(), owner, "BTC-USD", 800_000_000n, Dec.parse("57500"))).toBe(500_000_000n);
    expect(margin()).toBe(2_500_000_000n);
    // Mark 56,000: the position is under water; no fee.
    open();
    expect(m.margin.chargeFromMargin(ctx(), owner, "BTC-USD", 800_000_000n, Dec.parse("56000"))).toBe(0n);
    expect(margin()).toBe(3_000_000_000n);
    // Mark 80,000: equity 23,000 USDC, but only the margin can be taken.
    open();
    expect(m.margin.chargeFromMargin(ctx(), owner, "BTC-USD", 5_000_000_000n, Dec.parse("80000"))).toBe(3_000_000_000n);
  });
});
