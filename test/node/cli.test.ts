/**
 * The `backstop` CLI and the SDK against a spawned localnet: every command's JSON output
 * parses, transactions wait for inclusion, and bad input exits non-zero with the chain's
 * codespace and code and changes nothing.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { promisify } from "node:util";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { stringToPath } from "@cosmjs/crypto";
import { LOCALNET_MNEMONIC } from "../../chain/app/genesis";
import { APP_PROTOCOL_VERSION } from "../../chain/app/app";
import { Dec } from "../../chain/math/decimal";
import { BackstopClient, BackstopTxError, BackstopQueryError, streamEvents, BackstopEvent } from "../../client/src";
import { BIN, freePort, NodeProcess, ROOT, spawnLocalnet, tempHome, waitForHeight } from "../util/node";

const run = promisify(execFile);
const d = (s: string) => Dec.parse(s).toString();

describe("backstop CLI and SDK against a localnet", () => {
  let node: NodeProcess;
  let cli: (...args: string[]) => Promise<{ code: number; json: any; stderr: string }>;
  beforeAll(async () => {
    node = await spawnLocalnet({ blockTime: "200ms" });
    cli = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await run(process.execPath, [BIN, ...args, "--home", node.home, "--node", `tcp://127.0.0.1:${node.port}`, "--output", "json"], { cwd: ROOT });
        return { code: 0, json: JSON.parse(stdout), stderr };
      } catch (e) {
        const err = e as { code: number; stdout: string; stderr: string };
        return { code: err.code, json: err.stdout ? JSON.parse(err.stdout) : undefined, stderr: err.stderr };
      }
    };
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(node.home, { recursive: true, force: true });
  });

  it("keys and queries print JSON", async () => {
    const keys = await cli("keys", "list");
    expect(keys.code).toBe(0);
    expect(keys.json.map((k: { name: string }) => k.name).sort()).toEqual(["alice", "bob", "carol", "dave", "liquidator", "lp1", "lp2", "oracle1", "oracle2", "validator"]);
    const alice = (await cli("keys", "show", "alice")).json.address;
    expect(alice).toMatch(/^backstop1/);
    // keys add: a new key with its mnemonic, and the same key recovered from that mnemonic on stdin.
    const added = await cli("keys", "add", "fresh");
    expect(added.code).toBe(0);
    expect(added.json.mnemonic.split(" ")).toHaveLength(24);
    const rec = spawnSync(process.execPath, [BIN, "keys", "add", "fresh2", "--recover", "--home", node.home, "--output", "json"], { cwd: ROOT, input: added.json.mnemonic });
    expect(rec.status).toBe(0);
    expect(JSON.parse(rec.stdout.toString()).address).toBe(added.json.address);
    expect((await cli("keys", "add", "fresh")).code).not.toBe(0);
    // The encrypted file backend: a key added with a passphrase signs only with it.
    const env = { ...process.env, BACKSTOP_KEYRING_PASSPHRASE: "correct horse battery staple" };
    const fileArgs = ["--home", node.home, "--keyring-backend", "file", "--node", `tcp://127.0.0.1:${node.port}`, "--output", "json"];
    const enc = spawnSync(process.execPath, [BIN, "keys", "add", "vault", "--recover", ...fileArgs], { cwd: ROOT, env, input: LOCALNET_MNEMONIC });
    expect(enc.status).toBe(0);
    expect(JSON.parse(enc.stdout.toString()).address).toBe((await cli("keys", "show", "validator")).json.address);
    const lp2 = (await cli("keys", "show", "lp2")).json.address;
    const signed = spawnSync(process.execPath, [BIN, "tx", "bank", "send", "vault", lp2, "1uusdc", ...fileArgs], { cwd: ROOT, env });
    expect(JSON.parse(signed.stdout.toString()).code).toBe(0);
    const wrong = spawnSync(process.execPath, [BIN, "tx", "bank", "send", "vault", lp2, "1uusdc", ...fileArgs], { cwd: ROOT, env: { ...process.env, BACKSTOP_KEYRING_PASSPHRASE: "wrong" } });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr.toString()).toMatch(/wrong passphrase/);
    const bal = await cli("q", "bank", "balances", alice);
    expect(bal.json.balances).toContainEqual({ denom: "uusdc", amount: "10000000000000" });
    const price = await cli("q", "oracle", "price", "BTC-USD");
    expect(price.json.price.price).toBe(d("60000"));
    const markets = await cli("q", "clearing", "markets");
    expect(markets.json.markets.map((m: { id: string }) => m.id)).toEqual(["BTC-USD", "ETH-USD", "SOL-USD"]);
    const market = await cli("q", "clearing", "market", "SOL-USD");
    expect(market.json.market.insurance_pool_id).toBe("alts");
    expect(market.json.mark_price).toBe(d("150"));
    const feeders = await cli("q", "oracle", "feeders");
    expect(feeders.json.feeders).toHaveLength(2);
    const risk = await cli("q", "margin", "market-risk", "BTC-USD");
    expect(risk.json.risk.imr).toBe(d("0.05"));
  });

  it("transactions wait for inclusion; bad input exits non-zero with the chain's error and changes nothing", async () => {
    const alice = (await cli("keys", "show", "alice")).json.address;
    const bob = (await cli("keys", "show", "bob")).json.address;
    const dep = await cli("tx", "margin", "deposit", "2500000uusdc", "--from", "alice");
    expect(dep.code).toBe(0);
    expect(dep.json).toMatchObject({ code: 0, raw_log: "" });
    expect(Number(dep.json.height)).toBeGreaterThan(0);
    expect(dep.json.txhash).toMatch(/^[0-9A-F]{64}$/);
    expect(dep.json.events.map((e: { type: string }) => e.type)).toContain("backstop.margin.v1.EventDeposit");
    expect((await cli("q", "margin", "account", alice)).json.account.free_collateral_uusdc).toBe("2500000");

    // Withdrawing more than free collateral: margin/2, exit 1, nothing changes.
    const over = await cli("tx", "margin", "withdraw", "2500001uusdc", "--from", "alice");
    expect(over.code).toBe(1);
    expect(over.json.error).toMatchObject({ codespace: "margin", code: 2 });
    // Beside the error, the tx's own fields, as a tx prints them: refused before inclusion, height 0.
    expect(over.json).toMatchObject({ code: 2, codespace: "margin", height: "0", events: [] });
    expect(over.json.raw_log).toMatch(/insufficient free collateral/);
    expect((await cli("q", "margin", "account", alice)).json.account.free_collateral_uusdc).toBe("2500000");
    const wd = await cli("tx", "margin", "withdraw", "500000uusdc", "--from", "alice");
    expect(wd.json.code).toBe(0);
    expect((await cli("q", "margin", "account", alice)).json.account.free_collateral_uusdc).toBe("2000000");

    // A feeder pushes a price; a non-feeder is refused with oracle/3.
    const push = await cli("tx", "oracle", "push-price", "ETH-USD", "3100.5", "--from", "oracle1");
    expect(push.json.code).toBe(0);
    await waitForHeight(node.rpc, Number(push.json.height) + 1);
    expect((await cli("q", "oracle", "price", "ETH-USD")).json.price.price).toBe(d("3100.5"));
    const notFeeder = await cli("tx", "oracle", "push-price", "ETH-USD", "1", "--from", "alice");
    expect(notFeeder.json.error).toMatchObject({ codespace: "oracle", code: 3 });
    expect((await cli("q", "oracle", "price", "ETH-USD")).json.price.price).toBe(d("3100.5"));

    // Unknown key, bad amount, unknown market, insufficient funds.
    const unknownKey = await cli("tx", "margin", "deposit", "1uusdc", "--from", "mallory");
    expect(unknownKey.code).not.toBe(0);
    expect(unknownKey.json.error.message).toMatch(/mallory/);
    const badAmount = await cli("tx", "margin", "deposit", "12.5uusdc", "--from", "alice");
    expect(badAmount.code).toBe(2);
    const unknownMarket = await cli("q", "clearing", "market", "DOGE-USD");
    expect(unknownMarket.json.error).toMatchObject({ codespace: "clearing", code: 2 });
    const addUnknown = await cli("tx", "margin", "add-position-margin", "DOGE-USD", "1uusdc", "--from", "alice");
    expect(addUnknown.json.error).toMatchObject({ codespace: "clearing", code: 2 });
    const broke = await cli("tx", "bank", "send", "alice", bob, "99999999999999999uusdc");
    expect(broke.json.error).toMatchObject({ codespace: "sdk", code: 5 });
    expect((await cli("q", "bank", "balances", bob)).json.balances).toContainEqual({ denom: "uusdc", amount: "10000000000000" });
    const sent = await cli("tx", "bank", "send", "alice", bob, "1000uusdc");
    expect(sent.json.code).toBe(0);
    expect((await cli("q", "bank", "balances", bob)).json.balances).toContainEqual({ denom: "uusdc", amount: "10000000001000" });
    const usage = await cli("tx", "margin");
    expect(usage.code).not.toBe(0);
  });

  it("usage errors say what is wrong and exit 2; --chain-id is checked before signing; a busy RPC port ends start with exit 1", async () => {
    const alice = (await cli("keys", "show", "alice")).json.address;
    const unknown = await cli("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.json.error.message).toBe("unknown command: frobnicate");
    const text = spawnSync(process.execPath, [BIN, "q", "nosuch"], { cwd: ROOT });
    expect(text.status).toBe(2);
    expect(text.stderr.toString()).toMatch(/^Error: unknown command: q nosuch\n[\s\S]*q solvency/);
    const help = spawnSync(process.execPath, [BIN, "help", "tx", "clearing"], { cwd: ROOT });
    expect(help.status).toBe(0);
    expect(help.stdout.toString()).toMatch(/tx clearing place-order/);
    expect(help.stdout.toString()).not.toMatch(/q solvency/);
    const extra = await cli("keys", "show", "alice", "extra");
    expect(extra.code).toBe(2);
    expect(extra.json.error.message).toMatch(/unexpected argument "extra"/);
    const badAddress = await cli("q", "margin", "position", "backstop1xyz", "BTC-USD");
    expect(badAddress.code).toBe(2);
    expect(badAddress.json.error.message).toMatch(/ADDRESS must be a backstop1/);
    const badQty = await cli("tx", "clearing", "place-order", "BTC-USD", "buy", "abc", "60000", "--from", "alice");
    expect(badQty.code).toBe(2);
    expect(badQty.json.error.message).toMatch(/QUANTITY must be a decimal/);
    const tooFine = await cli("tx", "clearing", "place-order", "BTC-USD", "buy", "0.0000000000000000001", "60000", "--from", "alice");
    expect(tooFine.code).toBe(2);
    expect(tooFine.json.error.message).toMatch(/QUANTITY has more than 18 decimal places/);
    // A mistyped flag is refused before anything is signed: no order that is not what was meant.
    const ordersBefore = (await cli("q", "clearing", "orders", alice)).json;
    const typo = await cli("tx", "clearing", "place-order", "BTC-USD", "sell", "0.001", "90000", "--reduceonly", "--from", "alice");
    expect(typo.code).toBe(2);
    expect(typo.json.error.message).toMatch(/^unknown flag --reduceonly; backstop tx clearing place-order takes .*--reduce-only/);
    expect((await cli("q", "clearing", "orders", alice)).json).toEqual(ordersBefore);
    expect((await cli("q", "solvency", "--from", "alice")).json.error.message).toMatch(/^unknown flag --from; backstop q solvency takes --home/);
    const badGasPrice = await cli("tx", "margin", "deposit", "1uusdc", "--from", "alice", "--gas-prices", "abc");
    expect(badGasPrice.code).toBe(2);
    expect(badGasPrice.json.error.message).toMatch(/--gas-prices must be an amount and a denom like 0.025uusdc, got "abc"/);
    // Fees: a fixed gas limit and fee are used as given; too little gas is the chain's out of gas.
    const fixed = await cli("tx", "margin", "deposit", "1uusdc", "--from", "alice", "--gas", "250000", "--fees", "1000uusdc", "--yes", "--gas-adjustment", "2");
    expect(fixed.code).toBe(0);
    expect(fixed.json.gas_wanted).toBe("250000");
    expect(fixed.json.events.find((e: any) => e.type === "tx" && e.attributes.some((x: any) => x.key === "fee"))?.attributes.find((x: any) => x.key === "fee").value).toBe("1000uusdc");
    // q tx: a committed tx's result by hash.
    const looked = await cli("q", "tx", fixed.json.txhash.toLowerCase());
    expect(looked.code).toBe(0);
    expect([looked.json.txhash, looked.json.height, looked.json.code, looked.json.gas_wanted]).toEqual([fixed.json.txhash, fixed.json.height, 0, "250000"]);
    expect(looked.json.events).toEqual(fixed.json.events);
    const missing = await cli("q", "tx", "AB".repeat(32));
    expect(missing.code).toBe(1);
    expect(missing.json.error.message).toBe(`tx ${"AB".repeat(32)} not found`);
    expect((await cli("q", "tx", "xyz")).code).toBe(2);
    const version = await cli("version");
    expect(JSON.parse(spawnSync(process.execPath, [BIN, "version", "-o", "json"], { cwd: ROOT }).stdout.toString())).toEqual(version.json);
    expect(version.json).toEqual({ version: require("../../package.json").version, app_protocol_version: APP_PROTOCOL_VERSION.toString(), node: process.version });
    const starved = await cli("tx", "margin", "deposit", "1uusdc", "--from", "alice", "--gas", "1000", "--fees", "1000uusdc");
    expect(starved.code).toBe(1);
    expect([starved.json.error.codespace, starved.json.error.code]).toEqual(["sdk", 11]);
    // A tx that fails in its block (no simulation with a fixed --gas): text mode prints its fields too.
    const failedText = spawnSync(process.execPath, [BIN, "tx", "margin", "add-position-margin", "XRP-USD", "5uusdc", "--from", "alice", "--gas", "200000", "--fees", "1000uusdc", "--home", node.home, "--node", `tcp://127.0.0.1:${node.port}`], { cwd: ROOT });
    expect(failedText.status).toBe(1);
    const failedLines = failedText.stdout.toString().split("\n");
    expect(failedLines.slice(0, 4).map((l) => l.split(":")[0])).toEqual(["txhash", "height", "code", "codespace"]);
    expect(failedLines[3]).toBe("codespace: clearing");
    expect(failedText.stderr.toString()).toMatch(/^Error: .*\(codespace clearing, code 2\)/);
    const both = await cli("tx", "margin", "deposit", "1uusdc", "--from", "alice", "--fees", "1000uusdc", "--gas-prices", "0.025uusdc");
    expect(both.code).toBe(2);
    expect(both.json.error.message).toBe("give --fees or --gas-prices, not both");
    const badGas = await cli("tx", "margin", "deposit", "1uusdc", "--from", "alice", "--gas", "lots");
    expect(badGas.code).toBe(2);
    expect(badGas.json.error.message).toMatch(/--gas must be auto or a whole number of gas units/);
    const conflict = await cli("tx", "bank", "send", "alice", alice, "1uusdc", "--from", "bob");
    expect(conflict.code).toBe(2);
    expect(conflict.json.error.message).toBe("--from bob contradicts the sender alice given as FROM");
    // An http URL (with a path) is a node address too; -y is Cosmos CLI's --yes.
    const viaHttp = spawnSync(process.execPath, [BIN, "q", "solvency", "--node", `http://127.0.0.1:${node.port}/`, "-y", "-o", "json"], { cwd: ROOT });
    expect(viaHttp.status).toBe(0);
    expect(JSON.parse(viaHttp.stdout.toString()).holds).toBe(true);
    const noScheme = spawnSync(process.execPath, [BIN, "q", "solvency", "--node", "127.0.0.1:26657"], { cwd: ROOT });
    expect(noScheme.status).toBe(2);
    expect(noScheme.stderr.toString()).toMatch(/^Error: --node must be tcp:\/\/HOST:PORT/);
    const nowhereKeys = spawnSync(process.execPath, [BIN, "keys", "list", "--home", `${node.home}-none`], { cwd: ROOT });
    expect(nowhereKeys.status).toBe(0);
    expect(nowhereKeys.stdout.toString()).toBe(`No records were found in keyring ${node.home}-none/keyring-test\n`);

    const free = async () => (await cli("q", "margin", "account", alice)).json.account?.free_collateral_uusdc ?? "0";
    const before = await free();
    const wrong = await cli("tx", "margin", "deposit", "1uusdc", "--from", "alice", "--chain-id", "wrong-1");
    expect(wrong.code).toBe(1);
    expect(wrong.json.error.message).toMatch(/--chain-id wrong-1 does not match the node's chain backstop-local-1/);
    expect(await free()).toBe(before);
    const right = await cli("tx", "margin", "deposit", "1uusdc", "--from", "alice", "--chain-id", "backstop-local-1");
    expect(right.code).toBe(0);
    expect(BigInt(await free())).toBe(BigInt(before) + 1n);
    // In text mode a tx prints its fields and events too, one line each.
    const text2 = spawnSync(process.execPath, [BIN, "tx", "margin", "deposit", "1uusdc", "--from", "alice", "--home", node.home, "--node", `tcp://127.0.0.1:${node.port}`], { cwd: ROOT });
    expect(text2.status).toBe(0);
    const lines = text2.stdout.toString().split("\n");
    expect(lines.slice(0, 7).map((l) => l.split(":")[0])).toEqual(["txhash", "height", "code", "raw_log", "gas_wanted", "gas_used", "events"]);
    expect(lines).toContain(`  backstop.margin.v1.EventDeposit: amount_uusdc="1", owner="${alice}"`);

    // No node there: the error says so (exit 1).
    const nowhere = spawnSync(process.execPath, [BIN, "q", "solvency", "--node", `tcp://127.0.0.1:${await freePort()}`], { cwd: ROOT });
    expect(nowhere.status).toBe(1);
    expect(nowhere.stderr.toString()).toMatch(/^Error: cannot reach the node at tcp:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);

    // A second node on the first one's RPC port stops at once with the reason.
    const home = `${node.home}-second`;
    expect(spawnSync(process.execPath, [BIN, "init", "--home", home, "--localnet"], { cwd: ROOT }).status).toBe(0);
    try {
      const busy = spawnSync(process.execPath, [BIN, "start", "--home", home, "--rpc.laddr", `tcp://127.0.0.1:${node.port}`], { cwd: ROOT, timeout: 60_000 });
      expect(busy.status).toBe(1);
      expect(busy.stderr.toString()).toMatch(/RPC address 127\.0\.0\.1:\d+ is in use/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("an LP stakes into majors and a matured withdrawal pays out automatically", async () => {
    const lp1 = (await cli("keys", "show", "lp1")).json.address;
    const dep = await cli("tx", "insurance", "deposit", "majors", "5000000uusdc", "--from", "lp1");
    expect(dep.json.code).toBe(0);
    const pool = (await cli("q", "insurance", "pool", "majors")).json;
    // The localnet's majors holds its 5,000,000 USDC seed on 10^9 locked shares (5,000 uusdc each): 5 USDC buys 1,000 shares.
    expect(pool.pool).toMatchObject({ balance_uusdc: "5000005000000", total_shares: "1000001000", locked_shares: "1000000000" });
    const lp = (await cli("q", "insurance", "lp", lp1)).json;
    expect(lp.shares).toEqual([{ pool_id: "majors", shares: "1000", value_uusdc: "5000000" }]);
    expect((await cli("q", "insurance", "pools")).json.pools.map((p: { id: string }) => p.id)).toEqual(["alts", "majors", "reserve"]);

    // The authority (validator) shortens the cooldown to 8 s through the SDK (long enough
    // to see the request pending on a loaded machine, short enough to wait for).
    const wallet = await DirectSecp256k1HdWallet.fromMnemonic(LOCALNET_MNEMONIC, { prefix: "backstop", hdPaths: [stringToPath("m/44'/118'/0'/0/0")] });
    const admin = await BackstopClient.connect(node.rpc, wallet);
    try {
      const { pool: cur } = await admin.query.insurance.pool("majors");
      const upd = await admin.signAndBroadcast([{ typeUrl: "/backstop.insurance.v1.MsgUpdatePool", value: { authority: admin.sender, pool: { ...cur, withdrawalCooldownSeconds: 8n } } }]);
      expect(upd.code).toBe(0);
    } finally {
      admin.disconnect();
    }

    const bank0 = BigInt((await cli("q", "bank", "balances", lp1)).json.balances.find((b: { denom: string }) => b.denom === "uusdc").amount);
    const req = await cli("tx", "insurance", "request-withdrawal", "majors", "500", "--from", "lp1");
    expect(req.json.code).toBe(0);
    const fee = bank0 - BigInt((await cli("q", "bank", "balances", lp1)).json.balances.find((b: { denom: string }) => b.denom === "uusdc").amount);
    expect((await cli("q", "insurance", "withdrawals", lp1)).json.withdrawals).toHaveLength(1);
    let left = 1;
    for (let i = 0; i < 60 && left > 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      left = ((await cli("q", "insurance", "withdrawals", lp1)).json.withdrawals ?? []).length;
    }
    expect(left).toBe(0);
    const bank1 = BigInt((await cli("q", "bank", "balances", lp1)).json.balances.find((b: { denom: string }) => b.denom === "uusdc").amount);
    // 500 shares at 5,000 uusdc per share.
    expect(bank1 - bank0 + fee).toBe(2_500_000n);
    expect((await cli("q", "insurance", "pool", "majors")).json.pool.balance_uusdc).toBe("5000002500000");
  });

  it("two traders cross in the auction through the CLI; both positions appear and q solvency holds", async () => {
    const dave = (await cli("keys", "show", "dave")).json.address;
    const liq = (await cli("keys", "show", "liquidator")).json.address;
    expect((await cli("tx", "margin", "deposit", "50000000000uusdc", "--from", "dave")).json.code).toBe(0);
    expect((await cli("tx", "margin", "deposit", "50000000000uusdc", "--from", "liquidator")).json.code).toBe(0);
    const ask = await cli("tx", "clearing", "place-order", "SOL-USD", "sell", "20", "150", "--from", "liquidator");
    expect(ask.json.code).toBe(0);
    const book = (await cli("q", "clearing", "book", "SOL-USD")).json;
    expect(book.asks).toEqual([{ price: d("150"), quantity: d("20"), order_count: 1 }]);
    expect((await cli("q", "clearing", "book", "SOL-USD", "--depth", "1")).json).toEqual(book);
    const badDepth = await cli("q", "clearing", "book", "SOL-USD", "--depth", "deep");
    expect(badDepth.code).toBe(2);
    expect(badDepth.stderr).toMatch(/--depth must be a number of levels/);
    expect((await cli("q", "clearing", "orders", liq)).json.orders).toHaveLength(1);
    const bid = await cli("tx", "clearing", "place-order", "SOL-USD", "buy", "20", "150.01", "--tif", "ioc", "--from", "dave");
    expect(bid.json.code).toBe(0);
    await waitForHeight(node.rpc, Number(bid.json.height) + 1);
    const pd = (await cli("q", "margin", "position", dave, "SOL-USD")).json.position;
    const pl = (await cli("q", "margin", "position", liq, "SOL-USD")).json.position;
    expect(pd.position.size).toBe(d("20"));
    expect(pl.position.size).toBe(d("-20"));
    const auction = (await cli("q", "clearing", "last-auction", "SOL-USD")).json.auction;
    expect(auction).toMatchObject({ cleared: true, matched_quantity: d("20") });
    expect(Dec.parse(auction.clearing_price).gte(Dec.parse("150"))).toBe(true);
    const added = await cli("tx", "margin", "add-position-margin", "SOL-USD", "1000000uusdc", "--from", "dave");
    expect(added.json.code).toBe(0);
    expect((await cli("q", "margin", "position", dave, "SOL-USD")).json.position.position.margin_uusdc).toBe(String(BigInt(pd.position.margin_uusdc) + 1_000_000n));
    const removed = await cli("tx", "margin", "remove-position-margin", "SOL-USD", "500000uusdc", "--from", "dave");
    expect(removed.json.code).toBe(0);
    const tooMuch = await cli("tx", "margin", "remove-position-margin", "SOL-USD", "99999999999uusdc", "--from", "dave");
    expect(tooMuch.json.error.codespace).toBe("margin");
    const funding = await cli("q", "clearing", "funding", "SOL-USD");
    expect(funding.code).toBe(0);
    const solvency = (await cli("q", "solvency")).json;
    expect(solvency.holds).toBe(true);
    expect(solvency.markets.find((m: { market_id: string }) => m.market_id === "SOL-USD")).toMatchObject({ long_size: d("20"), short_size: d("20"), balanced: true });
    // No ADL on a chain where nothing went bankrupt; the pools carry their stress figures.
    expect((await cli("q", "clearing", "adl-history")).json.records ?? []).toEqual([]);
    expect((await cli("q", "insurance", "pool", "alts")).json.pool.required_capital_uusdc).toMatch(/^\d+$/);
    // A resting order is cancelled through the CLI.
    const rest = await cli("tx", "clearing", "place-order", "SOL-USD", "buy", "1", "120", "--from", "liquidator");
    expect(rest.json.code).toBe(0);
    const resting = (await cli("q", "clearing", "orders", liq)).json.orders;
    expect(resting).toHaveLength(1);
    const cancelled = await cli("tx", "clearing", "cancel-order", "SOL-USD", resting[0].id, "--from", "liquidator");
    expect(cancelled.json.code).toBe(0);
    expect((await cli("q", "clearing", "orders", liq)).json.orders ?? []).toEqual([]);
    const again = await cli("tx", "clearing", "cancel-order", "SOL-USD", resting[0].id, "--from", "liquidator");
    expect(again.json.error).toMatchObject({ codespace: "clearing", code: 6 });
    const bad = await cli("tx", "clearing", "place-order", "ETH-USD", "sideways", "1", "3000", "--from", "dave");
    expect(bad.code).toBe(2);
    const tick = await cli("tx", "clearing", "place-order", "ETH-USD", "buy", "1", "3000.005", "--from", "dave");
    expect(tick.json.error).toMatchObject({ codespace: "clearing", code: 5 });
  });

  it("the SDK signs, simulates and queries with typed methods and coded errors", async () => {
    const wallet = await DirectSecp256k1HdWallet.fromMnemonic(LOCALNET_MNEMONIC, { prefix: "backstop", hdPaths: [stringToPath("m/44'/118'/0'/0/3")] });
    const client = await BackstopClient.connect(node.rpc, wallet);
    try {
      const carol = client.sender!;
      const res = await client.depositCollateral(7_000_000n);
      expect(res.code).toBe(0);
      expect((await client.query.margin.account(carol)).account?.freeCollateralUusdc).toBe("7000000");
      const err = await client.withdrawCollateral(7_000_001n).catch((e) => e);
      expect(err).toBeInstanceOf(BackstopTxError);
      expect([err.codespace, err.code]).toEqual(["margin", 2]);
      expect((await client.query.margin.account(carol)).account?.freeCollateralUusdc).toBe("7000000");
      const notFeeder = await client.submitPrice("BTC-USD", "1").catch((e) => e);
      expect([notFeeder.codespace, notFeeder.code]).toEqual(["oracle", 3]);
      // A client with a fixed gas limit and fee pays exactly that, without simulating.
      const fixed = await BackstopClient.connect(node.rpc, wallet, { gas: 300_000, fees: { denom: "uusdc", amount: "2000" } });
      try {
        const r = await fixed.depositCollateral(1n);
        expect(r.gasWanted).toBe(300_000n);
        expect(r.events.find((e) => e.type === "tx" && e.attributes.some((a) => a.key === "fee"))?.attributes.find((a) => a.key === "fee")?.value).toBe("2000uusdc");
      } finally {
        fixed.disconnect();
      }
      await expect(BackstopClient.connect(node.rpc, wallet, { gas: 0 })).rejects.toThrow(/gas must be "auto" or a positive whole number/);
      // The event stream delivers the fills of an auction, typed.
      const seen: (BackstopEvent & { height: number })[] = [];
      const stream = await streamEvents(node.rpc.replace("http", "ws"), (e) => seen.push(e));
      const bobWallet = await DirectSecp256k1HdWallet.fromMnemonic(LOCALNET_MNEMONIC, { prefix: "backstop", hdPaths: [stringToPath("m/44'/118'/0'/0/2")] });
      const bob = await BackstopClient.connect(node.rpc, bobWallet);
      try {
        await bob.depositCollateral(5_000_000_000n);
        await client.depositCollateral(5_000_000_000n);
        const ask = await bob.placeOrder({ marketId: "SOL-USD", side: "sell", quantity: "3", price: "150" });
        const askId = (await bob.query.clearing.orders(bob.sender!)).orders[0].id;
        await client.placeOrder({ marketId: "SOL-USD", side: "buy", quantity: "1", price: "150", tif: "ioc" });
        for (let i = 0; i < 40 && seen.filter((e) => e.kind === "fill").length < 2; i++) await new Promise((r) => setTimeout(r, 100));
        const fills = seen.filter((e): e is Extract<BackstopEvent, { kind: "fill" }> & { height: number } => e.kind === "fill");
        expect(fills.map((f) => [f.owner, f.side, f.quantity])).toEqual(
          expect.arrayContaining([
            [carol, "buy", "1.000000000000000000"],
            [bob.sender, "sell", "1.000000000000000000"],
          ]),
        );
        expect(fills.every((f) => f.height > ask.height)).toBe(true);
        // The rest of bob's ask is cancelled by him.
        const cx = await bob.cancelOrder("SOL-USD", askId);
        expect(cx.code).toBe(0);
        expect((await bob.query.clearing.orders(bob.sender!)).orders).toEqual([]);
      } finally {
        stream.stop();
        bob.disconnect();
      }
      const q = await client.query.oracle.price("SOL-USD");
      expect(q.price?.price).toBe(d("150"));
      const qe = await client.query.margin.position(carol, "BTC-USD").catch((e) => e);
      expect(qe).toBeInstanceOf(BackstopQueryError);
      expect([qe.codespace, qe.code]).toEqual(["margin", 3]);
    } finally {
      client.disconnect();
    }
  });
});

describe("how nodes are started", () => {
  // V8 flags only apply when given at process start (chain/node/v8flags.ts): every place that
  // starts a node must carry them.
  test("the backstop command, the Makefile's localnet and the test harness carry NODE_V8_FLAGS", () => {
    const { NODE_V8_FLAGS } = require("../../chain/node/v8flags") as typeof import("../../chain/node/v8flags");
    const { readFileSync } = require("node:fs") as typeof import("node:fs");
    const { join } = require("node:path") as typeof import("node:path");
    expect(NODE_V8_FLAGS.length).toBeGreaterThan(0);
    const shebang = readFileSync(BIN, "utf8").split("\n")[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_V8_FLAGS.join(" ")}`);
    const localnet = readFileSync(join(ROOT, "Makefile"), "utf8").split("\n").find((l) => l.includes("bin/backstop localnet"));
    expect(localnet).toContain(`$(NODE) ${NODE_V8_FLAGS.join(" ")} bin/backstop localnet`);
    const harness = readFileSync(join(ROOT, "test", "util", "node.ts"), "utf8");
    expect(harness).toContain("spawn(process.execPath, [...NODE_V8_FLAGS, ...args]");
    // The first line is executable as written (env -S splits the flags), and the flags are ones node accepts.
    const ran = spawnSync(BIN, ["--help"], { cwd: ROOT, encoding: "utf8" });
    expect(ran.status).toBe(0);
    expect(ran.stdout).toContain("usage: backstop");
  });

  test("a fresh localnet answers its RPC only once block 1 is committed: the genesis accounts are there from the first answer; --reset removes the chain and nothing else", async () => {
    const home = tempHome();
    const port = await freePort();
    // What --reset must leave alone in the home (a user's file and key) and what it must remove (an old chain's state).
    const { mkdirSync, writeFileSync, existsSync } = require("node:fs") as typeof import("node:fs");
    mkdirSync(`${home}/data/application`, { recursive: true });
    writeFileSync(`${home}/data/application/stale`, "an old chain");
    writeFileSync(`${home}/notes.txt`, "mine");
    expect(spawnSync(process.execPath, [BIN, "keys", "add", "mine", "--home", home], { cwd: ROOT }).status).toBe(0);
    const proc = spawn(process.execPath, [BIN, "localnet", "--home", home, "--rpc.laddr", `tcp://127.0.0.1:${port}`, "--reset"], { cwd: ROOT, stdio: "ignore" });
    try {
      let status: any;
      for (const end = Date.now() + 30_000; status === undefined && Date.now() < end; ) {
        status = await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.json(), () => undefined);
        if (status === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      expect(Number(status.result.sync_info.latest_block_height)).toBeGreaterThanOrEqual(1);
      const client = await BackstopClient.connect(`http://127.0.0.1:${port}`);
      try {
        const alice = (await client.query.bank.allBalances("backstop1jrkmdcwgq94uaamx6zax2luewlhf7u4ksuhpdp")).find((c) => c.denom === "uusdc");
        expect(alice?.amount).toBe("10000000000000");
      } finally {
        client.disconnect();
      }
      expect(existsSync(`${home}/data/application/stale`)).toBe(false);
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
      // Without --resume, localnet starts fresh again (SPEC §2); with it, the chain continues.
      for (const [flags, says] of [[[], "a fresh chain"], [["--resume"], "resuming the chain"]] as const) {
        const again = spawn(process.execPath, [BIN, "localnet", "--home", home, "--rpc.laddr", `tcp://127.0.0.1:${port}`, ...flags], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        again.stderr!.on("data", (d) => (err += d.toString()));
        for (const end = Date.now() + 20_000; !err.includes("localnet:") && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
        again.kill("SIGTERM");
        await new Promise((r) => again.once("exit", r));
        expect(err).toContain(`localnet: ${says} in ${home}`);
      }
      expect(existsSync(`${home}/notes.txt`)).toBe(true);
      const keys = JSON.parse(spawnSync(process.execPath, [BIN, "keys", "list", "--home", home, "--output", "json"], { cwd: ROOT }).stdout.toString());
      expect(keys.map((k: { name: string }) => k.name)).toEqual(expect.arrayContaining(["alice", "mine"]));
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
      rmSync(home, { recursive: true, force: true });
    }
  });
});
