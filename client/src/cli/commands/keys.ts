/** `backstop keys add|list|show`. */
import { Command } from "../registry";
import { flag, has, UsageError } from "../args";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
}

export const keyCommands: Command[] = [
  {
    path: ["keys", "add"],
    usage: "keys add NAME [--recover] [--index N]   (--recover reads the mnemonic from stdin)",
    async run(ctx) {
      const name = ctx.args.positionals[0];
      if (!name) throw new UsageError("keys add NAME");
      const mnemonic = has(ctx.args, "recover") ? await readStdin() : undefined;
      if (has(ctx.args, "recover") && !mnemonic) throw new UsageError("--recover: no mnemonic on stdin");
      const rawIndex = flag(ctx.args, "index", "0")!;
      if (!/^\d{1,9}$/.test(rawIndex)) throw new UsageError(`--index must be a whole number (the HD index in m/44'/118'/0'/0/N), got ${JSON.stringify(rawIndex)}`);
      const index = Number(rawIndex);
      const { key, mnemonic: m } = await ctx.keyring().add(name, mnemonic, index);
      const out = mnemonic ? key : { ...key, mnemonic: m };
      ctx.print(out, () => `- name: ${key.name}\n  address: ${key.address}\n  pubkey: ${key.pubkey}${mnemonic ? "" : `\n\n**Write this mnemonic down**:\n${m}`}`);
    },
  },
  {
    path: ["keys", "list"],
    usage: "keys list",
    async run(ctx) {
      const kr = ctx.keyring();
      const keys = kr.list();
      ctx.print(keys, () => (keys.length === 0 ? `No records were found in keyring ${kr.dir}` : keys.map((k) => `- name: ${k.name}\n  address: ${k.address}`).join("\n")));
    },
  },
  {
    path: ["keys", "show"],
    usage: "keys show NAME",
    async run(ctx) {
      const name = ctx.args.positionals[0];
      if (!name) throw new UsageError("keys show NAME");
      const k = ctx.keyring().show(name);
      ctx.print(k, () => `- name: ${k.name}\n  address: ${k.address}\n  pubkey: ${k.pubkey}`);
    },
  },
];
