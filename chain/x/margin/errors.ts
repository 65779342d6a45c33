/** Registered errors of x/margin (codespace `margin`). */
import { register } from "../../app/errors";

export const MARGIN = "margin";
export const ErrInsufficientCollateral = register(MARGIN, 2, "insufficient free collateral");
export const ErrNoPosition = register(MARGIN, 3, "no position");
export const ErrBelowInitialMargin = register(MARGIN, 4, "below initial margin requirement");
export const ErrInvalidDenom = register(MARGIN, 5, "invalid collateral denom");
export const ErrInvalidAmount = register(MARGIN, 6, "invalid amount");
export const ErrInvalidParams = register(MARGIN, 7, "invalid margin params");
