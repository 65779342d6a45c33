/**
 * The node's home directory, laid out like CometBFT's:
 *   <home>/config/genesis.json            CometBFT genesis (app state under app_state)
 *   <home>/config/priv_validator_key.json  the validator's ed25519 key
 *   <home>/data/application/               the application's state (LMDB)
 *   <home>/data/blockstore/                blocks, results and the tx index (LMDB)
 *   <home>/keyring-test/                   the localnet's test keyring
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ValidatorKey {
  /** Uppercase hex, the first 20 bytes of sha256(pubkey). */
  readonly address: string;
  readonly pubkey: Buffer;
  readonly privateKey: KeyObject;
}

export interface GenesisDoc {
  genesis_time: string;
  chain_id: string;
  initial_height: string;
  consensus_params: {
    block: { max_bytes: string; max_gas: string };
    evidence: { max_age_num_blocks: string; max_age_duration: string; max_bytes: string };
    validator: { pub_key_types: string[] };
    version: { app: string };
    abci: { vote_extensions_enable_height: string };
  };
  validators: { address: string; pub_key: { type: string; value: string }; power: string; name: string }[];
  app_hash: string;
  app_state: unknown;
}

export const paths = (home: string) => ({
  config: join(home, "config"),
  genesis: join(home, "config", "genesis.json"),
  validatorKey: join(home, "config", "priv_validator_key.json"),
  data: join(home, "data"),
  appData: join(home, "data", "application"),
  blockstore: join(home, "data", "blockstore"),
});

export function validatorAddress(pubkey: Buffer): string {
  return createHash("sha256").update(pubkey).digest().subarray(0, 20).toString("hex").toUpperCase();
}

/** Creates a new ed25519 validator key in CometBFT's priv_validator_key.json format. */
export function writeValidatorKey(file: string): ValidatorKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pub = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  const address = validatorAddress(pub);
  const doc = {
    address,
    pub_key: { type: "tendermint/PubKeyEd25519", value: pub.toString("base64") },
    priv_key: { type: "tendermint/PrivKeyEd25519", value: Buffer.concat([seed, pub]).toString("base64") },
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  return { address, pubkey: pub, privateKey };
}

export function readValidatorKey(file: string): ValidatorKey {
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const raw = Buffer.from(doc.priv_key.value, "base64");
  const seed = raw.subarray(0, 32);
  const pub = raw.subarray(32, 64);
  const privateKey = createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", d: seed.toString("base64url"), x: pub.toString("base64url") },
    format: "jwk",
  });
  // Check the stored public key matches the private key.
  const derived = Buffer.from(createPublicKey(privateKey).export({ format: "jwk" }).x!, "base64url");
  if (!derived.equals(pub)) throw new Error(`${file}: public key does not match the private key`);
  return { address: validatorAddress(pub), pubkey: Buffer.from(pub), privateKey };
}

export function signEd25519(key: ValidatorKey, message: Uint8Array): Buffer {
  return sign(null, message, key.privateKey);
}

/** RFC 3339 with nanoseconds, as CometBFT prints times. */
export function rfc3339(seconds: bigint, nanos: number): string {
  const d = new Date(Number(seconds) * 1000); // determinism-ok: formatting only
  const base = d.toISOString().slice(0, 19);
  return `${base}.${String(nanos).padStart(9, "0")}Z`;
}

export function parseRfc3339(s: string): { seconds: bigint; nanos: number } {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(s);
  if (!m) throw new Error(`invalid time ${s}`);
  const ms = Date.parse(m[1] + "Z"); // determinism-ok: parsing the genesis file
  return { seconds: BigInt(ms / 1000), nanos: Number((m[2] ?? "").padEnd(9, "0")) };
}

export interface InitOptions {
  readonly home: string;
  readonly chainId: string;
  readonly appState: unknown;
  /** Genesis time; defaults to now. */
  readonly genesisTime?: string;
}

/** Writes config/genesis.json and the validator key (kept if it exists). */
export function initHome(o: InitOptions): GenesisDoc {
  const p = paths(o.home);
  mkdirSync(p.config, { recursive: true });
  mkdirSync(p.data, { recursive: true });
  const key = existsSync(p.validatorKey) ? readValidatorKey(p.validatorKey) : writeValidatorKey(p.validatorKey);
  const now = new Date(); // determinism-ok: the genesis time is chosen once, outside consensus
  const genesis: GenesisDoc = {
    genesis_time: o.genesisTime ?? now.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z"),
    chain_id: o.chainId,
    initial_height: "1",
    consensus_params: {
      block: { max_bytes: "22020096", max_gas: "-1" },
      evidence: { max_age_num_blocks: "100000", max_age_duration: "172800000000000", max_bytes: "1048576" },
      validator: { pub_key_types: ["ed25519"] },
      version: { app: "0" },
      abci: { vote_extensions_enable_height: "0" },
    },
    validators: [
      { address: key.address, pub_key: { type: "tendermint/PubKeyEd25519", value: key.pubkey.toString("base64") }, power: "10", name: "validator" },
    ],
    app_hash: "",
    app_state: o.appState,
  };
  writeFileSync(p.genesis, JSON.stringify(genesis, null, 2) + "\n");
  return genesis;
}

export function readGenesis(home: string): GenesisDoc {
  const file = paths(home).genesis;
  if (!existsSync(file)) throw new Error(`no genesis at ${file}: run 'backstop init --home ${home}' first`);
  const g = JSON.parse(readFileSync(file, "utf8")) as GenesisDoc;
  if (!g.chain_id) throw new Error(`${file}: chain_id is missing`);
  return g;
}
