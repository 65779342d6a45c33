/**
 * Transaction checks through the real application: every rejection is a registered
 * error (codespace + code) and changes nothing — neither at CheckTx (a valid tx with
 * the same sequence still passes afterwards) nor at FinalizeBlock (the app hash equals
 * that of a twin fed an empty block).
 */
import { QueryBalanceRequest, QueryBalanceResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";
import { QueryAccountRequest, QueryAccountResponse } from "cosmjs-types/cosmos/auth/v1beta1/query";
import { BaseAccount } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { CheckTxType } from "./abci";
import { BackstopApp } from "./app";
import { initLocalnetApp, msgSend, runBlock, signTx, TestAccount, toHighS, expectOk } from "../../test/util/localnet";

function balance(app: BackstopApp, address: string, denom = "uusdc"): bigint {
  const res = app.query({ path: "/cosmos.bank.v1beta1.Query/Balance", data: QueryBalanceRequest.encode({ address, denom }).finish(), height: 0n, prove: false });
  expect(res.code).toBe(0);
  return BigInt(QueryBalanceResponse.decode(res.value).balance!.amount);
}

function sequence(app: BackstopApp, address: string): bigint {
  const res = app.query({ path: "/cosmos.auth.v1beta1.Query/Account", data: QueryAccountRequest.encode({ address }).finish(), height: 0n, prove: false });
  expect(res.code).toBe(0);
  return BaseAccount.decode(QueryAccountResponse.decode(res.value).account!.value).sequence;
}

describe("transaction checks", () => {
  let app: BackstopApp;
  let twin: BackstopApp;
  let alice: TestAccount;
  let bob: TestAccount;
  let height = 1n;

  beforeAll(async () => {
    const a = await initLocalnetApp();
    app = a.app;
    twin = (await initLocalnetApp()).app;
    [, alice, bob] = a.accounts;
    runBlock(app, height, []);
    runBlock(twin, height, []);
  });

  afterAll(() => {
    app.close();
    twin.close();
  });

  /** alice's account number is 1 (genesis order). */
  const send = (o: Partial<Parameters<typeof signTx>[2]> = {}, amount = "1000") =>
    signTx(alice, [msgSend(alice.address, bob.address, amount)], { accountNumber: 1n, sequence: sequence(app, alice.address), ...o });

  /** Delivers `tx` in a block on `app` and an empty block on its twin; returns the tx result. */
  function deliverAlone(tx: Uint8Array) {
    height++;
    const r = runBlock(app, height, [tx]);
    const t = runBlock(twin, height, []);
    return { result: r.txResults[0], sameHash: Buffer.from(r.appHash).equals(Buffer.from(t.appHash)) };
  }

  function expectRejected(tx: Uint8Array, codespace: string, code: number) {
    const before = { a: balance(app, alice.address), b: balance(app, bob.address), seq: sequence(app, alice.address) };
    const check = app.checkTx({ tx, type: CheckTxType.NEW });
    expect({ codespace: check.codespace, code: check.code }).toEqual({ codespace, code });
    const { result, sameHash } = deliverAlone(tx);
    expect({ codespace: result.codespace, code: result.code }).toEqual({ codespace, code });
    expect(result.log.length).toBeGreaterThan(0);
    expect(sameHash).toBe(true);
    expect({ a: balance(app, alice.address), b: balance(app, bob.address), seq: sequence(app, alice.address) }).toEqual(before);
  }

  it("accepts a valid send: CheckTx, then delivery moves the coins, takes the fee and bumps the sequence", () => {
    const seq = sequence(app, alice.address);
    const a0 = balance(app, alice.address);
    const b0 = balance(app, bob.address);
    const tx = send({}, "1234");
    const check = app.checkTx({ tx, type: CheckTxType.NEW });
    expect(check.code).toBe(0);
    expect(check.gasUsed).toBeGreaterThan(0n);
    height++;
    const r = runBlock(app, height, [tx]);
    runBlock(twin, height, []);
    expectOk(r.txResults[0]);
    const fee = 400_000n * 25n / 10000n + 1n; // the test signer's default gas limit and price
    expect(balance(app, bob.address)).toBe(b0 + 1234n);
    expect(balance(app, alice.address)).toBe(a0 - 1234n - fee);
    expect(sequence(app, alice.address)).toBe(seq + 1n);
    const types = r.txResults[0].events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(["tx", "message", "transfer", "coin_spent", "coin_received"]));
    const message = r.txResults[0].events.find((e) => e.type === "message")!;
    expect(message.attributes).toEqual(expect.arrayContaining([expect.objectContaining({ key: "sender", value: alice.address })]));
    // Re-sync the twin so that later comparisons start from equal states.
    twin.close();
  });

  describe("rejections", () => {
    beforeAll(async () => {
      // A fresh twin that replays the same history as app so far.
      const t = await initLocalnetApp();
      twin = t.app;
      runBlock(twin, 1n, []);
      // Replay block 2 (the valid send) on the twin.
      const tx = signTx(alice, [msgSend(alice.address, bob.address, "1234")], { accountNumber: 1n, sequence: 0n });
      expectOk(runBlock(twin, 2n, [tx]).txResults[0]);
    });

    it("bad signature → sdk/4", () => {
      const tx = Buffer.from(send());
      tx[tx.length - 5] ^= 0xff; // inside the signature, the last field of TxRaw
      expectRejected(tx, "sdk", 4);
    });

    it("wrong chain-id → sdk/4 (the sign doc commits to the chain id)", () => {
      expectRejected(send({ chainId: "other-chain-1" }), "sdk", 4);
    });

    it("wrong sequence → sdk/32", () => {
      expectRejected(send({ sequence: sequence(app, alice.address) + 5n }), "sdk", 32);
    });

    it("replay of a committed tx → sdk/32", () => {
      const tx = send();
      height++;
      expectOk(runBlock(app, height, [tx]).txResults[0]);
      expectOk(runBlock(twin, height, [tx]).txResults[0]);
      expectRejected(tx, "sdk", 32);
    });

    it("high-S signature → sdk/4", () => {
      const tx = toHighS(send());
      const check = app.checkTx({ tx, type: CheckTxType.NEW });
      expect(check.log).toMatch(/lower-S/);
      expectRejected(tx, "sdk", 4);
    });

    it("malformed bytes → sdk/2", () => {
      expectRejected(Buffer.from("definitely not a transaction"), "sdk", 2);
      expectRejected(new Uint8Array(), "sdk", 2);
    });

    it("insufficient fee → sdk/13 at CheckTx; nothing changes", () => {
      const tx = send({ fee: [{ denom: "uusdc", amount: "1" }] });
      const check = app.checkTx({ tx, type: CheckTxType.NEW });
      expect({ codespace: check.codespace, code: check.code }).toEqual({ codespace: "sdk", code: 13 });
      // The same sequence is still free: a proper tx passes CheckTx afterwards.
      expect(app.checkTx({ tx: send(), type: CheckTxType.NEW }).code).toBe(0);
    });

    it("a fee in a denom that is not accepted → sdk/13", () => {
      expectRejected(send({ fee: [{ denom: "uatom", amount: "100000" }] }), "sdk", 13);
    });

    it("unknown recipient format → sdk/7; zero amount → sdk/10", () => {
      const bad = signTx(alice, [msgSend(alice.address, "cosmos1notours", "5")], { accountNumber: 1n, sequence: sequence(app, alice.address) });
      expectRejected(bad, "sdk", 7);
      expectRejected(send({}, "0"), "sdk", 10);
    });

    it("out of gas → sdk/11 (the fee is charged, the message is not executed)", () => {
      const tx = send({ gasLimit: 1000n, fee: [{ denom: "uusdc", amount: "10" }] });
      height++;
      const r = runBlock(app, height, [tx]);
      expect({ codespace: r.txResults[0].codespace, code: r.txResults[0].code }).toEqual({ codespace: "sdk", code: 11 });
      runBlock(twin, height, [tx]);
    });

    it("an unknown Msg type → sdk/6", () => {
      const tx = signTx(alice, [{ typeUrl: "/cosmos.gov.v1.MsgVote", value: new Uint8Array() }], { accountNumber: 1n, sequence: sequence(app, alice.address) });
      expectRejected(tx, "sdk", 6);
    });
  });

  it("a message failing in delivery undoes every message of the tx (the first one's send too) but keeps the fee and the sequence", () => {
    const seq = sequence(app, alice.address);
    const a0 = balance(app, alice.address);
    const b0 = balance(app, bob.address);
    const tx = signTx(alice, [msgSend(alice.address, bob.address, "777"), msgSend(alice.address, bob.address, "99999999999999999")], { accountNumber: 1n, sequence: seq });
    expect(app.checkTx({ tx, type: CheckTxType.NEW }).code).toBe(0); // balances are the messages' business
    height++;
    const r = runBlock(app, height, [tx]);
    expect({ codespace: r.txResults[0].codespace, code: r.txResults[0].code }).toEqual({ codespace: "sdk", code: 5 });
    const fee = 400_000n * 25n / 10000n + 1n; // the test signer's default gas limit and price
    expect(balance(app, bob.address)).toBe(b0);
    expect(balance(app, alice.address)).toBe(a0 - fee);
    expect(sequence(app, alice.address)).toBe(seq + 1n);
    // The result keeps the ante handler's events only.
    const types = new Set(r.txResults[0].events.map((e) => e.type));
    expect(types.has("tx")).toBe(true);
    expect(types.has("message")).toBe(false);
    expect(r.txResults[0].events.some((e) => e.type === "transfer" && e.attributes.some((a) => a.key === "recipient" && a.value === bob.address))).toBe(false);
    // The next sequence is the one expected, at CheckTx and in delivery.
    const next = send({}, "5");
    expect(app.checkTx({ tx: next, type: CheckTxType.NEW }).code).toBe(0);
    height++;
    expectOk(runBlock(app, height, [next]).txResults[0]);
    expect(balance(app, bob.address)).toBe(b0 + 5n);
  });
});
