/** What every command shares: the home, the node address, the output format, the keyring. */
import { homedir } from "node:os";
import { join } from "node:path";
import { Args, flag, UsageError } from "./args";
import { Backend, Keyring } from "../keyring/keyring";

export interface CliContext {
  readonly args: Args;
  readonly home: string;
  readonly node: string;
  readonly chainId: string | undefined;
  readonly output: "json" | "text";
  keyring(): Keyring;
  print(value: unknown, text?: () => string): void;
  progress(message: string): void;
}

export const DEFAULT_HOME = join(homedir(), ".backstop");
export const DEFAULT_NODE = "tcp://127.0.0.1:26657";

export function makeContext(args: Args): CliContext {
  const home = flag(args, "home", DEFAULT_HOME)!;
  const output = flag(args, "output", "text")!;
  if (output !== "json" && output !== "text") throw new UsageError(`--output must be json or text`);
  const backend = flag(args, "keyring-backend", "test")!;
  if (backend !== "test" && backend !== "file") throw new UsageError(`--keyring-backend must be test or file`);
  const node = flag(args, "node", DEFAULT_NODE)!;
  if (!/^(tcp|https?):\/\/[^/\s:]+(:\d+)?(\/\S*)?$/.test(node)) throw new UsageError(`--node must be tcp://HOST:PORT (or an http:// or https:// URL), got ${JSON.stringify(node)}`);
  return {
    args,
    home,
    node,
    chainId: flag(args, "chain-id"),
    output,
    keyring: () => new Keyring(flag(args, "keyring-dir", home)!, backend as Backend),
    print(value, text) {
      if (output === "json") process.stdout.write(JSON.stringify(value, bigintReplacer) + "\n");
      else process.stdout.write((text ? text() : JSON.stringify(value, bigintReplacer, 2)) + "\n");
    },
    progress(message) {
      if (output === "text" && process.stderr.isTTY) process.stderr.write(`${message}\n`);
    },
  };
}

export function bigintReplacer(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  return v;
}

/** `http://…` for CosmJS from `tcp://host:port`. */
export function httpEndpoint(node: string): string {
  return node.replace(/^tcp:\/\//, "http://");
}
