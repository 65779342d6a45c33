/**
 * Soak (make test-long): the node under steady load for SOAK_SECONDS (default 180)
 * — bank sends, margin deposits and crossing orders from several accounts — with its
 * resident memory sampled; every accepted tx is committed, memory stays bounded, and
 * the solvency check holds at the end.
 */
import { QueryAccountRequest, QueryAccountResponse } from "cosmjs-types/cosmos/auth/v1beta1/query";
import { BaseAccount } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { readFileSync, rmSync } from "node:fs";
import { localnetAccounts, msgSend, signTx } from "../util/localnet";
import { rpcCall, spawnLocalnet } from "../util/node";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import { QuerySolvencyRequest, QuerySolvencyResponse } from "../../client/src/generated/backstop/clearing/v1/query";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
/** Anonymous resident memory (heap and native allocations), without LMDB's file-backed mapped pages. */
const rssMiB = (pid: number) => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const fileMiB = (pid: number) => Number(/RssFile:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

describe("soak", () => {
  it(`keeps up for ${SECONDS} s with bounded memory`, async () => {
    const node = await spawnLocalnet({ blockTime: "500ms" });
    try {
      const accounts = (await localnetAccounts()).slice(1, 8);
      const seq = accounts.map(() => 0n);
      const b64 = (u: Uint8Array) => Buffer.from(u).toString("base64");
      const send = async (i: number, msgs: { typeUrl: string; value: Uint8Array }[]) => {
        const r = await rpcCall(node.rpc, "broadcast_tx_sync", { tx: b64(signTx(accounts[i], msgs, { accountNumber: BigInt(i + 1), sequence: seq[i] })) });
        if (r.result?.code === 0) seq[i]++;
        return r.result?.code === 0;
      };
      for (let i = 0; i < accounts.length; i++) {
        await send(i, [{ typeUrl: "/backstop.margin.v1.MsgDeposit", value: MarginTx.MsgDeposit.encode({ owner: accounts[i].address, amount: { denom: "uusdc", amount: "1000000000000" } }).finish() }]);
      }
      const samples: number[] = [];
      const files: number[] = [];
      let accepted = accounts.length;
      const end = Date.now() + SECONDS * 1000;
      let n = 0;
      while (Date.now() < end) {
        const i = n % accounts.length;
        const msg =
          n % 3 === 0
            ? msgSend(accounts[i].address, accounts[(i + 1) % accounts.length].address, "1")
            : {
                typeUrl: "/backstop.clearing.v1.MsgPlaceOrder",
                value: ClTx.MsgPlaceOrder.encode({ owner: accounts[i].address, marketId: "SOL-USD", side: n % 2 === 0 ? 1 : 2, price: "150", quantity: "0.1", timeInForce: 2, reduceOnly: false, clientId: BigInt(n) }).finish(),
              };
        if (await send(i, [msg])) accepted++;
        n++;
        if (n % 500 === 0) {
          samples.push(rssMiB(node.proc.pid!));
          files.push(fileMiB(node.proc.pid!));
        }
      }
      // Every accepted tx gets committed.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const unconfirmed = Number((await rpcCall(node.rpc, "num_unconfirmed_txs")).result.n_txs);
        if (unconfirmed === 0) break;
        if (Date.now() > deadline) throw new Error(`${unconfirmed} txs still unconfirmed`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // ... and exactly those: each account's sequence on chain is the number of its accepted txs.
      for (let i = 0; i < accounts.length; i++) {
        const acc = await rpcCall(node.rpc, "abci_query", { path: "/cosmos.auth.v1beta1.Query/Account", data: Buffer.from(QueryAccountRequest.encode({ address: accounts[i].address }).finish()).toString("hex") });
        expect(acc.result.response.code ?? 0).toBe(0);
        const { account } = QueryAccountResponse.decode(Buffer.from(acc.result.response.value, "base64"));
        expect(BaseAccount.decode(account!.value).sequence).toBe(seq[i]);
      }
      const solv = await rpcCall(node.rpc, "abci_query", { path: "/backstop.clearing.v1.Query/Solvency", data: Buffer.from(QuerySolvencyRequest.encode({}).finish()).toString("hex") });
      expect(QuerySolvencyResponse.decode(Buffer.from(solv.result.response.value, "base64")).holds).toBe(true);
      expect(accepted).toBeGreaterThan(100);
      // Memory: the second half of the run grows by less than 25% over the first sample after warm-up.
      expect(samples.length).toBeGreaterThan(2);
      const warm = samples[Math.floor(samples.length / 4)];
      const last = samples[samples.length - 1];
      process.stdout.write(`soak: ${n} txs sent under load (after ${accounts.length} deposits), ${accepted} accepted in all, anonymous RSS ${samples.map((x) => x.toFixed(0)).join(" → ")} MiB; file-backed (LMDB maps) ${files[0].toFixed(0)} → ${files[files.length - 1].toFixed(0)} MiB\n`);
      expect(last).toBeLessThan(warm * 1.25 + 64);
    } finally {
      await node.stop();
      rmSync(node.home, { recursive: true, force: true });
    }
  }, (SECONDS + 120) * 1000);
});
