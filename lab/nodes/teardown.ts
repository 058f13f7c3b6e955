/**
 * What `lab down` does for a real node after the lab's processes are
 * stopped: the containers (which outlive a killed shim: they are children of
 * no lab process and live in the pods' namespaces) are killed through their
 * cgroups and the cgroups removed; the shims' sockets, which containerd
 * 2.x keeps in the machine-wide /run/containerd/s, are removed.
 * The mounts go last, for the whole lab dir at once (mounts.ts unmountUnder).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { NodeLayout } from "../lab-layout.js";
import { nodeCgroupRoot, removeCgroupRoot } from "./cgroups.js";
import { CRI_NAMESPACE } from "./containerd-config.js";

/** containerd's shim socket dir (pkg/shim/util_unix.go SocketAddress: defaults.DefaultStateDir + "/s"). */
export const SHIM_SOCKET_DIR = "/run/containerd/s";

/** A shim's socket: sha256 of `<containerd socket>/<namespace>/<id>` (pkg/shim/util_unix.go CreateSocketAddress). */
export function shimSocketPath(containerdSocket: string, namespace: string, id: string): string {
  const digest = createHash("sha256")
    .update(join(containerdSocket, namespace, id))
    .digest("hex");
  return join(SHIM_SOCKET_DIR, digest);
}

/** The task ids containerd's runc v2 runtime keeps bundles for under its state dir. */
function taskIds(N: NodeLayout): string[] {
  const dir = join(N.containerdState, "io.containerd.runtime.v2.task", CRI_NAMESPACE);
  return existsSync(dir) ? readdirSync(dir) : [];
}

export interface RealNodeTeardown {
  killed: number[];
  cgroupsLeft: string[];
}

export async function tearDownRealNode(
  N: NodeLayout,
  prefix: string,
  nodeName: string,
): Promise<RealNodeTeardown> {
  const { killed, left } = await removeCgroupRoot(nodeCgroupRoot(prefix, nodeName));
  for (const id of taskIds(N)) rmSync(shimSocketPath(N.containerdSocket, CRI_NAMESPACE, id), { force: true });
  return { killed, cgroupsLeft: left };
}
