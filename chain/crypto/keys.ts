/**
 * secp256k1 signatures and Cosmos addresses.
 *
 * Verification goes through the native libsecp256k1 binding (`secp256k1` on npm);
 * signatures must be 64-byte compact (r ‖ s) with low S, as the Cosmos SDK requires
 * (a high-S signature is a malleated copy and is refused outright).
 */
import secp256k1 from "secp256k1";
import { fromBech32, toBech32 } from "@cosmjs/encoding";
import { ripemd160 } from "@noble/hashes/ripemd160";
import { hash } from "node:crypto";
import { Memo } from "../memo";

export const BECH32_PREFIX = "backstop";

/** secp256k1 group order n, and n/2 (the largest low S). */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = N >> 1n;

export function sha256(data: Uint8Array): Buffer {
  return hash("sha256", data, "buffer"); // one-shot: no Hash object per digest
}

export function isLowS(signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const s = BigInt("0x" + Buffer.from(signature.subarray(32, 64)).toString("hex"));
  return s > 0n && s <= HALF_N;
}

/**
 * Recent successful verifications, keyed by the exact (digest, signature, key): a
 * transaction verified at CheckTx is verified again when its block executes, and the
 * answer cannot differ, so the second time is a lookup. A pure memo (only `true` is
 * remembered, only for the identical triple); bounded, cleared when full. The RPC's
 * transport thread verifies broadcast txs before they reach CheckTx and hands over the
 * keys of those that verified (`rememberVerified`), so CheckTx finds them here too.
 */
const verified = new Set<string>();
const VERIFIED_MAX = 100_000;

function verifiedMemoKey(digest: Uint8Array, signature: Uint8Array, pubkey: Uint8Array): string {
  return Buffer.concat([digest, signature, pubkey]).toString("latin1");
}

function remember(memo: string): void {
  if (verified.size >= VERIFIED_MAX) verified.clear();
  verified.add(memo);
}

/** Remembers verifications made elsewhere: keys that `verifiedKey` returned. */
export function rememberVerified(keys: readonly string[]): void {
  for (const k of keys) if (k.length === 32 + 64 + 33) remember(k);
}

/** Verifies a compact signature over sha256(message) with a compressed public key. */
export function verifySecp256k1(signature: Uint8Array, message: Uint8Array, pubkey: Uint8Array): boolean {
  if (signature.length !== 64 || pubkey.length !== 33) return false;
  const digest = sha256(message);
  const memo = verifiedMemoKey(digest, signature, pubkey);
  if (verified.has(memo)) return true;
  if (!ecdsaVerify(signature, digest, pubkey)) return false;
  remember(memo);
  return true;
}

/**
 * Verifies like `verifySecp256k1`, without the memo, and returns the memo key of a
 * signature that verifies (for `rememberVerified` in another thread), else undefined.
 */
export function verifiedKey(signature: Uint8Array, message: Uint8Array, pubkey: Uint8Array): string | undefined {
  if (signature.length !== 64 || pubkey.length !== 33) return undefined;
  const digest = sha256(message);
  return ecdsaVerify(signature, digest, pubkey) ? verifiedMemoKey(digest, signature, pubkey) : undefined;
}

/**
 * Recent public keys in uncompressed form (65 bytes), by their compressed form: parsing a
 * compressed key costs a square root (~3 µs, 8–10% of a verification, measured), and an
 * account signs with the same key again and again. A pure memo; bounded, cleared when full.
 */
// publicKeyConvert throws for a point not on the curve: nothing is remembered then.
const expandedKeys = new Memo<string, Uint8Array>(100_000, (id) => secp256k1.publicKeyConvert(Buffer.from(id, "latin1"), false));

/** A key's bytes as a latin1 string, to look it up by. */
const keyId = (pubkey: Uint8Array): string => Buffer.from(pubkey.buffer, pubkey.byteOffset, pubkey.byteLength).toString("latin1");

function expanded(pubkey: Uint8Array): Uint8Array {
  return expandedKeys.get(keyId(pubkey));
}

function ecdsaVerify(signature: Uint8Array, digest: Uint8Array, pubkey: Uint8Array): boolean {
  try {
    return secp256k1.ecdsaVerify(signature, digest, expanded(pubkey));
  } catch {
    return false; // malformed public key or signature
  }
}

/** Cosmos account address of a compressed secp256k1 public key: ripemd160(sha256(pubkey)). */
export function pubkeyToAddressBytes(pubkey: Uint8Array): Uint8Array {
  return ripemd160(sha256(pubkey));
}

/** Module account address: the first 20 bytes of sha256(module name) (Cosmos `address.Module`). */
export function moduleAddress(name: string): string {
  return toBech32(BECH32_PREFIX, sha256(Buffer.from(name)).subarray(0, 20));
}

export function toAddress(bytes: Uint8Array): string {
  return toBech32(BECH32_PREFIX, bytes);
}

/** Bech32 account addresses of recent public keys (two hashes and a bech32 encoding each; bounded). */
const pubkeyAddresses = new Memo<string, string>(100_000, (id) => toAddress(pubkeyToAddressBytes(Buffer.from(id, "latin1"))));

/** The account address of a compressed secp256k1 public key (`toAddress(pubkeyToAddressBytes(pubkey))`), remembered. */
export function pubkeyAddress(pubkey: Uint8Array): string {
  return pubkeyAddresses.get(keyId(pubkey));
}

/** Decodes a bech32 address with our prefix and 20 or 32 data bytes; throws on anything else. */
// Decoding bech32 is pure and costly: recent results are remembered (an invalid address throws, and is not).
const decoded = new Memo<string, Uint8Array>(100_000, decodeAddress);

export function addressBytes(address: string): Uint8Array {
  return decoded.get(address);
}

function decodeAddress(address: string): Uint8Array {
  if (typeof address !== "string" || address.length > 90) throw new Error("invalid address");
  const { prefix, data } = fromBech32(address);
  if (prefix !== BECH32_PREFIX) throw new Error(`invalid address prefix ${prefix}, expected ${BECH32_PREFIX}`);
  if (data.length !== 20 && data.length !== 32) throw new Error(`invalid address length ${data.length}`);
  return data;
}

export function isValidAddress(address: string): boolean {
  try {
    addressBytes(address);
    return true;
  } catch {
    return false;
  }
}
