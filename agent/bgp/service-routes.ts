/**
 * **Pure**: which Service addresses this node originates as /32 (IPv4) or
 * /128 (IPv6) routes, from the Services, their EndpointSlices
 * (discovery.k8s.io/v1) and the service CIDRs of the node's effective
 * BGPConfiguration (`serviceClusterIPs`, `serviceExternalIPs`,
 * `serviceLoadBalancerIPs`). desired-config.ts originates the CIDRs
 * themselves, from every node; this module adds the host routes.
 *
 * Rules (one test row each in test/service-routes.test.ts):
 * - The addresses of a Service, by kind: cluster IPs (`spec.clusterIPs`, else
 *   `spec.clusterIP`; `None` and empty are none), external IPs
 *   (`spec.externalIPs`) and load balancer IPs
 *   (`status.loadBalancer.ingress[].ip`; an ingress with only a `hostname`
 *   has no address). `type: ExternalName` has none.
 * - An address is eligible only inside a configured CIDR of its own kind:
 *   a cluster IP in `serviceClusterIPs`, an external IP in
 *   `serviceExternalIPs`, a load balancer IP in `serviceLoadBalancerIPs`.
 *   One outside every CIDR of its kind is never advertised, and is reported
 *   as a problem when that kind has CIDRs configured (an operator who
 *   configured none for a kind did not ask to advertise it: no noise for
 *   every cluster IP of the cluster).
 * - Traffic policy Cluster (the default): no host route. The configured
 *   CIDR, originated by every node, already covers the address, and the ToR
 *   spreads it over every node by ECMP (what Calico does); a /32 from every
 *   node would add one route per Service at every peer and nothing else.
 * - Traffic policy Local: the host route, from exactly the nodes that host at
 *   least one of the Service's endpoints that counts (below), so the longest
 *   match at the ToR sends the traffic only where kube-proxy delivers it
 *   without a second hop, preserving the client's source address. A node
 *   withdraws it when its last such endpoint goes; a Service with no such
 *   endpoint anywhere has no host route (its traffic follows the CIDR, as
 *   in Calico).
 * - Which policy: load balancer and external IPs follow
 *   `externalTrafficPolicy`; cluster IPs are Local when
 *   `externalTrafficPolicy` or `internalTrafficPolicy` is Local (Calico
 *   does so for cluster IPs). Calico also localises the external and load
 *   balancer IPs of a Service that is only `internalTrafficPolicy: Local`;
 *   we do not: that policy governs traffic to the cluster IP only
 *   (KEP-2086, "Service Internal Traffic Policy"), and kube-proxy forwards
 *   external traffic for such a Service from every node, so every node may
 *   keep drawing it.
 * - An endpoint counts when its `nodeName` is this node, its
 *   `conditions.ready` is not false (absent means ready: the EndpointSlice
 *   API, "ready ... nil should be interpreted as true") and its
 *   `conditions.terminating` is not true (a terminating pod takes no new
 *   connections). A slice belongs to the Service named by its label
 *   `kubernetes.io/service-name` in the same namespace.
 */
import type { BGPConfigurationSpec } from "../../crds/bgp.js";
import {
  comparePrefixes,
  contains,
  formatAddress,
  formatPrefix,
  hostPrefix,
  parseAddress,
  parsePrefix,
  type Prefix,
} from "../../net/address.js";

/** The label an EndpointSlice names its Service by (discovery.k8s.io/v1). */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";

export type ServiceAddressKind = "cluster" | "external" | "loadBalancer";

export interface ServiceFacts {
  namespace: string;
  name: string;
  clusterIPs: readonly string[];
  externalIPs: readonly string[];
  loadBalancerIPs: readonly string[];
  externalTrafficPolicy: "Cluster" | "Local";
  internalTrafficPolicy: "Cluster" | "Local";
}

export interface EndpointFacts {
  nodeName?: string;
  /** `conditions.ready`; absent = ready */
  ready?: boolean;
  /** `conditions.terminating`; absent = not terminating */
  terminating?: boolean;
}

export interface EndpointSliceFacts {
  namespace: string;
  /** the Service it belongs to (label kubernetes.io/service-name) */
  service: string;
  endpoints: readonly EndpointFacts[];
}

export interface ServiceCidrs {
  cluster: readonly string[];
  external: readonly string[];
  loadBalancer: readonly string[];
}

/** The watched Services and EndpointSlices, as facts (desired-config.ts `serviceObjects`). */
export interface ServiceObjects {
  services: readonly ServiceFacts[];
  slices: readonly EndpointSliceFacts[];
}

export interface ServiceRoutesInput extends ServiceObjects {
  nodeName: string;
  cidrs: ServiceCidrs;
}

export interface ServiceRoutesOutput {
  /** /32 and /128 prefixes this node originates, sorted, no duplicates */
  prefixes: string[];
  /** addresses left out, each with its reason (the caller logs each change once) */
  problems: string[];
}

const KIND_FIELD: Record<ServiceAddressKind, string> = {
  cluster: "serviceClusterIPs",
  external: "serviceExternalIPs",
  loadBalancer: "serviceLoadBalancerIPs",
};
const KIND_TEXT: Record<ServiceAddressKind, string> = {
  cluster: "cluster IP",
  external: "external IP",
  loadBalancer: "load balancer IP",
};

/** The three CIDR lists of an effective BGPConfiguration spec (desired-config.ts effectiveSettings). */
export function serviceCidrs(settings: BGPConfigurationSpec): ServiceCidrs {
  return {
    cluster: (settings.serviceClusterIPs ?? []).map((c) => c.cidr),
    external: (settings.serviceExternalIPs ?? []).map((c) => c.cidr),
    loadBalancer: (settings.serviceLoadBalancerIPs ?? []).map((c) => c.cidr),
  };
}

/** Whether the addresses of this kind follow Local for this Service (the module's rules). */
export function isLocal(s: ServiceFacts, kind: ServiceAddressKind): boolean {
  if (s.externalTrafficPolicy === "Local") return true;
  return kind === "cluster" && s.internalTrafficPolicy === "Local";
}

/** The keys `namespace/service` of the Services with an endpoint on this node that counts. */
export function servicesWithLocalEndpoints(
  slices: readonly EndpointSliceFacts[],
  nodeName: string,
): Set<string> {
  const out = new Set<string>();
  for (const sl of slices)
    if (sl.endpoints.some((e) => e.nodeName === nodeName && e.ready !== false && e.terminating !== true))
      out.add(`${sl.namespace}/${sl.service}`);
  return out;
}

export function serviceRoutes(input: ServiceRoutesInput): ServiceRoutesOutput {
  const problems: string[] = [];
  const cidrs = {} as Record<ServiceAddressKind, Prefix[]>;
  for (const kind of ["cluster", "external", "loadBalancer"] as const) {
    cidrs[kind] = [];
    for (const c of input.cidrs[kind]) {
      const p = parsePrefix(c);
      // The CRD schema validates these; a bad one only loses its own addresses.
      if (typeof p === "string") problems.push(`${KIND_FIELD[kind]} ${c}: ${p}`);
      else cidrs[kind].push(p);
    }
  }
  const local = servicesWithLocalEndpoints(input.slices, input.nodeName);
  const out = new Map<string, Prefix>();
  const services = [...input.services].sort((a, b) =>
    a.namespace !== b.namespace ? (a.namespace < b.namespace ? -1 : 1) : a.name < b.name ? -1 : 1,
  );
  for (const s of services) {
    const key = `${s.namespace}/${s.name}`;
    const byKind: [ServiceAddressKind, readonly string[]][] = [
      ["cluster", s.clusterIPs],
      ["external", s.externalIPs],
      ["loadBalancer", s.loadBalancerIPs],
    ];
    for (const [kind, addresses] of byKind) {
      const inside = cidrs[kind];
      for (const text of addresses) {
        const a = parseAddress(text);
        if (typeof a === "string") {
          problems.push(`Service ${key}: ${KIND_TEXT[kind]} ${a}; not advertised`);
          continue;
        }
        if (!inside.some((c) => contains(c, a))) {
          if (inside.length > 0)
            problems.push(
              `Service ${key}: ${KIND_TEXT[kind]} ${formatAddress(a)} is outside every ${KIND_FIELD[kind]} CIDR; not advertised`,
            );
          continue;
        }
        if (isLocal(s, kind) && local.has(key)) {
          const h = hostPrefix(a);
          out.set(formatPrefix(h), h);
        }
      }
    }
  }
  return { prefixes: [...out.values()].sort(comparePrefixes).map(formatPrefix), problems };
}

// ---- API objects → facts (zod-free on purpose: built-in kinds the API server validated)

interface ServiceLike {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalIPs?: string[];
    externalTrafficPolicy?: string;
    internalTrafficPolicy?: string;
  };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

/** A v1 Service as the facts above (ExternalName: no addresses). */
export function serviceFacts(o: ServiceLike): ServiceFacts {
  const spec = o.spec ?? {};
  const external = spec.type === "ExternalName";
  const clusterIPs = (spec.clusterIPs ?? (spec.clusterIP !== undefined ? [spec.clusterIP] : [])).filter(
    (ip) => ip !== "" && ip !== "None",
  );
  return {
    namespace: o.metadata?.namespace ?? "",
    name: o.metadata?.name ?? "",
    clusterIPs: external ? [] : clusterIPs,
    externalIPs: external ? [] : (spec.externalIPs ?? []),
    loadBalancerIPs: external
      ? []
      : (o.status?.loadBalancer?.ingress ?? []).flatMap((i) =>
          i.ip !== undefined && i.ip !== "" ? [i.ip] : [],
        ),
    externalTrafficPolicy: spec.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
    internalTrafficPolicy: spec.internalTrafficPolicy === "Local" ? "Local" : "Cluster",
  };
}

interface EndpointSliceLike {
  metadata?: { namespace?: string; labels?: Record<string, string> };
  endpoints?: { nodeName?: string; conditions?: { ready?: boolean; terminating?: boolean } }[];
}

/** A discovery.k8s.io/v1 EndpointSlice as the facts above; undefined without its Service label. */
export function endpointSliceFacts(o: EndpointSliceLike): EndpointSliceFacts | undefined {
  const service = o.metadata?.labels?.[LABEL_SERVICE_NAME];
  if (service === undefined || service === "") return undefined;
  return {
    namespace: o.metadata?.namespace ?? "",
    service,
    endpoints: (o.endpoints ?? []).map((e) => ({
      ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
      ...(e.conditions?.ready !== undefined ? { ready: e.conditions.ready } : {}),
      ...(e.conditions?.terminating !== undefined ? { terminating: e.conditions.terminating } : {}),
    })),
  };
}
