/**
 * Never act on a store that went backwards. An API server that lost its
 * state (the lab server before it was durable, an etcd restored from an old
 * backup) answers a relist with fewer objects at a LOWER resourceVersion
 * than the informer has already seen. Applied, that list deletes pods,
 * blocks and pools from the cache, and the agent would then release their
 * addresses, sweep their routes and drop their policy rules.
 *
 * The guard keeps the highest resourceVersion an informer has seen (lists,
 * events, bookmarks) and refuses any list or event below it: the informer
 * keeps its last good cache and retries until the server serves a list at or
 * above what was seen (the store caught up or was restored), or until an
 * operator restarts the agent (the mark lives in memory only: a fresh agent
 * accepts what the server has, by decision).
 *
 * resourceVersions are opaque to clients by contract, but every server we
 * run against (etcd revisions, the lab server) issues increasing integers;
 * anything that does not parse as one is accepted unguarded.
 */

export interface RollbackGuard {
  /** Highest resourceVersion seen so far (undefined before the first). */
  highest?: number;
  /** Set while the server serves resourceVersions below `highest`. */
  rolledBack?: { seen: number; got: number };
}

export interface GuardVerdict {
  guard: RollbackGuard;
  accept: boolean;
  /** Refused and the guard was not tripped before: log once, mark not ready. */
  tripped?: boolean;
  /** Accepted after being tripped: the store is back at or above what was seen. */
  cleared?: boolean;
}

/** A resourceVersion as an integer, or undefined when it is not one. */
export function parseRv(rv: string | undefined): number | undefined {
  if (rv === undefined || !/^[0-9]{1,15}$/.test(rv)) return undefined;
  return Number(rv);
}

/** Judges one resourceVersion from a list, a watch event or a bookmark. */
export function judgeRv(g: RollbackGuard, rv: string | undefined): GuardVerdict {
  const n = parseRv(rv);
  if (n === undefined) return { guard: g, accept: true };
  if (g.highest !== undefined && n < g.highest) {
    const tripped = g.rolledBack === undefined;
    return { guard: { highest: g.highest, rolledBack: { seen: g.highest, got: n } }, accept: false, tripped };
  }
  const out: GuardVerdict = { guard: { highest: n }, accept: true };
  if (g.rolledBack !== undefined) out.cleared = true;
  return out;
}

/**
 * May the agent act on informer contents (release, sweep, GC)? Not while any
 * informer refuses a rolled-back store: the caches hold the last good state,
 * but what the server now says disagrees, and an address released or a route
 * swept on either view may belong to a running pod.
 */
export function mayActOnCaches(
  rolledBack: ReadonlyMap<string, { seen: number; got: number }>,
): { ok: true } | { ok: false; reason: string } {
  if (rolledBack.size === 0) return { ok: true };
  const which = [...rolledBack]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([n, r]) => `${n} (saw resourceVersion ${r.seen}, served ${r.got})`)
    .join(", ");
  return {
    ok: false,
    reason:
      `the API server's store went backwards for ${which}: keeping the last good state and ` +
      `releasing nothing until it catches up (restart the agent to accept the server's state as it is)`,
  };
}
