/**
 * Gas: every transaction carries a limit and pays for its bytes, its signatures and
 * every store access, with the Cosmos SDK's default costs. Running out aborts the
 * transaction (its writes are discarded) with sdk/11.
 */
import { Bytes, Key, KVStore } from "../store/types";
import { ErrOutOfGas } from "./errors";

export const GasCosts = {
  txSizePerByte: 10n,
  sigVerifySecp256k1: 1000n,
  readFlat: 1000n,
  readPerByte: 3n,
  writeFlat: 2000n,
  writePerByte: 30n,
  delete: 1000n,
  hasFlat: 1000n,
  iterNextFlat: 30n,
} as const;

export class GasMeter {
  private used = 0n;
  constructor(readonly limit: bigint) {}

  static infinite(): GasMeter {
    return new GasMeter(-1n);
  }

  consume(amount: bigint, descriptor: string): void {
    this.used += amount;
    if (this.limit >= 0n && this.used > this.limit) {
      throw ErrOutOfGas.wrap(`out of gas in location: ${descriptor}; gasWanted: ${this.limit}, gasUsed: ${this.used}`);
    }
  }

  get consumed(): bigint {
    return this.used;
  }
}

/** A store view that charges every access to a gas meter. */
export class GasKV implements KVStore {
  constructor(
    private readonly parent: KVStore,
    private readonly meter: GasMeter,
  ) {}

  get(key: Key): Bytes | undefined {
    this.meter.consume(GasCosts.readFlat, "ReadFlat");
    const v = this.parent.get(key);
    this.meter.consume(GasCosts.readPerByte * BigInt(key.length + (v ? v.length : 0)), "ReadPerByte");
    return v;
  }
  has(key: Key): boolean {
    this.meter.consume(GasCosts.hasFlat, "HasFlat");
    return this.parent.has(key);
  }
  set(key: Key, value: Bytes): void {
    this.meter.consume(GasCosts.writeFlat, "WriteFlat");
    this.meter.consume(GasCosts.writePerByte * BigInt(key.length + value.length), "WritePerByte");
    this.parent.set(key, value);
  }
  delete(key: Key): void {
    this.meter.consume(GasCosts.delete, "Delete");
    this.parent.delete(key);
  }
  *iterator(start?: Bytes, end?: Bytes, reverse?: boolean): IterableIterator<[Bytes, Bytes]> {
    for (const [k, v] of this.parent.iterator(start, end, reverse)) {
      this.meter.consume(GasCosts.iterNextFlat + GasCosts.readPerByte * BigInt(k.length + v.length), "IterNext");
      yield [k, v];
    }
  }
}
