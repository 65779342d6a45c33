/**
 * End-to-end throughput through the RPC (SPEC §5): a node process (`backstop localnet`,
 * 1 s blocks) and this process as the load generator, broadcasting pre-signed bank sends
 * with `broadcast_tx_sync` over keep-alive HTTP, one request per tx, ten senders (one per
 * localnet account, each in sequence order) in parallel. The figure is committed
 * transactions per second, from the first broadcast until the last is in a block.
 *
 * With `batch` > 1 each sender posts its txs as JSON-RPC batches of that many requests
 * (what CosmJS's HttpBatchClient sends); the node runs each request of a batch in order,
 * the same CheckTx and mempool path, so the difference is the HTTP framing per tx.
 */
import { rmSync } from "node:fs";
import http from "node:http";
import { spawnLocalnet, rpcCall } from "../test/util/node";
import { localnetAccounts, msgSend, signTx } from "../test/util/localnet";
import type { Benchmark } from "./suite";

const now = () => process.hrtime.bigint(); // determinism-ok: benchmark timing

/**
 * The load generator's client: node:http over keep-alive connections, one per sender
 * (fetch costs several times as much CPU per request, and the load generator shares the
 * machine's two cores with the node).
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function post(rpc: string, body: unknown): Promise<any> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(rpc, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": payload.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch (e) {
          reject(e);
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

export function rpcBench(total: number, batch = 1): Benchmark {
  const figure = batch > 1 ? "rpc_e2e_batched_tx_per_s" : "rpc_e2e_tx_per_s";
  return {
    name: batch > 1 ? "rpc_e2e_batched" : "rpc_e2e",
    description: `${total} pre-signed bank sends through broadcast_tx_sync to a separate node process${batch > 1 ? `, in JSON-RPC batches of ${batch}` : ""}`,
    async run() {
      const node = await spawnLocalnet({ blockTime: "1s" });
      try {
        const accounts = await localnetAccounts();
        const seq = accounts.map(() => 0n);
        const txs: string[] = [];
        for (let i = 0; i < total; i++) {
          const a = i % accounts.length;
          const to = accounts[(a + 1) % accounts.length];
          txs.push(Buffer.from(signTx(accounts[a], [msgSend(accounts[a].address, to.address, "1")], { accountNumber: BigInt(a), sequence: seq[a]++ })).toString("base64"));
        }
        const startHeight = Number((await rpcCall(node.rpc, "status")).result.sync_info.latest_block_height);
        const t0 = now();
        const cpu0 = process.cpuUsage();
        let next = 0;
        let rejected = 0;
        // Txs of one sender must arrive in sequence order: each worker owns one account's stream.
        const byAccount = accounts.map((_, a) => txs.filter((_, i) => i % accounts.length === a));
        await Promise.all(
          byAccount.map(async (list) => {
            for (let i = 0; i < list.length; i += batch) {
              const part = list.slice(i, i + batch);
              const rs: any[] =
                batch > 1
                  ? await post(node.rpc, part.map((tx, j) => ({ jsonrpc: "2.0", id: i + j, method: "broadcast_tx_sync", params: { tx } })))
                  : [await post(node.rpc, { jsonrpc: "2.0", id: i, method: "broadcast_tx_sync", params: { tx: part[0] } })];
              for (const r of rs) if (!r.result || r.result.code !== 0) rejected++;
              next += part.length;
            }
          }),
        );
        // Wait until every tx is in a block.
        let committed = 0;
        let h = startHeight;
        for (;;) {
          const top = Number((await rpcCall(node.rpc, "status")).result.sync_info.latest_block_height);
          for (; h < top; h++) committed += (await rpcCall(node.rpc, "block", { height: String(h + 1) })).result.block.data.txs.length;
          if (committed >= total - rejected) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const secs = Number(now() - t0) / 1e9;
        const cpu = process.cpuUsage(cpu0);
        const loadCpu = (cpu.user + cpu.system) / 1e6 / secs; // the load generator's share of a core
        return { figures: { [figure]: Math.round(committed / secs) }, notes: `${committed} committed in ${secs.toFixed(1)} s (${rejected} rejected), 10 senders in parallel${batch > 1 ? ` in batches of ${batch}` : ""}, 1 s blocks, the load generator at ${Math.round(loadCpu * 100)}% of a core` };
      } finally {
        await node.stop();
        rmSync(node.home, { recursive: true, force: true });
      }
    },
  };
}
