/** x/bank as an app module: MsgSend, the balance and supply queries CosmJS uses, genesis. */
import { MsgSend, MsgSendResponse } from "cosmjs-types/cosmos/bank/v1beta1/tx";
import {
  QueryAllBalancesRequest,
  QueryAllBalancesResponse,
  QueryBalanceRequest,
  QueryBalanceResponse,
  QuerySupplyOfRequest,
  QuerySupplyOfResponse,
  QueryTotalSupplyRequest,
  QueryTotalSupplyResponse,
} from "cosmjs-types/cosmos/bank/v1beta1/query";
import { AppModule, defineMsg, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { coinAmount, isValidDenom, validateSendCoins } from "../../app/coins";
import { ErrInvalidAddress, ErrInvalidCoins, ErrInvalidRequest, ErrUnauthorized } from "../../app/errors";
import { isValidAddress } from "../../crypto/keys";
import { BankKeeper } from "./keeper";

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
