/**
 * `lab up --kubelet real`: a node namespace gets containerd (the CRI plugin
 * calling the node's Trellis conflist and shim through containerd's own CNI
 * library) and a real kubelet with its own identity, both entered into the
 * node's network namespace with nsenter (net/netns-path.ts inNetns: `ip netns exec`
 * would remount /sys and hide the cgroup mounts runc needs).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import type { NodePlan } from "../address-plan.js";
import { isAlive, startDaemon, tail } from "../daemon.js";
import type { LabLayout, NodeLayout } from "../lab-layout.js";
import { argvInNetns } from "../netns.js";
import { mustRun, runCommand } from "../run-command.js";
import type { NodeBinaries } from "../controlplane/versions.js";
import { createCgroupRoot, nodeCgroupRoot } from "./cgroups.js";
import { CRI_NAMESPACE, renderContainerdConfig, type Snapshotter } from "./containerd-config.js";
import { KUBELET_KERNEL_TUNABLES, kubeletArgv, renderKubeletConfig } from "./kubelet-config.js";
import { makeSharedMount } from "./mounts.js";

/** The reference plugins (portmap, chained after trellis) beside the node's own CNI bin dir. */
const SYSTEM_CNI_DIR = "/usr/lib/cni";
const buildImagesScript = fileURLToPath(new URL("../../../scripts/build-lab-images", import.meta.url));

export interface LabImages {
  archives: string[];
}

/** The lab's two images as OCI archives under DIR/images (scripts/build-lab-images: podman, no registry, a few seconds). */
export async function buildLabImages(L: LabLayout): Promise<LabImages> {
  const r = await runCommand(buildImagesScript, ["--out", L.imagesDir], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`scripts/build-lab-images failed: ${(r.stderr || r.stdout).trim()}`);
  return { archives: ["pause.tar", "busybox.tar"].map((f) => join(L.imagesDir, f)) };
}

/**
 * overlayfs unless the lab dir's filesystem cannot be its lower layer:
 * overlayfs on overlayfs is refused by the kernel (a lab dir inside a
 * container's root), and tmpfs lacks what it needs on older kernels; native
 * (plain copies) works on anything and the lab's images are small.
 */
export function chooseSnapshotter(fsType: string): { snapshotter: Snapshotter; why: string } {
  if (fsType === "overlayfs" || fsType === "tmpfs")
    return { snapshotter: "native", why: `the lab dir is on ${fsType}, which overlayfs cannot stack on` };
  return { snapshotter: "overlayfs", why: `the lab dir is on ${fsType}` };
}

export async function labDirSnapshotter(dir: string): Promise<{ snapshotter: Snapshotter; why: string }> {
  const fs = (await mustRun("stat", ["-f", "-c", "%T", dir])).trim();
  return chooseSnapshotter(fs === "overlay" ? "overlayfs" : fs);
}

/** containerd in the node's namespace, its images imported; waits until it answers (30 s). */
export async function startContainerd(
  N: NodeLayout,
  n: NodePlan,
  bin: NodeBinaries,
  snapshotter: Snapshotter,
  images: LabImages,
): Promise<void> {
  for (const d of [N.containerdDir, N.containerdRoot, N.containerdState]) mkdirSync(d, { recursive: true });
  writeFileSync(
    N.containerdConfig,
    renderContainerdConfig({
      root: N.containerdRoot,
      state: N.containerdState,
      socket: N.containerdSocket,
      runcRoot: join(N.containerdState, "runc"),
      optDir: join(N.containerdRoot, "opt"),
      cniConfDir: N.cniConfDir,
      cniBinDirs: [N.cniBinDir, SYSTEM_CNI_DIR],
      snapshotter,
    }),
  );
  const pid = startContainerdDaemon(n.netns, N, bin);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await ctr(bin, N, ["version"], 5000);
    if (r.code === 0) break;
    if (!isAlive(pid)) throw new Error(`containerd on ${n.name} exited: ${tail(N.containerdLog)}`);
    if (Date.now() > deadline)
      throw new Error(`containerd on ${n.name} did not answer within 30 s: ${r.stderr}`);
    await sleep(200);
  }
  for (const a of images.archives) {
    const r = await ctr(
      bin,
      N,
      ["-n", CRI_NAMESPACE, "images", "import", "--snapshotter", snapshotter, a],
      120_000,
    );
    if (r.code !== 0) throw new Error(`ctr images import ${a} on ${n.name}: ${r.stderr.trim()}`);
  }
}

/**
 * Starts (or, after a crash or a test's kill, starts again) the node's
 * containerd from its config; the shims and containers it left keep running
 * and it finds them again from its state dir.
 */
export function startContainerdDaemon(netns: string, N: NodeLayout, bin: NodeBinaries): number {
  return startDaemon({
    argv: argvInNetns(netns, [bin.containerd, "--config", N.containerdConfig]),
    // containerd finds containerd-shim-runc-v2 on PATH.
    env: {
      PATH: `${dirname(bin.containerdShimRuncV2)}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`,
    },
    pidFile: N.containerdPid,
    logFile: N.containerdLog,
  });
}

export function ctr(bin: NodeBinaries, N: NodeLayout, args: string[], timeoutMs = 30_000) {
  return runCommand(bin.ctr, ["--address", N.containerdSocket, ...args], { timeoutMs });
}

export interface KubeletCredentials {
  kubeconfig: string;
  caCert: string;
  servingCert: string;
  servingKey: string;
}

/** The real kubelet in the node's namespace (kubelet-config.ts), with its cgroup root and shared root dir. */
export async function startRealKubelet(
  N: NodeLayout,
  n: NodePlan,
  prefix: string,
  bin: NodeBinaries,
  creds: KubeletCredentials,
): Promise<number> {
  for (const d of [N.kubeletRootDir, N.podLogsDir, N.sysctlShieldDir]) mkdirSync(d, { recursive: true });
  writeFileSync(N.kubeletKubeconfig, creds.kubeconfig, { mode: 0o600 });
  const cgroupRoot = nodeCgroupRoot(prefix, n.name);
  createCgroupRoot(cgroupRoot);
  writeFileSync(
    N.kubeletConfig,
    renderKubeletConfig({
      nodeName: n.name,
      containerdSocket: N.containerdSocket,
      cgroupRoot,
      podLogsDir: N.podLogsDir,
      volumePluginDir: join(N.kubeletRootDir, "volume-plugins"),
      clientCaFile: creds.caCert,
      tlsCertFile: creds.servingCert,
      tlsPrivateKeyFile: creds.servingKey,
    }),
  );
  const shield = new Map<string, string>();
  for (const t of KUBELET_KERNEL_TUNABLES) {
    const file = join(N.sysctlShieldDir, t.replace(/\//g, "."));
    writeFileSync(file, readFileSync(`/proc/sys/${t}`, "utf8"));
    shield.set(t, file);
  }
  await makeSharedMount(N.kubeletRootDir);
  return startDaemon({
    argv: kubeletArgv({
      kubelet: bin.kubelet,
      netns: n.netns,
      config: N.kubeletConfig,
      kubeconfig: N.kubeletKubeconfig,
      rootDir: N.kubeletRootDir,
      nodeName: n.name,
      nodeIps: [n.address4, n.address6],
      tunableShield: shield,
    }),
    pidFile: N.kubeletPid,
    logFile: N.kubeletLog,
  });
}
