/**
 * Block space through a real node (security finding 4, "order flood"): with
 * max_orders_per_block lowered by the params authority, a burst of order txs from several
 * accounts, each account paying its own fee per gas and ending with a bank send, goes into
 * blocks of at most that many orders, best fee per gas first; what a block leaves stays in
 * the engine's mempool and is proposed in later blocks; no tx fails (no clearing/15, no
 * sequence error from a sender's later tx getting ahead of a skipped one).
 */
import { rmSync } from "node:fs";
import { Any } from "cosmjs-types/google/protobuf/any";
import { MsgPlaceOrder, MsgUpdateParams } from "../../client/src/generated/backstop/clearing/v1/tx";
import { MsgDeposit } from "../../client/src/generated/backstop/margin/v1/tx";
import { txHash } from "../../chain/engine/mempool";
import { localnetAccounts, msgSend, signTx, TestAccount } from "../util/localnet";
import { NodeProcess, rpcCall, spawnLocalnet } from "../util/node";

const MAX_ORDERS = 8;
const ORDERS_PER_ACCOUNT = 5;
const TRADERS = [1, 2, 3, 4, 5, 6, 7]; // alice … liquidator; 0 is the params authority

describe("block proposals on a node", () => {
  let node: NodeProcess;
  let accounts: TestAccount[];
  beforeAll(async () => {
    node = await spawnLocalnet({ blockTime: "300ms" });
    accounts = await localnetAccounts();
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(node.home, { recursive: true, force: true });
  });

  const b64 = (t: Uint8Array) => Buffer.from(t).toString("base64");
  const batch = async (txs: Uint8Array[]) => {
    const r = await fetch(node.rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(txs.map((t, i) => ({ jsonrpc: "2.0", id: i, method: "broadcast_tx_sync", params: { tx: b64(t) } }))),
    });
    return ((await r.json()) as { result: { code: number; log: string } }[]).map((x) => x.result);
  };
  /** Waits until every tx is committed; their results by hash, with the height and position of each. */
  const committed = async (txs: Uint8Array[]) => {
    const out = new Map<string, { code: number; codespace: string; height: number; index: number }>();
    for (const end = Date.now() + 60_000; out.size < txs.length; ) {
      if (Date.now() > end) throw new Error(`only ${out.size} of ${txs.length} txs committed`);
      for (const t of txs) {
        const hash = txHash(t);
        if (out.has(hash)) continue;
        const r = await rpcCall(node.rpc, "tx", { hash: `0x${hash}` });
        if (r.result) out.set(hash, { code: r.result.tx_result.code, codespace: r.result.tx_result.codespace, height: Number(r.result.height), index: r.result.index });
      }
      if (out.size < txs.length) await new Promise((r) => setTimeout(r, 200));
    }
    return out;
  };
  const seq = new Map<string, bigint>();
  const sign = (i: number, msgs: Any[], feePer200k = 501n) => {
    const who = accounts[i];
    const s = seq.get(who.address) ?? 0n;
    seq.set(who.address, s + 1n);
    return signTx(who, msgs, { accountNumber: BigInt(i), sequence: s, gasLimit: 200_000n, fee: [{ denom: "uusdc", amount: feePer200k.toString() }] });
  };

  it("fills blocks up to max_orders_per_block by fee per gas and proposes the rest later, none failing", async () => {
    // The authority lowers the limit; the traders deposit collateral.
    const setup = [
      sign(0, [{ typeUrl: "/backstop.clearing.v1.MsgUpdateParams", value: MsgUpdateParams.encode({ authority: accounts[0].address, params: { maxOrdersPerBlock: MAX_ORDERS, maxOrdersPerAccountPerBlock: 0 } }).finish() }]),
      ...TRADERS.map((i) => sign(i, [{ typeUrl: "/backstop.margin.v1.MsgDeposit", value: MsgDeposit.encode({ owner: accounts[i].address, amount: { denom: "uusdc", amount: "1000000000" } }).finish() }])),
    ];
    expect((await batch(setup)).map((r) => r.code)).toEqual(setup.map(() => 0));
    for (const r of (await committed(setup)).values()) expect(r.code).toBe(0);

    // The burst, in arrival order round-robin over the traders: each its orders, then a send.
    // Trader i pays i × 501 uusdc per 200,000 gas, so the later traders pay more.
    const feeOf = new Map<string, bigint>();
    const orders = new Set<string>();
    const sendOf = new Map<number, string>();
    const ordersOf = new Map<number, string[]>();
    const burst: Uint8Array[] = [];
    for (let k = 0; k <= ORDERS_PER_ACCOUNT; k++) {
      for (const i of TRADERS) {
        const fee = 501n * BigInt(i);
        const isOrder = k < ORDERS_PER_ACCOUNT;
        const msg: Any = isOrder
          ? { typeUrl: "/backstop.clearing.v1.MsgPlaceOrder", value: MsgPlaceOrder.encode({ owner: accounts[i].address, marketId: "BTC-USD", side: 1, price: "59000", quantity: "0.001", timeInForce: 1, reduceOnly: false, clientId: BigInt(k) }).finish() }
          : msgSend(accounts[i].address, accounts[0].address, "1");
        const t = sign(i, [msg], fee);
        const h = txHash(t);
        feeOf.set(h, fee);
        if (isOrder) {
          orders.add(h);
          ordersOf.set(i, [...(ordersOf.get(i) ?? []), h]);
        } else sendOf.set(i, h);
        burst.push(t);
      }
    }
    const checks = await batch(burst);
    expect(checks.filter((r) => r.code !== 0)).toEqual([]);
    const results = await committed(burst);

    // Nothing failed: no clearing/15, no sequence error.
    expect([...results.values()].filter((r) => r.code !== 0)).toEqual([]);

    // Block by block: at most MAX_ORDERS orders, in fee-per-gas order.
    const byHeight = new Map<number, string[]>();
    for (const [h, r] of results) byHeight.set(r.height, [...(byHeight.get(r.height) ?? []), h]);
    const heights = [...byHeight.keys()].sort((a, b) => a - b);
    let full = 0;
    for (const height of heights) {
      const txs = byHeight.get(height)!.sort((a, b) => results.get(a)!.index - results.get(b)!.index);
      const n = txs.filter((h) => orders.has(h)).length;
      expect(n).toBeLessThanOrEqual(MAX_ORDERS);
      if (n === MAX_ORDERS) full++;
      const fees = txs.map((h) => feeOf.get(h)!);
      expect(fees).toEqual([...fees].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    }
    // The 35 orders needed at least five blocks, and the limit was reached.
    expect(heights.length).toBeGreaterThanOrEqual(Math.ceil((ORDERS_PER_ACCOUNT * TRADERS.length) / MAX_ORDERS));
    expect(full).toBeGreaterThan(0);
    // Each trader's send came after its orders (its sequence), and its orders in sequence order.
    const at = (h: string) => results.get(h)!.height * 1_000_000 + results.get(h)!.index;
    for (const i of TRADERS) {
      const mine = [...ordersOf.get(i)!, sendOf.get(i)!].map(at);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    expect((await rpcCall(node.rpc, "num_unconfirmed_txs")).result.n_txs).toBe("0");
  });
});
