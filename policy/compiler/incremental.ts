/**
 * The incremental compiler: a compiler state (pure data) and updates that
 * are pure functions `(state, object changed) -> { state, delta }`, where the
 * delta names only the sets, chains and local pods (verdict-map and
 * anti-spoofing elements) the change touched. `deltaCommands(before, after,
 * delta)` turns it into the nft commands for just those objects, in the
 * driver's order (agent/nft/diff.ts). The full compiler (compile.ts) stays
 * the oracle: `materialize(state)` is the same table as `compile()` of the
 * same inputs (test/conformance/policy/incremental-differential.test.ts
 * checks it after every step of random event sequences).
 *
 * What the state keeps besides the inputs: per local pod its groups; per
 * group how many local pods use it and which sets its chains name; per set
 * its definition, how many groups name it, its members (one range per
 * contribution: a pod's address, an ipBlock, a node address) sorted, and
 * the merged ranges that are its nft elements. So:
 *
 * - a pod added, removed or relabelled: each existing set is asked "does
 *   this pod belong to you" (old pod under the old cluster, new pod under
 *   the new) and patched by one member; named-port sets it can reach are
 *   recomputed; if the pod is local, its groups are recomputed (a new group
 *   brings its chains and any set not yet there, computed from scratch);
 * - a namespace added, relabelled or removed: the same for each of its pods;
 * - a policy added, changed or removed: the local pods it selects (before or
 *   after) are regrouped, and its ingress named-port sets recomputed;
 * - a Node or a Tenant: rebuilt from scratch (`delta.full`): rare events,
 *   and nodes peers and tenant membership reach everywhere.
 */
import type {
  Cluster,
  Direction,
  NamespaceInfo,
  NamespaceMatch,
  Peer,
  PodInfo,
  Policy,
  PortMatch,
  Rule,
  TenantInfo,
} from "../model/cluster.js";
import { buildClusterFromObjects, type ParsedObject } from "../model/load.js";
import { v4Value, type Range } from "../model/ipv4.js";
import { single6, type Range6 } from "../model/ipv6.js";
import {
  namespaceMatches,
  nodeAddresses,
  nodeAddresses6,
  peerMatches,
  peerSelectsPod,
  subjectSelects,
  tenantAdmits,
  type Family,
} from "../model/select.js";
import { selectorObjectMatches } from "../../net/label-selector.js";
import { PersistentMap } from "./persistent-map.js";
import {
  groupId,
  localPodEntry,
  peerSetName,
  peersArePlain,
  portEntries,
  portEntries6,
  portSetName,
  sectionsFor,
  tenantSetName,
  type IRGroup,
  type IRLocalPod,
  type IRPortEntry,
  type IRPortEntry6,
  type PolicyIR,
  type SetNamer,
} from "./ir.js";
import {
  addrElem,
  addrElem6,
  groupChains,
  irToTable,
  MAP_EGRESS,
  MAP_INGRESS,
  portElem,
  portElem6,
  podVerdict,
  SET_ALL_PODS,
  SET_POD_SOURCES,
  setName,
} from "./to-nft.js";
import {
  chainObject,
  DiffSteps,
  elementObject,
  ruleObject,
  setObject,
  TABLE_FAMILY,
  TABLE_NAME,
  type NftTable,
} from "./nft-table.js";

type AddrDef =
  | { readonly kind: "all" }
  | { readonly kind: "peer"; readonly peers: readonly Peer[] }
  | { readonly kind: "tenant"; readonly tenant: string };

interface PortDef {
  readonly ports: readonly PortMatch[];
  readonly policy: string;
  readonly dir: Direction;
  readonly rule: Rule;
  readonly named: boolean;
}

interface AddrSet {
  readonly def: AddrDef;
  /** Single addresses only: a plain set whose elements are the distinct members (ir.ts plainSets). */
  readonly plain: boolean;
  readonly refs: number;
  /** One range per contribution, sorted by (start, end); duplicates kept (counted). */
  readonly m4: readonly Range[];
  readonly m6: readonly Range6[];
  /** The nft elements: the merged ranges, or the distinct members of a plain set. */
  readonly e4: readonly Range[];
  readonly e6: readonly Range6[];
}

interface PortSet {
  readonly def: PortDef;
  readonly refs: number;
  readonly e4: readonly IRPortEntry[];
  readonly e6: readonly IRPortEntry6[];
}

interface GroupRec {
  readonly group: IRGroup;
  readonly refs: number;
  readonly sets: readonly string[];
}

export interface CompilerState {
  readonly node: string;
  /** The model without its pod list (`pods` below holds them); namespaces include those only pods name. */
  readonly cluster: Cluster;
  readonly pods: PersistentMap<string, PodInfo>;
  /** Namespace -> the keys of its pods. */
  readonly podsByNs: PersistentMap<string, ReadonlySet<string>>;
  /** Input objects by their name (`Kind ns/name`). */
  readonly objects: PersistentMap<string, ParsedObject>;
  /** Object name -> the policy it became. */
  readonly policyOf: ReadonlyMap<string, Policy>;
  readonly local: ReadonlyMap<string, IRLocalPod>;
  readonly groups: ReadonlyMap<string, GroupRec>;
  readonly addrSets: ReadonlyMap<string, AddrSet>;
  readonly portSets: ReadonlyMap<string, PortSet>;
}

/** What an update touched. `full`: everything may have changed (diff the whole table). */
export interface Delta {
  readonly full: boolean;
  readonly sets: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  /** Local pod keys whose map verdicts or anti-spoofing elements may have changed. */
  readonly pods: ReadonlySet<string>;
}

export function emptyDelta(): Delta {
  return { full: false, sets: new Set(), groups: new Set(), pods: new Set() };
}

/** Two deltas as one (the touched names of both). */
export function mergeDeltas(a: Delta, b: Delta): Delta {
  return {
    full: a.full || b.full,
    sets: new Set([...a.sets, ...b.sets]),
    groups: new Set([...a.groups, ...b.groups]),
    pods: new Set([...a.pods, ...b.pods]),
  };
}

// ------------------------------------------------------------------ ranges

interface Ops<T> {
  cmp(a: { start: T; end: T }, b: { start: T; end: T }): number;
  adjacent(lastEnd: T, start: T): boolean;
  max(a: T, b: T): T;
}

const ops4: Ops<number> = {
  cmp: (a, b) => a.start - b.start || a.end - b.end,
  adjacent: (e, s) => s <= e + 1,
  max: (a, b) => (a > b ? a : b),
};
const ops6: Ops<bigint> = {
  cmp: (a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0,
  adjacent: (e, s) => s <= e + 1n,
  max: (a, b) => (a > b ? a : b),
};

type R<T> = { readonly start: T; readonly end: T };

function lowerBound<T>(xs: readonly R<T>[], r: R<T>, o: Ops<T>): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (o.cmp(xs[mid] as R<T>, r) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function withMember<T>(xs: readonly R<T>[], r: R<T>, o: Ops<T>): R<T>[] {
  const out = xs.slice();
  out.splice(lowerBound(xs, r, o), 0, r);
  return out;
}

function withoutMember<T>(xs: readonly R<T>[], r: R<T>, o: Ops<T>): R<T>[] {
  const i = lowerBound(xs, r, o);
  const at = xs[i];
  if (at === undefined || o.cmp(at, r) !== 0) return xs.slice();
  const out = xs.slice();
  out.splice(i, 1);
  return out;
}

/** Sorted members -> merged ranges (what mergeRanges gives). */
function merged<T>(xs: readonly R<T>[], o: Ops<T>): R<T>[] {
  const out: { start: T; end: T }[] = [];
  for (const r of xs) {
    const last = out[out.length - 1];
    if (last && o.adjacent(last.end, r.start)) last.end = o.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Sorted members -> the distinct ones (a plain set's elements). */
function distinct<T>(xs: readonly R<T>[], o: Ops<T>): R<T>[] {
  return xs.filter((r, i) => i === 0 || o.cmp(xs[i - 1] as R<T>, r) !== 0);
}

function elementsOf<T>(plain: boolean, xs: readonly R<T>[], o: Ops<T>): R<T>[] {
  return plain ? distinct(xs, o) : merged(xs, o);
}

function isPlain(def: AddrDef): boolean {
  return def.kind !== "peer" || peersArePlain(def.peers);
}

/** Two sorted, merged range lists -> the ranges only in `a` (gone) and only in `b` (fresh). */
function rangeDiff<T>(a: readonly R<T>[], b: readonly R<T>[], o: Ops<T>): { gone: R<T>[]; fresh: R<T>[] } {
  const gone: R<T>[] = [];
  const fresh: R<T>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x === undefined) {
      fresh.push(y as R<T>);
      j++;
    } else if (y === undefined) {
      gone.push(x);
      i++;
    } else {
      const c = o.cmp(x, y);
      if (c === 0) {
        i++;
        j++;
      } else if (c < 0) {
        gone.push(x);
        i++;
      } else {
        fresh.push(y);
        j++;
      }
    }
  }
  return { gone, fresh };
}

// Parsing an address (net/address.ts, on ip-num) costs microseconds: once per pod object.
const addr4 = new WeakMap<PodInfo, Range>();
const addr6 = new WeakMap<PodInfo, Range6>();

function single(ip: string): Range {
  const n = v4Value(ip) as number;
  return { start: n, end: n };
}

/** The pod's IPv4 address as a range (the pod has one). */
function podRange(pod: PodInfo): Range {
  let r = addr4.get(pod);
  if (r === undefined) addr4.set(pod, (r = single(pod.ipv4 as string)));
  return r;
}

/** The pod's IPv6 address as a range (the pod has one). */
function podRange6(pod: PodInfo): Range6 {
  let r = addr6.get(pod);
  if (r === undefined) addr6.set(pod, (r = single6(pod.ipv6 as string)));
  return r;
}

// ------------------------------------------------------------------ set contents

function hasIP(p: PodInfo): boolean {
  return !p.hostNetwork && (p.ipv4 !== undefined || p.ipv6 !== undefined);
}

/** Does this pod's address belong to an address set (one contribution however many peers match)? */
function podContributes(c: Cluster, def: AddrDef, pod: PodInfo): boolean {
  if (!hasIP(pod)) return false;
  switch (def.kind) {
    case "all":
      return true;
    case "peer":
      return def.peers.some((peer) => peerSelectsPod(c, peer, pod));
    case "tenant": {
      const t = c.tenants.find((x) => x.name === def.tenant);
      return t !== undefined && tenantAdmits(c, t, pod.namespace);
    }
  }
}

interface PodIndex {
  readonly pods: PersistentMap<string, PodInfo>;
  readonly podsByNs: PersistentMap<string, ReadonlySet<string>>;
}

/** The pods a set may hold: all of them, or those of the namespaces its peers or tenant can reach. */
function candidatePods(c: Cluster, ix: PodIndex, def: AddrDef): Iterable<PodInfo> {
  if (def.kind === "all") {
    const all: PodInfo[] = [];
    ix.pods.forEach((p) => all.push(p));
    return all;
  }
  const namespaces = new Set<string>();
  for (const ns of ix.podsByNs.keys()) {
    const reached =
      def.kind === "tenant"
        ? c.tenants.some((t) => t.name === def.tenant && tenantAdmits(c, t, ns))
        : def.peers.some((p) => p.kind === "pods" && namespaceMatches(c, p.namespaces, ns));
    if (reached) namespaces.add(ns);
  }
  const out: PodInfo[] = [];
  for (const ns of namespaces)
    for (const key of ix.podsByNs.get(ns) ?? []) {
      const p = ix.pods.get(key);
      if (p) out.push(p);
    }
  return out;
}

function addrSetFromScratch(c: Cluster, ix: PodIndex, def: AddrDef, refs: number): AddrSet {
  const m4: Range[] = [];
  const m6: Range6[] = [];
  for (const pod of candidatePods(c, ix, def)) {
    if (!podContributes(c, def, pod)) continue;
    if (pod.ipv4 !== undefined) m4.push(podRange(pod));
    if (pod.ipv6 !== undefined) m6.push(podRange6(pod));
  }
  if (def.kind === "peer") {
    for (const peer of def.peers) {
      if (peer.kind === "nodes") {
        for (const a of nodeAddresses(c, peer)) m4.push({ start: a, end: a });
        for (const a of nodeAddresses6(c, peer)) m6.push({ start: a, end: a });
      } else if (peer.kind !== "pods") {
        m4.push(...peer.ranges);
        m6.push(...peer.ranges6);
      }
    }
  }
  m4.sort(ops4.cmp);
  m6.sort(ops6.cmp);
  const plain = isPlain(def);
  return { def, plain, refs, m4, m6, e4: elementsOf(plain, m4, ops4), e6: elementsOf(plain, m6, ops6) };
}

/** The pods of the namespaces a NamespaceMatch selects (from the namespace index). */
function podsIn(c: Cluster, ix: PodIndex, m: NamespaceMatch): PodInfo[] {
  const out: PodInfo[] = [];
  const add = (ns: string) => {
    for (const key of ix.podsByNs.get(ns) ?? []) {
      const p = ix.pods.get(key);
      if (p) out.push(p);
    }
  };
  if (m.kind === "same") add(m.namespace);
  else for (const ns of ix.podsByNs.keys()) if (namespaceMatches(c, m, ns)) add(ns);
  return out;
}

function portSetFromScratch(
  s: PodIndex & { node: string; cluster: Cluster },
  def: PortDef,
  refs: number,
): PortSet {
  const c = s.cluster;
  // Who can be a destination: ingress, the policy's selected pods on this
  // node; egress, the pods the rule's peers match (any pod for ipBlocks).
  let pool: PodInfo[] = [];
  if (def.named && def.dir === "ingress") {
    const p = c.policies.find((x) => x.id === def.policy);
    if (p) pool = podsIn(c, s, p.subject.namespaces).filter((pod) => pod.node === s.node);
  } else if (def.named) {
    const peers = def.rule.peers;
    if (peers === null || peers.some((peer) => peer.kind !== "pods")) s.pods.forEach((pod) => pool.push(pod));
    else {
      const seen = new Set<string>();
      for (const peer of peers)
        if (peer.kind === "pods")
          for (const pod of podsIn(c, s, peer.namespaces))
            if (!seen.has(pod.key)) {
              seen.add(pod.key);
              pool.push(pod);
            }
    }
  }
  const p = def.dir === "ingress" ? c.policies.find((x) => x.id === def.policy) : undefined;
  const candidates = (family: Family): PodInfo[] => {
    if (!def.named) return [];
    const has = (pod: PodInfo) => (family === "ipv4" ? pod.ipv4 : pod.ipv6) !== undefined;
    return pool.filter((pod) =>
      !has(pod)
        ? false
        : def.dir === "ingress"
          ? p !== undefined && subjectSelects(c, p, pod)
          : hasIP(pod) &&
            (def.rule.peers === null ||
              def.rule.peers.some((peer) => peerMatches(c, peer, { kind: "pod", pod }, family))),
    );
  };
  return {
    def,
    refs,
    e4: portEntries(def.ports, candidates("ipv4")),
    e6: portEntries6(def.ports, candidates("ipv6")),
  };
}

/** Might this pod (under this cluster) be a destination of a named-port set? */
function portSetReaches(node: string, c: Cluster, def: PortDef, pod: PodInfo): boolean {
  if (!def.named || !hasIP(pod)) return false;
  if (def.dir === "ingress") {
    const p = c.policies.find((x) => x.id === def.policy);
    return p !== undefined && pod.node === node && subjectSelects(c, p, pod);
  }
  const peers = def.rule.peers;
  if (peers === null) return true;
  return peers.some(
    (peer) =>
      peerMatches(c, peer, { kind: "pod", pod }, "ipv4") ||
      peerMatches(c, peer, { kind: "pod", pod }, "ipv6"),
  );
}

// ------------------------------------------------------------------ the draft (mutable copy of one update)

class Draft {
  node: string;
  cluster: Cluster;
  pods: PersistentMap<string, PodInfo>;
  podsByNs: PersistentMap<string, ReadonlySet<string>>;
  objects: PersistentMap<string, ParsedObject>;
  policyOf: Map<string, Policy>;
  local: Map<string, IRLocalPod>;
  groups: Map<string, GroupRec>;
  addrSets: Map<string, AddrSet>;
  portSets: Map<string, PortSet>;
  readonly sets = new Set<string>();
  readonly touchedGroups = new Set<string>();
  readonly touchedPods = new Set<string>();

  constructor(s: CompilerState) {
    this.node = s.node;
    this.cluster = s.cluster;
    this.pods = s.pods;
    this.podsByNs = s.podsByNs;
    this.objects = s.objects;
    this.policyOf = new Map(s.policyOf);
    this.local = new Map(s.local);
    this.groups = new Map(s.groups);
    this.addrSets = new Map(s.addrSets);
    this.portSets = new Map(s.portSets);
  }

  done(): { state: CompilerState; delta: Delta } {
    return {
      state: {
        node: this.node,
        cluster: this.cluster,
        pods: this.pods,
        podsByNs: this.podsByNs,
        objects: this.objects,
        policyOf: this.policyOf,
        local: this.local,
        groups: this.groups,
        addrSets: this.addrSets,
        portSets: this.portSets,
      },
      delta: { full: false, sets: this.sets, groups: this.touchedGroups, pods: this.touchedPods },
    };
  }

  /** Moves one pod's contributions: `before` under the old cluster out, `after` under the current one in. */
  movePod(oldC: Cluster, before: PodInfo | undefined, after: PodInfo | undefined): void {
    const c = this.cluster;
    for (const [name, set] of this.addrSets) {
      const wasIn = before !== undefined && podContributes(oldC, set.def, before);
      const isIn = after !== undefined && podContributes(c, set.def, after);
      if (!wasIn && !isIn) continue;
      if (wasIn && isIn && before?.ipv4 === after?.ipv4 && before?.ipv6 === after?.ipv6) continue;
      let m4 = set.m4;
      let m6 = set.m6;
      if (wasIn && before) {
        if (before.ipv4 !== undefined) m4 = withoutMember(m4, podRange(before), ops4);
        if (before.ipv6 !== undefined) m6 = withoutMember(m6, podRange6(before), ops6);
      }
      if (isIn && after) {
        if (after.ipv4 !== undefined) m4 = withMember(m4, podRange(after), ops4);
        if (after.ipv6 !== undefined) m6 = withMember(m6, podRange6(after), ops6);
      }
      this.addrSets.set(name, {
        ...set,
        m4,
        m6,
        e4: elementsOf(set.plain, m4, ops4),
        e6: elementsOf(set.plain, m6, ops6),
      });
      this.sets.add(name);
    }
    for (const [name, set] of this.portSets) {
      const reaches =
        (before !== undefined && portSetReaches(this.node, oldC, set.def, before)) ||
        (after !== undefined && portSetReaches(this.node, c, set.def, after));
      if (reaches) this.recomputePortSet(name);
    }
  }

  recomputePortSet(name: string): void {
    const set = this.portSets.get(name);
    if (set === undefined) return;
    this.portSets.set(name, portSetFromScratch(this, set.def, set.refs));
    this.sets.add(name);
  }

  /** Recomputes a pod's groups (local pods) or drops its local entry. */
  regroup(key: string): void {
    const pod = this.pods.get(key);
    const old = this.local.get(key);
    const isLocal = pod !== undefined && pod.node === this.node && !pod.hostNetwork;
    let next: IRLocalPod | undefined;
    if (isLocal) {
      const ids: Partial<Record<Direction, string>> = {};
      for (const dir of ["ingress", "egress"] as const) {
        const namer = new Namer(this.cluster);
        const sections = sectionsFor(namer, pod, dir);
        if (sections.length === 0) continue;
        const id = groupId(dir, sections);
        ids[dir] = id;
        if (!this.groups.has(id)) {
          this.groups.set(id, {
            group: { id, direction: dir, sections },
            refs: 0,
            sets: [...namer.used.keys()],
          });
          this.touchedGroups.add(id);
          for (const [name, def] of namer.used) this.refSet(name, def);
        }
      }
      next = localPodEntry(pod, ids);
    }
    // New references before old ones are dropped, so a group both pods share never goes.
    for (const id of [next?.ingressGroup, next?.egressGroup]) if (id) this.refGroup(id, +1);
    for (const id of [old?.ingressGroup, old?.egressGroup]) if (id) this.refGroup(id, -1);
    if (next) this.local.set(key, next);
    else this.local.delete(key);
    if (old || next) this.touchedPods.add(key);
  }

  private refGroup(id: string, by: number): void {
    const g = this.groups.get(id);
    if (g === undefined) return;
    const refs = g.refs + by;
    if (refs > 0) {
      this.groups.set(id, { ...g, refs });
      return;
    }
    this.groups.delete(id);
    this.touchedGroups.add(id);
    for (const name of g.sets) this.unrefSet(name);
  }

  private refSet(name: string, def: AddrDef | PortDef): void {
    this.sets.add(name);
    const a = this.addrSets.get(name);
    if (a) {
      this.addrSets.set(name, { ...a, refs: a.refs + 1 });
      return;
    }
    const p = this.portSets.get(name);
    if (p) {
      this.portSets.set(name, { ...p, refs: p.refs + 1 });
      return;
    }
    if ("ports" in def) this.portSets.set(name, portSetFromScratch(this, def, 1));
    else this.addrSets.set(name, addrSetFromScratch(this.cluster, this, def, 1));
  }

  private unrefSet(name: string): void {
    this.sets.add(name);
    const a = this.addrSets.get(name);
    if (a) {
      if (a.refs <= 1) this.addrSets.delete(name);
      else this.addrSets.set(name, { ...a, refs: a.refs - 1 });
      return;
    }
    const p = this.portSets.get(name);
    if (p) {
      if (p.refs <= 1) this.portSets.delete(name);
      else this.portSets.set(name, { ...p, refs: p.refs - 1 });
    }
  }
}

/** Names the sets of a pod's sections and records their definitions (contents come from the state). */
class Namer implements SetNamer {
  readonly used = new Map<string, AddrDef | PortDef>();
  constructor(readonly c: Cluster) {}
  peerSet(peers: readonly Peer[]): string {
    const name = peerSetName(peers);
    this.used.set(name, { kind: "peer", peers });
    return name;
  }
  portSet(ports: readonly PortMatch[], p: Policy, dir: Direction, r: Rule): string {
    const name = portSetName(ports, p, dir, r);
    this.used.set(name, {
      ports,
      policy: p.id,
      dir,
      rule: r,
      named: ports.some((pm) => pm.name !== undefined),
    });
    return name;
  }
  tenantSet(t: TenantInfo): string {
    const name = tenantSetName(t);
    this.used.set(name, { kind: "tenant", tenant: t.name });
    return name;
  }
}

// ------------------------------------------------------------------ the model pieces

function tierRank(p: Policy): number {
  return p.tier === "admin" ? 0 : p.tier === "networkpolicy" ? 1 : 2;
}

/** The full compiler's order (load.ts): admin and baseline by (priority, id), NetworkPolicies by id. */
function policyOrder(a: Policy, b: Policy): number {
  const t = tierRank(a) - tierRank(b);
  if (t !== 0) return t;
  if (a.tier !== "networkpolicy" && a.priority !== b.priority) return a.priority - b.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function tenantOfNamespace(tenants: readonly TenantInfo[], ns: NamespaceInfo): TenantInfo | undefined {
  return tenants.find((t) => selectorObjectMatches(t.namespaceSelector, ns.labels));
}

function implicitNamespace(name: string): NamespaceInfo {
  return { name, labels: { "kubernetes.io/metadata.name": name } };
}

/** Sets `ns` (or drops it) in the cluster's namespaces and tenantOf, as load.ts builds them. */
function withNamespace(c: Cluster, name: string, ns: NamespaceInfo | undefined): Cluster {
  const namespaces = new Map(c.namespaces);
  const tenantOf = new Map(c.tenantOf);
  if (ns === undefined) {
    namespaces.delete(name);
    tenantOf.delete(name);
  } else {
    namespaces.set(name, ns);
    const t = tenantOfNamespace(c.tenants, ns);
    if (t) tenantOf.set(name, t);
    else tenantOf.delete(name);
  }
  return { ...c, namespaces, tenantOf };
}

/** The one model piece an object becomes (validated in context, as the full build does). Throws PolicyInputError. */
function modelOf(o: ParsedObject): Cluster {
  return buildClusterFromObjects([o]);
}

const POLICY_KINDS = new Set([
  "NetworkPolicy",
  "AdminNetworkPolicy",
  "BaselineAdminNetworkPolicy",
  "ClusterNetworkPolicy",
]);

// ------------------------------------------------------------------ entry points

/** The state for these inputs, from scratch. Throws PolicyInputError as buildClusterFromObjects does. */
export function initialState(objects: readonly ParsedObject[], node: string): CompilerState {
  const full = buildClusterFromObjects(objects);
  const policyOf = new Map<string, Policy>();
  const byId = new Map(full.policies.map((p) => [p.id, p] as const));
  for (const o of objects) {
    const p = byId.get(o.name);
    if (POLICY_KINDS.has(o.kind) && p) policyOf.set(o.name, p);
  }
  const byNs = new Map<string, Set<string>>();
  for (const p of full.pods) {
    const set = byNs.get(p.namespace) ?? new Set<string>();
    set.add(p.key);
    byNs.set(p.namespace, set);
  }
  const empty: CompilerState = {
    node,
    cluster: { ...full, pods: [] },
    pods: PersistentMap.of(full.pods.map((p) => [p.key, p] as const)),
    podsByNs: PersistentMap.of(byNs),
    objects: PersistentMap.of(objects.map((o) => [o.name, o] as const)),
    policyOf,
    local: new Map(),
    groups: new Map(),
    addrSets: new Map(),
    portSets: new Map(),
  };
  const d = new Draft(empty);
  d.addrSets.set(SET_ALL_PODS, addrSetFromScratch(d.cluster, d, { kind: "all" }, 1));
  for (const p of full.pods) d.regroup(p.key);
  return d.done().state;
}

/**
 * One object added or changed (`obj`) or removed (undefined), by kind and key
 * (`ns/name` or `name`). Pure: `s` is left as it was. Throws PolicyInputError
 * when the object is rejected in context (the caller leaves it out: call
 * again without it).
 */
export function updateObject(
  s: CompilerState,
  kind: string,
  key: string,
  obj: ParsedObject | undefined,
): { state: CompilerState; delta: Delta } {
  const name = `${kind} ${key}`;
  if (kind === "Pod") {
    const after = obj === undefined ? undefined : modelOf(obj).pods[0];
    const d = new Draft(s);
    const podKey = after?.key ?? (key.includes("/") ? key : `default/${key}`);
    const before = s.pods.get(podKey);
    d.objects = obj ? d.objects.set(name, obj) : d.objects.delete(name);
    d.pods = after ? d.pods.set(podKey, after) : d.pods.delete(podKey);
    const ns = after?.namespace ?? before?.namespace;
    if (ns !== undefined) {
      const keys = new Set(d.podsByNs.get(ns) ?? []);
      if (after) keys.add(podKey);
      else keys.delete(podKey);
      d.podsByNs = keys.size > 0 ? d.podsByNs.set(ns, keys) : d.podsByNs.delete(ns);
    }
    // Namespaces only pods name exist implicitly (load.ts), for tenantOf.
    if (ns !== undefined && !d.objects.has(`Namespace ${ns}`)) {
      const stillUsed = d.podsByNs.has(ns);
      if (stillUsed && !d.cluster.namespaces.has(ns))
        d.cluster = withNamespace(d.cluster, ns, implicitNamespace(ns));
      else if (!stillUsed && d.cluster.namespaces.has(ns))
        d.cluster = withNamespace(d.cluster, ns, undefined);
    }
    d.movePod(s.cluster, before, after);
    d.regroup(podKey);
    return d.done();
  }
  if (kind === "Namespace") {
    const info = obj === undefined ? undefined : modelOf(obj).namespaces.get(key);
    const d = new Draft(s);
    d.objects = obj ? d.objects.set(name, obj) : d.objects.delete(name);
    const pods = [...(s.podsByNs.get(key) ?? [])].flatMap((k) => s.pods.get(k) ?? []);
    d.cluster = withNamespace(d.cluster, key, info ?? (pods.length > 0 ? implicitNamespace(key) : undefined));
    for (const p of pods) d.movePod(s.cluster, p, p);
    for (const p of pods) d.regroup(p.key);
    return d.done();
  }
  if (POLICY_KINDS.has(kind)) {
    const after = obj === undefined ? undefined : modelOf(obj).policies[0];
    const before = s.policyOf.get(name);
    const d = new Draft(s);
    d.objects = obj ? d.objects.set(name, obj) : d.objects.delete(name);
    if (after) d.policyOf.set(name, after);
    else d.policyOf.delete(name);
    const policies = s.cluster.policies.filter((p) => p.id !== before?.id && p.id !== after?.id);
    if (after) policies.splice(lowerBoundBy(policies, after), 0, after);
    d.cluster = { ...d.cluster, policies };
    for (const pod of s.local.keys()) {
      const p = s.pods.get(pod);
      if (
        p &&
        ((before && subjectSelects(s.cluster, before, p)) || (after && subjectSelects(d.cluster, after, p)))
      )
        d.regroup(pod);
    }
    // An ingress named-port set is scoped to its policy, not to its subject.
    for (const [setName_, set] of d.portSets) {
      if (
        set.def.named &&
        set.def.dir === "ingress" &&
        (set.def.policy === before?.id || set.def.policy === after?.id)
      )
        d.recomputePortSet(setName_);
    }
    return d.done();
  }
  // Node, Tenant (and anything else): from scratch.
  const objects = obj ? s.objects.set(name, obj) : s.objects.delete(name);
  const state = initialState([...objects.values()], s.node);
  return { state, delta: { ...emptyDelta(), full: true } };
}

function lowerBoundBy(xs: readonly Policy[], p: Policy): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (policyOrder(xs[mid] as Policy, p) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The state as a policy IR (and `materialize` as table content): what the full compiler would build. */
export function stateIR(s: CompilerState): PolicyIR {
  const addressSets = new Map<string, Range[]>();
  const addressSets6 = new Map<string, Range6[]>();
  for (const [name, set] of s.addrSets) {
    if (set.def.kind === "all") continue;
    addressSets.set(name, [...set.e4]);
    addressSets6.set(name, [...set.e6]);
  }
  const plainSets = new Set<string>();
  for (const [name, set] of s.addrSets) if (set.plain && set.def.kind !== "all") plainSets.add(name);
  const portSets = new Map<string, IRPortEntry[]>();
  const portSets6 = new Map<string, IRPortEntry6[]>();
  for (const [name, set] of s.portSets) {
    portSets.set(name, [...set.e4]);
    portSets6.set(name, [...set.e6]);
  }
  const all = s.addrSets.get(SET_ALL_PODS);
  const byKey = <T extends { key: string }>(a: T, b: T) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return {
    node: s.node,
    pods: [...s.local.values()].sort(byKey),
    groups: [...s.groups.values()].map((g) => g.group).sort((x, y) => (x.id < y.id ? -1 : 1)),
    addressSets,
    addressSets6,
    portSets,
    portSets6,
    plainSets,
    allPods: [...(all?.e4 ?? [])],
    allPods6: [...(all?.e6 ?? [])],
  };
}

export function materialize(s: CompilerState): NftTable {
  return irToTable(stateIR(s));
}

// ------------------------------------------------------------------ delta -> nft commands

type Cmd = Record<string, unknown>;
const t = { family: TABLE_FAMILY, table: TABLE_NAME };

function addrSetDecl(name: string, family: Family, plain: boolean) {
  return setObject({
    name: setName(name, family),
    type: family === "ipv4" ? "ipv4_addr" : "ipv6_addr",
    ...(plain ? {} : { flags: ["interval"] }),
    elements: [],
  });
}

function portSetDecl(name: string, family: Family) {
  return setObject({
    name: setName(name, family),
    type: [family === "ipv4" ? "ipv4_addr" : "ipv6_addr", "inet_proto", "inet_service"],
    flags: ["interval"],
    elements: [],
  });
}

/**
 * The nft commands that take the kernel from `before`'s table to `after`'s,
 * for what `delta` names only. The order is the driver's (agent/nft/diff.ts):
 * declarations, element deletes, element adds, chain rules, map deletes, map
 * adds, then chains and sets that went. `delta.full` is for the caller (diff
 * the whole table instead); here it returns undefined.
 */
export function deltaCommands(before: CompilerState, after: CompilerState, delta: Delta): Cmd[] {
  if (delta.full) throw new Error("deltaCommands: a full delta needs a full diff");
  const steps = new DiffSteps();
  const { declare, delElems, addElems, rules, mapDel, mapAdd, flushChains, deleteChains, deleteSets } = steps;
  const elems = (into: Cmd[], verb: "add" | "delete", name: string, es: unknown[]) => {
    if (es.length > 0) into.push({ [verb]: { element: elementObject(name, es) } });
  };

  for (const name of [...delta.sets].sort()) {
    const a4 = before.addrSets.get(name);
    const b4 = after.addrSets.get(name);
    const ap = before.portSets.get(name);
    const bp = after.portSets.get(name);
    if (a4 || b4) {
      if (!a4 && b4) {
        for (const f of ["ipv4", "ipv6"] as const)
          declare.push({ add: { set: addrSetDecl(name, f, b4.plain) } });
        elems(addElems, "add", name, b4.e4.map(addrElem));
        elems(addElems, "add", setName(name, "ipv6"), b4.e6.map(addrElem6));
      } else if (a4 && !b4) {
        for (const f of ["ipv4", "ipv6"] as const)
          deleteSets.push({ delete: { set: { ...t, name: setName(name, f) } } });
      } else if (a4 && b4) {
        const d4 = rangeDiff(a4.e4, b4.e4, ops4);
        const d6 = rangeDiff(a4.e6, b4.e6, ops6);
        elems(delElems, "delete", name, d4.gone.map(addrElem));
        elems(delElems, "delete", setName(name, "ipv6"), d6.gone.map(addrElem6));
        elems(addElems, "add", name, d4.fresh.map(addrElem));
        elems(addElems, "add", setName(name, "ipv6"), d6.fresh.map(addrElem6));
      }
    }
    if (ap || bp) {
      const es4 = (p: PortSet | undefined) =>
        new Map((p?.e4 ?? []).map(portElem).map((e) => [JSON.stringify(e), e]));
      const es6 = (p: PortSet | undefined) =>
        new Map((p?.e6 ?? []).map(portElem6).map((e) => [JSON.stringify(e), e]));
      if (!ap && bp)
        for (const f of ["ipv4", "ipv6"] as const) declare.push({ add: { set: portSetDecl(name, f) } });
      if (ap && !bp) {
        for (const f of ["ipv4", "ipv6"] as const)
          deleteSets.push({ delete: { set: { ...t, name: setName(name, f) } } });
        continue;
      }
      for (const [n, x, y] of [
        [name, es4(ap), es4(bp)],
        [setName(name, "ipv6"), es6(ap), es6(bp)],
      ] as const) {
        elems(
          delElems,
          "delete",
          n,
          [...x].filter(([k]) => !y.has(k)).map(([, e]) => e),
        );
        elems(
          addElems,
          "add",
          n,
          [...y].filter(([k]) => !x.has(k)).map(([, e]) => e),
        );
      }
    }
  }

  for (const id of [...delta.groups].sort()) {
    const a = before.groups.get(id);
    const b = after.groups.get(id);
    if (!a && b) {
      const chains = groupChains(b.group);
      for (const c of chains) declare.push({ add: { chain: chainObject(c) } });
      for (const c of chains) for (const r of c.rules) rules.push({ add: { rule: ruleObject(c.name, r) } });
    } else if (a && !b) {
      for (const c of groupChains(a.group)) {
        flushChains.push({ flush: { chain: { ...t, name: c.name } } });
        deleteChains.push({ delete: { chain: { ...t, name: c.name } } });
      }
    }
    // Same id, same content: a group's chains never change.
  }

  for (const key of [...delta.pods].sort()) {
    const a = before.local.get(key);
    const b = after.local.get(key);
    const iface = (a ?? b)?.iface as string;
    for (const f of ["ipv4", "ipv6"] as const) {
      const ax = a?.[f];
      const bx = b?.[f];
      if (ax === bx) continue;
      if (ax !== undefined) elems(delElems, "delete", setName(SET_POD_SOURCES, f), [{ concat: [iface, ax] }]);
      if (bx !== undefined) elems(addElems, "add", setName(SET_POD_SOURCES, f), [{ concat: [iface, bx] }]);
    }
    for (const [map, which] of [
      [MAP_EGRESS, "egressGroup"],
      [MAP_INGRESS, "ingressGroup"],
    ] as const) {
      const dir = map === MAP_EGRESS ? "egress" : "ingress";
      const av = a ? JSON.stringify(podVerdict(dir, a[which])) : undefined;
      const bv = b ? JSON.stringify(podVerdict(dir, b[which])) : undefined;
      if (av === bv) continue;
      if (a) mapDel.push({ delete: { element: elementObject(map, [iface]) } });
      if (b) mapAdd.push({ add: { element: elementObject(map, [[iface, podVerdict(dir, b[which])]]) } });
    }
  }
  return steps.commands();
}
