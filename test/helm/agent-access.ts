/**
 * What trellis-node calls on the API server, read from the agent's code: the
 * specification the chart's ClusterRole is checked against (no more, no less).
 * BGP kinds and the node status are being added on other branches; their
 * access is listed here as the issue gives it.
 */
export interface Access {
  group: string;
  resource: string;
  verbs: readonly string[];
}

export const AGENT_ACCESS: readonly Access[] = [
  // agent/node-agent.ts: pod informer; readNamespacedPod on CNI ADD
  { group: "", resource: "pods", verbs: ["get", "list", "watch"] },
  // agent/node-agent.ts and agent/policy/policy-service.ts: informers
  { group: "", resource: "namespaces", verbs: ["list", "watch"] },
  { group: "", resource: "nodes", verbs: ["list", "watch"] },
  // agent/policy/policy-inputs.ts
  { group: "networking.k8s.io", resource: "networkpolicies", verbs: ["list", "watch"] },
  { group: "policy.networking.k8s.io", resource: "adminnetworkpolicies", verbs: ["list", "watch"] },
  { group: "policy.networking.k8s.io", resource: "baselineadminnetworkpolicies", verbs: ["list", "watch"] },
  { group: "policy.networking.k8s.io", resource: "clusternetworkpolicies", verbs: ["list", "watch"] },
  // ... and agent/bgp/bgp-service.ts (tenant communities, with policy on or off)
  { group: "trellis.dev", resource: "tenants", verbs: ["list", "watch"] },
  // agent/node-agent.ts informers; agent/ipam/ipam-api.ts
  { group: "trellis.dev", resource: "ippools", verbs: ["list", "watch"] },
  {
    group: "trellis.dev",
    resource: "ipamblocks",
    verbs: ["get", "list", "watch", "create", "update", "delete"],
  },
  {
    group: "trellis.dev",
    resource: "blockaffinities",
    verbs: ["get", "list", "watch", "create", "update", "delete"],
  },
  // BGP (other branches): watched
  { group: "trellis.dev", resource: "bgpconfigurations", verbs: ["list", "watch"] },
  { group: "trellis.dev", resource: "bgppeers", verbs: ["list", "watch"] },
  { group: "trellis.dev", resource: "bgpfilters", verbs: ["list", "watch"] },
  // agent/k8s/service-informers.ts: Service advertisement (agent/bgp/service-routes.ts)
  { group: "", resource: "services", verbs: ["list", "watch"] },
  { group: "discovery.k8s.io", resource: "endpointslices", verbs: ["list", "watch"] },
  // agent/status/node-status-api.ts: get, create, set the Node owner (replace), and the status subresource (replace)
  { group: "trellis.dev", resource: "trellisnodestatuses", verbs: ["get", "create", "update"] },
  { group: "trellis.dev", resource: "trellisnodestatuses/status", verbs: ["update"] },
];

export const ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] as const;

/** Resources the agent must not touch at all, by API group (as an RBAC rule lists them). */
const FORBIDDEN_BY_GROUP: Readonly<Record<string, readonly string[]>> = {
  "": [
    "secrets",
    "configmaps",
    "serviceaccounts",
    "pods/exec",
    "pods/status",
    "nodes/status",
    // read to advertise Services, never written
    "services/status",
    "events",
  ],
  apps: ["daemonsets"],
  "rbac.authorization.k8s.io": ["clusterroles", "clusterrolebindings"],
  "apiextensions.k8s.io": ["customresourcedefinitions"],
  "coordination.k8s.io": ["leases"],
};

export const FORBIDDEN: readonly { group: string; resource: string }[] = Object.entries(
  FORBIDDEN_BY_GROUP,
).flatMap(([group, resources]) => resources.map((resource) => ({ group, resource })));
