/**
 * `make bench`: the SPEC §5 benchmarks. Each prints its figure and records it in
 * bench/results.json under its name. Run one with `node dist/bench/run.js NAME`.
 */
import { writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { benchmarks } from "./suite";

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const file = join(__dirname, "..", "..", "bench", "results.json");
  const results: Record<string, unknown> = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  for (const b of benchmarks) {
    if (only.length > 0 && !only.includes(b.name)) continue;
    process.stdout.write(`${b.name}: running (${b.description})\n`);
    const started = process.hrtime.bigint();
    const r = await b.run();
    const secs = Number(process.hrtime.bigint() - started) / 1e9;
    for (const [k, v] of Object.entries(r.figures)) {
      results[k] = v;
      process.stdout.write(`  ${k} = ${v}${r.notes ? `  (${r.notes})` : ""}\n`);
    }
    process.stdout.write(`  took ${secs.toFixed(1)} s\n`);
    results._machine = machine();
    writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  }
}

function machine() {
  const os = require("node:os");
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
