/**
 * Faults: a corrupt block store or application store is refused with a clear error
 * (never a crash, never a fresh chain beside the damaged one), and an unusable home is
 * reported clearly; in each case the process exits non-zero.
 */
import { spawnSync } from "node:child_process";
import { openSync, writeSync, closeSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BIN, ROOT, freePort, spawnLocalnet } from "../util/node";

function start(home: string, port: number) {
  return spawnSync(process.execPath, [BIN, "localnet", "--home", home, "--rpc.laddr", `tcp://127.0.0.1:${port}`, "--block-time", "200ms", "--resume"], { cwd: ROOT, timeout: 20_000 });
}

function scribble(file: string): void {
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, 0);
  closeSync(fd);
}

describe("faults", () => {
  it.each([
    ["block store", "blockstore", /the block store at .* is corrupt/],
    ["application store", "application", /the application state at .* is corrupt/],
  ])("a corrupt %s is refused with a clear error", async (_what, dir, message) => {
    const node = await spawnLocalnet({ blockTime: "200ms" });
    await node.stop();
    try {
      scribble(join(node.home, "data", dir, "data.mdb"));
      const r = start(node.home, await freePort());
      expect(r.signal).toBeNull(); // no crash
      expect(r.status).toBe(1);
      expect(r.stderr.toString()).toMatch(message);
    } finally {
      rmSync(node.home, { recursive: true, force: true });
    }
  });

  it("an unusable home is reported clearly", async () => {
    const r = start("/etc/passwd/home", await freePort());
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toMatch(/ENOTDIR|not a directory/);
  });
});
