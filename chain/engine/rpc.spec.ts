/**
 * The RPC transport in this thread (`createFront`: what a node falls back to when the
 * compiled worker module is absent, as under jest), behind a real node on disk. The
 * worker-thread transport is what the end-to-end tests in test/node run against.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { initHome } from "../node/home";
import { startNode, RunningNode } from "../node/node";
import { defaultAppState } from "../app/modules";
import { silentLogger } from "./log";

describe("RPC over the inline transport", () => {
  let home: string;
  let node: RunningNode;
  let url: string;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "backstop-rpc-"));
    initHome({ home, chainId: "backstop-rpc-1", appState: defaultAppState() });
    node = await startNode({ home, rpcLaddr: "tcp://127.0.0.1:0", blockTimeMs: 100, logger: silentLogger });
    url = `http://127.0.0.1:${node.rpc.port}`;
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("answers JSON-RPC over POST and GET, CORS preflight, wrong methods and oversized bodies", async () => {
    const post = (await (await fetch(url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "status", params: {} }) })).json()) as any;
    expect(post.id).toBe(7);
    expect(post.result.node_info.network).toBe("backstop-rpc-1");
    for (let i = 0; i < 100 && node.engine.height() < 1; i++) await new Promise((r) => setTimeout(r, 50));
    const get = await fetch(`${url}/block?height=1`);
    expect(get.status).toBe(200);
    expect(((await get.json()) as any).result.block.header.height).toBe("1");
    const batch = (await (await fetch(url, { method: "POST", body: JSON.stringify([1, 2].map((id) => ({ jsonrpc: "2.0", id, method: "health" }))) })).json()) as any;
    expect(batch.map((r: { id: number }) => r.id)).toEqual([1, 2]);
    const unknown = await fetch(`${url}/no_such_method`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error.code).toBe(-32601);
    const pre = await fetch(url, { method: "OPTIONS" });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-methods")).toBe("GET, POST");
    expect((await fetch(url, { method: "PUT", body: "x" })).status).toBe(405);
    const big = await fetch(url, { method: "POST", body: "x".repeat(9 * 1024 * 1024) }).catch(() => null);
    if (big) expect(big.status).toBe(413); // or the connection is cut while the body is still being sent
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^backstop_height \d+$/m);
  });

  it("broadcast_tx_commit leaves no waiter behind when CheckTx refuses or throws", async () => {
    const call = async (tx: string) => (await (await fetch(url, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "broadcast_tx_commit", params: { tx } }) })).json()) as any;
    for (let i = 0; i < 20; i++) {
      const refused = await call(Buffer.from(`not a tx ${i}`).toString("base64")); // CheckTx code ≠ 0
      expect(refused.result.check_tx.code).not.toBe(0);
      const thrown = await call(""); // an empty tx: an error before CheckTx
      expect(thrown.error).toBeDefined();
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^backstop_rpc_commit_waiters 0$/m);
  });

  it("pushes NewBlock events to a websocket subscriber", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.rpc.port}/websocket`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const messages: any[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on("message", (d) => {
        messages.push(JSON.parse(d.toString()));
        if (messages.some((m) => m.result?.data?.type === "tendermint/event/NewBlock")) resolve();
      }),
    );
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: { query: "tm.event='NewBlock'" } }));
    await got;
    expect(messages[0]).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
    ws.close();
  });

  it("holds a websocket client to CometBFT's default of 5 subscriptions", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.rpc.port}/websocket`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const answers = new Map<number, any>();
    ws.on("message", (d) => {
      const m = JSON.parse(d.toString());
      if (m.result?.query === undefined) answers.set(m.id, m);
    });
    const queries = ["NewBlock", "NewBlockHeader", "Tx"].map((e) => `tm.event='${e}'`).concat(["message.module='bank'", "tx.height>1", "tx.height>2"]);
    queries.forEach((query, id) => ws.send(JSON.stringify({ jsonrpc: "2.0", id, method: "subscribe", params: { query } })));
    for (let i = 0; i < 100 && answers.size < queries.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect([...answers.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (let id = 0; id < 5; id++) expect(answers.get(id).result).toEqual({});
    expect(answers.get(5).error).toEqual({ code: -32603, message: "Internal error", data: "max_subscriptions_per_client 5 reached" });
    ws.close();
  });

  it("refuses a limit that is not a whole number before opening the home", async () => {
    await expect(startNode({ home, rpcLaddr: "tcp://127.0.0.1:0", rpcLimits: { maxSubscriptionClients: -1 }, logger: silentLogger })).rejects.toThrow(/max_subscription_clients must be a whole number/);
    await expect(startNode({ home, rpcLaddr: "tcp://127.0.0.1:0", rpcLimits: { maxSubscriptionsPerClient: 1.5 }, logger: silentLogger })).rejects.toThrow(/max_subscriptions_per_client must be a whole number/);
  });
});

describe("websocket subscribers that do not read", () => {
  it("are disconnected once their unsent messages pass the limit, instead of being queued without bound", async () => {
    const { createFront } = await import("./rpcfront");
    type P = import("./rpcfront").Peer;
    let peer: P | undefined;
    const front = createFront(1024 * 1024, { request: async () => ({ status: 204, headers: {}, body: "" }), wsOpen: (p) => (peer = p), wsMessage: () => {}, wsGone: () => {} }, { maxWsBuffered: 1024 * 1024 });
    const { port } = await front.listen("127.0.0.1", 0);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/websocket`);
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
      const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
      (ws as unknown as { _socket: { pause(): void } })._socket.pause(); // the client stops reading
      for (let i = 0; i < 100 && !peer; i++) await new Promise((r) => setTimeout(r, 10));
      const chunk = "x".repeat(64 * 1024);
      let sent = 0;
      for (; sent < 1000 && peer!.open; sent++) {
        peer!.send(chunk);
        await new Promise((r) => setImmediate(r));
      }
      expect(peer!.open).toBe(false);
      expect(sent).toBeLessThan(1000); // cut off well before 64 MB were queued
      (ws as unknown as { _socket: { resume(): void } })._socket.resume();
      await closed;
    } finally {
      await front.close();
    }
  });
});
