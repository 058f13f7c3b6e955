/**
 * Where a lab pod's network namespace is, for `lab probe` and `lab matrix`
 * to run their client inside it. The kubelet stand-in names it from the pod
 * uid under /var/run/netns (lab-names.ts podNetnsName). A real node's
 * containerd creates it under its own state dir with a random name
 * (`.../io.containerd.grpc.v1.cri/netns/cni-<uuid>`; containerd-config.ts
 * netns_mounts_under_state_dir) and records it nowhere the API server sees:
 * the one source of truth is containerd's sandbox container, whose labels
 * carry the pod uid (`io.kubernetes.pod.uid`) and whose OCI runtime spec
 * names the namespace (`linux.namespaces[type=network].path`, OCI runtime
 * spec config-linux.md "Namespaces"). The parsing is pure; `ctr` runs at the
 * edge (podNetnsPaths).
 */
import { existsSync } from "node:fs";
import type { LabLayout } from "./lab-layout.js";
import type { LabState } from "./lab-state.js";
import { podNetnsName } from "./lab-names.js";
import { namedNetnsPath } from "./netns.js";
import { CRI_NAMESPACE } from "./nodes/containerd-config.js";
import { ctr } from "./nodes/real-node.js";
import { nodeBinaryPaths, readVersions } from "./controlplane/versions.js";

/** The CRI plugin's label on a pod's sandbox container (containerd internal/cri/labels). */
export const SANDBOX_KIND_FILTER = 'labels."io.cri-containerd.kind"==sandbox';
const POD_UID_LABEL = "io.kubernetes.pod.uid";

export interface SandboxNetns {
  uid: string;
  /** absolute path of the namespace's bind mount */
  netns: string;
  /** containerd's CreatedAt, RFC 3339; the newest sandbox of a pod is its current one */
  createdAt: string;
}

/**
 * One sandbox container of `ctr containers info` (JSON): its pod uid and
 * network namespace path. undefined for a container that is no pod sandbox
 * or runs in the node's namespace (hostNetwork: no path); an error naming
 * the container for output that is no such JSON.
 */
export function parseSandboxInfo(id: string, text: string): SandboxNetns | undefined {
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch {
    throw new Error(`ctr containers info ${id}: not JSON (${text.slice(0, 80).trim() || "empty"})`);
  }
  if (typeof info !== "object" || info === null)
    throw new Error(`ctr containers info ${id}: not a container object`);
  const c = info as {
    Labels?: Record<string, unknown>;
    CreatedAt?: unknown;
    Spec?: { linux?: { namespaces?: { type?: unknown; path?: unknown }[] } };
  };
  const uid = c.Labels?.[POD_UID_LABEL];
  if (typeof uid !== "string" || uid === "") return undefined;
  const net = (c.Spec?.linux?.namespaces ?? []).find((n) => n.type === "network");
  if (typeof net?.path !== "string" || !net.path.startsWith("/")) return undefined;
  return { uid, netns: net.path, createdAt: typeof c.CreatedAt === "string" ? c.CreatedAt : "" };
}

/**
 * uid → namespace path, the newest sandbox winning: a pod whose sandbox was
 * recreated (a restarted node, a dead pause container) may still have the
 * old one listed until the kubelet's garbage collection removes it.
 */
export function netnsByUid(sandboxes: readonly SandboxNetns[]): Map<string, string> {
  const newest = new Map<string, SandboxNetns>();
  for (const s of sandboxes) {
    const had = newest.get(s.uid);
    if (had === undefined || Date.parse(s.createdAt) > Date.parse(had.createdAt)) newest.set(s.uid, s);
  }
  return new Map([...newest].map(([uid, s]) => [uid, s.netns]));
}

/** Sandbox container ids, one per line of `ctr containers ls -q`. */
export function parseContainerIds(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^[0-9a-f]{64}$/.test(l));
}

/**
 * Every pod namespace of the lab, by pod uid, as absolute paths: the real
 * nodes' from each node's containerd, the stand-in's from their names. A
 * pod missing from the map has no sandbox (yet, or any more).
 */
export async function podNetnsPaths(
  L: LabLayout,
  state: LabState,
  uids: readonly string[],
): Promise<Map<string, string>> {
  if (state.kubelet !== "real") {
    const out = new Map<string, string>();
    for (const uid of uids) {
      const path = namedNetnsPath(podNetnsName(state.prefix, uid));
      if (existsSync(path)) out.set(uid, path);
    }
    return out;
  }
  const bin = nodeBinaryPaths(readVersions());
  const perNode = await Promise.all(
    state.plan.nodes.map(async (n) => {
      const N = L.node(n.name);
      const ls = await ctr(
        bin,
        N,
        ["-n", CRI_NAMESPACE, "containers", "ls", "-q", SANDBOX_KIND_FILTER],
        10_000,
      );
      if (ls.code !== 0) throw new Error(`${n.name}: ctr containers ls: ${ls.stderr.trim()}`);
      const found: SandboxNetns[] = [];
      for (const id of parseContainerIds(ls.stdout)) {
        const r = await ctr(bin, N, ["-n", CRI_NAMESPACE, "containers", "info", id], 10_000);
        // Removed between ls and info: the pod went away meanwhile.
        if (r.code !== 0) continue;
        const s = parseSandboxInfo(id, r.stdout);
        if (s !== undefined) found.push(s);
      }
      return found;
    }),
  );
  const byUid = netnsByUid(perNode.flat());
  const wanted = new Set(uids);
  return new Map([...byUid].filter(([uid, path]) => wanted.has(uid) && existsSync(path)));
}
