/**
 * CometBFT's event query language, as tx_search and subscribe take it:
 *   tm.event='Tx' AND message.sender='backstop1…' AND tx.height>5
 * Conditions are joined by AND; operators are = < <= > >= CONTAINS EXISTS; operands
 * are 'quoted strings' or numbers. Numbers compare numerically, strings exactly.
 */

export type Op = "=" | "<" | "<=" | ">" | ">=" | "CONTAINS" | "EXISTS";

export interface Condition {
  readonly key: string;
  readonly op: Op;
  readonly value: string | null; // null for EXISTS
  readonly numeric: boolean;
}

export class QueryError extends Error {}

const TOKEN = /\s*(?:(AND)\b|(CONTAINS)\b|(EXISTS)\b|(<=|>=|=|<|>)|'([^']*)'|(-?\d+(?:\.\d+)?)\b|([A-Za-z_][\w.\-/]*))/y;

export function parseQuery(q: string): Condition[] {
  if (typeof q !== "string") throw new QueryError("query must be a string");
  const src = q.trim();
  if (src.length === 0) throw new QueryError("empty query");
  if (src.length > 4096) throw new QueryError("query too long");
  const tokens: { kind: string; text: string }[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new QueryError(`unexpected input at position ${pos}: ${src.slice(pos, pos + 20)}`);
    pos = TOKEN.lastIndex;
    if (m[1]) tokens.push({ kind: "and", text: "AND" });
    else if (m[2]) tokens.push({ kind: "op", text: "CONTAINS" });
    else if (m[3]) tokens.push({ kind: "exists", text: "EXISTS" });
    else if (m[4]) tokens.push({ kind: "op", text: m[4] });
    else if (m[5] !== undefined) tokens.push({ kind: "string", text: m[5] });
    else if (m[6]) tokens.push({ kind: "number", text: m[6] });
    else if (m[7]) tokens.push({ kind: "key", text: m[7] });
    while (pos < src.length && /\s/.test(src[pos])) pos++;
  }
  const out: Condition[] = [];
  let i = 0;
  for (;;) {
    const key = tokens[i++];
    if (!key || key.kind !== "key") throw new QueryError("expected a key");
    const op = tokens[i++];
    if (op?.kind === "exists") {
      out.push({ key: key.text, op: "EXISTS", value: null, numeric: false });
    } else if (op?.kind === "op") {
      const v = tokens[i++];
      if (!v || (v.kind !== "string" && v.kind !== "number")) throw new QueryError(`expected a value after ${key.text} ${op.text}`);
      if (op.text === "CONTAINS" && v.kind !== "string") throw new QueryError("CONTAINS takes a string");
      out.push({ key: key.text, op: op.text as Op, value: v.text, numeric: v.kind === "number" });
    } else {
      throw new QueryError(`expected an operator after ${key.text}`);
    }
    if (i >= tokens.length) break;
    if (tokens[i++].kind !== "and") throw new QueryError("conditions must be joined by AND");
  }
  return out;
}

function cmpNumeric(a: string, b: string): number | null {
  if (!/^-?\d+(\.\d+)?$/.test(a) || !/^-?\d+(\.\d+)?$/.test(b)) return null;
  // Compare as exact decimals: scale both to the same number of fraction digits.
  const [ai, af = ""] = a.split(".");
  const [bi, bf = ""] = b.split(".");
  const n = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(n, "0"));
  const y = BigInt(bi + bf.padEnd(n, "0"));
  return x < y ? -1 : x > y ? 1 : 0;
}

function matchOne(c: Condition, value: string): boolean {
  switch (c.op) {
    case "EXISTS":
      return true;
    case "CONTAINS":
      return value.includes(c.value!);
    case "=":
      if (c.numeric) return cmpNumeric(value, c.value!) === 0;
      return value === c.value;
    default: {
      const r = cmpNumeric(value, c.value!);
      if (r === null) return false;
      return c.op === "<" ? r < 0 : c.op === "<=" ? r <= 0 : c.op === ">" ? r > 0 : r >= 0;
    }
  }
}

/** Does an event map (composite key → values) satisfy every condition? */
export function matches(conds: readonly Condition[], events: ReadonlyMap<string, readonly string[]>): boolean {
  return conds.every((c) => (events.get(c.key) ?? []).some((v) => matchOne(c, v)));
}

/** Builds the composite-key event map of a tx or block. */
export function eventMap(events: readonly { type: string; attributes: { key: string; value: string }[] }[], extra: Record<string, string>): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const add = (k: string, v: string) => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  for (const [k, v] of Object.entries(extra)) add(k, v);
  for (const e of events) for (const a of e.attributes) if (a.key) add(`${e.type}.${a.key}`, a.value);
  return m;
}
