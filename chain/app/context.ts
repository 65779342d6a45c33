/**
 * The execution context handed to every keeper call: the (gas-metered) store of the
 * branch being executed, the block's height and time, the chain id, the event sink
 * and the gas meter. Time is the block time, never the wall clock.
 */
import { KVStore } from "../store/types";
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
}

export function withStore(ctx: Context, store: KVStore, events = ctx.events, gas = ctx.gas): Context {
  return { ...ctx, store, events, gas };
}
