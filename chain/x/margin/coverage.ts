/**
 * The coverage index (SPEC §3.8): each market side's positions ordered by liquidation key
 * (see `liquidationKey`) in an augmented treap whose nodes carry, for their subtree,
 * Σ|size|, Σ|size|·key, max |size| and the key range.
 *
 * Why that is enough: with y = price − funding index, a long's equity at `price` is
 * |s|·(y − key) and a short's is |s|·(key − y) (USD). So the stressed deficit of a side,
 * Σ max(0, −E), is a prefix sum over the key order:
 *   longs  D(y) = Σ_{key > y} |s|·key − y·Σ_{key > y} |s|
 *   shorts D(y) = y·Σ_{key < y} |s| − Σ_{key < y} |s|·key
 * found in one walk from the root, O(log n). The largest single deficits (for Cover-2)
 * come from a branch-and-bound search over the same tree, pruned by max |size| × the
 * subtree's key range.
 *
 * Exactness: sums are kept in raw fixed point (36 places for products) and converted to
 * uusdc once, rounded up. A key rounds the margin term down (it is the index's key), so a
 * figure can exceed the exact Σ max(0, −E) by less than 1 uusdc per position, never fall
 * short of it: the model errs on the side of more capital.
 *
 * The tree is derived state, in memory: rebuilt from the liquidation index (which is in
 * the store) when a node starts, and brought up to date at every end-block from that
 * block's changes to the index. Only its results (the pools' coverage figures) enter
 * consensus state. Priorities are a hash of the entry, never random.
 */

/** 10^30: raw 36-place USD products → uusdc (USD × 10^6). */
const RAW36_PER_UUSDC = 10n ** 30n;

interface Node {
  readonly k: bigint; // key, raw 18 places (may be negative)
  readonly o: string; // owner
  readonly s: bigint; // |size|, raw 18 places
  readonly p: number; // heap priority
  l: Node | null;
  r: Node | null;
  S: bigint; // Σ s
  SK: bigint; // Σ s·k
  M: bigint; // max s
  lo: bigint; // min k
  hi: bigint; // max k
  n: number; // count
}

function priority(k: bigint, o: string): number {
  // FNV-1a over the owner and the low bits of the key: deterministic and well spread.
  let h = 0x811c9dc5;
  for (let i = 0; i < o.length; i++) {
    h ^= o.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= Number(BigInt.asUintN(32, k));
  h = Math.imul(h, 0x01000193);
  return h >>> 0;
}

function pull(t: Node): Node {
  const { l, r } = t;
  t.S = t.s + (l ? l.S : 0n) + (r ? r.S : 0n);
  t.SK = t.s * t.k + (l ? l.SK : 0n) + (r ? r.SK : 0n);
  let m = t.s;
  if (l && l.M > m) m = l.M;
  if (r && r.M > m) m = r.M;
  t.M = m;
  t.lo = l ? l.lo : t.k;
  t.hi = r ? r.hi : t.k;
  t.n = 1 + (l ? l.n : 0) + (r ? r.n : 0);
  return t;
}

function less(ak: bigint, ao: string, bk: bigint, bo: string): boolean {
  return ak < bk || (ak === bk && ao < bo);
}

/** Splits into (< (k, o)) and (≥ (k, o)). */
function split(t: Node | null, k: bigint, o: string): [Node | null, Node | null] {
  if (!t) return [null, null];
  if (less(t.k, t.o, k, o)) {
    const [a, b] = split(t.r, k, o);
    t.r = a;
    return [pull(t), b];
  }
  const [a, b] = split(t.l, k, o);
  t.l = b;
  return [a, pull(t)];
}

function merge(a: Node | null, b: Node | null): Node | null {
  if (!a) return b;
  if (!b) return a;
  if (a.p > b.p) {
    a.r = merge(a.r, b);
    return pull(a);
  }
  b.l = merge(a, b.l);
  return pull(b);
}

function removeNode(t: Node | null, k: bigint, o: string): [Node | null, boolean] {
  if (!t) return [null, false];
  if (t.k === k && t.o === o) return [merge(t.l, t.r), true];
  if (less(k, o, t.k, t.o)) {
    const [l, found] = removeNode(t.l, k, o);
    t.l = l;
    return [found ? pull(t) : t, found];
  }
  const [r, found] = removeNode(t.r, k, o);
  t.r = r;
  return [found ? pull(t) : t, found];
}

function leaf(k: bigint, o: string, s: bigint): Node {
  return { k, o, s, p: priority(k, o), l: null, r: null, S: s, SK: s * k, M: s, lo: k, hi: k, n: 1 };
}

/** One market side: "long" positions lose as the price falls, "short" ones as it rises. */
export class SideIndex {
  private root: Node | null = null;

  constructor(readonly side: "long" | "short") {}

  get size(): number {
    return this.root ? this.root.n : 0;
  }

  /** Builds from entries already in (key, owner) order in O(n) (a Cartesian tree). */
  static fromSorted(side: "long" | "short", entries: Iterable<{ key: bigint; owner: string; size: bigint }>): SideIndex {
    const idx = new SideIndex(side);
    const stack: Node[] = [];
    for (const e of entries) {
      const n = leaf(e.key, e.owner, e.size);
      let last: Node | null = null;
      while (stack.length > 0 && stack[stack.length - 1].p < n.p) last = pull(stack.pop()!);
      n.l = last;
      if (stack.length > 0) stack[stack.length - 1].r = n;
      stack.push(n);
    }
    while (stack.length > 1) pull(stack.pop()!);
    // Popped nodes were pulled as they left (their subtrees complete); the right spine last, deepest first.
    idx.root = stack.length ? pull(stack[0]) : null;
    return idx;
  }

  insert(key: bigint, owner: string, size: bigint): void {
    this.remove(key, owner);
    const [a, b] = split(this.root, key, owner);
    this.root = merge(merge(a, leaf(key, owner, size)), b);
  }

  remove(key: bigint, owner: string): boolean {
    const [t, found] = removeNode(this.root, key, owner);
    this.root = t;
    return found;
  }

  /** Σ|s| and Σ|s|·key over the entries that lose at y (longs: key > y; shorts: key < y), in one walk. */
  private losing(y: bigint): { S: bigint; SK: bigint } {
    let S = 0n;
    let SK = 0n;
    let t = this.root;
    const long = this.side === "long";
    while (t) {
      const loses = long ? t.k > y : t.k < y;
      if (loses) {
        S += t.s;
        SK += t.s * t.k;
        const whole = long ? t.r : t.l;
        if (whole) {
          S += whole.S;
          SK += whole.SK;
        }
        t = long ? t.l : t.r;
      } else t = long ? t.r : t.l;
    }
    return { S, SK };
  }

  /** Σ max(0, −E) at y = price − funding index, in raw 36-place USD. */
  deficitRaw(y: bigint): bigint {
    const { S, SK } = this.losing(y);
    return this.side === "long" ? SK - y * S : y * S - SK;
  }

  /** The two largest single deficits at y (raw 36-place USD, descending; zeros when fewer). */
  top2Raw(y: bigint): [bigint, bigint] {
    const best: [bigint, bigint] = [0n, 0n];
    const long = this.side === "long";
    const value = (t: Node) => (long ? t.s * (t.k - y) : t.s * (y - t.k));
    const bound = (t: Node | null) => {
      if (!t) return 0n;
      const b = long ? t.M * (t.hi - y) : t.M * (y - t.lo);
      return b > 0n ? b : 0n;
    };
    const offer = (v: bigint) => {
      if (v > best[0]) {
        best[1] = best[0];
        best[0] = v;
      } else if (v > best[1]) best[1] = v;
    };
    const visit = (t: Node | null) => {
      if (!t || bound(t) <= best[1]) return;
      offer(value(t));
      const [a, b] = bound(t.l) >= bound(t.r) ? [t.l, t.r] : [t.r, t.l];
      visit(a);
      visit(b);
    };
    visit(this.root);
    return best;
  }

  /** Every entry in order (for tests and brute-force checks). */
  *entries(): IterableIterator<{ key: bigint; owner: string; size: bigint }> {
    const stack: Node[] = [];
    let t = this.root;
    while (t || stack.length) {
      while (t) {
        stack.push(t);
        t = t.l;
      }
      const n = stack.pop()!;
      yield { key: n.k, owner: n.o, size: n.s };
      t = n.r;
    }
  }
}

/** Raw 36-place USD → uusdc, rounded up (a deficit is owed). */
export function rawToUusdcCeil(raw: bigint): bigint {
  if (raw <= 0n) return 0n;
  return (raw + RAW36_PER_UUSDC - 1n) / RAW36_PER_UUSDC;
}

/** A market's two sides. */
export interface MarketIndex {
  readonly long: SideIndex;
  readonly short: SideIndex;
}
