/**
 * Cluster + node name -> policy IR: what the node must enforce, independent
 * of nftables syntax.
 *
 * The node enforces the egress of its local pods (packets arriving from their
 * veths) and the ingress of its local pods (packets leaving through their
 * veths); remote pods' ends are enforced on their own nodes (Calico's split).
 *
 * Pods are grouped by the exact sequence of tier sections that applies to
 * them per direction; pods in one group share one chain. The chain's rules
 * match peers and ports through named sets, so a pod joining or leaving a
 * selector is a set-element change, a pod moving to an existing group is one
 * verdict-map element change, and a packet only ever walks the rules of the
 * policies that select its own pod.
 */
import type {
  Cluster,
  Direction,
  Peer,
  PodInfo,
  Policy,
  PortMatch,
  Rule,
  TenantInfo,
} from "../model/cluster.js";
import { mergeRanges, v4Value, type Range } from "../model/ipv4.js";
import { MAX6, mergeRanges6, single6, type Range6 } from "../model/ipv6.js";
import {
  nodeAddresses,
  nodeAddresses6,
  type Family,
  peerMatches,
  peerPods,
  subjectPods,
  subjectSelects,
  tenantAdmits,
} from "../model/select.js";
import type { Protocol } from "../model/objects.js";
import { hashText } from "./nft-table.js";
import { podVethName } from "../../net/veth-name.js";

export interface IRRule {
  readonly policy: string;
  readonly rule: string;
  readonly action: "Allow" | "Deny" | "Pass";
  /** Address set of the remote end; undefined: any remote. */
  readonly peerSet?: string;
  /** (destination address . protocol . port) set; undefined: any port. */
  readonly portSet?: string;
  readonly log?: string;
}

export type IRSection =
  | { readonly kind: "admin" | "baseline"; readonly rules: readonly IRRule[] }
  | {
      readonly kind: "tenant-strict" | "tenant-baseline";
      readonly tenant: string;
      readonly admitSet: string;
      readonly log?: string;
    }
  | {
      readonly kind: "networkpolicy";
      readonly rules: readonly IRRule[];
      readonly policies: readonly string[];
      readonly log?: string;
    };

export interface IRGroup {
  /** Stable name from the content hash: same content, same chain. */
  readonly id: string;
  readonly direction: Direction;
  readonly sections: readonly IRSection[];
}

export interface IRPortEntry {
  /** Destination address range (0.0.0.0/0 for numbered ports). */
  readonly dst: Range;
  readonly protocol: Protocol;
  readonly from: number;
  readonly to: number;
}

/** The same for IPv6 destinations (`::/0` for numbered ports). */
export interface IRPortEntry6 {
  readonly dst: Range6;
  readonly protocol: Protocol;
  readonly from: number;
  readonly to: number;
}

export interface IRLocalPod {
  readonly key: string;
  readonly iface: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** undefined: nothing to enforce in that direction (plain accept). */
  readonly ingressGroup?: string;
  readonly egressGroup?: string;
}

export interface PolicyIR {
  readonly node: string;
  readonly pods: readonly IRLocalPod[];
  readonly groups: readonly IRGroup[];
  /**
   * Named address and port sets, per family: every name has an IPv4 content
   * here and an IPv6 content in the `…6` map (to-nft.ts emits them as two nft
   * sets, since an nft set holds one address type).
   */
  readonly addressSets: ReadonlyMap<string, readonly Range[]>;
  readonly addressSets6: ReadonlyMap<string, readonly Range6[]>;
  readonly portSets: ReadonlyMap<string, readonly IRPortEntry[]>;
  readonly portSets6: ReadonlyMap<string, readonly IRPortEntry6[]>;
  /**
   * Address sets that hold single addresses only (pods, nodes; tenants; and
   * all-pods always): emitted as plain hash sets of their distinct addresses,
   * not interval sets. Absent: none. Why: nft 1.0.6 reads back every element
   * of every interval set in the table before it changes any element, so an
   * element change costs O(interval elements in the table); plain sets cost
   * nothing (policy/README.md).
   */
  readonly plainSets?: ReadonlySet<string>;
  /** Every pod address in the cluster (tenant boundaries are pod-to-pod). */
  readonly allPods: readonly Range[];
  readonly allPods6: readonly Range6[];
}

const ALL: Range = { start: 0, end: 0xffffffff };
const ALL6: Range6 = { start: 0n, end: MAX6 };

/** JSON text as a cache key; IPv6 ranges are bigints, which JSON.stringify refuses on its own. */
function peersKey(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === "bigint" ? v.toString(16) : v));
}

/** Sorted distinct single addresses (a plain set's elements), from single-address ranges. */
export function distinctRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  return sorted.filter((r, i) => i === 0 || r.start !== sorted[i - 1]?.start || r.end !== sorted[i - 1]?.end);
}

export function distinctRanges6(ranges: readonly Range6[]): Range6[] {
  const sorted = [...ranges].sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0,
  );
  return sorted.filter((r, i) => i === 0 || r.start !== sorted[i - 1]?.start || r.end !== sorted[i - 1]?.end);
}

/** A peer set holds single addresses only when its peers are pods and nodes (no ipBlock, no networks). */
export function peersArePlain(peers: readonly Peer[]): boolean {
  return peers.every((p) => p.kind === "pods" || p.kind === "nodes");
}

function safeName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 40);
}

export function logPrefix(policyId: string): string {
  // NF_LOG_PREFIXLEN is 128 including the NUL.
  return `${policyId}: `.slice(-120);
}

/** The name of a rule's peer set: a hash of its peers (same peers, same set). */
export function peerSetName(peers: readonly Peer[]): string {
  return `peer-${hashText(peerSetKey(peers))}`;
}

function peerSetKey(peers: readonly Peer[]): string {
  return peersKey(
    peers.map((p) =>
      p.kind === "ipBlock" || p.kind === "networks" ? { k: p.kind, r: p.ranges, r6: p.ranges6 } : p,
    ),
  );
}

/**
 * The name of a rule's port set. Named ports resolve per destination, so
 * their set is scoped: on ingress to the policy (its selected local pods),
 * on egress to the rule's peers.
 */
export function portSetName(ports: readonly PortMatch[], p: Policy, dir: Direction, r: Rule): string {
  const named = ports.some((pm) => pm.name !== undefined);
  const scope = !named ? "" : dir === "ingress" ? `in:${p.id}` : `out:${peersKey(r.peers)}`;
  return `port-${hashText(JSON.stringify(ports) + scope)}`;
}

export function tenantSetName(t: TenantInfo): string {
  return `tenant-${safeName(t.name)}-${hashText(t.name, 6)}`;
}

/** What the section builder needs: the cluster and the names of the sets a rule uses. */
export interface SetNamer {
  readonly c: Cluster;
  peerSet(peers: readonly Peer[]): string;
  portSet(ports: readonly PortMatch[], p: Policy, dir: Direction, r: Rule): string;
  tenantSet(t: TenantInfo): string;
}

class Builder implements SetNamer {
  readonly addressSets = new Map<string, Range[]>();
  readonly addressSets6 = new Map<string, Range6[]>();
  readonly portSets = new Map<string, IRPortEntry[]>();
  readonly portSets6 = new Map<string, IRPortEntry6[]>();
  readonly plainSets = new Set<string>();
  private readonly peerCache = new Map<string, string>();
  private readonly portCache = new Map<string, string>();
  /** Pods with an address of either family (host-network pods are their node's address). */
  readonly podsWithIP: PodInfo[];

  constructor(
    readonly c: Cluster,
    readonly node: string,
  ) {
    this.podsWithIP = c.pods.filter((p) => !p.hostNetwork && (p.ipv4 !== undefined || p.ipv6 !== undefined));
  }

  peerSet(peers: readonly Peer[]): string {
    const key = peerSetKey(peers);
    const cached = this.peerCache.get(key);
    if (cached) return cached;
    const name = `peer-${hashText(key)}`;
    const ranges: Range[] = [];
    const ranges6: Range6[] = [];
    for (const peer of peers) {
      if (peer.kind === "pods") {
        for (const pod of peerPods(this.c, peer)) {
          if (pod.ipv4 !== undefined) ranges.push(single(pod.ipv4));
          if (pod.ipv6 !== undefined) ranges6.push(single6(pod.ipv6));
        }
      } else if (peer.kind === "nodes") {
        for (const a of nodeAddresses(this.c, peer)) ranges.push({ start: a, end: a });
        for (const a of nodeAddresses6(this.c, peer)) ranges6.push({ start: a, end: a });
      } else {
        ranges.push(...peer.ranges);
        ranges6.push(...peer.ranges6);
      }
    }
    if (peersArePlain(peers)) {
      this.plainSets.add(name);
      this.addressSets.set(name, distinctRanges(ranges));
      this.addressSets6.set(name, distinctRanges6(ranges6));
    } else {
      this.addressSets.set(name, mergeRanges(ranges));
      this.addressSets6.set(name, mergeRanges6(ranges6));
    }
    this.peerCache.set(key, name);
    return name;
  }

  /**
   * A rule's port set. Named ports only need entries for the destinations the
   * rule can reach: on ingress the local pods the policy selects (the
   * destination is always one of them), on egress the pods its peers match.
   * That keeps the table small (nft re-reads every element on each update).
   */
  portSet(ports: readonly PortMatch[], p: Policy, dir: Direction, r: Rule): string {
    const named = ports.some((pm) => pm.name !== undefined);
    const scope = !named ? "" : dir === "ingress" ? `in:${p.id}` : `out:${peersKey(r.peers)}`;
    const key = JSON.stringify(ports) + scope;
    const cached = this.portCache.get(key);
    if (cached) return cached;
    const name = portSetName(ports, p, dir, r);
    // Per family, since an ipBlock peer matches a pod by its address of that family.
    const candidates = (family: Family): readonly PodInfo[] => {
      const has = (pod: PodInfo) => (family === "ipv4" ? pod.ipv4 : pod.ipv6) !== undefined;
      if (!named) return [];
      if (dir === "ingress")
        return subjectPods(this.c, p).filter((pod) => pod.node === this.node && has(pod));
      const peers = r.peers;
      return this.podsWithIP.filter(
        (pod) =>
          has(pod) &&
          (peers === null || peers.some((peer) => peerMatches(this.c, peer, { kind: "pod", pod }, family))),
      );
    };
    this.portSets.set(name, portEntries(ports, candidates("ipv4")));
    this.portSets6.set(name, portEntries6(ports, candidates("ipv6")));
    this.portCache.set(key, name);
    return name;
  }

  tenantSet(t: TenantInfo): string {
    const name = tenantSetName(t);
    if (!this.addressSets.has(name)) {
      const admitted = this.podsWithIP.filter((p) => tenantAdmits(this.c, t, p.namespace));
      this.plainSets.add(name);
      this.addressSets.set(name, distinctRanges(admitted.flatMap((p) => (p.ipv4 ? [single(p.ipv4)] : []))));
      this.addressSets6.set(
        name,
        distinctRanges6(admitted.flatMap((p) => (p.ipv6 ? [single6(p.ipv6)] : []))),
      );
    }
    return name;
  }
}

function single(ip: string): Range {
  const n = v4Value(ip) as number;
  return { start: n, end: n };
}

/**
 * Port clauses as (destination . protocol . port-range) entries: numbered
 * ports hold for any destination, named ports only for the pods that declare
 * them (resolved per destination pod). Entries never overlap (nft interval
 * sets reject overlaps): numbered ranges are merged per protocol and a named
 * entry already covered by them is dropped. `pods` must all have an address
 * of the family `addr` picks.
 */
function portEntriesOf<R extends { readonly start: number | bigint }>(
  ports: readonly PortMatch[],
  pods: readonly PodInfo[],
  all: R,
  addr: (pod: PodInfo) => R,
): { dst: R; protocol: Protocol; from: number; to: number }[] {
  const out: { dst: R; protocol: Protocol; from: number; to: number }[] = [];
  const byProto = new Map<Protocol, Range[]>();
  const protos: Protocol[] = ["TCP", "UDP", "SCTP"];
  for (const pm of ports) {
    if (pm.name !== undefined) continue;
    const ps = pm.protocol ? [pm.protocol] : protos;
    for (const p of ps) {
      const r =
        pm.port === undefined ? { start: 0, end: 65535 } : { start: pm.port, end: pm.endPort ?? pm.port };
      byProto.set(p, [...(byProto.get(p) ?? []), r]);
    }
  }
  for (const [p, rs] of byProto) {
    byProto.set(p, mergeRanges(rs));
    for (const r of byProto.get(p) ?? []) out.push({ dst: all, protocol: p, from: r.start, to: r.end });
  }
  const seen = new Set<string>();
  for (const pm of ports) {
    if (pm.name === undefined) continue;
    for (const pod of pods) {
      for (const cp of pod.ports) {
        if (cp.name !== pm.name || (pm.protocol !== undefined && cp.protocol !== pm.protocol)) continue;
        if ((byProto.get(cp.protocol) ?? []).some((r) => cp.port >= r.start && cp.port <= r.end)) continue;
        const dst = addr(pod);
        const k = `${dst.start}/${cp.protocol}/${cp.port}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ dst, protocol: cp.protocol, from: cp.port, to: cp.port });
      }
    }
  }
  return out;
}

export function portEntries(ports: readonly PortMatch[], pods: readonly PodInfo[]): IRPortEntry[] {
  return portEntriesOf(ports, pods, ALL, (pod) => single(pod.ipv4 as string));
}

export function portEntries6(ports: readonly PortMatch[], pods: readonly PodInfo[]): IRPortEntry6[] {
  return portEntriesOf(ports, pods, ALL6, (pod) => single6(pod.ipv6 as string));
}

function ruleName(dir: Direction, r: Rule): string {
  return `${dir}[${r.index}]${r.name ? ` ${r.name}` : ""}`;
}

function irRules(b: SetNamer, p: Policy, dir: Direction): IRRule[] {
  return (p[dir] ?? []).map((r) => ({
    policy: p.id,
    rule: ruleName(dir, r),
    action: r.action,
    ...(r.peers !== null ? { peerSet: b.peerSet(r.peers) } : {}),
    ...(r.ports !== null ? { portSet: b.portSet(r.ports, p, dir, r) } : {}),
    ...(p.log ? { log: logPrefix(`${p.id} ${ruleName(dir, r)}`) } : {}),
  }));
}

/** The tier sections that apply to a local pod in one direction (empty: plain accept). */
export function sectionsFor(b: SetNamer, pod: PodInfo, dir: Direction): IRSection[] {
  const c = b.c;
  const selecting = c.policies.filter((p) => p[dir] !== null && subjectSelects(c, p, pod));
  const out: IRSection[] = [];
  const admin = selecting.filter((p) => p.tier === "admin").flatMap((p) => irRules(b, p, dir));
  if (admin.length > 0) out.push({ kind: "admin", rules: admin });
  const tenant = c.tenantOf.get(pod.namespace);
  if (tenant?.isolation === "Strict")
    out.push({ kind: "tenant-strict", tenant: tenant.name, admitSet: b.tenantSet(tenant) });
  const nps = selecting.filter((p) => p.tier === "networkpolicy");
  if (nps.length > 0) {
    const logging = nps.find((p) => p.log);
    out.push({
      kind: "networkpolicy",
      rules: nps.flatMap((p) => irRules(b, p, dir)),
      policies: nps.map((p) => p.id),
      ...(logging ? { log: logPrefix(`${logging.id} ${dir} isolation`) } : {}),
    });
  }
  // Tenant Baseline denies only when no NetworkPolicy isolates the pod: an
  // isolating NetworkPolicy has already accepted or dropped above.
  if (tenant?.isolation === "Baseline" && nps.length === 0) {
    out.push({ kind: "tenant-baseline", tenant: tenant.name, admitSet: b.tenantSet(tenant) });
  }
  // The baseline tier is reached only when no NetworkPolicy isolates the pod;
  // its rules' sets are made only then, so that every set is named by the
  // chains of some group (the incremental compiler counts sets per group).
  if (nps.length === 0) {
    const baseline = selecting.filter((p) => p.tier === "baseline").flatMap((p) => irRules(b, p, dir));
    if (baseline.length > 0) out.push({ kind: "baseline", rules: baseline });
  }
  return out;
}

/** A group's chain name: a hash of its sections (same sections, same chain). */
export function groupId(dir: Direction, sections: readonly IRSection[]): string {
  return `${dir === "ingress" ? "in" : "out"}-${hashText(JSON.stringify(sections), 10)}`;
}

/**
 * A local pod's entry: its veth, its addresses, and the groups of the
 * directions it has sections in (`ids`). The full and the incremental
 * compiler must build it alike, or their tables would differ.
 */
export function localPodEntry(pod: PodInfo, ids: Partial<Record<Direction, string>>): IRLocalPod {
  return {
    key: pod.key,
    iface: podVethName(pod.namespace, pod.name),
    ...(pod.ipv4 ? { ipv4: pod.ipv4 } : {}),
    ...(pod.ipv6 ? { ipv6: pod.ipv6 } : {}),
    ...(ids.ingress ? { ingressGroup: ids.ingress } : {}),
    ...(ids.egress ? { egressGroup: ids.egress } : {}),
  };
}

export function buildIR(c: Cluster, node: string): PolicyIR {
  const b = new Builder(c, node);
  const groups = new Map<string, IRGroup>();
  const pods: IRLocalPod[] = [];
  const local = c.pods
    .filter((p) => p.node === node && !p.hostNetwork)
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  for (const pod of local) {
    const ids: Partial<Record<Direction, string>> = {};
    for (const dir of ["ingress", "egress"] as const) {
      const sections = sectionsFor(b, pod, dir);
      if (sections.length === 0) continue;
      const id = groupId(dir, sections);
      if (!groups.has(id)) groups.set(id, { id, direction: dir, sections });
      ids[dir] = id;
    }
    pods.push(localPodEntry(pod, ids));
  }
  return {
    node,
    pods,
    groups: [...groups.values()].sort((x, y) => (x.id < y.id ? -1 : 1)),
    addressSets: b.addressSets,
    addressSets6: b.addressSets6,
    portSets: b.portSets,
    portSets6: b.portSets6,
    plainSets: b.plainSets,
    allPods: distinctRanges(b.podsWithIP.flatMap((p) => (p.ipv4 ? [single(p.ipv4)] : []))),
    allPods6: distinctRanges6(b.podsWithIP.flatMap((p) => (p.ipv6 ? [single6(p.ipv6)] : []))),
  };
}
