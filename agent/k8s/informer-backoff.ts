/**
 * When an informer retries, and what it says about it: a pure state machine
 * (signal in, state + delay + log line out); the informer shells
 * (resilient-informer.ts, optional-informer.ts) own the timers.
 *
 * Success is end-to-end, never a bare connect: during an API server outage
 * the lab's socat relay (and many load balancers) accept the TCP connection
 * and close it at once, so "connected" says nothing. The failure count
 * resets only once a list has completed AND a watch has then delivered
 * something (an event or a bookmark). A watch that resumes from the cached
 * resourceVersion after a short break and delivers also counts: its cache
 * came from a completed list and the server just proved it can serve it.
 *
 * Delays are exponential with "equal jitter" (AWS Architecture Blog,
 * "Exponential Backoff and Jitter"): attempt n waits a uniformly random
 * time in [c/2, c] with c = min(max, min·2^(n-1)), never less than min, so
 * 1000 agents that lost the same API server spread their retries out
 * instead of returning in lockstep.
 */

import { backoffDelay as netBackoffDelay } from "../../net/backoff.js";

export interface BackoffBounds {
  /** First retry delay (config `informerBackoffMinMs`). */
  minMs: number;
  /** Ceiling of the exponential (config `informerBackoffMaxMs`). */
  maxMs: number;
}

/** The delay before retry number `attempt` (1-based); `random` in [0, 1). */
export function backoffDelay(attempt: number, b: BackoffBounds, random: number): number {
  const r = Math.min(Math.max(random, 0), 1);
  return Math.max(
    b.minMs,
    netBackoffDelay(attempt, { ...b, jitter: 0.5, mode: "equal" }, () => r),
  );
}

export type InformerPhase =
  /** Never listed yet, no failure. */
  | "starting"
  /** Listed, and the watch delivered since (or not failed since the list). */
  | "in-sync"
  /** Failing: retrying with backoff. */
  | "lost";

export interface InformerHealth {
  phase: InformerPhase;
  /** The cache comes from a completed list that the watch continues (no relist owed). */
  listed: boolean;
  /** Consecutive failed attempts (drives the delay). */
  failures: number;
  /** When the informer went from working (or starting) to lost. */
  lostAt?: number;
}

export type InformerSignal =
  /** A list completed and was accepted. */
  | { type: "listed" }
  /** The watch delivered an event or a bookmark (not an ERROR). */
  | { type: "delivered" }
  /** The cache must be rebuilt from a new list (410 Gone, store rolled back). */
  | { type: "relist" }
  /** A list or watch failed (error, refused or closed connection, 5xx). */
  | { type: "failed" }
  /** A TCP/HTTP connection opened. Deliberately not success: see above. */
  | { type: "connected" };

export type InformerLog =
  { level: "warn"; what: "lost" } | { level: "info"; what: "recovered"; attempts: number; seconds: number };

export interface InformerStep {
  health: InformerHealth;
  /** Set on "failed": wait this long, then retry. */
  retryInMs?: number;
  /** A change of state worth one line at info/warn (per attempt: debug only). */
  log?: InformerLog;
}

export function initialHealth(): InformerHealth {
  return { phase: "starting", listed: false, failures: 0 };
}

/** One signal → the next state, the retry delay and the log line, if any. `now` and `random` are injected. */
export function informerStep(
  h: InformerHealth,
  sig: InformerSignal,
  b: BackoffBounds,
  now: number,
  random: number,
): InformerStep {
  switch (sig.type) {
    case "connected":
      return { health: h };
    case "listed":
      // A list alone is not recovery: the watch must deliver too.
      return { health: { ...h, listed: true } };
    case "relist":
      return { health: { ...h, listed: false } };
    case "delivered": {
      if (!h.listed) return { health: h };
      if (h.phase === "in-sync") return { health: h };
      const health: InformerHealth = { phase: "in-sync", listed: true, failures: 0 };
      if (h.phase === "lost") {
        const seconds = h.lostAt === undefined ? 0 : Math.max(0, (now - h.lostAt) / 1000);
        return { health, log: { level: "info", what: "recovered", attempts: h.failures, seconds } };
      }
      return { health };
    }
    case "failed": {
      const failures = h.failures + 1;
      const retryInMs = backoffDelay(failures, b, random);
      if (h.phase === "lost") return { health: { ...h, failures }, retryInMs };
      return {
        health: { phase: "lost", listed: h.listed, failures, lostAt: now },
        retryInMs,
        log: { level: "warn", what: "lost" },
      };
    }
  }
}
