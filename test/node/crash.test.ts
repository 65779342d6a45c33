/**
 * Crash recovery: kill -9 the node while it takes transactions, restart it on the same
 * home, and find every transaction that was reported committed, at the same height with
 * the same result, and the same block and app hash at every height.
 */
import { rmSync } from "node:fs";
import { localnetAccounts, msgSend, signTx } from "../util/localnet";
import { rpcCall, spawnLocalnet, tempHome, waitForHeight } from "../util/node";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();
const sha256hex = async (b: Uint8Array) => hex(new Uint8Array(await crypto.subtle.digest("SHA-256", b)));

describe("crash recovery", () => {
  const home = tempHome("backstop-crash-");
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("kill -9 under load, restart: committed txs and hashes survive", async () => {
    const accounts = await localnetAccounts();
    const [alice, bob] = [accounts[1], accounts[2]];
    const N = 400;
    const txs = Array.from({ length: N }, (_, i) => signTx(alice, [msgSend(alice.address, bob.address, String(i + 1))], { accountNumber: 1n, sequence: BigInt(i) }));
    const hashes = await Promise.all(txs.map(sha256hex));

    let node = await spawnLocalnet({ home, blockTime: "100ms" });
    // Send txs steadily; after 40 of them, note which are committed, then kill -9 mid-stream.
    const committed = new Map<string, { height: string; code: number }>();
    let sent = 0;
    const sender = (async () => {
      for (; sent < N; sent++) {
        const r = await rpcCall(node.rpc, "broadcast_tx_sync", { tx: Buffer.from(txs[sent]).toString("base64") }).catch(() => null);
        if (!r) return; // the node is gone
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    while (sent < 40) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < sent; i++) {
      const r = await rpcCall(node.rpc, "tx", { hash: "0x" + hashes[i] });
      if (r.result) committed.set(hashes[i], { height: r.result.height, code: r.result.tx_result.code ?? 0 });
    }
    const status = await rpcCall(node.rpc, "status");
    const top = Number(status.result.sync_info.latest_block_height);
    const before = new Map<number, { hash: string; appHash: string }>();
    for (let h = 1; h <= top; h++) {
      const b = (await rpcCall(node.rpc, "block", { height: String(h) })).result;
      before.set(h, { hash: b.block_id.hash, appHash: b.block.header.app_hash });
    }
    const sentAtKill = sent;
    await node.kill(); // SIGKILL while the sender is still sending
    await sender;
    expect(sentAtKill).toBeLessThan(N);
    expect(committed.size).toBeGreaterThan(10);
    expect(before.size).toBeGreaterThan(3);

    node = await spawnLocalnet({ home, blockTime: "100ms" });
    try {
      await waitForHeight(node.rpc, top + 2);
      for (const [hash, want] of committed) {
        const r = await rpcCall(node.rpc, "tx", { hash: "0x" + hash });
        expect(r.result?.height).toBe(want.height);
        expect(r.result.tx_result.code ?? 0).toBe(want.code);
      }
      for (const [h, want] of before) {
        const b = (await rpcCall(node.rpc, "block", { height: String(h) })).result;
        expect({ h, hash: b.block_id.hash, appHash: b.block.header.app_hash }).toEqual({ h, ...want });
      }
      // The chain goes on: alice's sequence continues from what was committed and the rest of her txs are accepted.
      let next = 0;
      for (let i = 0; i < N; i++) if ((await rpcCall(node.rpc, "tx", { hash: "0x" + hashes[i] })).result) next = i + 1;
      for (let i = next; i < N; i++) {
        const r = await rpcCall(node.rpc, "broadcast_tx_sync", { tx: Buffer.from(txs[i]).toString("base64") });
        expect(r.result.code).toBe(0);
      }
      const last = await rpcCall(node.rpc, "broadcast_tx_commit", { tx: Buffer.from(signTx(alice, [msgSend(alice.address, bob.address, "1")], { accountNumber: 1n, sequence: BigInt(N) })).toString("base64") });
      expect(last.result.tx_result.code).toBe(0);
    } finally {
      await node.stop();
    }
  });
});
