/**
 * A branch of a store: writes are buffered in memory over a parent and reach the
 * parent only on `write()`; dropping the branch discards them. Every transaction runs
 * on a branch of the block's branch, which runs on the committed store.
 */
import BTree from "sorted-btree";
import { Bytes, Change, KVReader, KVStore, compareBytes, toBuffer } from "./types";

interface Entry {
  readonly key: Buffer;
  value: Buffer | null; // null: deleted in this branch
}

export class CacheKV implements KVStore {
  private readonly writes = new Map<string, Entry>();
  /** The same entries in key order (a B+ tree: O(log n) insert, ordered range scans). */
  private readonly ordered = new BTree<Buffer, Entry>(undefined, Buffer.compare);

  constructor(private readonly parent: KVReader) {}

  get(key: Bytes): Bytes | undefined {
    const e = this.writes.get(toBuffer(key).toString("latin1"));
    if (e) return e.value ?? undefined;
    return this.parent.get(key);
  }

  has(key: Bytes): boolean {
    return this.get(key) !== undefined;
  }

  set(key: Bytes, value: Bytes): void {
    this.put(toBuffer(key), Buffer.from(value));
  }

  delete(key: Bytes): void {
    this.put(toBuffer(key), null);
  }

  private put(key: Buffer, value: Buffer | null): void {
    const id = key.toString("latin1");
    const e = this.writes.get(id);
    if (e) {
      e.value = value;
      return;
    }
    const entry = { key: Buffer.from(key), value };
    this.writes.set(id, entry);
    this.ordered.set(entry.key, entry);
  }

  /** Number of keys written (or deleted) in this branch. */
  get size(): number {
    return this.writes.size;
  }

  private sortedEntries(): Entry[] {
    return [...this.ordered.values()];
  }

  /** The branch's changes in ascending key order. */
  changes(): Change[] {
    return this.sortedEntries().map((e) => [e.key, e.value] as const);
  }

  /** The branch's changes with start ≤ key < end, in ascending key order (O(log n + k)). */
  *changesIn(start: Buffer, end?: Buffer): IterableIterator<Change> {
    for (const [k, e] of this.ordered.entries(start)) {
      if (end && Buffer.compare(k, end) >= 0) break;
      yield [e.key, e.value] as const;
    }
  }

  /** Applies this branch's changes to the parent (which must be writable) and empties it. */
  write(): void {
    const parent = this.parent as KVStore;
    for (const e of this.sortedEntries()) {
      if (e.value === null) parent.delete(e.key);
      else parent.set(e.key, e.value);
    }
    this.reset();
  }

  /** Discards every change of this branch. */
  reset(): void {
    this.writes.clear();
    this.ordered.clear();
  }

  *iterator(start?: Bytes, end?: Bytes, reverse = false): IterableIterator<[Bytes, Bytes]> {
    const lo = start ? toBuffer(start) : undefined;
    const hi = end ? toBuffer(end) : undefined;
    // This branch's entries within [start, end), in the iteration's order, found in the
    // tree in O(log n) and copied, so that callers may write to the branch while iterating.
    const mine: Entry[] = [];
    if (reverse) {
      for (const [k, e] of hi ? this.ordered.entriesReversed(hi, undefined, true) : this.ordered.entriesReversed()) {
        if (lo && Buffer.compare(k, lo) < 0) break;
        mine.push(e);
      }
    } else {
      for (const [k, e] of this.ordered.entries(lo)) {
        if (hi && Buffer.compare(k, hi) >= 0) break;
        mine.push(e);
      }
    }
    const theirs = this.parent.iterator(start, end, reverse);
    let t = theirs.next();
    let i = 0;
    const before = (a: Bytes, b: Bytes) => (reverse ? compareBytes(a, b) > 0 : compareBytes(a, b) < 0);
    while (i < mine.length || !t.done) {
      if (i < mine.length && (t.done || !before(t.value[0], mine[i].key))) {
        const e = mine[i++];
        if (!t.done && compareBytes(t.value[0], e.key) === 0) t = theirs.next(); // shadowed
        if (e.value !== null) yield [e.key, e.value];
      } else if (!t.done) {
        yield t.value;
        t = theirs.next();
      }
    }
  }
}
