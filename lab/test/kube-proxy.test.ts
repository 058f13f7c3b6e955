// lab/kube-proxy.ts, the pure parts: the cluster CIDRs kube-proxy is given,
// its KubeProxyConfiguration, its command line and files.
import { describe, expect, it } from "@jest/globals";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { planLab } from "../address-plan.js";
import { LabError } from "../lab-errors.js";
import { labUp } from "../lab-up.js";
import { KUBE_PROXY } from "../controlplane/pki.js";
import { nodeLayout } from "../lab-layout.js";
import { clusterCidrs, kubeProxyArgv, renderKubeProxyConfig } from "../kube-proxy.js";

const config = (cidrs = ["10.244.0.0/22", "fd00:10:244::/62"]): Record<string, unknown> =>
  parse(
    renderKubeProxyConfig({
      nodeName: "node-2",
      kubeconfig: "/lab/nodes/node-2/kube-proxy.kubeconfig",
      clusterCidrs: cidrs,
    }),
  ) as Record<string, unknown>;

describe("clusterCidrs: one prefix per family covering every node's pod CIDR", () => {
  it("the lab's 3 nodes: 10.244.1-3.0/24 and fd00:10:244:1-3::/64", () => {
    const plan = planLab({ prefix: "tlx-", nodes: 3 });
    expect(clusterCidrs(plan.nodes.flatMap((n) => [n.podCidr4, n.podCidr6]))).toEqual([
      "10.244.0.0/22",
      "fd00:10:244::/62",
    ]);
  });

  it("one node: its own CIDRs", () => {
    expect(clusterCidrs(["10.244.1.0/24", "fd00:10:244:1::/64"])).toEqual([
      "10.244.1.0/24",
      "fd00:10:244:1::/64",
    ]);
  });

  it("the lab's largest plan stays inside 10.244.0.0/16", () => {
    const plan = planLab({ prefix: "tlx-", nodes: 254 });
    expect(clusterCidrs(plan.nodes.map((n) => n.podCidr4))).toEqual(["10.244.0.0/16"]);
  });

  it("a single family gives a single CIDR; IPv4 first whatever the input order", () => {
    expect(clusterCidrs(["fd00::/64"])).toEqual(["fd00::/64"]);
    expect(clusterCidrs(["fd00::/64", "10.0.0.0/24"])).toEqual(["10.0.0.0/24", "fd00::/64"]);
  });

  it("a CIDR that does not parse is refused, naming it", () => {
    expect(() => clusterCidrs(["10.244.1.0/33"])).toThrow('pod CIDR "10.244.1.0/33"');
  });
});

describe("KubeProxyConfiguration", () => {
  it("nftables mode, the node's name, its kubeconfig", () => {
    const c = config();
    expect(c["apiVersion"]).toBe("kubeproxy.config.k8s.io/v1alpha1");
    expect(c["kind"]).toBe("KubeProxyConfiguration");
    expect(c["mode"]).toBe("nftables");
    expect(c["hostnameOverride"]).toBe("node-2");
    expect(c["clientConnection"]).toEqual({ kubeconfig: "/lab/nodes/node-2/kube-proxy.kubeconfig" });
  });

  it("pods' traffic is local by clusterCIDR (the dual-stack pair), so it keeps its source", () => {
    const c = config();
    expect(c["detectLocalMode"]).toBe("ClusterCIDR");
    expect(c["clusterCIDR"]).toBe("10.244.0.0/22,fd00:10:244::/62");
  });

  it("conntrack: no host-wide limit and no timeout is changed", () => {
    expect(config()["conntrack"]).toEqual({
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: "0s",
      tcpCloseWaitTimeout: "0s",
      udpTimeout: "0s",
      udpStreamTimeout: "0s",
    });
  });

  it("health and metrics on loopback (inside the node's namespace); the OOM order left alone; NodePorts on the primary addresses", () => {
    const c = config();
    expect(c["healthzBindAddress"]).toBe("127.0.0.1:10256");
    expect(c["metricsBindAddress"]).toBe("127.0.0.1:10249");
    expect(c["oomScoreAdj"]).toBe(0);
    expect(c["nodePortAddresses"]).toEqual(["primary"]);
  });

  it("no cluster CIDR is refused", () => {
    expect(() => config([])).toThrow("at least one cluster CIDR");
  });
});

describe("command line and identity", () => {
  it("entered with nsenter --net (not ip netns exec, which remounts /sys), with its config file", () => {
    expect(kubeProxyArgv("/c/kube-proxy", "tlx-node-1", "/lab/nodes/node-1/kube-proxy.yaml")).toEqual([
      "nsenter",
      "--net=/var/run/netns/tlx-node-1",
      "--",
      "/c/kube-proxy",
      "--config=/lab/nodes/node-1/kube-proxy.yaml",
      "--v=1",
    ]);
  });

  it("its files live under the node's dir (lab down removes them with it)", () => {
    expect(nodeLayout("/lab/nodes/node-1").kubeProxy).toEqual({
      config: "/lab/nodes/node-1/kube-proxy.yaml",
      kubeconfig: "/lab/nodes/node-1/kube-proxy.kubeconfig",
      pid: "/lab/nodes/node-1/kube-proxy.pid",
      log: "/lab/nodes/node-1/kube-proxy.log",
    });
  });

  it("the client certificate is system:kube-proxy (bound to system:node-proxier by default), in no group", () => {
    expect(KUBE_PROXY).toEqual({ name: "kube-proxy", user: "system:kube-proxy", groups: [] });
  });
});

describe("lab up and kube-proxy", () => {
  it("kube-proxy asked for on the embedded control plane is a usage error, before anything is created", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-kp-"));
    try {
      const err = await labUp({ dir, nodes: 1, cni: "ptp", controlPlane: "embedded", kubeProxy: true }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LabError);
      expect((err as LabError).kind).toBe("usage");
      expect((err as LabError).message).toBe(
        "kube-proxy needs the real control plane (--control-plane real)",
      );
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
