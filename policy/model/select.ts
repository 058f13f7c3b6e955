/**
 * Which pods, nodes and addresses a subject or peer selects. Shared by the
 * evaluator and the compiler so both read selectors the same way.
 */
import { selectorObjectMatches } from "../../net/label-selector.js";
import type { Cluster, NamespaceMatch, Peer, PodInfo, Policy, TenantInfo } from "./cluster.js";
import { contains, isIPv6, v4Value } from "./ipv4.js";
import { contains6, v6Value } from "./ipv6.js";

export function namespaceMatches(c: Cluster, m: NamespaceMatch, namespace: string): boolean {
  if (m.kind === "same") return m.namespace === namespace;
  const ns = c.namespaces.get(namespace);
  // A pod whose Namespace object is absent still has the default label.
  const labels = ns?.labels ?? { "kubernetes.io/metadata.name": namespace };
  return selectorObjectMatches(m.selector, labels);
}

/**
 * Subjects: host-network pods are never subjects (they are their node; the
 * network-policy-api says so for ANP/CNP and we read NetworkPolicy the same).
 */
export function subjectSelects(c: Cluster, p: Policy, pod: PodInfo): boolean {
  if (pod.hostNetwork) return false;
  return (
    namespaceMatches(c, p.subject.namespaces, pod.namespace) &&
    selectorObjectMatches(p.subject.pods, pod.labels)
  );
}

/** Does a pod-kind peer select this pod? Host-network pods never (they are matched by IP). */
export function peerSelectsPod(c: Cluster, peer: Peer, pod: PodInfo): boolean {
  if (peer.kind !== "pods" || pod.hostNetwork) return false;
  return namespaceMatches(c, peer.namespaces, pod.namespace) && selectorObjectMatches(peer.pods, pod.labels);
}

/** An address family, named as nft's `meta nfproto` names it. */
export type Family = "ipv4" | "ipv6";

export function familyOf(ip: string): Family {
  return isIPv6(ip) ? "ipv6" : "ipv4";
}

/** The addresses of the nodes a nodes-peer selects, as `value` reads them (undefined: another family). */
function nodeAddressesOf<T>(c: Cluster, peer: Peer, value: (address: string) => T | undefined): T[] {
  if (peer.kind !== "nodes") return [];
  const out: T[] = [];
  for (const n of c.nodes) {
    if (!selectorObjectMatches(peer.selector, n.labels)) continue;
    for (const a of n.addresses) {
      const v = value(a);
      if (v !== undefined) out.push(v);
    }
  }
  return out;
}

/** The IPv4 addresses of the nodes a nodes-peer selects. */
export function nodeAddresses(c: Cluster, peer: Peer): number[] {
  return nodeAddressesOf(c, peer, (a) => (isIPv6(a) ? undefined : v4Value(a)));
}

/** The IPv6 addresses of the nodes a nodes-peer selects. */
export function nodeAddresses6(c: Cluster, peer: Peer): bigint[] {
  return nodeAddressesOf(c, peer, (a) => (isIPv6(a) ? v6Value(a) : undefined));
}

/**
 * The remote end of a connection, as the evaluator sees it. A pod named by
 * one of its addresses keeps it (`address`), so the connection's family
 * follows it.
 */
export type Endpoint =
  | { readonly kind: "pod"; readonly pod: PodInfo; readonly address?: string }
  | { readonly kind: "ip"; readonly ip: string };

/** The endpoint's address in a family: a pod's address of that family, or the literal address if it is of it. */
export function endpointAddress(e: Endpoint, family: Family): string | undefined {
  if (e.kind === "pod") return family === "ipv4" ? e.pod.ipv4 : e.pod.ipv6;
  return familyOf(e.ip) === family ? e.ip : undefined;
}

export function endpointIPv4(e: Endpoint): number | undefined {
  const ip = endpointAddress(e, "ipv4");
  return ip === undefined ? undefined : v4Value(ip);
}

export function endpointIPv6(e: Endpoint): bigint | undefined {
  const ip = endpointAddress(e, "ipv6");
  return ip === undefined ? undefined : v6Value(ip);
}

/**
 * Does a peer match this endpoint, for a connection of this family? Pods by
 * selector (whatever the family), everything else by the endpoint's address
 * of that family: an IPv4 ipBlock never matches IPv6 traffic and vice versa.
 */
export function peerMatches(c: Cluster, peer: Peer, e: Endpoint, family: Family = "ipv4"): boolean {
  if (peer.kind === "pods") return e.kind === "pod" && peerSelectsPod(c, peer, e.pod);
  if (family === "ipv6") {
    const ip = endpointIPv6(e);
    if (ip === undefined) return false;
    if (peer.kind === "ipBlock" || peer.kind === "networks")
      return peer.ranges6.some((r) => contains6(r, ip));
    return nodeAddresses6(c, peer).includes(ip);
  }
  const ip = endpointIPv4(e);
  if (ip === undefined) return false;
  if (peer.kind === "ipBlock" || peer.kind === "networks") return peer.ranges.some((r) => contains(r, ip));
  return nodeAddresses(c, peer).includes(ip);
}

/** A tenant's own namespaces plus what its allow list admits. */
export function tenantAdmits(c: Cluster, t: TenantInfo, namespace: string): boolean {
  const other = c.tenantOf.get(namespace);
  if (other?.name === t.name) return true;
  if (other && t.allowTenants.includes(other.name)) return true;
  if (t.allowNamespaces.includes(namespace)) return true;
  if (t.allowNamespaceSelector) {
    const labels = c.namespaces.get(namespace)?.labels ?? { "kubernetes.io/metadata.name": namespace };
    if (selectorObjectMatches(t.allowNamespaceSelector, labels)) return true;
  }
  return false;
}

// Pods by namespace, built once per Cluster: selecting a namespace first
// keeps "which pods does this select" proportional to the pods it can match.
const byNamespace = new WeakMap<Cluster, Map<string, PodInfo[]>>();

function namespaceIndex(c: Cluster): Map<string, PodInfo[]> {
  let idx = byNamespace.get(c);
  if (!idx) {
    idx = new Map();
    for (const p of c.pods) {
      const list = idx.get(p.namespace);
      if (list) list.push(p);
      else idx.set(p.namespace, [p]);
    }
    byNamespace.set(c, idx);
  }
  return idx;
}

/** Every pod in the namespaces a NamespaceMatch selects. */
export function podsInNamespaces(c: Cluster, m: NamespaceMatch): PodInfo[] {
  const idx = namespaceIndex(c);
  if (m.kind === "same") return idx.get(m.namespace) ?? [];
  const out: PodInfo[] = [];
  for (const [ns, pods] of idx) if (namespaceMatches(c, m, ns)) out.push(...pods);
  return out;
}

/** The pods a policy's subject selects. */
export function subjectPods(c: Cluster, p: Policy): PodInfo[] {
  return podsInNamespaces(c, p.subject.namespaces).filter((pod) => subjectSelects(c, p, pod));
}

/** The pods a pod-kind peer selects (empty for address peers). */
export function peerPods(c: Cluster, peer: Peer): PodInfo[] {
  if (peer.kind !== "pods") return [];
  return podsInNamespaces(c, peer.namespaces).filter((pod) => peerSelectsPod(c, peer, pod));
}
