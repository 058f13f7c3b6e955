/** Small builders for cluster objects in tests (plain objects, as the API serves them). */
export type Doc = Record<string, unknown>;

export function namespace(name: string, labels: Record<string, string> = {}): Doc {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

export interface PodOpts {
  node?: string;
  ip?: string;
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
    status: o.ip ? { podIP: o.ip, podIPs: [{ ip: o.ip }] } : {},
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
