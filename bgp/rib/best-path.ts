// The decision process of RFC 4271 §9.1.2 as an ordered chain of elimination
// steps over all candidate paths of one destination (not a pairwise sort: the
// MED rule of §9.1.2.2 c is not transitive, so the RFC defines it on the whole
// set). The step that removed the last competitor is recorded as the reason.
import type { AttrSet } from "./attr-set.js";
import type { BestReason } from "./types.js";

export interface CandidatePeer {
  ibgp: boolean;
  /** BGP Identifier as uint32 */
  routerIdNum: number;
  /** numeric-order key of the peer address (address-order.ts) */
  addrKey: string;
}

export interface Candidate {
  /** attributes after import policy; null = rejected (kept for soft reconfiguration only) */
  set: AttrSet | null;
  /** null for a locally originated route */
  peer: CandidatePeer | null;
  /** ms when learnt (injected clock) */
  since: number;
}

export interface DecisionContext {
  /** our AS, the neighbour AS of routes with an empty AS_PATH */
  localAs: number;
  routerIdNum: number;
  alwaysCompareMed: boolean;
  preferOldestExternal: boolean;
  maxPaths: number;
  relaxAsPath: boolean;
  /** IGP cost to the next hop, undefined = unreachable (§9.1.2.1); absent = all reachable, cost 0 */
  resolve: ((nextHop: string) => number | undefined) | undefined;
}

export interface Selection<C extends Candidate> {
  best: C | null;
  reason: BestReason;
  /** best first; length 1 without ECMP */
  multipath: C[];
}

const NONE: Selection<never> = { best: null, reason: "only-path", multipath: [] };

function cost<C extends Candidate>(c: C, ctx: DecisionContext): number | undefined {
  if (c.peer === null || ctx.resolve === undefined) return 0;
  const nh = c.set!.attrs.nextHop;
  return nh === undefined ? undefined : ctx.resolve(nh);
}

function keepMin<C>(cands: C[], value: (c: C) => number): C[] {
  let min = Infinity;
  for (const c of cands) min = Math.min(min, value(c));
  return cands.filter((c) => value(c) === min);
}

function routerIdOf(c: Candidate, ctx: DecisionContext): number {
  // RFC 4456 §9: a reflected route's ORIGINATOR_ID stands in for the BGP Identifier.
  const o = c.set!.originatorId;
  if (o >= 0) return o;
  return c.peer === null ? ctx.routerIdNum : c.peer.routerIdNum;
}

function isEbgp(c: Candidate): boolean {
  return c.peer !== null && !c.peer.ibgp;
}

/** Total order for the steps after the IGP cost: orders ECMP members, best first. */
function tieBreak(a: Candidate, b: Candidate, ctx: DecisionContext): number {
  if (ctx.preferOldestExternal && isEbgp(a) && isEbgp(b) && a.since !== b.since) return a.since - b.since;
  const ra = routerIdOf(a, ctx);
  const rb = routerIdOf(b, ctx);
  if (ra !== rb) return ra - rb;
  const la = a.set!.clusterListLen;
  const lb = b.set!.clusterListLen;
  if (la !== lb) return la - lb;
  const pa = a.peer?.addrKey ?? "";
  const pb = b.peer?.addrKey ?? "";
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

function sameAsPath(a: AttrSet, b: AttrSet): boolean {
  if (a === b) return true;
  const x = a.attrs.asPath ?? [];
  const y = b.attrs.asPath ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const s = x[i]!;
    const t = y[i]!;
    if (s.type !== t.type || s.asns.length !== t.asns.length) return false;
    for (let j = 0; j < s.asns.length; j++) if (s.asns[j] !== t.asns[j]) return false;
  }
  return true;
}

/**
 * Whether a path takes part in the decision at all: import policy accepted it
 * and its NEXT_HOP resolves (§9.1.2.1). For a single candidate this is the
 * whole decision; the RIB calls it with the path's fields, so a
 * destination held without a path object needs none.
 */
export function selectable(set: AttrSet | null, peer: CandidatePeer | null, ctx: DecisionContext): boolean {
  if (set === null) return false;
  if (peer === null || ctx.resolve === undefined) return true;
  const nh = set.attrs.nextHop;
  return nh !== undefined && ctx.resolve(nh) !== undefined;
}

/** The decision for a destination with a single candidate (most of a large table). */
export function selectOne<C extends Candidate>(p: C, ctx: DecisionContext): Selection<C> {
  if (!selectable(p.set, p.peer, ctx)) return NONE;
  return { best: p, reason: "only-path", multipath: [p] };
}

export function selectBest<C extends Candidate>(paths: readonly C[], ctx: DecisionContext): Selection<C> {
  if (paths.length === 1) return selectOne(paths[0]!, ctx);
  let accepted = 0;
  let cands: C[] = [];
  for (const p of paths) {
    if (p.set === null) continue;
    accepted++;
    if (cost(p, ctx) !== undefined) cands.push(p);
  }
  if (cands.length === 0) return NONE;
  let reason: BestReason = accepted > 1 ? "reachable-next-hop" : "only-path";
  const step = (next: C[], why: BestReason): boolean => {
    if (next.length < cands.length) reason = why;
    cands = next;
    return cands.length === 1;
  };
  const done = (): Selection<C> => ({ best: cands[0]!, reason, multipath: [cands[0]!] });
  if (cands.length === 1) return done();

  // §9.1.2.1 degree of preference: highest LOCAL_PREF (eBGP routes get the
  // default or what import policy set; the codec drops a received one).
  if (
    step(
      keepMin(cands, (c) => -c.set!.localPref),
      "local-pref",
    )
  )
    return done();
  // §9.1.2.2 a: shortest AS_PATH (AS_SET counts 1, confederation segments 0).
  if (
    step(
      keepMin(cands, (c) => c.set!.asPathLen),
      "as-path-length",
    )
  )
    return done();
  // §9.1.2.2 b: lowest ORIGIN.
  if (
    step(
      keepMin(cands, (c) => c.set!.origin),
      "origin",
    )
  )
    return done();
  // §9.1.2.2 c: lowest MED among routes from the same neighbouring AS.
  {
    const nas = (c: C): number =>
      ctx.alwaysCompareMed ? 0 : c.set!.neighborAs < 0 ? ctx.localAs : c.set!.neighborAs;
    const minByAs = new Map<number, number>();
    for (const c of cands) {
      const k = nas(c);
      const m = minByAs.get(k);
      if (m === undefined || c.set!.med < m) minByAs.set(k, c.set!.med);
    }
    if (
      step(
        cands.filter((c) => c.set!.med === minByAs.get(nas(c))),
        "med",
      )
    )
      return done();
  }
  // Locally originated routes (weight-free: they already carry the default
  // LOCAL_PREF, an empty AS_PATH and ORIGIN IGP) beat learnt ones next.
  if (
    cands.some((c) => c.peer === null) &&
    step(
      cands.filter((c) => c.peer === null),
      "local-origin",
    )
  )
    return done();
  // §9.1.2.2 d: routes from eBGP peers over routes from iBGP peers.
  if (cands.some(isEbgp) && step(cands.filter(isEbgp), "ebgp-over-ibgp")) return done();
  // §9.1.2.2 e: lowest interior cost to the NEXT_HOP.
  if (
    step(
      keepMin(cands, (c) => cost(c, ctx)!),
      "igp-cost",
    )
  )
    return done();

  // Everything left is equal for forwarding purposes: the ECMP set.
  const equal = cands.slice().sort((a, b) => tieBreak(a, b, ctx));
  const best = equal[0]!;
  // Which step separates the best from the runner-up (for the recorded reason).
  const second = equal[1]!;
  if (ctx.preferOldestExternal && isEbgp(best) && isEbgp(second) && best.since !== second.since)
    reason = "oldest-ebgp";
  else if (routerIdOf(best, ctx) !== routerIdOf(second, ctx)) reason = "router-id";
  else if (best.set!.clusterListLen !== second.set!.clusterListLen) reason = "cluster-list-length";
  else reason = "peer-address";

  if (ctx.maxPaths <= 1) return { best, reason, multipath: [best] };
  const multipath: C[] = [best];
  const seenNh = new Set<string | undefined>([best.set!.attrs.nextHop]);
  for (let i = 1; i < equal.length && multipath.length < ctx.maxPaths; i++) {
    const c = equal[i]!;
    if (c.peer === null) continue;
    if (!ctx.relaxAsPath && !sameAsPath(best.set!, c.set!)) continue;
    if (ctx.relaxAsPath && c.set!.asPathLen !== best.set!.asPathLen) continue;
    const nh = c.set!.attrs.nextHop;
    if (seenNh.has(nh)) continue; // one kernel next hop per gateway
    seenNh.add(nh);
    multipath.push(c);
  }
  return { best, reason, multipath };
}
