/**
 * The Merkle commitment over the state: a binary crit-bit (PATRICIA) trie keyed by
 * sha256(key). Keys are uniformly distributed, so the trie's depth is O(log n) and
 * updating it costs O(changed keys · log n): each change dirties one root-to-leaf
 * path, and only dirty nodes are re-hashed at commit, each once however many changes
 * passed through it.
 *
 * Node records (the hash of a node is sha256 of its record):
 *   leaf  = 0x00 ‖ sha256(key) ‖ sha256(value)                    (65 bytes)
 *   inner = 0x01 ‖ crit-bit index (u16 BE) ‖ hash(left) ‖ hash(right) (67 bytes)
 * The root of an empty trie is 32 zero bytes.
 *
 * Nodes are stored content-addressed and loaded lazily, so reopening a store with a
 * million keys reads nothing but the root; a node replaced at commit is deleted.
 */
import { hash } from "node:crypto";

export interface NodeReader {
  getNode(hash: Buffer): Buffer | undefined;
}

export interface TrieCommit {
  readonly root: Buffer;
  /** New node records by hash. */
  readonly puts: ReadonlyArray<readonly [Buffer, Buffer]>;
  /** Hashes of persisted nodes no longer in the trie. Apply before `puts`. */
  readonly deletes: readonly Buffer[];
}

interface Leaf {
  readonly kind: 0;
  readonly keyHash: Buffer;
  readonly valueHash: Buffer;
  hash: Buffer | null; // null until hashed at commit; non-null means persisted
}

interface Inner {
  readonly kind: 1;
  readonly bit: number;
  readonly children: [Ref, Ref];
  hash: Buffer | null;
}

type TrieNode = Leaf | Inner;
/** A loaded node, or the hash of a persisted node not yet loaded. */
type Ref = TrieNode | Buffer;

export const EMPTY_ROOT = Buffer.alloc(32);

export function sha256(data: Uint8Array): Buffer {
  return hash("sha256", data, "buffer"); // one-shot: no Hash object per digest
}

function bitAt(h: Buffer, i: number): 0 | 1 {
  return ((h[i >> 3] >> (7 - (i & 7))) & 1) as 0 | 1;
}

function firstDiffBit(a: Buffer, b: Buffer): number {
  for (let i = 0; i < 32; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + (Math.clz32(x) - 24);
  }
  return -1;
}

export class MerkleTrie {
  private root: Ref | null;
  private deletes = new Map<string, Buffer>();

  constructor(private readonly db: NodeReader, rootHash: Buffer) {
    this.root = rootHash.equals(EMPTY_ROOT) ? null : Buffer.from(rootHash);
  }

  private load(ref: Ref): TrieNode {
    if (!Buffer.isBuffer(ref)) return ref;
    const rec = this.db.getNode(ref);
    if (!rec) throw new Error(`merkle: missing node ${ref.toString("hex")}`);
    const h = Buffer.from(ref);
    if (rec[0] === 0) {
      return { kind: 0, keyHash: Buffer.from(rec.subarray(1, 33)), valueHash: Buffer.from(rec.subarray(33, 65)), hash: h };
    }
    return {
      kind: 1,
      bit: rec.readUInt16BE(1),
      children: [Buffer.from(rec.subarray(3, 35)), Buffer.from(rec.subarray(35, 67))],
      hash: h,
    };
  }

  private forget(n: TrieNode): void {
    if (n.hash) {
      this.deletes.set(n.hash.toString("latin1"), n.hash);
      n.hash = null;
    }
  }

  /** Walks from the root towards keyHash, loading nodes; returns the inner path and the leaf reached. */
  private descend(keyHash: Buffer): { path: Inner[]; dirs: (0 | 1)[]; leaf: Leaf } {
    const path: Inner[] = [];
    const dirs: (0 | 1)[] = [];
    let n = this.load(this.root!);
    this.root = n;
    while (n.kind === 1) {
      const d = bitAt(keyHash, n.bit);
      const child = this.load(n.children[d]);
      n.children[d] = child;
      path.push(n);
      dirs.push(d);
      n = child;
    }
    return { path, dirs, leaf: n };
  }

  private replaceAt(path: Inner[], dirs: (0 | 1)[], depth: number, node: Ref | null): void {
    if (depth === 0) this.root = node;
    else path[depth - 1].children[dirs[depth - 1]] = node as Ref;
    for (let i = 0; i < depth; i++) this.forget(path[i]);
  }

  /** Sets the value hash of a key hash (insert or update). */
  set(keyHash: Buffer, valueHash: Buffer): void {
    const leaf: Leaf = { kind: 0, keyHash, valueHash, hash: null };
    if (this.root === null) {
      this.root = leaf;
      return;
    }
    const { path, dirs, leaf: found } = this.descend(keyHash);
    const crit = firstDiffBit(keyHash, found.keyHash);
    if (crit < 0) {
      if (found.valueHash.equals(valueHash)) return;
      this.forget(found);
      this.replaceAt(path, dirs, path.length, leaf);
      return;
    }
    let j = 0;
    while (j < path.length && path[j].bit < crit) j++;
    const sub: TrieNode = j < path.length ? path[j] : found;
    const inner: Inner = {
      kind: 1,
      bit: crit,
      children: bitAt(keyHash, crit) === 1 ? [sub, leaf] : [leaf, sub],
      hash: null,
    };
    this.replaceAt(path, dirs, j, inner);
  }

  /** Removes a key hash; absent keys are ignored. */
  remove(keyHash: Buffer): void {
    if (this.root === null) return;
    const { path, dirs, leaf } = this.descend(keyHash);
    if (!leaf.keyHash.equals(keyHash)) return;
    this.forget(leaf);
    if (path.length === 0) {
      this.root = null;
      return;
    }
    const parent = path[path.length - 1];
    const sibling = parent.children[dirs[dirs.length - 1] === 0 ? 1 : 0];
    this.forget(parent);
    this.replaceAt(path, dirs, path.length - 1, sibling);
  }

  /** Hashes every dirty node and returns the root with the node writes to persist. */
  commit(): TrieCommit {
    const puts: [Buffer, Buffer][] = [];
    const hashOf = (ref: Ref): Buffer => {
      if (Buffer.isBuffer(ref)) return ref;
      if (ref.hash) return ref.hash;
      let rec: Buffer;
      if (ref.kind === 0) {
        rec = Buffer.allocUnsafe(65);
        rec[0] = 0;
        ref.keyHash.copy(rec, 1);
        ref.valueHash.copy(rec, 33);
      } else {
        const l = hashOf(ref.children[0]);
        const r = hashOf(ref.children[1]);
        rec = Buffer.allocUnsafe(67);
        rec[0] = 1;
        rec.writeUInt16BE(ref.bit, 1);
        l.copy(rec, 3);
        r.copy(rec, 35);
      }
      const h = sha256(rec);
      ref.hash = h;
      puts.push([h, rec]);
      return h;
    };
    const root = this.root === null ? EMPTY_ROOT : hashOf(this.root);
    const deletes = [...this.deletes.values()];
    this.deletes = new Map();
    return { root: Buffer.from(root), puts, deletes };
  }

  /** Drops loaded nodes from memory (they reload lazily); only valid right after commit. */
  unload(): void {
    if (this.root !== null && !Buffer.isBuffer(this.root) && this.root.hash) this.root = this.root.hash;
  }
}
