/** `backstop init`, `backstop start`, `backstop localnet`. */
import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { Secp256k1, Slip10, Slip10Curve, stringToPath, Bip39, EnglishMnemonic } from "@cosmjs/crypto";
import { toBech32 } from "@cosmjs/encoding";
import { Command } from "../registry";
import { flag, has, UsageError } from "../args";
import { initHome, paths } from "../../../../chain/node/home";
import { startAbci, startNode } from "../../../../chain/node/node";
import { LOCALNET_CHAIN_ID, LOCALNET_KEY_NAMES, LOCALNET_MNEMONIC, localnetAppState } from "../../../../chain/app/genesis";
import { defaultAppState } from "../../../../chain/app/modules";
import { APP_PROTOCOL_VERSION, APP_VERSION } from "../../../../chain/app/app";
import { pubkeyToAddressBytes } from "../../../../chain/crypto/keys";
import { Keyring } from "../../keyring/keyring";

/** Addresses of HD indices 0–9 of the localnet mnemonic. */
export async function localnetAddresses(): Promise<string[]> {
  const seed = await Bip39.mnemonicToSeed(new EnglishMnemonic(LOCALNET_MNEMONIC));
  const out: string[] = [];
  for (let i = 0; i < LOCALNET_KEY_NAMES.length; i++) {
    const { privkey } = Slip10.derivePath(Slip10Curve.Secp256k1, seed, stringToPath(`m/44'/118'/0'/0/${i}`));
    const { pubkey } = await Secp256k1.makeKeypair(privkey);
    out.push(toBech32("backstop", pubkeyToAddressBytes(Secp256k1.compressPubkey(pubkey))));
  }
  return out;
}

export async function initLocalnetHome(home: string, chainId = LOCALNET_CHAIN_ID): Promise<void> {
  const addresses = await localnetAddresses();
  initHome({ home, chainId, appState: localnetAppState(addresses) });
  const kr = new Keyring(home, "test");
  for (let i = 0; i < LOCALNET_KEY_NAMES.length; i++) {
    await kr.add(LOCALNET_KEY_NAMES[i], LOCALNET_MNEMONIC, i, true);
  }
}

function waitForSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((done) => {
    let stopping = false;
    const handler = (sig: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`received ${sig}, shutting down\n`);
      stop().then(
        () => done(0),
        (e) => {
          process.stderr.write(`shutdown failed: ${e}\n`);
          done(1);
        },
      );
    };
    process.on("SIGINT", () => handler("SIGINT"));
    process.on("SIGTERM", () => handler("SIGTERM"));
  });
}

function blockTimeMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(ms|s)?$/.exec(v);
  if (!m) throw new Error(`invalid --block-time ${v} (e.g. 1s or 500ms)`);
  return m[2] === "ms" ? Number(m[1]) : Number(m[1]) * 1000;
}

/** A limit flag's whole number (undefined: not given, the node's default applies). */
function countFlag(ctx: Parameters<Command["run"]>[0], name: string): number | undefined {
  const v = flag(ctx.args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`invalid --${name} ${v} (a whole number, e.g. 100)`);
  return Number(v);
}

/**
 * The flags of `start` and `localnet`, read before anything is done: a malformed one
 * must not cost `localnet` its chain.
 */
function startFlags(ctx: Parameters<Command["run"]>[0]) {
  return {
    abci: flag(ctx.args, "abci"),
    minGasPrices: flag(ctx.args, "min-gas-prices"),
    rpcLaddr: flag(ctx.args, "rpc.laddr"),
    rpcLimits: {
      maxSubscriptionClients: countFlag(ctx, "rpc.max-subscription-clients"),
      maxSubscriptionsPerClient: countFlag(ctx, "rpc.max-subscriptions-per-client"),
    },
    blockTimeMs: blockTimeMs(flag(ctx.args, "block-time")),
  };
}

async function runStart(home: string, f: ReturnType<typeof startFlags>): Promise<number> {
  if (f.abci) {
    const s = await startAbci({ home, address: f.abci, minGasPrices: f.minGasPrices });
    return waitForSignal(() => s.stop());
  }
  const node = await startNode({ home, rpcLaddr: f.rpcLaddr, rpcLimits: f.rpcLimits, minGasPrices: f.minGasPrices, blockTimeMs: f.blockTimeMs });
  const fatal = new Promise<number>((done) => node.engine.once("fatal", () => node.stop().then(() => done(1))));
  return Promise.race([waitForSignal(() => node.stop()), fatal]);
}

export const nodeCommands: Command[] = [
  {
    path: ["version"],
    usage: "version   (this build: its version and the state machine's protocol version)",
    async run(ctx) {
      const v = { version: APP_VERSION, app_protocol_version: APP_PROTOCOL_VERSION.toString(), node: process.version };
      ctx.print(v, () => `backstop ${v.version} (app protocol ${v.app_protocol_version}, Node.js ${v.node})`);
    },
  },
  {
    path: ["init"],
    usage: "init --home DIR [--chain-id ID] [--localnet] [--overwrite]   write DIR/config/genesis.json and the validator key",
    async run(ctx) {
      const home = resolve(ctx.home);
      if (existsSync(paths(home).genesis) && !has(ctx.args, "overwrite")) throw new Error(`${paths(home).genesis} exists (use --overwrite)`);
      if (has(ctx.args, "localnet")) await initLocalnetHome(home, ctx.chainId ?? LOCALNET_CHAIN_ID);
      else initHome({ home, chainId: ctx.chainId ?? "backstop-1", appState: defaultAppState() });
      ctx.print({ home, genesis: paths(home).genesis, chain_id: ctx.chainId ?? (has(ctx.args, "localnet") ? LOCALNET_CHAIN_ID : "backstop-1") }, () => `initialised ${home}`);
    },
  },
  {
    path: ["start"],
    usage: "start --home DIR [--rpc.laddr tcp://127.0.0.1:26657] [--rpc.max-subscription-clients 100] [--rpc.max-subscriptions-per-client 5] [--abci tcp://127.0.0.1:26658] [--min-gas-prices P] [--block-time 1s]",
    run: (ctx) => runStart(resolve(ctx.home), startFlags(ctx)),
  },
  {
    path: ["localnet"],
    usage: "localnet [--home DIR (./.localnet)] [--rpc.laddr tcp://127.0.0.1:26657] [--rpc.max-subscription-clients 100] [--rpc.max-subscriptions-per-client 5] [--min-gas-prices P] [--block-time 1s] [--reset | --resume]   a fresh single-validator chain (removing the home's config/ and data/ only; --reset says so), or with --resume the home's chain continues",
    async run(ctx) {
      const home = resolve(flag(ctx.args, "home", ".localnet")!);
      if (has(ctx.args, "reset") && has(ctx.args, "resume")) throw new UsageError("give --reset or --resume, not both");
      const f = startFlags(ctx);
      // Fresh unless --resume (SPEC §2): the chain — genesis, validator key, state and
      // blocks — is removed, and nothing else: keys and other files in the home stay (the
      // localnet keys are re-added).
      if (!has(ctx.args, "resume")) for (const dir of [paths(home).config, paths(home).data]) rmSync(dir, { recursive: true, force: true });
      const fresh = !existsSync(paths(home).genesis);
      if (fresh) await initLocalnetHome(home);
      process.stderr.write(`localnet: ${fresh ? "a fresh chain" : "resuming the chain"} in ${home}, chain-id ${LOCALNET_CHAIN_ID}, RPC ${flag(ctx.args, "rpc.laddr", "tcp://127.0.0.1:26657")}\n`);
      return runStart(home, f);
    },
  },
];
