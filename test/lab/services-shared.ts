/**
 * What the two Services lab tests share (test/lab/services.test.ts on the
 * kubelet stand-in, test/lab/services-real-nodes.test.ts on the real kubelet
 * and containerd): the namespace, the backends' Deployment and NodePort
 * Service, the client pods, the two NetworkPolicies, and how replies are
 * read (the backends each answer with their own name). Only the containers
 * differ between the two: each test passes its own (a YAML flow sequence).
 */
import { kubectlJson } from "./lab-commands.js";
import { deploymentYaml } from "./lab-pods.js";
import { httpGetCommand } from "./pod-http.js";

export const NS = "svc";
export const NODE_PORT = 30080;
/** Requests per reachability check: both backends must answer among them. */
export const TRIES = 16;
/** Node i's uplink address is 198.18.0.(2i-1) (lab/address-plan.ts). */
export const NODE_UPLINK = {
  "node-1": "198.18.0.1",
  "node-2": "198.18.0.3",
  "node-3": "198.18.0.5",
} as const;

/**
 * The namespace, a Deployment of 2 backends (`app: web`, no nodeName: required
 * node affinity and anti-affinity make kube-scheduler put one on node-1 and
 * one on node-2), and a NodePort Service in front of them (80 → 8080).
 */
export function webYaml(containers: string, podSpecExtra = ""): string {
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
${deploymentYaml(
  NS,
  "web",
  2,
  `${podSpecExtra}      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1, node-2]}]
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {matchLabels: {app: web}}
              topologyKey: kubernetes.io/hostname
      containers: ${containers}
`,
)}---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: ${NODE_PORT}, protocol: TCP}]
`;
}

/** The client pods: labelled role=client or not, on node-3 (no backend) and on node-1 (a backend). */
export const CLIENTS = [
  { name: "client-3", node: "node-3", labelled: true },
  { name: "stranger-3", node: "node-3", labelled: false },
  { name: "client-1", node: "node-1", labelled: true },
  { name: "stranger-1", node: "node-1", labelled: false },
] as const;

/** Every client pod, each placed by the scheduler on its node (node affinity), as YAML documents. */
export function clientsYaml(containers: string, podSpecExtra = ""): string {
  return CLIENTS.map(
    (c) => `---
apiVersion: v1
kind: Pod
metadata: {name: ${c.name}, namespace: ${NS}${c.labelled ? ", labels: {role: client}" : ""}}
spec:
${podSpecExtra}  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${c.node}]}]
  containers: ${containers}
`,
  ).join("");
}

/** A NetworkPolicy selecting the backends for ingress; no `ingress` rule isolates them. */
const webPolicy = (name: string, ingress = ""): string => `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${NS}}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
${ingress}`;
export const ISOLATE = webPolicy("isolate-web");
/** Ports are the backend's (8080), not the Service's (80): the policy sees the packet after DNAT. */
export const ALLOW_CLIENTS = webPolicy(
  "allow-clients",
  "  ingress: [{from: [{podSelector: {matchLabels: {role: client}}}], ports: [{port: 8080, protocol: TCP}]}]\n",
);

/** The backends that answered, each once, sorted ("" for a failed try is kept: it shows). */
export const distinct = (replies: readonly string[]): string[] => [...new Set(replies)].sort();

/**
 * A sh script making `n` GETs of ip:port at once (background jobs), printing
 * one line per fetch: the reply's last line (the backend's name), or "-" when
 * it failed or got nothing within `waitS` seconds. For pods whose network
 * namespace the test cannot enter (containerd's are not under
 * /var/run/netns): run it with kubectl exec, a check then costs about one
 * timeout whatever its size.
 */
export function fetchScript(ip: string, port: number, n: number, waitS: number): string {
  return `for i in $(seq ${n}); do (r=$(${httpGetCommand(ip, port, waitS)} | tail -n 1); echo "\${r:--}") & done; wait`;
}

/** The replies in a fetchScript's output, one per fetch: the backend's name, "" for each that failed. */
export function replies(out: string): string[] {
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => (l === "-" ? "" : l));
}

/**
 * Who bound each pod of the namespace, from its Scheduled event (reported by
 * default-scheduler when kube-scheduler bound it; a pod created with a
 * nodeName has no such event).
 */
export async function scheduledBy(dir: string): Promise<Map<string, string>> {
  const ev = await kubectlJson<{
    items: {
      involvedObject: { name: string };
      reportingComponent?: string;
      source?: { component?: string };
    }[];
  }>(dir, "get", "events", "-n", NS, "--field-selector", "reason=Scheduled");
  return new Map(
    ev.items.map((e) => [e.involvedObject.name, e.reportingComponent ?? e.source?.component ?? ""]),
  );
}
