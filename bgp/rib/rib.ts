// The RIB: Adj-RIB-In (per peer, kept pre- and post-import-policy in each
// path), Loc-RIB (best path and ECMP set per prefix, with the reason) and
// Adj-RIB-Out (per peer, what was last sent). A deterministic state machine:
// the speaker feeds it session events and decoded UPDATEs, then calls
// `takeChanges()` once per batch to get the coalesced FIB and per-peer UPDATE
// work, grouped by attribute set.
//
// Memory layout (issue 12): destinations are columns indexed by a dense id
// (dest-table.ts), found through a packed-integer hash for IPv4
// (prefix-table.ts); a destination with one path holds it inline, without an
// object; paths live in their destination (BIRD-style) rather than in a
// second per-peer Map; attributes are interned (attr-set.ts); the change queue
// is a list of ids; Adj-RIB-Out is an array per peer indexed by the same id.
// Per-peer views (peer down, stale sweep, re-import) scan the destinations
// once: O(prefixes).
import type { Family, PathAttributes, Prefix, UpdateMessage } from "../wire/types.js";
import type { CompiledPolicy, PolicyVerdict } from "../policy/types.js";
import { mergeAs4 } from "../wire/as4.js";
import { formatIpv4Prefix } from "../../net/ipv4-packed.js";
import { AttrTable } from "./attr-set.js";
import type { AttrSet } from "./attr-set.js";
import { addressSortKey, ipv4ToNumber } from "./address-order.js";
import { asPathContains } from "./as-path.js";
import { selectable, selectBest } from "./best-path.js";
import type { DecisionContext } from "./best-path.js";
import { AdjRibOut } from "./adj-out.js";
import { DestTable, LOCAL, NONE, V4, V6 } from "./dest-table.js";
import type { Path } from "./dest-table.js";
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
  sharedSubnets: readonly string[] = [];
  get address(): string {
    return this.cfg.address;
  }
  families: readonly Family[] = [];
  /** prefixes accepted after import policy, per family [v4, v6] */
  readonly accepted = [0, 0];
  received = 0;
  stale = 0;
  /** Adj-RIB-Out: what we last announced to this peer, by destination id */
  readonly adjOut = new AdjRibOut();
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

/**
 * One field of prefixes: text, or the decoder's packed IPv4 pairs
 * [address, length, ...] (UpdateMessage.packed), which go to the prefix
 * table as numbers.
 */
type PrefixField = readonly Prefix[] | Int32Array;

function fieldCount(f: PrefixField): number {
  return f instanceof Int32Array ? f.length >> 1 : f.length;
}

/** The text of prefix i of a field (import policy reads prefixes as text). */
function fieldPrefix(f: PrefixField, i: number): Prefix {
  return f instanceof Int32Array ? formatIpv4Prefix(f[2 * i]!, f[2 * i + 1]!) : f[i]!;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function nhList(v: string | string[] | null): string[] {
  return v === null ? [] : typeof v === "string" ? [v] : v;
}

/** Distinct next hops kept in Rib.oneHop before it is emptied (a table has few: its peers' addresses). */
const ONE_HOP_MAX = 4096;

/** The FIB change list's next hops of a withdrawal, shared. */
const NO_HOPS = Object.freeze([]) as unknown as string[];

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
  private readonly peers = new Map<PeerId, PeerState>();
  /** index 0 is LOCAL (originated routes) */
  private readonly peerByIndex: (PeerState | undefined)[] = [undefined];
  /** the Loc-RIB; destinations whose candidates changed are queued in it until takeChanges() */
  private readonly dests = new DestTable<PeerState>(this.peerByIndex);
  private readonly origins = new Map<Prefix, Origination>();
  /**
   * The FIB change list's next hops for a single next hop: one frozen array
   * per address, shared by every change through it, where nhList() made one
   * per change (a full table through one peer: a million one-element arrays;
   * in-process, `rib-inproc.js 1000000 16 fib`, medians of 9: CPU 1025 ->
   * 846 ms, peak heap + external 127 -> 117 MB). Bounded: emptied when full.
   */
  private readonly oneHop = new Map<string, string[]>();
  /** the result of select(), reused (one decision at a time) */
  private readonly decision: Decision = { best: NONE, reason: 0, multipath: null };

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
    p.adjOut.clear((set) => this.attrs.unref(set));
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
    p.sharedSubnets = s.sharedSubnets ?? [];
    p.families = s.families;
    p.adjOut.clear((set) => this.attrs.unref(set));
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
    p.adjOut.clear((set) => this.attrs.unref(set));
    p.fullExport = false;
    p.resend = false;
    p.eorPending = [];
    if (!opts.graceful) {
      this.dropPaths(p, () => true);
      return;
    }
    let n = 0;
    const t = this.dests;
    for (let d = 0, end = t.end; d < end; d++) {
      if (!t.live(d)) continue;
      const i = t.indexOf(d, p);
      if (i >= 0 && !t.staleAt(d, i)) {
        t.setStaleAt(d, i, true);
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
    this.dropPaths(p, (d, i) => this.dests.staleAt(d, i) && this.dests.family(d) === f);
  }

  /** The restart timer (or stale-path timer) expired: sweep every stale path of the peer. */
  staleTimerExpired(id: PeerId): void {
    const p = this.peer(id);
    if (p.stale === 0) return;
    this.dropPaths(p, (d, i) => this.dests.staleAt(d, i));
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
    // A decoded UPDATE's IPv4 fields come packed (UpdateMessage.packed): read
    // those, so no prefix of a full table is ever turned into text here.
    const fields = msg.packed ?? msg;
    let withdrawn = this.withdrawField(p, fields.withdrawn);
    if (msg.mpUnreach !== undefined) withdrawn += this.withdrawField(p, msg.mpUnreach.withdrawn);

    const result: UpdateResult = { accepted: 0, rejected: 0, withdrawn };
    // RFC 6793 §4.2.3: from a 2-octet peer, rebuild the real AS_PATH from
    // AS4_PATH before loop checks and best-path (the codec drops AS4_* on
    // 4-octet sessions, so their presence means an OLD speaker).
    const base = mergeAs4(msg.attributes);
    const announce = (prefixes: PrefixField, attrs: PathAttributes): void => {
      if (prefixes.length === 0) return;
      if (msg.treatAsWithdraw === true) {
        // RFC 7606 §2: treat-as-withdraw.
        result.withdrawn += this.withdrawField(p, prefixes);
        return;
      }
      this.importPrefixes(p, prefixes, attrs, now, result);
    };
    announce(fields.nlri, base);
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
    const t = this.dests;
    const d = t.intern(o.prefix);
    const i = t.indexOf(d, null);
    if (i >= 0) {
      const old = t.preAt(d, i);
      if (old === set) {
        this.attrs.unref(set);
        return;
      }
      this.attrs.unref(old);
      t.replaceAt(d, i, set, set, seconds(now), false);
    } else t.add(d, null, set, set, seconds(now), false);
    t.markDirty(d);
  }

  withdrawOrigin(prefix: Prefix): void {
    this.origins.delete(prefix);
    const t = this.dests;
    const d = t.get(prefix);
    if (d < 0) return;
    const i = t.indexOf(d, null);
    if (i < 0) return;
    this.attrs.unref(t.preAt(d, i));
    t.removeAt(d, i);
    t.markDirty(d);
  }

  origination(): Origination[] {
    return [...this.origins.values()];
  }

  // ---------------------------------------------------------------- output

  /**
   * Run the decision process on every destination touched since the last call
   * and return the coalesced FIB changes and, per Established peer, the
   * UPDATE work grouped by attribute set (then the End-of-RIB markers due).
   * With `{ fib: false }` the FIB list comes back empty (nobody consumes it).
   */
  takeChanges(opts: { fib?: boolean } = {}): RibChanges {
    // fib: false when nobody consumes FIB changes (no kernel FIB, no listener):
    // no next hops are worked out and none are kept (fibNh is emptied, so a
    // consumer that comes later is told each destination's next hops on its
    // next change). Keeping them cost a pointer per destination, the array's
    // copies as it grew and nextHopsOf() per decision (issue 12, trellis-bgp
    // with its FIB off, the benchmark's RIB column: peak RSS at 100k prefixes
    // 77-79 -> 75-76 MB, at 1M 150-153 -> 131-151; `rib-inproc.js 1000000 16
    // nofib`: heap after GC 25 -> 15 MB, CPU 563-643 -> 463-475 ms).
    const wantFib = opts.fib !== false;
    const fib: FibChange[] = [];
    const t = this.dests;
    if (!wantFib) t.clearFibNh();
    /** destinations whose best path (peer or attributes) changed: export work */
    const changed: number[] = [];
    t.drainDirty((d, bestTouched) => {
      const oldBest = t.bestPeer[d]!;
      const sel = this.select(d);
      t.bestPeer[d] = sel.best;
      t.reason[d] = sel.reason;
      if (sel.multipath !== null) t.multipath.set(d, sel.multipath);
      else t.multipath.delete(d);
      if (wantFib) {
        const nh = this.nextHopsOf(d);
        if (!sameNh(nh, t.fibNh[d] ?? null)) {
          t.setFibNh(d, nh);
          fib.push({ prefix: t.prefix(d), nexthops: this.fibHops(nh) });
        }
      }
      // A best path replaced by the same peer counts as changed (its
      // attributes may differ); NONE twice means withdrawn before ever flushed.
      if (sel.best !== oldBest || bestTouched || sel.best === NONE) changed.push(d);
    });

    const out: PeerOut[] = [];
    for (const p of this.peers.values()) {
      if (!p.up) continue;
      const groups = new Map<AttrSet, Prefix[]>();
      const withdraw: Prefix[] = [];
      if (p.fullExport) {
        for (let d = 0, end = t.end; d < end; d++) if (t.live(d)) this.exportDest(p, d, groups, withdraw);
      } else {
        if (p.resend) for (const [d, set] of p.adjOut.entries()) pushGroup(groups, set, t.prefix(d));
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

    // Forget destinations with no path left once every peer has been told
    // (an Established peer's adjOut entry went with the withdraw above; a
    // down peer's adjOut is empty), so no adjOut still names a freed id.
    for (const d of changed) if (t.count(d) === 0) t.delete(d);
    return { fib, out };
  }

  // ---------------------------------------------------------------- queries

  route(prefix: Prefix): RouteView | undefined {
    const d = this.dests.get(prefix);
    return d < 0 ? undefined : this.viewOf(d);
  }

  *routes(): IterableIterator<RouteView> {
    const t = this.dests;
    for (let d = 0; d < t.end; d++) if (t.live(d)) yield this.viewOf(d);
  }

  get size(): number {
    return this.dests.size;
  }

  /** destinations waiting for the next takeChanges() */
  get pending(): number {
    return this.dests.pending;
  }

  get attributeSets(): number {
    return this.attrs.size;
  }

  /** Loc-RIB destinations with a best path (pending changes included). */
  bestCount(): number {
    const t = this.dests;
    let n = 0;
    for (let d = 0, end = t.end; d < end; d++) {
      if (!t.live(d)) continue;
      if (t.isDirty(d)) n += this.select(d).best !== NONE ? 1 : 0;
      else if (t.bestPeer[d] !== NONE) n++;
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
    const m = new Map<Prefix, PathAttributes>();
    for (const [d, s] of p.adjOut.entries()) m.set(this.dests.prefix(d), s.attrs);
    return m;
  }

  // ---------------------------------------------------------------- internals

  private peer(id: PeerId): PeerState {
    const p = this.peers.get(id);
    if (p === undefined) throw new RibError("TRELLIS_ERIBPEER", `unknown peer ${id}`);
    return p;
  }

  /**
   * The decision for destination d (RFC 4271 §9.1.2) into a reused result.
   * A single candidate, most of a big table, needs no object and no chain.
   */
  private select(d: number): Decision {
    const t = this.dests;
    const r = this.decision;
    r.reason = 0; // only-path
    r.multipath = null;
    if (t.count(d) === 1) {
      r.best = selectable(t.setAt(d, 0), t.peerAt(d, 0), this.ctx) ? t.peerIndexAt(d, 0) : NONE;
      return r;
    }
    const sel = selectBest(t.list(d), this.ctx);
    r.best = sel.best === null ? NONE : (sel.best.peer?.index ?? LOCAL);
    r.reason = BEST_REASONS.indexOf(sel.reason);
    if (sel.multipath.length > 1) r.multipath = sel.multipath;
    return r;
  }

  /** The route view of d, for the state the next flush will produce (without flushing). */
  private viewOf(d: number): RouteView {
    const t = this.dests;
    let best: number;
    let multi: Path<PeerState>[] | null;
    let reason: number;
    if (t.isDirty(d)) {
      const sel = this.select(d);
      best = sel.best;
      multi = sel.multipath;
      reason = sel.reason;
    } else {
      best = t.bestPeer[d]!;
      multi = t.multipath.get(d) ?? null;
      reason = t.reason[d]!;
    }
    const paths = t.list(d);
    const members = multi ?? paths.filter((path) => pathIndex(path) === best);
    return {
      prefix: t.prefix(d),
      reason: (BEST_REASONS[reason] ?? "only-path") as BestReason,
      nexthops:
        best === NONE || best === LOCAL ? [] : [...new Set(members.map((m) => m.set!.attrs.nextHop!))],
      paths: paths.map((path) => ({
        source: path.peer === null ? "local" : path.peer.cfg.id,
        attributes: (path.set ?? path.pre).attrs,
        best: pathIndex(path) === best,
        multipath: members.some((m) => m.peer === path.peer),
        stale: path.stale,
        since: path.since * 1000,
        ...(path.set === null ? { rejected: true } : {}),
      })),
    };
  }

  /** The FIB next hops of d's committed best path (and ECMP set). */
  private nextHopsOf(d: number): string | string[] | null {
    const t = this.dests;
    const b = t.bestPeer[d]!;
    // Local routes are the owner's to program (e.g. the agent's pod routes); not FIB material.
    if (b === NONE || b === LOCAL) return null;
    const multi = t.multipath.get(d);
    if (multi === undefined) return t.setAt(d, t.indexOf(d, this.peerByIndex[b]!))!.attrs.nextHop ?? null;
    const nhs = [...new Set(multi.map((m) => m.set!.attrs.nextHop!))].sort();
    return nhs.length === 1 ? nhs[0]! : nhs;
  }

  /** nhList() for the FIB change list: an ECMP list is the one in fibNh, a single hop or none a shared frozen array. */
  private fibHops(nh: string | string[] | null): string[] {
    if (nh === null) return NO_HOPS;
    if (typeof nh !== "string") return nh;
    let hops = this.oneHop.get(nh);
    if (hops === undefined) {
      if (this.oneHop.size >= ONE_HOP_MAX) this.oneHop.clear();
      hops = Object.freeze([nh]) as string[];
      this.oneHop.set(nh, hops);
    }
    return hops;
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
    prefixes: PrefixField,
    attrs: PathAttributes,
    now: number,
    result: UpdateResult,
  ): void {
    const pre = this.attrs.intern(attrs);
    const pol = p.cfg.import;
    const shared = pol === undefined || pol.prefixIndependent;
    let sharedSet: AttrSet | null = null;
    if (shared) {
      // A prefix-independent verdict is the same for every prefix: the first stands for all.
      const v = this.importVerdict(p, fieldPrefix(prefixes, 0), pre.attrs);
      sharedSet = !v.accept ? null : v.attributes === pre.attrs ? pre : this.attrs.intern(v.attributes);
    }
    const t = this.dests;
    const packed = prefixes instanceof Int32Array;
    for (let i = 0, n = fieldCount(prefixes); i < n; i++) {
      const d = packed ? t.internV4(prefixes[2 * i]!, prefixes[2 * i + 1]!) : t.intern(prefixes[i]!);
      let set = sharedSet;
      if (!shared) {
        const v = this.importVerdict(p, fieldPrefix(prefixes, i), pre.attrs);
        set = !v.accept ? null : v.attributes === pre.attrs ? pre : this.attrs.intern(v.attributes);
        if (set !== null && set !== pre) {
          this.storePath(p, d, pre, set, now, result);
          this.attrs.unref(set); // storePath took its own reference
          continue;
        }
      }
      this.storePath(p, d, pre, set, now, result);
    }
    this.attrs.unref(pre);
    if (sharedSet !== null && sharedSet !== pre) this.attrs.unref(sharedSet);
  }

  /** Store peer p's path for destination d (interned by the caller). */
  private storePath(
    p: PeerState,
    d: number,
    pre: AttrSet,
    set: AttrSet | null,
    now: number,
    result: UpdateResult,
  ): void {
    if (set === null) result.rejected++;
    else result.accepted++;
    const t = this.dests;
    const f = t.family(d);
    const i = t.indexOf(d, p);
    if (i >= 0) {
      // implicit withdraw of the previous path from this peer
      if (t.staleAt(d, i)) {
        t.setStaleAt(d, i, false);
        p.stale--;
      }
      const oldPre = t.preAt(d, i);
      const oldSet = t.setAt(d, i);
      if (oldPre === pre && oldSet === set) return;
      if ((oldSet === null) !== (set === null)) p.accepted[f]! += set === null ? -1 : 1;
      this.attrs.unref(oldPre);
      if (oldSet !== null && oldSet !== oldPre) this.attrs.unref(oldSet);
      const ref = this.attrs.ref(pre);
      t.replaceAt(
        d,
        i,
        ref,
        set === null ? null : set === pre ? ref : this.attrs.ref(set),
        seconds(now),
        false,
      );
      t.markDirty(d);
      return;
    }
    p.received++;
    if (set !== null) p.accepted[f]!++;
    t.add(
      d,
      p,
      this.attrs.ref(pre),
      set === null ? null : set === pre ? pre : this.attrs.ref(set),
      seconds(now),
      false,
    );
    t.markDirty(d);
  }

  /** Withdraw peer p's path for each prefix of a field; returns how many it had. */
  private withdrawField(p: PeerState, prefixes: PrefixField): number {
    const t = this.dests;
    const packed = prefixes instanceof Int32Array;
    let n = 0;
    for (let i = 0, count = fieldCount(prefixes); i < count; i++) {
      const d = packed ? t.getV4(prefixes[2 * i]!, prefixes[2 * i + 1]!) : t.get(prefixes[i]!);
      if (d < 0) continue;
      const k = t.indexOf(d, p);
      if (k < 0) continue;
      this.removeAt(d, k);
      n++;
    }
    return n;
  }

  private removeAt(d: number, i: number): void {
    const t = this.dests;
    const p = t.peerAt(d, i)!;
    const pre = t.preAt(d, i);
    const set = t.setAt(d, i);
    if (t.staleAt(d, i)) p.stale--;
    p.received--;
    if (set !== null) p.accepted[t.family(d)]!--;
    this.attrs.unref(pre);
    if (set !== null && set !== pre) this.attrs.unref(set);
    t.removeAt(d, i);
    t.markDirty(d);
  }

  /** Remove the peer's path from every destination where `which(d, i)` holds. */
  private dropPaths(p: PeerState, which: (d: number, i: number) => boolean): void {
    const t = this.dests;
    for (let d = 0, end = t.end; d < end; d++) {
      if (!t.live(d)) continue;
      const i = t.indexOf(d, p);
      if (i >= 0 && which(d, i)) this.removeAt(d, i);
    }
  }

  /** Re-run import policy over the kept pre-policy paths of a peer (soft reconfiguration inbound). */
  private reimport(p: PeerState): void {
    const t = this.dests;
    for (let d = 0, end = t.end; d < end; d++) {
      if (!t.live(d)) continue;
      const i = t.indexOf(d, p);
      if (i < 0) continue;
      const pre = t.preAt(d, i);
      const cur = t.setAt(d, i);
      const v = this.importVerdict(p, t.prefix(d), pre.attrs);
      const set = !v.accept ? null : v.attributes === pre.attrs ? pre : this.attrs.intern(v.attributes);
      if (set === cur) {
        if (set !== null && set !== pre) this.attrs.unref(set);
        continue;
      }
      if ((cur === null) !== (set === null)) p.accepted[t.family(d)]! += set === null ? -1 : 1;
      if (cur !== null && cur !== pre) this.attrs.unref(cur);
      // intern() above already took the reference for a new set
      t.replaceAt(d, i, pre, set, t.sinceAt(d, i), t.staleAt(d, i));
      t.markDirty(d);
    }
  }

  /** Compare what the peer should have for this destination with adjOut; queue the difference. */
  private exportDest(
    p: PeerState,
    d: number,
    groups: Map<AttrSet, Prefix[]>,
    withdraw: Prefix[],
    alreadyResent = false,
  ): void {
    const want = this.exportSet(p, d);
    const had = p.adjOut.get(d);
    if (want === null) {
      if (had !== undefined) {
        p.adjOut.delete(d);
        this.attrs.unref(had);
        withdraw.push(this.dests.prefix(d));
      }
      return;
    }
    if (had === want) {
      this.attrs.unref(want);
      return;
    }
    const prefix = this.dests.prefix(d);
    if (had !== undefined) {
      this.attrs.unref(had);
      if (alreadyResent) {
        // the resend pushed the old attributes for this prefix; replace that entry
        const g = groups.get(had);
        if (g !== undefined) {
          const i = g.indexOf(prefix);
          if (i >= 0) g.splice(i, 1);
          if (g.length === 0) groups.delete(had);
        }
      }
    }
    p.adjOut.set(d, want);
    pushGroup(groups, want, prefix);
  }

  /** The attribute set to announce to `p` for `d` (one reference taken), or null. */
  private exportSet(p: PeerState, d: number): AttrSet | null {
    const t = this.dests;
    const b = t.bestPeer[d]!;
    if (b === NONE || b === p.index) return null;
    const src = b === LOCAL ? null : this.peerByIndex[b]!;
    const bestSet = t.setAt(d, t.indexOf(d, src));
    if (bestSet === null) return null;
    const f = t.family(d);
    // the session must carry the family
    if (!p.families.some((x) => famIndex(x) === f)) return null;
    const cacheable = p.policy === undefined || p.policy.prefixIndependent;
    const slot = b * 2 + f;
    if (cacheable) {
      const c = p.exportCache.get(bestSet);
      const hit = c?.[slot];
      if (hit !== undefined) return hit === null ? null : this.attrs.ref(hit);
    }
    const a = exportAttributes(
      { asn: this.cfg.asn, clusterId: this.clusterId },
      t.prefix(d),
      bestSet.attrs,
      src,
      p,
    );
    const set = a === null ? null : this.attrs.intern(a);
    if (cacheable) {
      let c = p.exportCache.get(bestSet);
      if (c === undefined) {
        c = [];
        p.exportCache.set(bestSet, c);
      }
      c[slot] = set;
    }
    return set;
  }
}

/** The decision for one destination: the best path as its peer index. */
interface Decision {
  best: number;
  reason: number;
  /** ECMP members, best first, when more than one */
  multipath: Path<PeerState>[] | null;
}

function pathIndex(path: Path<PeerState>): number {
  return path.peer === null ? LOCAL : path.peer.index;
}

function pushGroup(groups: Map<AttrSet, Prefix[]>, set: AttrSet, prefix: Prefix): void {
  const g = groups.get(set);
  if (g === undefined) groups.set(set, [prefix]);
  else g.push(prefix);
}
