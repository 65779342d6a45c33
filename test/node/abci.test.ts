/**
 * The ABCI socket server, driven as a CometBFT 0.38 node drives it: four TCP
 * connections (consensus, mempool, query, snapshot), each carrying `Request` messages
 * framed by an unsigned-varint length, answered in order. The app hashes it returns must
 * equal those of an in-process application fed the same blocks through the same calls
 * the built-in engine makes.
 */
import { execFileSync, spawn, ChildProcess } from "node:child_process";
import net from "node:net";
import { rmSync } from "node:fs";
import { Request, Response } from "cosmjs-types/tendermint/abci/types";
import type { DeepPartial } from "cosmjs-types/helpers";
import { QueryBalanceRequest, QueryBalanceResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";
import { encodeFrame, readFrames } from "../../chain/abci/server";
import { LOCALNET_CHAIN_ID } from "../../chain/app/genesis";
import { GENESIS_TIME, initLocalnetApp, msgSend, runBlock, signTx } from "../util/localnet";
import { BIN, ROOT, ensureBuilt, freePort, tempHome } from "../util/node";

/** One ABCI connection: send requests, read responses in order. */
class AbciConn {
  private buf = Buffer.alloc(0);
  private waiting: ((r: Response) => void)[] = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (d: Buffer) => {
      const { frames, rest } = readFrames(Buffer.concat([this.buf, d]));
      this.buf = Buffer.from(rest);
      for (const f of frames) this.waiting.shift()!(Response.decode(f));
    });
  }
  static open(port: number): Promise<AbciConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new AbciConn(s)));
      s.once("error", reject);
    });
  }
  /** Writes the requests and a Flush (as CometBFT's socket client does) and returns the answers. */
  async call(...reqs: DeepPartial<Request>[]): Promise<Response[]> {
    const all = [...reqs.map((r) => Request.fromPartial(r)), Request.fromPartial({ flush: {} })];
    const answers = all.map(() => new Promise<Response>((resolve) => this.waiting.push(resolve)));
    this.sock.write(Buffer.concat(all.map((r) => encodeFrame(Request.encode(r).finish()))));
    const res = await Promise.all(answers);
    expect(res[res.length - 1].flush).toBeDefined();
    return res.slice(0, -1);
  }
  writeRaw(b: Buffer): void {
    this.sock.write(b);
  }
  nextRaw(): Promise<Response> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  closed(): Promise<void> {
    return new Promise((resolve) => (this.sock.destroyed ? resolve() : this.sock.once("close", () => resolve())));
  }
  close(): void {
    this.sock.destroy();
  }
}

describe("ABCI socket server", () => {
  let proc: ChildProcess;
  let home: string;
  let port: number;
  beforeAll(async () => {
    ensureBuilt();
    home = tempHome("backstop-abci-");
    execFileSync(process.execPath, [BIN, "init", "--home", home, "--localnet"], { cwd: ROOT, stdio: "pipe" });
    port = await freePort();
    proc = spawn(process.execPath, [BIN, "start", "--home", home, "--abci", `tcp://127.0.0.1:${port}`], { cwd: ROOT, stdio: "pipe" });
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((r) => net.connect(port, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); r(true); }).once("error", () => r(false)));
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("ABCI server did not start");
  });
  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    }
    rmSync(home, { recursive: true, force: true });
  });

  it("serves Info, InitChain, CheckTx, FinalizeBlock, Commit and Query on separate connections with the engine's app hashes", async () => {
    const [consensus, mempool, query, snapshot] = await Promise.all([port, port, port, port].map((p) => AbciConn.open(p)));
    const [echo] = await query.call({ echo: { message: "hello" } });
    expect(echo.echo?.message).toBe("hello");
    const [info] = await query.call({ info: { version: "0.38.17", blockVersion: 11n, p2pVersion: 8n, abciVersion: "2.0.0" } });
    expect(info.info?.lastBlockHeight).toBe(0n);
    const [snaps] = await snapshot.call({ listSnapshots: {} });
    expect(snaps.listSnapshots?.snapshots).toEqual([]);

    // The reference: an in-process application, as the built-in engine runs it.
    const { app: ref, accounts, genesisBytes } = await initLocalnetApp();
    const [init] = await consensus.call({
      initChain: { time: { seconds: GENESIS_TIME, nanos: 0 }, chainId: LOCALNET_CHAIN_ID, validators: [], appStateBytes: genesisBytes, initialHeight: 1n },
    });
    expect(init.initChain).toBeDefined();

    const [alice, bob] = [accounts[1], accounts[2]];
    for (let h = 1n; h <= 3n; h++) {
      const tx = signTx(alice, [msgSend(alice.address, bob.address, String(1000n * h))], { accountNumber: 1n, sequence: h - 1n });
      const [check] = await mempool.call({ checkTx: { tx, type: 0 } });
      expect(check.checkTx?.code).toBe(0);
      const block = { txs: [tx], decidedLastCommit: { round: 0, votes: [] }, misbehavior: [], hash: new Uint8Array(32), height: h, time: { seconds: GENESIS_TIME + h, nanos: 0 }, nextValidatorsHash: new Uint8Array(32), proposerAddress: new Uint8Array(20) };
      const [fin] = await consensus.call({ finalizeBlock: block });
      const [commit] = await consensus.call({ commit: {} });
      expect(commit.commit).toBeDefined();
      const want = runBlock(ref, h, [tx]);
      expect(fin.finalizeBlock?.txResults.map((r) => r.code)).toEqual([0]);
      expect(Buffer.from(fin.finalizeBlock!.appHash).toString("hex")).toBe(Buffer.from(want.appHash).toString("hex"));
    }
    ref.close();

    const [info2] = await query.call({ info: {} });
    expect(info2.info?.lastBlockHeight).toBe(3n);
    const [bal] = await query.call({ query: { path: "/cosmos.bank.v1beta1.Query/Balance", data: QueryBalanceRequest.encode({ address: bob.address, denom: "uusdc" }).finish(), height: 0n, prove: false } });
    expect(bal.query?.code).toBe(0);
    expect(QueryBalanceResponse.decode(bal.query!.value).balance?.amount).toBe(String(10_000_000_000_000n + 6000n));

    // A garbage frame gets an exception and closes only that connection.
    const bad = await AbciConn.open(port);
    const exc = bad.nextRaw();
    bad.writeRaw(Buffer.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect((await exc).exception?.error).toMatch(/cannot decode/);
    await bad.closed();
    const [echo2] = await query.call({ echo: { message: "still here" } });
    expect(echo2.echo?.message).toBe("still here");

    for (const c of [consensus, mempool, query, snapshot]) c.close();
  });
});
