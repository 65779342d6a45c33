/**
 * The module contract and the module manager: a module brings its Msgs (with their
 * signer and stateless checks), its query methods, genesis import/export and its
 * end-block hook. The manager routes Msgs by type URL and queries by path, and runs
 * end blockers in a fixed order.
 */
import { Context } from "./context";
import { ErrInvalidAddress, ErrUnknownRequest } from "./errors";
import { isValidAddress } from "../crypto/keys";

export interface ProtoType<T> {
  encode(message: T, writer?: any): { finish(): Uint8Array };
  decode(input: Uint8Array, length?: number): T;
}

export interface MsgDef<T = any> {
  readonly typeUrl: string;
  readonly type: ProtoType<T>;
  /** The one address that must sign this Msg (`cosmos.msg.v1.signer`). */
  signer(msg: T): string;
  /** Stateless checks; throw a registered error. */
  validateBasic(msg: T): void;
  /** Stateful checks to run at CheckTx as well (optional); throw a registered error. */
  check?(ctx: Context, msg: T): void;
  /**
   * What CheckTx records on the check state once the tx is admitted to the mempool
   * (optional; like the ante handler's sequence), e.g. a per-block count that later
   * CheckTx calls read. Its writes are discarded with the check state at the next commit.
   */
  admit?(ctx: Context, msg: T): void;
  /** Executes the Msg and returns its encoded response (type URL `${typeUrl}Response`). */
  handle(ctx: Context, msg: T): Uint8Array;
}

export interface QueryDef {
  /** Full gRPC method path, e.g. `/cosmos.bank.v1beta1.Query/Balance`. */
  readonly path: string;
  handle(ctx: Context, request: Uint8Array): Uint8Array;
}

export interface AppModule {
  readonly name: string;
  readonly msgs: readonly MsgDef[];
  readonly queries: readonly QueryDef[];
  defaultGenesis(): unknown;
  initGenesis(ctx: Context, genesis: unknown): void;
  exportGenesis(ctx: Context): unknown;
  endBlock?(ctx: Context): void;
}

/** Builds a MsgDef whose handler takes a decoded Msg and returns a response message. */
/** What checks that a signer is the params authority (the auth keeper). */
export interface Authority {
  requireAuthority(ctx: Context, signer: string): void;
}

/**
 * A Msg only the params authority may send (its `authority` field is the signer): the
 * address is checked with the stateless checks, the signer against the authority at
 * delivery, then `handle` runs.
 */
export function defineAuthorityMsg<T extends { authority: string }, R>(
  auth: Authority,
  def: { typeUrl: string; type: ProtoType<T>; response: ProtoType<R>; validate: (msg: T) => void; handle: (ctx: Context, msg: T) => R },
): MsgDef<T> {
  return defineMsg({
    typeUrl: def.typeUrl,
    type: def.type,
    response: def.response,
    signer: (m) => m.authority,
    validateBasic: (m) => {
      if (!isValidAddress(m.authority)) throw ErrInvalidAddress.wrap(`invalid authority address ${JSON.stringify(m.authority)}`);
      def.validate(m);
    },
    handle: (ctx, m) => {
      auth.requireAuthority(ctx, m.authority);
      return def.handle(ctx, m);
    },
  });
}

export function defineMsg<T, R>(def: {
  typeUrl: string;
  type: ProtoType<T>;
  response: ProtoType<R>;
  signer: (msg: T) => string;
  validateBasic: (msg: T) => void;
  check?: (ctx: Context, msg: T) => void;
  admit?: (ctx: Context, msg: T) => void;
  handle: (ctx: Context, msg: T) => R;
}): MsgDef<T> {
  return {
    typeUrl: def.typeUrl,
    type: def.type,
    signer: def.signer,
    validateBasic: def.validateBasic,
    check: def.check,
    admit: def.admit,
    handle: (ctx, msg) => def.response.encode(def.handle(ctx, msg)).finish(),
  };
}

/** Builds a QueryDef from a request decoder, a handler and a response encoder. */
export function defineQuery<Q, R>(
  path: string,
  req: ProtoType<Q>,
  res: ProtoType<R>,
  handle: (ctx: Context, request: Q) => R,
): QueryDef {
  return { path, handle: (ctx, data) => res.encode(handle(ctx, req.decode(data))).finish() };
}

export class ModuleManager {
  private readonly msgRoutes = new Map<string, MsgDef>();
  private readonly queryRoutes = new Map<string, QueryDef>();

  constructor(readonly modules: readonly AppModule[]) {
    for (const m of modules) {
      for (const d of m.msgs) {
        if (this.msgRoutes.has(d.typeUrl)) throw new Error(`msg ${d.typeUrl} registered twice`);
        this.msgRoutes.set(d.typeUrl, d);
      }
      for (const q of m.queries) {
        if (this.queryRoutes.has(q.path)) throw new Error(`query ${q.path} registered twice`);
        this.queryRoutes.set(q.path, q);
      }
    }
  }

  msg(typeUrl: string): MsgDef {
    const d = this.msgRoutes.get(typeUrl);
    if (!d) throw ErrUnknownRequest.wrap(`unrecognized message type ${typeUrl}`);
    return d;
  }

  query(path: string): QueryDef | undefined {
    return this.queryRoutes.get(path);
  }

  msgTypeUrls(): string[] {
    return [...this.msgRoutes.keys()].sort();
  }
}
