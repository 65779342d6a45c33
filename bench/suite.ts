/** The benchmarks (SPEC §5). Timing here is measurement, not consensus code. */
import secp256k1 from "secp256k1";
import { createHash, randomBytes } from "node:crypto";
import { BackstopApp } from "../chain/app/app";
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
  description: "native libsecp256k1 ecdsaVerify, one core",
  async run() {
    const priv = randomBytes(32);
    const pub = secp256k1.publicKeyCreate(priv, true);
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
export function finalizeBlockBench(makeTxs: (accounts: TestAccount[], count: number) => Promise<Uint8Array[]>, label: string): Benchmark {
  return {
    name: "finalize_block",
    description: `FinalizeBlock + Commit with pre-signed ${label}`,
    async run() {
      const { mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join } = await import("node:path");
      const dir = mkdtempSync(join(tmpdir(), "backstop-bench-"));
      const { app, accounts } = await initLocalnetApp(dir);
      runBlock(app, 1n, []);
      const perBlock = 5000;
      const blocks = 4;
      const txs = await makeTxs(accounts, perBlock * blocks);
      let ok = 0;
      const t = now();
      for (let b = 0; b < blocks; b++) {
        const r = runBlock(app, BigInt(b + 2), txs.slice(b * perBlock, (b + 1) * perBlock));
        ok += r.txResults.filter((x) => x.code === 0).length;
      }
      const s = seconds(t);
      app.close();
      rmSync(dir, { recursive: true, force: true });
      if (ok !== perBlock * blocks) throw new Error(`only ${ok} of ${perBlock * blocks} txs succeeded`);
      return { figures: { finalize_block_tx_per_s: Math.round(ok / s) }, notes: `${blocks} blocks of ${perBlock} ${label}` };
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

export const benchmarks: Benchmark[] = [sigVerify, finalizeBlockBench(bankSends, "bank sends")];

export type { BackstopApp };
