/**
 * x/auth: accounts (address → number, sequence, public key) and the auth params.
 *
 * State (under the module prefix):
 *   0x01 ‖ address bytes → BaseAccount (protobuf)
 *   0x02                 → next account number (u64 BE)
 *   0x03                 → the params authority (bech32 address)
 */
import { readerOf } from "../../app/wire";
import { BaseAccount, Params } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { PubKey } from "cosmjs-types/cosmos/crypto/secp256k1/keys";
import { Any } from "cosmjs-types/google/protobuf/any";
import { Context } from "../../app/context";
import { ErrUnauthorized } from "../../app/errors";
import { PrefixKV } from "../../store/prefix";
import { addressBytes } from "../../crypto/keys";
import { Memo } from "../../memo";

export const AUTH_STORE_PREFIX = Uint8Array.of(0x01);
const ACCOUNT_PREFIX = 0x01;
const NEXT_ACCOUNT_NUMBER_KEY = Uint8Array.of(0x02);

export const BASE_ACCOUNT_TYPE_URL = "/cosmos.auth.v1beta1.BaseAccount";
export const SECP256K1_PUBKEY_TYPE_URL = "/cosmos.crypto.secp256k1.PubKey";

/** Auth params (fixed at the Cosmos SDK defaults). */
export const AUTH_PARAMS: Params = {
  maxMemoCharacters: 256n,
  txSigLimit: 7n,
  txSizeCostPerByte: 10n,
  sigVerifyCostEd25519: 590n,
  sigVerifyCostSecp256k1: 1000n,
};

export interface Account {
  readonly address: string;
  readonly accountNumber: bigint;
  sequence: bigint;
  /** Compressed secp256k1 public key, once known. */
  pubkey: Uint8Array | null;
}

const AUTHORITY_KEY = Uint8Array.of(0x03);

/**
 * An account as its stored BaseAccount (protobuf), written directly: every tx's ante
 * handler writes its signer's account, at CheckTx, in its block and at recheck, and the
 * generic encoder (two messages built and encoded, nested through forked writers) cost
 * several times this. The bytes are exactly `BaseAccount.encode` of the same account
 * (fields in number order, zero values left out, the key as a secp256k1 PubKey in an
 * Any); auth.spec.ts checks them against it on random accounts.
 */
export function encodeAccount(acc: Account): Buffer {
  const address = acc.address === "" ? 0 : Buffer.byteLength(acc.address);
  const key = acc.pubkey && acc.pubkey.length > 0 ? acc.pubkey.length : 0;
  const pubKey = acc.pubkey ? 2 + PUBKEY_URL.length + (key > 0 ? 1 + varintSize(BigInt(key + 1 + varintSize(BigInt(key)))) + 1 + varintSize(BigInt(key)) + key : 0) : -1;
  const size =
    (address > 0 ? 1 + varintSize(BigInt(address)) + address : 0) +
    (pubKey >= 0 ? 1 + varintSize(BigInt(pubKey)) + pubKey : 0) +
    (acc.accountNumber !== 0n ? 1 + varintSize(acc.accountNumber) : 0) +
    (acc.sequence !== 0n ? 1 + varintSize(acc.sequence) : 0);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (address > 0) {
    out[at++] = 0x0a;
    at = writeVarint(out, at, BigInt(address));
    at += out.write(acc.address, at, "utf8");
  }
  if (pubKey >= 0) {
    out[at++] = 0x12;
    at = writeVarint(out, at, BigInt(pubKey));
    out[at++] = 0x0a; // Any.type_url
    out[at++] = PUBKEY_URL.length;
    at += PUBKEY_URL.copy(out, at);
    if (key > 0) {
      out[at++] = 0x12; // Any.value: a PubKey
      at = writeVarint(out, at, BigInt(1 + varintSize(BigInt(key)) + key));
      out[at++] = 0x0a; // PubKey.key
      at = writeVarint(out, at, BigInt(key));
      out.set(acc.pubkey!, at);
      at += key;
    }
  }
  if (acc.accountNumber !== 0n) {
    out[at++] = 0x18;
    at = writeVarint(out, at, acc.accountNumber);
  }
  if (acc.sequence !== 0n) {
    out[at++] = 0x20;
    at = writeVarint(out, at, acc.sequence);
  }
  if (at !== size) throw new Error(`account encoded to ${at} bytes, expected ${size}`);
  return out;
}

const PUBKEY_URL = Buffer.from(SECP256K1_PUBKEY_TYPE_URL);

function varintSize(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function writeVarint(out: Buffer, at: number, v: bigint): number {
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`varint out of range: ${v}`);
  while (v >= 0x80n) {
    out[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[at++] = Number(v);
  return at;
}

const accountKeys = new Memo<string, string>(65_536, (address) => String.fromCharCode(ACCOUNT_PREFIX) + Buffer.from(addressBytes(address)).toString("latin1"));

export class AuthKeeper {
  private kv(ctx: Context) {
    return new PrefixKV(ctx.store, AUTH_STORE_PREFIX);
  }

  /**
   * The params authority: the one address whose MsgUpdateParams (and market and pool
   * listings) every module accepts. Set by genesis (`auth.authority`); empty means none.
   */
  getAuthority(ctx: Context): string {
    const raw = this.kv(ctx).get(AUTHORITY_KEY);
    return raw ? Buffer.from(raw).toString() : "";
  }

  setAuthority(ctx: Context, address: string): void {
    this.kv(ctx).set(AUTHORITY_KEY, Buffer.from(address));
  }

  /** Throws sdk/4 unless `signer` is the params authority. */
  requireAuthority(ctx: Context, signer: string): void {
    const a = this.getAuthority(ctx);
    if (!a || a !== signer) throw ErrUnauthorized.wrap(`invalid authority; expected ${a || "(none set)"}, got ${signer}`);
  }

  /** An account's key as a latin1 string (see `Key`); recent ones are kept (bounded), sparing a bech32 decode per access. */
  private accountKey(address: string): string {
    return accountKeys.get(address);
  }

  getAccount(ctx: Context, address: string): Account | undefined {
    const raw = this.kv(ctx).get(this.accountKey(address));
    if (!raw) return undefined;
    const a = BaseAccount.decode(readerOf(raw));
    return {
      address: a.address,
      accountNumber: a.accountNumber,
      sequence: a.sequence,
      pubkey: a.pubKey ? PubKey.decode(readerOf(a.pubKey.value)).key : null,
    };
  }

  setAccount(ctx: Context, acc: Account): void {
    this.kv(ctx).set(this.accountKey(acc.address), encodeAccount(acc));
  }

  /** Creates an account with the next account number. */
  newAccount(ctx: Context, address: string): Account {
    const kv = this.kv(ctx);
    const raw = kv.get(NEXT_ACCOUNT_NUMBER_KEY);
    const n = raw ? Buffer.from(raw).readBigUInt64BE(0) : 0n;
    const next = Buffer.alloc(8);
    next.writeBigUInt64BE(n + 1n);
    kv.set(NEXT_ACCOUNT_NUMBER_KEY, next);
    const acc: Account = { address, accountNumber: n, sequence: 0n, pubkey: null };
    this.setAccount(ctx, acc);
    return acc;
  }

  /** Creates the account if it does not exist yet. */
  ensureAccount(ctx: Context, address: string): void {
    // The same read as getAccount (and so the same gas), without decoding the account.
    if (this.kv(ctx).get(this.accountKey(address)) === undefined) this.newAccount(ctx, address);
  }

  /** Every account in address-byte order. */
  *accounts(ctx: Context): IterableIterator<Account> {
    for (const [, raw] of this.kv(ctx).iterator(Uint8Array.of(ACCOUNT_PREFIX), Uint8Array.of(ACCOUNT_PREFIX + 1))) {
      const a = BaseAccount.decode(readerOf(raw));
      yield { address: a.address, accountNumber: a.accountNumber, sequence: a.sequence, pubkey: a.pubKey ? PubKey.decode(a.pubKey.value).key : null };
    }
  }

  /** The account encoded as the Any that `/cosmos.auth.v1beta1.Query/Account` returns. */
  accountAny(ctx: Context, address: string): Any | undefined {
    const raw = this.kv(ctx).get(this.accountKey(address));
    return raw ? Any.fromPartial({ typeUrl: BASE_ACCOUNT_TYPE_URL, value: raw }) : undefined;
  }
}
