/** Small builders for cluster objects in tests (plain objects, as the API serves them). */
export type Doc = Record<string, unknown>;

export function namespace(name: string, labels: Record<string, string> = {}): Doc {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

export interface PodOpts {
  node?: string;
  ip?: string;
  /** status.podIPs of both families (dual-stack); `ip` is then the first. */
  ips?: string[];
  ports?: { name?: string; containerPort: number; protocol?: "TCP" | "UDP" | "SCTP" }[];
  hostNetwork?: boolean;
}

export function pod(ns: string, name: string, labels: Record<string, string>, o: PodOpts = {}): Doc {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels },
    spec: {
      ...(o.node ? { nodeName: o.node } : {}),
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: "c", ports: o.ports ?? [] }],
    },
    status: o.ips
      ? { podIP: o.ips[0], podIPs: o.ips.map((ip) => ({ ip })) }
      : o.ip
        ? { podIP: o.ip, podIPs: [{ ip: o.ip }] }
        : {},
  };
}

export function node(name: string, addresses: string[], labels: Record<string, string> = {}): Doc {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels },
    status: { addresses: addresses.map((address) => ({ type: "InternalIP", address })) },
  };
}

export function networkPolicy(
  ns: string,
  name: string,
  spec: Doc,
  annotations?: Record<string, string>,
): Doc {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
    spec,
  };
}

export function anp(name: string, spec: Doc): Doc {
  return {
    apiVersion: "policy.networking.k8s.io/v1alpha1",
    kind: "AdminNetworkPolicy",
    metadata: { name },
    spec,
  };
}

export function banp(spec: Doc): Doc {
  return {
    apiVersion: "policy.networking.k8s.io/v1alpha1",
    kind: "BaselineAdminNetworkPolicy",
    metadata: { name: "default" },
    spec,
  };
}

export function cnp(name: string, spec: Doc, version: "v1beta1" | "v1alpha2" = "v1beta1"): Doc {
  return {
    apiVersion: `policy.networking.k8s.io/${version}`,
    kind: "ClusterNetworkPolicy",
    metadata: { name },
    spec,
  };
}

export function tenant(name: string, spec: Doc): Doc {
  return { apiVersion: "trellis.dev/v1alpha1", kind: "Tenant", metadata: { name }, spec };
}
