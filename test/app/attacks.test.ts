/**
 * Soundness under attack (issue "Soundness under attack"): the attacks measured on a fresh
 * localnet, replayed through the real application block by block with signed txs, and
 * what must hold whatever the attackers do:
 *
 *  1. thin-market squeeze (Hyperliquid's JELLY): colluders cross a huge SOL position, the
 *     short is left to the pool, the price is pumped and the long sells into the pool;
 *  2. a whale pulls margin that only unrealised profit backs, then the price turns;
 *  3. a liquidation-auction bidder colluding with the position's owner, and an auction
 *     whose price does not follow the mark;
 *  4. an order flood from one account in one block;
 *  5. the pool's coverage collapses and nothing reacts.
 *
 * After every block the solvency check must hold and every market must be balanced
 * (`Guard`); bystanders who deposited and never traded must get all their collateral
 * back; what the colluders gain is bounded by what the pools could legitimately lose.
 * Bounds that depend on parameters read them from the chain (markets, pools, params).
 * Violations are collected and asserted at the end, so a failure lists all of them.
 */
import { Chain } from "../util/chain";
import { signTx, TestAccount } from "../util/localnet";
import { Any } from "cosmjs-types/google/protobuf/any";
import { Dec } from "../../chain/math/decimal";
import {
  attackChain,
  checkBystandersWithdraw,
  crossLargest,
  deficitsPaid,
  groupValue,
  Guard,
  M,
  mark,
  MARGIN_ADDRESS,
  netAssets,
  notional,
  poolsValue,
  Q,
  scaled,
  takeoverFraction,
  toStep,
  toTick,
  TX_FEE,
  USDC,
  usd,
  withdrawAll,
} from "../util/attack";
import { LiquidationTier } from "../../client/src/generated/backstop/clearing/v1/clearing";
import { marginMultiplier } from "../../chain/x/margin/types/risk";

const SOL = "SOL-USD";
const BTC = "BTC-USD";
const ETH = "ETH-USD";
/** What a colluder leaves in the bank for its tx fees when it deposits everything else. */
const FEE_FLOAT = 100n * USDC;

/** Deposits everything but a fee float into margin, for each account, in one block. */
function depositAll(g: Guard, who: TestAccount[]): void {
  g.block(who.map((a) => [a, [M.deposit(a, g.c.balance(a.address) - FEE_FLOAT)]]));
}

/** A bystander: deposits `amount` and never trades; remembers where its bank stood. */
function bystander(c: Chain, who: TestAccount) {
  return { who, bank0: c.balance(who.address), seq0: Q.sequence(c, who) };
}

// --- 1. the thin-market squeeze ---------------------------------------------------------------

interface SqueezeOutcome {
  g: Guard;
  gain: bigint;
  bound: bigint;
  poolsLoss: bigint;
  opened: Dec;
}

/**
 * The squeeze of the issue: lp1 funds majors and alts with 1,000,000 USDC each; two
 * bystanders deposit 5,000,000 USDC each and never trade; `pairs` pairs of colluders (a
 * long and a short each) cross 590,000 SOL in all at 150 (as much of it as the chain
 * accepts). Then either
 *  - stepwise: SOL to 162 (the shorts are liquidatable, not bankrupt: nobody takes them,
 *    the pool takes them over), then pumped ~10% a block to 450, where the longs sell
 *    into whatever the pool bids; or
 *  - gap: SOL 150 → 450 in one block.
 * Finally the colluders withdraw what they can (as much as the margin account holds) and
 * the bystanders withdraw everything.
 */
async function squeeze(pairs: number, gap: boolean): Promise<SqueezeOutcome> {
  const c = await attackChain((pairs - 1) * 2);
  const g = new Guard(c);
  const [validator, alice, bob, carol, dave, lp1, lp2, liquidator, , oracle2] = c.accounts;
  const extras = c.accounts.slice(10);
  const longs = [alice, ...extras.slice(0, pairs - 1)];
  const shorts = [bob, ...extras.slice(pairs - 1)];
  const group = [...longs, ...shorts];
  // The extra colluders are funded from the other localnet accounts.
  const funders = [validator, lp2, liquidator, oracle2];
  if (extras.length > funders.length) throw new Error("not enough funders");
  if (extras.length > 0) g.block(extras.map((e, i) => [funders[i], [M.send(funders[i], e, c.balance(funders[i].address) - FEE_FLOAT)]]));

  const bystanders = [bystander(c, carol), bystander(c, dave)];
  g.block([
    [lp1, [M.poolDeposit(lp1, "majors", 1_000_000n * USDC), M.poolDeposit(lp1, "alts", 1_000_000n * USDC)]],
    [carol, [M.deposit(carol, 5_000_000n * USDC)]],
    [dave, [M.deposit(dave, 5_000_000n * USDC)]],
  ]);
  const market = Q.market(c, SOL).market!;
  const poolId = market.insurancePoolId;
  const tick = Dec.parse(market.tickSize);
  const navStart = netAssets(c, poolId);
  const bound = takeoverFraction(market).mulIntToInt(navStart > 0n ? navStart : 0n, "floor");
  const value0 = groupValue(c, group);
  const pools0 = poolsValue(c);

  depositAll(g, group);
  // 590,000 SOL (88.5M USD) in all, split over the pairs; each pair as much of its share as opens.
  const each = toStep(Dec.parse("590000").divInt(BigInt(pairs), "floor"), Dec.parse(market.stepSize));
  const sizes = crossLargest(
    g,
    SOL,
    longs.map((l, i) => [l, shorts[i]] as [TestAccount, TestAccount]),
    each,
    Dec.parse("150"),
  );
  const opened = sizes.reduce((s, x) => s.add(x), Dec.ZERO);

  const sellAll = (px: Dec) => {
    const txs: [TestAccount, ReturnType<typeof M.order>[]][] = [];
    for (const l of longs) {
      const p = Q.position(c, l.address, SOL);
      const size = p ? Dec.parse(p.position!.size) : Dec.ZERO;
      if (size.isPositive()) txs.push([l, [M.order(l, SOL, "sell", size, scaled(px, "0.91", tick, true), { ioc: true, reduceOnly: true })]]);
    }
    return txs;
  };

  if (gap) {
    g.push({ [SOL]: "450" });
    for (let i = 0; i < 20; i++) g.block(sellAll(mark(c, SOL)));
  } else {
    g.push({ [SOL]: "162" });
    // Nobody takes the shorts: tier 1 finds no seller, the auction no bidder; the pool takes them over.
    for (let i = 0; i < 30; i++) {
      g.block([]);
      const left = shorts.some((s) => Q.position(c, s.address, SOL));
      if (c.lastEvents("backstop.clearing.v1.EventPoolTakeover").length > 0 || !left) break;
    }
    // Pump ~10% a block to 450 (the oracle's quorum is one feeder).
    let px = Dec.parse("162");
    while (px.lt(Dec.parse("450"))) {
      px = Dec.min(toTick(px.mul(Dec.parse("1.1"), "floor"), tick), Dec.parse("450"));
      g.push({ [SOL]: px });
    }
    // The longs sell into the pool's unwinding, block after block.
    for (let i = 0; i < 30; i++) g.block(sellAll(px));
  }

  // The colluders take out what they can: as much as the margin account holds.
  for (const who of group) withdrawAll(g, who, c.balance(MARGIN_ADDRESS));
  checkBystandersWithdraw(g, bystanders);

  const gain = groupValue(c, group) - value0;
  const poolsLoss = pools0 - poolsValue(c);
  return { g, gain, bound, poolsLoss, opened };
}

function assertSqueeze(o: SqueezeOutcome): void {
  const { g, gain, bound, poolsLoss } = o;
  // The colluders' gain is bounded by the pool's capped exposure…
  if (gain > bound) g.note("gain", `the colluders gained ${usd(gain)}, beyond max_takeover_fraction × the pool's net assets at the start = ${usd(bound)} (opened ${o.opened} SOL)`);
  // …and it is money the pools actually paid (no credit without cash): nobody else lost any.
  if (gain > poolsLoss + 1_000n) g.note("gain", `the colluders gained ${usd(gain)} but the pools lost only ${usd(poolsLoss)}: ${usd(gain - poolsLoss)} was credited with nothing behind it`);
  expect(g.violations).toEqual([]);
}

describe("soundness under attack", () => {
  describe("1. thin-market squeeze (JELLY)", () => {
    it("two colluders, stepwise pump to 450 after the pool takes the short over: solvent every block, bystanders whole, gain within the pool's capped exposure", async () => {
      assertSqueeze(await squeeze(1, false));
    });

    it("two colluders, one-block gap 150 → 450: solvent every block, bystanders whole, gain within the pool's capped exposure", async () => {
      assertSqueeze(await squeeze(1, true));
    });

    it("six colluders splitting the size, stepwise pump: same bounds", async () => {
      assertSqueeze(await squeeze(3, false));
    });

    it("six colluders splitting the size, one-block gap: same bounds", async () => {
      assertSqueeze(await squeeze(3, true));
    });
  });

  // --- 2. the whale that pulls margin -----------------------------------------------------------

  describe("2. whale pulling margin backed by unrealised profit", () => {
    /**
     * A whale goes long 1,500 BTC at 60,000 (as much as opens) against a counterparty with
     * initial margin only; at +5% it asks for back what "equity ≥ initial requirement"
     * would allow (E − IM: all of it unrealised profit). That must be refused (margin/4):
     * the margin itself must still meet the initial requirement. Then −6%: no deficit for
     * the pools, no ADL, solvent throughout. `oneBlock`: the removal and the crash come in
     * the same block.
     */
    async function whale(oneBlock: boolean) {
      const c = await attackChain();
      const g = new Guard(c);
      const [, alice, bob, , dave, lp1] = c.accounts;
      const oracle1 = c.accounts[8];
      g.block([[lp1, [M.poolDeposit(lp1, "majors", 5_000_000n * USDC)]]]);
      depositAll(g, [alice, bob, dave]);
      const [size] = crossLargest(g, BTC, [[alice, bob]], Dec.parse("1500"), Dec.parse("60000"));
      expect(size.isPositive()).toBe(true);
      const tick = Dec.parse(Q.market(c, BTC).market!.tickSize);
      const deficits0 = c.allEvents("backstop.insurance.v1.EventDeficitCovered").length;

      g.push({ [BTC]: "63000" });
      const p = Q.position(c, alice.address, BTC)!;
      const margin = BigInt(p.position!.marginUusdc);
      const e = BigInt(p.equityUusdc);
      const im = BigInt(p.initialRequirementUusdc);
      // What "equity after ≥ initial requirement" lets it take: E − IM, all of it paper profit
      // (or, if the requirement has risen past that, the paper profit itself).
      const profit = e - margin;
      expect(profit).toBeGreaterThan(0n);
      let amount = e - im > 0n ? e - im : profit;
      if (amount > margin) amount = margin;
      const crash = toTick(Dec.parse("63000").mul(Dec.parse("0.94"), "floor"), tick);
      // A market maker's bids 1,000 under 60,000 (where the book would take a liquidation).
      const bids = () => g.block([[dave, [M.order(dave, BTC, "buy", size, "59000")]]]);
      let removal;
      if (oneBlock) {
        bids();
        [removal] = g.block([
          [alice, [M.removeMargin(alice, BTC, amount)]],
          [oracle1, [M.price(oracle1, BTC, crash)]],
        ]);
      } else {
        [removal] = g.block([[alice, [M.removeMargin(alice, BTC, amount)]]]);
        bids();
        g.push({ [BTC]: crash });
      }
      if (removal.code === 0) g.note("removal", `removing ${usd(amount)} of ${usd(margin)} margin (E ${usd(e)}, IM ${usd(im)}) was accepted: only unrealised profit backed it`);
      else if (removal.codespace !== "margin" || removal.code !== 4) g.note("removal", `removal refused with ${removal.codespace}/${removal.code}, expected margin/4 (below initial margin): ${removal.log}`);
      // Let liquidation run its course.
      for (let i = 0; i < 20; i++) g.block([]);
      const paid = c.allEvents("backstop.insurance.v1.EventDeficitCovered").slice(deficits0).reduce((s, x) => s + BigInt(x.amount_uusdc), 0n);
      if (paid > 0n) g.note("deficit", `the pools paid a deficit of ${usd(paid)}`);
      const unpaid = c.allEvents("backstop.insurance.v1.EventDeficitCovered").slice(deficits0).reduce((s, x) => s + BigInt(x.unpaid_uusdc), 0n);
      if (unpaid > 0n) g.note("deficit", `a deficit of ${usd(unpaid)} was left unpaid`);
      expect(g.violations).toEqual([]);
    }

    it("removal refused at +5%, then −6%: no deficit", async () => {
      await whale(false);
    });

    it("one block: removal and −6% crash together: no deficit", async () => {
      await whale(true);
    });
  });

  // --- 3. the liquidation auction ----------------------------------------------------------------

  describe("3. liquidation auction", () => {
    /** lp1 funds majors; `owner` goes long 20× ETH (initial margin only) against an honest short. */
    async function levered() {
      const c = await attackChain();
      const g = new Guard(c);
      const [, alice, bob, carol, dave, lp1] = c.accounts;
      g.block([[lp1, [M.poolDeposit(lp1, "majors", 1_000_000n * USDC)]]]);
      g.block([
        [alice, [M.deposit(alice, 1_000_000n * USDC)]],
        [bob, [M.deposit(bob, 5_000_000n * USDC)]],
        [carol, [M.deposit(carol, 5_000_000n * USDC)]],
        [dave, [M.deposit(dave, 5_000_000n * USDC)]],
      ]);
      const [size] = crossLargest(g, ETH, [[alice, carol]], Dec.parse("1000"), Dec.parse("3000"));
      expect(size.isPositive()).toBe(true);
      const market = Q.market(c, ETH).market!;
      const p = Q.position(c, alice.address, ETH)!;
      return { c, g, alice, bob, carol, dave, market, size, bk: Dec.parse(p.bankruptcyPrice), liq: Dec.parse(p.liquidationPrice), tick: Dec.parse(market.tickSize) };
    }

    /** Blocks until the owner's auction has started (at most `n`); returns it. */
    function awaitAuction(g: Guard, owner: string, n = 20) {
      for (let i = 0; i < n; i++) {
        const a = Q.auctions(g.c).find((x) => x.owner === owner && x.startPrice !== "");
        if (a) return a;
        g.block([]);
      }
      return Q.auctions(g.c).find((x) => x.owner === owner && x.startPrice !== "");
    }

    /**
     * Checks an auction's price against the current mark: for a long still solvent at the
     * mark (E > 0), never below its bankruptcy price, and never more than
     * auction_max_discount below the current mark.
     */
    function checkAuctionPrice(g: Guard, owner: TestAccount, marketId: string, maxDiscount: Dec, tick: Dec): void {
      const a = Q.auctions(g.c).find((x) => x.owner === owner.address && x.marketId === marketId && x.startPrice !== "");
      const p = Q.position(g.c, owner.address, marketId);
      if (!a || !p || a.currentPrice === "") return;
      const price = Dec.parse(a.currentPrice);
      const m = Dec.parse(p.markPrice);
      if (BigInt(p.equityUusdc) > 0n && p.bankruptcyPrice !== "" && price.lt(Dec.parse(p.bankruptcyPrice).sub(tick)))
        g.note("auction", `the auction offers ${owner.name}'s long at ${price}, below its bankruptcy price ${p.bankruptcyPrice}, while it is solvent at the mark ${m} (E ${usd(BigInt(p.equityUusdc))})`);
      const floor = m.mul(Dec.ONE.sub(maxDiscount), "floor").sub(tick);
      if (price.lt(floor)) g.note("auction", `the auction offers ${owner.name}'s long at ${price}, more than auction_max_discount ${maxDiscount} below the current mark ${m} (started at ${a.startPrice})`);
    }

    it("a partner of the owner bids at the auction's deepest discount on a position solvent at the mark: the pools pay no deficit, the pair gains nothing", async () => {
      const { c, g, alice, bob, market, size, bk, liq, tick } = await levered();
      // Halfway between bankruptcy and liquidation price: liquidatable, E > 0 (−2.5% at 20× and MMR 3%).
      const m = toTick(bk.add(liq).divInt(2n, "floor"), tick);
      g.push({ [ETH]: m });
      const pos = Q.position(c, alice.address, ETH)!;
      expect(pos.liquidatable).toBe(true);
      expect(BigInt(pos.equityUusdc)).toBeGreaterThan(0n);
      const a = awaitAuction(g, alice.address);
      expect(a).toBeDefined();
      const step = Dec.parse(market.auctionStep);
      const maxDiscount = Dec.parse(market.auctionMaxDiscount);
      // The deepest discount: max_discount / step blocks in (while the auction still runs).
      let k = maxDiscount.div(step, "ceil").toInt("ceil");
      if (k > market.auctionBlocks) k = market.auctionBlocks;
      while (c.height + 1n < a!.startHeight + k) {
        g.block([]);
        checkAuctionPrice(g, alice, ETH, maxDiscount, tick);
      }
      const deficits0 = c.allEvents("backstop.insurance.v1.EventDeficitCovered").length;
      const pair0 = groupValue(c, [alice, bob]);
      const pools0 = poolsValue(c);
      // The partner accepts whatever the auction asks (up to the mark).
      const [r] = g.block([[bob, [M.bid(bob, alice.address, ETH, size, m)]]]);
      const liqs = Q.liquidations(c).filter((l) => l.owner === alice.address && l.tier === LiquidationTier.LIQUIDATION_TIER_AUCTION && l.height === c.height);
      for (const l of liqs) {
        if (Dec.parse(l.price).lt(bk.sub(tick))) g.note("bid", `the bid took ${l.quantity} ETH at ${l.price}, below the bankruptcy price ${bk} of a position solvent at the mark ${m}`);
        if (BigInt(l.deficitUusdc) > 0n) g.note("bid", `the bid left a deficit of ${usd(BigInt(l.deficitUusdc))} for the pools`);
      }
      const paid = deficitsPaid(c, deficits0);
      if (paid > 0n) g.note("deficit", `the pools paid ${usd(paid)} for a position solvent at the mark`);
      const pairGain = groupValue(c, [alice, bob]) - pair0;
      if (pairGain > TX_FEE) g.note("pair", `owner and bidder together gained ${usd(pairGain)} at the mark (bid code ${r.code})`);
      const loss = pools0 - poolsValue(c);
      if (loss > 0n) g.note("pools", `the pools lost ${usd(loss)}`);
      for (let i = 0; i < 15; i++) g.block([]);
      expect(g.violations).toEqual([]);
    });

    it("after a crash and a rebound the auction's price follows the current mark: a position solvent at the mark is never sold below its bankruptcy price and the pool pays nothing", async () => {
      const { c, g, alice, dave, market, size, bk, liq, tick } = await levered();
      const maxDiscount = Dec.parse(market.auctionMaxDiscount);
      // The crash: 3% below the bankruptcy price (bankrupt: the auction starts at once, from this mark).
      g.push({ [ETH]: toTick(bk.mul(Dec.parse("0.97"), "floor"), tick) });
      const a = awaitAuction(g, alice.address);
      expect(a).toBeDefined();
      // The rebound: between bankruptcy and liquidation price — solvent at the mark, still liquidatable.
      const m = toTick(bk.add(liq).divInt(2n, "floor"), tick);
      g.push({ [ETH]: m });
      checkAuctionPrice(g, alice, ETH, maxDiscount, tick);
      const pos = Q.position(c, alice.address, ETH);
      expect(pos).toBeDefined();
      expect(BigInt(pos!.equityUusdc)).toBeGreaterThan(0n);
      let k = maxDiscount.div(Dec.parse(market.auctionStep), "ceil").toInt("ceil");
      if (k > market.auctionBlocks) k = market.auctionBlocks;
      while (c.height + 1n < a!.startHeight + k) {
        g.block([]);
        checkAuctionPrice(g, alice, ETH, maxDiscount, tick);
      }
      const deficits0 = c.allEvents("backstop.insurance.v1.EventDeficitCovered").length;
      const pools0 = poolsValue(c);
      // An honest liquidator takes it at the auction's price (anything up to the mark).
      const left = Q.position(c, alice.address, ETH);
      g.block([[dave, [M.bid(dave, alice.address, ETH, left ? Dec.parse(left.position!.size).abs() : size, m)]]]);
      for (const l of Q.liquidations(c).filter((x) => x.owner === alice.address && x.tier === LiquidationTier.LIQUIDATION_TIER_AUCTION && x.height === c.height)) {
        const below = notional(Dec.ONE, m) - notional(Dec.ONE, Dec.parse(l.price));
        if (Dec.parse(l.price).lt(bk.sub(tick))) g.note("bid", `sold ${l.quantity} ETH at ${l.price} (${((Number(below) / Number(notional(Dec.ONE, m))) * 100).toFixed(1)}% below the mark ${m}), below the bankruptcy price ${bk}, with equity > 0 at the mark`);
        if (BigInt(l.deficitUusdc) > 0n) g.note("bid", `the sale left a deficit of ${usd(BigInt(l.deficitUusdc))} for the pools`);
      }
      const paid = deficitsPaid(c, deficits0);
      if (paid > 0n) g.note("deficit", `the pools paid ${usd(paid)} for a position solvent at the mark`);
      const loss = pools0 - poolsValue(c);
      if (loss > 0n) g.note("pools", `the pools lost ${usd(loss)}`);
      expect(g.violations).toEqual([]);
    });
  });

  // --- 4. order floods ------------------------------------------------------------------------------

  describe("4. order flood", () => {
    it("one account's orders beyond max_orders_per_account_per_block in a block are refused (clearing/17) at CheckTx and at delivery, and a refused order changes nothing", async () => {
      const c = await attackChain();
      const g = new Guard(c);
      const [validator, alice, bob] = c.accounts;
      const params = Q.clearingParams(c);
      // The localnet's limit, or one set by the authority if the localnet has none.
      if (params.maxOrdersPerAccountPerBlock === 0) {
        const [r] = g.block([[validator, [M.clearingParams(validator, { ...params, maxOrdersPerAccountPerBlock: 8 })]]]);
        expect(r.code).toBe(0);
      }
      const limit = Q.clearingParams(c).maxOrdersPerAccountPerBlock;
      expect(limit).toBeGreaterThan(0);
      g.block([
        [alice, [M.deposit(alice, 1_000_000n * USDC)]],
        [bob, [M.deposit(bob, 1_000_000n * USDC)]],
      ]);
      const MARKETS = [SOL, ETH, BTC];
      /**
       * A minimum-size bid well under the mark (it rests), at its own price; the i-th in the
       * i mod 3-th market, so that no market's open-order limit per account is what refuses it.
       */
      const bidAt = (i: number, o: { ioc?: boolean; marketId?: string } = {}) => {
        const id = o.marketId ?? MARKETS[i % MARKETS.length];
        const m = Q.market(c, id);
        const tick = Dec.parse(m.market!.tickSize);
        return M.order(alice, id, "buy", m.market!.minOrderSize, scaled(Dec.parse(m.markPrice), "0.7", tick).sub(tick.mulInt(BigInt(i))), { ioc: o.ioc });
      };
      const refused = (r: { code: number; codespace: string }) => r.codespace === "clearing" && r.code === 17;
      const codes = (rs: { code: number; codespace: string }[]) => rs.map((r) => (r.code === 0 ? "ok" : `${r.codespace}/${r.code}`));
      const state = () => ({ orders: Q.orders(c, alice.address).length, free: c.free(alice.address), pending: MARKETS.map((id) => Q.market(c, id).pendingBuy) });
      const single = (n: number, from: number, o: { ioc?: boolean; marketId?: string } = {}) => Array.from({ length: n }, (_, i) => [alice, [bidAt(from + i, o)]] as [TestAccount, Any[]]);

      // CheckTx, as the mempool sees them: of limit + 1 txs of one order each, the last is refused.
      const seq = Q.sequence(c, alice);
      const checks = Array.from({ length: limit + 1 }, (_, i) => c.app.checkTx({ tx: signTx(alice, [bidAt(i)], { accountNumber: BigInt(c.accounts.indexOf(alice)), sequence: seq + BigInt(i) }), type: 0 }));
      expect(codes(checks)).toEqual([...Array(limit).fill("ok"), "clearing/17"]);
      g.block([]); // a new check state

      // Delivery, one order per tx: the first `limit` are placed, the rest refused; bob is not affected.
      const s0 = state();
      const flood = g.block([...single(limit + 3, 0), [bob, [M.order(bob, SOL, "buy", Q.market(c, SOL).market!.minOrderSize, "99")]]]);
      expect(codes(flood)).toEqual([...Array(limit).fill("ok"), "clearing/17", "clearing/17", "clearing/17", "ok"]);
      const s1 = state();
      expect(s1.orders).toBe(s0.orders + limit);
      const reserved = Q.orders(c, alice.address).reduce((s, o) => s + BigInt(o.reservedUusdc), 0n);
      expect(s1.free).toBe(s0.free - reserved); // refused orders reserved nothing

      // ioc floods count too.
      const iocs = g.block(single(limit + 2, 1000, { ioc: true }));
      expect(codes(iocs)).toEqual([...Array(limit).fill("ok"), "clearing/17", "clearing/17"]);

      // One tx of more orders than the limit: refused whole at CheckTx and at delivery, and nothing
      // changes. (A small limit, set by the authority, keeps the tx within its gas.)
      const small = 5;
      const [set] = g.block([[validator, [M.clearingParams(validator, { ...Q.clearingParams(c), maxOrdersPerAccountPerBlock: small })]]]);
      expect(set.code).toBe(0);
      const many = (n: number, from: number) => Array.from({ length: n }, (_, i) => bidAt(2000 + from + i, { marketId: BTC }));
      const over = c.check(alice, many(small + 1, 0));
      expect([over.codespace, over.code]).toEqual(["clearing", 17]);
      const within = c.check(alice, many(small, 0));
      expect(within.code).toBe(0);
      g.block([]); // a new check state
      const s2 = state();
      const [big] = g.block([[alice, many(small + 1, 0)]]);
      expect([big.codespace, big.code]).toEqual(["clearing", 17]);
      expect(refused(big)).toBe(true);
      expect(state()).toEqual(s2);
      // The limit is per block: the next block takes `small` again, one more is refused.
      const next = g.block(single(small + 1, 3000, { marketId: BTC }));
      expect(codes(next)).toEqual([...Array(small).fill("ok"), "clearing/17"]);
      expect(g.violations).toEqual([]);
    });
  });

  // --- 5. coverage collapse ----------------------------------------------------------------------

  describe("5. coverage collapse", () => {
    it("the localnet's pools react to their coverage: below 1 the IMR of their markets rises, below critical_coverage new exposure is refused (clearing/10) while reduce-only orders and withdrawals of free collateral still work", async () => {
      const c = await attackChain();
      const g = new Guard(c);
      const [validator, alice, bob, carol, dave, lp1, lp2, liquidator, , oracle2] = c.accounts;
      const market = Q.market(c, BTC).market!;
      const poolId = market.insurancePoolId;
      for (const p of Q.pools(c).filter((x) => !x.isReserve)) {
        if (!p.preemptiveMargin) g.note("settings", `pool ${p.id}: preemptive_margin is off`);
        if (!(p.criticalCoverage && Dec.parse(p.criticalCoverage).isPositive())) g.note("settings", `pool ${p.id}: critical_coverage is ${JSON.stringify(p.criticalCoverage)}`);
      }
      const tick = Dec.parse(market.tickSize);
      // Some volatility first (±2.5% a block), with no positions open: σ well above zero, its
      // multiplier below the market's maximum.
      const hi = toTick(Dec.parse("61500"), tick);
      for (let i = 0; i < 10; i++) g.push({ [BTC]: i % 2 === 0 ? hi : "60000" });
      const sigmaTarget = Dec.parse(market.volatilityTarget);
      const maxMult = Dec.parse(market.maxMarginMultiplier);
      const volOnly = () => marginMultiplier(c.sigma(BTC), sigmaTarget, maxMult);
      expect(volOnly().lt(maxMult)).toBe(true);
      const imr0 = Dec.parse(Q.marketRisk(c, BTC).imr);

      // LPs fund the pool generously, a bystander deposits, traders open as much as the chain lets them.
      const bys = bystander(c, carol);
      g.block([
        [lp1, [M.poolDeposit(lp1, poolId, 9_000_000n * USDC)]],
        [lp2, [M.poolDeposit(lp2, poolId, 9_000_000n * USDC)]],
        [carol, [M.deposit(carol, 1_000_000n * USDC)]],
      ]);
      depositAll(g, [alice, bob, dave, liquidator, validator, oracle2]);
      const sizes = crossLargest(
        g,
        BTC,
        [
          [alice, bob],
          [dave, liquidator],
          [validator, oracle2],
        ],
        Dec.parse("1500"),
        Dec.parse("60000"),
      );
      expect(sizes.some((s) => s.isPositive())).toBe(true);
      // The LPs ask for their money back: escrowed, it no longer covers anything.
      g.block([lp1, lp2].map((lp) => [lp, [M.poolWithdraw(lp, poolId, c.balance(lp.address, Q.pool(c, poolId).shareDenom))]]));
      g.block([]);
      const pool = Q.pool(c, poolId);
      const coverage = pool.coverage === "" ? null : Dec.parse(pool.coverage);
      expect(coverage).not.toBeNull();
      if (!coverage!.lt(Dec.ONE)) g.note("scenario", `coverage of ${poolId} is ${pool.coverage}: the scenario did not bring it below 1`);
      const risk = Q.marketRisk(c, BTC);
      const imr1 = Dec.parse(risk.imr);
      if (coverage!.lt(Dec.ONE)) {
        if (!imr1.gt(imr0)) g.note("imr", `coverage ${pool.coverage} < 1 but the IMR of ${BTC} did not rise: ${imr0} → ${imr1}`);
        if (!Dec.parse(risk.multiplier).gt(volOnly())) g.note("imr", `coverage ${pool.coverage} < 1 but the multiplier ${risk.multiplier} is only the volatility's ${volOnly()}`);
      }
      const critical = pool.criticalCoverage ? Dec.parse(pool.criticalCoverage) : Dec.ZERO;
      if (critical.isPositive() && !coverage!.lt(critical)) g.note("scenario", `coverage of ${poolId} is ${pool.coverage}, not below its critical level ${pool.criticalCoverage}`);

      // Below critical: new exposure is refused, at CheckTx and at delivery.
      const m = mark(c, BTC);
      // A bid under the mark (it would rest, never fill).
      const newExposure = M.order(carol, BTC, "buy", market.minOrderSize, scaled(m, "0.95", tick));
      const chk = c.check(carol, [newExposure]);
      if (!(chk.codespace === "clearing" && chk.code === 10)) g.note("critical", `coverage ${pool.coverage}: a new order passed CheckTx with ${chk.codespace}/${chk.code}`);
      g.block([]);
      const [placed] = g.block([[carol, [newExposure]]]);
      if (!(placed.codespace === "clearing" && placed.code === 10)) g.note("critical", `coverage ${pool.coverage}: a new order was delivered with ${placed.codespace}/${placed.code}`);
      // Reduce-only orders still go through.
      const aliceSize = Dec.parse(Q.position(c, alice.address, BTC)?.position?.size ?? "0");
      if (aliceSize.isPositive()) {
        const [ro] = g.block([[alice, [M.order(alice, BTC, "sell", Dec.parse(market.minOrderSize), scaled(m, "1.05", tick, true), { reduceOnly: true, ioc: true })]]]);
        if (ro.code !== 0) g.note("reduce-only", `a reduce-only order was refused: ${ro.codespace}/${ro.code} ${ro.log}`);
      }
      // Withdrawals of free collateral still go through, in full.
      for (const o of Q.orders(c, carol.address)) g.block([[carol, [M.cancel(carol, BTC, o.id)]]]);
      checkBystandersWithdraw(g, [bys]);
      expect(g.violations).toEqual([]);
    });
  });
});
