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
//
// Storage (issue 12): a FIB holds a full table, so nothing here is kept per
// prefix as a string or a Map/Set entry. Prefixes are interned to dense ids
// by a PrefixTable of the FIB's own (the RIB's kind: IPv4 packed, no string),
// next-hop sets to small integer ids (a FIB has few distinct sets: its peers
// and their ECMP combinations), and the state of a prefix is typed columns
// indexed by its id: the desired set, the installed set, and flags (pending,
// found at start, IPv6). The pending prefixes are a queue of ids. An id is
// freed once its prefix is neither desired, installed nor pending. In-process
// (`rib-inproc.js 1000000 16 fibsync`, 1M /24s, medians of 5), the Map/Set
// layout this replaces held 127 MB after GC beyond the RIB's own (heap plus
// external), this one 28 MB (typed arrays), and FibSync's wall time went from
// 1.6 s to 0.7 s (README.md). Operations still carry prefix text: it is made
// in takeOps() for the operations of that batch only, and dropped with them.
import { grownColumn } from "../rib/column.js";
import { PrefixTable } from "../rib/prefix-table.js";
import { canonicalNextHops } from "./route.js";
import type { KernelRoute, NextHop } from "./route.js";

export type FibOp = { op: "replace"; route: KernelRoute } | { op: "delete"; prefix: string };

/**
 * A next-hop set as one string, the key under which it is interned: a single
 * gateway is its own address (the very string the RIB holds, shared), several
 * are sorted and joined by spaces, a device is appended after "%".
 */
type NhKey = string;

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

/** desired/installed column value: no route */
const NONE = 0;
/**
 * installed column value: the kernel state of the prefix is unknown (a failed
 * operation, or a readback without next hops); never equal to a desired set,
 * so the next change of the prefix is applied in full
 */
const UNKNOWN = 1;
/** the first id of a real next-hop set */
const FIRST_SET = 2;

/** flags column: the prefix is in the pending queue */
const PENDING = 1;
/** flags column: read back from the kernel before the first sync and not re-learnt since; swept only by markSynced() */
const FOUND = 2;
/** flags column: the prefix is IPv6 (has a colon), for installedByFamily() */
const V6 = 4;
/** flags column: the id is in use (set when the table hands it out, cleared when it is freed) */
const LIVE = 8;

export class FibSync {
  private readonly prefixes = new PrefixTable();
  /** prefix id -> desired next-hop set id, or NONE */
  private want = new Int32Array(1024);
  /** prefix id -> installed next-hop set id, NONE or UNKNOWN */
  private have = new Int32Array(1024);
  /** prefix id -> PENDING | FOUND | V6 | LIVE */
  private flags = new Uint8Array(1024);
  /**
   * The prefixes whose desired state changed since they were last taken, each
   * once (the PENDING flag), in order of first change: ids at
   * queue[qHead..qTail).
   */
  private queue = new Int32Array(1024);
  private qHead = 0;
  private qTail = 0;
  private desiredN = 0;
  private installedN = 0;
  private installedV6 = 0;

  /** next-hop set key -> id (FIRST_SET and up), and back; a set is freed when no column refers to it */
  private readonly setIds = new Map<NhKey, number>();
  private readonly setKeys: (NhKey | undefined)[] = [undefined, undefined];
  /** references from the desired and installed columns */
  private readonly setRefs: number[] = [0, 0];
  /** the NextHop objects of a set, built on first use and shared by every operation with that set */
  private readonly setHops: (readonly NextHop[] | undefined)[] = [undefined, undefined];
  private readonly freeSets: number[] = [];
  /** the last set looked up: consecutive routes of a table mostly share their next hops */
  private lastKey: NhKey | undefined;
  private lastSet = NONE;

  private synced = false;

  get isSynced(): boolean {
    return this.synced;
  }

  get desiredCount(): number {
    return this.desiredN;
  }

  get installedCount(): number {
    return this.installedN;
  }

  /** Installed routes per family (a prefix with a colon is IPv6). */
  installedByFamily(): { v4: number; v6: number } {
    return { v4: this.installedN - this.installedV6, v6: this.installedV6 };
  }

  get pendingCount(): number {
    return this.qTail - this.qHead;
  }

  /** Desired next hops for a prefix; an empty list means "no route" (delete). */
  set(prefix: string, nexthops: readonly NextHop[]): void {
    if (nexthops.length === 0) {
      this.remove(prefix);
      return;
    }
    this.setDesired(prefix, this.setId(nextHopKey(nexthops)));
  }

  /** Like set() with plain gateway addresses (what the RIB produces). */
  setGateways(prefix: string, gateways: readonly string[]): void {
    if (gateways.length === 0) this.remove(prefix);
    else this.setDesired(prefix, this.setId(gatewayKey(gateways)));
  }

  private setDesired(prefix: string, set: number): void {
    const id = this.intern(prefix);
    const old = this.want[id]!;
    if (old !== set) {
      this.ref(set);
      if (old === NONE) this.desiredN++;
      else this.unref(old);
      this.want[id] = set;
    }
    this.flags[id] = this.flags[id]! & ~FOUND;
    this.markPending(id);
  }

  remove(prefix: string): void {
    const id = this.prefixes.get(prefix);
    if (id < 0) return;
    const old = this.want[id]!;
    if (old !== NONE) {
      this.want[id] = NONE;
      this.desiredN--;
      this.unref(old);
      this.markPending(id);
    } else if (this.have[id] !== NONE) this.markPending(id);
  }

  desiredRoute(prefix: string): KernelRoute | undefined {
    const id = this.prefixes.get(prefix);
    const set = id < 0 ? NONE : this.want[id]!;
    return set === NONE ? undefined : { prefix, nexthops: decodeKey(this.setKeys[set]!) };
  }

  /** Every installed route, in prefix id order; O(n). */
  installedRoutes(): KernelRoute[] {
    const routes: KernelRoute[] = [];
    for (let id = 0, end = this.prefixes.end; id < end; id++) {
      const set = this.have[id]!;
      if (set === NONE) continue;
      routes.push({
        prefix: this.prefixes.prefix(id),
        nexthops: set === UNKNOWN ? [] : decodeKey(this.setKeys[set]!),
      });
    }
    return routes;
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
    while (this.qHead < this.qTail) {
      if (taken++ >= max) break;
      const id = this.queue[this.qHead++]!;
      this.flags[id] = this.flags[id]! & ~PENDING;
      const want = this.want[id]!;
      const have = this.have[id]!;
      if (want !== NONE) {
        if (have !== want) {
          ops.push({
            op: "replace",
            route: { prefix: this.prefixes.prefix(id), nexthops: this.sharedHops(want) },
          });
          this.setInstalled(id, want);
        }
      } else if (have !== NONE) {
        // Before the first full sync a route we found in the kernel may still be
        // wanted by a peer that has not re-sent it yet (graceful restart): keep it.
        // A route we installed ourselves in this run is always ours to delete.
        if (this.synced || (this.flags[id]! & FOUND) === 0) {
          ops.push({ op: "delete", prefix: this.prefixes.prefix(id) });
          this.setInstalled(id, NONE);
        }
      }
      this.release(id);
    }
    if (this.qHead === this.qTail) this.qHead = this.qTail = 0;
    return ops;
  }

  /**
   * These operations failed even after a repair: the kernel state of their
   * prefixes is unknown. Remember that (UNKNOWN never equals a desired set),
   * so the next change of the prefix is applied in full, and without retrying
   * in a loop now.
   */
  failed(ops: readonly FibOp[]): void {
    for (const op of ops)
      this.setInstalled(this.intern(op.op === "replace" ? op.route.prefix : op.prefix), UNKNOWN);
  }

  /**
   * Replace the belief about the kernel with a readback and diff from scratch.
   * At start this records the leftovers; after a failure it repairs drift.
   * The prefixes not pending before come in prefix id order.
   */
  reconcile(kernel: readonly KernelRoute[]): FibOp[] {
    const t = this.prefixes;
    for (let id = 0, end = t.end; id < end; id++) if (this.have[id] !== NONE) this.setInstalled(id, NONE);
    for (const r of kernel) {
      const set = r.nexthops.length === 0 ? UNKNOWN : this.setId(nextHopKey(r.nexthops));
      const id = this.intern(r.prefix);
      this.setInstalled(id, set);
      if (!this.synced && this.want[id] === NONE) this.flags[id] = this.flags[id]! | FOUND;
    }
    for (let id = 0, end = t.end; id < end; id++) {
      if ((this.flags[id]! & LIVE) === 0) continue;
      if (this.want[id] !== NONE || this.have[id] !== NONE) this.markPending(id);
      else this.release(id); // only installed before, and not pending: nothing left to do for it
    }
    return this.takeOps();
  }

  /**
   * The first full sync is complete (End-of-RIB from every peer, or the
   * selection-deferral timer fired): sweep every installed route not desired.
   */
  markSynced(): FibOp[] {
    this.synced = true;
    for (let id = 0, end = this.prefixes.end; id < end; id++) {
      if ((this.flags[id]! & FOUND) === 0) continue;
      this.flags[id] = this.flags[id]! & ~FOUND;
      this.markPending(id);
    }
    return this.takeOps();
  }

  // ---------------------------------------------------------------- storage

  /** The id of a prefix, allocated (and the columns grown) if new. */
  private intern(prefix: string): number {
    const id = this.prefixes.intern(prefix);
    if (id >= this.want.length) this.grow(this.prefixes.capacity);
    if ((this.flags[id]! & LIVE) === 0) this.flags[id] = prefix.includes(":") ? LIVE | V6 : LIVE;
    return id;
  }

  /** Free a prefix id that is neither desired nor installed nor pending. */
  private release(id: number): void {
    if (this.want[id] !== NONE || this.have[id] !== NONE || (this.flags[id]! & PENDING) !== 0) return;
    this.flags[id] = 0;
    this.prefixes.delete(id);
  }

  private grow(capacity: number): void {
    this.want = grownColumn(this.want, capacity);
    this.have = grownColumn(this.have, capacity);
    this.flags = grownColumn(this.flags, capacity);
  }

  private markPending(id: number): void {
    const f = this.flags[id]!;
    if ((f & PENDING) !== 0) return;
    this.flags[id] = f | PENDING;
    if (this.qTail === this.queue.length) {
      const n = this.qTail - this.qHead;
      // Compact when at least half of the queue has been taken, so each
      // compaction moves at most as many ids as were pushed since the last;
      // otherwise double it. Each prefix is queued at most once, so the queue
      // never needs more room than the prefix table has ids.
      if (this.qHead >= n) this.queue.copyWithin(0, this.qHead, this.qTail);
      else {
        const q = new Int32Array(this.queue.length * 2);
        q.set(this.queue.subarray(this.qHead, this.qTail));
        this.queue = q;
      }
      this.qHead = 0;
      this.qTail = n;
    }
    this.queue[this.qTail++] = id;
  }

  private setInstalled(id: number, set: number): void {
    const old = this.have[id]!;
    if (old === set) return;
    this.ref(set);
    this.unref(old);
    this.have[id] = set;
    if (old === NONE || set === NONE) {
      const d = old === NONE ? 1 : -1;
      this.installedN += d;
      if ((this.flags[id]! & V6) !== 0) this.installedV6 += d;
    }
  }

  /** The id of a next-hop set, interned if new (with no reference yet: the caller stores it). */
  private setId(key: NhKey): number {
    if (key === this.lastKey) return this.lastSet;
    let id = this.setIds.get(key);
    if (id === undefined) {
      id = this.freeSets.pop() ?? this.setKeys.length;
      this.setIds.set(key, id);
      this.setKeys[id] = key;
      this.setRefs[id] = 0;
      this.setHops[id] = undefined;
    }
    this.lastKey = key;
    this.lastSet = id;
    return id;
  }

  private ref(set: number): void {
    if (set >= FIRST_SET) this.setRefs[set]!++;
  }

  private unref(set: number): void {
    if (set < FIRST_SET || --this.setRefs[set]! > 0) return;
    this.setIds.delete(this.setKeys[set]!);
    this.setKeys[set] = undefined;
    this.setHops[set] = undefined;
    this.freeSets.push(set);
    if (this.lastSet === set) this.lastKey = undefined;
  }

  /**
   * The next hops of a set, shared between the operations that use it: a FIB
   * has few distinct next-hop sets and a million routes, so takeOps() builds
   * each set once instead of once per route. Operations only read their next
   * hops (KernelRoute.nexthops is readonly).
   */
  private sharedHops(set: number): readonly NextHop[] {
    let hops = this.setHops[set];
    if (hops === undefined) {
      hops = Object.freeze(decodeKey(this.setKeys[set]!).map((h) => Object.freeze(h)));
      this.setHops[set] = hops;
    }
    return hops;
  }
}
