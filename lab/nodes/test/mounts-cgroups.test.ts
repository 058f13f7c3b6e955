import { describe, expect, it } from "@jest/globals";
import { cgroupHierarchies, nodeCgroupRoot, removeCgroupRoot } from "../cgroups.js";
import { mountsUnder, parseMountPoints } from "../mounts.js";
import { shimSocketPath } from "../teardown.js";

const MOUNTINFO = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "30 29 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "31 29 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
  // optional fields (shared:N, master:N) stand between the mount options and the " - " separator
  "32 29 0:28 / /sys/fs/cgroup/cpu rw,nosuid shared:9 master:1 - cgroup cgroup rw,cpu",
  "40 27 254:0 /tmp/lab/nodes/node-1/kubelet /tmp/lab/nodes/node-1/kubelet rw - ext4 /dev/vda rw",
  "41 40 0:50 / /tmp/lab/nodes/node-1/kubelet/pods/u/volumes/kube-api-access rw - tmpfs tmpfs rw",
  "42 27 0:4 net:[4026532] /tmp/lab/nodes/node-1/containerd/state/netns/cni-1 rw - nsfs nsfs rw",
  "43 27 0:60 / /tmp/lab2/x rw - tmpfs tmpfs rw",
  "44 27 0:61 / /tmp/with\\040space rw - tmpfs tmpfs rw",
].join("\n");

describe("mounts under a lab dir", () => {
  it("reads mount points from mountinfo, octal escapes decoded (proc(5))", () => {
    expect(parseMountPoints(MOUNTINFO)).toContain("/tmp/with space");
  });

  it("selects the ones at or below the dir, deepest first, never a sibling sharing the prefix", () => {
    expect(mountsUnder(parseMountPoints(MOUNTINFO), "/tmp/lab")).toEqual([
      "/tmp/lab/nodes/node-1/kubelet/pods/u/volumes/kube-api-access",
      "/tmp/lab/nodes/node-1/containerd/state/netns/cni-1",
      "/tmp/lab/nodes/node-1/kubelet",
    ]);
  });
});

describe("cgroups of a real node", () => {
  it("one root per lab and node", () => {
    expect(nodeCgroupRoot("tl1234-", "node-2")).toBe("/tl1234-node-2");
  });

  it("finds the v1 hierarchies and the unified one (runc joins both on a hybrid machine)", () => {
    expect(cgroupHierarchies(MOUNTINFO)).toEqual([
      "/sys/fs/cgroup/memory",
      "/sys/fs/cgroup/unified",
      "/sys/fs/cgroup/cpu",
    ]);
  });

  it("refuses to sweep the machine's root cgroup or a path climbing out of one", async () => {
    for (const bad of ["/", "", "tl1234-node-1", "/../x", "/a/b"])
      await expect(removeCgroupRoot(bad)).rejects.toThrow(/refusing to remove cgroup root/);
  });
});

describe("shim sockets", () => {
  it("are sha256 of <containerd socket>/<namespace>/<id> under /run/containerd/s (pkg/shim CreateSocketAddress)", () => {
    // printf %s /l/containerd.sock/k8s.io/abc | sha256sum
    expect(shimSocketPath("/l/containerd.sock", "k8s.io", "abc")).toBe(
      "/run/containerd/s/bbdde3f11799c78f18fd125cd1aeae1c14f83b417d046fc4ff2d10bfc810c9da",
    );
  });
});
