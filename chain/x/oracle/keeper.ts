/**
 * x/oracle keeper: feeders' submissions, the per-block median price, its history and the
 * EWMA volatility (SPEC §3.2). The aggregation rules are the pure functions of
 * `types/price.ts`; this keeper stores their inputs and outputs.
 *
 * State (under the module prefix 0x03):
 *   0x00                          → Params
 *   0x01 ‖ ticker                 → (registered ticker)
 *   0x02 ‖ ticker ‖ feeder        → Submission (the feeder's latest for the ticker)
 *   0x03 ‖ ticker                 → Price (current)
 *   0x04 ‖ ticker ‖ u64 height    → Price (history, pruned to params.history_length)
 *   0x05 ‖ ticker                 → Volatility
 *   0x06 ‖ ticker                 → (a submission arrived this block: aggregate at end-block)
 * Keys are built from length-prefixed parts (store/codec.ts); iteration is in key order.
 */
import { Context } from "../../app/context";
import { Dec } from "../../math/decimal";
import { PrefixKV } from "../../store/prefix";
import { getShared, key, skey, scanProto, setProto, u64, prefixEndOf } from "../../store/codec";
import { Params, Price, Submission, Volatility } from "../../../client/src/generated/backstop/oracle/v1/oracle";
import { aggregate, nextVariance, sigmaOf } from "./types/price";
import { ErrNoPrice, ErrStalePrice, ErrUnknownTicker } from "./errors";

export const ORACLE_STORE_PREFIX = Uint8Array.of(0x03);
const PARAMS = 0x00;
const TICKER = 0x01;
const SUBMISSION = 0x02;
const PRICE = 0x03;
const HISTORY = 0x04;
const VOLATILITY = 0x05;
const DIRTY = 0x06;

export const DEFAULT_ORACLE_PARAMS: Params = {
  feeders: [],
  minFeeders: 1,
  maxStalenessSeconds: 60n,
  ewmaLambda: "0.94",
  historyLength: 1000,
  maxDeviation: "0.1",
};

const EMPTY = new Uint8Array();

export class OracleKeeper {
  private kv(ctx: Context): PrefixKV {
    return new PrefixKV(ctx.store, ORACLE_STORE_PREFIX);
  }

  getParams(ctx: Context): Params {
    return getShared(this.kv(ctx), skey(PARAMS), Params) ?? DEFAULT_ORACLE_PARAMS;
  }

  setParams(ctx: Context, p: Params): void {
    setProto(this.kv(ctx), skey(PARAMS), Params, { ...p, feeders: [...p.feeders].sort() });
  }

  isFeeder(ctx: Context, address: string): boolean {
    return this.getParams(ctx).feeders.includes(address);
  }

  addTicker(ctx: Context, ticker: string): void {
    this.kv(ctx).set(skey(TICKER, ticker), EMPTY);
  }

  hasTicker(ctx: Context, ticker: string): boolean {
    return this.kv(ctx).has(skey(TICKER, ticker));
  }

  tickers(ctx: Context): string[] {
    const out: string[] = [];
    const p = key(TICKER);
    for (const [k] of this.kv(ctx).iterator(p, prefixEndOf(p))) out.push(Buffer.from(k).subarray(2).toString());
    return out;
  }

  /** Records a feeder's price; the end-block aggregates it. */
  submit(ctx: Context, feeder: string, ticker: string, price: Dec): void {
    if (!this.hasTicker(ctx, ticker)) throw ErrUnknownTicker.wrap(ticker);
    const kv = this.kv(ctx);
    setProto(kv, skey(SUBMISSION, ticker, feeder), Submission, { feeder, ticker, price: price.toString(), height: ctx.height, timeUnixSeconds: ctx.time });
    kv.set(skey(DIRTY, ticker), EMPTY);
  }

  submissions(ctx: Context, ticker: string): Submission[] {
    return [...scanProto(this.kv(ctx), key(SUBMISSION, ticker), Submission)].map(([, s]) => s);
  }

  getPrice(ctx: Context, ticker: string): Price | undefined {
    return getShared(this.kv(ctx), skey(PRICE, ticker), Price);
  }

  /** A price is stale when no quorum has set it within max_staleness of the block time. */
  isStale(ctx: Context, price: Price): boolean {
    return ctx.time - price.timeUnixSeconds > this.getParams(ctx).maxStalenessSeconds;
  }

  /** The mark of a ticker, fresh or stale (liquidations and withdrawals never wait on freshness). */
  mark(ctx: Context, ticker: string): Dec {
    const p = this.getPrice(ctx, ticker);
    if (!p) throw ErrNoPrice.wrap(ticker);
    return Dec.parse(p.price);
  }

  /** The mark of a ticker for new exposure: throws oracle/6 when stale. */
  freshMark(ctx: Context, ticker: string): Dec {
    const p = this.getPrice(ctx, ticker);
    if (!p) throw ErrNoPrice.wrap(ticker);
    if (this.isStale(ctx, p)) throw ErrStalePrice.wrap(`${ticker} last set at ${p.timeUnixSeconds}, block time ${ctx.time}`);
    return Dec.parse(p.price);
  }

  getVolatility(ctx: Context, ticker: string): Volatility {
    return getShared(this.kv(ctx), skey(VOLATILITY, ticker), Volatility) ?? { ticker, ewmaVariance: "0", sigma: "0" };
  }

  setVolatility(ctx: Context, v: Volatility): void {
    setProto(this.kv(ctx), skey(VOLATILITY, v.ticker), Volatility, v);
  }

  sigma(ctx: Context, ticker: string): Dec {
    return Dec.parse(this.getVolatility(ctx, ticker).sigma);
  }

  /** History of a ticker, oldest first. */
  history(ctx: Context, ticker: string): Price[] {
    return [...scanProto(this.kv(ctx), key(HISTORY, ticker), Price)].map(([, p]) => p);
  }

  /** Sets a price (genesis, or the end-block aggregate) and appends it to the history. */
  setPrice(ctx: Context, p: Price): void {
    const kv = this.kv(ctx);
    setProto(kv, skey(PRICE, p.ticker), Price, p);
    setProto(kv, Buffer.concat([key(HISTORY, p.ticker), u64(p.height)]), Price, p);
    const limit = this.getParams(ctx).historyLength;
    const hp = key(HISTORY, p.ticker);
    const keys: Buffer[] = [];
    for (const [k] of kv.iterator(hp, prefixEndOf(hp))) keys.push(Buffer.from(k));
    for (let i = 0; i + limit < keys.length; i++) kv.delete(keys[i]);
  }

  /**
   * End-block: for every ticker that received a submission this block, the median of the
   * latest fresh submission of each feeder becomes the price (if a quorum is fresh), and
   * the EWMA variance moves by the squared return. Returns the updated prices.
   */
  endBlock(ctx: Context): Price[] {
    const kv = this.kv(ctx);
    const params = this.getParams(ctx);
    const dirty: string[] = [];
    const dp = key(DIRTY);
    for (const [k] of kv.iterator(dp, prefixEndOf(dp))) dirty.push(Buffer.from(k).subarray(2).toString());
    const updated: Price[] = [];
    for (const ticker of dirty) {
      kv.delete(skey(DIRTY, ticker));
      const subs = this.submissions(ctx, ticker).filter((s) => params.feeders.includes(s.feeder));
      const agg = aggregate(
        subs.map((s) => ({ feeder: s.feeder, price: Dec.parse(s.price), time: s.timeUnixSeconds })),
        ctx.time,
        { minFeeders: params.minFeeders, maxStalenessSeconds: params.maxStalenessSeconds, maxDeviation: Dec.parse(params.maxDeviation) },
      );
      if (!agg.ok) continue;
      const prev = this.getPrice(ctx, ticker);
      const price: Price = { ticker, price: agg.price.toString(), height: ctx.height, timeUnixSeconds: ctx.time, numFeeders: agg.feeders };
      this.setPrice(ctx, price);
      const vol = this.getVolatility(ctx, ticker);
      let variance = Dec.parse(vol.ewmaVariance);
      if (prev) variance = nextVariance(variance, Dec.parse(prev.price), agg.price, Dec.parse(params.ewmaLambda));
      const sigma = sigmaOf(variance);
      this.setVolatility(ctx, { ticker, ewmaVariance: variance.toString(), sigma: sigma.toString() });
      ctx.events.emitTyped("backstop.oracle.v1.EventPriceUpdated", {
        ticker,
        price: price.price,
        previous_price: prev?.price ?? "",
        sigma: sigma.toString(),
        num_feeders: agg.feeders,
        dropped: agg.dropped,
      });
      updated.push(price);
    }
    return updated;
  }
}

