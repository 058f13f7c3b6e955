/**
 * A persistent (immutable) map for the incremental compiler's large indexes
 * (10k pods, 12k objects): `set` and `delete` return a new map and leave the
 * old one as it was, without copying it. A shared base plus a small overlay
 * of changes; the overlay is copied on write, and folded into a new base
 * once it outgrows `FOLD` entries (so a write costs O(FOLD) plus, amortised,
 * O(n / FOLD)).
 */
const FOLD = 256;

export class PersistentMap<K, V> {
  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    /** Changes over `base`; undefined marks a deletion. */
    private readonly over: ReadonlyMap<K, V | undefined>,
    readonly size: number,
  ) {}

  static of<K, V>(entries: Iterable<readonly [K, V]> = []): PersistentMap<K, V> {
    const m = new Map<K, V>();
    for (const [k, v] of entries) m.set(k, v);
    return new PersistentMap<K, V>(m, new Map(), m.size);
  }

  get(k: K): V | undefined {
    return this.over.has(k) ? this.over.get(k) : this.base.get(k);
  }

  has(k: K): boolean {
    return this.get(k) !== undefined;
  }

  set(k: K, v: V): PersistentMap<K, V> {
    const size = this.size + (this.has(k) ? 0 : 1);
    return this.with(new Map(this.over).set(k, v), size);
  }

  delete(k: K): PersistentMap<K, V> {
    if (!this.has(k)) return this;
    return this.with(new Map(this.over).set(k, undefined), this.size - 1);
  }

  private with(over: Map<K, V | undefined>, size: number): PersistentMap<K, V> {
    if (over.size <= FOLD) return new PersistentMap(this.base, over, size);
    const base = new Map(this.base);
    for (const [k, v] of over) {
      if (v === undefined) base.delete(k);
      else base.set(k, v);
    }
    return new PersistentMap(base, new Map(), size);
  }

  /** Every entry, without a generator (the hot loops). */
  forEach(f: (v: V, k: K) => void): void {
    const over = this.over;
    this.base.forEach((v, k) => {
      if (!over.has(k)) f(v, k);
    });
    over.forEach((v, k) => {
      if (v !== undefined) f(v, k);
    });
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.base) if (!this.over.has(k)) yield [k, v];
    for (const [k, v] of this.over) if (v !== undefined) yield [k, v];
  }

  *keys(): IterableIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }
}
