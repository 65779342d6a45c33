/**
 * Block space (SPEC: "Block space is allocated, never raced"). PrepareProposal takes the
 * candidate txs by fee per gas, then arrival, never a signer's later tx ahead of its
 * earlier one, and only while the block stays within its bytes and gas and the clearing
 * params' order limits (per block, and per account when set); what it leaves stays in
 * the mempool for a later block. So a tx is never included only to fail for lack of room
 * (clearing/15, clearing/17, the block gas meter) or for a sequence gap its own proposal
 * made. ProcessProposal refuses a block with more orders than the per-block limit, which
 * a proposer running other code could send.
 *
 * Everything here is a function of the tx bytes, the committed params and the node's
 * minimum gas prices: no clock, no randomness, integer arithmetic only, and a total
 * order (ties broken by arrival), so a proposal is reproducible.
 */
import { Coin, GasPrice } from "./coins";
import { DecodedTx } from "./tx";

export const PLACE_ORDER_TYPE_URL = "/backstop.clearing.v1.MsgPlaceOrder";

/**
 * What a proposal needs of a tx. Derived from the tx's bytes alone (through `decodeTx`,
 * the decoder FinalizeBlock uses, so the messages counted are exactly those executed),
 * hence cacheable by the bytes.
 */
export interface ProposalTx {
  readonly size: number;
  readonly gasLimit: bigint;
  /** The signers (accounts whose sequence the tx uses), as decodeTx lists them. */
  readonly signers: readonly string[];
  /** The owner of each MsgPlaceOrder of the tx, one entry per order. */
  readonly orderOwners: readonly string[];
  readonly fee: readonly Coin[];
}

export function proposalTx(tx: DecodedTx): ProposalTx {
  const orderOwners: string[] = [];
  // A MsgPlaceOrder's signer is its owner (`cosmos.msg.v1.signer` = "owner").
  for (const m of tx.msgs) if (m.typeUrl === PLACE_ORDER_TYPE_URL) orderOwners.push(m.signer);
  return { size: tx.bytes.length, gasLimit: tx.gasLimit, signers: tx.signers, orderOwners, fee: tx.authInfo.fee?.amount ?? [] };
}

/** The MsgPlaceOrder messages of a block (txs that cannot be decoded place none: they fail before their messages run). */
export function countOrders(txs: readonly (ProposalTx | null)[]): number {
  let n = 0;
  for (const t of txs) if (t) n += t.orderOwners.length;
  return n;
}

/**
 * Prices fees so that txs paying in different denoms compare: each denom the node has a
 * positive minimum gas price for counts at the rate of that price (paying the minimum in
 * uusdc is worth paying the minimum in ustake), so a fee's value is the number of minimum
 * fees it pays, summed over its coins. A coin in a denom without a minimum gas price counts
 * nothing: a tx that pays only such coins (or a node with no minimum gas prices at all)
 * has value 0 and goes after every priced tx, in arrival order.
 *
 * In integers: with the node's prices p₁…pₖ (× 10^18), a coin of denom d counts
 * amount × Πₑ≠d pₑ, i.e. amount / p_d scaled by the common factor Π pₑ; fee per gas is
 * that value over the gas limit, compared by cross-multiplication (exact).
 */
export class FeePricer {
  private readonly weights = new Map<string, bigint>();

  constructor(minGasPrices: readonly GasPrice[]) {
    // A denom listed twice: its lower price, the one the ante handler's check lets pass.
    const prices = new Map<string, bigint>();
    for (const p of minGasPrices) {
      if (p.raw <= 0n) continue;
      const cur = prices.get(p.denom);
      if (cur === undefined || p.raw < cur) prices.set(p.denom, p.raw);
    }
    for (const d of prices.keys()) {
      let w = 1n;
      for (const [e, raw] of prices) if (e !== d) w *= raw;
      this.weights.set(d, w);
    }
  }

  /** The fee's value in the common unit (0: not priced). */
  value(fee: readonly Coin[]): bigint {
    let v = 0n;
    for (const c of fee) {
      const w = this.weights.get(c.denom);
      if (w !== undefined) v += BigInt(c.amount) * w;
    }
    return v;
  }
}

export interface BlockLimits {
  /** Total tx bytes (RequestPrepareProposal.max_tx_bytes). */
  readonly maxBytes: number;
  /** Total gas limits; −1: no limit. */
  readonly maxGas: bigint;
  /** MsgPlaceOrder messages in the block (max_orders_per_block). */
  readonly maxOrders: number;
  /** MsgPlaceOrder messages of one owner in the block; 0: no limit (max_orders_per_account_per_block). */
  readonly maxOrdersPerAccount: number;
}

/**
 * The txs of a proposal, as indices into `txs`, in block order. Null entries (txs that
 * cannot be decoded, so could only fail) are left out.
 *
 * Like the Cosmos SDK's priority mempool: only a tx that is next for each of its signers
 * is a candidate, and the candidates are taken best first — fee per gas, then arrival
 * (the index in `txs`). A candidate that does not fit (bytes, gas, the block's or its
 * owner's order limit) is skipped, and so is every later tx of its signers, which would
 * fail on the sequence it leaves unused; they all stay in the mempool. Each step costs
 * O(log s) for s signers with candidates, so a flood of txs from few accounts costs little
 * beyond reading the txs.
 */
export function selectTxs(txs: readonly (ProposalTx | null)[], limits: BlockLimits, pricer: FeePricer): number[] {
  const n = txs.length;
  const value: bigint[] = new Array(n);
  // Each signer's txs in arrival order (its sequence order: CheckTx admits sequence s + 1
  // only after s); `waiting[i]`: how many of tx i's signers have an earlier tx not yet taken.
  const queues = new Map<string, { txs: number[]; next: number }>();
  const waiting = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const t = txs[i];
    if (!t) continue;
    value[i] = pricer.value(t.fee);
    for (const s of t.signers) {
      let q = queues.get(s);
      if (!q) queues.set(s, (q = { txs: [], next: 0 }));
      if (q.txs.length > 0) waiting[i]++;
      q.txs.push(i);
    }
  }

  // A max-heap of candidates: higher fee per gas first (value/gas, cross-multiplied), then earlier.
  const heap: number[] = [];
  const before = (a: number, b: number): boolean => {
    const x = value[a] * txs[b]!.gasLimit;
    const y = value[b] * txs[a]!.gasLimit;
    return x !== y ? x > y : a < b;
  };
  const push = (i: number) => {
    let k = heap.push(i) - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!before(heap[k], heap[parent])) break;
      [heap[k], heap[parent]] = [heap[parent], heap[k]];
      k = parent;
    }
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let k = 0; ; ) {
        const l = 2 * k + 1;
        const r = l + 1;
        let best = k;
        if (l < heap.length && before(heap[l], heap[best])) best = l;
        if (r < heap.length && before(heap[r], heap[best])) best = r;
        if (best === k) break;
        [heap[k], heap[best]] = [heap[best], heap[k]];
        k = best;
      }
    }
    return top;
  };
  for (let i = 0; i < n; i++) if (txs[i] && waiting[i] === 0) push(i);

  const blocked = new Set<string>();
  const perAccount = new Map<string, number>();
  const out: number[] = [];
  let bytes = 0;
  let gas = 0n;
  let orders = 0;
  const fits = (t: ProposalTx): boolean => {
    if (bytes + t.size > limits.maxBytes) return false;
    if (limits.maxGas >= 0n && gas + t.gasLimit > limits.maxGas) return false;
    if (orders + t.orderOwners.length > limits.maxOrders) return false;
    if (limits.maxOrdersPerAccount > 0) {
      if (t.orderOwners.length === 1) return (perAccount.get(t.orderOwners[0]) ?? 0) < limits.maxOrdersPerAccount;
      for (const [owner, mine] of ownerCounts(t)) if ((perAccount.get(owner) ?? 0) + mine > limits.maxOrdersPerAccount) return false;
    }
    return true;
  };

  while (heap.length > 0) {
    const i = pop();
    const t = txs[i]!;
    if (!fits(t)) {
      for (const s of t.signers) blocked.add(s);
      continue;
    }
    out.push(i);
    bytes += t.size;
    gas += t.gasLimit;
    orders += t.orderOwners.length;
    for (const owner of t.orderOwners) perAccount.set(owner, (perAccount.get(owner) ?? 0) + 1);
    // Its signers' next txs may now be candidates.
    for (const s of t.signers) {
      const q = queues.get(s)!;
      q.next++;
      if (q.next >= q.txs.length) continue;
      const j = q.txs[q.next];
      if (--waiting[j] === 0 && !txs[j]!.signers.some((x) => blocked.has(x))) push(j);
    }
  }
  return out;
}

/** A tx's orders by owner, in order of first appearance. */
function ownerCounts(t: ProposalTx): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of t.orderOwners) m.set(o, (m.get(o) ?? 0) + 1);
  return m;
}
