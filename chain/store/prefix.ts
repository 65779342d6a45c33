/** A view of a store under a key prefix: a module sees only its own keys. */
import { Bytes, KVStore, prefixEnd, toBuffer } from "./types";

export class PrefixKV implements KVStore {
  private readonly prefix: Buffer;

  constructor(private readonly parent: KVStore, prefix: Bytes) {
    this.prefix = Buffer.from(prefix);
  }

  private k(key: Bytes): Buffer {
    return Buffer.concat([this.prefix, toBuffer(key)]);
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
