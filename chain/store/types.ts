/**
 * The key-value store interfaces. Keys and values are bytes; iteration is always in
 * ascending (or, asked for, descending) byte order of keys, never in insertion order,
 * so that consensus code that iterates is deterministic by construction.
 */

export type Bytes = Uint8Array;

/**
 * A key as bytes, or the same key as a latin1 string (one character per byte, each below
 * 256): writable stores take either, and a string spares building a buffer per access.
 */
export type Key = Bytes | string;

export interface KVReader {
  get(key: Bytes): Bytes | undefined;
  has(key: Bytes): boolean;
  /** Entries with start ≤ key < end (either bound may be omitted), ascending unless reverse. */
  iterator(start?: Bytes, end?: Bytes, reverse?: boolean): IterableIterator<[Bytes, Bytes]>;
}

export interface KVStore extends KVReader {
  get(key: Key): Bytes | undefined;
  has(key: Key): boolean;
  set(key: Key, value: Bytes): void;
  delete(key: Key): void;
}

/** A key's bytes (a new buffer for a string key). */
export function keyBytes(key: Key): Buffer {
  return typeof key === "string" ? Buffer.from(key, "latin1") : toBuffer(key);
}

/** One change of a block, in ascending key order: value `null` is a deletion. */
export type Change = readonly [key: Buffer, value: Buffer | null];

export function toBuffer(b: Bytes): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function compareBytes(a: Bytes, b: Bytes): number {
  return Buffer.compare(toBuffer(a), toBuffer(b));
}

/** The smallest key greater than every key with this prefix, or undefined if none (all 0xff). */
export function prefixEnd(prefix: Bytes): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

export const EMPTY_READER: KVReader = {
  get: () => undefined,
  has: () => false,
  iterator: function* () {
    /* empty */
  },
};
