/** x/auth as an app module: account queries and genesis. It has no Msgs. */
import {
  QueryAccountRequest,
  QueryAccountResponse,
  QueryParamsRequest,
  QueryParamsResponse,
} from "cosmjs-types/cosmos/auth/v1beta1/query";
import { AppModule, defineQuery } from "../../app/module";
import { Context } from "../../app/context";
import { ErrInvalidAddress, ErrInvalidRequest, ErrKeyNotFound } from "../../app/errors";
import { isValidAddress } from "../../crypto/keys";
import { AUTH_PARAMS, AuthKeeper } from "./keeper";

/** Genesis JSON of x/auth. */
export interface AuthGenesis {
  /** The params authority (empty: no one may change params). */
  authority?: string;
  accounts: { address: string; account_number: string; sequence: string; pub_key?: string | null }[];
}

export class AuthModule implements AppModule {
  readonly name = "auth";
  readonly msgs = [];
  readonly queries;

  constructor(readonly keeper: AuthKeeper) {
    this.queries = [
      defineQuery("/cosmos.auth.v1beta1.Query/Account", QueryAccountRequest, QueryAccountResponse, (ctx, req) => {
        if (!isValidAddress(req.address)) throw ErrInvalidAddress.wrap(`invalid address ${JSON.stringify(req.address)}`);
        const account = keeper.accountAny(ctx, req.address);
        // CosmJS recognises a missing account by gRPC's NotFound wording.
        if (!account) throw ErrKeyNotFound.wrap(`rpc error: code = NotFound desc = account ${req.address} not found`);
        return { account };
      }),
      defineQuery("/cosmos.auth.v1beta1.Query/Params", QueryParamsRequest, QueryParamsResponse, () => ({ params: AUTH_PARAMS })),
    ];
  }

  defaultGenesis(): AuthGenesis {
    return { accounts: [] };
  }

  initGenesis(ctx: Context, g: unknown): void {
    const genesis = g as AuthGenesis;
    if (genesis.authority) {
      if (!isValidAddress(genesis.authority)) throw ErrInvalidAddress.wrap(`genesis authority ${JSON.stringify(genesis.authority)}`);
      this.keeper.setAuthority(ctx, genesis.authority);
    }
    const seen = new Set<string>();
    for (const a of genesis.accounts ?? []) {
      if (!isValidAddress(a.address)) throw ErrInvalidAddress.wrap(`genesis account ${JSON.stringify(a.address)}`);
      if (seen.has(a.address)) throw ErrInvalidRequest.wrap(`duplicate genesis account ${a.address}`);
      seen.add(a.address);
      const acc = this.keeper.newAccount(ctx, a.address);
      acc.sequence = BigInt(a.sequence ?? "0");
      acc.pubkey = a.pub_key ? Buffer.from(a.pub_key, "base64") : null;
      this.keeper.setAccount(ctx, acc);
    }
  }

  exportGenesis(ctx: Context): AuthGenesis {
    const accounts = [...this.keeper.accounts(ctx)]
      .sort((x, y) => (x.accountNumber < y.accountNumber ? -1 : 1))
      .map((a) => ({
        address: a.address,
        account_number: a.accountNumber.toString(),
        sequence: a.sequence.toString(),
        pub_key: a.pubkey ? Buffer.from(a.pubkey).toString("base64") : null,
      }));
    return { authority: this.keeper.getAuthority(ctx), accounts };
  }
}
