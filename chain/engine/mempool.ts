/**
 * The mempool: transactions that passed CheckTx, in arrival order, deduplicated by
 * hash, bounded in count and bytes overall and in count per sender (the first signer's
 * public key), so one account cannot fill it. After every block the remaining ones are
 * rechecked against the new state and those that fail are evicted.
 */
import { readerOf } from "../app/wire";
import { hash } from "node:crypto";
import { AuthInfo, TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";

export interface MempoolTx {
  readonly tx: Uint8Array;
  readonly hash: string; // uppercase hex
  readonly gasWanted: bigint;
}

/** The sender of a tx that passed CheckTx: its first signer's public key (hex), or "" if absent. */
export function txSender(tx: Uint8Array): string {
  try {
    const info = AuthInfo.decode(readerOf(TxRaw.decode(readerOf(tx)).authInfoBytes)).signerInfos[0];
    return info?.publicKey ? Buffer.from(info.publicKey.value).toString("hex") : "";
  } catch {
    return "";
  }
}

export class MempoolFullError extends Error {}

export function txHash(tx: Uint8Array): string {
  return hash("sha256", tx, "hex").toUpperCase();
}

export class Mempool {
  private readonly byHash = new Map<string, MempoolTx & { sender: string }>();
  private readonly perSender = new Map<string, number>();
  private bytes = 0;
  /** Hashes of recently committed txs (rejected on re-broadcast). */
  private readonly recent = new Map<string, number>();

  constructor(
    readonly maxTxs = 50_000,
    readonly maxBytes = 256 * 1024 * 1024,
    readonly maxTxBytes = 1024 * 1024,
    private readonly recentBlocks = 100,
    readonly maxPerSender = 10_000,
  ) {}

  get size(): number {
    return this.byHash.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  isRecentlyCommitted(hash: string): boolean {
    return this.recent.has(hash);
  }

  /**
   * Throws MempoolFullError if a tx of this size from this sender could not be added
   * (checked before CheckTx); returns the sender, for `add`.
   */
  admit(tx: Uint8Array): string {
    if (this.byHash.size >= this.maxTxs || this.bytes + tx.length > this.maxBytes) {
      throw new MempoolFullError(`mempool is full: number of txs ${this.byHash.size} (max: ${this.maxTxs}), total txs bytes ${this.bytes} (max: ${this.maxBytes})`);
    }
    const sender = txSender(tx);
    const n = this.perSender.get(sender) ?? 0;
    if (sender && n >= this.maxPerSender) throw new MempoolFullError(`sender has ${n} transactions in the mempool (max: ${this.maxPerSender})`);
    return sender;
  }

  /** Adds a tx that passed CheckTx; `sender` is what `admit` returned for it (else it is decoded again). */
  add(t: MempoolTx, sender = txSender(t.tx)): void {
    if (this.byHash.size >= this.maxTxs || this.bytes + t.tx.length > this.maxBytes) {
      throw new MempoolFullError(`mempool is full: number of txs ${this.byHash.size} (max: ${this.maxTxs}), total txs bytes ${this.bytes} (max: ${this.maxBytes})`);
    }
    const n = this.perSender.get(sender) ?? 0;
    if (sender && n >= this.maxPerSender) throw new MempoolFullError(`sender has ${n} transactions in the mempool (max: ${this.maxPerSender})`);
    this.byHash.set(t.hash, { tx: t.tx, hash: t.hash, gasWanted: t.gasWanted, sender });
    this.perSender.set(sender, n + 1);
    this.bytes += t.tx.length;
  }

  /** Txs in arrival order, up to the byte and gas limits of a block (gas −1: no limit). */
  reap(maxBytes: number, maxGas: bigint): MempoolTx[] {
    const out: MempoolTx[] = [];
    let bytes = 0;
    let gas = 0n;
    for (const t of this.byHash.values()) {
      if (bytes + t.tx.length > maxBytes) break;
      if (maxGas >= 0n && gas + t.gasWanted > maxGas) break;
      bytes += t.tx.length;
      gas += t.gasWanted;
      out.push(t);
    }
    return out;
  }

  list(limit: number): MempoolTx[] {
    const out: MempoolTx[] = [];
    for (const t of this.byHash.values()) {
      if (out.length >= limit) break;
      out.push(t);
    }
    return out;
  }

  remove(hash: string): void {
    const t = this.byHash.get(hash);
    if (!t) return;
    this.byHash.delete(hash);
    this.bytes -= t.tx.length;
    const n = (this.perSender.get(t.sender) ?? 1) - 1;
    if (n > 0) this.perSender.set(t.sender, n);
    else this.perSender.delete(t.sender);
  }

  /** Removes the committed txs of block `height` and remembers them. */
  committed(height: number, hashes: readonly string[]): void {
    for (const h of hashes) {
      this.remove(h);
      this.recent.set(h, height);
    }
    for (const [h, at] of this.recent) {
      if (at > height - this.recentBlocks) break;
      this.recent.delete(h);
    }
  }

  /** Rechecks every remaining tx; those for which `ok` is false are evicted. */
  recheck(ok: (t: MempoolTx) => boolean): number {
    let evicted = 0;
    for (const t of [...this.byHash.values()]) {
      if (!ok(t)) {
        this.remove(t.hash);
        evicted++;
      }
    }
    return evicted;
  }
}
