import { describe, expect, it } from "@jest/globals";
import { formatLabStatus } from "../status-text.js";
import type { LabStatus, NodeStatus } from "../lab-status.js";

const node = (name: string, ready: boolean): NodeStatus => ({
  name,
  netns: `tl0000-${name}`,
  address: "198.18.0.1",
  address6: "fd00:198:18::1",
  torAddress: "198.18.0.0",
  torAddress6: "fd00:198:18::0",
  asn: 64512,
  podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"],
  agentSocket: "/l/nodes/n/cni.sock",
  cniConfDir: "/l/nodes/n/cni/net.d",
  cniBinDir: "/l/nodes/n/cni/bin",
  kubeconfig: "/l/nodes/n/kubeconfig",
  logFile: `/l/nodes/${name}/kubelet.log`,
  kubeletKind: "standin",
  kubelet: { pid: 10, alive: true, logFile: "k.log" },
  relay: { pid: 11, alive: true, logFile: "r.log" },
  ready,
  bgp: [
    { protocol: "node_1", neighbor: "198.18.0.1", state: "Established", info: "Established" },
    { protocol: "node_1_v6", neighbor: "fd00:198:18::1", state: "Active", info: "Active" },
  ],
  pods: [{ pod: "x/a", uid: "u", netns: "tl0000-p-1", ips: ["10.244.1.2"], ports: [80] }],
});

const status = (healthy: boolean, problems: string[]): LabStatus => ({
  dir: "/l",
  prefix: "tl0000-",
  phase: "running",
  cni: "ptp",
  healthy,
  problems,
  apiserver: {
    url: "http://127.0.0.1:1234",
    kubeconfig: "/l/kubeconfig",
    socket: "/l/apiserver.sock",
    pid: 1,
    alive: true,
    logFile: "a.log",
  },
  tor: {
    netns: "tl0000-tor",
    address: "198.19.255.254",
    asn: 65000,
    birdSocket: "/l/tor/bird.ctl",
    birdConfig: "/l/tor/bird.conf",
    protocols: [
      { name: "node_1", proto: "BGP", table: "---", state: "up", since: "x", info: "Established" },
      { name: "node_1_v6", proto: "BGP", table: "---", state: "start", since: "x", info: "Active" },
    ],
    pid: 2,
    alive: true,
    logFile: "b.log",
  },
  nodes: [node("node-1", healthy)],
});

describe("lab status table", () => {
  it("shows the API server, the ToR and one row per node with readiness, pods and BGP states", () => {
    const text = formatLabStatus(status(true, []));
    expect(text).toContain("API server: http://127.0.0.1:1234 (running, pid 1)");
    expect(text).toContain("ToR:        netns tl0000-tor, AS 65000");
    expect(text).toMatch(
      /^NODE\s+NETNS\s+ADDRESS\s+POD CIDRS\s+STATUS\s+PODS\s+KUBELET\s+AGENT\s+BGP V4\/V6\s+LOG$/m,
    );
    expect(text).toMatch(
      /^node-1\s+tl0000-node-1\s+198\.18\.0\.1\s+10\.244\.1\.0\/24,fd00:10:244:1::\/64\s+Ready\s+1\s+running\s+-\s+Established\/Active\s+\/l\/nodes\/node-1\/kubelet\.log$/m,
    );
    expect(text).toContain("BGP sessions on the ToR: 1/2 established");
    expect(text).not.toContain("Problems");
  });

  it("lists the problems of an unhealthy lab", () => {
    const text = formatLabStatus(status(false, ["node-1: Node not Ready"]));
    expect(text).toContain("UNHEALTHY");
    expect(text).toContain("NotReady");
    expect(text).toContain("Problems:\n  - node-1: Node not Ready\n");
  });
});

describe("lab status table: the agent column", () => {
  const agentRow = (agent: NodeStatus["agent"]): string => {
    const s = status(true, []);
    const n = s.nodes[0];
    if (n === undefined) throw new Error("no node");
    if (agent !== undefined) n.agent = agent;
    return (
      formatLabStatus({ ...s, nodes: [n] })
        .split("\n")
        .find((l) => l.startsWith("node-1")) ?? ""
    );
  };
  const base = { pid: 12, logFile: "t.log" };
  it.each([
    ["no agent (ptp)", undefined, "-"],
    ["alive and /readyz 200", { ...base, alive: true, ready: true, readyz: "ok" }, "ready"],
    ["alive but /readyz not 200", { ...base, alive: true, ready: false, readyz: "/readyz 503" }, "not ready"],
    ["process gone", { ...base, alive: false, ready: false, readyz: "not running" }, "dead"],
  ] as const)("%s shows %#", (_name, agent, shown) => {
    expect(agentRow(agent)).toMatch(new RegExp(`\\s+running\\s+${shown}\\s+Established`));
  });
});
