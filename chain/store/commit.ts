/**
 * The committed store: state keys and values, the Merkle trie over them, and the
 * commit metadata (height, app hash), written together in one atomic transaction.
 *
 * Two backends with the same behaviour: LMDB on disk for the node (`openLmdbStore`),
 * and memory for unit tests (`MemoryBackend`).
 *
 * A block runs on a CacheKV branch over this store; at the end of FinalizeBlock the
 * branch's sorted changes are `stage`d (the trie is updated and the app hash is known),
 * and Commit `commit`s them to disk with the new height. Nothing is visible to readers
 * of the committed store until then.
 */
import { assertLmdbIntact } from "./lmdbcheck";
import { open, RootDatabase, Database } from "lmdb";
import { Bytes, Change, KVReader, compareBytes, toBuffer } from "./types";
import { EMPTY_ROOT, MerkleTrie, NodeReader, TrieCommit, sha256 } from "./merkle";

export interface CommitInfo {
  readonly height: bigint;
  readonly appHash: Buffer;
}

export interface StoreBackend extends NodeReader {
  getState(key: Buffer): Buffer | undefined;
  iterState(start: Buffer | undefined, end: Buffer | undefined, reverse: boolean): IterableIterator<[Buffer, Buffer]>;
  readMeta(): (CommitInfo & { root: Buffer }) | undefined;
  /** Atomically: apply state changes, node deletes then puts, and the new metadata. */
  writeCommit(changes: readonly Change[], trie: TrieCommit, info: CommitInfo): void;
  close(): void;
}

export class CommitStore implements KVReader {
  private trie: MerkleTrie;
  private info: CommitInfo;
  private staged: { changes: readonly Change[]; trie: TrieCommit } | null = null;

  constructor(private readonly backend: StoreBackend) {
    const meta = backend.readMeta();
    this.info = meta ? { height: meta.height, appHash: meta.appHash } : { height: 0n, appHash: EMPTY_ROOT };
    this.trie = new MerkleTrie(backend, meta ? meta.root : EMPTY_ROOT);
  }

  /** The last committed height and app hash (height 0 before the first commit). */
  lastCommit(): CommitInfo {
    return this.info;
  }

  get(key: Bytes): Bytes | undefined {
    return this.backend.getState(toBuffer(key));
  }

  has(key: Bytes): boolean {
    return this.get(key) !== undefined;
  }

  *iterator(start?: Bytes, end?: Bytes, reverse = false): IterableIterator<[Bytes, Bytes]> {
    yield* this.backend.iterState(start ? toBuffer(start) : undefined, end ? toBuffer(end) : undefined, reverse);
  }

  /**
   * Applies a block's sorted changes to the trie and returns the resulting root, without
   * writing anything. Staging again before `commit` replaces the earlier stage.
   */
  stage(changes: readonly Change[]): Buffer {
    if (this.staged) this.discardStage();
    for (const [key, value] of changes) {
      if (value === null) this.trie.remove(sha256(key));
      else this.trie.set(sha256(key), sha256(value));
    }
    const trie = this.trie.commit();
    this.staged = { changes, trie };
    return trie.root;
  }

  /** Writes the staged changes with the given height and app hash, atomically. */
  commit(height: bigint, appHash: Buffer): void {
    const staged = this.staged ?? { changes: [], trie: this.trie.commit() };
    this.backend.writeCommit(staged.changes, staged.trie, { height, appHash });
    this.info = { height, appHash: Buffer.from(appHash) };
    this.staged = null;
    // Loaded trie nodes are on disk now: drop them so memory does not grow with the
    // state (the next block reloads the paths it touches, O(changed keys · log n)).
    this.trie.unload();
  }

  /** Forgets a staged block: the trie is reloaded from the last commit. */
  discardStage(): void {
    this.staged = null;
    const meta = this.backend.readMeta();
    this.trie = new MerkleTrie(this.backend, meta ? meta.root : EMPTY_ROOT);
  }

  close(): void {
    this.backend.close();
  }
}

// ---------------------------------------------------------------------------
// LMDB backend

const META_KEY = "commit";

class LmdbBackend implements StoreBackend {
  private readonly env: RootDatabase;
  private readonly state: Database<Buffer, Buffer>;
  private readonly nodes: Database<Buffer, Buffer>;
  private readonly meta: Database<Buffer, string>;

  constructor(path: string) {
    assertLmdbIntact(path, "the application state");
    // Durable commits: every write transaction is synced to disk before it returns.
    this.env = open({ path, maxDbs: 8, compression: false, noSync: false, noMemInit: true });
    this.state = this.env.openDB({ name: "state", keyEncoding: "binary", encoding: "binary" });
    this.nodes = this.env.openDB({ name: "merkle", keyEncoding: "binary", encoding: "binary" });
    this.meta = this.env.openDB({ name: "meta", keyEncoding: "ordered-binary", encoding: "binary" });
  }

  getState(key: Buffer): Buffer | undefined {
    return this.state.getBinary(key) ?? undefined;
  }

  getNode(hash: Buffer): Buffer | undefined {
    return this.nodes.getBinary(hash) ?? undefined;
  }

  *iterState(start: Buffer | undefined, end: Buffer | undefined, reverse: boolean): IterableIterator<[Buffer, Buffer]> {
    if (start && end && compareBytes(start, end) >= 0) return;
    if (!reverse) {
      for (const { key, value } of this.state.getRange({ start, end })) yield [key as Buffer, value as Buffer];
      return;
    }
    // Descending from `end` (exclusive) down to `start` (inclusive).
    for (const { key, value } of this.state.getRange({ start: end, reverse: true })) {
      if (end && compareBytes(key, end) >= 0) continue;
      if (start && compareBytes(key, start) < 0) break;
      yield [key as Buffer, value as Buffer];
    }
  }

  readMeta(): (CommitInfo & { root: Buffer }) | undefined {
    const rec = this.meta.getBinary(META_KEY);
    return rec ? decodeMeta(rec) : undefined;
  }

  writeCommit(changes: readonly Change[], trie: TrieCommit, info: CommitInfo): void {
    this.env.transactionSync(() => {
      for (const [key, value] of changes) {
        if (value === null) this.state.removeSync(key);
        else this.state.putSync(key, value);
      }
      for (const h of trie.deletes) this.nodes.removeSync(h);
      for (const [h, rec] of trie.puts) this.nodes.putSync(h, rec);
      this.meta.putSync(META_KEY, encodeMeta(info, trie.root));
    });
  }

  close(): void {
    this.env.close();
  }
}

function encodeMeta(info: CommitInfo, root: Buffer): Buffer {
  const b = Buffer.alloc(8 + 32 + 32);
  b.writeBigUInt64BE(info.height, 0);
  Buffer.from(info.appHash).copy(b, 8, 0, 32);
  root.copy(b, 40);
  return b;
}

function decodeMeta(b: Buffer): CommitInfo & { root: Buffer } {
  return {
    height: b.readBigUInt64BE(0),
    appHash: Buffer.from(b.subarray(8, 40)),
    root: Buffer.from(b.subarray(40, 72)),
  };
}

export function openLmdbStore(path: string): CommitStore {
  return new CommitStore(new LmdbBackend(path));
}

// ---------------------------------------------------------------------------
// Memory backend (unit tests): same contract, nothing on disk.

export class MemoryBackend implements StoreBackend {
  private state = new Map<string, Buffer>();
  private nodes = new Map<string, Buffer>();
  private meta: (CommitInfo & { root: Buffer }) | undefined;

  getState(key: Buffer): Buffer | undefined {
    return this.state.get(key.toString("latin1"));
  }
  getNode(hash: Buffer): Buffer | undefined {
    return this.nodes.get(hash.toString("latin1"));
  }
  *iterState(start: Buffer | undefined, end: Buffer | undefined, reverse: boolean): IterableIterator<[Buffer, Buffer]> {
    const keys = [...this.state.keys()]
      .map((k) => Buffer.from(k, "latin1"))
      .filter((k) => (!start || compareBytes(k, start) >= 0) && (!end || compareBytes(k, end) < 0))
      .sort(Buffer.compare);
    if (reverse) keys.reverse();
    for (const k of keys) yield [k, this.state.get(k.toString("latin1"))!];
  }
  readMeta() {
    return this.meta;
  }
  writeCommit(changes: readonly Change[], trie: TrieCommit, info: CommitInfo): void {
    for (const [key, value] of changes) {
      if (value === null) this.state.delete(key.toString("latin1"));
      else this.state.set(key.toString("latin1"), Buffer.from(value));
    }
    for (const h of trie.deletes) this.nodes.delete(h.toString("latin1"));
    for (const [h, rec] of trie.puts) this.nodes.set(h.toString("latin1"), rec);
    this.meta = { height: info.height, appHash: Buffer.from(info.appHash), root: trie.root };
  }
  /** Number of trie nodes stored (tests check that replaced nodes are deleted). */
  nodeCount(): number {
    return this.nodes.size;
  }
  close(): void {
    /* nothing to release */
  }
}

export function openMemoryStore(): CommitStore {
  return new CommitStore(new MemoryBackend());
}
