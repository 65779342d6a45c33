/** Coins: a denom and a non-negative integer amount (bigint in code, string on the wire). */
import type { Coin } from "cosmjs-types/cosmos/base/v1beta1/coin";
import { checked } from "../math/int";
import { ErrInvalidCoins } from "./errors";

export type { Coin };

const DENOM_RE = /^[a-zA-Z][a-zA-Z0-9/:._-]{2,127}$/;
const AMOUNT_RE = /^(0|[1-9][0-9]*)$/;

export function isValidDenom(denom: string): boolean {
  return typeof denom === "string" && DENOM_RE.test(denom);
}

/** Parses a coin's amount; throws sdk/10 on anything but a canonical non-negative integer. */
export function coinAmount(c: { denom: string; amount: string }): bigint {
  if (!isValidDenom(c.denom)) throw ErrInvalidCoins.wrap(`invalid denom ${JSON.stringify(c.denom)}`);
  if (typeof c.amount !== "string" || !AMOUNT_RE.test(c.amount)) throw ErrInvalidCoins.wrap(`invalid amount ${JSON.stringify(c.amount)}`);
  try {
    return checked(BigInt(c.amount));
  } catch {
    throw ErrInvalidCoins.wrap(`amount out of range`);
  }
}

/** Validates a list of coins to be sent: each amount positive, denoms sorted and unique. */
export function validateSendCoins(coins: readonly Coin[]): void {
  if (coins.length === 0) throw ErrInvalidCoins.wrap("no coins");
  for (let i = 0; i < coins.length; i++) {
    if (coinAmount(coins[i]) <= 0n) throw ErrInvalidCoins.wrap(`${coins[i].amount}${coins[i].denom} is not positive`);
    if (i > 0 && coins[i - 1].denom >= coins[i].denom) throw ErrInvalidCoins.wrap("denoms must be sorted and unique");
  }
}

const COIN_STR_RE = /^(0|[1-9][0-9]*)([a-zA-Z][a-zA-Z0-9/:._-]{2,127})$/;

/** Parses "1000uusdc" (throws sdk/10). */
export function parseCoin(s: string): Coin {
  const m = COIN_STR_RE.exec(s.trim());
  if (!m) throw ErrInvalidCoins.wrap(`invalid coin ${JSON.stringify(s)}`);
  return { denom: m[2], amount: m[1] };
}

export function coinsToString(coins: readonly Coin[]): string {
  return coins.map((c) => `${c.amount}${c.denom}`).join(",");
}

/** A decimal coin price such as "0.0025uusdc": an amount per gas unit, as numerator/10^18. */
export interface GasPrice {
  readonly denom: string;
  /** Price × 10^18. */
  readonly raw: bigint;
}

export function parseGasPrices(s: string): GasPrice[] {
  if (!s.trim()) return [];
  return s.split(",").map((part) => {
    const m = /^([0-9]+)(?:\.([0-9]{1,18}))?([a-zA-Z][a-zA-Z0-9/:._-]{2,127})$/.exec(part.trim());
    if (!m) throw new Error(`invalid gas price ${JSON.stringify(part)}`);
    const raw = BigInt(m[1]) * 10n ** 18n + BigInt((m[2] ?? "").padEnd(18, "0"));
    return { denom: m[3], raw };
  });
}
