/**
 * What the lab end-to-end tests share: running a command (or trellisctl)
 * to completion with its exit code and output, the suite wrapper that fails
 * them, naming what is missing, where the lab cannot run (not root, no BIRD,
 * no reference ptp plugin), one suite's own lab directory, a real-nodes lab
 * brought up (`labUpRealNodes`), the lab's API server killed and started
 * again, and (the last block) pods read through kubectl with bounded waits
 * on them, and HTTP from inside a pod.
 */
import { afterAll, beforeAll, describe } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { labLayout } from "../../lab/lab-layout.js";
import { labPrefix } from "../../lab/lab-names.js";
import { readLabState } from "../../lab/lab-state.js";
import { restartLabApiserver, stopLabApiserver } from "../../lab/lab-up.js";
import { contains, parseAddress, parsePrefix } from "../../net/address.js";
import { requireExecutable, requireRoot } from "../support/require.js";
import { until } from "../support/until.js";

export const CLI = fileURLToPath(new URL("../../cli/trellisctl.js", import.meta.url));
/**
 * A lab suite. CI is root with every tool installed, so a missing prerequisite
 * fails the suite with the package to install instead of skipping it (a skip
 * would hide a regression; test/README.md).
 */
export function maybe(name: string, fn: () => void): void {
  describe(name, () => {
    beforeAll(() => {
      requireRoot(`the lab suite "${name}"`);
      requireExecutable("/usr/sbin/bird", "bird2");
      requireExecutable("/usr/lib/cni/ptp", "containernetworking-plugins");
    });
    fn();
  });
}

/** One suite's lab: its own directory (unique, so its netns prefix is too) and kubectl against it. */
export interface SuiteLab {
  /** The mkdtemp directory the suite owns; the lab is `dir` inside it. */
  base: string;
  dir: string;
  /** The prefix of every network namespace this lab makes (lab/lab-names.ts). */
  prefix: string;
  kubectl(...args: string[]): Promise<Run>;
}

/**
 * A lab directory under a fresh `<tmp>/<tmpName>XXXXXX`, taken down
 * (`lab down`) and removed after the suite; `beforeDown` runs first (to stop
 * what the suite started in the lab's namespaces, or take down a second lab).
 */
export function useSuiteLab(
  tmpName: string,
  opts: { beforeDown?: () => Promise<unknown>; downTimeoutMs?: number } = {},
): SuiteLab {
  const base = mkdtempSync(join(tmpdir(), tmpName));
  const dir = join(base, "lab");
  afterAll(async () => {
    await opts.beforeDown?.();
    await trellisctl("lab", "down", "--dir", dir);
    rmSync(base, { recursive: true, force: true });
  }, opts.downTimeoutMs ?? 120_000);
  return {
    base,
    dir,
    prefix: labPrefix(dir),
    kubectl: (...args) => kubectlIn(dir, ...args),
  };
}

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function run(cmd: string, args: string[], input?: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 << 20 }, (e, out, err) =>
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : 1, out, err }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const trellisctl = (...args: string[]): Promise<Run> => run(process.execPath, [CLI, ...args]);

/** `kubectl ARGS` against the lab in `dir`. */
export const kubectlIn = (dir: string, ...args: string[]): Promise<Run> =>
  run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), ...args]);

/** The finished run, or an error naming `what` and its stderr when it exited non-zero. */
export async function must(what: string, r: Promise<Run>): Promise<Run> {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what}: ${x.err}`);
  return x;
}

/** `kubectl apply -f -` of `yaml` against the lab in `dir`. */
export const kubectlApply = (dir: string, yaml: string): Promise<Run> =>
  run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), "apply", "-f", "-"], yaml);

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
 * The lab's API server killed with SIGKILL (no graceful save), `whileDown`
 * run while it is dead, and the server started again with the same arguments,
 * port and state, whichever control plane the lab runs (lab/lab-up.ts
 * stopLabApiserver and restartLabApiserver: kube-apiserver with etcd kept, or
 * the embedded server with its durable state). The one place a test restarts
 * the API server.
 */
export async function restartApiServer(dir: string, whileDown: () => Promise<void>): Promise<void> {
  await stopLabApiserver(dir);
  try {
    await whileDown();
  } finally {
    await restartLabApiserver(dir);
  }
}

/**
 * `lab up --nodes N --cni trellis --kubelet real` in `dir` (real kubelet and
 * containerd per node; runc and podman required), failing with lab up's
 * stderr; the seconds it took.
 */
export async function labUpRealNodes(dir: string, nodes: number): Promise<number> {
  requireExecutable("/usr/sbin/runc", "runc");
  requireExecutable("/usr/bin/podman", "podman");
  const t0 = Date.now();
  const r = await trellisctl(
    "lab",
    "up",
    "--nodes",
    String(nodes),
    "--dir",
    dir,
    "--cni",
    "trellis",
    "--kubelet",
    "real",
  );
  if (r.code !== 0) throw new Error(`lab up --kubelet real failed: ${r.err}`);
  return (Date.now() - t0) / 1000;
}

/**
 * A Deployment of the pinned image localhost/busybox:lab for real nodes
 * (--kubelet real): 4 replicas spread evenly over the nodes by kube-scheduler
 * (a topology spread on the hostname label), each serving its own hostname
 * (its pod name) over HTTP on 8080.
 */
export const WEB_DEPLOYMENT = deploymentYaml(
  "default",
  "web",
  4,
  `      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      containers:
      - name: web
        image: localhost/busybox:lab
        imagePullPolicy: Never
        command: [sh, -c, 'hostname > /var/www/index.html; exec httpd -f -p 8080 -h /var/www']
        ports: [{containerPort: 8080}]
`,
);

/** A pod's IPv4 address (status.podIPs), or an error naming the pod. */
export function podV4(p: { metadata: { name: string }; status: { podIPs?: { ip: string }[] } }): string {
  const ip = p.status.podIPs?.find((x) => !x.ip.includes(":"))?.ip;
  if (ip === undefined) throw new Error(`${p.metadata.name} has no IPv4 address`);
  return ip;
}

// ---------------------------------------------------------------------------
// Pods read through kubectl, bounded waits on them, and HTTP from inside a
// pod: what the real-node suites (real-nodes, policy-real-nodes,
// services-real-nodes, chart-nodes) and services.test.ts share.

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

/** `kubectl ARGS -o json` against the lab in `dir`, parsed; an error naming the command and its stderr. */
export async function kubectlJson<T>(dir: string, ...args: string[]): Promise<T> {
  const r = await must(`kubectl ${args.join(" ")}`, kubectlIn(dir, ...args, "-o", "json"));
  return JSON.parse(r.out) as T;
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

/** WEB_DEPLOYMENT's `n` pods, Running with their addresses (bounded wait). */
export const runningWebPods = (dir: string, n = 4): Promise<LabPod[]> =>
  runningPods(dir, n, ["-n", "default", "-l", "app=web"]);

/**
 * The sh pipeline of one HTTP/1.0 GET of ip:port with busybox nc: it gives up
 * after `waitS` seconds without data (nc -w) and after `waitS` + 1 in all
 * (timeout). nc, not wget: the image's static busybox wget segfaults (it
 * resolves through glibc's NSS, which a static binary cannot load).
 */
export const httpGetCommand = (ip: string, port: number, waitS: number): string =>
  `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout ${waitS + 1} nc -w ${waitS} ${ip} ${port}`;

/**
 * One GET of ip:8080 from inside pod `from` (kubectl exec, namespace
 * default): the exit code and the reply's last line, which is the serving
 * pod's name for WEB_DEPLOYMENT.
 */
export async function httpGet(
  dir: string,
  from: string,
  ip: string,
): Promise<{ code: number; served: string }> {
  const r = await kubectlIn(dir, "exec", from, "--", "sh", "-c", httpGetCommand(ip, 8080, 5));
  return { code: r.code, served: r.out.trim().split("\n").pop() ?? "" };
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

/**
 * `observe` run up to `attempts` times, `stepMs` apart, until `settled`
 * holds of what it saw; the last observation either way, with the number of
 * rounds. For checks that assert every detail of what they last saw (a
 * reachability table), where a timeout error would hide it.
 */
export async function lastObservation<T>(
  observe: () => Promise<T>,
  settled: (v: T) => boolean,
  attempts: number,
  stepMs: number,
): Promise<{ value: T; rounds: number }> {
  for (let round = 1; ; round++) {
    const value = await observe();
    if (settled(value) || round >= attempts) return { value, rounds: round };
    await new Promise((r) => setTimeout(r, stepMs));
  }
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
