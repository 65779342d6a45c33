import { SignDoc, TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { SignaturePrecheck } from "./precheck";
import { sha256, verifiedKey } from "../crypto/keys";
import { localnetAccounts, msgSend, signTx, TestAccount } from "../../test/util/localnet";

const CHAIN = "backstop-local-1";
const body = (method: string, tx: Uint8Array, id = 1) => ({ jsonrpc: "2.0", id, method, params: { tx: Buffer.from(tx).toString("base64") } });

describe("SignaturePrecheck", () => {
  let a: TestAccount;
  let b: TestAccount;
  beforeAll(async () => {
    [a, b] = await localnetAccounts();
  });
  const send = (from: TestAccount, to: TestAccount, accountNumber: bigint, sequence: bigint) => signTx(from, [msgSend(from.address, to.address, "1")], { accountNumber, sequence });

  it("verifies the signatures of broadcast txs whose signer's account number it knows", () => {
    const p = new SignaturePrecheck(CHAIN);
    const tx = send(a, b, 0n, 7n);
    expect(p.check(JSON.stringify(body("broadcast_tx_sync", tx)))).toEqual([]); // not told yet
    p.learn(a.address, 0n);
    const keys = p.check(JSON.stringify(body("broadcast_tx_sync", tx)));
    // The key is the memo key of exactly this (sign doc digest, signature, public key).
    const raw = TxRaw.decode(tx);
    const signDoc = SignDoc.encode({ bodyBytes: raw.bodyBytes, authInfoBytes: raw.authInfoBytes, chainId: CHAIN, accountNumber: 0n }).finish();
    expect(keys).toEqual([Buffer.concat([sha256(signDoc), raw.signatures[0], a.pubkey]).toString("latin1")]);
    expect(keys).toEqual([verifiedKey(raw.signatures[0], signDoc, a.pubkey)]);
  });

  it("reads batches and every broadcast method, and ignores other requests", () => {
    const p = new SignaturePrecheck(CHAIN);
    p.learn(a.address, 0n);
    p.learn(b.address, 1n);
    const batch = [body("broadcast_tx_sync", send(a, b, 0n, 1n), 1), body("broadcast_tx_async", send(b, a, 1n, 1n), 2), body("broadcast_tx_commit", send(a, b, 0n, 2n), 3), body("check_tx", send(a, b, 0n, 3n), 4)];
    expect(p.check(JSON.stringify(batch))).toHaveLength(3);
    expect(p.check(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "status", params: {} }))).toEqual([]);
  });

  it("vouches for nothing it could not verify", () => {
    const p = new SignaturePrecheck(CHAIN);
    p.learn(a.address, 5n); // a stale or wrong account number: a different sign doc
    expect(p.check(JSON.stringify(body("broadcast_tx_sync", send(a, b, 0n, 0n))))).toEqual([]);
    const other = new SignaturePrecheck("another-chain");
    other.learn(a.address, 0n);
    expect(other.check(JSON.stringify(body("broadcast_tx_sync", send(a, b, 0n, 0n))))).toEqual([]);
    // A tampered signature, a tx that is not protobuf, a body that is not JSON.
    const tx = TxRaw.decode(send(a, b, 5n, 0n));
    tx.signatures[0] = Buffer.from(tx.signatures[0]).fill(1, 0, 4);
    expect(p.check(JSON.stringify(body("broadcast_tx_sync", TxRaw.encode(tx).finish())))).toEqual([]);
    expect(p.check(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "broadcast_tx_sync", params: { tx: "bm90IGEgdHg=" } }))).toEqual([]);
    expect(p.check('{"method":"broadcast_tx_sync", nope')).toEqual([]);
  });
});
