/** Capped exponential backoff for watch restarts and API retries: 500 ms doubling to 30 s. */
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 30_000;

export function nextBackoffMs(previous: number): number {
  if (previous <= 0) return BACKOFF_MIN_MS;
  return Math.min(previous * 2, BACKOFF_MAX_MS);
}
