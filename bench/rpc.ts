/**
 * End-to-end throughput through the RPC (SPEC §5): a node process (`backstop localnet`,
 * 1 s blocks) and this process as the load generator, broadcasting pre-signed bank sends
 * with `broadcast_tx_sync` over keep-alive HTTP, one request per tx, from `senders`
 * accounts in parallel (each its own connection, its txs in sequence order, the next sent
 * when the last is answered). Beyond the localnet's ten accounts, senders are funded by
 * them in a setup phase before the clock starts. The figure is committed transactions per
 * second, from the first broadcast until the last is in a block.
 *
 * With `batch` > 1 each sender posts its txs as JSON-RPC batches of that many requests
 * (what CosmJS's HttpBatchClient sends); the node runs each request of a batch in order,
 * the same CheckTx and mempool path, so the difference is the HTTP framing per tx.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { createHash } from "node:crypto";
import secp256k1 from "secp256k1";
import { toBech32 } from "@cosmjs/encoding";
import { BaseAccount } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { QueryAccountRequest, QueryAccountResponse } from "cosmjs-types/cosmos/auth/v1beta1/query";
import { spawnLocalnet, rpcCall } from "../test/util/node";
import { localnetAccounts, msgSend, signTx, TestAccount } from "../test/util/localnet";
import { pubkeyToAddressBytes } from "../chain/crypto/keys";
import type { Benchmark } from "./suite";

interface Sender {
  readonly account: TestAccount;
  readonly accountNumber: bigint;
}

/**
 * The localnet's ten accounts, then `n − 10` more (deterministic keys), funded by the ten
 * (one multi-send each) and committed; returns each with its account number.
 */
async function senders(rpc: string, n: number): Promise<Sender[]> {
  const base = await localnetAccounts();
  const out: Sender[] = base.map((account, i) => ({ account, accountNumber: BigInt(i) }));
  if (n <= base.length) return out.slice(0, n);
  const extra: TestAccount[] = [];
  for (let i = base.length; i < n; i++) {
    const privkey = createHash("sha256").update(`backstop bench sender ${i}`).digest();
    const pubkey = secp256k1.publicKeyCreate(privkey, true);
    extra.push({ name: `sender${i}`, address: toBech32("backstop", pubkeyToAddressBytes(pubkey)), privkey, pubkey });
  }
  const funding = base.map((a, i) => {
    const mine = extra.filter((_, j) => j % base.length === i);
    return Buffer.from(signTx(a, mine.map((e) => msgSend(a.address, e.address, "100000000")), { accountNumber: BigInt(i), sequence: 0n, gasLimit: 200_000n + 40_000n * BigInt(mine.length) })).toString("base64");
  });
  for (const r of await Promise.all(funding.map((tx) => rpcCall(rpc, "broadcast_tx_commit", { tx })))) {
    if (r.result?.check_tx?.code !== 0 || r.result?.tx_result?.code !== 0) throw new Error(`funding the bench senders failed: ${JSON.stringify(r.result ?? r.error)}`);
  }
  for (const account of extra) {
    const q = await rpcCall(rpc, "abci_query", { path: "/cosmos.auth.v1beta1.Query/Account", data: Buffer.from(QueryAccountRequest.encode({ address: account.address }).finish()).toString("hex") });
    const any = QueryAccountResponse.decode(Buffer.from(q.result.response.value, "base64")).account!;
    out.push({ account, accountNumber: BaseAccount.decode(any.value).accountNumber });
  }
  return out;
}

const now = () => process.hrtime.bigint(); // determinism-ok: benchmark timing

/**
 * CPU seconds used so far by a process's main thread and by its other threads together
 * (the RPC transport's worker, LMDB's writer, V8's helpers), from Linux's /proc (empty
 * elsewhere).
 */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  const tick = 100; // USER_HZ on Linux
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1");
      const close = stat.lastIndexOf(")");
      const name = tid === String(pid) ? "main" : "other threads";
      const f = stat.slice(close + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / tick); // utime + stime
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** "main 62%, worker 12%, …": each thread's share of a core between two readings. */
function threadShares(before: Map<string, number>, after: Map<string, number>, secs: number, txs: number): string {
  const parts: string[] = [];
  for (const [name, t] of after) {
    const used = t - (before.get(name) ?? 0);
    if (used / secs >= 0.02) parts.push(`${name} ${Math.round((used / secs) * 100)}%${name === "main" ? ` (${Math.round((used / txs) * 1e6)} µs/tx)` : ""}`);
  }
  return parts.join(", ");
}

/**
 * The load generator's client: node:http over keep-alive connections, one per sender (up
 * to 64 senders; fetch costs several times as much CPU per request, and the load
 * generator shares the machine's two cores with the node).
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

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

export function rpcBench(total: number, o: { batch?: number; senders?: number; name: string; figure: string }): Benchmark {
  const batch = o.batch ?? 1;
  const parallel = o.senders ?? 10;
  return {
    name: o.name,
    description: `${total} pre-signed bank sends through broadcast_tx_sync to a separate node process from ${parallel} senders${batch > 1 ? `, in JSON-RPC batches of ${batch}` : ""}`,
    async run() {
      const node = await spawnLocalnet({ blockTime: "1s" });
      const figure = o.figure;
      try {
        const from = await senders(node.rpc, parallel);
        const accounts = from.map((s) => s.account);
        const seq = accounts.map((a, i) => (i < 10 && parallel > 10 ? 1n : 0n)); // the ten funded the rest with one tx each
        const txs: string[] = [];
        for (let i = 0; i < total; i++) {
          const a = i % accounts.length;
          const to = accounts[(a + 1) % accounts.length];
          txs.push(Buffer.from(signTx(accounts[a], [msgSend(accounts[a].address, to.address, "1")], { accountNumber: from[a].accountNumber, sequence: seq[a]++ })).toString("base64"));
        }
        const startHeight = Number((await rpcCall(node.rpc, "status")).result.sync_info.latest_block_height);
        const t0 = now();
        const cpu0 = process.cpuUsage();
        const threads0 = threadCpu(node.proc.pid!);
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
        const threads = threadShares(threads0, threadCpu(node.proc.pid!), secs, committed);
        const cpu = process.cpuUsage(cpu0);
        const loadCpu = (cpu.user + cpu.system) / 1e6 / secs; // the load generator's share of a core
        return { figures: { [figure]: Math.round(committed / secs) }, notes: `${committed} committed in ${secs.toFixed(1)} s (${rejected} rejected), ${parallel} senders in parallel${batch > 1 ? ` in batches of ${batch}` : ""}, 1 s blocks, the load generator at ${Math.round(loadCpu * 100)}% of a core${threads ? `; node threads: ${threads}` : ""}` };
      } finally {
        await node.stop();
        rmSync(node.home, { recursive: true, force: true });
      }
    },
  };
}
