/** Registered errors of x/clearing (codespace `clearing`). */
import { register } from "../../app/errors";

export const CLEARING = "clearing";
export const ErrUnknownMarket = register(CLEARING, 2, "unknown market");
export const ErrInvalidMarket = register(CLEARING, 3, "invalid market parameters");
export const ErrMarketExists = register(CLEARING, 4, "market already exists");
export const ErrInvalidOrder = register(CLEARING, 5, "invalid order");
export const ErrUnknownOrder = register(CLEARING, 6, "unknown order");
export const ErrPostOnlyWouldCross = register(CLEARING, 7, "post-only order would cross");
export const ErrReduceOnly = register(CLEARING, 8, "reduce-only order would not reduce the position");
export const ErrTooManyOrders = register(CLEARING, 9, "too many open orders");
export const ErrMarketNotActive = register(CLEARING, 10, "market does not accept new exposure");
export const ErrInsufficientMargin = register(CLEARING, 11, "insufficient free collateral for the order's worst-case fill");
export const ErrNoLiquidationAuction = register(CLEARING, 12, "no liquidation auction for this position");
export const ErrBidPrice = register(CLEARING, 13, "liquidation auction price is beyond the bid's limit");
export const ErrInsuranceExhausted = register(CLEARING, 14, "the insurance waterfall cannot pay the deficit this would leave");
export const ErrBlockOrderLimit = register(CLEARING, 15, "the block holds max_orders_per_block orders");
export const ErrInvalidParams = register(CLEARING, 16, "invalid clearing params");
export const ErrAccountBlockOrderLimit = register(CLEARING, 17, "the account has placed max_orders_per_account_per_block orders in this block");
export const ErrOpenInterestCap = register(CLEARING, 18, "the order could take the market's open interest past its cap");
export const ErrPositionCap = register(CLEARING, 19, "the order could take the account's position past the market's position cap");
export const ErrBeyondBankruptcy = register(CLEARING, 20, "a closing order's limit is beyond the position's bankruptcy price");
