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
import net from "node:net";
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
 * The load generator's client: one keep-alive HTTP/1.1 connection per sender, written
 * directly on a TCP socket — each request one write of its request line, headers and JSON
 * body; each response read to its Content-Length and parsed. The load generator shares the
 * machine's two cores with the node, so its own cost per request is kept small: node:http
 * took about 100 µs of CPU per request (a third of a core at 3,300 requests/s), fetch
 * several times that. One request is in flight per connection (no pipelining), as with
 * any HTTP client waiting for each answer.
 */
class Connection {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (v: any) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;

  constructor(
    private readonly host: string,
    port: number,
  ) {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => this.read(chunk));
    const fail = (e: Error) => {
      this.failed = e;
      this.waiting?.reject(e);
      this.waiting = null;
    };
    this.socket.on("error", fail);
    this.socket.on("close", () => fail(new Error("the node closed the connection")));
  }

  /** POSTs a JSON body to / and resolves with the parsed JSON response (rejects on a non-200 status). */
  post(body: unknown): Promise<any> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.waiting) return Promise.reject(new Error("one request at a time per connection"));
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(`POST / HTTP/1.1\r\nhost: ${this.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const end = this.buffered.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.buffered.toString("latin1", 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const w = this.waiting;
    if (!length || / 200 /.exec(head.slice(0, head.indexOf("\r\n"))) === null) {
      this.waiting = null;
      this.socket.destroy();
      w?.reject(new Error(`unexpected response: ${head.split("\r\n")[0]}${length ? "" : " (no content-length)"}`));
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.buffered.length < total) return;
    const body = this.buffered.toString("utf8", end + 4, total);
    this.buffered = this.buffered.subarray(total);
    this.waiting = null;
    try {
      w?.resolve(JSON.parse(body));
    } catch (e) {
      w?.reject(e as Error);
    }
  }
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
        const seq = accounts.map((_, i) => (i < 10 && parallel > 10 ? 1n : 0n)); // the ten funded the rest with one tx each
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
        const connections = byAccount.map(() => new Connection("127.0.0.1", node.port));
        try {
          await Promise.all(
            byAccount.map(async (list, a) => {
              const c = connections[a];
              for (let i = 0; i < list.length; i += batch) {
                const part = list.slice(i, i + batch);
                const rs: any[] =
                  batch > 1
                    ? await c.post(part.map((tx, j) => ({ jsonrpc: "2.0", id: i + j, method: "broadcast_tx_sync", params: { tx } })))
                    : [await c.post({ jsonrpc: "2.0", id: i, method: "broadcast_tx_sync", params: { tx: part[0] } })];
                for (const r of rs) if (!r.result || r.result.code !== 0) rejected++;
                next += part.length;
              }
            }),
          );
        } finally {
          for (const c of connections) c.close();
        }
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
