/** The command table: each command is a path of words and a handler. */
import { CliContext } from "./context";

export interface Command {
  readonly path: readonly string[];
  readonly usage: string;
  /** Returns the exit code (default 0), or throws. */
  run(ctx: CliContext): Promise<number | void>;
}
