/**
 * A branch of a store: writes are buffered in memory over a parent and reach the
 * parent only on `write()`; dropping the branch discards them. Every transaction runs
 * on a branch of the block's branch, which runs on the committed store.
 *
 * Keys are held as latin1 strings (one character per byte), so that JavaScript's string
 * order is the keys' byte order: the entry map and the ordered tree compare them natively.
 * A key given as that string (`Key`) is used as it is; one given as bytes is converted
 * once per access; either way the string is handed down a chain of branches. A key's
 * bytes are made from its string only when needed (changes at commit, iteration); a
 * branch written into a parent branch hands over its entries' buffers as they are.
 *
 * A branch also takes savepoints (`mark`, `rollback`, `release`): while one is held, each
 * write records what it replaced in an undo log, and a rollback restores it. A
 * transaction runs on the block's branch under a savepoint rather than on branches of
 * its own, so that its writes are made once, in one map and tree, and each read looks in
 * one map, with the same outcome as a branch written through or dropped.
 */
import BTree from "sorted-btree";
import { Bytes, Change, Key, KVReader, KVStore, compareBytes, keyBytes, toBuffer } from "./types";

interface Entry {
  readonly id: string;
  /** The key's bytes, made from `id` when first needed (at commit, in iteration). */
  key: Buffer | null;
  value: Buffer | null; // null: deleted in this branch
}

/** What a write replaced: the entry's previous value, or ABSENT if the write made the entry. */
const ABSENT = Symbol("absent");
interface Undo {
  readonly entry: Entry;
  readonly prev: Buffer | null | typeof ABSENT;
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const idOf = (key: Key): string => (typeof key === "string" ? key : toBuffer(key).toString("latin1"));
const keyOf = (e: Entry): Buffer => (e.key ??= Buffer.from(e.id, "latin1"));

export class CacheKV implements KVStore {
  private readonly writes = new Map<string, Entry>();
  /**
   * A branch directly over a store that does not change while the branch lives (the
   * committed store: it changes only at Commit, which starts new branches) remembers what
   * it read from it, absent keys included, as the Cosmos SDK's cachekv does: a block reads
   * each key from disk once. Writes take precedence over what was read.
   */
  private readonly reads: Map<string, Buffer | null> | null;
  /** The same entries in key order (a B+ tree: O(log n) insert, ordered range scans). */
  private readonly ordered = new BTree<string, Entry>(undefined, byteOrder);
  /** The undo log while a savepoint is held (null: none is, and writes record nothing). */
  private undo: Undo[] | null = null;
  /** The savepoints held, outermost first: where each begins in the undo log. */
  private readonly marks: number[] = [];

  constructor(private readonly parent: KVReader) {
    this.reads = parent instanceof CacheKV ? null : new Map();
  }

  get(key: Key): Bytes | undefined {
    const id = idOf(key);
    // Down the chain of branches with the one key string, then the store below them.
    let s: CacheKV = this;
    for (;;) {
      const e = s.writes.get(id);
      if (e) return e.value ?? undefined;
      if (!(s.parent instanceof CacheKV)) return s.readThrough(id, key);
      s = s.parent;
    }
  }

  private readThrough(id: string, key: Key): Bytes | undefined {
    const reads = this.reads!;
    const hit = reads.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const v = this.parent.get(keyBytes(key));
    reads.set(id, v === undefined ? null : toBuffer(v));
    return v;
  }

  has(key: Key): boolean {
    return this.get(key) !== undefined;
  }

  set(key: Key, value: Bytes): void {
    this.put(idOf(key), Buffer.from(value));
  }

  delete(key: Key): void {
    this.put(idOf(key), null);
  }

  /** Records a change; `value` must be this branch's own copy (never mutated afterwards). */
  private put(id: string, value: Buffer | null): void {
    const e = this.writes.get(id);
    if (e) {
      this.undo?.push({ entry: e, prev: e.value });
      e.value = value;
      return;
    }
    const entry: Entry = { id, key: null, value };
    this.undo?.push({ entry, prev: ABSENT }); // first: a rollback removes what got in
    this.writes.set(id, entry);
    this.ordered.set(id, entry);
  }

  /**
   * Takes a savepoint: the branch's writes from now on can be undone by `rollback`.
   * Savepoints nest; each ends with `release`, innermost first. The returned mark is the
   * savepoint's depth (0 for the outermost).
   */
  mark(): number {
    this.undo ??= [];
    this.marks.push(this.undo.length);
    return this.marks.length - 1;
  }

  /** Undoes every write made since the innermost savepoint, `mark` (latest first); it stays held. */
  rollback(mark: number): void {
    const undo = this.innermost(mark, "rollback");
    const from = this.marks[mark];
    for (let i = undo.length - 1; i >= from; i--) {
      const { entry, prev } = undo[i];
      if (prev === ABSENT) {
        this.writes.delete(entry.id);
        this.ordered.delete(entry.id);
      } else {
        entry.value = prev;
      }
    }
    undo.length = from;
  }

  /**
   * Ends the innermost savepoint, `mark`, keeping its writes: their undo records stay while
   * an outer savepoint is held (it can still undo them), and go with the outermost.
   */
  release(mark: number): void {
    this.innermost(mark, "release");
    this.marks.pop();
    if (this.marks.length === 0) this.undo = null;
  }

  private innermost(mark: number, what: string): Undo[] {
    if (!this.undo || mark !== this.marks.length - 1) throw new Error(`${what} of savepoint ${mark}: not the innermost one held`);
    return this.undo;
  }

  /** A change handed over by a child branch: its key and value buffers become this branch's. */
  private adopt(id: string, child: Entry): void {
    const e = this.writes.get(id);
    if (e) {
      this.undo?.push({ entry: e, prev: e.value });
      e.value = child.value;
      return;
    }
    const entry: Entry = { id, key: child.key, value: child.value };
    this.undo?.push({ entry, prev: ABSENT });
    this.writes.set(id, entry);
    this.ordered.set(id, entry);
  }

  /** Number of keys written (or deleted) in this branch. */
  get size(): number {
    return this.writes.size;
  }

  /** The branch's changes in ascending key order. */
  changes(): Change[] {
    const out: Change[] = [];
    for (const e of this.ordered.values()) out.push([keyOf(e), e.value]);
    return out;
  }

  /** The branch's changes with start ≤ key < end, in ascending key order (O(log n + k)). */
  *changesIn(start: Buffer, end?: Buffer): IterableIterator<Change> {
    const hi = end ? end.toString("latin1") : undefined;
    for (const [id, e] of this.ordered.entries(start.toString("latin1"))) {
      if (hi !== undefined && id >= hi) break;
      yield [keyOf(e), e.value] as const;
    }
  }

  /** Applies this branch's changes to the parent (which must be writable) and empties it. */
  write(): void {
    if (this.undo) throw new Error("write of a branch with a savepoint held");
    if (this.parent instanceof CacheKV) {
      // A branch of a branch: the parent keeps its own order, so insertion order will do.
      const parent = this.parent;
      for (const [id, e] of this.writes) parent.adopt(id, e);
    } else {
      const parent = this.parent as KVStore;
      for (const e of this.ordered.values()) {
        if (e.value === null) parent.delete(keyOf(e));
        else parent.set(keyOf(e), e.value);
      }
    }
    this.reset();
  }

  /** Discards every change of this branch. */
  reset(): void {
    if (this.undo) throw new Error("reset of a branch with a savepoint held");
    this.writes.clear();
    this.ordered.clear();
    this.reads?.clear();
  }

  *iterator(start?: Bytes, end?: Bytes, reverse = false): IterableIterator<[Bytes, Bytes]> {
    const lo = start ? idOf(start) : undefined;
    const hi = end ? idOf(end) : undefined;
    // This branch's entries within [start, end), in the iteration's order, read lazily
    // (found in O(log n), each next step O(1)) from a copy-on-write clone of the tree, so
    // that callers may write to the branch while iterating and reading only the first
    // entries of a large range costs only those. Writes made during the iteration: a key
    // the branch did not hold when it began is not seen; one it held is seen as it now
    // stands (skipped if deleted), since the clone shares the entries. A transaction under
    // a savepoint writes into the block's branch, so this holds for every key the block
    // has written, as it would on any node: iteration stays deterministic.
    const tree = this.ordered.clone();
    const ours = reverse ? (hi !== undefined ? tree.entriesReversed(hi, undefined, true) : tree.entriesReversed()) : tree.entries(lo);
    const inRange = (id: string) => (reverse ? lo === undefined || id >= lo : hi === undefined || id < hi);
    const nextOurs = (): Entry | undefined => {
      const r = ours.next();
      return r.done || !inRange(r.value[0]) ? undefined : r.value[1];
    };
    // The parent's iteration is stepped by hand, so it is ended by hand when this one ends
    // early (a caller's `break`): over the committed store it holds an LMDB read
    // transaction, and LMDB has a fixed number of reader slots (126).
    const theirs = this.parent.iterator(start, end, reverse);
    try {
      let t = theirs.next();
      let m = nextOurs();
      const before = (a: Bytes, b: Bytes) => (reverse ? compareBytes(a, b) > 0 : compareBytes(a, b) < 0);
      while (m !== undefined || !t.done) {
        if (m !== undefined && (t.done || !before(t.value[0], keyOf(m)))) {
          const e = m;
          m = nextOurs();
          if (!t.done && compareBytes(t.value[0], keyOf(e)) === 0) t = theirs.next(); // shadowed
          if (e.value !== null) yield [keyOf(e), e.value];
        } else if (!t.done) {
          yield t.value;
          t = theirs.next();
        }
      }
    } finally {
      theirs.return?.();
    }
  }
}
