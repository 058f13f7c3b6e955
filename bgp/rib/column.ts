// A typed-array column grown to a new length, its contents kept: the RIB's
// and the FIB's per-destination state is columns indexed by a dense id
// (dest-table.ts, ../fib/fib-sync.ts), grown together when the prefix table
// hands out an id past their end.

type Column = Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;

/** A copy of `a` of length `n` (n ≥ a.length), zero past the old end. */
export function grownColumn<T extends Column>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
