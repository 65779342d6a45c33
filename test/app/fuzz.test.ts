/**
 * Fuzzing the application (fast-check): blocks of random transactions — valid and
 * invalid Msgs of every module, and malformed bytes (garbage, truncations, flipped
 * signature bits, wrong chain id, wrong sequence) — never crash it, and after every
 * block the invariants of SPEC §3.9 hold: solvency, balanced books, uusdc supply
 * unchanged, and every pool's share supply equal to LP + escrowed + locked shares.
 */
import fc from "fast-check";
import { chain, msg, Chain } from "../util/chain";
import { runBlock, signTx, TestAccount, msgSend } from "../util/localnet";
import * as ClTx from "../../client/src/generated/backstop/clearing/v1/tx";
import * as ClQ from "../../client/src/generated/backstop/clearing/v1/query";
import * as MarginTx from "../../client/src/generated/backstop/margin/v1/tx";
import * as InsTx from "../../client/src/generated/backstop/insurance/v1/tx";
import * as InsQ from "../../client/src/generated/backstop/insurance/v1/query";
import * as OracleTx from "../../client/src/generated/backstop/oracle/v1/tx";
import { QueryAccountRequest, QueryAccountResponse } from "cosmjs-types/cosmos/auth/v1beta1/query";
import { BaseAccount } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { QuerySupplyOfRequest, QuerySupplyOfResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";
import { moduleAddress } from "../../chain/crypto/keys";

const amount = fc.oneof(fc.constantFrom("0", "-1", "1.5", "abc", "99999999999999999999999"), fc.bigInt({ min: 1n, max: 50_000_000_000n }).map(String));
const price = fc.oneof({ arbitrary: fc.constantFrom("0", "-3", "1e3", "150.0005"), weight: 1 }, { arbitrary: fc.integer({ min: 145_000, max: 155_000 }).map((t) => (t / 1000).toFixed(3)), weight: 5 });
const qty = fc.oneof({ arbitrary: fc.constantFrom("0", "0.001", "-1"), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 300 }).map((s) => (s / 100).toFixed(2)), weight: 5 });

type Action =
  | { kind: "send"; to: number; amount: string }
  | { kind: "deposit"; amount: string }
  | { kind: "withdraw"; amount: string }
  | { kind: "order"; market: string; buy: boolean; qty: string; price: string; ioc: boolean; reduce: boolean }
  | { kind: "pool"; pool: string; amount: string }
  | { kind: "poolWithdraw"; pool: string; shares: string }
  | { kind: "price"; price: string }
  | { kind: "garbage"; bytes: Uint8Array }
  | { kind: "truncate"; at: number }
  | { kind: "flip"; bit: number }
  | { kind: "wrongChain" }
  | { kind: "wrongSeq"; delta: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant("send" as const), to: fc.integer({ min: 0, max: 9 }), amount }),
  fc.record({ kind: fc.constant("deposit" as const), amount }),
  fc.record({ kind: fc.constant("withdraw" as const), amount }),
  { arbitrary: fc.record({ kind: fc.constant("order" as const), market: fc.constantFrom("SOL-USD", "SOL-USD", "SOL-USD", "NOPE-USD"), buy: fc.boolean(), qty, price, ioc: fc.boolean(), reduce: fc.boolean() }), weight: 10 },
  fc.record({ kind: fc.constant("pool" as const), pool: fc.constantFrom("alts", "majors", "nope"), amount }),
  fc.record({ kind: fc.constant("poolWithdraw" as const), pool: fc.constantFrom("alts", "majors"), shares: fc.bigInt({ min: 1n, max: 10n ** 16n }).map(String) }),
  fc.record({ kind: fc.constant("price" as const), price }),
  fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 300 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant("flip" as const), bit: fc.integer({ min: 0, max: 511 }) }),
  fc.record({ kind: fc.constant("wrongChain" as const) }),
  fc.record({ kind: fc.constant("wrongSeq" as const), delta: fc.constantFrom(-1, 1, 5) }),
);

function sequenceOf(c: Chain, who: TestAccount): bigint {
  const r = c.app.query({ path: "/cosmos.auth.v1beta1.Query/Account", data: QueryAccountRequest.encode({ address: who.address }).finish(), height: 0n, prove: false });
  return BaseAccount.decode(QueryAccountResponse.decode(r.value).account!.value).sequence;
}

function build(c: Chain, who: TestAccount, a: Action, seq: bigint): Uint8Array {
  const i = BigInt(c.accounts.indexOf(who));
  const sign = (m: ReturnType<typeof msg>, o: { chainId?: string; sequence?: bigint } = {}) => signTx(who, [m], { accountNumber: i, sequence: o.sequence ?? seq, chainId: o.chainId });
  const plain = () => sign(msgSend(who.address, c.accounts[0].address, "1"));
  switch (a.kind) {
    case "send":
      return sign(msgSend(who.address, c.accounts[a.to].address, a.amount));
    case "deposit":
      return sign(msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner: who.address, amount: { denom: "uusdc", amount: a.amount } }));
    case "withdraw":
      return sign(msg("/backstop.margin.v1.MsgWithdraw", MarginTx.MsgWithdraw, { owner: who.address, amount: { denom: "uusdc", amount: a.amount } }));
    case "order":
      return sign(msg("/backstop.clearing.v1.MsgPlaceOrder", ClTx.MsgPlaceOrder, { owner: who.address, marketId: a.market, side: a.buy ? 1 : 2, price: a.price, quantity: a.qty, timeInForce: a.ioc ? 2 : 1, reduceOnly: a.reduce }));
    case "pool":
      return sign(msg("/backstop.insurance.v1.MsgDeposit", InsTx.MsgDeposit, { depositor: who.address, poolId: a.pool, amount: { denom: "uusdc", amount: a.amount } }));
    case "poolWithdraw":
      return sign(msg("/backstop.insurance.v1.MsgRequestWithdrawal", InsTx.MsgRequestWithdrawal, { owner: who.address, poolId: a.pool, shares: a.shares }));
    case "price":
      return sign(msg("/backstop.oracle.v1.MsgSubmitPrice", OracleTx.MsgSubmitPrice, { feeder: who.address, ticker: "SOL-USD", price: a.price }));
    case "garbage":
      return a.bytes;
    case "truncate": {
      const t = plain();
      return t.subarray(0, Math.min(a.at, t.length - 1));
    }
    case "flip": {
      const t = Buffer.from(plain());
      const pos = t.length - 64 + (a.bit >> 3); // inside the signature (the last field of TxRaw)
      t[pos] ^= 1 << (a.bit & 7);
      return t;
    }
    case "wrongChain":
      return sign(msgSend(who.address, c.accounts[0].address, "1"), { chainId: "other-chain" });
    case "wrongSeq":
      return sign(msgSend(who.address, c.accounts[0].address, "1"), { sequence: seq + BigInt(a.delta) });
  }
}

describe("fuzz", () => {
  it("random and malformed transactions never break the invariants", async () => {
    const outcomes = { ok: 0, failed: 0, fills: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.tuple(fc.integer({ min: 1, max: 9 }), action), { maxLength: 9 }), { minLength: 2, maxLength: 6 }), async (blocks) => {
        // Epochs every 3 blocks, so that the epoch's snapshots and rebalancing run between the random blocks too.
        const c = await chain((s) => (s.insurance.params.epoch_blocks = "3"));
        c.block([]);
        // Everyone starts with 10,000 USDC of free collateral, so that some orders trade.
        c.block(c.accounts.slice(1).map((a) => [a, [msg("/backstop.margin.v1.MsgDeposit", MarginTx.MsgDeposit, { owner: a.address, amount: { denom: "uusdc", amount: "10000000000" } })]]));
        const supply = () => {
          const r = c.app.query({ path: "/cosmos.bank.v1beta1.Query/SupplyOf", data: QuerySupplyOfRequest.encode({ denom: "uusdc" }).finish(), height: 0n, prove: false });
          return BigInt(QuerySupplyOfResponse.decode(r.value).amount!.amount);
        };
        const supply0 = supply();
        let height = c.height;
        for (const b of blocks) {
          const used = new Set<number>();
          const txs: Uint8Array[] = [];
          for (const [who, a] of b) {
            if (used.has(who)) continue; // one tx per signer per block keeps sequences simple
            used.add(who);
            const acc = c.accounts[who];
            txs.push(build(c, acc, a, sequenceOf(c, acc)));
          }
          height += 1n;
          const res = runBlock(c.app, height, txs);
          expect(res.txResults).toHaveLength(txs.length);
          for (const r of res.txResults) {
            if (r.code !== 0) expect(r.codespace).not.toBe("");
            outcomes[r.code === 0 ? "ok" : "failed"]++;
          }
          outcomes.fills += res.events.filter((e) => e.type === "backstop.clearing.v1.EventFill").length;
          const s = c.query("/backstop.clearing.v1.Query/Solvency", ClQ.QuerySolvencyRequest, ClQ.QuerySolvencyResponse, {});
          expect(s.holds).toBe(true);
          for (const m of s.markets) expect(m.longSize).toBe(m.shortSize);
          expect(supply()).toBe(supply0);
          // Each owner's open-order count per market is the number of its live orders there.
          const q = c.app.queryContext();
          for (const a of c.accounts) {
            const live = c.app.modules.clearing.ordersOf(q, a.address);
            for (const m of c.app.modules.markets.all(q)) expect(c.app.modules.clearing.openOrders(q, a.address, m.id)).toBe(live.filter((o) => o.marketId === m.id).length);
          }
          const pools = c.query("/backstop.insurance.v1.Query/Pools", InsQ.QueryPoolsRequest, InsQ.QueryPoolsResponse, {}).pools;
          expect(pools.reduce((n, p) => n + BigInt(p.balanceUusdc), 0n)).toBe(c.balance(moduleAddress("insurance")));
          for (const p of pools) {
            const held = c.accounts.reduce((n, a) => n + c.balance(a.address, p.shareDenom), 0n);
            expect(held + BigInt(p.escrowedShares) + BigInt(p.lockedShares)).toBe(BigInt(p.totalShares));
            expect(c.balance(moduleAddress("insurance"), p.shareDenom)).toBe(BigInt(p.escrowedShares) + BigInt(p.lockedShares));
          }
        }
        c.app.close();
      }),
      { numRuns: 40, seed: 2026 },
    );
    // The generated flows exercise both outcomes, and some orders trade.
    expect(outcomes.ok).toBeGreaterThan(20);
    expect(outcomes.failed).toBeGreaterThan(20);
    expect(outcomes.fills).toBeGreaterThan(0);
  });
});
