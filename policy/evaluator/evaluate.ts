/**
 * The reference evaluator: "may A reach B on port P/protocol?", from the same
 * normalized inputs as the compiler, with the deciding tier, policy and rule.
 * It is the oracle the compiled nftables must agree with (tests probe real
 * connections and compare).
 *
 * A connection needs the source's egress and the destination's ingress to
 * allow it (NetworkPolicy: "for a connection from a source pod to a
 * destination pod to be allowed, both the egress policy on the source pod and
 * the ingress policy on the destination pod need to allow the connection").
 * Each direction walks the tiers in order (policy/README.md):
 *   Admin tier -> Tenant Strict -> NetworkPolicy -> Tenant Baseline -> Baseline tier -> default allow.
 */
import type { Cluster, Direction, PodInfo, Policy, Rule } from "../model/cluster.js";
import {
  endpointAddress,
  endpointIPv4,
  familyOf,
  peerMatches,
  subjectSelects,
  tenantAdmits,
  type Endpoint,
  type Family,
} from "../model/select.js";
import { isIPv6, v4Value } from "../model/ipv4.js";
import { v6Text, v6Value } from "../model/ipv6.js";
import { portsMatch, type ConnProtocol } from "./port-match.js";

export type DecidingTier =
  | "admin"
  | "tenant-strict"
  | "networkpolicy"
  | "tenant-baseline"
  | "baseline"
  | "default"
  | "node-local"
  | "loopback"
  | "not-applicable";

export interface DirectionVerdict {
  readonly direction: Direction;
  /** The pod whose policy this is (egress: the source, ingress: the destination). */
  readonly pod: string;
  readonly allowed: boolean;
  readonly tier: DecidingTier;
  readonly policy?: string;
  readonly rule?: string;
  readonly reason: string;
}

export interface Verdict {
  readonly allowed: boolean;
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: ConnProtocol;
  readonly family: Family;
  /** Egress of the source (absent when the source is not a pod). */
  readonly egress?: DirectionVerdict;
  /** Ingress of the destination (absent when the destination is not a pod). */
  readonly ingress?: DirectionVerdict;
  /** The verdict that decided: the first denial, else the ingress one. */
  readonly decidedBy?: DirectionVerdict;
}

export interface Connection {
  readonly from: Endpoint;
  readonly to: Endpoint;
  /** Ignored for ICMP (no ports). */
  readonly port: number;
  /**
   * TCP/UDP/SCTP, or ICMP (echo: ICMP for IPv4, ICMPv6 for IPv6), which
   * NetworkPolicy ports cannot name: only a rule without ports admits it.
   */
  readonly protocol: ConnProtocol;
  /**
   * The address family; default: that of an address endpoint, else IPv4. A
   * pod takes part with its address of that family (status.podIPs).
   */
  readonly family?: Family;
}

/** The connection's family: explicit, else that of an endpoint given by address, else IPv4. */
export function connectionFamily(conn: Connection): Family {
  if (conn.family) return conn.family;
  const addr = (e: Endpoint) => (e.kind === "ip" ? e.ip : e.address);
  const ip = addr(conn.from) ?? addr(conn.to);
  return ip === undefined ? "ipv4" : familyOf(ip);
}

function endpointName(e: Endpoint): string {
  return e.kind === "pod" ? e.pod.key : e.ip;
}

function ruleName(dir: Direction, r: Rule): string {
  return `${dir}[${r.index}]${r.name ? ` (${r.name})` : ""}`;
}

/** Does this rule match the remote endpoint and the port? */
function ruleMatches(
  c: Cluster,
  dir: Direction,
  r: Rule,
  self: PodInfo,
  remote: Endpoint,
  port: number,
  proto: ConnProtocol,
  family: Family,
): boolean {
  const dest = dir === "ingress" ? self : remote.kind === "pod" ? remote.pod : undefined;
  // "If this field is empty or missing, this rule matches all sources"; the
  // peers of a rule are ORed, each peer's selectors ANDed (select.ts).
  const peerOk = r.peers === null || r.peers.some((p) => peerMatches(c, p, remote, family));
  return peerOk && portsMatch(r.ports, port, proto, dest);
}

function isNodeLocal(c: Cluster, self: PodInfo, remote: Endpoint): boolean {
  // "traffic to and from the node where a Pod is running is always allowed,
  // regardless of the IP address of the Pod or the node" (NetworkPolicy docs,
  // What you can't do / Pod lifecycle). Host-network pods are their node.
  // Node addresses of either family count (a dual-stack node has both).
  if (self.node === undefined) return false;
  if (remote.kind === "pod") return remote.pod.hostNetwork && remote.pod.node === self.node;
  const node = c.nodes.find((n) => n.name === self.node);
  if (node === undefined) return false;
  if (isIPv6(remote.ip)) {
    const ip = v6Value(remote.ip);
    return ip !== undefined && node.addresses.some((a) => isIPv6(a) && v6Value(a) === ip);
  }
  const ip = v4Value(remote.ip);
  return ip !== undefined && node.addresses.some((a) => !isIPv6(a) && v4Value(a) === ip);
}

/** Admin or baseline tier: policies in precedence order, rules in order, first match wins. */
function clusterTier(
  c: Cluster,
  policies: readonly Policy[],
  dir: Direction,
  self: PodInfo,
  remote: Endpoint,
  port: number,
  proto: ConnProtocol,
  family: Family,
): { action: "Allow" | "Deny" | "Pass"; policy: Policy; rule: Rule } | undefined {
  for (const p of policies) {
    const rules = p[dir];
    if (rules === null || !subjectSelects(c, p, self)) continue;
    for (const r of rules) {
      if (ruleMatches(c, dir, r, self, remote, port, proto, family))
        return { action: r.action, policy: p, rule: r };
    }
  }
  return undefined;
}

function tenantDenies(
  c: Cluster,
  self: PodInfo,
  remote: Endpoint,
  isolation: "Strict" | "Baseline",
): string | undefined {
  const t = c.tenantOf.get(self.namespace);
  if (!t || t.isolation !== isolation) return undefined;
  // Tenants isolate pods from pods: addresses outside the cluster's pods and
  // host-network pods (their node) are not across a tenant boundary.
  if (remote.kind !== "pod" || remote.pod.hostNetwork) return undefined;
  if (tenantAdmits(c, t, remote.pod.namespace)) return undefined;
  return t.name;
}

/** One direction of one pod: the tier walk. */
export function evaluateDirection(
  c: Cluster,
  dir: Direction,
  self: PodInfo,
  remote: Endpoint,
  port: number,
  proto: ConnProtocol,
  family: Family = "ipv4",
): DirectionVerdict {
  const base = { direction: dir, pod: self.key };
  /** The first rule of the admin or baseline tier that matches (clusterTier). */
  const tierMatch = (tier: "admin" | "baseline") => {
    const policies = c.policies.filter((p) => p.tier === tier);
    return clusterTier(c, policies, dir, self, remote, port, proto, family);
  };
  /** That tier's verdict for a match that Allows or Denies. */
  const tierVerdict = (
    tier: "admin" | "baseline",
    m: NonNullable<ReturnType<typeof tierMatch>>,
  ): DirectionVerdict => ({
    ...base,
    allowed: m.action === "Allow",
    tier,
    policy: m.policy.id,
    rule: ruleName(dir, m.rule),
    reason: `${tier} tier ${m.action === "Allow" ? "allows" : "denies"}`,
  });
  /** The denial of a tenant boundary of this isolation the connection crosses, if any. */
  const tenantVerdict = (isolation: "Strict" | "Baseline", reason: string): DirectionVerdict | undefined => {
    const tenant = tenantDenies(c, self, remote, isolation);
    if (!tenant) return undefined;
    const tier = isolation === "Strict" ? "tenant-strict" : "tenant-baseline";
    return { ...base, allowed: false, tier, policy: `Tenant ${tenant}`, reason };
  };
  if (self.hostNetwork) {
    return {
      ...base,
      allowed: true,
      tier: "not-applicable",
      reason: "host-network pods are their node: no pod policy applies",
    };
  }
  if (isNodeLocal(c, self, remote)) {
    return {
      ...base,
      allowed: true,
      tier: "node-local",
      reason: "traffic from/to the pod's own node is always allowed",
    };
  }
  const a = tierMatch("admin");
  if (a && a.action !== "Pass") return tierVerdict("admin", a);
  const strict = tenantVerdict("Strict", "crosses a Strict tenant boundary");
  if (strict) return strict;
  // NetworkPolicy: "a pod is isolated for ingress if there is any
  // NetworkPolicy that both selects the pod and has "Ingress" in its
  // policyTypes" ... "the connections allowed are the union of what each
  // applicable policy allows" (order of evaluation does not matter).
  const nps = c.policies.filter(
    (p) => p.tier === "networkpolicy" && p[dir] !== null && subjectSelects(c, p, self),
  );
  if (nps.length > 0) {
    for (const p of nps) {
      for (const r of p[dir] ?? []) {
        if (ruleMatches(c, dir, r, self, remote, port, proto, family)) {
          return {
            ...base,
            allowed: true,
            tier: "networkpolicy",
            policy: p.id,
            rule: ruleName(dir, r),
            reason: "allowed by a NetworkPolicy rule",
          };
        }
      }
    }
    return {
      ...base,
      allowed: false,
      tier: "networkpolicy",
      policy: nps.map((p) => p.id).join(", "),
      reason: `isolated for ${dir} by ${nps.length} NetworkPolicy(s), none allows it`,
    };
  }
  const baselineTenant = tenantVerdict(
    "Baseline",
    "crosses a Baseline tenant boundary and no NetworkPolicy selects the pod",
  );
  if (baselineTenant) return baselineTenant;
  const b = tierMatch("baseline");
  if (b && b.action !== "Pass") return tierVerdict("baseline", b);
  return {
    ...base,
    allowed: true,
    tier: "default",
    reason: a?.action === "Pass" ? "passed by the admin tier; nothing else applies" : "no policy applies",
  };
}

export function evaluate(c: Cluster, conn: Connection): Verdict {
  const family = connectionFamily(conn);
  const head = {
    from: endpointName(conn.from),
    to: endpointName(conn.to),
    port: conn.port,
    protocol: conn.protocol,
    family,
  };
  if (conn.from.kind === "pod" && conn.to.kind === "pod" && conn.from.pod.key === conn.to.pod.key) {
    // A pod talking to itself stays inside its own network namespace.
    const v: DirectionVerdict = {
      direction: "ingress",
      pod: conn.to.pod.key,
      allowed: true,
      tier: "loopback",
      reason: "a pod reaching itself never leaves it",
    };
    return { ...head, allowed: true, decidedBy: v };
  }
  const egress =
    conn.from.kind === "pod"
      ? evaluateDirection(c, "egress", conn.from.pod, conn.to, conn.port, conn.protocol, family)
      : undefined;
  const ingress =
    conn.to.kind === "pod"
      ? evaluateDirection(c, "ingress", conn.to.pod, conn.from, conn.port, conn.protocol, family)
      : undefined;
  const allowed = (egress?.allowed ?? true) && (ingress?.allowed ?? true);
  const decidedBy =
    egress && !egress.allowed ? egress : ingress && !ingress.allowed ? ingress : (ingress ?? egress);
  return {
    ...head,
    allowed,
    ...(egress ? { egress } : {}),
    ...(ingress ? { ingress } : {}),
    ...(decidedBy ? { decidedBy } : {}),
  };
}

/** Resolves `ns/pod` or an IP address (either family) to an endpoint. */
export function resolveEndpoint(c: Cluster, ref: string): Endpoint | undefined {
  if (v4Value(ref) !== undefined) {
    const pod = c.pods.find((p) => p.ipv4 === ref && !p.hostNetwork);
    return pod ? { kind: "pod", pod, address: ref } : { kind: "ip", ip: ref };
  }
  const v6 = isIPv6(ref) ? v6Value(ref) : undefined;
  if (v6 !== undefined) {
    const ip = v6Text(v6);
    const pod = c.pods.find((p) => p.ipv6 === ip && !p.hostNetwork);
    return pod ? { kind: "pod", pod, address: ip } : { kind: "ip", ip };
  }
  const pod = c.pods.find((p) => p.key === ref);
  return pod ? { kind: "pod", pod } : undefined;
}

export { endpointIPv4, endpointAddress };
