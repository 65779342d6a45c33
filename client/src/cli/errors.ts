/** CLI errors carry the chain's codespace and code when the chain refused something. */
export class CliError extends Error {
  readonly codespace: string;
  readonly code: number;
  readonly txhash?: string;
  constructor(message: string, o: { codespace: string; code: number; txhash?: string }) {
    super(message);
    this.codespace = o.codespace;
    this.code = o.code;
    this.txhash = o.txhash;
  }
}

export function errorJson(e: CliError) {
  return { error: { message: e.message, codespace: e.codespace, code: e.code, ...(e.txhash ? { txhash: e.txhash } : {}) } };
}
