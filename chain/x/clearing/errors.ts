/** Registered errors of x/clearing (codespace `clearing`). */
import { register } from "../../app/errors";

export const CLEARING = "clearing";
export const ErrUnknownMarket = register(CLEARING, 2, "unknown market");
export const ErrInvalidMarket = register(CLEARING, 3, "invalid market parameters");
export const ErrMarketExists = register(CLEARING, 4, "market already exists");
