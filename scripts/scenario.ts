/**
 * The Backstop story against a running localnet (`make localnet`, then `make scenario`):
 * LPs stake into `majors`, traders open leveraged longs and a short on BTC-USD, a market
 * maker rests bids below, the feeder pushes a 30% crash, and the script prints the
 * liquidations, what the pool paid, the winner's payout in full, and the solvency check.
 *
 *   node dist/scripts/scenario.js [--node http://127.0.0.1:26657] [--json]
 */
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { stringToPath } from "@cosmjs/crypto";
import { BackstopClient } from "../client/src";
import { LOCALNET_MNEMONIC } from "../chain/app/genesis";
import { Dec } from "../chain/math/decimal";

const args = process.argv.slice(2);
const node = args.includes("--node") ? args[args.indexOf("--node") + 1] : "http://127.0.0.1:26657";
const json = args.includes("--json");
const say = (s: string) => {
  if (!json) process.stdout.write(s + "\n");
};
const usd = (uusdc: bigint | string) => (Number(BigInt(uusdc)) / 1e6).toLocaleString("en-US", { maximumFractionDigits: 2 });

async function client(index: number): Promise<BackstopClient> {
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(LOCALNET_MNEMONIC, { prefix: "backstop", hdPaths: [stringToPath(`m/44'/118'/0'/0/${index}`)] });
  return BackstopClient.connect(node, wallet, { broadcastPollIntervalMs: 250 });
}

async function waitBlocks(c: BackstopClient, n: number): Promise<void> {
  const start = await c.signing.getHeight();
  while ((await c.signing.getHeight()) < start + n) await new Promise((r) => setTimeout(r, 200));
}

async function main(): Promise<void> {
  const [lp1, alice, bob, carol, dave, feeder] = await Promise.all([5, 1, 2, 3, 4, 8].map(client));
  const all = [lp1, alice, bob, carol, dave, feeder];
  try {
    const mark = Dec.parse((await alice.query.oracle.price("BTC-USD")).price!.price);
    const tick = Dec.parse("0.1");
    const entry = Dec.fromRaw(mark.raw - (mark.raw % tick.raw));
    const c7 = entry.mul(Dec.parse("0.7"), "floor");
    const crash = Dec.fromRaw(c7.raw - (c7.raw % tick.raw));
    say(`BTC-USD mark ${entry}; the crash will take it to ${crash} (−30%).`);

    const majors0 = BigInt((await lp1.query.insurance.pool("majors")).pool!.balanceUusdc);
    await lp1.depositToPool("majors", 1_000_000_000_000n);
    const majors1 = BigInt((await lp1.query.insurance.pool("majors")).pool!.balanceUusdc);
    say(`lp1 staked 1,000,000 USDC into majors: pool balance ${usd(majors0)} → ${usd(majors1)} USDC.`);

    // Margin: 5% initial margin at 20× leverage, plus a little for fees.
    const im = (qty: bigint) => entry.mulIntToInt(qty * 50_000n + qty * 1_000n, "ceil"); // (5% + 0.1%) × notional, in uusdc
    await Promise.all([alice.depositCollateral(im(1n)), bob.depositCollateral(im(2n)), carol.depositCollateral(im(3n) * 2n), dave.depositCollateral(1_000_000_000_000n)]);
    await Promise.all([
      alice.placeOrder({ marketId: "BTC-USD", side: "buy", quantity: "1", price: entry.toString() }),
      bob.placeOrder({ marketId: "BTC-USD", side: "buy", quantity: "2", price: entry.toString() }),
      carol.placeOrder({ marketId: "BTC-USD", side: "sell", quantity: "3", price: entry.toString() }),
      dave.placeOrder({ marketId: "BTC-USD", side: "buy", quantity: "3", price: crash.toString() }),
    ]);
    await waitBlocks(alice, 1);
    for (const [name, c] of [["alice", alice], ["bob", bob], ["carol", carol]] as const) {
      const p = (await c.query.margin.position(c.sender!, "BTC-USD")).position!;
      say(`${name}: size ${p.position!.size} BTC at ${p.position!.entryPrice}, margin ${usd(p.position!.marginUusdc)} USDC, liquidation price ${p.liquidationPrice}`);
    }

    const stress = async () => {
      const p = (await lp1.query.insurance.pool("majors")).pool!;
      return { required: p.requiredCapitalUusdc, cover2: p.cover2Uusdc, coverage: p.coverage };
    };
    const before = await stress();
    say(`majors' stress model: required capital ${usd(before.required)} USDC, Cover-2 ${usd(before.cover2)} USDC, coverage ${before.coverage || "n/a"}.`);

    const liq0 = (await alice.query.clearing.liquidations()).liquidations.length;
    const poolBefore = BigInt((await lp1.query.insurance.pool("majors")).pool!.balanceUusdc);
    await feeder.submitPrice("BTC-USD", crash.toString());
    await waitBlocks(feeder, 1);
    const liqs = (await alice.query.clearing.liquidations()).liquidations.slice(0, (await alice.query.clearing.liquidations()).liquidations.length - liq0);
    say(`\nThe feeder pushed ${crash}. Liquidations:`);
    for (const l of liqs) say(`  ${l.owner.slice(0, 16)}… ${l.quantity} BTC at ${l.price}: deficit ${usd(l.deficitUusdc)} USDC, fee ${usd(l.feeUusdc)} USDC`);
    const poolAfter = BigInt((await lp1.query.insurance.pool("majors")).pool!.balanceUusdc);
    const deficits = liqs.reduce((s, l) => s + BigInt(l.deficitUusdc), 0n);
    say(`majors paid the deficits: ${usd(deficits)} USDC (balance ${usd(poolBefore)} → ${usd(poolAfter)} USDC, net of its fee income).`);
    const adl = (await alice.query.clearing.adlHistory()).records.length;
    say(`ADL steps: ${adl} (the pool could pay, so no winner was touched).`);

    const carolFree0 = BigInt((await carol.query.margin.account(carol.sender!)).account!.freeCollateralUusdc);
    await Promise.all([
      carol.placeOrder({ marketId: "BTC-USD", side: "buy", quantity: "3", price: crash.toString(), reduceOnly: true }),
      dave.placeOrder({ marketId: "BTC-USD", side: "sell", quantity: "3", price: crash.toString(), reduceOnly: true }),
    ]);
    await waitBlocks(carol, 1);
    const carolFree1 = BigInt((await carol.query.margin.account(carol.sender!)).account!.freeCollateralUusdc);
    const profit = entry.sub(crash).mulIntToInt(3_000_000n, "floor");
    say(`\ncarol (the short) closed at ${crash}: profit 3 × ${entry.sub(crash)} = ${usd(profit)} USDC; her free collateral rose by ${usd(carolFree1 - carolFree0)} USDC (margin back + profit − fee).`);
    await carol.withdrawCollateral(carolFree1);
    say(`carol withdrew ${usd(carolFree1)} USDC to her wallet: paid in full.`);

    const s = await alice.query.clearing.solvency();
    say(`\nSolvency: collateral account ${usd(s.collateralAccountUusdc)} + pools ${usd(s.poolBalancesUusdc)} ≥ positive equity ${usd(s.positiveEquityUusdc)} + free collateral ${usd(s.freeCollateralUusdc)}: ${s.holds ? "holds" : "FAILS"}.`);
    if (json) {
      process.stdout.write(
        JSON.stringify({
          entry: entry.toString(),
          crash: crash.toString(),
          liquidations: liqs.map((l) => ({ owner: l.owner, quantity: l.quantity, price: l.price, deficit_uusdc: l.deficitUusdc, fee_uusdc: l.feeUusdc })),
          pool_paid_uusdc: deficits.toString(),
          winner_profit_uusdc: profit.toString(),
          winner_free_collateral_gain_uusdc: (carolFree1 - carolFree0).toString(),
          winner_withdrawn_uusdc: carolFree1.toString(),
          solvency_holds: s.holds,
          adl_steps: adl,
          coverage_before: before,
          coverage_after: await stress(),
        }) + "\n",
      );
    }
    if (!s.holds) process.exitCode = 1;
  } finally {
    for (const c of all) c.disconnect();
  }
}

main().catch((e) => {
  process.stderr.write(`scenario failed: ${e instanceof Error ? e.message : String(e)}${e?.codespace ? ` (codespace ${e.codespace}, code ${e.code})` : ""}\n`);
  process.exit(1);
});
