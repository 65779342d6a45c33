/**
 * Allocations the protobuf libraries make that the hot path does not need. Encodings and
 * decoded values are unchanged (wire.spec.ts checks them against the libraries' own code).
 *
 * - cosmjs-types' `BinaryWriter.alloc` builds a fresh 8 KiB slab pool on every call, so
 *   every `encode().finish()` allocated 8 KiB (15% of FinalizeBlock time in the
 *   benchmark): allocate exactly the needed bytes instead.
 * - cosmjs-types' `new BinaryReader(bytes)` (what `decode(bytes)` does) copies its input
 *   before reading it; `readerOf` reads the bytes in place (decoded `bytes` fields are
 *   then views of them, so the input must not change afterwards — tx bytes and stored
 *   values do not).
 * - Strings: cosmjs-types decodes UTF-8 by collecting char codes in an array, and
 *   @bufbuild/protobuf (our generated types) collects ASCII ones in an array too; nearly
 *   every string on chain (addresses, denoms, decimals, ids, type URLs) is ASCII, which
 *   Node reads straight into a one-byte string (`latin1Slice`, identical for ASCII). Any
 *   other string still goes through the library's own decoder.
 */
import { BinaryReader, BinaryWriter } from "cosmjs-types/binary";
import * as cosmjsUtf8 from "cosmjs-types/utf8";
import { BinaryReader as BufReader } from "@bufbuild/protobuf/wire";

(BinaryWriter as unknown as { alloc: (size: number) => Uint8Array }).alloc = (size: number) => new Uint8Array(size);

const EMPTY = new Uint8Array(0);

/** A reader over `bytes` without a copy, for a cosmjs-types `decode`. */
export function readerOf(bytes: Uint8Array): BinaryReader {
  const r = new BinaryReader(EMPTY);
  r.buf = bytes;
  r.len = bytes.length;
  return r;
}

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

function isAscii(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] > 0x7f) return false;
  return true;
}

const cosmjsUtf8Read = cosmjsUtf8.utf8Read;
(cosmjsUtf8 as { utf8Read: typeof cosmjsUtf8Read }).utf8Read = (buffer: ArrayLike<number>, start: number, end: number): string =>
  buffer instanceof Uint8Array && end > start && end <= buffer.length && isAscii(buffer, start, end) ? latin1Slice.call(buffer, start, end) : cosmjsUtf8Read(buffer, start, end);

const bufString = BufReader.prototype.string;
BufReader.prototype.string = function (this: BufReader, strict?: boolean): string {
  const at = this.pos;
  const len = this.uint32();
  const start = this.pos;
  const end = start + len;
  const buf = (this as unknown as { buf: Uint8Array }).buf; // the reader's whole input (positions are absolute)
  if (end <= buf.length && isAscii(buf, start, end)) {
    this.pos = end;
    return latin1Slice.call(buf, start, end);
  }
  this.pos = at;
  return bufString.call(this, strict);
};
