/**
 * Bad RPC input: unknown methods, bad parameters, malformed JSON, garbage and oversized
 * transactions each get a JSON-RPC error (or, for well-formed but invalid transactions,
 * CheckTx's registered error), and the node keeps working.
 */
import { rmSync } from "node:fs";
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
});
