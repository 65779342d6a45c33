/**
 * A node restarting on a store that already holds the positions (the second half of the
 * risk benchmark, in a fresh process so that nothing from loading them is counted):
 * opens the LMDB store, answers a liquidation sweep, rebuilds the coverage index and
 * computes the pool's stress figures, then reports the time this took and the process's
 * resident memory — what a node holding those positions needs.
 *
 *   node --expose-gc dist/bench/restart.js STORE_DIR HEIGHT MARK
 */
import { readFileSync } from "node:fs";
import { buildModules } from "../chain/app/modules";
import { Context } from "../chain/app/context";
import { EventManager } from "../chain/app/events";
import { GasMeter } from "../chain/app/gas";
import { CacheKV } from "../chain/store/cache";
import { openLmdbStore } from "../chain/store/commit";
import { Dec } from "../chain/math/decimal";
import { poolStress } from "../chain/x/clearing/coverage";

const now = () => process.hrtime.bigint(); // determinism-ok: benchmark timing

function main(): void {
  const [dir, heightArg, markArg] = process.argv.slice(2);
  const h = BigInt(heightArg);
  const context = (height: bigint): Context => ({ store: new CacheKV(store), height, time: 1_767_225_600n + height, chainId: "bench", events: new EventManager(), gas: GasMeter.infinite(), mode: "query" });
  const t = now();
  const store = openLmdbStore(dir);
  const m = buildModules();
  const ctx = context(h);
  const market = m.markets.require(ctx, "BTC-USD");
  const liquidatable = m.margin.liquidatable(context(h + 1n), market, Dec.parse(markArg)).length;
  const stress = poolStress(ctx, m, [market]);
  const seconds = Number(now() - t) / 1e9;
  (globalThis as { gc?: () => void }).gc?.();
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+)`, "m"))?.[1] ?? 0);
  store.close();
  process.stdout.write(
    JSON.stringify({
      seconds,
      liquidatable,
      required: stress.required.toString(),
      cover2: stress.cover2.toString(),
      rss_mib: kib("VmRSS") / 1024,
      anon_mib: kib("RssAnon") / 1024,
      file_mib: kib("RssFile") / 1024,
      heap_mib: process.memoryUsage().heapUsed / 2 ** 20,
    }) + "\n",
  );
}

main();
