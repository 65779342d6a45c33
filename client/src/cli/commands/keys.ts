/** `backstop keys add|list|show`. */
import { Command } from "../registry";
import { has, UsageError } from "../args";

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
      const index = Number(ctx.args.flags.get("index") ?? 0);
      const { key, mnemonic: m } = await ctx.keyring().add(name, mnemonic, index);
      const out = mnemonic ? key : { ...key, mnemonic: m };
      ctx.print(out, () => `- name: ${key.name}\n  address: ${key.address}\n  pubkey: ${key.pubkey}${mnemonic ? "" : `\n\n**Write this mnemonic down**:\n${m}`}`);
    },
  },
  {
    path: ["keys", "list"],
    usage: "keys list",
    async run(ctx) {
      const keys = ctx.keyring().list();
      ctx.print(keys, () => keys.map((k) => `- name: ${k.name}\n  address: ${k.address}`).join("\n"));
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
