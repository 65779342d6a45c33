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

  private accountKey(address: string): Uint8Array {
    const a = addressBytes(address);
    const k = new Uint8Array(a.length + 1);
    k[0] = ACCOUNT_PREFIX;
    k.set(a, 1);
    return k;
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
    const base = BaseAccount.fromPartial({
      address: acc.address,
      accountNumber: acc.accountNumber,
      sequence: acc.sequence,
      pubKey: acc.pubkey ? Any.fromPartial({ typeUrl: SECP256K1_PUBKEY_TYPE_URL, value: PubKey.encode({ key: acc.pubkey }).finish() }) : undefined,
    });
    this.kv(ctx).set(this.accountKey(acc.address), BaseAccount.encode(base).finish());
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

  /** Returns the account, creating it if it does not exist yet. */
  ensureAccount(ctx: Context, address: string): Account {
    return this.getAccount(ctx, address) ?? this.newAccount(ctx, address);
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
