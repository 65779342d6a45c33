/** Command-line parsing: positionals and `--flag value` / `--flag=value` / boolean flags. */
export interface Args {
  readonly positionals: string[];
  readonly flags: Map<string, string | true>;
}

/** Flags that never take a value. */
const BOOLEAN_FLAGS = new Set(["reset", "resume", "recover", "localnet", "reduce-only", "help", "yes", "overwrite"]);

export function parseArgs(argv: readonly string[]): Args {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === "-o" && argv[i + 1] !== undefined) {
      flags.set("output", argv[++i]); // Cosmos CLI's short form of --output
      continue;
    }
    if (a === "-y") {
      flags.set("yes", true); // Cosmos CLI's --yes: accepted; transactions never ask for confirmation
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) {
        flags.set(a.slice(2, eq), a.slice(eq + 1));
      } else {
        const name = a.slice(2);
        const next = argv[i + 1];
        if (BOOLEAN_FLAGS.has(name) || next === undefined || next.startsWith("--")) flags.set(name, true);
        else {
          flags.set(name, next);
          i++;
        }
      }
    } else positionals.push(a);
  }
  return { positionals, flags };
}

export class UsageError extends Error {}

export function flag(args: Args, name: string, fallback?: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v ?? fallback;
}

export function has(args: Args, name: string): boolean {
  return args.flags.has(name);
}
