/**
 * Where everything of a lab lives under its dir. Pure: `lab up` writes these,
 * `status`/`down` read them back, the kubelet stand-in gets its node dir.
 */
import { join } from "node:path";

/** A Kubernetes component's files side by side in one dir: NAME.yaml (its config), NAME.kubeconfig, NAME.pid, NAME.log. */
export interface ComponentFiles {
  config: string;
  kubeconfig: string;
  pid: string;
  log: string;
}

export function componentFiles(dir: string, name: string): ComponentFiles {
  const at = (ext: string): string => join(dir, `${name}.${ext}`);
  return { config: at("yaml"), kubeconfig: at("kubeconfig"), pid: at("pid"), log: at("log") };
}

export interface NodeLayout {
  dir: string;
  /** trellis-node's kubeconfig (under the real control plane: the chart's ServiceAccount token) */
  kubeconfig: string;
  /** the kubelet stand-in's kubeconfig */
  kubeletKubeconfig: string;
  cniConfDir: string;
  conflist: string;
  cniBinDir: string;
  cniCacheDir: string;
  ipamDataDir: string;
  podsDir: string;
  agentSocket: string;
  agentLog: string;
  agentPid: string;
  kubeletLog: string;
  kubeletPid: string;
  relayLog: string;
  relayPid: string;
  /** --kubelet real (lab/nodes/): containerd and the real kubelet */
  containerdDir: string;
  containerdConfig: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  containerdLog: string;
  containerdPid: string;
  /** the kubelet's --root-dir (a shared mount: lab/nodes/mounts.ts) */
  kubeletRootDir: string;
  kubeletConfig: string;
  podLogsDir: string;
  /** files standing in for the kernel tunables the kubelet sets (lab/nodes/kubelet-config.ts) */
  sysctlShieldDir: string;
  /** under the real control plane: kube-proxy (lab/kube-proxy.ts) */
  kubeProxy: ComponentFiles;
}

export interface LabLayout {
  dir: string;
  stateFile: string;
  kubeconfig: string;
  apiserverSocket: string;
  apiserverStateDir: string;
  apiserverOut: string;
  apiserverLog: string;
  apiserverPid: string;
  torDir: string;
  birdConfig: string;
  birdSocket: string;
  birdPid: string;
  birdLog: string;
  birdStderr: string;
  nodesDir: string;
  /** --kubelet real: the OCI archives of the lab's images (scripts/build-lab-images --out) */
  imagesDir: string;
  /** --agent chart: the values helm installed the chart with (nodes/chart-agent.ts installChartAgent) */
  chartValues: string;
  node(name: string): NodeLayout;
}

/**
 * The lab dir's own entries, by their LabLayout field: labLayout joins them
 * to the dir, and `lab down` removes them (LAB_ENTRIES), from one list.
 */
const LAB_DIR_FILES = {
  stateFile: "lab.json",
  kubeconfig: "kubeconfig",
  apiserverSocket: "apiserver.sock",
  apiserverStateDir: "apiserver-state",
  apiserverOut: "apiserver.out",
  apiserverLog: "apiserver.log",
  apiserverPid: "apiserver.pid",
  torDir: "tor",
  nodesDir: "nodes",
  imagesDir: "images",
  chartValues: "chart-values.json",
} as const satisfies Partial<Record<keyof LabLayout, string>>;

/** The top-level entries `lab down` removes (and nothing else in the dir). */
export const LAB_ENTRIES: readonly string[] = [
  ...Object.values(LAB_DIR_FILES),
  // --control-plane real (controlplane/layout.ts CONTROL_PLANE_ENTRY, which imports this file)
  "controlplane",
];

/** Each name of `names` joined to `dir`, under the same key. */
function underDir<K extends string>(dir: string, names: Readonly<Record<K, string>>): Record<K, string> {
  const joined = Object.entries<string>(names).map(([k, name]) => [k, join(dir, name)]);
  return Object.fromEntries(joined) as Record<K, string>;
}

export function labLayout(dir: string): LabLayout {
  const files = underDir(dir, LAB_DIR_FILES);
  return {
    dir,
    ...files,
    birdConfig: join(files.torDir, "bird.conf"),
    birdSocket: join(files.torDir, "bird.ctl"),
    birdPid: join(files.torDir, "bird.pid"),
    birdLog: join(files.torDir, "bird.log"),
    birdStderr: join(files.torDir, "bird.stderr.log"),
    node: (name) => nodeLayout(join(files.nodesDir, name)),
  };
}

export function nodeLayout(dir: string): NodeLayout {
  const cni = join(dir, "cni");
  return {
    dir,
    kubeconfig: join(dir, "kubeconfig"),
    kubeletKubeconfig: join(dir, "kubelet.kubeconfig"),
    cniConfDir: join(cni, "net.d"),
    conflist: join(cni, "net.d", "10-trellis.conflist"),
    cniBinDir: join(cni, "bin"),
    cniCacheDir: join(cni, "cache"),
    ipamDataDir: join(cni, "ipam"),
    podsDir: join(dir, "pods"),
    agentSocket: join(dir, "cni.sock"),
    agentLog: join(dir, "trellis-node.log"),
    agentPid: join(dir, "trellis-node.pid"),
    kubeletLog: join(dir, "kubelet.log"),
    kubeletPid: join(dir, "kubelet.pid"),
    relayLog: join(dir, "relay.log"),
    relayPid: join(dir, "relay.pid"),
    containerdDir: join(dir, "containerd"),
    containerdConfig: join(dir, "containerd", "config.toml"),
    containerdRoot: join(dir, "containerd", "root"),
    containerdState: join(dir, "containerd", "state"),
    containerdSocket: join(dir, "containerd", "containerd.sock"),
    containerdLog: join(dir, "containerd.log"),
    containerdPid: join(dir, "containerd.pid"),
    kubeletRootDir: join(dir, "kubelet"),
    kubeletConfig: join(dir, "kubelet-config.yaml"),
    podLogsDir: join(dir, "pod-logs"),
    sysctlShieldDir: join(dir, "sysctl"),
    kubeProxy: componentFiles(dir, "kube-proxy"),
  };
}

/** sockaddr_un.sun_path holds 108 bytes including the NUL (unix(7)). */
export const UNIX_PATH_MAX = 107;
