/** A view of a store under a key prefix: a module sees only its own keys. */
import { Bytes, Key, KVStore, prefixEnd, toBuffer } from "./types";

/** The latin1 strings of the (constant) prefixes, for string keys. */
const prefixIds = new WeakMap<Bytes, string>();

export class PrefixKV implements KVStore {
  private readonly prefix: Buffer;
  private readonly prefixId: string;

  /** `prefix` is not copied: it must not change (modules pass constants). */
  constructor(private readonly parent: KVStore, prefix: Bytes) {
    this.prefix = toBuffer(prefix);
    let id = prefixIds.get(prefix);
    if (id === undefined) {
      id = this.prefix.toString("latin1");
      prefixIds.set(prefix, id);
    }
    this.prefixId = id;
  }

  private k(key: Key): Key {
    if (typeof key === "string") return this.prefixId + key;
    const out = Buffer.allocUnsafe(this.prefix.length + key.length);
    out.set(this.prefix, 0);
    out.set(key, this.prefix.length);
    return out;
  }

  get(key: Key): Bytes | undefined {
    return this.parent.get(this.k(key));
  }
  has(key: Key): boolean {
    return this.parent.has(this.k(key));
  }
  set(key: Key, value: Bytes): void {
    this.parent.set(this.k(key), value);
  }
  delete(key: Key): void {
    this.parent.delete(this.k(key));
  }
  *iterator(start?: Bytes, end?: Bytes, reverse = false): IterableIterator<[Bytes, Bytes]> {
    const s = start ? (this.k(start) as Buffer) : this.prefix;
    const e = end ? (this.k(end) as Buffer) : prefixEnd(this.prefix);
    const n = this.prefix.length;
    for (const [key, value] of this.parent.iterator(s, e, reverse)) {
      yield [toBuffer(key).subarray(n), value];
    }
  }
}
