/**
 * The SDK's event stream against a spawned node: it delivers each event once, in height
 * order, across a node restart (the drop is reported and the blocks committed meanwhile
 * are read when the connection is back), and after `stop()` nothing keeps the process
 * alive.
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer, Socket } from "node:net";
import { WebSocketServer } from "ws";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { stringToPath } from "@cosmjs/crypto";
import { LOCALNET_MNEMONIC } from "../../chain/app/genesis";
import { Dec } from "../../chain/math/decimal";
import { BackstopClient, BackstopEvent, streamEvents } from "../../client/src";
import { NodeProcess, ROOT, spawnLocalnet } from "../util/node";

type Seen = BackstopEvent & { height: number };

describe("streamEvents", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await spawnLocalnet({ blockTime: "200ms" });
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(node.home, { recursive: true, force: true });
  });

  const feeder = async () => {
    const wallet = await DirectSecp256k1HdWallet.fromMnemonic(LOCALNET_MNEMONIC, { prefix: "backstop", hdPaths: [stringToPath("m/44'/118'/0'/0/8")] });
    return BackstopClient.connect(node.rpc, wallet);
  };
  const waitFor = async (f: () => boolean, what: string, ms = 20_000) => {
    for (const end = Date.now() + ms; !f(); ) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  /**
   * A process that streams from `endpoint`, says "ready", and on a line on its stdin stops
   * the stream and says whether it had seen an error; `stop()` sends the line and resolves
   * with its exit code, or "timeout" if it has not exited 5 s later (below the stream's
   * 10 s subscribe and request timeouts).
   */
  const streamingChild = (endpoint: string) => {
    const sdk = JSON.stringify(join(ROOT, "dist", "client", "src"));
    const script = `
      const { streamEvents } = require(${sdk});
      (async () => {
        const errors = [];
        const stream = await streamEvents(${JSON.stringify(endpoint)}, () => {}, (e) => errors.push(e));
        process.stdout.write("ready\\n");
        process.stdin.once("data", () => {
          process.stdin.destroy();
          stream.stop();
          console.log("stopped after " + (errors.length > 0 ? "an error" : "none"));
        });
      })();`;
    const child = spawn(process.execPath, ["-e", script], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return {
      output: () => out,
      stop: () => {
        child.stdin.write("stop\n");
        return Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000))]);
      },
      kill: () => child.kill("SIGKILL"),
    };
  };

  it("delivers every event once and in height order across a node restart, reporting the drop", async () => {
    const seen: Seen[] = [];
    const errors: unknown[] = [];
    const stream = await streamEvents(node.rpc.replace("http", "ws"), (e) => seen.push(e), (e) => errors.push(e));
    const prices = (): string[] => seen.filter((e): e is Extract<Seen, { kind: "price" }> => e.kind === "price" && e.ticker === "ETH-USD").map((e) => e.price);
    let oracle = await feeder();
    const pushed: string[] = [];
    try {
      for (const p of ["3001", "3002"]) {
        expect((await oracle.submitPrice("ETH-USD", p)).code).toBe(0);
        pushed.push(Dec.parse(p).toString());
      }
      await waitFor(() => prices().length === 2, "the first two prices");
      oracle.disconnect();

      // The node dies and comes back on the same home and port; prices pushed right
      // after the restart land in blocks the stream may not have been connected for.
      await node.kill();
      node = await spawnLocalnet({ home: node.home, port: node.port, blockTime: "200ms" });
      oracle = await feeder();
      for (const p of ["3003", "3004", "3005"]) {
        expect((await oracle.submitPrice("ETH-USD", p)).code).toBe(0);
        pushed.push(Dec.parse(p).toString());
      }
      await waitFor(() => prices().length >= 5, "the prices pushed after the restart");
      await new Promise((r) => setTimeout(r, 500)); // a repeat would arrive by now
      expect(prices()).toEqual(pushed);
      const heights = seen.map((e) => e.height);
      expect(heights).toEqual([...heights].sort((a, b) => a - b));
      expect(errors.length).toBeGreaterThan(0); // the drop was reported
    } finally {
      stream.stop();
      oracle.disconnect();
    }
  });

  it("stop() leaves nothing running: a script that streams and stops exits by itself", () => {
    const sdk = JSON.stringify(join(ROOT, "dist", "client", "src"));
    const script = `
      const { streamEvents } = require(${sdk});
      (async () => {
        const stream = await streamEvents(${JSON.stringify(node.rpc.replace("http", "ws"))}, () => {});
        await new Promise((r) => setTimeout(r, 600)); // a few blocks
        stream.stop();
        console.log("stopped");
      })();`;
    const started = Date.now();
    const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, timeout: 20_000 });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().trim()).toBe("stopped");
    expect(r.status).toBe(0); // killed by the timeout, it would be null
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("stop() while reconnecting to a node that accepts and never answers leaves nothing running", async () => {
    const other = await spawnLocalnet({ blockTime: "200ms" });
    const hung: Socket[] = [];
    const hang = createServer((sock) => hung.push(sock)); // the websocket handshake never completes
    const child = streamingChild(other.rpc.replace("http", "ws"));
    try {
      await waitFor(() => child.output().includes("ready"), "the stream to start");
      await other.kill();
      await new Promise<void>((resolve) => hang.listen(other.port, "127.0.0.1", () => resolve()));
      await waitFor(() => hung.length > 0, "a reconnection attempt on the hanging server");
      expect(await child.stop()).toBe(0); // while that attempt is still connecting
      expect(child.output()).toContain("stopped after an error");
    } finally {
      child.kill();
      for (const sock of hung) sock.destroy();
      hang.close();
      rmSync(other.home, { recursive: true, force: true });
    }
  });

  it("stop() while a block's results are being read from a node that never answers leaves nothing running", async () => {
    // A node that subscribes the stream and announces a block, then never answers HTTP.
    const server = createHttpServer(() => {
      /* every request hangs */
    });
    const wss = new WebSocketServer({ server, path: "/websocket" });
    wss.on("connection", (ws) =>
      ws.on("message", (m) => {
        const req = JSON.parse(m.toString());
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: req.id, result: {} }));
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: `${req.id}#event`, result: { query: "tm.event='NewBlockHeader'", data: { type: "tendermint/event/NewBlockHeader", value: { header: { height: "7" } } } } }));
      }),
    );
    let requests = 0;
    server.on("request", () => requests++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as { port: number }).port;
    const child = streamingChild(`ws://127.0.0.1:${port}`);
    try {
      await waitFor(() => child.output().includes("ready") && requests > 0, "the stream to ask for block 7's results");
      expect(await child.stop()).toBe(0);
    } finally {
      child.kill();
      wss.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
