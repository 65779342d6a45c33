/**
 * Bad RPC input: unknown methods, bad parameters, malformed JSON, garbage and oversized
 * transactions each get a JSON-RPC error (or, for well-formed but invalid transactions,
 * CheckTx's registered error), and the node keeps working.
 */
import { rmSync } from "node:fs";
import { TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { localnetAccounts, msgSend, signTx } from "../util/localnet";
import { NodeProcess, rpcCall, spawnLocalnet } from "../util/node";

describe("RPC input validation", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await spawnLocalnet({ blockTime: "200ms" });
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(node.home, { recursive: true, force: true });
  });

  const post = async (body: string) => {
    const r = await fetch(node.rpc, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: r.status, json: (await r.json()) as any };
  };

  it("rejects bad requests with JSON-RPC errors and keeps serving", async () => {
    expect((await rpcCall(node.rpc, "no_such_method")).error.code).toBe(-32601);
    expect((await rpcCall(node.rpc, "block", { height: "abc" })).error.code).toBe(-32602);
    expect((await rpcCall(node.rpc, "block", { height: "99999999" })).error).toBeDefined();
    expect((await rpcCall(node.rpc, "tx", { hash: "zz" })).error.code).toBe(-32602);
    expect((await post("{not json")).json.error.code).toBe(-32700);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 1 }))).json.error.code).toBe(-32600);

    // Not base64 at all, and larger than the node accepts: JSON-RPC errors.
    expect((await rpcCall(node.rpc, "broadcast_tx_sync", { tx: "***" })).error.code).toBe(-32602);
    const huge = Buffer.alloc(2 * 1024 * 1024, 7).toString("base64");
    const big = await post(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "broadcast_tx_sync", params: { tx: huge } }));
    expect(big.json.error).toBeDefined();

    // Well-formed base64 of garbage bytes: CheckTx answers with sdk/2 (tx parse error).
    const garbage = await rpcCall(node.rpc, "broadcast_tx_sync", { tx: Buffer.from("definitely not a tx").toString("base64") });
    expect(garbage.result.code).toBe(2);
    expect(garbage.result.codespace).toBe("sdk");
    expect((await rpcCall(node.rpc, "num_unconfirmed_txs")).result.n_txs).toBe("0");

    // A GET with URI parameters is served too, and the node still takes a valid tx.
    const health = await fetch(`${node.rpc}/health`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`${node.rpc}/metrics`)).text();
    expect(Number(/^backstop_height (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^backstop_mempool_size \d+$/m);
    const accounts = await localnetAccounts();
    const tx = signTx(accounts[3], [msgSend(accounts[3].address, accounts[4].address, "77")], { accountNumber: 3n, sequence: 0n });
    const ok = await rpcCall(node.rpc, "broadcast_tx_commit", { tx: Buffer.from(tx).toString("base64") });
    expect(ok.result.check_tx.code).toBe(0);
    expect(ok.result.tx_result.code).toBe(0);
    expect(Number(ok.result.height)).toBeGreaterThan(0);
  });

  it("still refuses bad signatures from a sender whose txs the transport pre-verifies", async () => {
    const accounts = await localnetAccounts();
    const [from, to] = [accounts[5], accounts[6]];
    const send = (sequence: bigint, o: { chainId?: string } = {}) => signTx(from, [msgSend(from.address, to.address, "5")], { accountNumber: 5n, sequence, ...o });
    const b64 = (tx: Uint8Array) => Buffer.from(tx).toString("base64");
    // The first accepted tx tells the transport this sender's account number.
    expect((await rpcCall(node.rpc, "broadcast_tx_commit", { tx: b64(send(0n)) })).result.tx_result.code).toBe(0);
    const tampered = TxRaw.decode(send(1n));
    tampered.signatures[0] = Buffer.from(tampered.signatures[0]).fill(9, 40, 44);
    const bad = await rpcCall(node.rpc, "broadcast_tx_sync", { tx: b64(TxRaw.encode(tampered).finish()) });
    expect([bad.result.codespace, bad.result.code]).toEqual(["sdk", 4]);
    expect(bad.result.log).toMatch(/signature verification failed/);
    const wrongChain = await rpcCall(node.rpc, "broadcast_tx_sync", { tx: b64(send(1n, { chainId: "other-chain" })) });
    expect([wrongChain.result.codespace, wrongChain.result.code]).toEqual(["sdk", 4]);
    // In a batch, as CosmJS's HttpBatchClient sends them: the good one passes, the bad one does not.
    const batch = await post(JSON.stringify([1n, 2n].map((seq, i) => ({ jsonrpc: "2.0", id: i, method: "broadcast_tx_sync", params: { tx: b64(i === 0 ? send(seq) : TxRaw.encode({ ...TxRaw.decode(send(seq)), signatures: [Buffer.alloc(64, 3)] }).finish()) } }))));
    expect(batch.json.map((r: any) => r.result.code)).toEqual([0, 4]);
  });
});
