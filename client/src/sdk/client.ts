/**
 * BackstopClient: a SigningStargateClient with every Backstop Msg registered, typed
 * transaction methods, typed queries, and errors that carry the chain's code and
 * codespace.
 *
 *   const wallet = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: "backstop" });
 *   const client = await BackstopClient.connect("http://127.0.0.1:26657", wallet);
 *   await client.depositCollateral(1_000_000_000n);
 *   const { price } = await client.query.oracle.price("BTC-USD");
 */
import { EncodeObject, encodePubkey, OfflineDirectSigner, OfflineSigner } from "@cosmjs/proto-signing";
import { encodeSecp256k1Pubkey } from "@cosmjs/amino";
import { fromHex } from "@cosmjs/encoding";
import { AuthInfo, Fee, TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { SignMode } from "cosmjs-types/cosmos/tx/signing/v1beta1/signing";
import { SimulateRequest, SimulateResponse } from "cosmjs-types/cosmos/tx/v1beta1/service";
import {
  BankExtension,
  BroadcastTxError,
  calculateFee,
  Coin,
  DeliverTxResponse,
  GasPrice,
  QueryClient,
  setupBankExtension,
  SigningStargateClient,
  StdFee,
  TimeoutError,
} from "@cosmjs/stargate";
import { Comet38Client } from "@cosmjs/tendermint-rpc";
import { backstopRegistry } from "./registry";
import {
  ClearingExtension,
  InsuranceExtension,
  MarginExtension,
  OracleExtension,
  setupClearingExtension,
  setupInsuranceExtension,
  setupMarginExtension,
  setupOracleExtension,
} from "./queries";

export type BackstopQueryClient = QueryClient & BankExtension & OracleExtension & MarginExtension & ClearingExtension & InsuranceExtension;

/** A transaction the chain refused, at CheckTx or in its block, with the registered error. */
export class BackstopTxError extends Error {
  constructor(
    message: string,
    readonly codespace: string,
    readonly code: number,
    readonly txhash?: string,
    readonly height?: number,
    /** The included tx's response, when the tx was included in a block and failed there. */
    readonly response?: DeliverTxResponse,
  ) {
    super(message);
    this.name = "BackstopTxError";
  }
}

/** A query the chain refused, with the registered error. */
export class BackstopQueryError extends Error {
  constructor(
    message: string,
    readonly codespace: string,
    readonly code: number,
  ) {
    super(message);
    this.name = "BackstopQueryError";
  }
}

/** CosmJS's QueryClient, but its errors keep the chain's codespace (BackstopQueryError). */
class CodedQueryClient extends QueryClient {
  constructor(private readonly comet: Comet38Client) {
    super(comet);
  }

  override async queryAbci(path: string, request: Uint8Array, desiredHeight?: number): Promise<{ value: Uint8Array; height: number }> {
    const r = await this.comet.abciQuery({ path, data: request, prove: false, height: desiredHeight });
    if (r.code) throw new BackstopQueryError(r.log ?? "", r.codespace ?? "", r.code);
    return { value: r.value, height: r.height ?? 0 };
  }
}

export interface BackstopClientOptions {
  /** Gas price: the fee is gas × this price (default 0.025uusdc), unless `fees` is given. */
  readonly gasPrice?: string;
  /** Multiplier on simulated gas (default 1.5). */
  readonly gasMultiplier?: number;
  /** Every tx's gas limit: "auto" (default) simulates each tx and applies `gasMultiplier`. */
  readonly gas?: number | "auto";
  /** A fixed fee for every tx (e.g. `{ denom: "uusdc", amount: "5000" }`) instead of gas × `gasPrice`. */
  readonly fees?: Coin;
  /** How long to wait for inclusion (default 60 s) and how often to poll (default 500 ms). */
  readonly broadcastTimeoutMs?: number;
  readonly broadcastPollIntervalMs?: number;
}

/** How a client pays for its txs when a call gives no fee (see BackstopClientOptions). */
interface FeePolicy {
  readonly gasPrice: GasPrice;
  readonly gasMultiplier: number;
  readonly gas: number | "auto";
  readonly fees: Coin | undefined;
}

export const COLLATERAL_DENOM = "uusdc";

const coin = (amount: bigint | string, denom = COLLATERAL_DENOM) => ({ denom, amount: BigInt(amount).toString() });

export class BackstopClient {
  private constructor(
    readonly signing: SigningStargateClient,
    readonly query: BackstopQueryClient,
    private readonly comet: Comet38Client,
    readonly sender: string | undefined,
    private readonly signer: OfflineSigner | undefined,
    private readonly fee: FeePolicy,
    private readonly broadcast: { readonly timeoutMs: number; readonly pollIntervalMs: number },
  ) {}

  /** Connects to a node's RPC (http://host:26657); with a signer, the first account signs. */
  static async connect(endpoint: string, signer?: OfflineSigner, o: BackstopClientOptions = {}): Promise<BackstopClient> {
    const comet = await Comet38Client.connect(endpoint);
    const options = {
      registry: backstopRegistry(),
      gasPrice: GasPrice.fromString(o.gasPrice ?? "0.025uusdc"),
      broadcastTimeoutMs: o.broadcastTimeoutMs ?? 60_000,
      broadcastPollIntervalMs: o.broadcastPollIntervalMs ?? 500,
    };
    const readOnly: OfflineDirectSigner = {
      getAccounts: async () => [],
      signDirect: async () => {
        throw new Error("this client has no signer");
      },
    };
    const signing = await SigningStargateClient.createWithSigner(comet, signer ?? readOnly, options);
    const base = new CodedQueryClient(comet);
    const query: BackstopQueryClient = Object.assign(
      base,
      setupBankExtension(base),
      setupOracleExtension(base),
      setupMarginExtension(base),
      setupClearingExtension(base),
      setupInsuranceExtension(base),
    );
    const sender = signer ? (await signer.getAccounts())[0]?.address : undefined;
    const gas = o.gas ?? "auto";
    if (gas !== "auto" && !(Number.isSafeInteger(gas) && gas > 0)) throw new Error(`gas must be "auto" or a positive whole number, got ${gas}`);
    return new BackstopClient(signing, query, comet, sender, signer, { gasPrice: options.gasPrice, gasMultiplier: o.gasMultiplier ?? 1.5, gas, fees: o.fees }, { timeoutMs: options.broadcastTimeoutMs, pollIntervalMs: options.broadcastPollIntervalMs });
  }

  disconnect(): void {
    this.signing.disconnect();
    this.comet.disconnect();
  }

  private from(): string {
    if (!this.sender) throw new Error("this client has no signer");
    return this.sender;
  }

  /**
   * Simulates the transaction through the node (ABCI query `Simulate`) and returns the
   * gas it used; a refusal throws BackstopTxError with the chain's codespace and code.
   */
  async simulate(messages: readonly EncodeObject[], memo = ""): Promise<bigint> {
    const from = this.from();
    const account = (await this.signer!.getAccounts()).find((a) => a.address === from);
    if (!account) throw new Error(`signer has no account ${from}`);
    const onChain = await this.signing.getAccount(from);
    const bodyBytes = this.signing.registry.encodeTxBody({ messages: [...messages], memo });
    const authInfoBytes = AuthInfo.encode(
      AuthInfo.fromPartial({
        signerInfos: [{ publicKey: encodePubkey(encodeSecp256k1Pubkey(account.pubkey)), modeInfo: { single: { mode: SignMode.SIGN_MODE_UNSPECIFIED } }, sequence: BigInt(onChain?.sequence ?? 0) }],
        fee: Fee.fromPartial({}),
      }),
    ).finish();
    const txBytes = TxRaw.encode({ bodyBytes, authInfoBytes, signatures: [new Uint8Array()] }).finish();
    const r = await this.comet.abciQuery({ path: "/cosmos.tx.v1beta1.Service/Simulate", data: SimulateRequest.encode({ txBytes }).finish() });
    if (r.code) throw new BackstopTxError(r.log ?? "", r.codespace ?? "", r.code);
    return SimulateResponse.decode(r.value).gasInfo?.gasUsed ?? 0n;
  }

  /**
   * Simulates, signs, broadcasts and waits for inclusion. Throws BackstopTxError when
   * simulation, CheckTx or delivery fails, with the chain's codespace and code.
   */
  async signAndBroadcast(messages: readonly EncodeObject[], memo = "", fee?: StdFee): Promise<DeliverTxResponse> {
    const from = this.from();
    if (!fee) {
      const p = this.fee;
      const gas = p.gas === "auto" ? Math.ceil(Number(await this.simulate(messages, memo)) * p.gasMultiplier) : p.gas;
      fee = p.fees ? { amount: [p.fees], gas: String(gas) } : calculateFee(gas, p.gasPrice);
    }
    let hash: string;
    try {
      // Broadcast (CheckTx), then wait below. Not CosmJS's signAndBroadcast: when CheckTx
      // refuses the tx, its broadcastTx leaves its inclusion timer running (60 s), which
      // keeps the caller's process alive after the error.
      hash = await this.signing.signAndBroadcastSync(from, [...messages], fee, memo);
    } catch (e) {
      if (e instanceof BroadcastTxError) throw new BackstopTxError(e.log ?? e.message, e.codespace, e.code);
      throw e;
    }
    const res = await this.waitForTx(hash);
    if (res.code !== 0) {
      const stored = await this.comet.tx({ hash: fromHex(res.transactionHash) });
      throw new BackstopTxError(res.rawLog ?? `tx failed with code ${res.code}`, stored.result.codespace ?? "", res.code, res.transactionHash, res.height, res);
    }
    return res;
  }

  /** A committed tx's result by hash (hex), as a broadcast returns it; undefined if none. */
  async getTxResult(hash: string): Promise<DeliverTxResponse | undefined> {
    const t = await this.signing.getTx(hash);
    if (!t) return undefined;
    return { code: t.code, height: t.height, txIndex: t.txIndex, events: t.events, rawLog: t.rawLog, transactionHash: t.hash, msgResponses: t.msgResponses, gasUsed: t.gasUsed, gasWanted: t.gasWanted };
  }

  /** Polls for a broadcast tx until it is included (TimeoutError after `broadcastTimeoutMs`). */
  private async waitForTx(hash: string): Promise<DeliverTxResponse> {
    const { timeoutMs, pollIntervalMs } = this.broadcast;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await new Promise((r) => setTimeout(r, pollIntervalMs));
      const t = await this.getTxResult(hash);
      if (t) return t;
      if (Date.now() >= deadline) throw new TimeoutError(`Transaction with ID ${hash} was submitted but was not yet found on the chain. You might want to check later. There was a wait of ${timeoutMs / 1000} seconds.`, hash);
    }
  }

  // --- transactions ------------------------------------------------------------------

  send(to: string, amount: bigint | string, denom = COLLATERAL_DENOM): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/cosmos.bank.v1beta1.MsgSend", value: { fromAddress: this.from(), toAddress: to, amount: [coin(amount, denom)] } }]);
  }

  /** A feeder's price for a ticker (decimal string, USD per unit). */
  submitPrice(ticker: string, price: string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.oracle.v1.MsgSubmitPrice", value: { feeder: this.from(), ticker, price } }]);
  }

  /** Moves uusdc from the bank balance into free collateral. */
  depositCollateral(amount: bigint | string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.margin.v1.MsgDeposit", value: { owner: this.from(), amount: coin(amount) } }]);
  }

  /** Moves free collateral back to the bank balance (never waits on a price). */
  withdrawCollateral(amount: bigint | string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.margin.v1.MsgWithdraw", value: { owner: this.from(), amount: coin(amount) } }]);
  }

  addPositionMargin(marketId: string, amount: bigint | string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.margin.v1.MsgAddPositionMargin", value: { owner: this.from(), marketId, amount: coin(amount) } }]);
  }

  removePositionMargin(marketId: string, amount: bigint | string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.margin.v1.MsgRemovePositionMargin", value: { owner: this.from(), marketId, amount: coin(amount) } }]);
  }

  /** Stakes uusdc into an insurance pool; mints shares at NAV. */
  depositToPool(poolId: string, amount: bigint | string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.insurance.v1.MsgDeposit", value: { depositor: this.from(), poolId, amount: coin(amount) } }]);
  }

  /** Escrows shares; after the pool's cooldown the end-block pays shares × min(NAV at request, NAV at payout). */
  requestWithdrawal(poolId: string, shares: bigint | string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.insurance.v1.MsgRequestWithdrawal", value: { owner: this.from(), poolId, shares: BigInt(shares).toString() } }]);
  }

  cancelWithdrawal(withdrawalId: bigint): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.insurance.v1.MsgCancelWithdrawal", value: { owner: this.from(), withdrawalId } }]);
  }

  /** Places a limit order into the next batch auction. Quantity and price are decimal strings. */
  placeOrder(o: { marketId: string; side: "buy" | "sell"; quantity: string; price: string; tif?: "gtc" | "ioc" | "post-only"; reduceOnly?: boolean; clientId?: bigint }): Promise<DeliverTxResponse> {
    const tif = { gtc: 1, ioc: 2, "post-only": 3 }[o.tif ?? "gtc"];
    return this.signAndBroadcast([
      {
        typeUrl: "/backstop.clearing.v1.MsgPlaceOrder",
        value: { owner: this.from(), marketId: o.marketId, side: o.side === "buy" ? 1 : 2, price: o.price, quantity: o.quantity, timeInForce: tif, reduceOnly: o.reduceOnly ?? false, clientId: o.clientId ?? 0n },
      },
    ]);
  }

  cancelOrder(marketId: string, orderId: bigint): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.clearing.v1.MsgCancelOrder", value: { owner: this.from(), marketId, orderId } }]);
  }

  /** Takes all or part of a position in the liquidation auction at its current price, with this account's margin. */
  bidLiquidation(owner: string, marketId: string, quantity: string, priceLimit: string): Promise<DeliverTxResponse> {
    return this.signAndBroadcast([{ typeUrl: "/backstop.clearing.v1.MsgBidLiquidation", value: { liquidator: this.from(), owner, marketId, quantity, priceLimit } }]);
  }
}
