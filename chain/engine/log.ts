/** Structured JSON-line logs on stderr. */
export type Level = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function jsonLogger(module: string, min: Level = "info", out: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[min]) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level, module, msg, ...fields }, (_k, v) => (typeof v === "bigint" ? v.toString() : v)); // determinism-ok: log timestamps
    out.write(line + "\n");
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
