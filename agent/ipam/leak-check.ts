/**
 * The periodic leak check, pure: given what was seen missing before, the
 * allocations of this node and the pods that exist now, say which handles to
 * release. An allocation leaks when
 *   - its pod is gone, or
 *   - its sandbox was superseded: the pod (same namespace and name) holds a
 *     newer allocation here under another handle, and the pod's status shows
 *     the newer handle's address and not this one's. That is the trace of a
 *     pod recreated under its old name (a StatefulSet restart) whose old
 *     sandbox's DEL was lost while the agent was down: the runtime no longer
 *     knows the old sandbox, so nothing else would ever release its address.
 *     The status must already name the new address, and only handles
 *     allocated before it count — while the kubelet has not written the new
 *     address yet, or when the status shows neither, nothing is superseded.
 * Either way it is released only after two observations at least `graceMs`
 * apart both found it so (a pod informer that lags behind a fresh ADD must
 * not cost a pod its address). Allocations without a pod name (no Kubernetes
 * args) are left to CNI GC, which knows the runtime's attachments.
 */
export interface LeakCandidate {
  handle: string;
  namespace: string | undefined;
  pod: string | undefined;
  /** RFC 3339 time the address was allocated. */
  timestamp: string | undefined;
  /** The allocated address (canonical text), to compare with the pod's status. */
  address?: string | undefined;
}

/** What the cluster says of a pod now: absent, or present with the addresses in its status. */
export type PodLookup = (namespace: string, pod: string) => { podIPs: readonly string[] } | undefined;

/** Handles whose sandbox a newer sandbox of the same pod replaced (see above). */
export function supersededHandles(allocations: readonly LeakCandidate[], lookup: PodLookup): Set<string> {
  const byPod = new Map<string, LeakCandidate[]>();
  for (const a of allocations) {
    if (a.namespace === undefined || a.pod === undefined) continue;
    const k = `${a.namespace}/${a.pod}`;
    const list = byPod.get(k);
    if (list === undefined) byPod.set(k, [a]);
    else list.push(a);
  }
  const out = new Set<string>();
  for (const list of byPod.values()) {
    const handles = new Set(list.map((a) => a.handle));
    if (handles.size < 2) continue;
    const first = list[0];
    if (first?.namespace === undefined || first.pod === undefined) continue;
    const podIPs = new Set(lookup(first.namespace, first.pod)?.podIPs ?? []);
    // The handles whose addresses the pod's status shows are the current sandbox's.
    const current = new Set(
      list.filter((a) => a.address !== undefined && podIPs.has(a.address)).map((a) => a.handle),
    );
    if (current.size !== 1) continue;
    // Only sandboxes older than the current one: a newer handle the status does not show yet is an ADD in flight.
    const since = Math.min(...list.filter((a) => current.has(a.handle)).map((a) => stamp(a)));
    for (const a of list) if (!current.has(a.handle) && stamp(a) < since) out.add(a.handle);
  }
  return out;
}

export interface LeakCheckResult {
  release: string[];
  /** handle -> first time (ms) the pod was seen missing; feed back next time. */
  missingSince: Map<string, number>;
}

/** Allocation time in ms; an allocation without one counts as newest (never superseded). */
function stamp(a: LeakCandidate): number {
  const t = a.timestamp === undefined ? Number.NaN : Date.parse(a.timestamp);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

export function leakCheck(
  previous: ReadonlyMap<string, number>,
  allocations: readonly LeakCandidate[],
  lookup: PodLookup,
  nowMs: number,
  graceMs: number,
): LeakCheckResult {
  const missingSince = new Map<string, number>();
  const release: string[] = [];
  const superseded = supersededHandles(allocations, lookup);
  for (const a of allocations) {
    if (a.namespace === undefined || a.pod === undefined) continue;
    if (lookup(a.namespace, a.pod) !== undefined && !superseded.has(a.handle)) continue;
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
