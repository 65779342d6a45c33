/**
 * Determinism: two fresh applications on disk, fed the same genesis and the same
 * blocks of signed transactions, reach the same app hash at every height; one of
 * them is closed and reopened midway (and resumes from disk) and still agrees.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APP_PROTOCOL_VERSION, BackstopApp } from "../../chain/app/app";
import { openLmdbStore } from "../../chain/store/commit";
import { GENESIS_TIME, initLocalnetApp, msgSend, runBlock, signTx, TestAccount } from "../util/localnet";
import { CheckTxType } from "../../chain/app/abci";

/** A deterministic stream of blocks: account i sends to account (i·3+h) mod 10, some txs failing. */
function makeBlocks(accounts: TestAccount[], n: number): Uint8Array[][] {
  const seq = new Map<string, bigint>();
  const blocks: Uint8Array[][] = [];
  for (let h = 1; h <= n; h++) {
    const txs: Uint8Array[] = [];
    for (let i = 0; i < accounts.length; i++) {
      if ((i + h) % 3 === 0) continue;
      const from = accounts[i];
      const to = accounts[(i * 3 + h) % accounts.length];
      const s = seq.get(from.address) ?? 0n;
      // Every 7th tx overspends and fails in delivery (its fee and sequence still count).
      const amount = (i + h) % 7 === 0 ? "99999999999999999" : String(1000 * h + i);
      txs.push(signTx(from, [msgSend(from.address, to.address, amount)], { accountNumber: BigInt(i), sequence: s }));
      seq.set(from.address, s + 1n);
    }
    blocks.push(txs);
  }
  return blocks;
}

describe("determinism", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "backstop-det-"));
    dirs.push(d);
    return d;
  };

  it("same genesis and blocks → same app hash at every height, across a restart", async () => {
    const dirA = tmp();
    const dirB = tmp();
    const a0 = await initLocalnetApp(dirA);
    let a: BackstopApp = a0.app;
    let b: BackstopApp = (await initLocalnetApp(dirB)).app;
    const blocks = makeBlocks(a0.accounts, 12);

    const hashesA: string[] = [];
    const hashesB: string[] = [];
    let failures = 0;
    for (let h = 1; h <= blocks.length; h++) {
      const ra = runBlock(a, BigInt(h), blocks[h - 1]);
      const rb = runBlock(b, BigInt(h), blocks[h - 1]);
      failures += ra.txResults.filter((r) => r.code !== 0).length;
      expect(ra.txResults.map((r) => r.code)).toEqual(rb.txResults.map((r) => r.code));
      hashesA.push(Buffer.from(ra.appHash).toString("hex"));
      hashesB.push(Buffer.from(rb.appHash).toString("hex"));
      if (h === 6) {
        // Close B and reopen it from disk: it resumes at the committed height and hash.
        b.close();
        b = BackstopApp.open({ dataDir: dirB });
        const info = b.info({ version: "", blockVersion: 0n, p2pVersion: 0n, abciVersion: "" });
        expect(info.lastBlockHeight).toBe(6n);
        expect(Buffer.from(info.lastBlockAppHash).toString("hex")).toBe(hashesA[5]);
      }
    }
    expect(hashesB).toEqual(hashesA);
    expect(new Set(hashesA).size).toBe(hashesA.length); // every block changed the state
    expect(failures).toBeGreaterThan(0); // the stream exercised failing transactions too

    // The exported state of both is identical too.
    expect(b.exportGenesis()).toEqual(a.exportGenesis());
    a.close();
    b.close();
  });
  it("a block executed in steps with CheckTx in between gives the results and app hash of one FinalizeBlock", async () => {
    const { app: whole, accounts } = await initLocalnetApp(tmp());
    const { app: stepped } = await initLocalnetApp(tmp());
    const blocks = makeBlocks(accounts, 6);
    for (let h = 1; h <= blocks.length; h++) {
      const txs = blocks[h - 1];
      const a = runBlock(whole, BigInt(h), txs);
      const req = { txs, decidedLastCommit: { round: 0, votes: [] }, misbehavior: [], hash: new Uint8Array(32), height: BigInt(h), time: { seconds: GENESIS_TIME + BigInt(h), nanos: 0 }, nextValidatorsHash: new Uint8Array(32), proposerAddress: new Uint8Array(20) };
      const run = stepped.beginFinalizeBlock(req);
      let checks = 0;
      while (!run.done) {
        run.step(2);
        // The mempool's work between steps: CheckTx of the next block's txs against the check state.
        for (const tx of blocks[h] ?? []) if (stepped.checkTx({ tx, type: CheckTxType.NEW }).code === 0) checks++;
      }
      const b = run.finish();
      stepped.commit();
      expect(Buffer.from(b.appHash).toString("hex")).toBe(Buffer.from(a.appHash).toString("hex"));
      expect(b.txResults.map((r) => [r.code, r.gasUsed, r.events.length])).toEqual(a.txResults.map((r) => [r.code, r.gasUsed, r.events.length]));
      if (h < blocks.length) expect(checks).toBeGreaterThan(0);
    }
    whole.close();
    stepped.close();
  });

  it("records its protocol version at genesis and refuses to open state of another version", async () => {
    const dir = tmp();
    const { app } = await initLocalnetApp(dir);
    runBlock(app, 1n, []);
    const info = app.info({ version: "", blockVersion: 0n, p2pVersion: 0n, abciVersion: "" });
    expect(info.appVersion).toBe(APP_PROTOCOL_VERSION);
    app.close();
    // The same home, as a build of version 1 left it: the version record says 1.
    const store = openLmdbStore(dir);
    const v1 = Buffer.alloc(8);
    v1.writeBigUInt64BE(1n);
    const appHash = store.stage([[Buffer.concat([Buffer.of(0x00), Buffer.from("protocol_version")]), v1]]);
    store.commit(2n, appHash);
    store.close();
    expect(() => BackstopApp.open({ dataDir: dir })).toThrow(`the state was written by protocol version 1; this build runs version ${APP_PROTOCOL_VERSION}`);
    // Refused, not changed: put the record back and it opens at the same height.
    const again = openLmdbStore(dir);
    const current = Buffer.alloc(8);
    current.writeBigUInt64BE(APP_PROTOCOL_VERSION);
    again.commit(3n, again.stage([[Buffer.concat([Buffer.of(0x00), Buffer.from("protocol_version")]), current]]));
    again.close();
    const reopened = BackstopApp.open({ dataDir: dir });
    expect(reopened.info({ version: "", blockVersion: 0n, p2pVersion: 0n, abciVersion: "" }).lastBlockHeight).toBe(3n);
    reopened.close();
  });
});
