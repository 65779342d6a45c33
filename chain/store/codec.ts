/**
 * Typed access to a module's store: protobuf-encoded values, and keys built from
 * length-prefixed parts so that a prefix scan over one part never runs into another
 * (`"BTC"` and `"BTC-USD"` are different prefixes).
 */
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { ProtoType } from "../app/module";
import { Bytes, Key, KVStore } from "./types";
import { Memo } from "../memo";

/** Encoded parts of recent strings (ids and addresses repeat in every block), as bytes and as latin1 (`Key`); bounded. */
const partCache = new Memo<string, { readonly buf: Buffer; id: string | null }>(65_536, (s) => ({ buf: encodePart(s), id: null }));

/** A key part: one length byte, then the UTF-8 bytes (at most 255). Callers must not mutate it. */
export function part(s: string | Uint8Array): Buffer {
  return typeof s === "string" ? cachedPart(s).buf : encodePart(s);
}

function encodePart(s: string | Uint8Array): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
  if (b.length > 255) throw new RangeError("key part longer than 255 bytes");
  const out = Buffer.allocUnsafe(b.length + 1);
  out[0] = b.length;
  b.copy(out, 1);
  return out;
}

function cachedPart(s: string): { readonly buf: Buffer; id: string | null } {
  return partCache.get(s);
}

/** A key: a one-byte table prefix followed by parts. */
export function key(table: number, ...parts: (string | Uint8Array | Buffer)[]): Buffer {
  let n = 1;
  const bufs = parts.map((p) => {
    const b = Buffer.isBuffer(p) ? p : part(p);
    n += b.length;
    return b;
  });
  const out = Buffer.allocUnsafe(n);
  out[0] = table;
  let at = 1;
  for (const b of bufs) at += b.copy(out, at);
  return out;
}

/** `part(s)` as a latin1 string (one character per byte). */
function partId(s: string): string {
  const c = cachedPart(s);
  return (c.id ??= c.buf.toString("latin1"));
}

/**
 * `key(table, ...parts)` as a latin1 string — the same key (`Key`), for stores that
 * take string keys without building a buffer per access. String parts only.
 */
export function skey(table: number, ...parts: string[]): string {
  let out = String.fromCharCode(table);
  for (const p of parts) out += partId(p);
  return out;
}

/** `u64(n)` as a latin1 string (built from two 32-bit halves: no buffer). */
export function u64s(n: bigint): string {
  if (n < 0n || n > 0xffffffffffffffffn) return u64(n).toString("latin1"); // throws as u64 does
  const hi = Number(n >> 32n);
  const lo = Number(n & 0xffffffffn);
  return String.fromCharCode(hi >>> 24, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255);
}

/** An unsigned 64-bit big-endian integer, for keys that sort by number. */
export function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}

export function getProto<T>(kv: KVStore, k: Key, type: ProtoType<T>): T | undefined {
  const raw = kv.get(k);
  return raw ? type.decode(raw) : undefined;
}

/** Decoded values by type and by the stored bytes they came from (see getShared). */
const shared = new Map<object, WeakMap<Bytes, unknown>>();

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v) && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

/**
 * `getProto` for records read by many transactions and written by few (markets, pools,
 * risk ratios, prices, params): the decoded value is kept with the stored bytes it came
 * from — a branch hands back the same buffer for a key until the key is written again —
 * so it is decoded once per write, not per read. It is deep-frozen, as every caller
 * shares it: a caller that changes it throws; write a changed copy with `setProto`.
 */
export function getShared<T>(kv: KVStore, k: Key, type: ProtoType<T>): T | undefined {
  const raw = kv.get(k);
  if (!raw) return undefined;
  let byRaw = shared.get(type) as WeakMap<Bytes, T> | undefined;
  if (!byRaw) shared.set(type, (byRaw = new WeakMap()));
  let v = byRaw.get(raw);
  if (v === undefined) {
    v = deepFreeze(type.decode(raw));
    byRaw.set(raw, v);
  }
  return v;
}

/**
 * One protobuf writer for every encode of our generated types: a fresh writer allocates a
 * 128-byte buffer (and grows it) for each message, and `finish()` copies the bytes out
 * and rewinds it anyway. Types whose writer is another library's (cosmjs-types, whose
 * `finish()` does not rewind) get a fresh writer each time.
 */
let writer = new BinaryWriter();
const reusable = new WeakMap<object, boolean>();

export function encodeProto<T>(type: ProtoType<T>, value: T): Uint8Array {
  const ok = reusable.get(type);
  if (ok === undefined) {
    const w = type.encode(value);
    reusable.set(type, w instanceof BinaryWriter);
    return w.finish();
  }
  if (!ok) return type.encode(value).finish();
  try {
    return type.encode(value, writer).finish();
  } catch (e) {
    writer = new BinaryWriter(); // an encode that threw may have left the writer mid-message
    throw e;
  }
}

export function setProto<T>(kv: KVStore, k: Key, type: ProtoType<T>, value: T): void {
  kv.set(k, encodeProto(type, value));
}

/** Decoded values under a key prefix, in key order. */
export function* scanProto<T>(kv: KVStore, prefix: Buffer, type: ProtoType<T>): IterableIterator<[Buffer, T]> {
  const end = prefixEndOf(prefix);
  for (const [k, v] of kv.iterator(prefix, end)) yield [Buffer.from(k), type.decode(v)];
}

export function prefixEndOf(prefix: Buffer): Buffer | undefined {
  const e = Buffer.from(prefix);
  for (let i = e.length - 1; i >= 0; i--) {
    if (e[i] < 0xff) {
      e[i]++;
      return e.subarray(0, i + 1);
    }
  }
  return undefined;
}
