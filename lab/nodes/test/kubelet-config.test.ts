import { describe, expect, it } from "@jest/globals";
import { KUBELET_KERNEL_TUNABLES, kubeletArgv, renderKubeletConfig, sh } from "../kubelet-config.js";

const input = {
  nodeName: "node-1",
  containerdSocket: "/lab/nodes/node-1/containerd/containerd.sock",
  cgroupRoot: "/tl1234-node-1",
  podLogsDir: "/lab/nodes/node-1/pod-logs",
  volumePluginDir: "/lab/nodes/node-1/kubelet/volume-plugins",
  clientCaFile: "/lab/controlplane/pki/ca.crt",
  tlsCertFile: "/lab/controlplane/pki/kubelet-serving-node-1.crt",
  tlsPrivateKeyFile: "/lab/controlplane/pki/kubelet-serving-node-1.key",
};

describe("KubeletConfiguration", () => {
  const c = JSON.parse(renderKubeletConfig(input)) as Record<string, unknown>;

  it("is a kubelet.config.k8s.io/v1beta1 KubeletConfiguration", () => {
    expect([c["apiVersion"], c["kind"]]).toEqual(["kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"]);
  });

  it("runs on this cgroup v1 machine: cgroupfs, failCgroupV1 false, its own cgroup root, swap tolerated", () => {
    expect(c).toMatchObject({
      cgroupDriver: "cgroupfs",
      failCgroupV1: false,
      cgroupsPerQOS: true,
      cgroupRoot: "/tl1234-node-1",
      failSwapOn: false,
    });
  });

  it("talks CRI to the node's own containerd and keeps its files under the node dir", () => {
    expect(c).toMatchObject({
      containerRuntimeEndpoint: "unix:///lab/nodes/node-1/containerd/containerd.sock",
      podLogsDir: "/lab/nodes/node-1/pod-logs",
      volumePluginDir: "/lab/nodes/node-1/kubelet/volume-plugins",
    });
  });

  it("serves exec and logs on 10250 to authenticated, authorized callers only", () => {
    expect(c).toMatchObject({
      port: 10250,
      readOnlyPort: 0,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: "/lab/controlplane/pki/ca.crt" },
      },
      authorization: { mode: "Webhook" },
      tlsCertFile: input.tlsCertFile,
      tlsPrivateKeyFile: input.tlsPrivateKeyFile,
    });
  });

  it("never garbage-collects the imported images", () => {
    expect(c["imageGCHighThresholdPercent"]).toBe(100);
  });
});

describe("kubelet command line", () => {
  const shield = new Map(KUBELET_KERNEL_TUNABLES.map((t) => [t, `/lab/sysctl/${t.replace(/\//g, ".")}`]));
  const argv = kubeletArgv({
    kubelet: "/c/kubelet",
    netns: "tl1234-node-1",
    config: "/lab/kubelet-config.yaml",
    kubeconfig: "/lab/kubelet.kubeconfig",
    rootDir: "/lab/kubelet",
    nodeName: "node-1",
    nodeIps: ["198.18.0.1", "fd00:198:18::1"],
    tunableShield: shield,
  });

  it("enters the node's network namespace with nsenter, then a mount namespace of its own keeping propagation", () => {
    expect(argv.slice(0, 8)).toEqual([
      "nsenter",
      "--net=/var/run/netns/tl1234-node-1",
      "--",
      "unshare",
      "--mount",
      "--propagation",
      "unchanged",
      "--",
    ]);
  });

  it("covers every kernel tunable the kubelet sets with a file of the lab's, /proc made private first", () => {
    const script = argv[argv.indexOf("-ec") + 1] ?? "";
    const lines = script.split("\n");
    expect(lines[0]).toBe("mount --make-rprivate /proc");
    expect(lines).toContain(
      "mount --bind '/lab/sysctl/kernel.panic_on_oops' '/proc/sys/kernel/panic_on_oops'",
    );
    expect(lines.filter((l) => l.startsWith("mount --bind"))).toHaveLength(KUBELET_KERNEL_TUNABLES.length);
    expect(lines[lines.length - 1]).toBe('exec "$@"');
  });

  it("then execs the kubelet with its config, identity, root dir, name and both node addresses", () => {
    expect(argv.slice(argv.indexOf("/c/kubelet"))).toEqual([
      "/c/kubelet",
      "--config=/lab/kubelet-config.yaml",
      "--kubeconfig=/lab/kubelet.kubeconfig",
      "--root-dir=/lab/kubelet",
      "--hostname-override=node-1",
      "--node-ip=198.18.0.1,fd00:198:18::1",
      "--v=2",
    ]);
  });

  it("single-quotes shell words, a quote inside included", () => {
    expect(sh("/a b/it's")).toBe("'/a b/it'\\''s'");
  });
});
