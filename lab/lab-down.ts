/**
 * `trellisctl lab down`: removes every process, namespace and file of a lab,
 * working only from the dir (state file and pid files when present, and the
 * namespace prefix derived from the dir), so a half-finished up goes too.
 */
import { existsSync, readdirSync, rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { commandLineMentions, processesMentioning, readPidFile, stopProcesses } from "./daemon.js";
import { LAB_ENTRIES, labLayout, nodeLayout } from "./lab-layout.js";
import { labPrefix } from "./lab-names.js";
import { readLabState } from "./lab-state.js";
import { delNetns, listNetns, netnsPids } from "./netns.js";
import { resolveLabDir } from "./lab-dir.js";
import { LabError } from "./lab-errors.js";
import { unmountUnder } from "./nodes/mounts.js";
import { tearDownRealNode } from "./nodes/teardown.js";

export interface DownResult {
  dir: string;
  prefix: string;
  stoppedProcesses: number;
  deletedNamespaces: string[];
  removedFiles: string[];
}

/** The programs the lab starts (argv[0] basenames), for the command-line sweep. */
const LAB_PROGRAMS = [
  "node",
  "socat",
  "bird",
  "nsenter",
  "ip",
  "trellis-node",
  // --control-plane real (lab/controlplane/)
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  // in every node (lab/kube-proxy.ts)
  "kube-proxy",
  // --kubelet real (lab/nodes/)
  "kubelet",
  "containerd",
  "containerd-shim-runc-v2",
];

export async function labDown(dirArg: string): Promise<DownResult> {
  const dir = resolveLabDir(dirArg);
  const L = labLayout(dir);
  let prefix = labPrefix(dir);
  try {
    prefix = readLabState(L.stateFile)?.prefix ?? prefix;
  } catch {
    // unreadable state: the derived prefix is the same one up used
  }
  const ours = (n: string): boolean => n.startsWith(prefix);

  const pids = new Set<number>();
  // A pid file may be stale and its pid reused: trust it only when that
  // process's command line still points into the lab dir.
  for (const f of pidFiles(L)) {
    const p = readPidFile(f);
    if (p !== undefined && commandLineMentions(p, dir)) pids.add(p);
  }
  for (const p of processesMentioning(dir, LAB_PROGRAMS)) pids.add(p);
  const namespaces = (await listNetns()).filter(ours);
  for (const ns of namespaces) for (const p of await netnsPids(ns)) pids.add(p);
  pids.delete(process.pid);
  pids.delete(process.ppid);
  await stopProcesses(pids);
  // A kubelet killed mid-setup may have left a listener starting: sweep the namespaces again.
  const late = new Set<number>();
  for (const ns of namespaces) for (const p of await netnsPids(ns)) late.add(p);
  await stopProcesses(late, 1000);

  // Real nodes: the containers (in the pods' namespaces, children of no lab
  // process once their shims are gone) through their cgroups, then every
  // mount under the dir (the kubelet's volumes, containerd's rootfs and pod
  // network namespaces) before the namespaces and files go.
  const leftovers: string[] = [];
  let containers = 0;
  if (existsSync(L.nodesDir)) {
    for (const name of readdirSync(L.nodesDir)) {
      const t = await tearDownRealNode(nodeLayout(join(L.nodesDir, name)), prefix, name);
      containers += t.killed.length;
      leftovers.push(...t.cgroupsLeft.map((c) => `cgroup ${c}`));
    }
  }
  const mounts = await unmountUnder(dir);
  leftovers.push(...mounts.left.map((m) => `mount ${m}`));

  // Pods first, then nodes, then the ToR: deleting a namespace deletes its veth ends.
  const order = (n: string): number => (n.startsWith(`${prefix}p-`) ? 0 : n.endsWith("tor") ? 2 : 1);
  const deleted: string[] = [];
  for (const ns of [...(await listNetns()).filter(ours)].sort((a, b) => order(a) - order(b))) {
    await delNetns(ns);
    deleted.push(ns);
  }

  const removed: string[] = [];
  if (existsSync(dir) && mounts.left.length === 0) {
    for (const e of LAB_ENTRIES) {
      const f = join(dir, e);
      if (existsSync(f)) {
        rmSync(f, { recursive: true, force: true });
        removed.push(f);
      }
    }
    try {
      rmdirSync(dir);
      removed.push(dir);
    } catch {
      // not empty: it holds files that are not the lab's, left alone
    }
  }
  if (leftovers.length > 0) throw new LabError(`lab down ${dir}: could not remove ${leftovers.join(", ")}`);
  return {
    dir,
    prefix,
    stoppedProcesses: pids.size + late.size + containers,
    deletedNamespaces: deleted,
    removedFiles: removed,
  };
}

function pidFiles(L: ReturnType<typeof labLayout>): string[] {
  const files = [L.apiserverPid, L.birdPid];
  if (existsSync(L.nodesDir)) {
    for (const name of readdirSync(L.nodesDir)) {
      const N = nodeLayout(join(L.nodesDir, name));
      files.push(N.kubeletPid, N.relayPid, N.agentPid, N.kubeProxy.pid, N.containerdPid);
    }
  }
  return files;
}
