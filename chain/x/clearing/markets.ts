/**
 * Market definitions and their risk parameters (SPEC §3.3): listed in genesis or by the
 * authority (MsgCreateMarket, MsgUpdateMarket), read by margin, clearing and liquidation.
 *
 * State (under the clearing prefix 0x05):
 *   0x01 ‖ market id → Market
 */
import { Context } from "../../app/context";
import { Dec } from "../../math/decimal";
import { PrefixKV } from "../../store/prefix";
import { getShared, key, skey, scanProto, setProto } from "../../store/codec";
import { Market, MarketStatus } from "../../../client/src/generated/backstop/clearing/v1/clearing";
import { ErrInvalidMarket, ErrUnknownMarket } from "./errors";

export const CLEARING_STORE_PREFIX = Uint8Array.of(0x05);
const MARKET = 0x01;
/** At most this many risk tiers per market (the liquidation index keeps one per side and tier). */
export const MAX_TIERS = 8;
const MARKET_ID_RE = /^[A-Z0-9]{1,16}-[A-Z0-9]{1,16}$/;

export class MarketKeeper {
  private kv(ctx: Context): PrefixKV {
    return new PrefixKV(ctx.store, CLEARING_STORE_PREFIX);
  }

  get(ctx: Context, id: string): Market | undefined {
    return getShared(this.kv(ctx), skey(MARKET, id), Market);
  }

  /** The market, or clearing/2. */
  require(ctx: Context, id: string): Market {
    const m = this.get(ctx, id);
    if (!m) throw ErrUnknownMarket.wrap(JSON.stringify(id));
    return m;
  }

  set(ctx: Context, m: Market): void {
    setProto(this.kv(ctx), skey(MARKET, m.id), Market, m);
  }

  /** All markets, by id. */
  all(ctx: Context): Market[] {
    return [...scanProto(this.kv(ctx), key(MARKET), Market)].map(([, m]) => m);
  }
}

function dec(name: string, v: string, o: { min?: Dec; max?: Dec; positive?: boolean } = {}): Dec {
  let d: Dec;
  try {
    d = Dec.parse(v);
  } catch (e) {
    throw ErrInvalidMarket.wrap(`${name}: ${(e as Error).message}`);
  }
  if (o.positive && !d.isPositive()) throw ErrInvalidMarket.wrap(`${name} must be positive, got ${v}`);
  if (d.isNegative()) throw ErrInvalidMarket.wrap(`${name} must not be negative, got ${v}`);
  if (o.min && d.lt(o.min)) throw ErrInvalidMarket.wrap(`${name} ${v} below ${o.min.toString()}`);
  if (o.max && d.gt(o.max)) throw ErrInvalidMarket.wrap(`${name} ${v} above ${o.max.toString()}`);
  return d;
}

/** Stateless validation of a market definition; throws clearing/3. */
export function validateMarket(m: Market | undefined): Market {
  if (!m) throw ErrInvalidMarket.wrap("market missing");
  if (!MARKET_ID_RE.test(m.id)) throw ErrInvalidMarket.wrap(`invalid market id ${JSON.stringify(m.id)} (e.g. BTC-USD)`);
  if (!MARKET_ID_RE.test(m.oracleTicker)) throw ErrInvalidMarket.wrap(`invalid oracle ticker ${JSON.stringify(m.oracleTicker)}`);
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(m.insurancePoolId)) throw ErrInvalidMarket.wrap(`invalid insurance pool id ${JSON.stringify(m.insurancePoolId)}`);
  dec("tick_size", m.tickSize, { positive: true });
  dec("step_size", m.stepSize, { positive: true });
  dec("min_order_size", m.minOrderSize);
  const one = Dec.ONE;
  dec("maker_fee_rate", m.makerFeeRate, { max: Dec.parse("0.1") });
  dec("taker_fee_rate", m.takerFeeRate, { max: Dec.parse("0.1") });
  const imr = dec("imr_base", m.imrBase, { positive: true, max: one });
  const mmr = dec("mmr_base", m.mmrBase, { positive: true, max: one });
  if (mmr.gte(imr)) throw ErrInvalidMarket.wrap(`mmr_base ${m.mmrBase} must be below imr_base ${m.imrBase}`);
  dec("volatility_target", m.volatilityTarget, { positive: true });
  dec("max_margin_multiplier", m.maxMarginMultiplier, { min: one });
  dec("liquidation_fee_rate", m.liquidationFeeRate, { max: mmr });
  dec("max_liquidation_fraction_per_block", m.maxLiquidationFractionPerBlock, { positive: true, max: one });
  if (!/^\d+$/.test(m.minLiquidationNotionalUusdc)) throw ErrInvalidMarket.wrap("min_liquidation_notional_uusdc must be an integer");
  dec("liquidation_slippage", m.liquidationSlippage, { max: one });
  dec("auction_step", m.auctionStep, { max: one });
  dec("auction_max_discount", m.auctionMaxDiscount, { max: one });
  dec("price_band", m.priceBand, { positive: true, max: one });
  dec("funding_rate_cap", m.fundingRateCap, { max: one });
  if (m.fundingIntervalSeconds <= 0n) throw ErrInvalidMarket.wrap("funding_interval_seconds must be positive");
  if (m.maxOpenOrdersPerAccount < 1) throw ErrInvalidMarket.wrap("max_open_orders_per_account must be at least 1");
  for (const f of ["max_position_notional_uusdc", "max_open_interest_uusdc"] as const) {
    const v = f === "max_position_notional_uusdc" ? m.maxPositionNotionalUusdc : m.maxOpenInterestUusdc;
    if (v !== "" && !/^\d{1,30}$/.test(v)) throw ErrInvalidMarket.wrap(`${f} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  if (m.maxOiToPool !== "") dec("max_oi_to_pool", m.maxOiToPool, { max: Dec.parse("1000") });
  if (m.maxTakeoverFraction !== "") dec("max_takeover_fraction", m.maxTakeoverFraction, { max: one });
  // Risk tiers: ascending thresholds, ratios that never fall as positions grow, MMR below IMR.
  let prev = { notional: 0n, imr, mmr };
  for (const [i, t] of m.riskTiers.entries()) {
    if (!/^\d{1,30}$/.test(t.notionalUusdc) || BigInt(t.notionalUusdc) <= prev.notional) throw ErrInvalidMarket.wrap(`risk_tiers[${i}].notional_uusdc must be an integer above the previous threshold`);
    const ti = dec(`risk_tiers[${i}].imr`, t.imr, { positive: true, max: one });
    const tm = dec(`risk_tiers[${i}].mmr`, t.mmr, { positive: true, max: one });
    if (tm.gte(ti)) throw ErrInvalidMarket.wrap(`risk_tiers[${i}].mmr ${t.mmr} must be below its imr ${t.imr}`);
    if (ti.lt(prev.imr) || tm.lt(prev.mmr)) throw ErrInvalidMarket.wrap(`risk_tiers[${i}] ratios must not be below the previous tier's`);
    prev = { notional: BigInt(t.notionalUusdc), imr: ti, mmr: tm };
  }
  if (m.riskTiers.length > MAX_TIERS) throw ErrInvalidMarket.wrap(`at most ${MAX_TIERS} risk tiers`);
  if (m.status === MarketStatus.MARKET_STATUS_UNSPECIFIED) return { ...m, status: MarketStatus.MARKET_STATUS_ACTIVE };
  if (!(m.status in MarketStatus) || m.status < 0) throw ErrInvalidMarket.wrap(`invalid status ${m.status}`);
  return m;
}
