/**
 * A keyring on disk, like the Cosmos SDK's:
 *   test backend: `<dir>/keyring-test/<name>.json`, the mnemonic unencrypted (localnets only);
 *   file backend: `<dir>/keyring-file/<name>.json`, the mnemonic encrypted with
 *                 scrypt + AES-256-GCM under a passphrase.
 * Keys are secp256k1, derived at m/44'/118'/0'/0/<index> with the `backstop` prefix.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { stringToPath } from "@cosmjs/crypto";
import { toBase64 } from "@cosmjs/encoding";

export const ADDRESS_PREFIX = "backstop";
export type Backend = "test" | "file";

export interface KeyInfo {
  readonly name: string;
  readonly type: "local";
  readonly address: string;
  /** Compressed secp256k1 public key, base64. */
  readonly pubkey: string;
  readonly hd_path: string;
}

interface KeyFile extends KeyInfo {
  mnemonic?: string;
  encrypted?: { salt: string; iv: string; tag: string; data: string };
}

export class KeyringError extends Error {}

export function hdPath(index: number): string {
  return `m/44'/118'/0'/0/${index}`;
}

export async function walletFromMnemonic(mnemonic: string, path = hdPath(0)): Promise<DirectSecp256k1HdWallet> {
  return DirectSecp256k1HdWallet.fromMnemonic(mnemonic.trim(), { prefix: ADDRESS_PREFIX, hdPaths: [stringToPath(path)] });
}

export class Keyring {
  readonly dir: string;

  constructor(
    root: string,
    readonly backend: Backend = "test",
    private readonly passphrase?: string,
  ) {
    this.dir = join(root, `keyring-${backend}`);
  }

  private file(name: string): string {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new KeyringError(`invalid key name ${JSON.stringify(name)}`);
    return join(this.dir, `${name}.json`);
  }

  has(name: string): boolean {
    return existsSync(this.file(name));
  }

  /** Adds a key from a mnemonic (a new 24-word one if none is given). Returns it and the mnemonic. */
  async add(name: string, mnemonic?: string, index = 0, overwrite = false): Promise<{ key: KeyInfo; mnemonic: string }> {
    if (this.has(name) && !overwrite) throw new KeyringError(`key ${name} already exists`);
    const wallet = mnemonic ? await walletFromMnemonic(mnemonic, hdPath(index)) : await DirectSecp256k1HdWallet.generate(24, { prefix: ADDRESS_PREFIX, hdPaths: [stringToPath(hdPath(index))] });
    const [acc] = await wallet.getAccounts();
    const key: KeyInfo = { name, type: "local", address: acc.address, pubkey: toBase64(acc.pubkey), hd_path: hdPath(index) };
    const record: KeyFile = { ...key };
    if (this.backend === "test") record.mnemonic = wallet.mnemonic;
    else record.encrypted = encrypt(wallet.mnemonic, this.requirePassphrase());
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.file(name), JSON.stringify(record, null, 2) + "\n", { mode: 0o600 });
    return { key, mnemonic: wallet.mnemonic };
  }

  list(): KeyInfo[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => strip(JSON.parse(readFileSync(join(this.dir, f), "utf8"))));
  }

  show(nameOrAddress: string): KeyInfo {
    if (nameOrAddress.startsWith(`${ADDRESS_PREFIX}1`)) {
      const k = this.list().find((x) => x.address === nameOrAddress);
      if (!k) throw new KeyringError(`no key with address ${nameOrAddress} in ${this.dir}`);
      return k;
    }
    if (!this.has(nameOrAddress)) throw new KeyringError(`key ${nameOrAddress} not found in ${this.dir}`);
    return strip(JSON.parse(readFileSync(this.file(nameOrAddress), "utf8")));
  }

  /** A CosmJS signer for a key (by name or address). */
  async signer(nameOrAddress: string): Promise<DirectSecp256k1HdWallet> {
    const info = this.show(nameOrAddress);
    const rec = JSON.parse(readFileSync(this.file(info.name), "utf8")) as KeyFile;
    const mnemonic = rec.mnemonic ?? decrypt(rec.encrypted!, this.requirePassphrase());
    return walletFromMnemonic(mnemonic, rec.hd_path);
  }

  private requirePassphrase(): string {
    const p = this.passphrase ?? process.env.BACKSTOP_KEYRING_PASSPHRASE;
    if (!p) throw new KeyringError("the file keyring needs a passphrase: set BACKSTOP_KEYRING_PASSPHRASE");
    return p;
  }
}

function strip(r: KeyFile): KeyInfo {
  return { name: r.name, type: r.type, address: r.address, pubkey: r.pubkey, hd_path: r.hd_path };
}

function encrypt(plain: string, passphrase: string) {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(passphrase, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  const c = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([c.update(plain, "utf8"), c.final()]);
  return { salt: salt.toString("base64"), iv: iv.toString("base64"), tag: c.getAuthTag().toString("base64"), data: data.toString("base64") };
}

function decrypt(e: NonNullable<KeyFile["encrypted"]>, passphrase: string): string {
  const key = scryptSync(passphrase, Buffer.from(e.salt, "base64"), 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  const d = createDecipheriv("aes-256-gcm", key, Buffer.from(e.iv, "base64"));
  d.setAuthTag(Buffer.from(e.tag, "base64"));
  try {
    return Buffer.concat([d.update(Buffer.from(e.data, "base64")), d.final()]).toString("utf8");
  } catch {
    throw new KeyringError("wrong passphrase for the file keyring");
  }
}
