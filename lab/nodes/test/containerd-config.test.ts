import { describe, expect, it } from "@jest/globals";
import { renderContainerdConfig, SANDBOX_IMAGE } from "../containerd-config.js";
import { chooseSnapshotter } from "../real-node.js";

const input = {
  root: "/lab/nodes/node-1/containerd/root",
  state: "/lab/nodes/node-1/containerd/state",
  socket: "/lab/nodes/node-1/containerd/containerd.sock",
  runcRoot: "/lab/nodes/node-1/containerd/state/runc",
  optDir: "/lab/nodes/node-1/containerd/root/opt",
  cniConfDir: "/lab/nodes/node-1/cni/net.d",
  cniBinDirs: ["/lab/nodes/node-1/cni/bin", "/usr/lib/cni"],
  snapshotter: "overlayfs" as const,
};

describe("containerd config (version 3)", () => {
  const toml = renderContainerdConfig(input);

  it("keeps root, state, socket, runc state and opt under the node dir", () => {
    expect(toml).toContain('root = "/lab/nodes/node-1/containerd/root"');
    expect(toml).toContain('state = "/lab/nodes/node-1/containerd/state"');
    expect(toml).toMatch(/\[grpc\]\n\s+address = "\/lab\/nodes\/node-1\/containerd\/containerd.sock"/);
    expect(toml).toContain('Root = "/lab/nodes/node-1/containerd/state/runc"');
    expect(toml).toMatch(
      /io\.containerd\.internal\.v1\.opt'\]\n\s+path = "\/lab\/nodes\/node-1\/containerd\/root\/opt"/,
    );
    // pod network namespaces under the state dir, not /var/run/netns
    expect(toml).toContain("netns_mounts_under_state_dir = true");
  });

  it("CNI from the node's conflist dir and bin dirs (the Trellis shim, then the reference plugins)", () => {
    expect(toml).toContain('conf_dir = "/lab/nodes/node-1/cni/net.d"');
    expect(toml).toContain('bin_dirs = ["/lab/nodes/node-1/cni/bin", "/usr/lib/cni"]');
  });

  it("runs Debian's runc with cgroupfs and the imported pause image", () => {
    expect(toml).toContain('BinaryName = "/usr/sbin/runc"');
    expect(toml).toContain("SystemdCgroup = false");
    expect(toml).toContain(`sandbox = "${SANDBOX_IMAGE}"`);
    expect(SANDBOX_IMAGE).toBe("localhost/pause:lab");
  });

  it("never lowers oom_score_adj (no CAP_SYS_RESOURCE here) and keeps NRI's machine-wide socket off", () => {
    expect(toml).toContain("restrict_oom_score_adj = true");
    expect(toml).toMatch(/nri\.v1\.nri'\]\n\s+disable = true/);
  });

  it("names the snapshotter it is given", () => {
    expect(toml).toContain('snapshotter = "overlayfs"');
    expect(renderContainerdConfig({ ...input, snapshotter: "native" })).toContain('snapshotter = "native"');
  });

  it("quotes paths as TOML basic strings", () => {
    expect(renderContainerdConfig({ ...input, root: '/a "b"\\c' })).toContain('root = "/a \\"b\\"\\\\c"');
  });
});

describe("snapshotter choice", () => {
  it("overlayfs on a filesystem it can stack on", () => {
    expect(chooseSnapshotter("ext2/ext3").snapshotter).toBe("overlayfs");
    expect(chooseSnapshotter("xfs").snapshotter).toBe("overlayfs");
  });
  it("native on overlayfs (a lab dir inside a container) and tmpfs", () => {
    expect(chooseSnapshotter("overlayfs")).toEqual({
      snapshotter: "native",
      why: "the lab dir is on overlayfs, which overlayfs cannot stack on",
    });
    expect(chooseSnapshotter("tmpfs").snapshotter).toBe("native");
  });
});
