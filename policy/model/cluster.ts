/**
 * The normalized policy model that both the evaluator and the compiler read.
 * Every policy kind (NetworkPolicy, AdminNetworkPolicy,
 * BaselineAdminNetworkPolicy, ClusterNetworkPolicy) becomes a `Policy` in a
 * tier with ordered `Rule`s whose peers and ports are already validated.
 */
import type { LabelSelector, Labels } from "./label-selector.js";
import type { Protocol } from "./objects.js";
import type { Range } from "./ipv4.js";
import type { Range6 } from "./ipv6.js";
import type { TenantIsolation } from "../../crds/tenant.js";

export interface PodPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  /** `namespace/name` */
  readonly key: string;
  readonly labels: Labels;
  readonly node?: string;
  readonly hostNetwork: boolean;
  /** The pod's IPv4 address (status.podIPs); hostNetwork pods carry the node's. */
  readonly ipv4?: string;
  /** The pod's IPv6 address (status.podIPs, dual-stack), in RFC 5952 form. */
  readonly ipv6?: string;
  readonly ips: readonly string[];
  readonly ports: readonly PodPort[];
}

export interface NamespaceInfo {
  readonly name: string;
  /** With `kubernetes.io/metadata.name` set, as the API server does. */
  readonly labels: Labels;
}

export interface NodeInfo {
  readonly name: string;
  readonly labels: Labels;
  readonly addresses: readonly string[];
}

/** Which namespaces a pod peer/subject reaches into. */
export type NamespaceMatch =
  | { readonly kind: "same"; readonly namespace: string }
  | { readonly kind: "selector"; readonly selector: LabelSelector };

export type Peer =
  | { readonly kind: "pods"; readonly namespaces: NamespaceMatch; readonly pods: LabelSelector }
  | {
      readonly kind: "ipBlock";
      readonly cidr: string;
      readonly except: readonly string[];
      /** The block minus its excepts, per family (one of the two is empty). */
      readonly ranges: readonly Range[];
      readonly ranges6: readonly Range6[];
    }
  | { readonly kind: "nodes"; readonly selector: LabelSelector }
  | {
      readonly kind: "networks";
      readonly cidrs: readonly string[];
      readonly ranges: readonly Range[];
      readonly ranges6: readonly Range6[];
    };

/**
 * One port clause. `protocol` undefined only for a named port of the admin
 * APIs (the container port's own protocol then applies).
 */
export interface PortMatch {
  readonly protocol?: Protocol;
  readonly port?: number;
  readonly endPort?: number;
  readonly name?: string;
}

export type Action = "Allow" | "Deny" | "Pass";
export type Tier = "admin" | "networkpolicy" | "baseline";
export type Direction = "ingress" | "egress";

export interface Rule {
  /** Index in its direction's list, and the user's rule name if any. */
  readonly index: number;
  readonly name?: string;
  readonly action: Action;
  /** null: every peer (a NetworkPolicy rule without from/to). */
  readonly peers: readonly Peer[] | null;
  /** null: every port and protocol. */
  readonly ports: readonly PortMatch[] | null;
}

export interface Policy {
  readonly tier: Tier;
  readonly kind:
    "NetworkPolicy" | "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" | "ClusterNetworkPolicy";
  /** `NetworkPolicy x/name`, `AdminNetworkPolicy name`, … (unique, stable). */
  readonly id: string;
  readonly name: string;
  readonly namespace?: string;
  readonly priority: number;
  readonly subject: { readonly namespaces: NamespaceMatch; readonly pods: LabelSelector };
  /** null: this policy does not affect that direction. */
  readonly ingress: readonly Rule[] | null;
  readonly egress: readonly Rule[] | null;
  readonly log: boolean;
}

export interface TenantInfo {
  readonly name: string;
  readonly isolation: TenantIsolation;
  readonly namespaceSelector: LabelSelector;
  readonly allowTenants: readonly string[];
  readonly allowNamespaces: readonly string[];
  readonly allowNamespaceSelector?: LabelSelector;
}

export interface Warning {
  readonly object: string;
  readonly field: string;
  readonly message: string;
}

export interface Cluster {
  readonly namespaces: ReadonlyMap<string, NamespaceInfo>;
  readonly pods: readonly PodInfo[];
  readonly nodes: readonly NodeInfo[];
  /** Sorted: admin by (priority, name), then NetworkPolicies, then baseline. */
  readonly policies: readonly Policy[];
  readonly tenants: readonly TenantInfo[];
  /** namespace name -> its tenant (first by name when several select it). */
  readonly tenantOf: ReadonlyMap<string, TenantInfo>;
  readonly warnings: readonly Warning[];
}
