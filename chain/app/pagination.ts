/**
 * Pagination of list queries (cosmos.base.query.v1beta1): `limit` (default 100, at most
 * 1000), then either `key` (the `next_key` of the previous page) or `offset`.
 * `next_key` is the big-endian index of the next item; empty on the last page.
 */
import { PageRequest, PageResponse } from "../../client/src/generated/cosmos/base/query/v1beta1/pagination";
import { ErrInvalidRequest } from "./errors";

export const DEFAULT_PAGE_LIMIT = 100n;
export const MAX_PAGE_LIMIT = 1000n;

export function paginate<T>(all: readonly T[], page: PageRequest | undefined): { items: T[]; pagination: PageResponse } {
  const limit = page && page.limit > 0n ? page.limit : DEFAULT_PAGE_LIMIT;
  if (limit > MAX_PAGE_LIMIT) throw ErrInvalidRequest.wrap(`pagination limit ${limit} exceeds ${MAX_PAGE_LIMIT}`);
  let start = 0n;
  if (page && page.key.length > 0) {
    if (page.offset > 0n) throw ErrInvalidRequest.wrap("pagination: key and offset are mutually exclusive");
    if (page.key.length !== 8) throw ErrInvalidRequest.wrap("pagination: invalid key");
    start = Buffer.from(page.key).readBigUInt64BE();
  } else if (page) start = page.offset;
  const from = Number(start < BigInt(all.length) ? start : BigInt(all.length));
  const to = Math.min(all.length, from + Number(limit));
  const items = page?.reverse ? [...all].reverse().slice(from, to) : all.slice(from, to);
  let nextKey = new Uint8Array();
  if (to < all.length) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(to));
    nextKey = b;
  }
  return { items, pagination: { nextKey, total: page?.countTotal ? BigInt(all.length) : 0n } };
}
