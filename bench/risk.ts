/**
 * Risk at scale (SPEC §5): a committed LMDB store holding N positions in BTC-USD (with
 * the liquidation index), then
 *   - risk_sweep_quiet_ms_1m: the liquidation detection of a block whose mark crosses
 *     nobody;
 *   - risk_sweep_crash_10k_ms_1m: the detection plus tier-1 liquidation orders of a block
 *     whose mark makes 10,000 positions liquidatable (ClearingKeeper.placeLiquidations);
 *   - restart_s_1m: closing the store and reopening it until the first sweep answers;
 *   - rss_mib_1m: the process's resident memory with the store open.
 * Positions are written through MarginKeeper.setPosition in committed batches, exactly
 * as fills write them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModules } from "../chain/app/modules";
import { Context } from "../chain/app/context";
import { EventManager } from "../chain/app/events";
import { GasMeter } from "../chain/app/gas";
import { CacheKV } from "../chain/store/cache";
import { CommitStore, openLmdbStore } from "../chain/store/commit";
import { toAddress } from "../chain/crypto/keys";
import { Dec } from "../chain/math/decimal";
import { localnetAppState } from "../chain/app/genesis";
import type { Benchmark } from "./suite";

const now = () => process.hrtime.bigint(); // determinism-ok: benchmark timing
const ms = (from: bigint) => Number(now() - from) / 1e6;

function context(store: CacheKV, height: bigint): Context {
  return { store, height, time: 1_767_225_600n + height, chainId: "bench", events: new EventManager(), gas: GasMeter.infinite(), mode: "deliver" };
}

export function riskBench(n: number, crossing: number): Benchmark {
  return {
    name: "risk",
    description: `${n.toLocaleString("en-US")} positions on LMDB, ${crossing.toLocaleString("en-US")} crossing in the crash block`,
    async run() {
      const dir = mkdtempSync(join(tmpdir(), "backstop-risk-"));
      try {
        let store: CommitStore = openLmdbStore(dir);
        let m = buildModules();
        // Genesis: markets, prices and pools of the localnet.
        const addrs = Array.from({ length: 10 }, (_, i) => toAddress(Uint8Array.from({ length: 20 }, (_, j) => i * 20 + j)));
        const gen = localnetAppState(addrs) as Record<string, unknown>;
        let cache = new CacheKV(store);
        for (const mod of m.manager.modules) mod.initGenesis(context(cache, 1n), gen[mod.name] ?? mod.defaultGenesis());
        let h = 1n;
        store.commit(h, store.stage(cache.changes()));

        // N longs from 60,000; `crossing` of them at 20× (liquidation price ≈ 58,763), the rest at 2× (≈ 30,928).
        const batch = 50_000;
        const t0 = now();
        for (let start = 0; start < n; start += batch) {
          cache = new CacheKV(store);
          const ctx = context(cache, ++h);
          for (let i = start; i < Math.min(n, start + batch); i++) {
            const owner = toAddress(Uint8Array.from({ length: 20 }, (_, j) => (j < 4 ? (i >>> (8 * j)) & 0xff : (i * 131 + j * 17) & 0xff)));
            const levered = i % Math.floor(n / crossing) === 0;
            const margin = levered ? 300_000_000n : 3_000_000_000n; // per 0.1 BTC
            m.margin.setPosition(ctx, { owner, marketId: "BTC-USD", size: "0.1", entryPrice: "60000", marginUusdc: margin.toString(), fundingIndexSnapshot: "0", openedHeight: h });
          }
          store.commit(h, store.stage(cache.changes()));
        }
        const loadS = ms(t0) / 1000;
        const market = m.markets.require(context(new CacheKV(store), h), "BTC-USD");

        // Quiet: the mark stays at 60,000.
        const quiet: number[] = [];
        for (let r = 0; r < 5; r++) {
          const t = now();
          const found = m.margin.liquidatable(context(new CacheKV(store), h + 1n), market, Dec.fromInt(60_000n));
          quiet.push(ms(t));
          if (found.length !== 0) throw new Error(`quiet sweep found ${found.length}`);
        }
        // Crash: 58,000 makes exactly the levered ones liquidatable; each gets its liquidation order.
        const crash: number[] = [];
        let liquidated = 0;
        for (let r = 0; r < 3; r++) {
          const t = now();
          liquidated = m.clearing.placeLiquidations(context(new CacheKV(store), h + 1n), market, Dec.fromInt(58_000n));
          crash.push(ms(t));
        }
        (globalThis as { gc?: () => void }).gc?.(); // make bench runs node --expose-gc: measure live memory, not garbage
        const rss = process.memoryUsage().rss / 2 ** 20;
        const heap = process.memoryUsage().heapUsed / 2 ** 20;
        const external = process.memoryUsage().external / 2 ** 20;

        // Restart: close and reopen the store, then answer the first sweep.
        store.close();
        const tr = now();
        store = openLmdbStore(dir);
        m = buildModules();
        const again = m.margin.liquidatable(context(new CacheKV(store), h + 1n), m.markets.require(context(new CacheKV(store), h), "BTC-USD"), Dec.fromInt(58_000n));
        const restartS = ms(tr) / 1000;
        store.close();
        if (again.length !== liquidated) throw new Error(`after restart ${again.length} ≠ ${liquidated}`);
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
        const suffix = n === 1_000_000 ? "1m" : `${n}`;
        return {
          figures: {
            [`risk_sweep_quiet_ms_${suffix}`]: Math.round(median(quiet) * 1000) / 1000,
            [`risk_sweep_crash_10k_ms_${suffix}`]: Math.round(median(crash) * 10) / 10,
            [`rss_mib_${suffix}`]: Math.round(rss),
            [`restart_s_${suffix}`]: Math.round(restartS * 1000) / 1000,
          },
          notes: `${liquidated} liquidation orders in the crash block; loading ${n} positions took ${loadS.toFixed(1)} s; JS heap ${Math.round(heap)} MiB, external ${Math.round(external)} MiB`,
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
