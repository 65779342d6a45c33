/**
 * The `backstop` command: node commands (init, start, localnet), keys, transactions
 * (`tx <module> …`) and queries (`q <module> …`), in Cosmos conventions.
 * Errors print their code and codespace and exit non-zero.
 */
import { parseArgs, UsageError } from "./args";
import { DEFAULT_NODE, makeContext } from "./context";
import { Command } from "./registry";
import { nodeCommands } from "./commands/node";
import { keyCommands } from "./commands/keys";
import { chainCommands, txJsonText } from "./commands/chain";
import { CliError, errorJson } from "./errors";

export const commands: Command[] = [...nodeCommands, ...keyCommands, ...chainCommands];

export function register(more: readonly Command[]): void {
  commands.push(...more);
}

function findCommand(words: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: { cmd: Command; rest: string[] } | undefined;
  for (const c of commands) {
    if (c.path.length <= words.length && c.path.every((w, i) => w === words[i]) && (!best || c.path.length > best.cmd.path.length)) {
      best = { cmd: c, rest: words.slice(c.path.length) };
    }
  }
  return best;
}

function usage(prefix: string[] = []): string {
  // The commands under the longest part of `prefix` that names any (all of them if none does).
  let list = commands;
  for (let n = prefix.length; n > 0; n--) {
    const under = commands.filter((c) => prefix.slice(0, n).every((w, i) => c.path[i] === w));
    if (under.length > 0) {
      list = under;
      break;
    }
  }
  return ["usage: backstop <command> [flags]", "", ...list.map((c) => `  ${c.usage}`), "", "common flags: --home DIR --node tcp://HOST:PORT --chain-id ID --keyring-dir DIR --keyring-backend test|file --output json|text", "transactions also: --from NAME|ADDRESS --gas auto|N --gas-adjustment 1.5 --gas-prices 0.025uusdc | --fees 5000uusdc"].join("\n");
}

/** Flags every command takes. */
export const COMMON_FLAGS = ["home", "node", "chain-id", "output", "help", "keyring-dir", "keyring-backend", "yes"] as const;
/** Flags every transaction command takes besides. */
export const TX_FLAGS = ["from", "gas", "gas-adjustment", "gas-prices", "fees"] as const;

/**
 * The flags a command takes: the common ones, a transaction's, and those its usage names.
 * Any other is refused before the command runs — a mistyped `--reduce-only` must not
 * place an order that is not reduce-only.
 */
export function flagsOf(cmd: Command): Set<string> {
  const named = [...cmd.usage.matchAll(/--([a-z][a-z0-9.-]*)/g)].map((m) => m[1]);
  return new Set<string>([...COMMON_FLAGS, ...(cmd.path[0] === "tx" ? TX_FLAGS : []), ...named]);
}

/**
 * How many positional arguments a command takes: the words of its usage after its path,
 * up to the first flag, optional part or note (`tx bank send FROM TO AMOUNT` → 3).
 */
export function positionalCount(cmd: Command): number {
  const words = cmd.usage.split("  ")[0].trim().split(/\s+/).slice(cmd.path.length);
  let n = 0;
  for (const w of words) {
    if (w.startsWith("-") || w.startsWith("[") || w.startsWith("(")) break;
    n++;
  }
  return n;
}

/** For a failed connection to the node (fetch's "fetch failed"), a message that says so. */
function unreachable(e: unknown, node: string | true | undefined): string | undefined {
  if (!(e instanceof TypeError) || e.message !== "fetch failed") return undefined;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const where = typeof node === "string" ? node : DEFAULT_NODE;
  return `cannot reach the node at ${where} (${cause?.code ?? cause?.message ?? "connection failed"}): is it running? (--node tcp://HOST:PORT)`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const aliased = args.positionals.map((w, i) => (i === 0 && w === "query" ? "q" : w));
  const help = args.flags.has("help") || aliased[0] === "help";
  const words = aliased[0] === "help" ? aliased.slice(1) : aliased;
  const found = findCommand(words);
  const output = args.flags.get("output") === "json" ? "json" : "text";
  if (!found || help) {
    const text = usage(found ? [...found.cmd.path] : words.slice(0, 2));
    if (help || words.length === 0) {
      process.stdout.write(text + "\n");
      return 0;
    }
    const err = new CliError(`unknown command: ${words.join(" ")}`, { codespace: "cli", code: 2 });
    if (output === "json") process.stdout.write(JSON.stringify(errorJson(err)) + "\n");
    process.stderr.write(`Error: ${err.message}\n\n${text}\n`);
    return 2;
  }
  try {
    const takes = flagsOf(found.cmd);
    const unknown = [...args.flags.keys()].filter((f) => !takes.has(f));
    if (unknown.length > 0) {
      throw new UsageError(`unknown flag${unknown.length > 1 ? "s" : ""} ${unknown.map((f) => `--${f}`).join(" ")}; backstop ${found.cmd.path.join(" ")} takes ${[...takes].map((f) => `--${f}`).join(" ")}`);
    }
    const extra = found.rest.slice(positionalCount(found.cmd));
    if (extra.length > 0) throw new UsageError(`unexpected argument${extra.length > 1 ? "s" : ""} ${extra.map((w) => JSON.stringify(w)).join(" ")}; usage: backstop ${found.cmd.usage}`);
    const ctx = makeContext({ positionals: found.rest, flags: args.flags });
    const code = await found.cmd.run(ctx);
    return code ?? 0;
  } catch (e) {
    const err =
      e instanceof CliError
        ? e
        : e instanceof UsageError
          ? new CliError(e.message, { codespace: "cli", code: 2 })
          : new CliError(unreachable(e, args.flags.get("node")) ?? (e instanceof Error ? e.message : String(e)), { codespace: "cli", code: 1 });
    if (output === "json") process.stdout.write(JSON.stringify(errorJson(err)) + "\n");
    // A tx that failed in its block: its fields and events too, as a tx prints them.
    else if (err.tx && err.tx.height !== "0") process.stdout.write(txJsonText(err.tx as Parameters<typeof txJsonText>[0]) + "\n");
    process.stderr.write(`Error: ${err.message}${err.codespace !== "cli" ? ` (codespace ${err.codespace}, code ${err.code})` : ""}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
      process.exitCode = 1;
    },
  );
}
