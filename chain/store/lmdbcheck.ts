/**
 * A guard before opening an LMDB environment: a data file that does not carry LMDB's
 * meta pages (magic 0xBEEFC0DE, version 2, in both of the first two pages) is refused
 * with a clear error, instead of letting the native library crash on it or a node
 * start a fresh chain beside a damaged one.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";

const MAGIC = 0xbeefc0de;
const PAGE = 4096;
const META_OFFSET = 24; // after the page header

export class CorruptStoreError extends Error {}

export function assertLmdbIntact(dir: string, what: string): void {
  const file = join(dir, "data.mdb");
  if (!existsSync(file)) return;
  const size = statSync(file).size;
  if (size === 0) return;
  const fd = openSync(file, "r");
  try {
    for (const page of [0, 1]) {
      const b = Buffer.alloc(8);
      const n = readSync(fd, b, 0, 8, page * PAGE + META_OFFSET);
      if (n !== 8 || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(4) !== 2) {
        throw new CorruptStoreError(
          `${what} at ${file} is corrupt (meta page ${page} is not LMDB's): refusing to start. Restore the directory from a backup, or start a new home.`,
        );
      }
    }
  } finally {
    closeSync(fd);
  }
}
