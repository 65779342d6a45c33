/**
 * A full disk (make test-long; needs root, to mount a small tmpfs as the node's home):
 * the node commits transactions, the disk fills up, and the node stops with a clear
 * error naming the cause instead of going on without persisting; once space is freed
 * it restarts from its last committed block with every committed transaction intact
 * and goes on producing blocks.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localnetAccounts, msgSend, signTx } from "../util/localnet";
import { rpcCall, spawnLocalnet, waitForHeight } from "../util/node";

describe("a full disk", () => {
  it("stops the node with a clear error, and a restart after freeing space loses nothing", async () => {
    const mnt = mkdtempSync(join(tmpdir(), "backstop-disk-"));
    // Root is needed to mount the small file system this test fills; without it, this fails (it is not skipped).
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt]);
    try {
      const home = join(mnt, "home");
      mkdirSync(home);
      const [, alice, bob] = await localnetAccounts();
      let node = await spawnLocalnet({ home, blockTime: "200ms" });
      const hashes: string[] = [];
      for (let i = 0n; i < 5n; i++) {
        const tx = signTx(alice, [msgSend(alice.address, bob.address, "1")], { accountNumber: 1n, sequence: i });
        const r = await rpcCall(node.rpc, "broadcast_tx_commit", { tx: Buffer.from(tx).toString("base64") });
        expect(r.result.tx_result.code).toBe(0);
        hashes.push(createHash("sha256").update(tx).digest("hex").toUpperCase());
      }
      const before = Number((await rpcCall(node.rpc, "status")).result.sync_info.latest_block_height);

      // Fill the disk to the last byte.
      const filler = join(mnt, "filler");
      try {
        writeFileSync(filler, Buffer.alloc(64 * 1024 * 1024));
      } catch {
        /* ENOSPC once it is full: that is the point */
      }
      // The next commit fails: the node stops on its own, with a non-zero exit code, and says why.
      for (let i = 0; i < 300 && node.proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      expect(node.proc.exitCode).toBe(1);
      const logs = node.logs();
      // LMDB's own error may be ENOSPC or EIO depending on which write hits the wall; the node names the cause.
      expect(logs).toMatch(/block production failed; stopping: the disk holding .* is full/);
      await node.stop();

      rmSync(filler, { force: true });
      node = await spawnLocalnet({ home, blockTime: "200ms" });
      try {
        await waitForHeight(node.rpc, before + 2);
        for (const h of hashes) expect((await rpcCall(node.rpc, "tx", { hash: "0x" + h })).result?.tx_result?.code).toBe(0);
        // Alice's next transaction goes through: nothing about her account was lost.
        const tx = signTx(alice, [msgSend(alice.address, bob.address, "1")], { accountNumber: 1n, sequence: 5n });
        expect((await rpcCall(node.rpc, "broadcast_tx_commit", { tx: Buffer.from(tx).toString("base64") })).result.tx_result.code).toBe(0);
      } finally {
        await node.stop();
      }
    } finally {
      execFileSync("umount", [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  }, 120_000);
});
