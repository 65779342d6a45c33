/** The benchmarks (SPEC §5). Timing here is measurement, not consensus code. */
import secp256k1 from "secp256k1";
import { createHash, randomBytes } from "node:crypto";
import { BackstopApp } from "../chain/app/app";
import { riskBench } from "./risk";
import { rpcBench } from "./rpc";
import { initLocalnetApp, msgSend, runBlock, signTx, TestAccount } from "../test/util/localnet";

export interface BenchResult {
  readonly figures: Record<string, number>;
  readonly notes?: string;
}

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  run(): Promise<BenchResult>;
}

const now = () => process.hrtime.bigint(); // determinism-ok: benchmark timing
const seconds = (from: bigint) => Number(now() - from) / 1e9;

/** Raw secp256k1 verifications per second on one core: the ceiling for signed throughput. */
const sigVerify: Benchmark = {
  name: "sig_verify",
  description: "native libsecp256k1 ecdsaVerify, one core, with the key parsed in advance as the chain's verifier keeps it",
  async run() {
    const priv = randomBytes(32);
    const pub = secp256k1.publicKeyCreate(priv, false); // uncompressed: no square root per verification
    const msgs = Array.from({ length: 1000 }, (_, i) => createHash("sha256").update(String(i)).digest());
    const sigs = msgs.map((m) => secp256k1.ecdsaSign(m, priv).signature);
    let n = 0;
    const t = now();
    while (seconds(t) < 3) {
      for (let i = 0; i < msgs.length; i++) if (secp256k1.ecdsaVerify(sigs[i], msgs[i], pub)) n++;
    }
    return { figures: { sig_verify_per_s: Math.round(n / seconds(t)) } };
  },
};

/**
 * FinalizeBlock throughput with pre-signed transactions: decode, verify, execute and
 * commit, through the ABCI interface, on an application on disk.
 */
export function finalizeBlockBench(
  makeTxs: (accounts: TestAccount[], count: number) => Promise<Uint8Array[]>,
  label: string,
  o: { name?: string; figure?: string; setup?: () => Promise<{ accounts: TestAccount[]; edit: (state: Record<string, any>) => void }> } = {},
): Benchmark {
  return {
    name: o.name ?? "finalize_block",
    description: `FinalizeBlock + Commit with pre-signed ${label}`,
    async run() {
      const { mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join } = await import("node:path");
      const dir = mkdtempSync(join(tmpdir(), "backstop-bench-"));
      const extra = o.setup ? await o.setup() : undefined;
      const { app, accounts: base } = await initLocalnetApp(dir, extra?.edit);
      const accounts = extra ? extra.accounts : base;
      runBlock(app, 1n, []);
      const perBlock = 5000;
      const blocks = 4;
      const txs = await makeTxs(accounts, perBlock * blocks);
      let ok = 0;
      const t = now();
      const cpu0 = process.cpuUsage();
      for (let b = 0; b < blocks; b++) {
        const r = runBlock(app, BigInt(b + 2), txs.slice(b * perBlock, (b + 1) * perBlock));
        ok += r.txResults.filter((x) => x.code === 0).length;
      }
      const s = seconds(t);
      // CPU time of this process over the blocks: steadier than wall time on a shared VM.
      const cpu = process.cpuUsage(cpu0);
      const cpuUsPerTx = (cpu.user + cpu.system) / (perBlock * blocks);
      app.close();
      rmSync(dir, { recursive: true, force: true });
      if (ok !== perBlock * blocks) throw new Error(`only ${ok} of ${perBlock * blocks} txs succeeded`);
      return { figures: { [o.figure ?? "finalize_block_tx_per_s"]: Math.round(ok / s) }, notes: `${blocks} blocks of ${perBlock} ${label}; ${cpuUsPerTx.toFixed(0)} µs of CPU per tx` };
    },
  };
}

/** Pre-signed bank sends round-robin over the ten localnet accounts. */
async function bankSends(accounts: TestAccount[], count: number): Promise<Uint8Array[]> {
  const seq = accounts.map(() => 0n);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const a = i % accounts.length;
    const to = accounts[(a + 1) % accounts.length];
    out.push(signTx(accounts[a], [msgSend(accounts[a].address, to.address, "1")], { accountNumber: BigInt(a), sequence: seq[a]++ }));
  }
  return out;
}

/**
 * 1,000 traders (beyond the localnet's ten), each with 10,000 USDC of free collateral in
 * genesis; their account numbers follow the localnet's.
 */
async function traders(count = 1000): Promise<{ accounts: TestAccount[]; edit: (state: Record<string, any>) => void }> {
  const { toBech32 } = await import("@cosmjs/encoding");
  const { pubkeyToAddressBytes, moduleAddress } = await import("../chain/crypto/keys");
  const accounts: TestAccount[] = [];
  for (let i = 0; i < count; i++) {
    const privkey = createHash("sha256").update(`backstop bench trader ${i}`).digest();
    const pubkey = secp256k1.publicKeyCreate(privkey, true);
    accounts.push({ name: `trader${i}`, address: toBech32("backstop", pubkeyToAddressBytes(pubkey)), privkey, pubkey });
  }
  const free = 10_000_000_000n;
  return {
    accounts,
    edit(state) {
      for (const a of accounts) {
        state.auth.accounts.push({ address: a.address, account_number: "0", sequence: "0" });
        state.bank.balances.push({ address: a.address, coins: [{ denom: "uusdc", amount: "1000000000" }] });
        state.margin.accounts.push({ owner: a.address, free_collateral_uusdc: free.toString() });
      }
      state.bank.balances.push({ address: moduleAddress("margin"), coins: [{ denom: "uusdc", amount: (free * BigInt(accounts.length)).toString() }] });
    },
  };
}

/**
 * A signed tx placing 0.001 BTC-USD for trader `a` (account number 10 + a), with the next
 * of `seq`'s sequences for it. Side 1 buys, 2 sells; time in force 1 gtc, 2 ioc.
 */
async function orderSigner(accounts: TestAccount[]): Promise<(a: number, side: 1 | 2, price: string, tif?: number, clientId?: bigint) => Uint8Array> {
  const { MsgPlaceOrder } = await import("../client/src/generated/backstop/clearing/v1/tx");
  const seq = accounts.map(() => 0n);
  return (a, side, price, tif = 1, clientId = 0n) => {
    const value = MsgPlaceOrder.encode({ owner: accounts[a].address, marketId: "BTC-USD", side, price, quantity: "0.001", timeInForce: tif, reduceOnly: false, clientId }).finish();
    return signTx(accounts[a], [{ typeUrl: "/backstop.clearing.v1.MsgPlaceOrder", value }], { accountNumber: BigInt(10 + a), sequence: seq[a]++ });
  };
}

/** Pre-signed orders: trader 2k buys and 2k+1 sells 0.001 BTC at 60,000, so every block's auction matches them all. */
async function orders(accounts: TestAccount[], count: number): Promise<Uint8Array[]> {
  const place = await orderSigner(accounts);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const a = i % accounts.length;
    out.push(place(a, a % 2 === 0 ? 1 : 2, "60000", 1, BigInt(i)));
  }
  return out;
}

/**
 * A deep book: 1,000 traders rest 100 orders each (bids 59,000 down to 58,010, asks
 * 61,000 up to 61,990, none crossing), and the cost of a block whose auction matches one
 * pair is measured with 10,000 and with 100,000 orders resting. The auction reads only
 * the orders it can fill, from the book's price index, so the two should be alike.
 */
const bookDepth: Benchmark = {
  name: "book_depth",
  description: "a block matching one pair of orders, with 10,000 and 100,000 orders resting in the book",
  async run() {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "backstop-bench-"));
    const t = await traders(1002);
    const { app } = await initLocalnetApp(dir, t.edit);
    const resting = t.accounts.slice(0, 1000); // accounts 1000 and 1001 make the matching pairs
    const place = await orderSigner(t.accounts);
    let height = 1n;
    runBlock(app, height++, []);
    const ok = (r: ReturnType<typeof runBlock>) => {
      const bad = r.txResults.find((x) => x.code !== 0);
      if (bad) throw new Error(`order failed: ${bad.log}`);
    };
    // Five blocks, each matching one new pair at 60,000 (ioc, so nothing of them rests).
    const measure = () => {
      const ms: number[] = [];
      for (let i = 0; i < 5; i++) {
        const txs = [place(1000, 1, "60000", 2), place(1001, 2, "60000", 2)];
        const start = now();
        const r = runBlock(app, height++, txs);
        ms.push(Number(now() - start) / 1e6);
        ok(r);
        if (!r.events.some((e) => e.type === "backstop.clearing.v1.EventAuctionCleared" && e.attributes.some((a) => a.key === "result" && a.value.includes('"cleared":true')))) throw new Error("the pair did not match");
      }
      return ms.sort((a, b) => a - b)[2];
    };
    const figures: Record<string, number> = {};
    let rest = 0;
    for (const target of [10_000, 100_000]) {
      while (rest < target) {
        const txs: Uint8Array[] = [];
        for (let k = 0; k < 5000; k++, rest++) {
          const a = rest % resting.length;
          const level = Math.floor(rest / resting.length);
          txs.push(a % 2 === 0 ? place(a, 1, String(59_000 - level * 10)) : place(a, 2, String(61_000 + level * 10)));
        }
        ok(runBlock(app, height++, txs));
      }
      figures[`book_block_ms_${target / 1000}k`] = Math.round(measure() * 100) / 100;
    }
    app.close();
    rmSync(dir, { recursive: true, force: true });
    return { figures, notes: "FinalizeBlock + Commit of a block with one matching pair of ioc orders, median of 5 blocks" };
  },
};

const scale = Number(process.env.BENCH_POSITIONS ?? 1_000_000);
export const benchmarks: Benchmark[] = [
  sigVerify,
  finalizeBlockBench(orders, "order transactions (matched in each block's auction)", { setup: traders }),
  finalizeBlockBench(bankSends, "bank sends", { name: "finalize_block_bank", figure: "finalize_block_bank_tx_per_s" }),
  rpcBench(60_000, { name: "rpc_e2e", figure: "rpc_e2e_tx_per_s", senders: 50 }),
  rpcBench(20_000, { name: "rpc_e2e_10", figure: "rpc_e2e_10_senders_tx_per_s", senders: 10 }),
  rpcBench(40_000, { name: "rpc_e2e_batched", figure: "rpc_e2e_batched_tx_per_s", batch: 50 }),
  bookDepth,
  riskBench(scale, Math.min(10_000, scale / 10)),
];

export type { BackstopApp };
