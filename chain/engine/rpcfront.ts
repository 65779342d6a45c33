/**
 * The RPC's transport: the HTTP server (JSON-RPC over POST, URI requests over GET) and the
 * websocket endpoint at /websocket. It knows nothing of the methods: each HTTP request
 * becomes one `request(method, url, body)` and each websocket message one `wsMessage`, and
 * whatever answers them (`RpcServer`) replies with the status, headers and body to send.
 *
 * A node runs it on a worker thread (`startFrontWorker`): reading requests, parsing HTTP and
 * writing responses — each response is a system call that costs tens of microseconds on a
 * VM — happen on the machine's other core, and the thread that executes blocks and CheckTx
 * only exchanges small messages with it. The worker also verifies the signatures of the
 * txs that requests broadcast (precheck.ts) and passes the verdicts along, so that CheckTx
 * finds them memoised. `createFront` runs the same code, without the pre-check, in the
 * calling thread instead (the fallback, and for embedding).
 */
import http from "node:http";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { WebSocketServer, WebSocket } from "ws";
import { SignaturePrecheck } from "./precheck";

export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A websocket connection as the RPC methods see it. */
export interface Peer {
  send(text: string): void;
  readonly open: boolean;
  terminate(): void;
}

export interface FrontHandlers {
  request(method: string, url: string, body: string | null): Promise<HttpReply>;
  /** Memo keys of signatures the transport verified in a request's txs (precheck.ts), given before the request. */
  preverified?(keys: string[]): void;
  wsOpen(peer: Peer): void;
  wsMessage(peer: Peer, text: string): void;
  wsGone(peer: Peer): void;
}

export interface Front {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  /** Tells the signature pre-check a sender's account number (absent: this front has none). */
  readonly learnAccount?: (address: string, accountNumber: bigint) => void;
}

/** The headers of a JSON reply (replies that carry exactly this object cross threads without it). */
export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ "content-type": "application/json", "access-control-allow-origin": "*" });

const tooLarge: HttpReply = {
  status: 413,
  headers: JSON_HEADERS,
  body: JSON.stringify({ jsonrpc: "2.0", id: -1, error: { code: -32600, message: "Invalid Request", data: "request body too large" } }),
};

function write(res: http.ServerResponse, r: HttpReply): void {
  const payload = Buffer.from(r.body);
  // With its length known the response goes out in one piece, not chunked.
  res.writeHead(r.status, r.status === 204 ? r.headers : { ...r.headers, "content-length": String(payload.length) });
  res.end(r.status === 204 ? undefined : payload);
}

/**
 * A websocket subscriber whose unsent messages pass this many bytes is disconnected: it
 * is not reading, and the node would otherwise queue its events without bound (CometBFT
 * likewise cancels a subscriber that does not pull its messages fast enough).
 */
export const MAX_WS_BUFFERED_BYTES = 16 * 1024 * 1024;

/** The HTTP and websocket server, in this thread. */
export function createFront(maxBody: number, h: FrontHandlers, o: { maxWsBuffered?: number } = {}): Front {
  const maxWsBuffered = o.maxWsBuffered ?? MAX_WS_BUFFERED_BYTES;
  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    if (method !== "POST") {
      req.resume();
      h.request(method, url, null).then((r) => write(res, r));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      if (size > maxBody) return;
      size += c.length;
      if (size > maxBody) {
        write(res, tooLarge);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (size > maxBody) return;
      h.request(method, url, Buffer.concat(chunks).toString()).then((r) => write(res, r));
    });
  });
  server.keepAliveTimeout = 30_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBody });
  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== "/websocket") {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nthe websocket endpoint is /websocket\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const peer: Peer = {
        send: (text) => {
          if (ws.bufferedAmount > maxWsBuffered) ws.terminate(); // too slow: see MAX_WS_BUFFERED_BYTES
          else ws.send(text);
        },
        get open() {
          return ws.readyState === WebSocket.OPEN;
        },
        terminate: () => ws.terminate(),
      };
      h.wsOpen(peer);
      ws.on("message", (data) => h.wsMessage(peer, data.toString()));
      let gone = false;
      const leave = () => {
        if (gone) return;
        gone = true;
        h.wsGone(peer);
      };
      ws.on("close", leave);
      ws.on("error", leave);
    });
  });
  return {
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const a = server.address() as { address: string; port: number };
          resolve({ host: a.address, port: a.port });
        });
      }),
    close: () => {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------
// The worker thread and its messages

/** A reply as it crosses to the worker: id, status, body, and its headers unless they are JSON_HEADERS. */
type WireReply = [id: number, status: number, body: string, headers: Record<string, string> | null];
/** A request as it crosses to the main thread: id, method, url, body (null: not a POST), pre-verified signatures' memo keys. */
type WireRequest = [id: number, method: string, url: string, body: string | null, verified: string[] | null];

type ToWorker =
  | { t: "listen"; host: string; port: number }
  | { t: "replies"; list: WireReply[] }
  | { t: "send"; peer: number; text: string }
  | { t: "terminate"; peer: number }
  | { t: "accounts"; list: [address: string, accountNumber: string][] }
  | { t: "close" };

type FromWorker =
  | { t: "listening"; host: string; port: number }
  | { t: "listenError"; message: string; code?: string }
  | { t: "requests"; list: WireRequest[] }
  | { t: "open"; peer: number }
  | { t: "message"; peer: number; text: string }
  | { t: "gone"; peer: number }
  | { t: "closed" };

/**
 * Runs the front on a worker thread (`file`: this module, compiled); `h` is called in this
 * thread. With a chain id, the worker pre-verifies the signatures of broadcast txs.
 */
export function startFrontWorker(file: string, maxBody: number, h: FrontHandlers, onError: (e: Error) => void, chainId?: string): Front {
  const worker = new Worker(file, { workerData: { backstopRpcFront: true, maxBody, chainId } });
  const peers = new Map<number, Peer & { open: boolean }>();
  let listening: { resolve: (a: { host: string; port: number }) => void; reject: (e: Error) => void } | null = null;
  let closing: (() => void) | null = null;
  const post = (m: ToWorker) => worker.postMessage(m);
  // Replies ready in one turn of the event loop cross in one message.
  let replies: WireReply[] = [];
  const flush = () => {
    const list = replies;
    replies = [];
    post({ t: "replies", list });
  };
  const answer = (id: number, r: HttpReply) => {
    if (replies.length === 0) setImmediate(flush);
    replies.push([id, r.status, r.body, r.headers === JSON_HEADERS ? null : r.headers]);
  };
  worker.on("message", (m: FromWorker) => {
    switch (m.t) {
      case "requests":
        for (const [id, method, url, body, verified] of m.list) {
          if (verified) h.preverified?.(verified);
          h.request(method, url, body).then((r) => answer(id, r));
        }
        return;
      case "open": {
        const peer = {
          open: true,
          send: (text: string) => post({ t: "send", peer: m.peer, text }),
          terminate: () => post({ t: "terminate", peer: m.peer }),
        };
        peers.set(m.peer, peer);
        h.wsOpen(peer);
        return;
      }
      case "message": {
        const peer = peers.get(m.peer);
        if (peer) h.wsMessage(peer, m.text);
        return;
      }
      case "gone": {
        const peer = peers.get(m.peer);
        if (!peer) return;
        peers.delete(m.peer);
        peer.open = false;
        h.wsGone(peer);
        return;
      }
      case "listening":
        listening?.resolve({ host: m.host, port: m.port });
        listening = null;
        return;
      case "listenError":
        listening?.reject(Object.assign(new Error(m.message), { code: m.code }));
        listening = null;
        return;
      case "closed":
        closing?.();
        return;
    }
  });
  worker.on("error", (e) => {
    listening?.reject(e);
    listening = null;
    onError(e);
  });
  worker.on("exit", () => closing?.());
  let accounts: [string, string][] = [];
  const flushAccounts = () => {
    const list = accounts;
    accounts = [];
    post({ t: "accounts", list });
  };
  return {
    learnAccount:
      chainId === undefined
        ? undefined
        : (address, accountNumber) => {
            if (accounts.length === 0) setImmediate(flushAccounts);
            accounts.push([address, accountNumber.toString()]);
          },
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        listening = { resolve, reject };
        post({ t: "listen", host, port });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closing = resolve;
        post({ t: "close" });
      }).then(() => worker.terminate().then(() => undefined)),
  };
}

function runWorker(): void {
  const port = parentPort!;
  const { maxBody, chainId } = workerData as { maxBody: number; chainId?: string };
  const precheck = chainId !== undefined ? new SignaturePrecheck(chainId) : null;
  const post = (m: FromWorker) => port.postMessage(m);
  const waiting = new Map<number, (r: HttpReply) => void>();
  const peers = new Map<number, Peer>();
  const ids = new Map<Peer, number>();
  let nextRequest = 0;
  let nextPeer = 0;
  // Requests read in one turn of the event loop cross in one message.
  let requests: WireRequest[] = [];
  const flush = () => {
    const list = requests;
    requests = [];
    post({ t: "requests", list });
  };
  const front = createFront(maxBody, {
    request(method, url, body) {
      const id = nextRequest++;
      const verified = precheck && body !== null ? precheck.check(body) : [];
      return new Promise<HttpReply>((resolve) => {
        waiting.set(id, resolve);
        if (requests.length === 0) setImmediate(flush);
        requests.push([id, method, url, body, verified.length > 0 ? verified : null]);
      });
    },
    wsOpen(peer) {
      const id = nextPeer++;
      peers.set(id, peer);
      ids.set(peer, id);
      post({ t: "open", peer: id });
    },
    wsMessage(peer, text) {
      post({ t: "message", peer: ids.get(peer)!, text });
    },
    wsGone(peer) {
      const id = ids.get(peer)!;
      ids.delete(peer);
      peers.delete(id);
      post({ t: "gone", peer: id });
    },
  });
  port.on("message", (m: ToWorker) => {
    switch (m.t) {
      case "replies":
        for (const [id, status, body, headers] of m.list) {
          const done = waiting.get(id);
          waiting.delete(id);
          done?.({ status, body, headers: headers ?? JSON_HEADERS });
        }
        return;
      case "send": {
        const peer = peers.get(m.peer);
        if (peer?.open) peer.send(m.text);
        return;
      }
      case "terminate":
        peers.get(m.peer)?.terminate();
        return;
      case "accounts":
        for (const [address, n] of m.list) precheck?.learn(address, BigInt(n));
        return;
      case "listen":
        front.listen(m.host, m.port).then(
          (a) => post({ t: "listening", host: a.host, port: a.port }),
          (e: NodeJS.ErrnoException) => post({ t: "listenError", message: e.message, code: e.code }),
        );
        return;
      case "close":
        front.close().then(() => post({ t: "closed" }));
        return;
    }
  });
}

if (!isMainThread && (workerData as { backstopRpcFront?: boolean } | null)?.backstopRpcFront) runWorker();
