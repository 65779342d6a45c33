/** CLI errors carry the chain's codespace and code when the chain refused something. */
export class CliError extends Error {
  readonly codespace: string;
  readonly code: number;
  readonly txhash?: string;
  /** For a refused transaction: its result fields (txhash, height, code, raw_log, events…), printed beside the error. */
  readonly tx?: Record<string, unknown>;
  constructor(message: string, o: { codespace: string; code: number; txhash?: string; tx?: Record<string, unknown> }) {
    super(message);
    this.codespace = o.codespace;
    this.code = o.code;
    this.txhash = o.txhash;
    this.tx = o.tx;
  }
}

export function errorJson(e: CliError) {
  return { ...(e.tx ?? {}), error: { message: e.message, codespace: e.codespace, code: e.code, ...(e.txhash ? { txhash: e.txhash } : {}) } };
}
