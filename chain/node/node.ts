/**
 * Running a node: the application on its LMDB store, the block store, the engine and
 * its RPC server (or, with `abci`, the ABCI socket server for a CometBFT node).
 */
import { BackstopApp } from "../app/app";
import { BlockStore } from "../engine/blockstore";
import { Engine } from "../engine/engine";
import { RpcLimits, rpcLimits, RpcServer } from "../engine/rpc";
import { jsonLogger, Logger } from "../engine/log";
import { accessSync, constants, statfsSync } from "node:fs";
import { paths, readGenesis, readValidatorKey } from "./home";

export interface NodeOptions {
  readonly home: string;
  /** tcp://HOST:PORT of the RPC server. */
  readonly rpcLaddr?: string;
  /** Limits on the RPC's websocket subscriptions (CometBFT's defaults unless given). */
  readonly rpcLimits?: RpcLimits;
  readonly minGasPrices?: string;
  readonly blockTimeMs?: number;
  readonly logger?: Logger;
}

export interface RunningNode {
  readonly engine: Engine;
  readonly rpc: { host: string; port: number };
  stop(): Promise<void>;
}

export function parseLaddr(laddr: string): { host: string; port: number } {
  const m = /^(?:tcp:\/\/)?([^:/]+):(\d+)$/.exec(laddr);
  if (!m) throw new Error(`invalid listen address ${laddr} (expected tcp://HOST:PORT)`);
  return { host: m[1], port: Number(m[2]) };
}

/**
 * Why writing under `home` may have failed: the file system is (nearly) full, or the
 * directory is not writable. Undefined when neither is the case.
 */
export function storageDiagnosis(home: string): string | undefined {
  try {
    const fs = statfsSync(home);
    const free = BigInt(fs.bavail) * BigInt(fs.bsize);
    if (free < 1n << 20n) return `the disk holding ${home} is full (${free} bytes free): free space and restart; the state is intact at the last committed block`;
  } catch {
    /* cannot tell */
  }
  try {
    accessSync(home, constants.W_OK);
  } catch {
    return `${home} is not writable`;
  }
  return undefined;
}

export async function startNode(o: NodeOptions): Promise<RunningNode> {
  const log = o.logger ?? jsonLogger("node");
  const limits = rpcLimits(o.rpcLimits); // a bad limit is refused before anything is opened
  const p = paths(o.home);
  const genesis = readGenesis(o.home);
  const validator = readValidatorKey(p.validatorKey);
  const app = BackstopApp.open({ dataDir: p.appData, minGasPrices: o.minGasPrices });
  const store = new BlockStore(p.blockstore);
  const engine = new Engine(app, store, genesis, validator, { blockTimeMs: o.blockTimeMs ?? 1000, diagnose: () => storageDiagnosis(o.home) }, log);
  try {
    await engine.handshake();
    // A fresh chain commits block 1 (genesis applied) before its RPC answers, so a client
    // that starts as soon as the port does finds the genesis accounts.
    if (engine.height() === 0) await engine.produceBlock();
  } catch (e) {
    app.close();
    await store.close();
    throw e;
  }
  const rpc = new RpcServer(engine, log, limits);
  const { host, port } = parseLaddr(o.rpcLaddr ?? "tcp://127.0.0.1:26657");
  let addr: { host: string; port: number };
  try {
    addr = await rpc.listen(host, port);
  } catch (e) {
    // Nothing started yet: release the transport thread and the stores, so the process ends.
    await rpc.close();
    await engine.stop();
    app.close();
    await store.close();
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === "EADDRINUSE"
        ? `the RPC address ${host}:${port} is in use (is another node running? choose another with --rpc.laddr)`
        : `cannot serve the RPC on ${host}:${port}: ${(e as Error).message}`,
    );
  }
  engine.start();
  log.info("node started", { chain_id: genesis.chain_id, height: engine.height(), rpc: `tcp://${addr.host}:${addr.port}` });
  let stopped = false;
  return {
    engine,
    rpc: addr,
    async stop() {
      if (stopped) return;
      stopped = true;
      await engine.stop();
      const height = engine.height();
      await rpc.close();
      app.close();
      await store.close();
      log.info("node stopped", { height });
    },
  };
}

/** Serves the application over the ABCI socket protocol for a CometBFT node. */
export async function startAbci(o: { home: string; address: string; minGasPrices?: string; logger?: Logger }): Promise<{ stop(): Promise<void> }> {
  const log = o.logger ?? jsonLogger("abci");
  const p = paths(o.home);
  const app = BackstopApp.open({ dataDir: p.appData, minGasPrices: o.minGasPrices });
  const { serveAbci } = await import("../abci/server");
  const server = await serveAbci(app, o.address, (x: object) => log.info("abci", x as Record<string, unknown>));
  log.info("serving ABCI", { address: o.address });
  return {
    async stop() {
      await server.close();
      app.close();
    },
  };
}
