/**
 * How long a peer stays Idle before an automatic restart (the IdleHoldTimer of
 * RFC 4271 §8.1.1, "DampPeerOscillations"): exponential in the number of
 * consecutive failures, capped, with jitter so that many peers that fail
 * together do not come back in lockstep. `random` is injected (0 <= r < 1).
 */
export interface BackoffOptions {
  /** Delay after the first failure, milliseconds. */
  initialMs: number;
  /** Upper bound, milliseconds. */
  maxMs: number;
  /** Fraction of the delay that is randomised, 0..1 (0.25 = ±12.5%). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 120_000, jitter: 0.25 };

export function restartDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const n = Math.max(1, Math.floor(attempt));
  const base = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(n - 1, 30));
  const spread = base * opts.jitter;
  return Math.max(0, Math.round(base - spread / 2 + spread * random()));
}
