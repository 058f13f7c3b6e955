/**
 * A real lab node's containerd configuration (config version 3, containerd
 * 2.x; docs/cri/config.md of github.com/containerd/containerd/v2). Pure: the
 * node's paths come in, TOML goes out. Every path containerd would otherwise
 * share with the machine or with another node's containerd (root, state,
 * sockets, runc's state, /opt/containerd, the pods' network namespaces) lies
 * under the node's dir, so several run side by side and `lab down` finds all.
 */

/** The lab's sandbox (pause) image, imported into every node (scripts/build-lab-images). */
export const SANDBOX_IMAGE = "localhost/pause:lab";
/** The pinned workload image of the lab. */
export const WORKLOAD_IMAGE = "localhost/busybox:lab";
/** The containerd namespace the CRI plugin keeps its images and containers in. */
export const CRI_NAMESPACE = "k8s.io";
/** Debian's runc: crun fails on these hybrid-cgroup machines (docs/machine.md). */
export const RUNC = "/usr/sbin/runc";

export interface ContainerdConfigInput {
  root: string;
  state: string;
  socket: string;
  /** runc's state (--root), else /run/containerd/runc shared by every containerd */
  runcRoot: string;
  /** the opt plugin's dir, else /opt/containerd */
  optDir: string;
  cniConfDir: string;
  cniBinDirs: readonly string[];
  snapshotter: Snapshotter;
}

/**
 * overlayfs: the default, needs a lower filesystem that supports it
 * (ext4, xfs; not overlayfs itself). native: plain copies, works anywhere,
 * slower for big images (the lab's are 1-2 MB).
 */
export type Snapshotter = "overlayfs" | "native";

const q = (s: string): string => JSON.stringify(s);

export function renderContainerdConfig(c: ContainerdConfigInput): string {
  return `# Written by trellisctl lab up (lab/nodes/containerd-config.ts); containerd 2.x config version 3.
version = 3
root = ${q(c.root)}
state = ${q(c.state)}

[grpc]
  address = ${q(c.socket)}

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = ${q(c.optDir)}

  # NRI listens on one machine-wide socket (/var/run/nri/nri.sock): off, since several nodes share the machine.
  [plugins.'io.containerd.nri.v1.nri']
    disable = true

  [plugins.'io.containerd.cri.v1.images']
    snapshotter = ${q(c.snapshotter)}

    # The sandbox image is imported, never pulled (no registry in the lab).
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${q(SANDBOX_IMAGE)}

  [plugins.'io.containerd.cri.v1.runtime']
    # Pod network namespaces under the state dir, not the machine's /var/run/netns.
    netns_mounts_under_state_dir = true
    # These machines run root without CAP_SYS_RESOURCE: no process may lower its
    # oom_score_adj, and runc fails the sandbox ("failed to update
    # /proc/self/oom_score_adj: Permission denied") for the kubelet's -998.
    # Containers get at least containerd's own (0) instead.
    restrict_oom_score_adj = true

    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'

      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'

        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = ${q(RUNC)}
          Root = ${q(c.runcRoot)}
          # cgroupfs, as the kubelet (cgroupDriver: cgroupfs): the machine has cgroup v1 and no systemd delegation.
          SystemdCgroup = false

    # Trellis's conflist and the shim (cni/shim/trellis) with the chained portmap.
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      conf_dir = ${q(c.cniConfDir)}
      bin_dirs = [${c.cniBinDirs.map(q).join(", ")}]
      max_conf_num = 1

  [plugins.'io.containerd.grpc.v1.cri']
    # exec/attach/port-forward streams, proxied by the kubelet; loopback of the node's namespace.
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}
