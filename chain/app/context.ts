/**
 * The execution context handed to every keeper call: the (gas-metered) store of the
 * branch being executed, the block's height and time, the chain id, the event sink
 * and the gas meter. Time is the block time, never the wall clock.
 */
import { Change, KVStore } from "../store/types";
import { EventManager } from "./events";
import { GasMeter } from "./gas";

export type ExecMode = "genesis" | "check" | "recheck" | "simulate" | "deliver" | "endblock" | "query";

export interface Context {
  readonly store: KVStore;
  readonly height: bigint;
  /** Block time in unix seconds. */
  readonly time: bigint;
  readonly chainId: string;
  readonly events: EventManager;
  readonly gas: GasMeter;
  readonly mode: ExecMode;
  /**
   * End-block only: the block's changes so far (everything written since the last commit)
   * with start ≤ key < end, in key order — for derived in-memory indexes that follow the
   * committed state block by block.
   */
  readonly blockChanges?: (start: Buffer, end?: Buffer) => Iterable<Change>;
}

export function withStore(ctx: Context, store: KVStore, events = ctx.events, gas = ctx.gas): Context {
  return { ...ctx, store, events, gas };
}
