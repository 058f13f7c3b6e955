/**
 * The periodic leak check, pure: given what was seen missing before, the
 * allocations of this node and the pods that exist now, say which handles to
 * release. An allocation is released only after two observations at least
 * `graceMs` apart both found its pod gone (a pod informer that lags behind a
 * fresh ADD, or a pod being recreated under the same name, must not lose its
 * address). Allocations without a pod name (no Kubernetes args) are left to
 * CNI GC, which knows the runtime's attachments.
 */
export interface LeakCandidate {
  handle: string;
  namespace: string | undefined;
  pod: string | undefined;
  /** RFC 3339 time the address was allocated. */
  timestamp: string | undefined;
}

export interface LeakCheckResult {
  release: string[];
  /** handle -> first time (ms) the pod was seen missing; feed back next time. */
  missingSince: Map<string, number>;
}

export function leakCheck(
  previous: ReadonlyMap<string, number>,
  allocations: readonly LeakCandidate[],
  podExists: (namespace: string, pod: string) => boolean,
  nowMs: number,
  graceMs: number,
): LeakCheckResult {
  const missingSince = new Map<string, number>();
  const release: string[] = [];
  for (const a of allocations) {
    if (a.namespace === undefined || a.pod === undefined) continue;
    if (podExists(a.namespace, a.pod)) continue;
    // An allocation younger than the grace period may precede its pod in the cache.
    const born = a.timestamp === undefined ? Number.NaN : Date.parse(a.timestamp);
    if (!Number.isNaN(born) && nowMs - born < graceMs) continue;
    const first = previous.get(a.handle);
    if (first === undefined) {
      missingSince.set(a.handle, nowMs);
    } else if (nowMs - first >= graceMs) {
      release.push(a.handle);
    } else {
      missingSince.set(a.handle, first);
    }
  }
  return { release: release.sort(), missingSince };
}

/** Empty affine blocks seen empty twice, `graceMs` apart, are released. */
export function emptyBlocksToRelease(
  previous: ReadonlyMap<string, number>,
  emptyBlocks: readonly string[],
  nowMs: number,
  graceMs: number,
): { release: string[]; emptySince: Map<string, number> } {
  const emptySince = new Map<string, number>();
  const release: string[] = [];
  for (const b of emptyBlocks) {
    const first = previous.get(b);
    if (first === undefined) emptySince.set(b, nowMs);
    else if (nowMs - first >= graceMs) release.push(b);
    else emptySince.set(b, first);
  }
  return { release: release.sort(), emptySince };
}
