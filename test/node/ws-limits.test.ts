/**
 * The RPC's limits on websocket subscriptions, as CometBFT's [rpc] max_subscription_clients
 * and max_subscriptions_per_client, against a spawned node started with small ones: the
 * subscription past either limit is refused with CometBFT's error while the subscribers
 * keep their events, and a slot freed by unsubscribing or disconnecting is taken again.
 * Also abci_query's errors through the RPC: registered codespaces for bad data.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WebSocket } from "ws";
import { NODE_V8_FLAGS } from "../../chain/node/v8flags";
import { BIN, NodeProcess, ROOT, rpcCall, spawnLocalnet, tempHome } from "../util/node";

/** A websocket client: calls answered by id, and the events of each subscription counted. */
class WsClient {
  private nextId = 100;
  private readonly waiting = new Map<number, (m: any) => void>();
  /** Events received, by the id of the subscribe call that asked for them. */
  readonly events = new Map<number, number>();
  readonly closed: Promise<void>;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (d) => {
      const m = JSON.parse(d.toString());
      if (m.result?.query !== undefined) this.events.set(m.id, (this.events.get(m.id) ?? 0) + 1);
      else this.waiting.get(m.id)?.(m);
    });
    this.closed = new Promise((resolve) => ws.once("close", () => resolve()));
  }

  static async open(port: number): Promise<WsClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/websocket`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return new WsClient(ws);
  }

  /** Sends one call; resolves with its id and the whole response. */
  call(method: string, params: Record<string, unknown> = {}): Promise<{ id: number; res: any }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${method}`)), 5_000);
      this.waiting.set(id, (res) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve({ id, res });
      });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  subscribe(query: string) {
    return this.call("subscribe", { query });
  }

  close(): Promise<void> {
    this.ws.close();
    return this.closed;
  }
}

const refusal = (data: string) => ({ code: -32603, message: "Internal error", data });
const NEW_BLOCK = "tm.event='NewBlock'";

async function until(f: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !(await f()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("websocket subscription limits", () => {
  let node: NodeProcess;
  const clients: WsClient[] = [];
  const client = async () => {
    const c = await WsClient.open(node.port);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    node = await spawnLocalnet({ blockTime: "100ms", extra: ["--rpc.max-subscription-clients", "2", "--rpc.max-subscriptions-per-client", "2"] });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await node?.stop();
    rmSync(node.home, { recursive: true, force: true });
  });

  it("refuses the subscription past either limit, keeps the others' events flowing, and frees slots", async () => {
    const [a, b, c] = [await client(), await client(), await client()];

    // Per client: two subscriptions, and the third is refused.
    const aBlocks = await a.subscribe(NEW_BLOCK);
    expect(aBlocks.res).toEqual({ jsonrpc: "2.0", id: aBlocks.id, result: {} });
    expect((await a.subscribe("tm.event='NewBlockHeader'")).res.result).toEqual({});
    const third = await a.subscribe("tm.event='Tx'");
    expect(third.res).toEqual({ jsonrpc: "2.0", id: third.id, error: refusal("max_subscriptions_per_client 2 reached") });

    // Clients: a connection counts once it subscribes; a and b fill the two slots, c is refused.
    const bBlocks = await b.subscribe(NEW_BLOCK);
    expect(bBlocks.res.result).toEqual({});
    const refused = await c.subscribe(NEW_BLOCK);
    expect(refused.res.error).toEqual(refusal("max_subscription_clients 2 reached"));
    // A refused connection stays open and answers other calls.
    expect((await c.call("health")).res.result).toEqual({});

    // The subscribers keep receiving blocks; the refused subscriptions receive nothing.
    const [a0, b0] = [a.events.get(aBlocks.id) ?? 0, b.events.get(bBlocks.id) ?? 0];
    await until(() => (a.events.get(aBlocks.id) ?? 0) >= a0 + 3 && (b.events.get(bBlocks.id) ?? 0) >= b0 + 3, "NewBlock events for a and b");
    expect(a.events.get(third.id)).toBeUndefined();
    expect(c.events.get(refused.id)).toBeUndefined();

    // Unsubscribing frees a subscription slot of the client...
    expect((await a.call("unsubscribe", { query: "tm.event='NewBlockHeader'" })).res.result).toEqual({});
    expect((await a.subscribe("tm.event='Tx'")).res.result).toEqual({});

    // ...and a client that disconnects frees its client slot (once the node has seen it go).
    await b.close();
    let cBlocks = 0;
    await until(async () => {
      const r = await c.subscribe(NEW_BLOCK);
      if (r.res.error) expect(r.res.error).toEqual(refusal("max_subscription_clients 2 reached"));
      else cBlocks = r.id;
      return !r.res.error;
    }, "b's slot to be freed");
    await until(() => (c.events.get(cBlocks) ?? 0) >= 2, "NewBlock events for c");

    // A client that unsubscribes from everything frees its client slot too.
    const d = await client();
    expect((await d.subscribe(NEW_BLOCK)).res.error).toEqual(refusal("max_subscription_clients 2 reached"));
    expect((await a.call("unsubscribe_all")).res.result).toEqual({});
    const dBlocks = await d.subscribe(NEW_BLOCK);
    expect(dBlocks.res.result).toEqual({});
    await until(() => (d.events.get(dBlocks.id) ?? 0) >= 2, "NewBlock events for d");
    // And a, now holding nothing, is a new client again: refused while c and d hold the slots.
    expect((await a.subscribe(NEW_BLOCK)).res.error).toEqual(refusal("max_subscription_clients 2 reached"));
  });

  it("answers abci_query with bad data or an unknown path with a registered codespace and code", async () => {
    const query = async (path: string, data: string) => (await rpcCall(node.rpc, "abci_query", { path, data })).result.response;
    const garbage = await query("/backstop.clearing.v1.Query/Market", "0a0561"); // a string field cut short
    expect([garbage.codespace, garbage.code]).toEqual(["sdk", 18]);
    expect(garbage.log).toMatch(/invalid request$/);
    const bank = await query("/cosmos.bank.v1beta1.Query/Balance", "ffffffff");
    expect([bank.codespace, bank.code]).toEqual(["sdk", 18]);
    const unknown = await query("/backstop.clearing.v1.Query/NoSuchMethod", "");
    expect([unknown.codespace, unknown.code]).toEqual(["sdk", 6]);
    const ok = await query("/backstop.clearing.v1.Query/Markets", "");
    expect([ok.codespace, ok.code]).toEqual(["", 0]);
  });

  it("refuses a malformed limit before localnet touches its home", () => {
    const home = tempHome();
    try {
      mkdirSync(join(home, "config"));
      writeFileSync(join(home, "config", "genesis.json"), "{}");
      for (const bad of ["-1", "many", "2.5"]) {
        const r = spawnSync(process.execPath, [...NODE_V8_FLAGS, BIN, "localnet", "--home", home, "--rpc.max-subscriptions-per-client", bad], { cwd: ROOT, encoding: "utf8", timeout: 15_000 });
        expect(r.status).toBe(2);
        expect(r.stderr).toContain(`invalid --rpc.max-subscriptions-per-client ${bad}`);
      }
      expect(existsSync(join(home, "config", "genesis.json"))).toBe(true);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
