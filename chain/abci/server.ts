/**
 * The ABCI socket server: how a real CometBFT 0.38 node runs the application.
 *
 * CometBFT opens several connections (consensus, mempool, query, snapshot) and writes
 * `tendermint.abci.Request` messages, each prefixed with its length as a protobuf
 * unsigned varint; the application answers each with a `Response`, in order. Requests
 * from every connection go through one queue, so the synchronous application sees one
 * request at a time. A malformed frame answers `exception` and closes that connection;
 * other connections keep working.
 */
import net from "node:net";
import { existsSync, unlinkSync } from "node:fs";
import { Request, Response, ResponseOfferSnapshot_Result, ResponseApplySnapshotChunk_Result, ResponseVerifyVoteExtension_VerifyStatus } from "cosmjs-types/tendermint/abci/types";
import { AbciApplication } from "../app/abci";

export interface AbciServer {
  readonly address: string;
  close(): Promise<void>;
}

export type AbciAddress = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

export function parseAbciAddress(address: string): AbciAddress {
  let m = /^tcp:\/\/([^:/]+):(\d+)$/.exec(address);
  if (m) return { kind: "tcp", host: m[1], port: Number(m[2]) };
  m = /^unix:\/\/(\/.+)$/.exec(address);
  if (m) return { kind: "unix", path: m[1] };
  throw new Error(`invalid ABCI address ${address} (expected tcp://HOST:PORT or unix:///PATH)`);
}

/** Max frame size accepted (CometBFT's default max message size is 100 MiB). */
const MAX_FRAME = 100 * 1024 * 1024;

export function encodeFrame(message: Uint8Array): Buffer {
  const len: number[] = [];
  let n = message.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from(len), message]);
}

/** Reads frames out of a growing buffer: returns the complete frames and the rest. */
export function readFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let off = 0;
  for (;;) {
    let len = 0;
    let shift = 0;
    let i = off;
    let complete = false;
    while (i < buf.length) {
      const b = buf[i++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
      if (shift > 35) throw new Error("frame length varint too long");
    }
    if (!complete) break;
    if (len > MAX_FRAME) throw new Error(`frame of ${len} bytes exceeds the maximum ${MAX_FRAME}`);
    if (buf.length - i < len) break;
    frames.push(buf.subarray(i, i + len));
    off = i + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Answers one request with the application. */
export function dispatch(app: AbciApplication, req: Request): Response {
  const r = Response.fromPartial({});
  if (req.echo) r.echo = { message: req.echo.message };
  else if (req.flush) r.flush = {};
  else if (req.info) r.info = app.info(req.info);
  else if (req.initChain) r.initChain = app.initChain(req.initChain);
  else if (req.query) r.query = app.query(req.query);
  else if (req.checkTx) r.checkTx = app.checkTx(req.checkTx);
  else if (req.commit) r.commit = app.commit();
  else if (req.prepareProposal) r.prepareProposal = app.prepareProposal(req.prepareProposal);
  else if (req.processProposal) r.processProposal = app.processProposal(req.processProposal);
  else if (req.finalizeBlock) r.finalizeBlock = app.finalizeBlock(req.finalizeBlock);
  else if (req.extendVote) r.extendVote = { voteExtension: new Uint8Array() };
  else if (req.verifyVoteExtension) r.verifyVoteExtension = { status: ResponseVerifyVoteExtension_VerifyStatus.ACCEPT };
  else if (req.listSnapshots) r.listSnapshots = { snapshots: [] };
  else if (req.offerSnapshot) r.offerSnapshot = { result: ResponseOfferSnapshot_Result.REJECT };
  else if (req.loadSnapshotChunk) r.loadSnapshotChunk = { chunk: new Uint8Array() };
  else if (req.applySnapshotChunk) r.applySnapshotChunk = { result: ResponseApplySnapshotChunk_Result.ABORT, refetchChunks: [], rejectSenders: [] };
  else r.exception = { error: "unknown request" };
  return r;
}

export function serveAbci(app: AbciApplication, address: string, log: (o: object) => void = () => {}): Promise<AbciServer> {
  const addr = parseAbciAddress(address);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    const out: Buffer[] = [];
    const flush = () => {
      if (out.length) socket.write(Buffer.concat(out.splice(0)));
    };
    socket.on("data", (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        const r = readFrames(pending.length ? Buffer.concat([pending, chunk]) : chunk);
        frames = r.frames;
        pending = Buffer.from(r.rest);
      } catch (e) {
        out.push(encodeFrame(Response.encode(Response.fromPartial({ exception: { error: `malformed frame: ${(e as Error).message}` } })).finish()));
        flush();
        socket.end();
        return;
      }
      // The app is synchronous: each frame is answered in order, before any other
      // connection's data is processed (Node runs one 'data' handler at a time).
      for (const f of frames) {
        let req: Request;
        try {
          req = Request.decode(f);
        } catch (e) {
          out.push(encodeFrame(Response.encode(Response.fromPartial({ exception: { error: `cannot decode request: ${(e as Error).message}` } })).finish()));
          flush();
          socket.end();
          return;
        }
        let res: Response;
        try {
          res = dispatch(app, req);
        } catch (e) {
          log({ msg: "application error", error: (e as Error).message });
          res = Response.fromPartial({ exception: { error: (e as Error).message } });
        }
        out.push(encodeFrame(Response.encode(res).finish()));
        if (req.flush || res.exception) flush();
      }
      // Answer promptly even if the client does not send Flush.
      flush();
    });
    socket.on("error", (e) => log({ msg: "connection error", error: e.message }));
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () =>
      resolve({
        address: addr.kind === "tcp" ? `tcp://${addr.host}:${(server.address() as net.AddressInfo).port}` : address,
        close: () =>
          new Promise((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    if (addr.kind === "tcp") server.listen(addr.port, addr.host, done);
    else {
      if (existsSync(addr.path)) unlinkSync(addr.path);
      server.listen(addr.path, done);
    }
  });
}
