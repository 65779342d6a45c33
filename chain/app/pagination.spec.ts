import fc from "fast-check";
import { paginate, paginateIndexed } from "./pagination";
import { PageRequest } from "../../client/src/generated/cosmos/base/query/v1beta1/pagination";

describe("pagination", () => {
  it("paginateIndexed reads only the page and gives what paginate gives over the whole list (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 0, max: 320 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (n, limit, at, byKey, reverse, countTotal) => {
          const all = Array.from({ length: n }, (_, i) => `item ${i}`);
          const key = Buffer.alloc(byKey ? 8 : 0);
          if (byKey) key.writeBigUInt64BE(BigInt(at));
          const page: PageRequest = { key, offset: byKey ? 0n : BigInt(at), limit: BigInt(limit), countTotal, reverse };
          const read: bigint[] = [];
          const indexed = paginateIndexed(BigInt(n), (i) => (read.push(i), all[Number(i)]), page);
          expect(indexed).toEqual(paginate(all, page));
          expect(read.length).toBe(indexed.items.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});
