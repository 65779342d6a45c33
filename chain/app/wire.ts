/**
 * Two allocations cosmjs-types makes that the hot path does not need; the encoding and
 * decoding are unchanged.
 *
 * - `BinaryWriter.alloc` builds a fresh 8 KiB slab pool on every call, so every
 *   `encode().finish()` allocates 8 KiB (15% of FinalizeBlock time in the benchmark):
 *   allocate exactly the needed bytes instead.
 * - `new BinaryReader(bytes)` (what `decode(bytes)` does) copies its input before reading
 *   it; `readerOf` reads the bytes in place (decoded `bytes` fields are then views of
 *   them, so the input must not change afterwards — tx bytes and stored values do not).
 */
import { BinaryReader, BinaryWriter } from "cosmjs-types/binary";

(BinaryWriter as unknown as { alloc: (size: number) => Uint8Array }).alloc = (size: number) => new Uint8Array(size);

const EMPTY = new Uint8Array(0);

/** A reader over `bytes` without a copy, for a cosmjs-types `decode`. */
export function readerOf(bytes: Uint8Array): BinaryReader {
  const r = new BinaryReader(EMPTY);
  r.buf = bytes;
  r.len = bytes.length;
  return r;
}
