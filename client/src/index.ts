/** The Backstop TypeScript SDK: generated types, the CosmJS registry, query extensions and the client. */
export * from "./sdk/registry";
export * from "./sdk/queries";
export * from "./sdk/client";
export * from "./sdk/events";
export * as oracleV1 from "./generated/backstop/oracle/v1/tx";
export * as marginV1 from "./generated/backstop/margin/v1/tx";
export * as clearingV1 from "./generated/backstop/clearing/v1/tx";
export * as insuranceV1 from "./generated/backstop/insurance/v1/tx";
