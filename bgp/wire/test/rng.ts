/**
 * mulberry32: a small, fast, seeded PRNG for reproducible fuzz and generator
 * runs (a failing seed is printed and can be replayed). Not for anything secret.
 * test/support/rng.ts re-exports it for the other rooms' tests.
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same stream as whole uint32 values (for `next() % n` picks). */
export function rngU32(seed: number): () => number {
  const r = rng(seed);
  return () => Math.floor(r() * 4294967296);
}
