import fc from "fast-check";
import { INITIAL_SHARES_PER_UUSDC, nav, sharesForDeposit, shareValue, withdrawalPayout } from "./shares";

const MIN_LOCKED = 1_000_000_000n; // 1,000 uusdc worth at the initial rate

describe("deposits", () => {
  it("the first deposit mints at the initial rate and locks the minimum", () => {
    expect(sharesForDeposit({ assets: 0n, shares: 0n }, 10_000n, MIN_LOCKED)).toEqual({
      ok: true,
      minted: 10_000n * INITIAL_SHARES_PER_UUSDC,
      toDepositor: 10_000n * INITIAL_SHARES_PER_UUSDC - MIN_LOCKED,
      locked: MIN_LOCKED,
    });
    expect(sharesForDeposit({ assets: 0n, shares: 0n }, 1_000n, MIN_LOCKED)).toEqual({ ok: false, reason: "too_small" });
  });

  it("a first deposit into a pool that already holds assets (fees, a rebalance) buys in at the locked shares' NAV: it gets the deposit's worth, never those assets (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 15n }), (assets, amount) => {
        const r = sharesForDeposit({ assets, shares: 0n }, amount, MIN_LOCKED);
        if (!r.ok) {
          // Refused only when the deposit is worth less than one share at that NAV.
          expect(amount * MIN_LOCKED < assets).toBe(true);
          return;
        }
        expect(r.locked).toBe(MIN_LOCKED);
        const after = { assets: assets + amount, shares: r.minted };
        const mine = shareValue(after, r.toDepositor);
        expect(mine <= amount).toBe(true);
        // Rounding costs the depositor less than one share's worth (and one uusdc).
        expect(amount - mine <= assets / MIN_LOCKED + 1n).toBe(true);
        // The locked shares keep what was there.
        expect(shareValue(after, r.locked) >= assets).toBe(true);
      }),
      { numRuns: 500 },
    );
    // The attack of the review: 1 uusdc into a pool holding ~100,000 USDC with no shares.
    expect(sharesForDeposit({ assets: 99_910_084_000n, shares: 0n }, 1_000_000n, MIN_LOCKED)).toMatchObject({ ok: true, toDepositor: 10_008n });
    expect(shareValue({ assets: 99_910_084_000n + 1_000_000n, shares: MIN_LOCKED + 10_008n }, 10_008n) <= 1_000_000n).toBe(true);
    expect(sharesForDeposit({ assets: -5n, shares: 0n }, 1_000_000n, MIN_LOCKED)).toEqual({ ok: false, reason: "pool_insolvent" });
  });

  it("later deposits mint at NAV, rounded down, and never lower NAV (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        fc.bigInt({ min: 1n, max: 10n ** 21n }),
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        (assets, shares, amount) => {
          const before = { assets, shares };
          const r = sharesForDeposit(before, amount, MIN_LOCKED);
          if (!r.ok) return;
          const after = { assets: assets + amount, shares: shares + r.minted };
          // NAV does not fall: (a+x)/(s+m) ≥ a/s  ⇔  (a+x)·s ≥ a·(s+m)
          expect((assets + amount) * shares >= assets * (shares + r.minted)).toBe(true);
          // The depositor's shares are never worth more than they paid.
          expect(shareValue(after, r.toDepositor) <= amount).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("the donation attack gains the attacker nothing", () => {
    // Attacker makes the first deposit (1,001 uusdc: the smallest allowed), then donates 1,000,000 uusdc.
    const first = sharesForDeposit({ assets: 0n, shares: 0n }, 1_001n, MIN_LOCKED);
    if (!first.ok) throw new Error("first deposit refused");
    const pool = { assets: 1_001n + 1_000_000n, shares: first.minted };
    // A victim deposits 500,000 uusdc: they still get shares...
    const victim = sharesForDeposit(pool, 500_000n, MIN_LOCKED);
    expect(victim.ok).toBe(true);
    if (!victim.ok) return;
    const after = { assets: pool.assets + 500_000n, shares: pool.shares + victim.minted };
    // ...the victim loses at most rounding dust, and the attacker's shares are worth less than they put in
    // (the locked minimum owns almost all of the donation).
    expect(500_000n - shareValue(after, victim.toDepositor)).toBeLessThanOrEqual(1n);
    expect(shareValue(after, first.toDepositor)).toBeLessThan(1_001n + 1_000_000n);
  });
});

describe("withdrawal payouts", () => {
  const pool = { assets: 2_000_000n, shares: 1_000_000n }; // NAV 2
  it("a loss during the cooldown is borne", () => {
    const atRequest = shareValue(pool, 100_000n);
    const afterLoss = { assets: 1_500_000n, shares: 1_000_000n }; // NAV 1.5
    expect(withdrawalPayout(100_000n, atRequest, afterLoss, 10n ** 12n)).toBe(150_000n);
  });
  it("a gain during the cooldown stays in the pool", () => {
    const afterGain = { assets: 3_000_000n, shares: 1_000_000n }; // NAV 3
    expect(withdrawalPayout(100_000n, shareValue(pool, 100_000n), afterGain, 10n ** 12n)).toBe(200_000n);
  });
  it("a pool whose NAV is below 1e-18 uusdc per share still pays what the shares are worth", () => {
    const tiny = { assets: 13_083_000_000n, shares: 10n ** 43n }; // NAV 1.3e-33: rounds to 0 at 18 places
    expect(nav(tiny).isZero()).toBe(true);
    const shares = 10n ** 42n; // a tenth of the pool
    expect(withdrawalPayout(shares, shareValue(tiny, shares), tiny, tiny.assets)).toBe(1_308_300_000n);
  });
  it("never pays more than the pool holds (rounding and liquidity)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 18n }), fc.bigInt({ min: 0n, max: 10n ** 18n }), (assets, shares, frac) => {
        const w = (shares * (frac % 1000n)) / 1000n;
        const p = withdrawalPayout(w, shareValue({ assets, shares }, w), { assets, shares }, assets);
        expect(p <= assets).toBe(true);
        expect(p * shares <= w * assets).toBe(true); // ≤ its exact pro-rata claim
      }),
      { numRuns: 500 },
    );
    expect(withdrawalPayout(100n, 500n, { assets: 10_000n, shares: 100n }, 7n)).toBe(7n);
  });
});
