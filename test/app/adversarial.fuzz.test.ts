/**
 * Adversarial fuzz (issue "Soundness under attack"): random agents that collude — pairs
 * crossing each other off the mark within the price band, opening and closing — trade
 * with themselves, bid in liquidation auctions, add and pull margin, flood the book,
 * while the feeder pumps and crashes prices (up to ±30% a block); bystanders deposit and
 * never trade, LPs come and go. A seeded PRNG drives it, so every run is the same.
 *
 * After every block (`Guard`): the solvency check holds; Σ long = Σ short per market;
 * every pool takeover takes at most max_takeover_fraction of the pool's net assets in
 * notional, and a pool's inventory stays within that cap in the block it grows; every
 * bystander's withdrawal of its whole free collateral passes CheckTx; and the uusdc that
 * left the margin account to traders is at most what traders deposited plus what the
 * pools paid into it. At the end every bystander withdraws all of it, and gets it.
 */
import { Chain } from "../util/chain";
import { TestAccount } from "../util/localnet";
import { Dec } from "../../chain/math/decimal";
import { attackChain, checkBystandersWithdraw, Guard, inventory, M, mark, Q, toStep, toTick, USDC, usd } from "../util/attack";

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MARKETS = ["SOL-USD", "ETH-USD"];
const BLOCKS = 60;
const SEEDS = [2026, 7, 31337, 424242];

type Tx = [TestAccount, ReturnType<typeof M.order>[]];

async function run(seed: number) {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const between = (lo: number, hi: number) => lo + (hi - lo) * rnd();
  const c: Chain = await attackChain(4);
  const g = new Guard(c);
  const [validator, alice, bob, carol, dave, lp1, lp2, liquidator, oracle1, oracle2] = c.accounts;
  const extras = c.accounts.slice(10);
  const agents = [alice, bob, validator, liquidator, oracle2, ...extras];
  const lps = [lp1, lp2];
  const bys = [carol, dave].map((who) => ({ who, bank0: c.balance(who.address), seq0: Q.sequence(c, who) }));

  let deposited = 0n;
  let withdrawn = 0n;
  let poolsPaid = 0n;
  /** A block, and the uusdc that moved into and out of the margin account in it. */
  const step = (txs: Tx[]) => {
    const r = g.block(txs);
    for (const e of c.lastEvents("backstop.margin.v1.EventDeposit")) deposited += BigInt(e.amount_uusdc);
    for (const e of c.lastEvents("backstop.margin.v1.EventWithdraw")) withdrawn += BigInt(e.amount_uusdc);
    for (const e of c.lastEvents("backstop.insurance.v1.EventDeficitCovered")) poolsPaid += BigInt(e.amount_uusdc);
    return r;
  };

  // Funding: the extra agents from the LPs; small pools (the attackers are far larger); bystanders deposit.
  g.block(extras.map((e, i) => [lps[i % 2], [M.send(lps[i % 2], e, 2_000_000n * USDC)]]));
  step([
    [lp1, [M.poolDeposit(lp1, "alts", 200_000n * USDC), M.poolDeposit(lp1, "majors", 200_000n * USDC)]],
    [lp2, [M.poolDeposit(lp2, "alts", 100_000n * USDC)]],
    [carol, [M.deposit(carol, 1_000_000n * USDC)]],
    [dave, [M.deposit(dave, 2_000_000n * USDC)]],
    ...agents.map((a) => [a, [M.deposit(a, (c.balance(a.address) * 9n) / 10n)]] as Tx),
  ]);

  const markets = Object.fromEntries(
    MARKETS.map((id) => {
      const m = Q.market(c, id).market!;
      return [id, { step: Dec.parse(m.stepSize), tick: Dec.parse(m.tickSize), min: Dec.parse(m.minOrderSize), band: Number(m.priceBand), start: mark(c, id) }];
    }),
  );
  const px = (id: string, frac: number, up = false) => toTick(mark(c, id).mul(Dec.parse(frac.toFixed(6)), up ? "ceil" : "floor"), markets[id].tick, up);
  /** A size worth `lev` × the agent's free collateral at price p. */
  const sizeFor = (who: TestAccount, id: string, p: Dec, lev: number) => {
    const usdFree = Number(c.free(who.address)) / 1e6;
    const q = toStep(Dec.parse(((usdFree * lev) / Number(p.toString())).toFixed(6)), markets[id].step);
    return q.gte(markets[id].min) ? q : markets[id].min;
  };
  const sizeOf = (address: string, id: string) => Dec.parse(Q.position(c, address, id)?.position?.size ?? "0");


  let fills = 0;
  let trend: { id: string; dir: number; left: number } | null = null;
  for (let b = 0; b < BLOCKS; b++) {
    const txs: Tx[] = [];
    const busy = new Set<string>();
    const add = (who: TestAccount, msgs: Tx[1]) => {
      txs.push([who, msgs]);
      busy.add(who.address);
    };
    const free = (xs: TestAccount[]) => xs.filter((x) => !busy.has(x.address));

    // Collusion: a pair crosses off the mark (within the band), opening or closing.
    for (let k = 0; k < 2; k++) {
      if (rnd() > 0.6) continue;
      const pool = free(agents);
      if (pool.length < 2) break;
      const buyer = pick(pool);
      const seller = pick(pool.filter((x) => x !== buyer));
      const id = pick(MARKETS);
      const off = between(-0.95, 0.95) * markets[id].band;
      const p = px(id, 1 + off);
      const closing = rnd() < 0.35;
      let q: Dec;
      if (closing) {
        const bs = sizeOf(buyer.address, id);
        const ss = sizeOf(seller.address, id);
        q = Dec.min(bs.isNegative() ? bs.abs() : markets[id].min, ss.isPositive() ? ss : markets[id].min);
      } else q = sizeFor(buyer, id, p, between(0.5, 9));
      const ioc = rnd() < 0.3;
      add(buyer, [M.order(buyer, id, "buy", q, p, { ioc, reduceOnly: closing && sizeOf(buyer.address, id).isNegative() })]);
      add(seller, [M.order(seller, id, "sell", q, p, { ioc, reduceOnly: closing && sizeOf(seller.address, id).isPositive() })]);
    }
    // Self-trade: one account on both sides at the mark.
    if (rnd() < 0.25 && free(agents).length > 0) {
      const who = pick(free(agents));
      const id = pick(MARKETS);
      const p = px(id, 1);
      const q = sizeFor(who, id, p, between(0.2, 3));
      add(who, [M.order(who, id, "buy", q, p), M.order(who, id, "sell", q, p)]);
    }
    // Liquidation auctions: someone bids for what is offered.
    for (const a of Q.auctions(c)) {
      if (rnd() < 0.4 || free(agents).length === 0) continue;
      const who = pick(free(agents).filter((x) => x.address !== a.owner));
      if (!who) continue;
      const long = sizeOf(a.owner, a.marketId).isPositive();
      const q = toStep(Dec.parse(a.sizeRemaining).mul(Dec.parse(between(0.2, 1).toFixed(3)), "floor"), markets[a.marketId].step);
      if (q.isZero()) continue;
      add(who, [M.bid(who, a.owner, a.marketId, q, long ? px(a.marketId, 1.0) : toTick(Dec.parse(a.currentPrice), markets[a.marketId].tick))]);
    }
    // Margin: add some, or pull as much as the chain lets through (the whale's move).
    if (rnd() < 0.35 && free(agents).length > 0) {
      const who = pick(free(agents));
      const id = pick(MARKETS);
      const p = Q.position(c, who.address, id);
      if (p) {
        const margin = BigInt(p.position!.marginUusdc);
        const e = BigInt(p.equityUusdc || "0");
        const im = BigInt(p.initialRequirementUusdc || "0");
        if (rnd() < 0.4) add(who, [M.addMargin(who, id, c.free(who.address) / 10n + 1n)]);
        else {
          let amt = e - im > 0n ? e - im : margin / 10n;
          if (amt > margin) amt = margin;
          if (amt > 0n) add(who, [M.removeMargin(who, id, amt)]);
        }
      }
    }
    // Flood: one agent sends many minimum-size orders, one tx each.
    if (rnd() < 0.12 && free(agents).length > 0) {
      const who = pick(free(agents));
      const id = pick(MARKETS);
      const ioc = rnd() < 0.5;
      for (let i = 0; i < 30; i++) txs.push([who, [M.order(who, id, "buy", markets[id].min, px(id, 0.6 - i * 0.001), { ioc })]]);
      busy.add(who.address);
    }
    // Whoever holds the other side of a pool's inventory sells into (buys from) its unwinding.
    for (const id of MARKETS) {
      const inv = inventory(c, Q.market(c, id).market!.insurancePoolId, id);
      if (inv.isZero() || rnd() < 0.3) continue;
      for (const who of free(agents)) {
        const s = sizeOf(who.address, id);
        if (s.isZero() || s.isPositive() === inv.isPositive()) continue;
        add(who, [M.order(who, id, s.isPositive() ? "sell" : "buy", s.abs(), px(id, s.isPositive() ? 0.91 : 1.09, !s.isPositive()), { ioc: true, reduceOnly: true })]);
      }
    }
    // Withdrawals by agents (all they can).
    if (rnd() < 0.2 && free(agents).length > 0) {
      const who = pick(free(agents));
      const f = c.free(who.address);
      if (f > 0n) add(who, [M.withdraw(who, f)]);
    }
    // LPs come and go.
    if (rnd() < 0.15) {
      const lp = pick(lps);
      const poolId = pick(["alts", "majors"]);
      if (rnd() < 0.5) add(lp, [M.poolDeposit(lp, poolId, BigInt(Math.floor(between(10_000, 200_000))) * USDC)]);
      else {
        const shares = c.balance(lp.address, Q.pool(c, poolId).shareDenom);
        if (shares > 0n) add(lp, [M.poolWithdraw(lp, poolId, shares / 2n + 1n)]);
      }
    }
    // The feeder pumps or crashes (±30% a block at most), or nudges; now and then it runs a
    // campaign: several blocks in one direction in one market.
    if (!trend && rnd() < 0.1) trend = { id: pick(MARKETS), dir: rnd() < 0.6 ? 1 : -1, left: 4 + Math.floor(rnd() * 6) };
    if (trend || rnd() < 0.7) {
      const pushes = MARKETS.filter((id) => trend?.id === id || rnd() < 0.7).map((id) => {
        const r = rnd();
        const move = trend?.id === id ? trend.dir * between(0.03, 0.3) : r < 0.6 ? between(-0.03, 0.03) : r < 0.85 ? between(-0.1, 0.1) : between(-0.3, 0.3);
        const cur = Number(mark(c, id).toString());
        const start = Number(markets[id].start.toString());
        const next = Math.min(Math.max(cur * (1 + move), start * 0.3), start * 4);
        return M.price(oracle1, id, toTick(Dec.parse(next.toFixed(6)), markets[id].tick));
      });
      if (pushes.length > 0) txs.push([oracle1, pushes]);
      if (trend && --trend.left === 0) trend = null;
    }

    const res = step(txs);
    for (const r of res) if (r.code !== 0) expect(r.codespace).not.toBe("");
    fills += c.lastEvents("backstop.clearing.v1.EventFill").length;
    if (withdrawn > deposited + poolsPaid) g.note("flows", `traders withdrew ${usd(withdrawn)} from the margin account; they deposited ${usd(deposited)} and the pools paid ${usd(poolsPaid)} into it`);
    // Every bystander could take all of its free collateral out now.
    for (const { who } of bys) {
      const f = c.free(who.address);
      if (f === 0n) continue;
      const r = c.check(who, [M.withdraw(who, f)]);
      if (r.code !== 0) g.note("bystander-check", `bystander ${who.name}'s withdrawal of ${usd(f)} fails CheckTx: ${r.codespace}/${r.code}`);
    }
  }
  // Let what is under way (liquidations, auctions, takeovers, unwinding) settle, then the bystanders leave.
  for (let i = 0; i < 15; i++) step([]);
  checkBystandersWithdraw(g, bys);
  c.app.close();
  return { g, fills };
}

describe("adversarial fuzz", () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: colluding, self-trading, bidding, margin-pulling, flooding agents and ±30% prices never break solvency, the takeover cap or the bystanders`, async () => {
      const { g, fills } = await run(seed);
      expect(fills).toBeGreaterThan(0);
      expect(g.violations).toEqual([]);
    });
  }
});
