/**
 * A real lab node's kubelet: its KubeletConfiguration
 * (kubelet.config.k8s.io/v1beta1) and command line. Pure: paths and
 * addresses come in; JSON (which YAML, the kubelet's config format, includes)
 * and argv go out.
 *
 * Several kubelets share one machine here: each has its own root dir, pod
 * log dir, volume plugin dir and cgroup root (cgroupfs driver, so its
 * kubepods hierarchy lies under /sys/fs/cgroup/<controller>/<cgroupRoot>),
 * and its own port 10250 in its own network namespace.
 */
import { argvInNetns } from "../netns.js";

/** The kernel tunables the kubelet's container manager sets at start unless protectKernelDefaults
 * (pkg/kubelet/cm/container_manager_linux.go setupKernelTunables), under /proc/sys. */
export const KUBELET_KERNEL_TUNABLES = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
] as const;

export interface KubeletConfigInput {
  nodeName: string;
  /** containerd's CRI socket */
  containerdSocket: string;
  cgroupRoot: string;
  podLogsDir: string;
  volumePluginDir: string;
  clientCaFile: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
}

export function renderKubeletConfig(c: KubeletConfigInput): string {
  const config = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // The API server reaches it on the node's addresses (its egress proxy enters the node namespace).
    address: "0.0.0.0",
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    containerRuntimeEndpoint: `unix://${c.containerdSocket}`,
    // The machine has cgroup v1 (hybrid) and no systemd delegation for the lab: cgroupfs, as containerd's runc.
    cgroupDriver: "cgroupfs",
    // Kubernetes 1.35+ refuses to start on cgroup v1 unless told (KEP-5573).
    failCgroupV1: false,
    cgroupsPerQOS: true,
    cgroupRoot: c.cgroupRoot,
    failSwapOn: false,
    podLogsDir: c.podLogsDir,
    volumePluginDir: c.volumePluginDir,
    // exec and logs from kube-apiserver: its client certificate (lab CA) or a token, checked with the API server.
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true, cacheTTL: "30s" },
      x509: { clientCAFile: c.clientCaFile },
    },
    authorization: { mode: "Webhook", webhook: { cacheAuthorizedTTL: "30s", cacheUnauthorizedTTL: "10s" } },
    tlsCertFile: c.tlsCertFile,
    tlsPrivateKeyFile: c.tlsPrivateKeyFile,
    // The lab's two images are imported, never pulled: image GC must not delete them on a full shared disk.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Eviction watches the shared machine's disk and memory, not the lab's: only when nearly nothing is left.
    evictionHard: { "memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    // The kubelet's own sysctl changes stay in its mount namespace (kubeletArgv); allow them there.
    protectKernelDefaults: false,
    clusterDomain: "cluster.local",
    resolvConf: "/etc/resolv.conf",
    serializeImagePulls: false,
    registerNode: true,
  };
  return JSON.stringify(config, null, 2) + "\n";
}

export interface KubeletArgvInput {
  kubelet: string;
  /** the node's network namespace (a name or a path; net/netns-path.ts inNetns enters it) */
  netns: string;
  config: string;
  kubeconfig: string;
  rootDir: string;
  nodeName: string;
  nodeIps: readonly string[];
  /** /proc/sys path (KUBELET_KERNEL_TUNABLES) -> a file holding the machine's value */
  tunableShield: ReadonlyMap<string, string>;
}

/**
 * The kubelet in the node's network namespace, in a mount namespace of its
 * own where each kernel tunable it would set machine-wide (panic on oops,
 * overcommit: setupKernelTunables) is a bind-mounted file of the lab's: the
 * kubelet writes its values there and the machine keeps its own. Mounts keep
 * their propagation (`--propagation unchanged`): the kubelet's root dir is a
 * shared mount in the machine's namespace, so the volumes it mounts there
 * reach containerd and runc, and `lab down` sees them. /proc is made private
 * first, so the bind mounts over /proc/sys never propagate back.
 */
export function kubeletArgv(k: KubeletArgvInput): string[] {
  const binds = [...k.tunableShield].map(
    ([proc, file]) => `mount --bind ${sh(file)} ${sh(`/proc/sys/${proc}`)}`,
  );
  const script = ["mount --make-rprivate /proc", ...binds, 'exec "$@"'].join("\n");
  return argvInNetns(k.netns, [
    "unshare",
    "--mount",
    "--propagation",
    "unchanged",
    "--",
    "sh",
    "-ec",
    script,
    "sh",
    k.kubelet,
    `--config=${k.config}`,
    `--kubeconfig=${k.kubeconfig}`,
    `--root-dir=${k.rootDir}`,
    `--hostname-override=${k.nodeName}`,
    `--node-ip=${k.nodeIps.join(",")}`,
    "--v=2",
  ]);
}

/** A POSIX shell single-quoted word. */
export function sh(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
