/**
 * Genesis application state (`app_state` of CometBFT's genesis.json): the default one,
 * and the localnet one of SPEC §2.
 */
import { moduleAddress } from "../crypto/keys";

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

/** Localnet oracle: feeders oracle1 and oracle2, a quorum of 1, the initial prices of SPEC §2. */
export const LOCALNET_PRICES: Readonly<Record<string, string>> = { "BTC-USD": "60000", "ETH-USD": "3000", "SOL-USD": "150" };

/**
 * Protocol seed capital of the localnet pools (uusdc), held by locked shares that no LP
 * owns, as a venue seeds its insurance fund: the coverage controls and the open-interest
 * cap relative to a pool's net assets mean something from the first block (an empty pool
 * has no capacity, so its markets would take no new exposure). LPs' deposits buy in at NAV.
 */
export const LOCALNET_POOL_SEED: Readonly<Record<string, bigint>> = { reserve: 5_000_000_000_000n, majors: 5_000_000_000_000n, alts: 1_000_000_000_000n };
/** The locked shares each seed is held by (the insurance params' min_locked_shares). */
export const LOCALNET_SEED_SHARES = 1_000_000_000n;

/**
 * A localnet insurance pool: 60 s withdrawal cooldown, 20% of fees, coverage target 1,
 * seeded with `seed` uusdc. Both coverage controls are on (SPEC §3.8): below coverage 1
 * the margin of its markets rises by 1/coverage (pre-emptive margin), and below 0.25 its
 * markets take only reduce-only orders for new exposure.
 */
export function localnetPool(id: string, markets: string[], reserve: boolean, creditLines: { lender_pool_id: string; cap_uusdc: string }[], seed = 0n): Record<string, unknown> {
  return {
    id,
    market_ids: markets,
    share_denom: `share/${id}`,
    withdrawal_cooldown_seconds: "60",
    fee_share: "0.2",
    target_coverage: "1",
    cap_multiple: "3",
    critical_coverage: reserve ? "0" : "0.25",
    preemptive_margin: !reserve,
    credit_lines: creditLines.map((l) => ({ ...l, drawn_uusdc: "0" })),
    is_reserve: reserve,
    ...(seed > 0n
      ? { balance_uusdc: seed.toString(), total_shares: LOCALNET_SEED_SHARES.toString(), locked_shares: LOCALNET_SEED_SHARES.toString(), escrowed_shares: "0", debt_uusdc: "0", net_assets_uusdc: seed.toString() }
      : {}),
  };
}

/** A localnet market's risk limits (SPEC §3.3), in USDC; see docs/SOUNDNESS.md for the reasoning. */
export interface RiskLimits {
  /** Per account: position plus live orders that add to it, notional. */
  readonly positionUsd: bigint;
  /** Open interest plus what live orders could add, notional. */
  readonly openInterestUsd: bigint;
  /** Open interest at most this multiple of the pool's net assets. */
  readonly oiToPool: string;
  /** Risk tiers: above an entry notional (USD), these base IMR and MMR. */
  readonly tiers: readonly { readonly aboveUsd: bigint; readonly imr: string; readonly mmr: string }[];
}

/** A localnet market's parameters (decimals as strings, SPEC §3.3). */
export function localnetMarket(id: string, pool: string, imr: string, mmr: string, tick: string, step: string, limits?: RiskLimits): Record<string, unknown> {
  return {
    id,
    oracle_ticker: id,
    tick_size: tick,
    step_size: step,
    min_order_size: step,
    maker_fee_rate: "0.0002",
    taker_fee_rate: "0.0005",
    insurance_pool_id: pool,
    imr_base: imr,
    mmr_base: mmr,
    volatility_target: "0.01",
    max_margin_multiplier: "3",
    liquidation_fee_rate: "0.01",
    max_liquidation_fraction_per_block: "0.5",
    min_liquidation_notional_uusdc: "1000000000",
    liquidation_slippage: "0.02",
    auction_after_blocks: "3",
    auction_blocks: "10",
    auction_step: "0.005",
    auction_max_discount: "0.05",
    price_band: "0.1",
    funding_interval_seconds: "3600",
    funding_rate_cap: "0.001",
    max_open_orders_per_account: 100,
    status: "MARKET_STATUS_ACTIVE",
    risk_tiers: (limits?.tiers ?? []).map((t) => ({ notional_uusdc: (t.aboveUsd * 1_000_000n).toString(), imr: t.imr, mmr: t.mmr })),
    max_position_notional_uusdc: limits ? (limits.positionUsd * 1_000_000n).toString() : "0",
    max_open_interest_uusdc: limits ? (limits.openInterestUsd * 1_000_000n).toString() : "0",
    max_oi_to_pool: limits?.oiToPool ?? "0",
    max_takeover_fraction: "0.25",
  };
}

/**
 * The localnet app_state for the ten localnet addresses (HD indices 0–9, in order):
 * each funded with 10,000,000,000,000 uusdc and 1,000,000,000 ustake; index 0 is the
 * params authority, indices 8 and 9 the price feeders.
 */
export function localnetAppState(addresses: readonly string[]): Record<string, unknown> {
  if (addresses.length !== LOCALNET_KEY_NAMES.length) throw new Error(`localnet needs ${LOCALNET_KEY_NAMES.length} addresses`);
  const feeders = [addresses[8], addresses[9]];
  return {
    auth: {
      authority: addresses[0],
      accounts: addresses.map((address) => ({ address, account_number: "0", sequence: "0" })),
    },
    bank: {
      balances: [
        ...addresses.map((address) => ({
          address,
          coins: [
            { denom: STAKE_DENOM, amount: LOCALNET_STAKE_PER_ACCOUNT.toString() },
            { denom: COLLATERAL_DENOM, amount: LOCALNET_USDC_PER_ACCOUNT.toString() },
          ],
        })),
        // The pools' seed capital and the locked shares that hold it, in the insurance module.
        {
          address: moduleAddress("insurance"),
          coins: [
            { denom: COLLATERAL_DENOM, amount: Object.values(LOCALNET_POOL_SEED).reduce((a, b) => a + b, 0n).toString() },
            ...Object.keys(LOCALNET_POOL_SEED).sort().map((id) => ({ denom: `share/${id}`, amount: LOCALNET_SEED_SHARES.toString() })),
          ].sort((a, b) => (a.denom < b.denom ? -1 : a.denom > b.denom ? 1 : 0)),
        },
      ],
    },
    oracle: {
      params: { feeders, min_feeders: 1, max_staleness_seconds: "300", ewma_lambda: "0.94", history_length: 1000, max_deviation: "0.1" },
      tickers: Object.keys(LOCALNET_PRICES),
      prices: Object.entries(LOCALNET_PRICES).map(([ticker, price]) => ({ ticker, price, height: "0", time_unix_seconds: "0", num_feeders: 0 })),
      volatilities: [],
    },
    clearing: {
      params: { max_orders_per_block: 10000, max_orders_per_account_per_block: 100 },
      markets: [
        localnetMarket("BTC-USD", "majors", "0.05", "0.03", "0.1", "0.0001", {
          positionUsd: 50_000_000n,
          openInterestUsd: 500_000_000n,
          oiToPool: "20",
          tiers: [
            { aboveUsd: 5_000_000n, imr: "0.075", mmr: "0.045" },
            { aboveUsd: 20_000_000n, imr: "0.1", mmr: "0.06" },
          ],
        }),
        localnetMarket("ETH-USD", "majors", "0.05", "0.03", "0.01", "0.001", {
          positionUsd: 25_000_000n,
          openInterestUsd: 250_000_000n,
          oiToPool: "20",
          tiers: [
            { aboveUsd: 5_000_000n, imr: "0.075", mmr: "0.045" },
            { aboveUsd: 10_000_000n, imr: "0.1", mmr: "0.06" },
          ],
        }),
        localnetMarket("SOL-USD", "alts", "0.1", "0.05", "0.001", "0.01", {
          positionUsd: 5_000_000n,
          openInterestUsd: 20_000_000n,
          oiToPool: "10",
          tiers: [
            { aboveUsd: 1_000_000n, imr: "0.15", mmr: "0.075" },
            { aboveUsd: 2_500_000n, imr: "0.2", mmr: "0.1" },
          ],
        }),
      ],
      orders: [],
      funding: [],
      next_order_id: "1",
    },
    margin: { params: { collateral_denom: COLLATERAL_DENOM, max_mmr_step_per_block: "0.001" }, accounts: [], positions: [], market_risks: [] },
    insurance: {
      params: { epoch_blocks: "100", min_locked_shares: "1000000000", max_payouts_per_block: 100, stress_floor: "0.1", stress_z: "3", stress_horizon_blocks: "100", gap_add_on: "0.05" },
      pools: [
        localnetPool("reserve", [], true, [], LOCALNET_POOL_SEED.reserve),
        localnetPool("majors", ["BTC-USD", "ETH-USD"], false, [{ lender_pool_id: "alts", cap_uusdc: "1000000000000" }], LOCALNET_POOL_SEED.majors),
        localnetPool("alts", ["SOL-USD"], false, [{ lender_pool_id: "majors", cap_uusdc: "1000000000000" }], LOCALNET_POOL_SEED.alts),
      ],
      withdrawals: [],
      next_withdrawal_id: "1",
    },
  };
}
