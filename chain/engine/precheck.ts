/**
 * Signature pre-verification on the RPC's transport thread. A broadcast tx's signatures
 * are most of what CheckTx costs (a native secp256k1 verification each), and the verdict
 * is a pure function of the tx bytes, the chain id, the signer's account number and key.
 * The transport thread parses broadcast requests as they arrive, verifies the signatures
 * whose signer it knows the account number of (the main thread tells it, once per
 * sender, after that sender's first accepted tx), and sends the verified triples' memo
 * keys along with the request. The main thread adds them to the verification memo
 * (`rememberVerified`) before running the request, so CheckTx and the block find them
 * there instead of verifying again.
 *
 * Nothing here decides anything: a memo key only says that this exact (digest,
 * signature, key) verified, and CheckTx still computes the digest itself from the tx and
 * the account it reads, checks low S, the sequence and everything else. A tx the
 * pre-check could not verify (unknown signer, no public key in the tx, a bad signature,
 * a stale account number) is simply verified by CheckTx as before.
 */
import { readerOf } from "../app/wire";
import { AuthInfo, SignDoc, TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { PubKey } from "cosmjs-types/cosmos/crypto/secp256k1/keys";
import { pubkeyAddress, verifiedKey } from "../crypto/keys";

const SECP256K1_PUBKEY = "/cosmos.crypto.secp256k1.PubKey";
const BROADCASTS = new Set(["broadcast_tx_sync", "broadcast_tx_async", "broadcast_tx_commit"]);
/** Account numbers remembered (bounded: cleared when full, then learned again). */
const MAX_ACCOUNTS = 200_000;

export class SignaturePrecheck {
  private readonly accounts = new Map<string, bigint>();

  constructor(private readonly chainId: string) {}

  /** The account number of an address (account numbers never change). */
  learn(address: string, accountNumber: bigint): void {
    if (this.accounts.size >= MAX_ACCOUNTS) this.accounts.clear();
    this.accounts.set(address, accountNumber);
  }

  /**
   * The memo keys of the verified signatures of the txs broadcast by a JSON-RPC body (one
   * request or a batch); empty if there are none or the body is not what it looks for.
   */
  check(body: string): string[] {
    const keys: string[] = [];
    // Cheap test first: most bodies that are not broadcasts are never parsed here.
    if (!body.includes("broadcast_tx_")) return keys;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return keys;
    }
    for (const r of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof r !== "object" || r === null) continue;
      const { method, params } = r as { method?: unknown; params?: unknown };
      if (typeof method !== "string" || !BROADCASTS.has(method)) continue;
      const tx = typeof params === "object" && params !== null ? (params as { tx?: unknown }).tx : undefined;
      if (typeof tx === "string") this.checkTx(tx, keys);
    }
    return keys;
  }

  private checkTx(base64: string, keys: string[]): void {
    try {
      const raw = TxRaw.decode(readerOf(Buffer.from(base64, "base64")));
      const authInfo = AuthInfo.decode(readerOf(raw.authInfoBytes));
      authInfo.signerInfos.forEach((info, i) => {
        const sig = raw.signatures[i];
        if (!sig || info.publicKey?.typeUrl !== SECP256K1_PUBKEY) return;
        const pubkey = PubKey.decode(readerOf(info.publicKey.value)).key;
        if (pubkey.length !== 33) return;
        const accountNumber = this.accounts.get(pubkeyAddress(pubkey));
        if (accountNumber === undefined) return;
        const signBytes = SignDoc.encode({ bodyBytes: raw.bodyBytes, authInfoBytes: raw.authInfoBytes, chainId: this.chainId, accountNumber }).finish();
        const key = verifiedKey(sig, signBytes, pubkey);
        if (key !== undefined) keys.push(key);
      });
    } catch {
      /* not a tx we can read: CheckTx will say why */
    }
  }
}
