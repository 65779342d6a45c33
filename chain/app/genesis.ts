/**
 * Genesis application state (`app_state` of CometBFT's genesis.json): the default one,
 * and the localnet one of SPEC §2.
 */
export const LOCALNET_CHAIN_ID = "backstop-local-1";
export const LOCALNET_MNEMONIC =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
/** Keyring names of HD indices 0–9 (SPEC §2). */
export const LOCALNET_KEY_NAMES = [
  "validator",
  "alice",
  "bob",
  "carol",
  "dave",
  "lp1",
  "lp2",
  "liquidator",
  "oracle1",
  "oracle2",
] as const;

export const COLLATERAL_DENOM = "uusdc";
export const STAKE_DENOM = "ustake";
export const LOCALNET_USDC_PER_ACCOUNT = 10_000_000_000_000n;
export const LOCALNET_STAKE_PER_ACCOUNT = 1_000_000_000n;

export function defaultAppState(): Record<string, unknown> {
  return { auth: { accounts: [] }, bank: { balances: [] } };
}

/**
 * The localnet app_state for the ten localnet addresses (HD indices 0–9, in order):
 * each funded with 10,000,000,000,000 uusdc and 1,000,000,000 ustake; index 0 is the
 * params authority, indices 8 and 9 the price feeders.
 */
export function localnetAppState(addresses: readonly string[]): Record<string, unknown> {
  if (addresses.length !== LOCALNET_KEY_NAMES.length) throw new Error(`localnet needs ${LOCALNET_KEY_NAMES.length} addresses`);
  return {
    auth: {
      accounts: addresses.map((address) => ({ address, account_number: "0", sequence: "0" })),
    },
    bank: {
      balances: addresses.map((address) => ({
        address,
        coins: [
          { denom: STAKE_DENOM, amount: LOCALNET_STAKE_PER_ACCOUNT.toString() },
          { denom: COLLATERAL_DENOM, amount: LOCALNET_USDC_PER_ACCOUNT.toString() },
        ],
      })),
    },
  };
}
