/** The localnet scenario script (scripts/scenario.ts) against a spawned node: its story holds. */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { NodeProcess, ROOT, spawnLocalnet } from "../util/node";

const run = promisify(execFile);

describe("scenario script", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await spawnLocalnet({ blockTime: "300ms" });
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(node.home, { recursive: true, force: true });
  });

  it("liquidates the longs, the pool pays, the short is paid in full, solvency holds", async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, "dist", "scripts", "scenario.js"), "--node", node.rpc, "--json"], { cwd: ROOT });
    const r = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(r.liquidations).toHaveLength(2);
    expect(r.pool_paid_uusdc).toBe("45000000000");
    expect(r.winner_profit_uusdc).toBe("54000000000");
    // Margin back (9,000) + profit (54,000) − taker fee (63) = 62,937 USDC.
    expect(r.winner_free_collateral_gain_uusdc).toBe("62937000000");
    expect(r.solvency_holds).toBe(true);
    expect(r.adl_steps).toBe(0);
    // Before the crash the stress model saw the 20× longs' and short's stressed deficits; the pool covered them.
    expect(BigInt(r.coverage_before.required)).toBeGreaterThan(0n);
    expect(Number(r.coverage_before.coverage)).toBeGreaterThan(1);
  });
});
