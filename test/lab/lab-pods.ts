/**
 * A lab's pods through kubectl: the YAML of the pods and Deployments the
 * suites apply, the fields of a Pod they read, bounded waits until pods run
 * with their addresses, and where those addresses come from. What the
 * real-node suites (real-nodes, policy-real-nodes, services-real-nodes,
 * chart-nodes) and the stand-in suites share.
 */
import { labLayout } from "../../lab/lab-layout.js";
import { readLabState } from "../../lab/lab-state.js";
import { contains, parseAddress, parsePrefix } from "../../net/address.js";
import { until } from "../support/until.js";
import { kubectlApply, kubectlJson, must, type Run } from "./lab-commands.js";

/** The fields of a Pod (kubectl get -o json) the lab suites read. */
export interface LabPod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string }[];
  };
  spec: { nodeName?: string; hostNetwork?: boolean; containers: { name: string; image: string }[] };
  status: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; containerID?: string; restartCount: number }[];
  };
}

/** A Pod bound to `node` with one busybox container listening on 8080, as one YAML document. */
export function busyboxPod(namespace: string, name: string, node: string, app?: string): string {
  const labels = app !== undefined ? `, labels: {app: ${app}}` : "";
  return `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}${labels}}
spec:
  nodeName: ${node}
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
`;
}

/**
 * A Deployment of `replicas` pods labelled `app: NAME`, as one YAML document;
 * `podSpec` is the pod template's spec (its lines indented by 6 spaces).
 */
export function deploymentYaml(namespace: string, name: string, replicas: number, podSpec: string): string {
  return `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${podSpec}`;
}

/** The pods `kubectl get pods ARGS` lists (ARGS: `-n NS`, `-l SELECTOR`, `-A`). */
export async function getPods(dir: string, ...args: string[]): Promise<LabPod[]> {
  return (await kubectlJson<{ items: LabPod[] }>(dir, "get", "pods", ...args)).items;
}

/** Running, not being deleted, with both addresses (each lab node has an IPv4 and an IPv6 pool). */
export const runningWithAddresses = (p: LabPod): boolean =>
  p.status.phase === "Running" &&
  p.metadata.deletionTimestamp === undefined &&
  (p.status.podIPs?.length ?? 0) === 2;

/**
 * Waits (bounded) until `kubectl get pods ARGS` lists exactly `n` pods, every
 * one Running with both addresses, and returns them.
 */
export function runningPods(dir: string, n: number, args: string[], timeoutMs = 180_000): Promise<LabPod[]> {
  return until(
    `${n} pods (${args.join(" ")}) Running with their addresses`,
    async () => {
      const pods = await getPods(dir, ...args);
      return pods.length === n && pods.every(runningWithAddresses) ? pods : undefined;
    },
    timeoutMs,
    1000,
  );
}

/**
 * `kubectl apply` of `yaml` in the lab in `dir` (failing with kubectl's
 * stderr), then runningPods: the `count` pods of `namespace`, all Running
 * with both addresses (bounded wait).
 */
export async function applyPodsRunning(
  dir: string,
  yaml: string,
  namespace: string,
  count: number,
  timeoutMs = 90_000,
): Promise<LabPod[]> {
  await must("kubectl apply", kubectlApply(dir, yaml));
  return runningPods(dir, count, ["-n", namespace], timeoutMs);
}

/**
 * `kubectl apply` of `yaml`, retried (bounded) while refused: a new
 * namespace's default ServiceAccount comes from kube-controller-manager a
 * moment after the namespace, and the ServiceAccount admission plugin refuses
 * its pods until then.
 */
export function applyWhenAdmitted(dir: string, yaml: string, timeoutMs = 60_000): Promise<Run> {
  return until(
    `kubectl apply admitted`,
    () => must("kubectl apply", kubectlApply(dir, yaml)),
    timeoutMs,
    1000,
  );
}

/** A pod's IPv4 address (status.podIPs), or an error naming the pod. */
export function podV4(p: { metadata: { name: string }; status: { podIPs?: { ip: string }[] } }): string {
  const ip = p.status.podIPs?.find((x) => !x.ip.includes(":"))?.ip;
  if (ip === undefined) throw new Error(`${p.metadata.name} has no IPv4 address`);
  return ip;
}

/**
 * The pod's addresses outside its node's pod CIDRs (the lab plan's, one IPv4
 * and one IPv6 pool per node; lab/address-plan.ts): none when Trellis gave
 * it addresses from its own node's pools. A pod on no lab node has all its
 * addresses outside.
 */
export function addressesOutsideNodePools(dir: string, p: LabPod): string[] {
  const node = readLabState(labLayout(dir).stateFile)?.plan.nodes.find((n) => n.name === p.spec.nodeName);
  return (p.status.podIPs ?? [])
    .map(({ ip }) => ip)
    .filter((ip) => {
      if (node === undefined) return true;
      const cidr = parsePrefix(ip.includes(":") ? node.podCidr6 : node.podCidr4);
      const addr = parseAddress(ip);
      return typeof cidr === "string" || typeof addr === "string" || !contains(cidr, addr);
    });
}
