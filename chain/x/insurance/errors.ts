/** Registered errors of x/insurance (codespace `insurance`). */
import { register } from "../../app/errors";

export const INSURANCE = "insurance";
export const ErrUnknownPool = register(INSURANCE, 2, "unknown pool");
export const ErrInvalidPool = register(INSURANCE, 3, "invalid pool parameters");
export const ErrPoolExists = register(INSURANCE, 4, "pool already exists");
export const ErrDepositTooSmall = register(INSURANCE, 5, "deposit too small");
export const ErrInsufficientShares = register(INSURANCE, 6, "insufficient shares");
export const ErrUnknownWithdrawal = register(INSURANCE, 7, "unknown withdrawal");
export const ErrInvalidAmount = register(INSURANCE, 8, "invalid amount");
export const ErrPoolInsolvent = register(INSURANCE, 9, "pool has no net assets");
export const ErrInvalidParams = register(INSURANCE, 10, "invalid insurance params");
