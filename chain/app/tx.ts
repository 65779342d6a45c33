/**
 * The Cosmos transaction pipeline: decode a `TxRaw`, check it without state
 * (`decodeTx`), then check and charge it against state (`ante`): signer accounts,
 * public keys, sign-mode-direct signatures (secp256k1, low S), account number,
 * sequence and chain id, gas, and fees (with the node's minimum gas prices at CheckTx).
 */
import { readerOf } from "./wire";
import { AuthInfo, SignDoc, TxBody, TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { SignMode } from "cosmjs-types/cosmos/tx/signing/v1beta1/signing";
import { PubKey } from "cosmjs-types/cosmos/crypto/secp256k1/keys";
import { Context } from "./context";
import { coinAmount, GasPrice } from "./coins";
import { divCeil } from "../math/int";
import {
  ErrInsufficientFee,
  ErrInvalidGasLimit,
  ErrInvalidPubKey,
  ErrInvalidRequest,
  ErrMemoTooLarge,
  ErrNoSignatures,
  ErrTooManySignatures,
  ErrTxDecode,
  ErrTxTimeoutHeight,
  ErrTxTooLarge,
  ErrUnauthorized,
  ErrUnknownAddress,
  ErrWrongSequence,
  ErrNotSupported,
  AppError,
} from "./errors";
import { GasCosts } from "./gas";
import { ModuleManager, MsgDef } from "./module";
import { isLowS, pubkeyAddress, verifySecp256k1 } from "../crypto/keys";
import { AUTH_PARAMS, AuthKeeper, SECP256K1_PUBKEY_TYPE_URL } from "../x/auth/keeper";
import { BankKeeper } from "../x/bank/keeper";

export const FEE_COLLECTOR = "fee_collector";
/** Denoms accepted for fees (SPEC §2). */
export const FEE_DENOMS: readonly string[] = ["uusdc", "ustake"];
/** The largest gas limit a transaction may ask for. */
export const MAX_TX_GAS = 100_000_000n;

export interface DecodedMsg {
  readonly typeUrl: string;
  readonly def: MsgDef;
  readonly msg: unknown;
  readonly signer: string;
}

export interface DecodedTx {
  readonly bytes: Uint8Array;
  readonly raw: TxRaw;
  readonly body: TxBody;
  readonly authInfo: AuthInfo;
  readonly msgs: readonly DecodedMsg[];
  /** Unique signers in order of first appearance; signer_infos and signatures follow this order. */
  readonly signers: readonly string[];
  readonly gasLimit: bigint;
}

function decodeOrThrow<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw ErrTxDecode.wrap(`cannot decode ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Stateless decoding and validation. Throws a registered error. In simulation the gas
 * limit may be 0 (CosmJS simulates with an empty fee) and signatures may be empty.
 */
export function decodeTx(bytes: Uint8Array, mm: ModuleManager, maxTxBytes: number, simulate = false): DecodedTx {
  if (bytes.length === 0) throw ErrTxDecode.wrap("empty transaction");
  if (bytes.length > maxTxBytes) throw ErrTxTooLarge.wrap(`tx of ${bytes.length} bytes exceeds ${maxTxBytes}`);
  const raw = decodeOrThrow("TxRaw", () => TxRaw.decode(readerOf(bytes)));
  const body = decodeOrThrow("TxBody", () => TxBody.decode(readerOf(raw.bodyBytes)));
  const authInfo = decodeOrThrow("AuthInfo", () => AuthInfo.decode(readerOf(raw.authInfoBytes)));

  if (body.messages.length === 0) throw ErrInvalidRequest.wrap("tx has no messages");
  if (body.extensionOptions.length > 0 || body.nonCriticalExtensionOptions.length > 0) {
    throw ErrNotSupported.wrap("extension options are not supported");
  }
  if (body.unordered) throw ErrNotSupported.wrap("unordered transactions are not supported");
  if (body.memo.length > Number(AUTH_PARAMS.maxMemoCharacters)) {
    throw ErrMemoTooLarge.wrap(`maximum number of characters is ${AUTH_PARAMS.maxMemoCharacters} but received ${body.memo.length}`);
  }

  const msgs: DecodedMsg[] = [];
  const signers: string[] = [];
  for (const any of body.messages) {
    const def = mm.msg(any.typeUrl);
    const msg = decodeOrThrow(any.typeUrl, () => def.type.decode(any.value));
    def.validateBasic(msg);
    const signer = def.signer(msg);
    msgs.push({ typeUrl: any.typeUrl, def, msg, signer });
    if (!signers.includes(signer)) signers.push(signer);
  }

  if (raw.signatures.length === 0) throw ErrNoSignatures.wrap("no signatures");
  if (raw.signatures.length > Number(AUTH_PARAMS.txSigLimit)) {
    throw ErrTooManySignatures.wrap(`signatures: ${raw.signatures.length}, limit: ${AUTH_PARAMS.txSigLimit}`);
  }
  if (raw.signatures.length !== signers.length || authInfo.signerInfos.length !== signers.length) {
    throw ErrUnauthorized.wrap(
      `wrong number of signers; expected ${signers.length}, got ${authInfo.signerInfos.length} signer infos and ${raw.signatures.length} signatures`,
    );
  }

  const fee = authInfo.fee;
  if (!fee) throw ErrInsufficientFee.wrap("missing fee");
  if ((simulate ? fee.gasLimit < 0n : fee.gasLimit <= 0n) || fee.gasLimit > MAX_TX_GAS) throw ErrInvalidGasLimit.wrap(`gas limit ${fee.gasLimit} out of range (0, ${MAX_TX_GAS}]`);
  for (const c of fee.amount) {
    if (!FEE_DENOMS.includes(c.denom)) throw ErrInsufficientFee.wrap(`fee denom ${c.denom} is not accepted; use ${FEE_DENOMS.join(" or ")}`);
    if (coinAmount(c) <= 0n) throw ErrInsufficientFee.wrap("fee amounts must be positive");
  }
  if (fee.granter) throw ErrNotSupported.wrap("fee grants are not supported");
  if (fee.payer && !signers.includes(fee.payer)) throw ErrUnauthorized.wrap(`fee payer ${fee.payer} is not a signer`);

  return { bytes, raw, body, authInfo, msgs, signers, gasLimit: fee.gasLimit };
}

export interface AnteOptions {
  /** Simulation: signatures are not verified (but their gas is charged). */
  readonly simulate: boolean;
  /** The node's minimum gas prices, enforced at CheckTx only (empty: none). */
  readonly minGasPrices: readonly GasPrice[];
}

/** Stateful checks and charges. Runs on the transaction's branch; throws a registered error. */
export function ante(ctx: Context, tx: DecodedTx, auth: AuthKeeper, bank: BankKeeper, opts: AnteOptions): void {
  ctx.gas.consume(GasCosts.txSizePerByte * BigInt(tx.bytes.length), "txSize");

  if (tx.body.timeoutHeight > 0n && ctx.height > tx.body.timeoutHeight) {
    throw ErrTxTimeoutHeight.wrap(`block height: ${ctx.height}, timeout height: ${tx.body.timeoutHeight}`);
  }

  const fee = tx.authInfo.fee!;
  if (opts.minGasPrices.length > 0 && (ctx.mode === "check" || ctx.mode === "recheck")) {
    const ok = opts.minGasPrices.some((p) => {
      const paid = fee.amount.find((c) => c.denom === p.denom);
      const required = divCeil(p.raw * tx.gasLimit, 10n ** 18n);
      return paid !== undefined && BigInt(paid.amount) >= required;
    });
    if (!ok) {
      const req = opts.minGasPrices.map((p) => `${divCeil(p.raw * tx.gasLimit, 10n ** 18n)}${p.denom}`).join(" or ");
      throw ErrInsufficientFee.wrap(`insufficient fees; got: ${fee.amount.map((c) => c.amount + c.denom).join(",") || "nothing"} required: ${req}`);
    }
  }

  // Accounts, public keys, sequences and signatures, signer by signer.
  tx.signers.forEach((signer, i) => {
    const acc = auth.getAccount(ctx, signer);
    if (!acc) throw ErrUnknownAddress.wrap(`account ${signer} does not exist`);
    const info = tx.authInfo.signerInfos[i];

    let pubkey = acc.pubkey;
    if (info.publicKey) {
      if (info.publicKey.typeUrl !== SECP256K1_PUBKEY_TYPE_URL) throw ErrInvalidPubKey.wrap(`unsupported key type ${info.publicKey.typeUrl}`);
      const key = decodeOrThrow("public key", () => PubKey.decode(readerOf(info.publicKey!.value)).key);
      if (key.length !== 33) throw ErrInvalidPubKey.wrap("secp256k1 public key must be 33 bytes (compressed)");
      if (pubkeyAddress(key) !== signer) throw ErrInvalidPubKey.wrap(`public key does not match signer address ${signer}`);
      if (pubkey && !Buffer.from(pubkey).equals(Buffer.from(key))) throw ErrInvalidPubKey.wrap("public key differs from the account's");
      pubkey = key;
    }
    if (!pubkey) throw ErrInvalidPubKey.wrap(`pubkey on account ${signer} is not set and none was given`);

    if (info.sequence !== acc.sequence) {
      throw ErrWrongSequence.wrap(`account sequence mismatch, expected ${acc.sequence}, got ${info.sequence}`);
    }
    const single = info.modeInfo?.single;
    // CosmJS simulates with SIGN_MODE_UNSPECIFIED and an empty signature.
    const modeOk = single !== undefined && (single.mode === SignMode.SIGN_MODE_DIRECT || (opts.simulate && single.mode === SignMode.SIGN_MODE_UNSPECIFIED));
    if (!modeOk) throw ErrNotSupported.wrap("only SIGN_MODE_DIRECT single signatures are supported");

    ctx.gas.consume(GasCosts.sigVerifySecp256k1, "ante verify: secp256k1");
    // As the Cosmos SDK's SigVerificationDecorator: a RECHECK does not verify again. The
    // signature passed at CheckTx over these same bytes, and what it signs (chain id,
    // account number, sequence — checked above) cannot have changed for it.
    if (!opts.simulate && ctx.mode !== "recheck") {
      const sig = tx.raw.signatures[i];
      if (sig.length !== 64) throw ErrUnauthorized.wrap("signature must be 64 bytes (r ‖ s)");
      if (!isLowS(sig)) throw ErrUnauthorized.wrap("signature is not in lower-S form");
      const signBytes = SignDoc.encode({
        bodyBytes: tx.raw.bodyBytes,
        authInfoBytes: tx.raw.authInfoBytes,
        chainId: ctx.chainId,
        accountNumber: acc.accountNumber,
      }).finish();
      if (!verifySecp256k1(sig, signBytes, pubkey)) {
        throw ErrUnauthorized.wrap(
          `signature verification failed; please verify account number (${acc.accountNumber}) and chain-id (${ctx.chainId})`,
        );
      }
    }
    acc.pubkey = pubkey;
    acc.sequence += 1n;
    auth.setAccount(ctx, acc);
    ctx.events.emit("tx", [["acc_seq", `${signer}/${info.sequence}`]]);
    ctx.events.emit("tx", [["signature", Buffer.from(tx.raw.signatures[i]).toString("base64")]]);
  });

  // Fees go to the fee collector.
  const payer = fee.payer || tx.signers[0];
  for (const c of fee.amount) bank.sendToModule(ctx, payer, FEE_COLLECTOR, c.denom, BigInt(c.amount));
  if (opts.simulate) {
    // A simulated tx (CosmJS: empty fee and signatures) is charged what the signed tx
    // will cost: the bytes of its signatures and, if it has no fee, one fee transfer
    // (run on the simulation's throwaway branch), so that the estimate holds.
    const missingSigBytes = tx.raw.signatures.reduce((n, s) => n + Math.max(0, 64 - s.length), 0);
    ctx.gas.consume(GasCosts.txSizePerByte * BigInt(missingSigBytes + (fee.amount.length === 0 ? 16 : 0)), "txSize: simulated signatures and fee");
    if (fee.amount.length === 0 && bank.getBalance(ctx, payer, FEE_DENOMS[0]) > 0n) bank.sendToModule(ctx, payer, FEE_COLLECTOR, FEE_DENOMS[0], 1n);
  }
  ctx.events.emit("tx", [
    ["fee", fee.amount.map((c) => `${c.amount}${c.denom}`).join(",")],
    ["fee_payer", payer],
  ]);
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
