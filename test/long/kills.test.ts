/**
 * Repeated kill -9 (make test-long): ROUNDS times (default 8), the node on one home takes
 * a stream of transactions and is killed at a different moment each round; after every
 * restart each transaction it reported committed is still there, at the same height,
 * and every block it served keeps its hash and app hash.
 */
import { rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { localnetAccounts, msgSend, signTx } from "../util/localnet";
import { rpcCall, spawnLocalnet, tempHome, waitForHeight } from "../util/node";

const ROUNDS = Number(process.env.KILL_ROUNDS ?? 8);

describe("repeated kill -9", () => {
  it(`survives ${ROUNDS} kills at different moments`, async () => {
    const home = tempHome("backstop-kills-");
    const [, alice, bob] = await localnetAccounts();
    const committed = new Map<string, string>(); // tx hash → height
    const blocks = new Map<number, string>(); // height → block hash + app hash
    let seq = 0n;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const node = await spawnLocalnet({ home, blockTime: "100ms" });
        // Everything seen before is intact.
        const top = Math.max(0, ...blocks.keys());
        await waitForHeight(node.rpc, top + 1);
        for (const [hash, height] of committed) expect((await rpcCall(node.rpc, "tx", { hash: "0x" + hash })).result?.height).toBe(height);
        for (const [h, ids] of blocks) {
          const b = (await rpcCall(node.rpc, "block", { height: String(h) })).result;
          expect(`${b.block_id.hash}/${b.block.header.app_hash}`).toBe(ids);
        }
        // Resume alice's sequence from the chain, then stream txs for a round-specific time.
        const hashes: string[] = [];
        const stopAt = Date.now() + 200 + ((round * 397) % 1300);
        while (Date.now() < stopAt) {
          const tx = signTx(alice, [msgSend(alice.address, bob.address, "1")], { accountNumber: 1n, sequence: seq });
          const r = await rpcCall(node.rpc, "broadcast_tx_sync", { tx: Buffer.from(tx).toString("base64") });
          if (r.result?.code === 0) {
            seq++;
            hashes.push(createHash("sha256").update(tx).digest("hex").toUpperCase());
          } else if (r.result?.code === 32) {
            seq = BigInt(/expected (\d+)/.exec(r.result.log)![1]);
          }
        }
        for (const h of hashes) {
          const r = await rpcCall(node.rpc, "tx", { hash: "0x" + h });
          if (r.result) committed.set(h, r.result.height);
        }
        const now = Number((await rpcCall(node.rpc, "status")).result.sync_info.latest_block_height);
        for (let h = top + 1; h <= now; h++) {
          const b = (await rpcCall(node.rpc, "block", { height: String(h) })).result;
          blocks.set(h, `${b.block_id.hash}/${b.block.header.app_hash}`);
        }
        await node.kill();
        // Txs accepted but not committed may be lost with the mempool: continue from the committed sequence.
        seq = BigInt(committed.size);
      }
      expect(committed.size).toBeGreaterThan(ROUNDS);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 300_000);
});
