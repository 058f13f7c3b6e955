/**
 * Exponential backoff with jitter, as a pure function of the attempt number:
 * `minMs` after the first failure, doubling per attempt, capped at `maxMs`,
 * then spread by ±jitter/2 so that many clients failing together do not
 * come back in lockstep. `random` is injected (0 <= r < 1): tests pass a
 * constant or a seeded generator, the shells pass Math.random.
 */
export interface BackoffOptions {
  /** Delay after the first failure, milliseconds. */
  minMs: number;
  /** Upper bound before jitter, milliseconds. */
  maxMs: number;
  /** Fraction of the delay that is randomised, 0..1 (0.25 = ±12.5%; 0 = none). */
  jitter: number;
  /**
   * "symmetric" (default): the delay is spread around the exponential step.
   * "equal": the delay lies in [step·(1 - jitter), step], never above it —
   * jitter 0.5 is "equal jitter" (AWS Architecture Blog, "Exponential Backoff
   * and Jitter"): at least half the step, so retries still thin out.
   */
  mode?: "symmetric" | "equal";
}

/** Delay before retry number `attempt` (1 = after the first failure; below 1 counts as 1). */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const base = Math.min(opts.maxMs, opts.minMs * 2 ** Math.min(n - 1, 30));
  const spread = base * opts.jitter;
  if (opts.mode === "equal") return Math.max(0, Math.round(base - spread + spread * random()));
  return Math.max(0, Math.round(base - spread / 2 + spread * random()));
}
