// The destinations of the Loc-RIB as columns indexed by a dense id
// (struct-of-arrays), not one object per prefix (issue 12: at 1M prefixes the
// per-prefix `Dest` and `Path` objects were 130 MB of the heap and most of the
// garbage collector's work).
//
// A destination with one candidate path, the case that dominates a large
// table, keeps that path in the `one*` columns: no object at all. Only a
// destination with several candidates (several peers announcing the prefix,
// or a peer and a local origination) holds `Path` objects, in `many`.
// Without ADD-PATH a peer has at most one path per destination (RFC 4271
// §3.1: a new announcement replaces the previous one), so the source peer's
// index names a path: the Loc-RIB best is kept as that index.
import type { AttrSet } from "./attr-set.js";
import type { CandidatePeer } from "./best-path.js";
import { PrefixTable } from "./prefix-table.js";
import { grownColumn } from "./column.js";

/** The peer fields the table needs: a small index, 0 never used (0 = local). */
export interface IndexedPeer extends CandidatePeer {
  readonly index: number;
}

/** A candidate path of a destination that has several. */
export class Path<P extends IndexedPeer> {
  constructor(
    readonly peer: P | null,
    /** as received; for a local route the origination's set */
    readonly pre: AttrSet,
    /** after import policy; null = rejected (AS loop, RR loop, filter) */
    readonly set: AttrSet | null,
    /** whole seconds (a small integer, stored inline) */
    readonly since: number,
    public stale: boolean,
  ) {}
}

export const V4 = 0;
export const V6 = 1;
/** bestPeer / onePeer: no path */
export const NONE = -1;
/** onePeer: the paths are in `many` */
const MANY = -2;
/** peer index of a locally originated path */
export const LOCAL = 0;

const F_STALE = 1;
const F_DIRTY = 2;
/** the best path was replaced or removed since the last decision */
const F_BEST_TOUCHED = 4;
const F_V6 = 8;
/** the single path was rejected on import (its set is null) */
const F_REJECTED = 16;
/** the single path's set differs from its pre-policy set: it is in oneOwnSet */
const F_OWN_SET = 32;

export class DestTable<P extends IndexedPeer> {
  private readonly prefixes = new PrefixTable();
  // the single-path columns
  private onePeer = new Int32Array(0);
  private oneSince = new Uint32Array(0);
  private readonly onePre: (AttrSet | null)[] = [];
  /**
   * The single path's post-policy set where import policy changed it; grown
   * only when that happens (without such a policy the set is the pre-policy
   * one, or rejected: a flag).
   */
  private readonly oneOwnSet: (AttrSet | null)[] = [];
  private flags = new Uint8Array(0);
  /** destinations with two or more candidate paths */
  private readonly many = new Map<number, Path<P>[]>();
  // the Loc-RIB decision as of the last flush
  /** peer index of the best path, NONE, or LOCAL */
  bestPeer = new Int32Array(0);
  /** index into BEST_REASONS */
  reason = new Uint8Array(0);
  /** ECMP members including the best, best first; only when more than one */
  readonly multipath = new Map<number, Path<P>[]>();
  /**
   * the next-hop list last reported to the FIB: null none, a string one, an
   * array ECMP; grown only while FIB changes are built (setFibNh), shorter
   * than the id space otherwise (undefined: nothing reported)
   */
  readonly fibNh: (string | string[] | null)[] = [];
  /** destinations changed since the last flush, in order of first change */
  private dirtyList = new Int32Array(1024);
  private dirtyCount = 0;

  constructor(private readonly peerByIndex: readonly (P | undefined)[]) {}

  get size(): number {
    return this.prefixes.size;
  }

  /** one past the highest id: iterate `for (id < end) if (live(id))` */
  get end(): number {
    return this.prefixes.end;
  }

  live(id: number): boolean {
    return this.prefixes.live(id);
  }

  get(prefix: string): number {
    return this.prefixes.get(prefix);
  }

  prefix(id: number): string {
    return this.prefixes.prefix(id);
  }

  family(id: number): number {
    return this.flags[id]! & F_V6 ? V6 : V4;
  }

  /** The id of the IPv4 prefix addr/len's destination (packed, see PrefixTable.getV4), or -1. */
  getV4(addr: number, len: number): number {
    return this.prefixes.getV4(addr, len);
  }

  /** The id of a prefix's destination, created (empty) if new. */
  intern(prefix: string): number {
    const before = this.prefixes.size;
    const id = this.prefixes.intern(prefix);
    return this.prefixes.size === before ? id : this.created(id, prefix.includes(":"));
  }

  /** intern() of the IPv4 prefix addr/len, packed (host bits clear). */
  internV4(addr: number, len: number): number {
    const before = this.prefixes.size;
    const id = this.prefixes.internV4(addr, len);
    return this.prefixes.size === before ? id : this.created(id, false);
  }

  /** Sets up the columns of a destination id just handed out. */
  private created(id: number, v6: boolean): number {
    if (id >= this.flags.length) this.grow(this.prefixes.capacity);
    if (id === this.onePre.length) this.onePre.push(null);
    this.onePeer[id] = NONE;
    this.bestPeer[id] = NONE;
    this.reason[id] = 0;
    this.flags[id] = v6 ? F_V6 : 0;
    return id;
  }

  /** Forget an empty destination (its id may be reused). */
  delete(id: number): void {
    this.prefixes.delete(id);
    this.onePre[id] = null;
    if (id < this.oneOwnSet.length) this.oneOwnSet[id] = null;
    if (id < this.fibNh.length) this.fibNh[id] = null;
    this.multipath.delete(id);
  }

  // ---- candidate paths

  count(d: number): number {
    const p = this.onePeer[d]!;
    return p === MANY ? this.many.get(d)!.length : p === NONE ? 0 : 1;
  }

  peerAt(d: number, i: number): P | null {
    const p = this.onePeer[d]!;
    if (p === MANY) return this.many.get(d)![i]!.peer;
    return p === LOCAL ? null : this.peerByIndex[p]!;
  }

  peerIndexAt(d: number, i: number): number {
    const p = this.onePeer[d]!;
    return p === MANY ? peerIndex(this.many.get(d)![i]!.peer) : p;
  }

  preAt(d: number, i: number): AttrSet {
    const p = this.onePeer[d]!;
    return p === MANY ? this.many.get(d)![i]!.pre : this.onePre[d]!;
  }

  setAt(d: number, i: number): AttrSet | null {
    const p = this.onePeer[d]!;
    if (p === MANY) return this.many.get(d)![i]!.set;
    const f = this.flags[d]!;
    return f & F_REJECTED ? null : f & F_OWN_SET ? this.oneOwnSet[d]! : this.onePre[d]!;
  }

  sinceAt(d: number, i: number): number {
    const p = this.onePeer[d]!;
    return p === MANY ? this.many.get(d)![i]!.since : this.oneSince[d]!;
  }

  staleAt(d: number, i: number): boolean {
    const p = this.onePeer[d]!;
    return p === MANY ? this.many.get(d)![i]!.stale : (this.flags[d]! & F_STALE) !== 0;
  }

  setStaleAt(d: number, i: number, stale: boolean): void {
    if (this.onePeer[d]! === MANY) this.many.get(d)![i]!.stale = stale;
    else if (stale) this.flags[d]! |= F_STALE;
    else this.flags[d]! &= ~F_STALE;
  }

  /** Position of the path from `peer` (null = local), or -1. */
  indexOf(d: number, peer: P | null): number {
    const p = this.onePeer[d]!;
    if (p === MANY) {
      const ps = this.many.get(d)!;
      for (let i = 0; i < ps.length; i++) if (ps[i]!.peer === peer) return i;
      return -1;
    }
    return p !== NONE && p === peerIndex(peer) ? 0 : -1;
  }

  add(d: number, peer: P | null, pre: AttrSet, set: AttrSet | null, since: number, stale: boolean): void {
    const p = this.onePeer[d]!;
    if (p === NONE) {
      this.onePeer[d] = peerIndex(peer);
      this.onePre[d] = pre;
      this.setOneSet(d, pre, set);
      this.oneSince[d] = since;
      if (stale) this.flags[d]! |= F_STALE;
      return;
    }
    const path = new Path(peer, pre, set, since, stale);
    if (p === MANY) {
      this.many.get(d)!.push(path);
      return;
    }
    // one -> many: the inline path becomes an object too
    this.many.set(d, [this.pathAt(d), path]);
    this.clearOne(d);
    this.onePeer[d] = MANY;
  }

  /**
   * Replace path i (same peer) by new values. The flush tells "best changed"
   * by the best peer and this mark, so replacing the best marks it.
   */
  replaceAt(d: number, i: number, pre: AttrSet, set: AttrSet | null, since: number, stale: boolean): void {
    const p = this.onePeer[d]!;
    if (p === MANY) {
      const ps = this.many.get(d)!;
      const peer = ps[i]!.peer;
      if (peerIndex(peer) === this.bestPeer[d]) this.flags[d]! |= F_BEST_TOUCHED;
      ps[i] = new Path(peer, pre, set, since, stale);
      return;
    }
    if (p === this.bestPeer[d]) this.flags[d]! |= F_BEST_TOUCHED;
    this.onePre[d] = pre;
    this.setOneSet(d, pre, set);
    this.oneSince[d] = since;
    this.setStaleAt(d, 0, stale);
  }

  /** Remove path i by swapping in the last one: candidate order does not matter to selectBest. */
  removeAt(d: number, i: number): void {
    const p = this.onePeer[d]!;
    if (p !== MANY) {
      if (p === this.bestPeer[d]) this.flags[d]! |= F_BEST_TOUCHED;
      this.clearOne(d);
      this.onePeer[d] = NONE;
      return;
    }
    const ps = this.many.get(d)!;
    if (peerIndex(ps[i]!.peer) === this.bestPeer[d]) this.flags[d]! |= F_BEST_TOUCHED;
    const last = ps.pop()!;
    if (i < ps.length) ps[i] = last;
    if (ps.length === 1) {
      // many -> one
      const q = ps[0]!;
      this.many.delete(d);
      this.onePeer[d] = peerIndex(q.peer);
      this.onePre[d] = q.pre;
      this.setOneSet(d, q.pre, q.set);
      this.oneSince[d] = q.since;
      if (q.stale) this.flags[d]! |= F_STALE;
    }
  }

  /** All candidate paths as objects (allocates for a single path: queries and several-path decisions only). */
  list(d: number): Path<P>[] {
    const p = this.onePeer[d]!;
    return p === MANY ? this.many.get(d)! : p === NONE ? [] : [this.pathAt(d)];
  }

  /** Forgets every next-hop list reported to the FIB (nobody consumes FIB changes: rib.ts takeChanges). */
  clearFibNh(): void {
    this.fibNh.length = 0;
  }

  setFibNh(d: number, nh: string | string[] | null): void {
    const a = this.fibNh;
    // grow by appending (never a hole: the array stays in fast elements)
    while (a.length <= d) a.push(null);
    a[d] = nh;
  }

  // ---- the change queue

  /** Queue the destination for the next decision (once per flush). */
  markDirty(d: number): void {
    const f = this.flags[d]!;
    if (f & F_DIRTY) return;
    this.flags[d] = f | F_DIRTY;
    if (this.dirtyCount === this.dirtyList.length) {
      const l = new Int32Array(this.dirtyList.length * 2);
      l.set(this.dirtyList);
      this.dirtyList = l;
    }
    this.dirtyList[this.dirtyCount++] = d;
  }

  /** destinations queued for the next decision */
  get pending(): number {
    return this.dirtyCount;
  }

  isDirty(d: number): boolean {
    return (this.flags[d]! & F_DIRTY) !== 0;
  }

  /**
   * Hand the queued destinations to `visit` in order and empty the queue;
   * `bestTouched` says whether the best path was replaced or removed meanwhile.
   */
  drainDirty(visit: (d: number, bestTouched: boolean) => void): void {
    const list = this.dirtyList;
    const n = this.dirtyCount;
    this.dirtyCount = 0;
    for (let k = 0; k < n; k++) {
      const d = list[k]!;
      const f = this.flags[d]!;
      this.flags[d] = f & ~(F_DIRTY | F_BEST_TOUCHED);
      visit(d, (f & F_BEST_TOUCHED) !== 0);
    }
    if (list.length > 65536 && n < list.length / 4) this.dirtyList = new Int32Array(1024);
  }

  // ---- internals

  private pathAt(d: number): Path<P> {
    return new Path(
      this.peerAt(d, 0),
      this.onePre[d]!,
      this.setAt(d, 0),
      this.oneSince[d]!,
      (this.flags[d]! & F_STALE) !== 0,
    );
  }

  private clearOne(d: number): void {
    this.onePre[d] = null;
    if (d < this.oneOwnSet.length) this.oneOwnSet[d] = null;
    this.oneSince[d] = 0;
    this.flags[d]! &= ~(F_STALE | F_REJECTED | F_OWN_SET);
  }

  private setOneSet(d: number, pre: AttrSet, set: AttrSet | null): void {
    let f = this.flags[d]! & ~(F_REJECTED | F_OWN_SET);
    if (set === null) f |= F_REJECTED;
    else if (set !== pre) {
      f |= F_OWN_SET;
      const own = this.oneOwnSet;
      // grow by appending (never a hole: the array stays in fast elements)
      while (own.length <= d) own.push(null);
      own[d] = set;
    }
    if (!(f & F_OWN_SET) && d < this.oneOwnSet.length) this.oneOwnSet[d] = null;
    this.flags[d] = f;
  }

  private grow(n: number): void {
    this.onePeer = grownColumn(this.onePeer, n);
    this.bestPeer = grownColumn(this.bestPeer, n);
    this.oneSince = grownColumn(this.oneSince, n);
    this.flags = grownColumn(this.flags, n);
    this.reason = grownColumn(this.reason, n);
  }
}

function peerIndex(peer: IndexedPeer | null): number {
  return peer === null ? LOCAL : peer.index;
}
