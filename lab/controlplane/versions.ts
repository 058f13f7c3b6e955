/**
 * The real control plane's pinned versions (lab/controlplane/versions.env, the
 * one place they are set) and where scripts/build-k8s caches each build.
 * Pure apart from reading that file.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** dist/lab/controlplane/versions.js -> the repository root */
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

export const controlPlanePaths = {
  versionsFile: join(repoRoot, "lab/controlplane/versions.env"),
  buildScript: join(repoRoot, "scripts/build-k8s"),
  /** the Helm chart: the lab's agents get exactly the RBAC it renders (agent-identity.ts) */
  chartDir: join(repoRoot, "helm/trellis"),
};

export interface ControlPlaneVersions {
  kubernetes: string;
  etcd: string;
  helm: string;
  /** containerd for the real nodes */
  containerd: string;
}

/** KEY=VALUE lines; `#` comments and blank lines skipped (the file is also sourced by bash). */
export function parseVersionsEnv(text: string): ControlPlaneVersions {
  const vars = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) throw new Error(`versions.env: not KEY=VALUE: ${line}`);
    vars.set(m[1], m[2].replace(/^["']|["']$/g, ""));
  }
  const need = (k: string): string => {
    const v = vars.get(k);
    if (v === undefined || !/^v\d+\.\d+\.\d+$/.test(v)) throw new Error(`versions.env: ${k} must be vX.Y.Z`);
    return v;
  };
  return {
    kubernetes: need("KUBERNETES_VERSION"),
    etcd: need("ETCD_VERSION"),
    helm: need("HELM_VERSION"),
    containerd: need("CONTAINERD_VERSION"),
  };
}

export function readVersions(file = controlPlanePaths.versionsFile): ControlPlaneVersions {
  return parseVersionsEnv(readFileSync(file, "utf8"));
}

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  helm: string;
  /** the `.complete` stamps scripts/build-k8s writes when a component is built */
  stamps: string[];
}

/** The real nodes' parts (kubelet, containerd) and the rest of a full cluster. */
export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  kubeScheduler: string;
  containerd: string;
  containerdShimRuncV2: string;
  ctr: string;
  /** their `.complete` stamps, apart from the control plane's */
  stamps: string[];
}

/** The root of scripts/build-k8s's cache: TRELLIS_CACHE, else ~/.cache/trellis (as the script). */
function cacheRoot(): string {
  return process.env.TRELLIS_CACHE ?? join(homedir(), ".cache", "trellis");
}

/**
 * scripts/build-k8s's components and the version each is built at: the
 * script caches a component in CACHE/<component>-<version> (its dir_of).
 */
const COMPONENT_VERSION = {
  kubernetes: "kubernetes",
  "kubernetes-node": "kubernetes",
  containerd: "containerd",
  etcd: "etcd",
  helm: "helm",
} as const satisfies Record<string, keyof ControlPlaneVersions>;
type Component = keyof typeof COMPONENT_VERSION;

/** Each binary as [the component that builds it, its file name there]. */
type BinaryTable<K extends string> = Record<K, readonly [Component, string]>;

const CONTROL_PLANE_BINARIES: BinaryTable<Exclude<keyof ControlPlaneBinaries, "stamps">> = {
  kubeApiserver: ["kubernetes", "kube-apiserver"],
  kubeControllerManager: ["kubernetes", "kube-controller-manager"],
  etcd: ["etcd", "etcd"],
  helm: ["helm", "helm"],
};

const NODE_BINARIES: BinaryTable<Exclude<keyof NodeBinaries, "stamps">> = {
  kubelet: ["kubernetes-node", "kubelet"],
  kubeProxy: ["kubernetes-node", "kube-proxy"],
  kubeScheduler: ["kubernetes-node", "kube-scheduler"],
  containerd: ["containerd", "containerd"],
  containerdShimRuncV2: ["containerd", "containerd-shim-runc-v2"],
  ctr: ["containerd", "ctr"],
};

/** Where each binary of `table` is, and the stamps of their components (in the table's order). */
function locate<K extends string>(
  table: BinaryTable<K>,
  v: ControlPlaneVersions,
  cache: string,
): Record<K, string> & { stamps: string[] } {
  const dirOf = (c: Component): string => join(cache, `${c}-${v[COMPONENT_VERSION[c]]}`);
  const paths = {} as Record<K, string>;
  const components = new Set<Component>();
  for (const [name, [component, file]] of Object.entries(table) as [K, readonly [Component, string]][]) {
    paths[name] = join(dirOf(component), file);
    components.add(component);
  }
  return { ...paths, stamps: [...components].map((c) => join(dirOf(c), ".complete")) };
}

export function binaryPaths(v: ControlPlaneVersions, cache = cacheRoot()): ControlPlaneBinaries {
  return locate(CONTROL_PLANE_BINARIES, v, cache);
}

export function nodeBinaryPaths(v: ControlPlaneVersions, cache = cacheRoot()): NodeBinaries {
  return locate(NODE_BINARIES, v, cache);
}
