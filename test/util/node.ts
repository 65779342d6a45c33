/** Spawning the real node process (from dist/, built by `make build`) for end-to-end tests. */
import { ChildProcess, spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NODE_V8_FLAGS } from "../../chain/node/v8flags";

/** The repository root, from test/util (ts) or dist/test/util (compiled, as the benchmarks run it). */
export const ROOT = join(__dirname, "..", "..", ...(__dirname.split(/[\\/]/).includes("dist") ? [".."] : []));
export const BIN = join(ROOT, "bin", "backstop");

/** Builds dist/ if it is missing (make test builds it first). */
export function ensureBuilt(): void {
  if (!existsSync(join(ROOT, "dist", "client", "src", "cli", "main.js"))) {
    execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, stdio: "inherit" });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function tempHome(prefix = "backstop-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface NodeProcess {
  readonly proc: ChildProcess;
  readonly rpc: string; // http://127.0.0.1:PORT
  readonly port: number;
  readonly home: string;
  logs(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Starts `backstop localnet` (or `start` on an existing home) and waits until it produces blocks. */
export async function spawnLocalnet(o: { home?: string; port?: number; reset?: boolean; blockTime?: string; extra?: string[] } = {}): Promise<NodeProcess> {
  ensureBuilt();
  const home = o.home ?? tempHome();
  const port = o.port ?? (await freePort());
  // A home that holds a chain resumes it (a restart), unless `reset`; a new home starts fresh.
  const resume = !o.reset && existsSync(join(home, "config", "genesis.json"));
  const args = [BIN, "localnet", "--home", home, "--rpc.laddr", `tcp://127.0.0.1:${port}`, ...(o.blockTime ? ["--block-time", o.blockTime] : []), ...(resume ? ["--resume"] : []), ...(o.extra ?? [])];
  const proc = spawn(process.execPath, [...NODE_V8_FLAGS, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d.toString()));
  proc.stderr!.on("data", (d) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const rpc = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node exited with ${proc.exitCode}:\n${out}`);
    try {
      const r = await fetch(`${rpc}/status`);
      const j = (await r.json()) as { result?: { sync_info?: { latest_block_height?: string } } };
      if (Number(j.result?.sync_info?.latest_block_height ?? 0) >= 1) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`node did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    proc,
    rpc,
    port,
    home,
    logs: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

export async function rpcCall(rpc: string, method: string, params: Record<string, unknown> = {}): Promise<any> {
  const r = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return r.json();
}

export async function waitForHeight(rpc: string, height: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const j = await rpcCall(rpc, "status");
    if (Number(j.result.sync_info.latest_block_height) >= height) return;
    if (Date.now() > deadline) throw new Error(`height ${height} not reached`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
