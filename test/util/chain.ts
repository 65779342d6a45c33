/** A test chain: an in-process application driven block by block with signed txs, and typed queries. */
import { BackstopApp } from "../../chain/app/app";
import { GENESIS_TIME, initLocalnetApp, runBlock, signTx, TestAccount } from "./localnet";
import { Dec } from "../../chain/math/decimal";
import * as OracleQ from "../../client/src/generated/backstop/oracle/v1/query";
import * as MarginQ from "../../client/src/generated/backstop/margin/v1/query";
import { QueryBalanceRequest, QueryBalanceResponse } from "cosmjs-types/cosmos/bank/v1beta1/query";
import { Any } from "cosmjs-types/google/protobuf/any";
import { TxMsgData } from "cosmjs-types/cosmos/base/abci/v1beta1/abci";

export type Codec<T> = { encode(m: T): { finish(): Uint8Array }; decode(b: Uint8Array): T; fromPartial(o: any): T };

export function msg<T>(typeUrl: string, type: Codec<T>, value: Partial<T>): Any {
  return { typeUrl, value: type.encode(type.fromPartial(value)).finish() };
}

export class Chain {
  height = 0n;
  time = GENESIS_TIME;
  private seq = new Map<string, bigint>();
  private history: { type: string; attributes: { key: string; value: string }[] }[] = [];
  private lastResults: { events: { type: string; attributes: { key: string; value: string }[] }[] }[] = [];
  constructor(
    readonly app: BackstopApp,
    readonly accounts: TestAccount[],
  ) {}
  /** One block of one tx per (signer, msgs); returns each tx's result. Time advances `dt` seconds. */
  block(txs: [TestAccount, Any[]][], dt = 1n) {
    this.height += 1n;
    this.time += dt;
    const bytes = txs.map(([who, msgs]) => {
      const idx = BigInt(this.accounts.indexOf(who));
      const s = this.seq.get(who.address) ?? 0n;
      this.seq.set(who.address, s + 1n);
      return signTx(who, msgs, { accountNumber: idx, sequence: s });
    });
    const res = runBlock(this.app, this.height, bytes, this.time);
    this.lastResults = [...res.txResults, { events: res.events } as any];
    for (const r of this.lastResults) this.history.push(...r.events);
    return res.txResults;
  }
  /** Attributes (JSON-decoded) of the last block's tx events of a type. */
  lastEvents(type: string): Record<string, any>[] {
    return this.lastResults.flatMap((r) => r.events.filter((e) => e.type === type).map((e) => Object.fromEntries(e.attributes.map((a) => [a.key, JSON.parse(a.value)]))));
  }
  /** Attributes of every event of a type in every block so far. */
  allEvents(type: string): Record<string, any>[] {
    return this.history.filter((e) => e.type === type).map((e) => Object.fromEntries(e.attributes.map((a) => [a.key, JSON.parse(a.value)])));
  }
  /** The encoded Msg responses of a tx result. */
  msgResponses(r: { data: Uint8Array }): Uint8Array[] {
    return TxMsgData.decode(r.data).msgResponses.map((a) => a.value);
  }
  /** Checks a tx against CheckTx without including it (the sequence is not consumed). */
  check(who: TestAccount, msgs: Any[]) {
    const s = this.seq.get(who.address) ?? 0n;
    return this.app.checkTx({ tx: signTx(who, msgs, { accountNumber: BigInt(this.accounts.indexOf(who)), sequence: s }), type: 0 });
  }
  query<Q, R>(path: string, req: Codec<Q>, res: Codec<R>, value: Partial<Q>): R {
    const r = this.app.query({ path, data: req.encode(req.fromPartial(value)).finish(), height: 0n, prove: false });
    if (r.code !== 0) throw Object.assign(new Error(r.log), { code: r.code, codespace: r.codespace });
    return res.decode(r.value);
  }
  queryError(path: string, req: Codec<any>, value: any): { code: number; codespace: string } {
    const r = this.app.query({ path, data: req.encode(req.fromPartial(value)).finish(), height: 0n, prove: false });
    return { code: r.code, codespace: r.codespace };
  }
  balance(addr: string, denom = "uusdc"): bigint {
    const r = this.app.query({ path: "/cosmos.bank.v1beta1.Query/Balance", data: QueryBalanceRequest.encode({ address: addr, denom }).finish(), height: 0n, prove: false });
    return BigInt(QueryBalanceResponse.decode(r.value).balance!.amount);
  }
  free(addr: string): bigint {
    return BigInt(this.query("/backstop.margin.v1.Query/Account", MarginQ.QueryAccountRequest, MarginQ.QueryAccountResponse, { address: addr }).account!.freeCollateralUusdc);
  }
  price(ticker: string) {
    return this.query("/backstop.oracle.v1.Query/Price", OracleQ.QueryPriceRequest, OracleQ.QueryPriceResponse, { ticker });
  }
  sigma(ticker: string): Dec {
    return Dec.parse(this.query("/backstop.oracle.v1.Query/Volatility", OracleQ.QueryVolatilityRequest, OracleQ.QueryVolatilityResponse, { ticker }).volatility!.sigma);
  }
}


/**
 * A genesis edit: the localnet's pools without their protocol seed capital (empty, as a
 * new pool is), for tests that compute pool figures by hand from zero. The open-interest
 * cap relative to the pools is off (an empty pool would let no market take new exposure).
 */
export function emptyPools(s: Record<string, any>): void {
  for (const m of s.clearing.markets) m.max_oi_to_pool = "0";
  for (const p of s.insurance.pools) {
    for (const k of ["balance_uusdc", "total_shares", "locked_shares", "escrowed_shares", "debt_uusdc", "net_assets_uusdc"]) delete p[k];
  }
  s.bank.balances = s.bank.balances.filter((b: any) => !b.coins.some((c: any) => c.denom.startsWith("share/")));
}

export async function chain(edit?: (s: Record<string, any>) => void): Promise<Chain> {
  const { app, accounts } = await initLocalnetApp(undefined, edit);
  return new Chain(app, accounts);
}
