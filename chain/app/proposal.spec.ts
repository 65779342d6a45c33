/**
 * Block space is allocated when the block is proposed, never raced (SPEC; security
 * finding 4, "order flood"): PrepareProposal takes txs by fee per gas, then arrival,
 * keeps each signer's txs in sequence order, and stops at max_orders_per_block and
 * max_orders_per_account_per_block, leaving the rest for later blocks; no tx it includes
 * fails for lack of room; ProcessProposal refuses a proposal with too many orders.
 */
import { Any } from "cosmjs-types/google/protobuf/any";
import { ResponseProcessProposal_ProposalStatus } from "./abci";
import { BackstopApp } from "./app";
import { parseGasPrices } from "./coins";
import { FeePricer, ProposalTx, selectTxs } from "./proposal";
import { MsgPlaceOrder } from "../../client/src/generated/backstop/clearing/v1/tx";
import { moduleAddress } from "../crypto/keys";
import { initLocalnetApp, msgSend, runBlock, signTx, TestAccount } from "../../test/util/localnet";

const MAX_ORDERS = 6;
const PER_ACCOUNT = 2;
const FREE = 100_000_000_000n; // 100,000 USDC of free collateral per localnet account

function placeOrder(owner: string, price = "59000", clientId = 0n): Any {
  return {
    typeUrl: "/backstop.clearing.v1.MsgPlaceOrder",
    value: MsgPlaceOrder.encode({ owner, marketId: "BTC-USD", side: 1, price, quantity: "0.001", timeInForce: 1, reduceOnly: false, clientId }).finish(),
  };
}

describe("block proposals", () => {
  let app: BackstopApp;
  let accounts: TestAccount[];
  let height = 1n;
  const seq = new Map<string, bigint>();

  beforeEach(async () => {
    const a = await initLocalnetApp(undefined, (s) => {
      s.clearing.params = { max_orders_per_block: MAX_ORDERS, max_orders_per_account_per_block: PER_ACCOUNT };
      const funded = s.auth.accounts.map((x: { address: string }) => x.address);
      s.margin.accounts = funded.map((owner: string) => ({ owner, free_collateral_uusdc: FREE.toString() }));
      s.bank.balances.push({ address: moduleAddress("margin"), coins: [{ denom: "uusdc", amount: (FREE * BigInt(funded.length)).toString() }] });
    });
    app = a.app;
    accounts = a.accounts;
    seq.clear();
    height = 1n;
    runBlock(app, height, []);
  });

  afterEach(() => app.close());

  /** A signed tx of localnet account `i` with its next sequence; `feePerGas` in uusdc (or `denom`) per 1,000 gas. */
  const tx = (i: number, msgs: Any[], o: { fee?: bigint; denom?: string; gas?: bigint } = {}) => {
    const who = accounts[i];
    const s = seq.get(who.address) ?? 0n;
    seq.set(who.address, s + 1n);
    const gasLimit = o.gas ?? 200_000n;
    const fee = o.fee ?? 501n;
    return signTx(who, msgs, { accountNumber: BigInt(i), sequence: s, gasLimit, fee: [{ denom: o.denom ?? "uusdc", amount: fee.toString() }] });
  };
  const order = (i: number, o: { fee?: bigint; denom?: string; gas?: bigint } = {}) => tx(i, [placeOrder(accounts[i].address)], o);
  const send = (i: number, o: { fee?: bigint; denom?: string; gas?: bigint } = {}) => tx(i, [msgSend(accounts[i].address, accounts[0].address, "1")], o);

  const prepare = (txs: Uint8Array[]) =>
    app.prepareProposal({
      maxTxBytes: 22_020_096n,
      txs,
      localLastCommit: { round: 0, votes: [] },
      misbehavior: [],
      height: height + 1n,
      time: { seconds: 0n, nanos: 0 },
      nextValidatorsHash: new Uint8Array(),
      proposerAddress: new Uint8Array(20),
    }).txs;
  const process = (txs: Uint8Array[]) =>
    app.processProposal({
      txs,
      proposedLastCommit: { round: 0, votes: [] },
      misbehavior: [],
      hash: new Uint8Array(32),
      height: height + 1n,
      time: { seconds: 0n, nanos: 0 },
      nextValidatorsHash: new Uint8Array(),
      proposerAddress: new Uint8Array(20),
    }).status;
  const deliver = (txs: Uint8Array[]) => runBlock(app, ++height, txs).txResults;
  const ordersIn = (txs: Uint8Array[], all: Map<Uint8Array, string>) => txs.filter((t) => all.get(t)?.includes("order")).length;

  it("orders by fee per gas, then arrival, never a signer's later tx ahead of its earlier one", () => {
    const a0 = send(1, { fee: 500n }); // alice, 0.0025 uusdc per gas
    const b0 = send(2, { fee: 1000n }); // bob, 0.005
    const a1 = send(1, { fee: 9000n }); // alice's next: the best fee, but behind her first
    const c0 = send(3, { fee: 1000n, denom: "ustake" }); // carol, 0.005 in ustake: priced like bob's (both minimums 0.0025), arrived later
    const d0 = send(4, { fee: 1000n, gas: 100_000n }); // dave, 0.01
    const proposal = prepare([a0, b0, a1, c0, d0]);
    expect(proposal).toEqual([d0, b0, c0, a0, a1]);
    expect(process(proposal)).toBe(ResponseProcessProposal_ProposalStatus.ACCEPT);
    expect(deliver(proposal).map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
  });

  it("stops at the block's and each account's order limits; the rest is proposed later, and nothing fails", () => {
    const kind = new Map<Uint8Array, string>();
    const mark = (t: Uint8Array, k: string) => (kind.set(t, k), t);
    // Arrival order, interleaved; alice (1) has three orders then a send; lp1 (5) pays the most.
    let mempool = [
      mark(order(1), "order alice 0"),
      mark(order(2), "order bob 0"),
      mark(order(1), "order alice 1"),
      mark(order(2), "order bob 1"),
      mark(order(1), "order alice 2"),
      mark(send(1), "send alice 3"),
      mark(order(2), "order bob 2"),
      mark(order(3), "order carol 0"),
      mark(order(4), "order dave 0"),
      mark(order(4), "order dave 1"),
      mark(order(5, { fee: 5000n }), "order lp1 0"),
      mark(send(6), "send lp2 0"),
    ];
    const arrival = [...mempool];

    const first = prepare(mempool);
    expect(first.map((t) => kind.get(t))).toEqual([
      "order lp1 0", // best fee per gas
      "order alice 0",
      "order bob 0",
      "order alice 1",
      "order bob 1",
      // alice's third order is over her limit of 2: it waits, and so does her send after it (its sequence)
      // bob's third likewise
      "order carol 0", // the sixth order: the block is full of orders
      // dave's orders wait for the next block
      "send lp2 0", // a tx without orders still fits
    ]);
    expect(ordersIn(first, kind)).toBe(MAX_ORDERS);
    expect(process(first)).toBe(ResponseProcessProposal_ProposalStatus.ACCEPT);

    // Block by block, as the engine does: deliver the proposal, keep the rest in arrival order.
    const included: string[] = [];
    for (let proposal = first; proposal.length > 0; ) {
      const results = deliver(proposal);
      for (const [i, r] of results.entries()) {
        expect({ tx: kind.get(proposal[i]), code: r.code, log: r.log }).toEqual({ tx: kind.get(proposal[i]), code: 0, log: "" });
      }
      included.push(...proposal.map((t) => kind.get(t)!));
      mempool = mempool.filter((t) => !proposal.includes(t));
      proposal = prepare(mempool);
      expect(ordersIn(proposal, kind)).toBeLessThanOrEqual(MAX_ORDERS);
      expect(process(proposal)).toBe(ResponseProcessProposal_ProposalStatus.ACCEPT);
    }
    expect(mempool).toEqual([]);
    expect(included.slice(7)).toEqual(["order alice 2", "send alice 3", "order bob 2", "order dave 0", "order dave 1"]);
    expect([...included].sort()).toEqual(arrival.map((t) => kind.get(t)!).sort());
  });

  it("without the limit, a block of more orders than max_orders_per_block fails the extra ones with clearing/15", () => {
    // What the old PrepareProposal proposed: everything, in arrival order.
    const txs = [1, 2, 3, 4, 5, 6, 7].map((i) => order(i));
    expect(prepare(txs)).toEqual(txs.slice(0, MAX_ORDERS));
    expect(deliver(txs).map((r) => `${r.codespace}/${r.code}`)).toEqual(["/0", "/0", "/0", "/0", "/0", "/0", "clearing/15"]);
  });

  it("ProcessProposal refuses a proposal with more than max_orders_per_block orders", () => {
    const orders = [1, 2, 3, 4, 5, 6, 7].map((i) => order(i));
    expect(process(orders.slice(0, MAX_ORDERS))).toBe(ResponseProcessProposal_ProposalStatus.ACCEPT);
    expect(process(orders)).toBe(ResponseProcessProposal_ProposalStatus.REJECT);
    // Orders are counted by message, not by tx: two in one tx count twice.
    const two = tx(8, [placeOrder(accounts[8].address, "59000", 1n), placeOrder(accounts[8].address, "59000", 2n)]);
    expect(process([...orders.slice(0, MAX_ORDERS - 1), two])).toBe(ResponseProcessProposal_ProposalStatus.REJECT);
    expect(process([...orders.slice(0, MAX_ORDERS - 2), two])).toBe(ResponseProcessProposal_ProposalStatus.ACCEPT);
    // Bytes that are not a tx place nothing (they fail before their messages run).
    expect(process([...orders.slice(0, MAX_ORDERS), Uint8Array.of(1, 2, 3)])).toBe(ResponseProcessProposal_ProposalStatus.ACCEPT);
    // The proposal of the same txs is within the limit.
    expect(process(prepare(orders))).toBe(ResponseProcessProposal_ProposalStatus.ACCEPT);
    expect(prepare([Uint8Array.of(1, 2, 3), orders[0]])).toEqual([orders[0]]);
  });

  it("respects the block's bytes, skipping a tx that does not fit (and its signer's next) but not smaller ones after it", () => {
    const big = signTx(accounts[1], [msgSend(accounts[1].address, accounts[0].address, "1")], { accountNumber: 1n, sequence: 0n, memo: "x".repeat(200), fee: [{ denom: "uusdc", amount: "5000" }] });
    const after = signTx(accounts[1], [msgSend(accounts[1].address, accounts[0].address, "1")], { accountNumber: 1n, sequence: 1n });
    const small = send(2);
    const txs = app.prepareProposal({
      maxTxBytes: BigInt(small.length + 10),
      txs: [big, after, small],
      localLastCommit: { round: 0, votes: [] },
      misbehavior: [],
      height: height + 1n,
      time: { seconds: 0n, nanos: 0 },
      nextValidatorsHash: new Uint8Array(),
      proposerAddress: new Uint8Array(20),
    }).txs;
    expect(after.length).toBeLessThanOrEqual(small.length + 10);
    expect(txs).toEqual([small]);
  });
});

describe("selectTxs", () => {
  const t = (signer: string, fee: bigint, o: { denom?: string; gas?: bigint; orders?: string[] } = {}): ProposalTx => ({
    size: 100,
    gasLimit: o.gas ?? 1000n,
    signers: [signer],
    orderOwners: o.orders ?? [],
    fee: [{ denom: o.denom ?? "uusdc", amount: fee.toString() }],
  });
  const limits = { maxBytes: 1 << 20, maxGas: -1n, maxOrders: 100, maxOrdersPerAccount: 0 };

  it("prices denoms at the ratio of the node's minimum gas prices; unpriced fees go last, in arrival order", () => {
    const txs = [t("a", 10n, { denom: "ustake" }), t("b", 6n), t("c", 4n), t("d", 99n, { denom: "uatom" }), t("e", 1n, { denom: "uatom" })];
    // ustake's minimum is twice uusdc's: 10 ustake are worth 5 uusdc.
    expect(selectTxs(txs, limits, new FeePricer(parseGasPrices("0.0025uusdc,0.005ustake")))).toEqual([1, 0, 2, 3, 4]);
    // Only uusdc priced: ustake fees count nothing.
    expect(selectTxs(txs, limits, new FeePricer(parseGasPrices("0.0025uusdc")))).toEqual([1, 2, 0, 3, 4]);
    // No minimum gas prices: arrival order.
    expect(selectTxs(txs, limits, new FeePricer([]))).toEqual([0, 1, 2, 3, 4]);
  });

  it("a multi-signer tx waits for each signer's earlier txs; a block gas limit skips what does not fit", () => {
    const pricer = new FeePricer(parseGasPrices("0.0025uusdc"));
    const both: ProposalTx = { ...t("a", 100n), signers: ["a", "b"] };
    // `both` pays the most but is behind b's tx at index 0 (and, in the second list, a's too).
    expect(selectTxs([t("b", 1n), both, t("a", 1n), t("c", 2n)], limits, pricer)).toEqual([3, 0, 1, 2]);
    expect(selectTxs([t("a", 1n), t("b", 1n), both, t("c", 2n)], limits, pricer)).toEqual([3, 0, 1, 2]);
    // Gas: 2,500 allows two txs of 1,000; c's, the best, is taken first.
    expect(selectTxs([t("a", 1n), t("b", 1n), t("c", 5n)], { ...limits, maxGas: 2500n }, pricer)).toEqual([2, 0]);
  });
});
