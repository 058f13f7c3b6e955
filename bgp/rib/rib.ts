// The RIB: Adj-RIB-In (per peer, kept pre- and post-import-policy in each
// path), Loc-RIB (best path and ECMP set per prefix, with the reason) and
// Adj-RIB-Out (per peer, what was last sent). A deterministic state machine:
// the speaker feeds it session events and decoded UPDATEs, then calls
// `takeChanges()` once per batch to get the coalesced FIB and per-peer UPDATE
// work, grouped by attribute set.
//
// Memory layout for 1M paths: one Dest per prefix in one Map keyed by the
// canonical prefix string; paths live in their Dest (BIRD-style) rather than in
// a second per-peer Map; attributes are interned (attr-set.ts). Per-peer views
// (peer down, stale sweep, re-import) scan the Dest map once: O(prefixes).
import type { Family, PathAttributes, Prefix, UpdateMessage } from "../wire/types.js";
import type { CompiledPolicy, PolicyVerdict } from "../policy/types.js";
import { mergeAs4 } from "../wire/as4.js";
import { AttrTable } from "./attr-set.js";
import type { AttrSet } from "./attr-set.js";
import { addressSortKey, ipv4ToNumber } from "./address-order.js";
import { asPathContains } from "./as-path.js";
import { selectBest, selectOne } from "./best-path.js";
import type { DecisionContext, Selection } from "./best-path.js";
import { exportAttributes } from "./export-rules.js";
import type { ExportSource, ExportTarget } from "./export-rules.js";
import { BEST_REASONS } from "./types.js";
import type {
  BestReason,
  FibChange,
  Origination,
  OutGroup,
  PeerConfig,
  PeerId,
  PeerOut,
  PeerSession,
  PeerStats,
  RibChanges,
  RibConfig,
  RouteView,
  UpdateResult,
} from "./types.js";

export class RibError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "RibError";
    this.code = code;
  }
}

const AFI_IPV4 = 1;
const AFI_IPV6 = 2;
const SAFI_UNICAST = 1;
const V4 = 0;
const V6 = 1;

function famOf(prefix: Prefix): number {
  return prefix.includes(":") ? V6 : V4;
}

function famIndex(f: Family): number | undefined {
  if (f.safi !== SAFI_UNICAST) return undefined;
  return f.afi === AFI_IPV4 ? V4 : f.afi === AFI_IPV6 ? V6 : undefined;
}

class PeerState implements ExportSource, ExportTarget {
  readonly index: number;
  cfg: PeerConfig;
  ibgp: boolean;
  rrClient: boolean;
  nextHopSelf: boolean;
  asn: number;
  policy: CompiledPolicy | undefined;
  readonly addrKey: string;
  up = false;
  routerId = "0.0.0.0";
  routerIdNum = 0;
  localAddress: { ipv4?: string; ipv6?: string } = {};
  families: readonly Family[] = [];
  /** prefixes accepted after import policy, per family [v4, v6] */
  readonly accepted = [0, 0];
  received = 0;
  stale = 0;
  /** Adj-RIB-Out: what we last announced to this peer */
  readonly adjOut = new Map<Prefix, AttrSet>();
  /** export results per (source attribute set, source peer, family), valid while config and session stay */
  exportCache = new WeakMap<AttrSet, (AttrSet | null | undefined)[]>();
  /** the next flush must compare every Loc-RIB route with adjOut (session start, export policy change) */
  fullExport = false;
  /** the next flush must resend all of adjOut (route refresh, RFC 2918 §4) */
  resend = false;
  /** families whose End-of-RIB follows the pending full export */
  eorPending: Family[] = [];

  constructor(index: number, cfg: PeerConfig, localAs: number) {
    this.index = index;
    this.cfg = cfg;
    this.asn = cfg.asn;
    this.ibgp = cfg.asn === localAs;
    this.rrClient = cfg.routeReflectorClient === true;
    this.nextHopSelf = cfg.nextHopSelf === true;
    this.policy = cfg.export;
    this.addrKey = addressSortKey(cfg.address);
  }
}

/** A path in the Loc-RIB candidate list of one destination. */
class Path {
  constructor(
    readonly peer: PeerState | null,
    /** as received (after loop checks nothing is changed); null only for local routes */
    public pre: AttrSet,
    /** after import policy; null = rejected (AS loop, RR loop, filter) */
    public set: AttrSet | null,
    /** whole seconds (a small integer: stored inline, where a ms timestamp would cost a heap number per path) */
    public since: number,
    public stale: boolean,
  ) {}
}

class Dest {
  /**
   * The candidate paths: one path is held directly (the common case in a big
   * table: no array, ~56 bytes saved per prefix), several in an array, none null.
   */
  private ps: Path | Path[] | null = null;
  best: Path | null = null;
  /** ECMP members including the best, best first */
  multipath: Path[] | null = null;
  reason = 0;
  /** the next-hop list last reported to the FIB: null none, a string one, an array ECMP */
  fibNh: string | string[] | null = null;
  constructor(readonly prefix: Prefix) {}

  get count(): number {
    const ps = this.ps;
    return ps === null ? 0 : Array.isArray(ps) ? ps.length : 1;
  }

  at(i: number): Path {
    const ps = this.ps!;
    return Array.isArray(ps) ? ps[i]! : ps;
  }

  /** all paths (allocates a one-element array for the single-path case: not for hot loops) */
  list(): Path[] {
    const ps = this.ps;
    return ps === null ? [] : Array.isArray(ps) ? ps : [ps];
  }

  indexOf(peer: PeerState | null): number {
    for (let i = 0, n = this.count; i < n; i++) if (this.at(i).peer === peer) return i;
    return -1;
  }

  add(path: Path): void {
    const ps = this.ps;
    if (ps === null) this.ps = path;
    else if (Array.isArray(ps)) ps.push(path);
    else this.ps = [ps, path];
  }

  /**
   * Replace a path by a new object. Paths are never changed in place: the
   * flush tells "best changed" by identity, and a changed path is a new one.
   */
  setAt(i: number, path: Path): void {
    const ps = this.ps!;
    if (Array.isArray(ps)) ps[i] = path;
    else this.ps = path;
  }

  /** remove by swapping in the last path: candidate order does not matter to selectBest */
  removeAt(i: number): void {
    const ps = this.ps;
    if (!Array.isArray(ps)) {
      this.ps = null;
      return;
    }
    const last = ps.pop()!;
    if (i < ps.length) ps[i] = last;
    if (ps.length === 1) this.ps = ps[0]!;
  }

  select(ctx: DecisionContext): Selection<Path> {
    const ps = this.ps;
    return ps === null ? selectBest([], ctx) : Array.isArray(ps) ? selectBest(ps, ctx) : selectOne(ps, ctx);
  }
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function nhList(v: string | string[] | null): string[] {
  return v === null ? [] : typeof v === "string" ? [v] : v;
}

function sameNh(a: string | string[] | null, b: string | string[] | null): boolean {
  if (a === b) return true;
  const x = nhList(a);
  const y = nhList(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export class Rib {
  private readonly cfg: RibConfig;
  private readonly clusterId: string;
  private readonly ctx: DecisionContext;
  private readonly attrs = new AttrTable();
  private readonly dests = new Map<Prefix, Dest>();
  private readonly peers = new Map<PeerId, PeerState>();
  private readonly peerByIndex: (PeerState | undefined)[] = [undefined];
  private readonly origins = new Map<Prefix, Origination>();
  /** destinations whose candidate list changed since the last takeChanges() */
  private readonly dirty = new Set<Dest>();

  constructor(cfg: RibConfig) {
    if (!Number.isInteger(cfg.asn) || cfg.asn < 1 || cfg.asn > 0xffffffff)
      throw new RibError("TRELLIS_ERIBCONFIG", `asn ${cfg.asn} out of range 1..4294967295`);
    this.cfg = cfg;
    this.clusterId = cfg.clusterId ?? cfg.routerId;
    this.ctx = {
      localAs: cfg.asn,
      routerIdNum: ipv4ToNumber(cfg.routerId),
      alwaysCompareMed: cfg.alwaysCompareMed === true,
      preferOldestExternal: cfg.preferOldestExternal === true,
      maxPaths: Math.max(1, cfg.multipath?.maxPaths ?? 1),
      relaxAsPath: cfg.multipath?.relaxAsPath === true,
      resolve: cfg.resolveNextHop,
    };
  }

  // ---------------------------------------------------------------- peers

  addPeer(cfg: PeerConfig): void {
    if (this.peers.has(cfg.id)) throw new RibError("TRELLIS_ERIBPEER", `peer ${cfg.id} already exists`);
    const p = new PeerState(this.peerByIndex.length, cfg, this.cfg.asn);
    this.peers.set(cfg.id, p);
    this.peerByIndex.push(p);
  }

  /**
   * Replace a peer's configuration (SIGHUP reload). A changed import filter is
   * re-applied to the kept pre-policy paths; a changed export filter or
   * next-hop/RR setting re-exports the whole table to that peer.
   */
  setPeerConfig(cfg: PeerConfig): void {
    const p = this.peer(cfg.id);
    if (cfg.asn !== p.cfg.asn || cfg.address !== p.cfg.address)
      throw new RibError(
        "TRELLIS_ERIBPEER",
        `peer ${cfg.id}: AS and address cannot change; remove and add it`,
      );
    const old = p.cfg;
    p.cfg = cfg;
    p.rrClient = cfg.routeReflectorClient === true;
    p.nextHopSelf = cfg.nextHopSelf === true;
    p.policy = cfg.export;
    if (old.import !== cfg.import) this.reimport(p);
    if (
      old.export !== cfg.export ||
      old.nextHopSelf !== cfg.nextHopSelf ||
      old.routeReflectorClient !== cfg.routeReflectorClient
    ) {
      p.exportCache = new WeakMap();
      if (p.up) p.fullExport = true;
      // RFC 4456 §6: the client flag also decides where routes *from* this peer go
      if (old.routeReflectorClient !== cfg.routeReflectorClient)
        for (const q of this.peers.values()) {
          q.exportCache = new WeakMap();
          if (q.up) q.fullExport = true;
        }
    }
  }

  /** The peer was de-configured: its paths go (as a non-graceful down) and so does its state. */
  removePeer(id: PeerId): void {
    const p = this.peer(id);
    this.dropPaths(p, () => true);
    p.adjOut.forEach((set) => this.attrs.unref(set));
    p.adjOut.clear();
    p.up = false;
    this.peers.delete(id);
    this.peerByIndex[p.index] = undefined;
  }

  /** The session reached Established: the whole table is exported at the next flush, then End-of-RIB. */
  peerUp(id: PeerId, s: PeerSession): void {
    const p = this.peer(id);
    p.up = true;
    p.routerId = s.routerId;
    p.routerIdNum = ipv4ToNumber(s.routerId);
    p.localAddress = s.localAddress;
    p.families = s.families;
    p.adjOut.forEach((set) => this.attrs.unref(set));
    p.adjOut.clear();
    p.exportCache = new WeakMap();
    p.fullExport = true;
    p.eorPending = s.families.filter((f) => famIndex(f) !== undefined);
  }

  /**
   * The session left Established. graceful (RFC 4724 §4.2, receiving speaker):
   * the peer's paths stay in the Loc-RIB and the FIB, marked stale, until
   * End-of-RIB or the restart timer. Otherwise every path from the peer is
   * withdrawn now.
   */
  peerDown(id: PeerId, opts: { graceful: boolean }): void {
    const p = this.peer(id);
    p.up = false;
    p.adjOut.forEach((set) => this.attrs.unref(set));
    p.adjOut.clear();
    p.fullExport = false;
    p.resend = false;
    p.eorPending = [];
    if (!opts.graceful) {
      this.dropPaths(p, () => true);
      return;
    }
    let n = 0;
    for (const d of this.dests.values())
      for (let i = 0, c = d.count; i < c; i++) {
        const path = d.at(i);
        if (path.peer === p && !path.stale) {
          path.stale = true;
          n++;
        }
      }
    p.stale += n;
  }

  /** End-of-RIB for a family from a peer: sweep its paths still stale in that family (RFC 4724 §4.2). */
  endOfRib(id: PeerId, family: Family): void {
    const p = this.peer(id);
    const f = famIndex(family);
    if (f === undefined || p.stale === 0) return;
    this.dropPaths(p, (path, prefix) => path.stale && famOf(prefix) === f);
  }

  /** The restart timer (or stale-path timer) expired: sweep every stale path of the peer. */
  staleTimerExpired(id: PeerId): void {
    const p = this.peer(id);
    if (p.stale === 0) return;
    this.dropPaths(p, (path) => path.stale);
  }

  /** ROUTE-REFRESH received (RFC 2918 §4): send the peer's Adj-RIB-Out again at the next flush. */
  routeRefresh(id: PeerId): void {
    const p = this.peer(id);
    if (p.up) p.resend = true;
  }

  // ---------------------------------------------------------------- input

  /**
   * Apply a decoded UPDATE from an Established peer. Announced prefixes replace
   * the peer's previous path for them (implicit withdraw, RFC 4271 §3.1).
   */
  update(id: PeerId, msg: UpdateMessage, now: number): UpdateResult {
    const p = this.peer(id);
    if (!p.up) throw new RibError("TRELLIS_ERIBPEERDOWN", `UPDATE from peer ${id} which is not Established`);
    let withdrawn = 0;
    for (const prefix of msg.withdrawn) withdrawn += this.withdrawPath(p, prefix);
    if (msg.mpUnreach !== undefined)
      for (const prefix of msg.mpUnreach.withdrawn) withdrawn += this.withdrawPath(p, prefix);

    const result: UpdateResult = { accepted: 0, rejected: 0, withdrawn };
    // RFC 6793 §4.2.3: from a 2-octet peer, rebuild the real AS_PATH from
    // AS4_PATH before loop checks and best-path (the codec drops AS4_* on
    // 4-octet sessions, so their presence means an OLD speaker).
    const base = mergeAs4(msg.attributes);
    const announce = (prefixes: readonly Prefix[], attrs: PathAttributes): void => {
      if (prefixes.length === 0) return;
      if (msg.treatAsWithdraw === true) {
        // RFC 7606 §2: treat-as-withdraw.
        for (const prefix of prefixes) result.withdrawn += this.withdrawPath(p, prefix);
        return;
      }
      this.importPrefixes(p, prefixes, attrs, now, result);
    };
    announce(msg.nlri, base);
    if (msg.mpReach !== undefined) {
      const mp = msg.mpReach;
      const a: PathAttributes = { ...base, nextHop: mp.nextHop };
      if (mp.nextHopLinkLocal !== undefined) a.nextHopLinkLocal = mp.nextHopLinkLocal;
      else delete a.nextHopLinkLocal;
      announce(mp.nlri, a);
    }
    const limit = p.cfg.maxPrefixes;
    if (limit !== undefined) {
      for (const f of [V4, V6]) {
        const count = p.accepted[f]!;
        if (count > limit) {
          result.maxPrefixExceeded = {
            afi: f === V4 ? AFI_IPV4 : AFI_IPV6,
            safi: SAFI_UNICAST,
            limit,
            count,
          };
          break;
        }
      }
    }
    return result;
  }

  /** Originate (or change) a local route. */
  originate(o: Origination, now: number): void {
    const a: PathAttributes = { origin: 0, asPath: [], localPref: o.localPref ?? 100 };
    if (o.med !== undefined) a.med = o.med;
    if (o.communities !== undefined && o.communities.length > 0) a.communities = o.communities.slice();
    if (o.largeCommunities !== undefined && o.largeCommunities.length > 0)
      a.largeCommunities = o.largeCommunities.map((l) => ({ ...l }));
    this.origins.set(o.prefix, o);
    const set = this.attrs.intern(a);
    const d = this.dest(o.prefix);
    const i = d.indexOf(null);
    if (i >= 0) {
      const old = d.at(i);
      if (old.set === set) {
        this.attrs.unref(set);
        return;
      }
      this.attrs.unref(old.pre);
      d.setAt(i, new Path(null, set, set, seconds(now), false));
    } else d.add(new Path(null, set, set, seconds(now), false));
    this.dirty.add(d);
  }

  withdrawOrigin(prefix: Prefix): void {
    this.origins.delete(prefix);
    const d = this.dests.get(prefix);
    if (d === undefined) return;
    const i = d.indexOf(null);
    if (i < 0) return;
    this.attrs.unref(d.at(i).pre);
    d.removeAt(i);
    this.dirty.add(d);
  }

  origination(): Origination[] {
    return [...this.origins.values()];
  }

  // ---------------------------------------------------------------- output

  /**
   * Run the decision process on every destination touched since the last call
   * and return the coalesced FIB changes and, per Established peer, the
   * UPDATE work grouped by attribute set (then the End-of-RIB markers due).
   */
  takeChanges(): RibChanges {
    const fib: FibChange[] = [];
    const changed: Dest[] = [];
    for (const d of this.dirty) {
      const oldBest = d.best;
      const oldBestSet = oldBest?.set ?? null;
      const sel = d.select(this.ctx);
      d.best = sel.best;
      d.multipath = sel.multipath.length > 1 ? sel.multipath : null;
      d.reason = BEST_REASONS.indexOf(sel.reason);
      const nh = this.nextHopsOf(d);
      if (!sameNh(nh, d.fibNh)) {
        d.fibNh = nh;
        fib.push({ prefix: d.prefix, nexthops: nhList(nh) });
      }
      if (d.best !== oldBest || (d.best !== null && d.best.set !== oldBestSet)) changed.push(d);
      else if (d.best === null && oldBest === null) changed.push(d); // withdrawn before ever flushed
    }
    this.dirty.clear();

    const out: PeerOut[] = [];
    for (const p of this.peers.values()) {
      if (!p.up) continue;
      const groups = new Map<AttrSet, Prefix[]>();
      const withdraw: Prefix[] = [];
      if (p.fullExport) {
        for (const d of this.dests.values()) this.exportDest(p, d, groups, withdraw);
        // prefixes in adjOut whose destination no longer exists
        for (const prefix of p.adjOut.keys())
          if (!this.dests.has(prefix)) this.exportGone(p, prefix, withdraw);
      } else {
        if (p.resend) for (const [prefix, set] of p.adjOut) pushGroup(groups, set, prefix);
        for (const d of changed) this.exportDest(p, d, groups, withdraw, p.resend);
      }
      const endOfRib = p.fullExport ? p.eorPending : [];
      p.fullExport = false;
      p.resend = false;
      p.eorPending = [];
      if (groups.size === 0 && withdraw.length === 0 && endOfRib.length === 0) continue;
      const announce: OutGroup[] = [];
      for (const [set, prefixes] of groups) announce.push({ attributes: set.attrs, prefixes });
      out.push({ peer: p.cfg.id, announce, withdraw, endOfRib });
    }

    // Forget destinations with no path left once every peer has been told.
    for (const d of changed) if (d.count === 0) this.dests.delete(d.prefix);
    return { fib, out };
  }

  // ---------------------------------------------------------------- queries

  route(prefix: Prefix): RouteView | undefined {
    const d = this.dests.get(prefix);
    if (d === undefined) return undefined;
    if (this.dirty.has(d)) {
      // answer for the state the next flush will produce, without flushing
      const sel = d.select(this.ctx);
      return this.view(d, sel.best, sel.multipath, BEST_REASONS.indexOf(sel.reason));
    }
    return this.view(d, d.best, d.multipath ?? (d.best ? [d.best] : []), d.reason);
  }

  *routes(): IterableIterator<RouteView> {
    for (const prefix of this.dests.keys()) {
      const v = this.route(prefix);
      if (v !== undefined) yield v;
    }
  }

  get size(): number {
    return this.dests.size;
  }

  get attributeSets(): number {
    return this.attrs.size;
  }

  /** Loc-RIB destinations with a best path (pending changes included). */
  bestCount(): number {
    let n = 0;
    for (const d of this.dests.values()) {
      if (this.dirty.has(d)) n += d.select(this.ctx).best !== null ? 1 : 0;
      else if (d.best !== null) n++;
    }
    return n;
  }

  peerStats(id: PeerId): PeerStats {
    const p = this.peer(id);
    return {
      received: p.received,
      accepted: p.accepted[V4]! + p.accepted[V6]!,
      advertised: p.adjOut.size,
      stale: p.stale,
    };
  }

  /** Adj-RIB-Out of a peer: prefix -> attributes last sent. */
  adjRibOut(id: PeerId): Map<Prefix, PathAttributes> {
    const p = this.peer(id);
    return new Map([...p.adjOut].map(([k, s]) => [k, s.attrs]));
  }

  // ---------------------------------------------------------------- internals

  private peer(id: PeerId): PeerState {
    const p = this.peers.get(id);
    if (p === undefined) throw new RibError("TRELLIS_ERIBPEER", `unknown peer ${id}`);
    return p;
  }

  private dest(prefix: Prefix): Dest {
    let d = this.dests.get(prefix);
    if (d === undefined) {
      d = new Dest(prefix);
      this.dests.set(prefix, d);
    }
    return d;
  }

  private view(d: Dest, best: Path | null, multi: Path[], reason: number): RouteView {
    return {
      prefix: d.prefix,
      reason: (BEST_REASONS[reason] ?? "only-path") as BestReason,
      nexthops:
        best === null || best.peer === null ? [] : [...new Set(multi.map((m) => m.set!.attrs.nextHop!))],
      paths: d.list().map((path) => ({
        source: path.peer === null ? "local" : path.peer.cfg.id,
        attributes: (path.set ?? path.pre).attrs,
        best: path === best,
        multipath: multi.includes(path),
        stale: path.stale,
        since: path.since * 1000,
        ...(path.set === null ? { rejected: true } : {}),
      })),
    };
  }

  private nextHopsOf(d: Dest): string | string[] | null {
    const b = d.best;
    // Local routes are the owner's to program (e.g. the agent's pod routes); not FIB material.
    if (b === null || b.peer === null) return null;
    if (d.multipath === null) return b.set!.attrs.nextHop ?? null;
    const nhs = [...new Set(d.multipath.map((m) => m.set!.attrs.nextHop!))].sort();
    return nhs.length === 1 ? nhs[0]! : nhs;
  }

  /** Loop checks (RFC 4271 §9.1.2 AS loop, RFC 4456 §8 ORIGINATOR_ID / CLUSTER_LIST) and import policy for one attribute set. */
  private importVerdict(p: PeerState, prefix: Prefix, attrs: PathAttributes): PolicyVerdict {
    if (asPathContains(attrs.asPath, this.cfg.asn)) return { accept: false, term: "as-loop" };
    if (p.ibgp) {
      if (attrs.originatorId === this.cfg.routerId) return { accept: false, term: "originator-id-loop" };
      if (attrs.clusterList?.includes(this.clusterId) === true)
        return { accept: false, term: "cluster-list-loop" };
    }
    const pol = p.cfg.import;
    if (pol === undefined) return { accept: true, attributes: attrs };
    return pol.evaluate({ prefix, attributes: attrs, neighborAs: p.asn, local: false });
  }

  private importPrefixes(
    p: PeerState,
    prefixes: readonly Prefix[],
    attrs: PathAttributes,
    now: number,
    result: UpdateResult,
  ): void {
    const pre = this.attrs.intern(attrs);
    const pol = p.cfg.import;
    const shared = pol === undefined || pol.prefixIndependent;
    let sharedSet: AttrSet | null = null;
    if (shared) {
      const v = this.importVerdict(p, prefixes[0]!, pre.attrs);
      sharedSet = !v.accept ? null : v.attributes === pre.attrs ? pre : this.attrs.intern(v.attributes);
    }
    for (const prefix of prefixes) {
      let set = sharedSet;
      if (!shared) {
        const v = this.importVerdict(p, prefix, pre.attrs);
        set = !v.accept ? null : v.attributes === pre.attrs ? pre : this.attrs.intern(v.attributes);
        if (set !== null && set !== pre) {
          this.storePath(p, prefix, pre, set, now, result);
          this.attrs.unref(set); // storePath took its own reference
          continue;
        }
      }
      this.storePath(p, prefix, pre, set, now, result);
    }
    this.attrs.unref(pre);
    if (sharedSet !== null && sharedSet !== pre) this.attrs.unref(sharedSet);
  }

  private storePath(
    p: PeerState,
    prefix: Prefix,
    pre: AttrSet,
    set: AttrSet | null,
    now: number,
    result: UpdateResult,
  ): void {
    const f = famOf(prefix);
    if (set === null) result.rejected++;
    else result.accepted++;
    const d = this.dest(prefix);
    for (let i = 0, n = d.count; i < n; i++) {
      const old = d.at(i);
      if (old.peer !== p) continue;
      // implicit withdraw of the previous path from this peer
      if (old.stale) {
        old.stale = false;
        p.stale--;
      }
      if (old.pre === pre && old.set === set) return;
      if ((old.set === null) !== (set === null)) p.accepted[f]! += set === null ? -1 : 1;
      this.attrs.unref(old.pre);
      if (old.set !== null && old.set !== old.pre) this.attrs.unref(old.set);
      const ref = this.attrs.ref(pre);
      d.setAt(
        i,
        new Path(p, ref, set === null ? null : set === pre ? ref : this.attrs.ref(set), seconds(now), false),
      );
      this.dirty.add(d);
      return;
    }
    p.received++;
    if (set !== null) p.accepted[f]!++;
    const path = new Path(
      p,
      this.attrs.ref(pre),
      set === null ? null : set === pre ? pre : this.attrs.ref(set),
      seconds(now),
      false,
    );
    d.add(path);
    this.dirty.add(d);
  }

  private withdrawPath(p: PeerState, prefix: Prefix): number {
    const d = this.dests.get(prefix);
    if (d === undefined) return 0;
    const i = d.indexOf(p);
    if (i < 0) return 0;
    this.removeAt(d, i);
    return 1;
  }

  private removeAt(d: Dest, i: number): void {
    const path = d.at(i);
    const p = path.peer!;
    if (path.stale) p.stale--;
    p.received--;
    if (path.set !== null) p.accepted[famOf(d.prefix)]!--;
    this.attrs.unref(path.pre);
    if (path.set !== null && path.set !== path.pre) this.attrs.unref(path.set);
    d.removeAt(i);
    this.dirty.add(d);
  }

  private dropPaths(p: PeerState, which: (path: Path, prefix: Prefix) => boolean): void {
    for (const d of this.dests.values()) {
      for (let i = d.count - 1; i >= 0; i--) {
        const path = d.at(i);
        if (path.peer === p && which(path, d.prefix)) this.removeAt(d, i);
      }
    }
  }

  /** Re-run import policy over the kept pre-policy paths of a peer (soft reconfiguration inbound). */
  private reimport(p: PeerState): void {
    for (const d of this.dests.values()) {
      for (let i = 0, n = d.count; i < n; i++) {
        const path = d.at(i);
        if (path.peer !== p) continue;
        const v = this.importVerdict(p, d.prefix, path.pre.attrs);
        const set = !v.accept
          ? null
          : v.attributes === path.pre.attrs
            ? path.pre
            : this.attrs.intern(v.attributes);
        if (set === path.set) {
          if (set !== null && set !== path.pre) this.attrs.unref(set);
          continue;
        }
        const f = famOf(d.prefix);
        if ((path.set === null) !== (set === null)) p.accepted[f]! += set === null ? -1 : 1;
        if (path.set !== null && path.set !== path.pre) this.attrs.unref(path.set);
        // intern() above already took the reference for a new set
        d.setAt(i, new Path(p, path.pre, set, path.since, path.stale));
        this.dirty.add(d);
      }
    }
  }

  /** Compare what the peer should have for this destination with adjOut; queue the difference. */
  private exportDest(
    p: PeerState,
    d: Dest,
    groups: Map<AttrSet, Prefix[]>,
    withdraw: Prefix[],
    alreadyResent = false,
  ): void {
    const want = this.exportSet(p, d);
    const had = p.adjOut.get(d.prefix);
    if (want === null) {
      if (had !== undefined) {
        p.adjOut.delete(d.prefix);
        this.attrs.unref(had);
        withdraw.push(d.prefix);
      }
      return;
    }
    if (had === want) {
      this.attrs.unref(want);
      return;
    }
    if (had !== undefined) {
      this.attrs.unref(had);
      if (alreadyResent) {
        // the resend pushed the old attributes for this prefix; replace that entry
        const g = groups.get(had);
        if (g !== undefined) {
          const i = g.indexOf(d.prefix);
          if (i >= 0) g.splice(i, 1);
          if (g.length === 0) groups.delete(had);
        }
      }
    }
    p.adjOut.set(d.prefix, want);
    pushGroup(groups, want, d.prefix);
  }

  private exportGone(p: PeerState, prefix: Prefix, withdraw: Prefix[]): void {
    const had = p.adjOut.get(prefix);
    if (had === undefined) return;
    p.adjOut.delete(prefix);
    this.attrs.unref(had);
    withdraw.push(prefix);
  }

  /** The attribute set to announce to `p` for `d` (one reference taken), or null. */
  private exportSet(p: PeerState, d: Dest): AttrSet | null {
    const best = d.best;
    if (best === null || best.peer === p || best.set === null) return null;
    const f = famOf(d.prefix);
    // the session must carry the family
    if (!p.families.some((x) => famIndex(x) === f)) return null;
    const src = best.peer;
    const cacheable = p.policy === undefined || p.policy.prefixIndependent;
    const slot = (src === null ? 0 : src.index) * 2 + f;
    if (cacheable) {
      const c = p.exportCache.get(best.set);
      const hit = c?.[slot];
      if (hit !== undefined) return hit === null ? null : this.attrs.ref(hit);
    }
    const a = exportAttributes(
      { asn: this.cfg.asn, clusterId: this.clusterId },
      d.prefix,
      best.set.attrs,
      src,
      p,
    );
    const set = a === null ? null : this.attrs.intern(a);
    if (cacheable) {
      let c = p.exportCache.get(best.set);
      if (c === undefined) {
        c = [];
        p.exportCache.set(best.set, c);
      }
      c[slot] = set;
    }
    return set;
  }
}

function pushGroup(groups: Map<AttrSet, Prefix[]>, set: AttrSet, prefix: Prefix): void {
  const g = groups.get(set);
  if (g === undefined) groups.set(set, [prefix]);
  else g.push(prefix);
}
