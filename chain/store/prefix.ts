/** A view of a store under a key prefix: a module sees only its own keys. */
import { Bytes, Key, KVStore, prefixEnd, toBuffer } from "./types";

/** The (constant) prefixes as buffers and as latin1 strings, for string keys. */
const prefixes = new WeakMap<Bytes, { readonly buf: Buffer; readonly id: string }>();

export class PrefixKV implements KVStore {
  private readonly prefix: Buffer;
  private readonly prefixId: string;

  /** `prefix` is not copied: it must not change (modules pass constants). */
  constructor(private readonly parent: KVStore, prefix: Bytes) {
    let p = prefixes.get(prefix);
    if (p === undefined) {
      const buf = toBuffer(prefix);
      p = { buf, id: buf.toString("latin1") };
      prefixes.set(prefix, p);
    }
    this.prefix = p.buf;
    this.prefixId = p.id;
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
