/**
 * A branch of a store: writes are buffered in memory over a parent and reach the
 * parent only on `write()`; dropping the branch discards them. Every transaction runs
 * on a branch of the block's branch, which runs on the committed store.
 */
import { Bytes, Change, KVReader, KVStore, compareBytes, toBuffer } from "./types";

interface Entry {
  readonly key: Buffer;
  value: Buffer | null; // null: deleted in this branch
}

export class CacheKV implements KVStore {
  private readonly writes = new Map<string, Entry>();
  /** Keys of `writes` in ascending order; rebuilt lazily when a new key was added. */
  private sorted: Entry[] | null = [];

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
    this.writes.set(id, { key: Buffer.from(key), value });
    this.sorted = null;
  }

  /** Number of keys written (or deleted) in this branch. */
  get size(): number {
    return this.writes.size;
  }

  private sortedEntries(): Entry[] {
    if (this.sorted === null) {
      this.sorted = [...this.writes.values()].sort((a, b) => Buffer.compare(a.key, b.key));
    }
    return this.sorted;
  }

  /** The branch's changes in ascending key order. */
  changes(): Change[] {
    return this.sortedEntries().map((e) => [e.key, e.value] as const);
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
    this.sorted = [];
  }

  *iterator(start?: Bytes, end?: Bytes, reverse = false): IterableIterator<[Bytes, Bytes]> {
    const local = this.sortedEntries();
    // The slice of local entries within [start, end), by binary search.
    const lo = start ? lowerBound(local, start) : 0;
    const hi = end ? lowerBound(local, end) : local.length;
    const mine = local.slice(lo, hi);
    if (reverse) mine.reverse();
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

function lowerBound(entries: readonly Entry[], key: Bytes): number {
  const k = toBuffer(key);
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(entries[mid].key, k) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
