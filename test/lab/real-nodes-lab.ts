/**
 * A real-nodes lab (`--kubelet real`: containerd and the upstream kubelet
 * per node) brought up, and the Deployment of the pinned image its suites
 * serve HTTP from.
 */
import { requireExecutable } from "../support/require.js";
import { labUp } from "./lab-commands.js";
import { deploymentYaml, runningPods, type LabPod } from "./lab-pods.js";

/**
 * `lab up --nodes N --cni trellis --kubelet real` in `dir` (real kubelet and
 * containerd per node; runc and podman required), failing with lab up's
 * stderr; the seconds it took.
 */
export async function labUpRealNodes(dir: string, nodes: number): Promise<number> {
  requireExecutable("/usr/sbin/runc", "runc");
  requireExecutable("/usr/bin/podman", "podman");
  const t0 = Date.now();
  const r = await labUp(dir, nodes, "--cni", "trellis", "--kubelet", "real");
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

/** WEB_DEPLOYMENT's `n` pods, Running with their addresses (bounded wait). */
export const runningWebPods = (dir: string, n = 4): Promise<LabPod[]> =>
  runningPods(dir, n, ["-n", "default", "-l", "app=web"]);
