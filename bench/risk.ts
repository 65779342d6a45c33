/**
 * Risk at scale (SPEC §5): a committed LMDB store holding N positions in BTC-USD (with
 * the liquidation index), then
 *   - risk_sweep_quiet_ms_1m: the liquidation detection of a block whose mark crosses
 *     nobody;
 *   - risk_sweep_crash_10k_ms_1m: the detection plus tier-1 liquidation orders of a block
 *     whose mark makes 10,000 positions liquidatable (ClearingKeeper.placeLiquidations);
 *   - coverage_query_ms_1m: a pool's stress figures (SPEC §3.8: the stressed deficit in
 *     both directions and Cover-2) from the coverage index;
 *   - restart_s_1m: a fresh process (bench/restart.ts) opening the store until the first
 *     sweep answers and the coverage index is rebuilt (what the first block after a
 *     restart needs);
 *   - rss_mib_1m: that process's resident memory then — a node holding N positions
 *     (the loading process's is in the notes: it also holds what loading left behind).
 * Positions are written through MarginKeeper.setPosition in committed batches, exactly
 * as fills write them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
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
import { poolStress } from "../chain/x/clearing/coverage";
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
            // per 0.1 BTC, with up to ~1 USDC of spread so that keys differ
            const margin = (levered ? 300_000_000n : 3_000_000_000n) + BigInt(i % 997) * 1_000n;
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
        // Coverage: build the index from the store once, then the pool's figures at the oracle mark.
        const tb = now();
        const qctx = context(new CacheKV(store), h);
        m.margin.coverageIndex(qctx, "BTC-USD");
        const buildS = ms(tb) / 1000;
        const coverage: number[] = [];
        let stress = poolStress(qctx, m, [market]);
        for (let r = 0; r < 7; r++) {
          const t = now();
          stress = poolStress(qctx, m, [market]);
          coverage.push(ms(t));
        }
        if (stress.required <= 0n) throw new Error("the stress figure should be positive");

        // The loading process's own memory (for the notes: it also holds what loading left behind).
        const loaderRss = process.memoryUsage().rss / 2 ** 20;
        store.close();

        // Restart, in a fresh process: open the store, answer the sweep, rebuild the coverage
        // index and compute the stress figures; its resident memory is what a node holding the
        // positions needs (rss_mib), its time the restart (restart_s).
        const out = execFileSync(process.execPath, ["--expose-gc", join(__dirname, "restart.js"), dir, String(h), "58000"], { encoding: "utf8", maxBuffer: 1 << 20 });
        const r = JSON.parse(out.trim().split("\n").pop()!) as { seconds: number; liquidatable: number; required: string; cover2: string; rss_mib: number; anon_mib: number; file_mib: number; heap_mib: number };
        if (r.liquidatable !== liquidated) throw new Error(`after restart ${r.liquidatable} ≠ ${liquidated}`);
        if (r.required !== stress.required.toString() || r.cover2 !== stress.cover2.toString()) throw new Error("coverage differs after restart");
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
        const suffix = n === 1_000_000 ? "1m" : `${n}`;
        return {
          figures: {
            [`risk_sweep_quiet_ms_${suffix}`]: Math.round(median(quiet) * 1000) / 1000,
            [`risk_sweep_crash_10k_ms_${suffix}`]: Math.round(median(crash) * 10) / 10,
            [`coverage_query_ms_${suffix}`]: Math.round(median(coverage) * 1000) / 1000,
            [`rss_mib_${suffix}`]: Math.round(r.rss_mib),
            [`restart_s_${suffix}`]: Math.round(r.seconds * 1000) / 1000,
          },
          notes: `${liquidated} liquidation orders in the crash block; loading ${n} positions took ${loadS.toFixed(1)} s; coverage index built in ${buildS.toFixed(2)} s, required capital ${stress.required} uusdc, Cover-2 ${stress.cover2} uusdc; restarted node: ${Math.round(r.rss_mib)} MiB resident = ${Math.round(r.anon_mib)} MiB anonymous (JS heap ${Math.round(r.heap_mib)} MiB) + ${Math.round(r.file_mib)} MiB file-backed (LMDB map); the loading process: ${Math.round(loaderRss)} MiB resident`,
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
