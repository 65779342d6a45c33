/**
 * The ABCI 2.0 surface of the application (CometBFT 0.38 semantics).
 *
 * Both ways of running the chain drive the application only through this interface:
 * the built-in engine (chain/engine) calls it in-process, and the socket server
 * (chain/abci) decodes CometBFT's length-prefixed protobuf requests into these same
 * types (generated from CometBFT's own protos, shipped by cosmjs-types).
 *
 * Every method is synchronous: the application is a deterministic state machine and
 * its store is an embedded database with a synchronous API.
 */
import type {
  RequestCheckTx,
  RequestFinalizeBlock,
  RequestInfo,
  RequestInitChain,
  RequestPrepareProposal,
  RequestProcessProposal,
  RequestQuery,
  ResponseCheckTx,
  ResponseCommit,
  ResponseFinalizeBlock,
  ResponseInfo,
  ResponseInitChain,
  ResponsePrepareProposal,
  ResponseProcessProposal,
  ResponseQuery,
} from "cosmjs-types/tendermint/abci/types";

export * from "cosmjs-types/tendermint/abci/types";

export interface AbciApplication {
  info(req: RequestInfo): ResponseInfo;
  initChain(req: RequestInitChain): ResponseInitChain;
  checkTx(req: RequestCheckTx): ResponseCheckTx;
  prepareProposal(req: RequestPrepareProposal): ResponsePrepareProposal;
  processProposal(req: RequestProcessProposal): ResponseProcessProposal;
  finalizeBlock(req: RequestFinalizeBlock): ResponseFinalizeBlock;
  /**
   * FinalizeBlock in steps (optional): the same execution and response as `finalizeBlock`,
   * so that a host can serve other work (CheckTx, queries) between steps. Nothing else may
   * run FinalizeBlock or Commit until `finish` has returned.
   */
  beginFinalizeBlock?(req: RequestFinalizeBlock): FinalizeRun;
  commit(): ResponseCommit;
  query(req: RequestQuery): ResponseQuery;
  /** Releases the database; the application cannot be used afterwards. */
  close(): void;
}

/** A FinalizeBlock under way (`AbciApplication.beginFinalizeBlock`). */
export interface FinalizeRun {
  /** Whether every transaction has run. */
  readonly done: boolean;
  /** Runs up to `n` more transactions. */
  step(n: number): void;
  /** Runs what is left and the end-block hooks, and returns the response. */
  finish(): ResponseFinalizeBlock;
}
