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
 * spec config-linux.md "Namespaces"). The parsing and the per-node reading
 * (readSandboxes) are pure over a reader; `ctr` runs at the edge
 * (podNetnsPaths).
 */
import { existsSync } from "node:fs";
import type { LabLayout } from "./lab-layout.js";
import type { LabState } from "./lab-state.js";
import { podNetnsName } from "./lab-names.js";
import { namedNetnsPath } from "./netns.js";
import { CRI_NAMESPACE } from "./nodes/containerd-config.js";
import { ctr } from "./nodes/real-node.js";
import { boundedAll } from "./bounded-all.js";
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

/** How many ctr processes podNetnsPaths runs at once, over all nodes: a lab machine has few cores. */
export const CTR_IN_FLIGHT = 8;
/** How long one ctr call may take: a hung containerd must not hold up the other nodes' answer. */
const CTR_TIMEOUT_MS = 10_000;

/** The nodes' containerd as readSandboxes asks it: ctr at the edge (podNetnsPaths), a fake in the tests. */
export interface SandboxReader {
  /** `ctr containers ls -q` of the node's sandboxes; rejects when its containerd does not answer. */
  list(node: string): Promise<string>;
  /** `ctr containers info ID` (JSON), or undefined when the sandbox is gone (removed since list). */
  info(node: string, id: string): Promise<string | undefined>;
}

export interface NodeSandboxes {
  sandboxes: SandboxNetns[];
  /**
   * node → why its sandboxes could not (all) be read: a pod of it that is
   * not found is unknown, not absent. The other nodes are answered still.
   */
  failedNodes: Map<string, string>;
}

/**
 * The pod sandboxes of `nodes`: every node listed and every sandbox read,
 * at most `limit` ctr calls in flight in all. A node whose list or one of
 * whose reads fails is that node's failure (failedNodes; what it did answer
 * is kept), never the others'.
 */
export async function readSandboxes(
  nodes: readonly string[],
  reader: SandboxReader,
  limit = CTR_IN_FLIGHT,
): Promise<NodeSandboxes> {
  const failedNodes = new Map<string, string>();
  /** `read` of `node`, or `fallback` with its failure noted as the node's (the first: the rest usually follow from it). */
  const ofNode = async <T>(node: string, fallback: T, read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (e) {
      if (!failedNodes.has(node)) failedNodes.set(node, e instanceof Error ? e.message : String(e));
      return fallback;
    }
  };
  const lists = await boundedAll(
    nodes.map((node) => () => ofNode(node, [], async () => parseContainerIds(await reader.list(node)))),
    limit,
  );
  const reads = nodes.flatMap((node, i) =>
    (lists[i] ?? []).map(
      (id) => () =>
        ofNode(node, undefined, async () => {
          // A node that already failed is not asked again (each would wait out its timeout).
          if (failedNodes.has(node)) return undefined;
          const text = await reader.info(node, id);
          return text === undefined ? undefined : parseSandboxInfo(id, text);
        }),
    ),
  );
  const sandboxes = (await boundedAll(reads, limit)).filter((s) => s !== undefined);
  return { sandboxes, failedNodes };
}

export interface PodNetnsLookup {
  /** pod uid → the path of its namespace, for each wanted pod found */
  paths: Map<string, string>;
  /** as NodeSandboxes.failedNodes: nodes whose pods could not be looked for */
  failedNodes: Map<string, string>;
}

/**
 * The namespaces of the pods `uids`, as absolute paths: the real nodes'
 * from each node's containerd, the stand-in's from their names. A pod
 * missing from `paths` has no sandbox (yet, or any more), unless its node is
 * in `failedNodes`.
 */
export async function podNetnsPaths(
  L: LabLayout,
  state: LabState,
  uids: readonly string[],
): Promise<PodNetnsLookup> {
  if (state.kubelet !== "real") {
    const paths = new Map<string, string>();
    for (const uid of uids) {
      const path = namedNetnsPath(podNetnsName(state.prefix, uid));
      if (existsSync(path)) paths.set(uid, path);
    }
    return { paths, failedNodes: new Map() };
  }
  const bin = nodeBinaryPaths(readVersions());
  const criCtr = (node: string, args: string[]) =>
    ctr(bin, L.node(node), ["-n", CRI_NAMESPACE, "containers", ...args], CTR_TIMEOUT_MS);
  const reader: SandboxReader = {
    async list(node) {
      const r = await criCtr(node, ["ls", "-q", SANDBOX_KIND_FILTER]);
      if (r.signal !== null)
        throw new Error(`ctr containers ls: containerd did not answer within ${CTR_TIMEOUT_MS / 1000} s`);
      if (r.code !== 0) throw new Error(`ctr containers ls: ${r.stderr.trim() || `exit ${r.code}`}`);
      return r.stdout;
    },
    async info(node, id) {
      const r = await criCtr(node, ["info", id]);
      // A containerd that stops answering is the node's failure, not a pod gone.
      if (r.signal !== null)
        throw new Error(`ctr containers info: containerd did not answer within ${CTR_TIMEOUT_MS / 1000} s`);
      // Removed between ls and info: the pod went away meanwhile.
      return r.code === 0 ? r.stdout : undefined;
    },
  };
  const { sandboxes, failedNodes } = await readSandboxes(
    state.plan.nodes.map((n) => n.name),
    reader,
  );
  const wanted = new Set(uids);
  const paths = new Map(
    [...netnsByUid(sandboxes)].filter(([uid, path]) => wanted.has(uid) && existsSync(path)),
  );
  return { paths, failedNodes };
}

/** Why pod `label` on `node` has no namespace to run in: its node's failure, or no sandbox there. */
export function missingNetnsReason(
  lookup: PodNetnsLookup,
  label: string,
  node: string,
  phase: string,
): string {
  const why = lookup.failedNodes.get(node);
  return why !== undefined
    ? `cannot find ${label}'s network namespace: node ${node}: ${why}`
    : `pod ${label} has no sandbox on this lab (phase ${phase})`;
}
