/** x/bank as an app module: MsgSend, the balance and supply queries CosmJS uses, genesis. */
import { MsgSend, MsgSendResponse } from "cosmjs-types/cosmos/bank/v1beta1/tx";
import {
  QueryAllBalancesRequest,
  QueryAllBalancesResponse,
  QueryBalanceRequest,
  QueryBalanceResponse,
  QueryDenomMetadataRequest,
  QueryDenomMetadataResponse,
  QueryDenomsMetadataRequest,
  QueryDenomsMetadataResponse,
  QuerySupplyOfRequest,
  QuerySupplyOfResponse,
  QueryTotalSupplyRequest,
  QueryTotalSupplyResponse,
} from "cosmjs-types/cosmos/bank/v1beta1/query";
import { AppModule, defineMsg, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { coinAmount, isValidDenom, validateSendCoins } from "../../app/coins";
import { ErrInvalidAddress, ErrInvalidCoins, ErrInvalidRequest, ErrNotFound, ErrUnauthorized } from "../../app/errors";
import { Metadata } from "cosmjs-types/cosmos/bank/v1beta1/bank";
import { isValidAddress } from "../../crypto/keys";
import { BankKeeper } from "./keeper";

/** The chain's coins as wallets show them: uusdc (the collateral, 6 decimals) and ustake (fees too). */
export const DENOM_METADATA: readonly Metadata[] = [
  { description: "USD Coin, the collateral (SPEC §2)", denomUnits: [{ denom: "uusdc", exponent: 0, aliases: ["microusdc"] }, { denom: "usdc", exponent: 6, aliases: [] }], base: "uusdc", display: "usdc", name: "USD Coin", symbol: "USDC", uri: "", uriHash: "" },
  { description: "The staking token (fees may be paid in it)", denomUnits: [{ denom: "ustake", exponent: 0, aliases: [] }, { denom: "stake", exponent: 6, aliases: [] }], base: "ustake", display: "stake", name: "Stake", symbol: "STAKE", uri: "", uriHash: "" },
];

export interface BankGenesis {
  balances: { address: string; coins: { denom: string; amount: string }[] }[];
}

function requireAddress(a: string, what: string): void {
  if (!isValidAddress(a)) throw ErrInvalidAddress.wrap(`invalid ${what} address ${JSON.stringify(a)}`);
}

export class BankModule implements AppModule {
  readonly name = "bank";
  readonly msgs;
  readonly queries;

  constructor(readonly keeper: BankKeeper) {
    this.msgs = [
      defineMsg({
        typeUrl: "/cosmos.bank.v1beta1.MsgSend",
        type: MsgSend,
        response: MsgSendResponse,
        signer: (m) => m.fromAddress,
        validateBasic: (m) => {
          requireAddress(m.fromAddress, "sender");
          requireAddress(m.toAddress, "recipient");
          validateSendCoins(m.amount);
        },
        handle: (ctx, m) => {
          if (keeper.isBlocked(m.toAddress)) throw ErrUnauthorized.wrap(`${m.toAddress} is not allowed to receive funds`);
          for (const c of m.amount) keeper.send(ctx, m.fromAddress, m.toAddress, c.denom, coinAmount(c));
          return {};
        },
      }),
    ];
    this.queries = [
      defineQuery("/cosmos.bank.v1beta1.Query/Balance", QueryBalanceRequest, QueryBalanceResponse, (ctx, r) => {
        requireAddress(r.address, "");
        if (!isValidDenom(r.denom)) throw ErrInvalidCoins.wrap(`invalid denom ${JSON.stringify(r.denom)}`);
        return { balance: { denom: r.denom, amount: keeper.getBalance(ctx, r.address, r.denom).toString() } };
      }),
      defineQuery("/cosmos.bank.v1beta1.Query/AllBalances", QueryAllBalancesRequest, QueryAllBalancesResponse, (ctx, r) => {
        requireAddress(r.address, "");
        const balances = keeper.getAllBalances(ctx, r.address);
        return { balances, pagination: { nextKey: new Uint8Array(), total: BigInt(balances.length) } };
      }),
      defineQuery("/cosmos.bank.v1beta1.Query/TotalSupply", QueryTotalSupplyRequest, QueryTotalSupplyResponse, (ctx) => {
        const supply = keeper.getTotalSupply(ctx);
        return { supply, pagination: { nextKey: new Uint8Array(), total: BigInt(supply.length) } };
      }),
      defineQuery("/cosmos.bank.v1beta1.Query/DenomMetadata", QueryDenomMetadataRequest, QueryDenomMetadataResponse, (_ctx, r) => {
        const metadata = DENOM_METADATA.find((m) => m.base === r.denom);
        if (!metadata) throw ErrNotFound.wrap(`client metadata for denom ${r.denom}`);
        return { metadata };
      }),
      defineQuery("/cosmos.bank.v1beta1.Query/DenomsMetadata", QueryDenomsMetadataRequest, QueryDenomsMetadataResponse, () => ({
        metadatas: [...DENOM_METADATA],
        pagination: { nextKey: new Uint8Array(), total: BigInt(DENOM_METADATA.length) },
      })),
      defineQuery("/cosmos.bank.v1beta1.Query/SupplyOf", QuerySupplyOfRequest, QuerySupplyOfResponse, (ctx, r) => {
        if (!isValidDenom(r.denom)) throw ErrInvalidCoins.wrap(`invalid denom ${JSON.stringify(r.denom)}`);
        return { amount: { denom: r.denom, amount: keeper.getSupply(ctx, r.denom).toString() } };
      }),
    ];
  }

  defaultGenesis(): BankGenesis {
    return { balances: [] };
  }

  initGenesis(ctx: Context, g: unknown): void {
    const genesis = g as BankGenesis;
    for (const b of genesis.balances ?? []) {
      requireAddress(b.address, "genesis balance");
      for (const c of b.coins) {
        const amount = coinAmount(c);
        if (amount <= 0n) throw ErrInvalidRequest.wrap(`genesis balance of ${b.address} must be positive`);
        this.keeper.initBalance(ctx, b.address, c.denom, amount);
      }
    }
  }

  exportGenesis(ctx: Context): BankGenesis {
    return { balances: [...this.keeper.balances(ctx)] };
  }
}
