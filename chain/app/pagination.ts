/**
 * Pagination of list queries (cosmos.base.query.v1beta1): `limit` (default 100, at most
 * 1000), then either `key` (the `next_key` of the previous page) or `offset`.
 * `next_key` is the big-endian index of the next item; empty on the last page.
 */
import { PageRequest, PageResponse } from "../../client/src/generated/cosmos/base/query/v1beta1/pagination";
import { ErrInvalidRequest } from "./errors";

export const DEFAULT_PAGE_LIMIT = 100n;
export const MAX_PAGE_LIMIT = 1000n;

/** The window of a page over `length` items: [from, to), the next key, and the total if counted. */
function window(length: bigint, page: PageRequest | undefined): { from: bigint; to: bigint; pagination: PageResponse } {
  const limit = page && page.limit > 0n ? page.limit : DEFAULT_PAGE_LIMIT;
  if (limit > MAX_PAGE_LIMIT) throw ErrInvalidRequest.wrap(`pagination limit ${limit} exceeds ${MAX_PAGE_LIMIT}`);
  let start = 0n;
  if (page && page.key.length > 0) {
    if (page.offset > 0n) throw ErrInvalidRequest.wrap("pagination: key and offset are mutually exclusive");
    if (page.key.length !== 8) throw ErrInvalidRequest.wrap("pagination: invalid key");
    start = Buffer.from(page.key).readBigUInt64BE();
  } else if (page) start = page.offset;
  const from = start < length ? start : length;
  const to = from + limit < length ? from + limit : length;
  let nextKey = new Uint8Array();
  if (to < length) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(to);
    nextKey = b;
  }
  return { from, to, pagination: { nextKey, total: page?.countTotal ? length : 0n } };
}

export function paginate<T>(all: readonly T[], page: PageRequest | undefined): { items: T[]; pagination: PageResponse } {
  const { from, to, pagination } = window(BigInt(all.length), page);
  const items = page?.reverse ? [...all].reverse().slice(Number(from), Number(to)) : all.slice(Number(from), Number(to));
  return { items, pagination };
}

/**
 * `paginate` over a sequence known by its length and read by index (`at(0)` first): only
 * the page's items are read, whatever the length — for append-only histories.
 */
export function paginateIndexed<T>(length: bigint, at: (i: bigint) => T, page: PageRequest | undefined): { items: T[]; pagination: PageResponse } {
  const { from, to, pagination } = window(length, page);
  const items: T[] = [];
  for (let i = from; i < to; i++) items.push(at(page?.reverse ? length - 1n - i : i));
  return { items, pagination };
}
