/**
 * Registered errors: every error a transaction or query can return has a codespace
 * (the module name) and a code, registered once and never renumbered. CheckTx,
 * FinalizeBlock and Query return both, so clients never match on message text.
 */

export class RegisteredError {
  constructor(
    readonly codespace: string,
    readonly code: number,
    readonly description: string,
  ) {}

  /** An error carrying this code with a specific message. */
  wrap(detail: string): AppError {
    return new AppError(this, `${detail}: ${this.description}`);
  }

  /** Same as wrap, for use as `throw err.because(...)` reads. */
  is(err: unknown): boolean {
    return err instanceof AppError && err.registered === this;
  }
}

export class AppError extends Error {
  constructor(
    readonly registered: RegisteredError,
    message: string,
  ) {
    super(message);
    this.name = "AppError";
  }
  get codespace(): string {
    return this.registered.codespace;
  }
  get code(): number {
    return this.registered.code;
  }
}

const registry = new Map<string, RegisteredError>();

/** Registers an error; codes start at 2 (1 is reserved for internal errors), unique per codespace. */
export function register(codespace: string, code: number, description: string): RegisteredError {
  if (code < 2 && !(codespace === UNDEFINED_CODESPACE && code === 1)) throw new Error(`error code ${code} is reserved`);
  const id = `${codespace}/${code}`;
  if (registry.has(id)) throw new Error(`error ${id} registered twice`);
  const e = new RegisteredError(codespace, code, description);
  registry.set(id, e);
  return e;
}

/** Every registered error, sorted by codespace then code (for docs and tests). */
export function registeredErrors(): RegisteredError[] {
  return [...registry.values()].sort((a, b) =>
    a.codespace === b.codespace ? a.code - b.code : a.codespace < b.codespace ? -1 : 1,
  );
}

export const UNDEFINED_CODESPACE = "undefined";
export const ErrInternal = register(UNDEFINED_CODESPACE, 1, "internal");

/** The SDK's own errors, with the Cosmos SDK's codes (codespace "sdk"). */
export const SDK = "sdk";
export const ErrTxDecode = register(SDK, 2, "tx parse error");
export const ErrInvalidSequence = register(SDK, 3, "invalid sequence");
export const ErrUnauthorized = register(SDK, 4, "unauthorized");
export const ErrInsufficientFunds = register(SDK, 5, "insufficient funds");
export const ErrUnknownRequest = register(SDK, 6, "unknown request");
export const ErrInvalidAddress = register(SDK, 7, "invalid address");
export const ErrInvalidPubKey = register(SDK, 8, "invalid pubkey");
export const ErrUnknownAddress = register(SDK, 9, "unknown address");
export const ErrInvalidCoins = register(SDK, 10, "invalid coins");
export const ErrOutOfGas = register(SDK, 11, "out of gas");
export const ErrMemoTooLarge = register(SDK, 12, "memo too large");
export const ErrInsufficientFee = register(SDK, 13, "insufficient fee");
export const ErrTooManySignatures = register(SDK, 14, "maximum number of signatures exceeded");
export const ErrNoSignatures = register(SDK, 15, "no signatures supplied");
export const ErrInvalidRequest = register(SDK, 18, "invalid request");
export const ErrTxInMempoolCache = register(SDK, 19, "tx already in mempool");
export const ErrTxTooLarge = register(SDK, 21, "tx too large");
export const ErrKeyNotFound = register(SDK, 22, "key not found");
export const ErrInvalidHeight = register(SDK, 26, "invalid height");
export const ErrInvalidType = register(SDK, 29, "invalid type");
export const ErrTxTimeoutHeight = register(SDK, 30, "tx timeout height");
export const ErrWrongSequence = register(SDK, 32, "incorrect account sequence");
export const ErrNotSupported = register(SDK, 37, "feature not supported");
export const ErrNotFound = register(SDK, 38, "not found");
export const ErrInvalidGasLimit = register(SDK, 41, "invalid gas limit");

/** Maps anything thrown during execution to (codespace, code, log); unknown errors are internal. */
export function toAbciError(err: unknown): { codespace: string; code: number; log: string } {
  if (err instanceof AppError) return { codespace: err.codespace, code: err.code, log: err.message };
  const msg = err instanceof Error ? err.message : String(err);
  return { codespace: ErrInternal.codespace, code: ErrInternal.code, log: `internal: ${msg}` };
}
