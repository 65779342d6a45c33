/**
 * End to end: the real node process, driven by unmodified CosmJS
 * (StargateClient, SigningStargateClient, Comet38Client).
 */
import { StargateClient, SigningStargateClient, GasPrice, QueryClient, setupBankExtension } from "@cosmjs/stargate";
import { Comet38Client } from "@cosmjs/tendermint-rpc";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { stringToPath } from "@cosmjs/crypto";
import { toBech32 } from "@cosmjs/encoding";
import { rmSync } from "node:fs";
import { LOCALNET_MNEMONIC } from "../../chain/app/genesis";
import { NodeProcess, spawnLocalnet } from "../util/node";

const wallet = (i: number) => DirectSecp256k1HdWallet.fromMnemonic(LOCALNET_MNEMONIC, { prefix: "backstop", hdPaths: [stringToPath(`m/44'/118'/0'/0/${i}`)] });

describe("CosmJS against the node", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await spawnLocalnet({ blockTime: "300ms" });
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(node.home, { recursive: true, force: true });
  });

  it("StargateClient reads chain id, height, accounts and balances", async () => {
    const client = await StargateClient.connect(node.rpc);
    expect(await client.getChainId()).toBe("backstop-local-1");
    expect(await client.getHeight()).toBeGreaterThanOrEqual(1);
    const [alice] = await (await wallet(1)).getAccounts();
    const acc = await client.getAccount(alice.address);
    expect(acc).toMatchObject({ address: alice.address, accountNumber: 1n, sequence: 0 });
    expect(await client.getBalance(alice.address, "uusdc")).toEqual({ denom: "uusdc", amount: "10000000000000" });
    expect(await client.getAllBalances(alice.address)).toEqual([
      { denom: "ustake", amount: "1000000000" },
      { denom: "uusdc", amount: "10000000000000" },
    ]);
    expect(await client.getAccount(toBech32("backstop", new Uint8Array(20)))).toBeNull();
    client.disconnect();
    // The bank extension's denom metadata: uusdc has 6 decimals (SPEC §2).
    const comet = await Comet38Client.connect(node.rpc);
    const q = QueryClient.withExtensions(comet, setupBankExtension);
    const usdc = await q.bank.denomMetadata("uusdc");
    expect(usdc).toMatchObject({ base: "uusdc", display: "usdc", symbol: "USDC" });
    expect(usdc.denomUnits.find((u) => u.denom === "usdc")?.exponent).toBe(6);
    expect((await q.bank.denomsMetadata()).map((m) => m.base)).toEqual(["uusdc", "ustake"]);
    await expect(q.bank.denomMetadata("uatom")).rejects.toThrow(/not found/);
    comet.disconnect();
  });

  it("SigningStargateClient sends tokens with fee auto; getTx, searchTx and getBlock find it; Comet38Client streams blocks and txs", async () => {
    const w = await wallet(2);
    const [bob] = await w.getAccounts();
    const [carol] = await (await wallet(3)).getAccounts();
    const comet = await Comet38Client.connect(node.rpc.replace("http", "ws")) // CosmJS appends /websocket;
    const blocks: number[] = [];
    const txs: string[] = [];
    const blockSub = comet.subscribeNewBlock().subscribe({ next: (b) => blocks.push(b.header.height), error: () => {}, complete: () => {} });
    const txSub = comet.subscribeTx(`message.sender='${bob.address}'`).subscribe({ next: (t) => txs.push(Buffer.from(t.hash).toString("hex").toUpperCase()), error: () => {}, complete: () => {} });

    const signer = await SigningStargateClient.connectWithSigner(node.rpc, w, { gasPrice: GasPrice.fromString("0.025uusdc") });
    const before = await signer.getBalance(carol.address, "uusdc");
    const res = await signer.sendTokens(bob.address, carol.address, [{ denom: "uusdc", amount: "123456" }], "auto", "e2e");
    expect(res.rawLog ?? "").toBe("");
    expect(res.code).toBe(0);
    expect(res.gasUsed).toBeGreaterThan(0n);
    expect(BigInt((await signer.getBalance(carol.address, "uusdc")).amount)).toBe(BigInt(before.amount) + 123456n);

    const got = await signer.getTx(res.transactionHash);
    expect(got).toMatchObject({ hash: res.transactionHash, height: res.height, code: 0 });
    const found = await signer.searchTx(`message.sender='${bob.address}'`);
    expect(found.map((t) => t.hash)).toContain(res.transactionHash);
    const byArray = await signer.searchTx([{ key: "transfer.recipient", value: carol.address }]);
    expect(byArray.map((t) => t.hash)).toContain(res.transactionHash);

    const block = await signer.getBlock(res.height);
    expect(block.header.height).toBe(res.height);
    expect(block.header.chainId).toBe("backstop-local-1");
    expect(block.txs.length).toBeGreaterThanOrEqual(1);

    // Wait for the streams to deliver.
    for (let i = 0; i < 50 && (blocks.length < 2 || txs.length < 1); i++) await new Promise((r) => setTimeout(r, 100));
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks[1]).toBe(blocks[0] + 1);
    expect(txs).toContain(res.transactionHash);
    blockSub.unsubscribe();
    txSub.unsubscribe();
    comet.disconnect();
    signer.disconnect();
  });

  it("a failing tx reports the chain's code and codespace through CosmJS", async () => {
    const w = await wallet(4);
    const [dave] = await w.getAccounts();
    const signer = await SigningStargateClient.connectWithSigner(node.rpc, w, { gasPrice: GasPrice.fromString("0.025uusdc") });
    // Overspending passes CheckTx (the ante handler) and fails in delivery with sdk/5.
    const res = await signer.sendTokens(dave.address, dave.address.replace(/.$/, "q"), [{ denom: "uusdc", amount: "1" }], { amount: [{ denom: "uusdc", amount: "5000" }], gas: "200000" }).catch((e: Error) => e);
    // An invalid recipient checksum fails at CheckTx: CosmJS throws a BroadcastTxError carrying the code.
    expect(res).toBeInstanceOf(Error);
    expect((res as Error & { code?: number; codespace?: string }).code).toBe(7);
    expect((res as Error & { codespace?: string }).codespace).toBe("sdk");
    signer.disconnect();
  });
});
