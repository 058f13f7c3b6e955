/**
 * What the agent watches for policy, and how a watched object becomes a
 * compiler input (policy/README.md "Inputs for an agent": parse each changed
 * object once, build and compile per sync). Pure: no I/O, no clock.
 */
import { PolicyInputError, parseObject, type ParsedObject } from "../../policy/model/load.js";

export interface WatchedKind {
  readonly kind: string;
  readonly apiVersion: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** A CRD that may not be installed: absent means empty (never an error). */
  readonly optional: boolean;
}

/** Every kind the compiler reads (policy/model/objects.ts, crds/tenant.ts). */
export const POLICY_KINDS: readonly WatchedKind[] = [
  {
    kind: "NetworkPolicy",
    apiVersion: "networking.k8s.io/v1",
    group: "networking.k8s.io",
    version: "v1",
    plural: "networkpolicies",
    namespaced: true,
    optional: false,
  },
  {
    kind: "AdminNetworkPolicy",
    apiVersion: "policy.networking.k8s.io/v1alpha1",
    group: "policy.networking.k8s.io",
    version: "v1alpha1",
    plural: "adminnetworkpolicies",
    namespaced: false,
    optional: true,
  },
  {
    kind: "BaselineAdminNetworkPolicy",
    apiVersion: "policy.networking.k8s.io/v1alpha1",
    group: "policy.networking.k8s.io",
    version: "v1alpha1",
    plural: "baselineadminnetworkpolicies",
    namespaced: false,
    optional: true,
  },
  {
    kind: "ClusterNetworkPolicy",
    apiVersion: "policy.networking.k8s.io/v1beta1",
    group: "policy.networking.k8s.io",
    version: "v1beta1",
    plural: "clusternetworkpolicies",
    namespaced: false,
    optional: true,
  },
  {
    kind: "Tenant",
    apiVersion: "trellis.dev/v1alpha1",
    group: "trellis.dev",
    version: "v1alpha1",
    plural: "tenants",
    namespaced: false,
    optional: true,
  },
];

/** Core kinds the compiler reads (served by every API server). */
export const CORE_KINDS = ["Pod", "Namespace", "Node"] as const;

export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const md = obj.metadata ?? {};
  return md.namespace !== undefined && md.namespace !== "" ? `${md.namespace}/${md.name}` : (md.name ?? "");
}

/**
 * A watched object as compiler input. List items come without `kind` and
 * `apiVersion` (the API server puts them on the list only), so both are set
 * from what was watched. Throws PolicyInputError naming object and field.
 */
export function parseWatched(kind: string, apiVersion: string, obj: object): ParsedObject {
  return parseObject({ ...(obj as Record<string, unknown>), kind, apiVersion });
}

/** The addresses and identity of a pod this agent attached (from the CNI ADD's IPAM result). */
export interface LocalAttachment {
  readonly namespace: string;
  readonly pod: string;
  readonly ips: readonly string[];
  /**
   * The CNI attachment (`<containerID>.<ifname>`) that made it. A pod
   * recreated under its old name has a new sandbox whose ADD may come
   * before the old sandbox's DEL: that DEL must not take the new attachment.
   */
  readonly owner?: string;
  /** metadata.uid of the pod (K8S_POD_UID), when the runtime gave it. */
  readonly podUid?: string;
  /**
   * The pod object when the informer had not seen it yet at ADD (read from
   * the API by the caller), already parsed.
   */
  readonly podObject?: ParsedObject;
}

interface PodData {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> | null };
  spec: { nodeName?: string; hostNetwork?: boolean; containers: unknown[] };
  status?: { podIP?: string; podIPs?: { ip: string }[] | null } | null;
}

function withAddresses(p: ParsedObject, node: string, ips: readonly string[]): ParsedObject {
  const d = p.data as PodData;
  const data: PodData = {
    ...d,
    spec: { ...d.spec, nodeName: node },
    status: { ...(d.status ?? {}), podIPs: ips.map((ip) => ({ ip })) },
  };
  if (ips[0] !== undefined) (data.status as { podIP?: string }).podIP = ips[0];
  return { ...p, data };
}

/**
 * A local attachment without a pod object: a CNI ADD without Kubernetes
 * args (podman, plain CNI). Its host veth is sha1(`<containerID>.<ifname>`)
 * (docs/architecture.md), which is what the compiler's veth name gives for a pod
 * `<ifname>` in a pseudo-namespace `<containerID>`: so it is compiled as
 * that pod, with no labels. It gets anti-spoofing and a known veth; no
 * NetworkPolicy names its namespace, so only cluster-wide selectors can
 * select it.
 */
export function syntheticPod(a: LocalAttachment, node: string): ParsedObject {
  const doc = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: a.pod, namespace: a.namespace },
    spec: { nodeName: node, containers: [] },
    status: { podIPs: a.ips.map((ip) => ({ ip })), ...(a.ips[0] ? { podIP: a.ips[0] } : {}) },
  };
  // Made here of what the CNI layer validated (a container ID and an
  // interface name, IPAM's addresses): already what the Pod schema's parse
  // returns (a test compares the two), which cost about 0.2 ms of every
  // such ADD. An empty name would not be one: the parse says so.
  if (a.pod === "" || a.namespace === "") return parseObject(doc);
  return { kind: "Pod", name: `Pod ${a.namespace}/${a.pod}`, data: doc };
}

/**
 * The compiler's input: the watched objects, with this node's attachments
 * laid over their pods. The kubelet writes `status.podIPs` only after ADD
 * returns, so the IPAM result is what puts a new pod's address into the
 * anti-spoofing set before its ADD returns (docs/architecture.md: fail closed).
 */
export function compilerInputs(
  watched: Iterable<ParsedObject>,
  attachments: ReadonlyMap<string, LocalAttachment>,
  node: string,
): ParsedObject[] {
  const out: ParsedObject[] = [];
  const covered = new Set<string>();
  for (const o of watched) {
    if (o.kind === "Pod") {
      const d = o.data as PodData;
      const key = `${d.metadata.namespace ?? "default"}/${d.metadata.name}`;
      const a = attachments.get(key);
      if (a !== undefined) {
        covered.add(key);
        out.push(withAddresses(o, node, a.ips));
        continue;
      }
    }
    out.push(o);
  }
  for (const [key, a] of attachments) {
    if (covered.has(key)) continue;
    out.push(a.podObject !== undefined ? withAddresses(a.podObject, node, a.ips) : syntheticPod(a, node));
  }
  return out;
}

/**
 * The compiler input of one pod key, as compilerInputs gives it: the
 * watched pod (validated, or undefined when absent or rejected) with this
 * node's attachment laid over it; an attachment alone is its pod object or
 * the synthetic pod; neither: no pod.
 */
export function podInput(
  watched: ParsedObject | undefined,
  a: LocalAttachment | undefined,
  node: string,
): ParsedObject | undefined {
  if (a === undefined) return watched;
  if (watched !== undefined) return withAddresses(watched, node, a.ips);
  return a.podObject !== undefined ? withAddresses(a.podObject, node, a.ips) : syntheticPod(a, node);
}

export { PolicyInputError };
