/** The mempool's limits: total count, per-sender count, dedup on removal, recheck eviction. */
import { Mempool, txHash, MempoolFullError } from "./mempool";
import { localnetAccounts, msgSend, signTx } from "../../test/util/localnet";

describe("mempool", () => {
  it("bounds each sender, frees the slot on removal, and evicts on recheck", async () => {
    const [, alice, bob] = await localnetAccounts();
    const pool = new Mempool(100, 1 << 20, 1 << 16, 100, 3);
    const tx = (who: typeof alice, i: number) => signTx(who, [msgSend(who.address, bob.address, "1")], { accountNumber: 1n, sequence: BigInt(i) });
    const add = (t: Uint8Array) => pool.add({ tx: t, hash: txHash(t), gasWanted: 1n });
    for (let i = 0; i < 3; i++) add(tx(alice, i));
    expect(() => add(tx(alice, 3))).toThrow(MempoolFullError);
    expect(() => pool.admit(tx(alice, 3))).toThrow(/sender has 3 transactions/);
    expect(() => pool.admit(tx(bob, 0))).not.toThrow();
    add(tx(bob, 0)); // another sender is not affected
    expect(pool.size).toBe(4);
    pool.remove(txHash(tx(alice, 0)));
    add(tx(alice, 3));
    expect(pool.size).toBe(4);
    expect(pool.recheck((t) => t.hash !== txHash(tx(bob, 0)))).toBe(1);
    expect(pool.size).toBe(3);
    const small = new Mempool(2);
    small.add({ tx: tx(alice, 0), hash: "A", gasWanted: 1n });
    small.add({ tx: tx(bob, 0), hash: "B", gasWanted: 1n });
    expect(() => small.add({ tx: tx(bob, 1), hash: "C", gasWanted: 1n })).toThrow(/mempool is full/);
  });
});
