// The pure core of the FIB: desired routes (from the Loc-RIB) against the routes
// believed installed in the kernel, producing the minimal list of operations.
//
// Rules (docs/architecture.md "Principles": desired state -> diff -> one atomic
// apply; never sweep before the first full sync):
// - Changes are coalesced per prefix until `takeOps()`: a route that flaps
//   set/removed/set between two flushes costs one kernel operation, not three.
// - Routes found in the kernel at start (our `proto`, left by an earlier run or
//   by this speaker before a graceful restart, RFC 4724 §4.1 "retain forwarding
//   state") are kept until `markSynced()`: only then are the ones no longer
//   desired swept.
// - A withdrawn route is deleted, never replaced by a blackhole.
// - After any failed apply the shell re-reads the kernel and calls
//   `reconcile()`, which diffs from scratch.
import { canonicalNextHops } from "./route.js";
import type { KernelRoute, NextHop } from "./route.js";

export type FibOp = { op: "replace"; route: KernelRoute } | { op: "delete"; prefix: string };

/**
 * A next-hop set as one string, so that 1M routes cost one Map entry each and
 * no objects: a single gateway is its own address (the very string the RIB
 * holds, shared), several are sorted and joined by spaces, a device is
 * appended after "%". "" means unknown (never equal to a real set).
 */
type NhKey = string;
const UNKNOWN: NhKey = "";

function hopKey(nh: NextHop): string {
  return nh.dev === undefined ? nh.via : `${nh.via}%${nh.dev}`;
}

export function nextHopKey(nhs: readonly NextHop[]): NhKey {
  if (nhs.length === 1) return hopKey(nhs[0]!);
  return canonicalNextHops(nhs).map(hopKey).join(" ");
}

/** Gateways only (no device): the common case from the RIB, without any object allocation for one hop. */
export function gatewayKey(gateways: readonly string[]): NhKey {
  if (gateways.length === 1) return gateways[0]!;
  return [...new Set(gateways)].sort().join(" ");
}

function decodeKey(k: NhKey): NextHop[] {
  return k.split(" ").map((h) => {
    const i = h.indexOf("%");
    return i < 0 ? { via: h } : { via: h.slice(0, i), dev: h.slice(i + 1) };
  });
}

/**
 * The next hops of a key, shared between the operations that use the same
 * set: a FIB has few distinct next-hop sets (its peers and their ECMP
 * combinations) and a million routes, so takeOps() builds each set once
 * instead of once per route. Bounded: emptied when full. Operations only read
 * their next hops (KernelRoute.nexthops is readonly).
 */
const hopsCache = new Map<NhKey, readonly NextHop[]>();
const HOPS_CACHE_MAX = 4096;

function sharedHops(k: NhKey): readonly NextHop[] {
  let hops = hopsCache.get(k);
  if (hops === undefined) {
    if (hopsCache.size >= HOPS_CACHE_MAX) hopsCache.clear();
    hops = Object.freeze(decodeKey(k).map((h) => Object.freeze(h)));
    hopsCache.set(k, hops);
  }
  return hops;
}

export class FibSync {
  private readonly desired = new Map<string, NhKey>();
  private readonly installed = new Map<string, NhKey>();
  /** prefixes whose desired state changed since the last takeOps() */
  private readonly dirty = new Set<string>();
  /** prefixes read back from the kernel before the first sync and not yet re-learnt; swept only by markSynced() */
  private readonly foundAtStart = new Set<string>();
  private synced = false;

  get isSynced(): boolean {
    return this.synced;
  }

  get desiredCount(): number {
    return this.desired.size;
  }

  get installedCount(): number {
    return this.installed.size;
  }

  /** Installed routes per family (a prefix with a colon is IPv6); O(n), for status on an interval. */
  installedByFamily(): { v4: number; v6: number } {
    let v6 = 0;
    for (const p of this.installed.keys()) if (p.includes(":")) v6++;
    return { v4: this.installed.size - v6, v6 };
  }

  get pendingCount(): number {
    return this.dirty.size;
  }

  /** Desired next hops for a prefix; an empty list means "no route" (delete). */
  set(prefix: string, nexthops: readonly NextHop[]): void {
    if (nexthops.length === 0) {
      this.remove(prefix);
      return;
    }
    this.setKey(prefix, nextHopKey(nexthops));
  }

  /** Like set() with plain gateway addresses (what the RIB produces). */
  setGateways(prefix: string, gateways: readonly string[]): void {
    if (gateways.length === 0) this.remove(prefix);
    else this.setKey(prefix, gatewayKey(gateways));
  }

  private setKey(prefix: string, key: NhKey): void {
    this.desired.set(prefix, key);
    this.foundAtStart.delete(prefix);
    this.dirty.add(prefix);
  }

  remove(prefix: string): void {
    if (this.desired.delete(prefix) || this.installed.has(prefix)) this.dirty.add(prefix);
  }

  desiredRoute(prefix: string): KernelRoute | undefined {
    const k = this.desired.get(prefix);
    return k === undefined ? undefined : { prefix, nexthops: decodeKey(k) };
  }

  installedRoutes(): KernelRoute[] {
    return [...this.installed].map(([prefix, k]) => ({
      prefix,
      nexthops: k === UNKNOWN ? [] : decodeKey(k),
    }));
  }

  /**
   * The operations that bring the kernel from `installed` to `desired` for every
   * prefix changed since the last call. `installed` is updated optimistically;
   * a failed apply must be followed by `reconcile(kernelReadback)`. At most
   * `max` prefixes are taken (bounded batches); the rest stay pending.
   */
  takeOps(max = Infinity): FibOp[] {
    const ops: FibOp[] = [];
    let taken = 0;
    for (const prefix of this.dirty) {
      if (taken++ >= max) break;
      this.dirty.delete(prefix); // deleting the current entry keeps Set iteration valid
      const want = this.desired.get(prefix);
      const have = this.installed.get(prefix);
      if (want !== undefined) {
        if (have !== want) {
          ops.push({ op: "replace", route: { prefix, nexthops: sharedHops(want) } });
          this.installed.set(prefix, want);
        }
      } else if (have !== undefined) {
        // Before the first full sync a route we found in the kernel may still be
        // wanted by a peer that has not re-sent it yet (graceful restart): keep it.
        // A route we installed ourselves in this run is always ours to delete.
        if (this.synced || !this.foundAtStart.has(prefix)) {
          ops.push({ op: "delete", prefix });
          this.installed.delete(prefix);
        }
      }
    }
    return ops;
  }

  /**
   * These operations failed even after a repair: the kernel state of their
   * prefixes is unknown. Remember that (an empty next-hop list never equals a
   * desired one), so the next change of the prefix is applied in full, and
   * without retrying in a loop now.
   */
  failed(ops: readonly FibOp[]): void {
    for (const op of ops) this.installed.set(op.op === "replace" ? op.route.prefix : op.prefix, UNKNOWN);
  }

  /**
   * Replace the belief about the kernel with a readback and diff from scratch.
   * At start this records the leftovers; after a failure it repairs drift.
   */
  reconcile(kernel: readonly KernelRoute[]): FibOp[] {
    this.installed.clear();
    for (const r of kernel) {
      this.installed.set(r.prefix, r.nexthops.length === 0 ? UNKNOWN : nextHopKey(r.nexthops));
      if (!this.synced && !this.desired.has(r.prefix)) this.foundAtStart.add(r.prefix);
    }
    for (const p of this.desired.keys()) this.dirty.add(p);
    for (const p of this.installed.keys()) this.dirty.add(p);
    return this.takeOps();
  }

  /**
   * The first full sync is complete (End-of-RIB from every peer, or the
   * selection-deferral timer fired): sweep every installed route not desired.
   */
  markSynced(): FibOp[] {
    this.synced = true;
    for (const p of this.foundAtStart) this.dirty.add(p);
    this.foundAtStart.clear();
    return this.takeOps();
  }
}
