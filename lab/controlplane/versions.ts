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

/** Mirrors dir_of in scripts/build-k8s. */
export function binaryPaths(v: ControlPlaneVersions, cache = cacheRoot()): ControlPlaneBinaries {
  const k8s = join(cache, `kubernetes-${v.kubernetes}`);
  const etcd = join(cache, `etcd-${v.etcd}`);
  const helm = join(cache, `helm-${v.helm}`);
  return {
    etcd: join(etcd, "etcd"),
    kubeApiserver: join(k8s, "kube-apiserver"),
    kubeControllerManager: join(k8s, "kube-controller-manager"),
    helm: join(helm, "helm"),
    stamps: [k8s, etcd, helm].map((d) => join(d, ".complete")),
  };
}

/** Mirrors dir_of kubernetes-node|containerd in scripts/build-k8s. */
export function nodeBinaryPaths(v: ControlPlaneVersions, cache = cacheRoot()): NodeBinaries {
  const k8s = join(cache, `kubernetes-node-${v.kubernetes}`);
  const ctrd = join(cache, `containerd-${v.containerd}`);
  return {
    kubelet: join(k8s, "kubelet"),
    kubeProxy: join(k8s, "kube-proxy"),
    kubeScheduler: join(k8s, "kube-scheduler"),
    containerd: join(ctrd, "containerd"),
    containerdShimRuncV2: join(ctrd, "containerd-shim-runc-v2"),
    ctr: join(ctrd, "ctr"),
    stamps: [k8s, ctrd].map((d) => join(d, ".complete")),
  };
}
