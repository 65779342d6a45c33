/**
 * x/bank: balances and supply. Supply changes only through `mint` and `burn`;
 * everything else is a transfer between two addresses (double entry).
 *
 * State (under the module prefix):
 *   0x00 ‖ denom                         → total supply (decimal string)
 *   0x02 ‖ len(addr) ‖ addr ‖ denom       → balance (decimal string)
 */
import { Context } from "../../app/context";
import { Coin } from "../../app/coins";
import { ErrInsufficientFunds, ErrInvalidCoins } from "../../app/errors";
import { addressBytes, moduleAddress, toAddress } from "../../crypto/keys";
import { Memo } from "../../memo";
import { PrefixKV } from "../../store/prefix";
import { prefixEnd } from "../../store/types";
import { AuthKeeper } from "../auth/keeper";

export const BANK_STORE_PREFIX = Uint8Array.of(0x02);
const SUPPLY_PREFIX = 0x00;
const BALANCE_PREFIX = 0x02;

function balancePrefix(address: string): Buffer {
  const a = addressBytes(address);
  return Buffer.concat([Buffer.of(BALANCE_PREFIX, a.length), a]);
}

/** Balance keys (latin1 strings, see `Key`) of recent (address, denom) pairs: every transfer reads and writes two (bounded). */
const balanceKeys = new Memo<string, string>(65_536, (id) => {
  const [address, denom] = id.split("\0");
  return Buffer.concat([balancePrefix(address), Buffer.from(denom)]).toString("latin1");
});

function balanceKey(address: string, denom: string): string {
  return balanceKeys.get(`${address}\0${denom}`);
}

export class BankKeeper {
  /** Module accounts by name; they receive coins without an auth account and are blocked from MsgSend. */
  private readonly moduleAddrs = new Map<string, string>();
  private readonly blocked = new Set<string>();

  constructor(private readonly auth: AuthKeeper, moduleAccounts: readonly string[]) {
    for (const name of moduleAccounts) {
      const addr = moduleAddress(name);
      this.moduleAddrs.set(name, addr);
      this.blocked.add(addr);
    }
  }

  moduleAddress(name: string): string {
    const a = this.moduleAddrs.get(name);
    if (!a) throw new Error(`unknown module account ${name}`);
    return a;
  }

  isBlocked(address: string): boolean {
    return this.blocked.has(address);
  }

  private kv(ctx: Context) {
    return new PrefixKV(ctx.store, BANK_STORE_PREFIX);
  }

  getBalance(ctx: Context, address: string, denom: string): bigint {
    const raw = this.kv(ctx).get(balanceKey(address, denom));
    return raw ? BigInt(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1")) : 0n;
  }

  /** All balances of an address, by denom. */
  getAllBalances(ctx: Context, address: string): Coin[] {
    const p = balancePrefix(address);
    const out: Coin[] = [];
    for (const [k, v] of this.kv(ctx).iterator(p, prefixEnd(p))) {
      out.push({ denom: Buffer.from(k).subarray(p.length).toString(), amount: Buffer.from(v).toString() });
    }
    return out;
  }

  private setBalance(ctx: Context, address: string, denom: string, amount: bigint): void {
    const key = balanceKey(address, denom);
    if (amount < 0n) throw new Error("negative balance"); // unreachable: callers check
    if (amount === 0n) this.kv(ctx).delete(key);
    else this.kv(ctx).set(key, Buffer.from(amount.toString()));
  }

  getSupply(ctx: Context, denom: string): bigint {
    const raw = this.kv(ctx).get(Buffer.concat([Buffer.of(SUPPLY_PREFIX), Buffer.from(denom)]));
    return raw ? BigInt(Buffer.from(raw).toString()) : 0n;
  }

  getTotalSupply(ctx: Context): Coin[] {
    const p = Buffer.of(SUPPLY_PREFIX);
    const out: Coin[] = [];
    for (const [k, v] of this.kv(ctx).iterator(p, prefixEnd(p))) {
      out.push({ denom: Buffer.from(k).subarray(1).toString(), amount: Buffer.from(v).toString() });
    }
    return out;
  }

  private setSupply(ctx: Context, denom: string, amount: bigint): void {
    const key = Buffer.concat([Buffer.of(SUPPLY_PREFIX), Buffer.from(denom)]);
    if (amount === 0n) this.kv(ctx).delete(key);
    else this.kv(ctx).set(key, Buffer.from(amount.toString()));
  }

  private subBalance(ctx: Context, address: string, denom: string, amount: bigint): void {
    const have = this.getBalance(ctx, address, denom);
    if (have < amount) throw ErrInsufficientFunds.wrap(`spendable balance ${have}${denom} is smaller than ${amount}${denom}`);
    this.setBalance(ctx, address, denom, have - amount);
  }

  private addBalance(ctx: Context, address: string, denom: string, amount: bigint): void {
    this.setBalance(ctx, address, denom, this.getBalance(ctx, address, denom) + amount);
  }

  /** Moves coins from one address to another, creating the recipient's account if needed. */
  send(ctx: Context, from: string, to: string, denom: string, amount: bigint): void {
    if (amount < 0n) throw ErrInvalidCoins.wrap("negative amount");
    if (amount === 0n) return;
    this.subBalance(ctx, from, denom, amount);
    this.addBalance(ctx, to, denom, amount);
    if (!this.blocked.has(to)) this.auth.ensureAccount(ctx, to);
    const coin = `${amount}${denom}`;
    ctx.events.emit("coin_spent", [["spender", from], ["amount", coin]]);
    ctx.events.emit("coin_received", [["receiver", to], ["amount", coin]]);
    ctx.events.emit("transfer", [["recipient", to], ["sender", from], ["amount", coin]]);
  }

  sendFromModule(ctx: Context, module: string, to: string, denom: string, amount: bigint): void {
    this.send(ctx, this.moduleAddress(module), to, denom, amount);
  }

  sendToModule(ctx: Context, from: string, module: string, denom: string, amount: bigint): void {
    this.send(ctx, from, this.moduleAddress(module), denom, amount);
  }

  sendModuleToModule(ctx: Context, fromModule: string, toModule: string, denom: string, amount: bigint): void {
    this.send(ctx, this.moduleAddress(fromModule), this.moduleAddress(toModule), denom, amount);
  }

  /** Creates coins in a module account (supply grows by the same amount). */
  mint(ctx: Context, module: string, denom: string, amount: bigint): void {
    if (amount <= 0n) throw ErrInvalidCoins.wrap("mint amount must be positive");
    const addr = this.moduleAddress(module);
    this.addBalance(ctx, addr, denom, amount);
    this.setSupply(ctx, denom, this.getSupply(ctx, denom) + amount);
    ctx.events.emit("coinbase", [["minter", addr], ["amount", `${amount}${denom}`]]);
  }

  /** Destroys coins held by a module account (supply shrinks by the same amount). */
  burn(ctx: Context, module: string, denom: string, amount: bigint): void {
    if (amount <= 0n) throw ErrInvalidCoins.wrap("burn amount must be positive");
    const addr = this.moduleAddress(module);
    this.subBalance(ctx, addr, denom, amount);
    this.setSupply(ctx, denom, this.getSupply(ctx, denom) - amount);
    ctx.events.emit("burn", [["burner", addr], ["amount", `${amount}${denom}`]]);
  }

  /** Genesis only: credits an address and the supply. */
  initBalance(ctx: Context, address: string, denom: string, amount: bigint): void {
    this.addBalance(ctx, address, denom, amount);
    this.setSupply(ctx, denom, this.getSupply(ctx, denom) + amount);
  }

  /** Every (address, coins) with a non-zero balance, in key order. */
  *balances(ctx: Context): IterableIterator<{ address: string; coins: Coin[] }> {
    const p = Buffer.of(BALANCE_PREFIX);
    let current: { address: string; coins: Coin[] } | null = null;
    for (const [k, v] of this.kv(ctx).iterator(p, prefixEnd(p))) {
      const key = Buffer.from(k);
      const len = key[1];
      const address = toAddress(key.subarray(2, 2 + len));
      const denom = key.subarray(2 + len).toString();
      if (!current || current.address !== address) {
        if (current) yield current;
        current = { address, coins: [] };
      }
      current.coins.push({ denom, amount: Buffer.from(v).toString() });
    }
    if (current) yield current;
  }
}
