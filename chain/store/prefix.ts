/** A view of a store under a key prefix: a module sees only its own keys. */
import { Bytes, KVStore, prefixEnd, toBuffer } from "./types";

export class PrefixKV implements KVStore {
  private readonly prefix: Buffer;

  /** `prefix` is not copied: it must not change (modules pass constants). */
  constructor(private readonly parent: KVStore, prefix: Bytes) {
    this.prefix = toBuffer(prefix);
  }

  private k(key: Bytes): Buffer {
    const out = Buffer.allocUnsafe(this.prefix.length + key.length);
    out.set(this.prefix, 0);
    out.set(key, this.prefix.length);
    return out;
  }

  get(key: Bytes): Bytes | undefined {
    return this.parent.get(this.k(key));
  }
  has(key: Bytes): boolean {
    return this.parent.has(this.k(key));
  }
  set(key: Bytes, value: Bytes): void {
    this.parent.set(this.k(key), value);
  }
  delete(key: Bytes): void {
    this.parent.delete(this.k(key));
  }
  *iterator(start?: Bytes, end?: Bytes, reverse = false): IterableIterator<[Bytes, Bytes]> {
    const s = start ? this.k(start) : this.prefix;
    const e = end ? this.k(end) : prefixEnd(this.prefix);
    const n = this.prefix.length;
    for (const [key, value] of this.parent.iterator(s, e, reverse)) {
      yield [toBuffer(key).subarray(n), value];
    }
  }
}
