/**
 * The coverage index's tree against brute force (fast-check): after random inserts,
 * updates and removals, the prefix-sum deficit and the branch-and-bound top two at a
 * random price equal a plain loop over the same entries; a tree built from sorted
 * entries answers the same as one built by inserts.
 */
import fc from "fast-check";
import { SideIndex } from "./coverage";

const E18 = 10n ** 18n;

const arbOps = fc.array(
  fc.record({
    remove: fc.boolean(),
    owner: fc.integer({ min: 0, max: 40 }),
    key: fc.integer({ min: -1_000, max: 100_000 }),
    size: fc.integer({ min: 1, max: 1_000_000 }),
  }),
  { maxLength: 200 },
);

function brute(side: "long" | "short", entries: { key: bigint; size: bigint }[], y: bigint): { d: bigint; top: [bigint, bigint] } {
  let d = 0n;
  const vals: bigint[] = [];
  for (const e of entries) {
    const v = side === "long" ? e.size * (e.key - y) : e.size * (y - e.key);
    if (v > 0n) {
      d += v;
      vals.push(v);
    }
  }
  vals.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return { d, top: [vals[0] ?? 0n, vals[1] ?? 0n] };
}

describe("coverage index (augmented treap)", () => {
  for (const side of ["long", "short"] as const) {
    it(`${side}: deficit and top two equal brute force after random changes`, () => {
      fc.assert(
        fc.property(arbOps, fc.array(fc.integer({ min: -2_000, max: 110_000 }), { minLength: 1, maxLength: 5 }), (ops, ys) => {
          const idx = new SideIndex(side);
          // owner → its one entry (a position has one key at a time)
          const live = new Map<string, { key: bigint; size: bigint }>();
          for (const op of ops) {
            const owner = `o${String(op.owner).padStart(3, "0")}`;
            const cur = live.get(owner);
            if (cur) {
              expect(idx.remove(cur.key, owner)).toBe(true);
              live.delete(owner);
            }
            if (!op.remove) {
              const e = { key: BigInt(op.key) * E18 + 123n, size: BigInt(op.size) * 10n ** 14n };
              idx.insert(e.key, owner, e.size);
              live.set(owner, e);
            }
          }
          expect(idx.size).toBe(live.size);
          const sorted = [...live.entries()].map(([owner, e]) => ({ owner, ...e })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.owner < b.owner ? -1 : 1));
          expect([...idx.entries()]).toEqual(sorted.map((e) => ({ key: e.key, owner: e.owner, size: e.size })));
          const rebuilt = SideIndex.fromSorted(side, sorted);
          for (const yi of ys) {
            const y = BigInt(yi) * E18;
            const want = brute(side, [...live.values()], y);
            expect(idx.deficitRaw(y)).toBe(want.d);
            expect(idx.top2Raw(y)).toEqual(want.top);
            expect(rebuilt.deficitRaw(y)).toBe(want.d);
            expect(rebuilt.top2Raw(y)).toEqual(want.top);
          }
        }),
        { numRuns: 300 },
      );
    });
  }

  it("removing an absent entry changes nothing", () => {
    const idx = new SideIndex("long");
    idx.insert(5n * E18, "a", E18);
    expect(idx.remove(5n * E18, "b")).toBe(false);
    expect(idx.remove(4n * E18, "a")).toBe(false);
    expect(idx.size).toBe(1);
    expect(idx.deficitRaw(3n * E18)).toBe(2n * E18 * E18);
  });
});
