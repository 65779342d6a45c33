/** Registered errors of x/oracle (codespace `oracle`). */
import { register } from "../../app/errors";

export const ORACLE = "oracle";
export const ErrUnknownTicker = register(ORACLE, 2, "unknown ticker");
export const ErrNotFeeder = register(ORACLE, 3, "not a price feeder");
export const ErrInvalidPrice = register(ORACLE, 4, "invalid price");
export const ErrNoPrice = register(ORACLE, 5, "no price");
export const ErrStalePrice = register(ORACLE, 6, "stale price");
export const ErrInvalidParams = register(ORACLE, 7, "invalid oracle params");
