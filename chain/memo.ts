/**
 * A bounded memo of a pure function's recent results: looked up by key, computed on a
 * miss, and cleared whole when full (the working set — the addresses and keys of the
 * accounts in use — refills it at once). Never consensus state: what it returns is what
 * the function would.
 */
export class Memo<K, V> {
  private readonly map = new Map<K, V>();

  /** `compute` should capture nothing: it is called with the key only, on a miss. */
  constructor(
    private readonly max: number,
    private readonly compute: (key: K) => V,
  ) {}

  get(key: K): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = this.compute(key);
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(key, v);
    }
    return v;
  }

  get size(): number {
    return this.map.size;
  }
}
