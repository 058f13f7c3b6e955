/**
 * mulberry32, the seeded PRNG of the fuzz and generator tests. It is written
 * once, in bgp/wire/test/rng.ts (bgp/ imports nothing of ours but net/, and a
 * test PRNG is no ground-floor primitive); test/ may import every room.
 */
export { rng } from "../../bgp/wire/test/rng.js";
