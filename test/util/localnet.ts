/**
 * Test fixtures: the localnet accounts (derived with CosmJS from the localnet mnemonic),
 * real signed Cosmos transactions (sign mode direct, secp256k1), and helpers that drive
 * a BackstopApp through its ABCI methods exactly as the engine does.
 */
import { Bip39, EnglishMnemonic, Secp256k1, Slip10, Slip10Curve, stringToPath } from "@cosmjs/crypto";
import { toBech32 } from "@cosmjs/encoding";
import { makeAuthInfoBytes, makeSignDoc, encodePubkey } from "@cosmjs/proto-signing";
import { encodeSecp256k1Pubkey } from "@cosmjs/amino";
import { TxBody, TxRaw, SignDoc } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { MsgSend } from "cosmjs-types/cosmos/bank/v1beta1/tx";
import { Any } from "cosmjs-types/google/protobuf/any";
import secp256k1 from "secp256k1";
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import { BackstopApp } from "../../chain/app/app";
import { LOCALNET_CHAIN_ID, LOCALNET_KEY_NAMES, LOCALNET_MNEMONIC, localnetAppState } from "../../chain/app/genesis";
import { pubkeyToAddressBytes } from "../../chain/crypto/keys";
import type { ExecTxResult, ResponseFinalizeBlock } from "../../chain/app/abci";

export interface TestAccount {
  readonly name: string;
  readonly address: string;
  readonly privkey: Uint8Array;
  readonly pubkey: Uint8Array; // compressed
}

let cached: TestAccount[] | null = null;

/** HD indices 0–9 of the localnet mnemonic at m/44'/118'/0'/0/i. */
export async function localnetAccounts(): Promise<TestAccount[]> {
  if (cached) return cached;
  const seed = await Bip39.mnemonicToSeed(new EnglishMnemonic(LOCALNET_MNEMONIC));
  const out: TestAccount[] = [];
  for (let i = 0; i < LOCALNET_KEY_NAMES.length; i++) {
    const { privkey } = Slip10.derivePath(Slip10Curve.Secp256k1, seed, stringToPath(`m/44'/118'/0'/0/${i}`));
    const { pubkey } = await Secp256k1.makeKeypair(privkey);
    const compressed = Secp256k1.compressPubkey(pubkey);
    out.push({ name: LOCALNET_KEY_NAMES[i], address: toBech32("backstop", pubkeyToAddressBytes(compressed)), privkey, pubkey: compressed });
  }
  cached = out;
  return out;
}

export interface SignOptions {
  readonly chainId?: string;
  readonly accountNumber: bigint;
  readonly sequence: bigint;
  readonly gasLimit?: bigint;
  readonly fee?: { denom: string; amount: string }[];
  readonly memo?: string;
}

/** Signs messages into TxRaw bytes with sign mode direct, as CosmJS's DirectSecp256k1Wallet does. */
export function signTx(signer: TestAccount, messages: Any[], o: SignOptions): Uint8Array {
  const bodyBytes = TxBody.encode(TxBody.fromPartial({ messages, memo: o.memo ?? "" })).finish();
  const pubkey = encodePubkey(encodeSecp256k1Pubkey(signer.pubkey));
  const gasLimit = o.gasLimit ?? 400_000n;
  const fee = o.fee ?? [{ denom: "uusdc", amount: ((gasLimit * 25n) / 10000n + 1n).toString() }];
  const authInfoBytes = makeAuthInfoBytes([{ pubkey, sequence: o.sequence }], fee, Number(gasLimit), undefined, undefined);
  const signDoc = makeSignDoc(bodyBytes, authInfoBytes, o.chainId ?? LOCALNET_CHAIN_ID, Number(o.accountNumber));
  const digest = createHash("sha256").update(SignDoc.encode(signDoc).finish()).digest();
  const { signature } = secp256k1.ecdsaSign(digest, signer.privkey);
  return TxRaw.encode({ bodyBytes, authInfoBytes, signatures: [signature] }).finish();
}

export function msgSend(from: string, to: string, amount: string, denom = "uusdc"): Any {
  return { typeUrl: "/cosmos.bank.v1beta1.MsgSend", value: MsgSend.encode({ fromAddress: from, toAddress: to, amount: [{ denom, amount }] }).finish() };
}

export const GENESIS_TIME = 1_767_225_600n; // 2026-01-01T00:00:00Z

/** A localnet application at height 0 with InitChain applied (not yet committed). */
export async function initLocalnetApp(
  dataDir?: string,
  edit: (state: Record<string, any>) => void = () => {},
): Promise<{ app: BackstopApp; accounts: TestAccount[]; genesisBytes: Uint8Array }> {
  const accounts = await localnetAccounts();
  const app = BackstopApp.open({ dataDir });
  const state = localnetAppState(accounts.map((a) => a.address)) as Record<string, any>;
  edit(state);
  const genesisBytes = Buffer.from(JSON.stringify(state));
  app.initChain({
    time: { seconds: GENESIS_TIME, nanos: 0 },
    chainId: LOCALNET_CHAIN_ID,
    consensusParams: undefined,
    validators: [],
    appStateBytes: genesisBytes,
    initialHeight: 1n,
  });
  return { app, accounts, genesisBytes };
}

/** Runs FinalizeBlock + Commit for one block of txs at 1-second block times. */
export function runBlock(app: BackstopApp, height: bigint, txs: Uint8Array[], time: bigint = GENESIS_TIME + height): ResponseFinalizeBlock {
  const res = app.finalizeBlock({
    txs,
    decidedLastCommit: { round: 0, votes: [] },
    misbehavior: [],
    hash: new Uint8Array(32),
    height,
    time: { seconds: time, nanos: 0 },
    nextValidatorsHash: new Uint8Array(32),
    proposerAddress: new Uint8Array(20),
  });
  app.commit();
  // HASH_LOG=file: each block's height, app hash and tx codes, to compare two builds of the
  // state machine over the test suites' blocks (a refactor must leave them all alike).
  if (process.env.HASH_LOG) appendFileSync(process.env.HASH_LOG, `${height} ${Buffer.from(res.appHash).toString("hex")} ${res.txResults.map((r) => r.code).join(",")}\n`);
  return res;
}

export function expectOk(r: ExecTxResult | { code: number; log: string }): void {
  if (r.code !== 0) throw new Error(`tx failed with code ${r.code}: ${r.log}`);
}

/** Flips S to n − S: the same signature in its malleated high-S form. */
export function toHighS(txBytes: Uint8Array): Uint8Array {
  const raw = TxRaw.decode(txBytes);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const sig = Buffer.from(raw.signatures[0]);
  const s = BigInt("0x" + sig.subarray(32).toString("hex"));
  Buffer.from((n - s).toString(16).padStart(64, "0"), "hex").copy(sig, 32);
  return TxRaw.encode({ ...raw, signatures: [sig] }).finish();
}
