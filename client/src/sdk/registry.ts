/**
 * Every Backstop Msg as CosmJS `GeneratedType`s, per module (like `@cosmjs/stargate`'s
 * `bankTypes`), and a `Registry` with the Cosmos defaults plus all of them.
 */
import { GeneratedType, Registry } from "@cosmjs/proto-signing";
import { defaultRegistryTypes } from "@cosmjs/stargate";
import * as oracle from "../generated/backstop/oracle/v1/tx";
import * as margin from "../generated/backstop/margin/v1/tx";
import * as clearing from "../generated/backstop/clearing/v1/tx";
import * as insurance from "../generated/backstop/insurance/v1/tx";

/** ts-proto's MessageFns satisfy CosmJS's TsProtoGeneratedType (encode/decode/fromPartial). */
const t = (x: unknown): GeneratedType => x as GeneratedType;

export const oracleTypes: ReadonlyArray<[string, GeneratedType]> = [
  ["/backstop.oracle.v1.MsgSubmitPrice", t(oracle.MsgSubmitPrice)],
  ["/backstop.oracle.v1.MsgUpdateParams", t(oracle.MsgUpdateParams)],
];

export const marginTypes: ReadonlyArray<[string, GeneratedType]> = [
  ["/backstop.margin.v1.MsgDeposit", t(margin.MsgDeposit)],
  ["/backstop.margin.v1.MsgWithdraw", t(margin.MsgWithdraw)],
  ["/backstop.margin.v1.MsgAddPositionMargin", t(margin.MsgAddPositionMargin)],
  ["/backstop.margin.v1.MsgRemovePositionMargin", t(margin.MsgRemovePositionMargin)],
  ["/backstop.margin.v1.MsgUpdateParams", t(margin.MsgUpdateParams)],
];

export const clearingTypes: ReadonlyArray<[string, GeneratedType]> = [
  ["/backstop.clearing.v1.MsgPlaceOrder", t(clearing.MsgPlaceOrder)],
  ["/backstop.clearing.v1.MsgCancelOrder", t(clearing.MsgCancelOrder)],
  ["/backstop.clearing.v1.MsgBidLiquidation", t(clearing.MsgBidLiquidation)],
  ["/backstop.clearing.v1.MsgCreateMarket", t(clearing.MsgCreateMarket)],
  ["/backstop.clearing.v1.MsgUpdateMarket", t(clearing.MsgUpdateMarket)],
  ["/backstop.clearing.v1.MsgUpdateParams", t(clearing.MsgUpdateParams)],
];

export const insuranceTypes: ReadonlyArray<[string, GeneratedType]> = Object.entries(insurance)
  .filter(([name, v]) => /^Msg[A-Za-z]+$/.test(name) && !name.endsWith("Response") && name !== "MsgServiceName" && typeof (v as { encode?: unknown }).encode === "function")
  .map(([name, v]) => [`/backstop.insurance.v1.${name}`, t(v)] as [string, GeneratedType])
  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export const backstopTypes: ReadonlyArray<[string, GeneratedType]> = [...oracleTypes, ...marginTypes, ...clearingTypes, ...insuranceTypes];

/** A registry with the Cosmos SDK defaults (bank, …) and every Backstop Msg. */
export function backstopRegistry(): Registry {
  return new Registry([...defaultRegistryTypes, ...backstopTypes]);
}
