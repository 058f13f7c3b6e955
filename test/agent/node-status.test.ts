/**
 * The TrellisNodeStatus a real trellis-node publishes (agent/status/), read
 * back through the lab API server, and `trellisctl status` / `bgp peers
 * --node` reading it as a user would (the built CLI, the bed's kubeconfig).
 */
import { describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type NodeStatusBody } from "../../crds/node-status.js";
import { type AgentProc, ROOT, TestBed, cniSocket, netconf, sh } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";

const pexec = promisify(execFile);
const bed = new TestBed("Tns");
const INTERVAL_S = 2;
let node1: { netns: string };
let a1: AgentProc;
let nodeUid = "";

interface StoredStatus {
  metadata: { name: string; ownerReferences?: { kind: string; name: string; uid: string }[] };
  status?: NodeStatusBody;
}

async function stored(name: string): Promise<StoredStatus | undefined> {
  try {
    return (await bed.custom.getClusterCustomObject({
      group: "trellis.dev",
      version: "v1alpha1",
      plural: "trellisnodestatuses",
      name,
    })) as StoredStatus;
  } catch {
    return undefined;
  }
}

/** Polls the stored status until `ok` holds; returns it and how long it took. */
async function waitStatus(
  name: string,
  ok: (s: NodeStatusBody) => boolean,
  timeoutMs: number,
): Promise<{ s: StoredStatus; ms: number }> {
  const t0 = Date.now();
  let last: StoredStatus | undefined;
  while (Date.now() - t0 < timeoutMs) {
    last = await stored(name);
    if (last?.status !== undefined && ok(last.status)) return { s: last, ms: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status of ${name} never matched within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

async function addPod(id: string, pod: string): Promise<void> {
  const ns = bed.netnsName(id);
  await bed.addNetns([ns]);
  const r = await cniSocket(a1.socket, {
    command: "ADD",
    containerID: `c0${id}`,
    netns: `/var/run/netns/${ns}`,
    ifname: "eth0",
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=team-s;K8S_POD_NAME=${pod}`,
    config: netconf(a1.socket),
  });
  expect(r.exitCode).toBe(0);
}

async function trellisctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await pexec(process.execPath, [join(ROOT, "dist/cli/trellisctl.js"), ...args], {
      env: { ...process.env, KUBECONFIG: "" },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: x.stdout ?? "", err: x.stderr ?? "" };
  }
}

useTestBed(bed, async () => {
  await bed.createPool("status-v4", { cidr: "10.73.0.0/16", blockSize: 26 });
  await bed.core.createNamespace({ body: { metadata: { name: "team-s" } } });
  const n = await bed.core.createNode({ body: { metadata: { name: "node-1" } } });
  nodeUid = n.metadata?.uid ?? "";
  // A node without an agent: trellisctl shows it as "no agent status".
  await bed.core.createNode({ body: { metadata: { name: "node-quiet" } } });
  node1 = await bed.addNode();
  a1 = await bed.startAgent("node-1", node1.netns, { statusIntervalSeconds: INTERVAL_S });
});

describe("the agent publishes its TrellisNodeStatus", () => {
  it("appears ready, owned by its Node, with IPAM, policy and local routes after a pod", async () => {
    await addPod("p1", "web-1");
    const { s } = await waitStatus(
      "node-1",
      // The speaker's part joins once it has resolved its address, which can be
      // a status interval after ready on a loaded machine.
      (b) => b.ready && b.ipam?.addressesInUse === 1 && (b.routes?.local ?? 0) >= 1 && b.bgp !== undefined,
      15_000,
    );
    const b = s.status as NodeStatusBody;
    expect(b).toMatchObject({
      ready: true,
      reason: "ready",
      refreshSeconds: 60,
      ipam: { affineBlocks: 1, addressesInUse: 1, poolsRejected: [] },
      routes: { local: 1 },
      informers: { rolledBack: [] },
    });
    expect(b.policy?.generation).toBeGreaterThan(0);
    expect(b.policy?.lastApplyTime).toEqual(expect.any(String));
    // The agent's speaker (agent/bgp): its address, how it was chosen, the default ASN; no peer in this bed.
    expect(b.bgp).toMatchObject({ asn: 64512, method: "first-found", sessionsEstablished: 0, sessions: [] });
    expect(b.bgp?.address4).toEqual(expect.any(String));
    expect(b.routes?.installed).toBe(0);
    expect(Date.parse(b.startedAt)).toBeLessThanOrEqual(Date.parse(b.lastUpdated));
    expect(s.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "Node", name: "node-1", uid: nodeUid }),
    ]);
  }, 30_000);

  it("a second pod is in the status within the interval", async () => {
    const t0 = Date.now();
    await addPod("p2", "web-2");
    const added = Date.now() - t0;
    const { ms } = await waitStatus("node-1", (b) => b.ipam?.addressesInUse === 2, 10_000);
    // One interval, plus the poll and a write's round trip.
    expect(ms).toBeLessThanOrEqual(INTERVAL_S * 1000 + 1000);
    expect(added).toBeLessThan(5000);
  }, 30_000);

  it("kubectl shows the printer columns", async () => {
    const r = await pexec("kubectl", ["--kubeconfig", bed.kubeconfig, "get", "tns"]);
    const [header = "", row = ""] = r.stdout.split("\n");
    expect(header.split(/\s+/)).toEqual([
      "NAME",
      "READY",
      "BGP-ADDRESS",
      "SESSIONS",
      "ROUTES",
      "PODS",
      "POLICY-GEN",
      "AGE",
    ]);
    expect(row).toMatch(/^node-1\s+true\s+/);
  }, 30_000);
});

describe("trellisctl reads it", () => {
  it("status -o json: one entry per node, and the pools", async () => {
    const r = await trellisctl("status", "-o", "json", "--kubeconfig", bed.kubeconfig);
    expect(r).toMatchObject({ code: 0, err: "" });
    const j = JSON.parse(r.out) as {
      nodes: { name: string; state: string; nodeExists: boolean; status?: NodeStatusBody }[];
      cluster: { bgpConfiguration: unknown; pools: { name: string; inUse: number }[] };
    };
    expect(j.nodes.map((n) => [n.name, n.state])).toEqual([
      ["node-1", "ok"],
      ["node-quiet", "no agent status"],
    ]);
    expect(j.nodes[0]?.status).toMatchObject({ ready: true, ipam: { addressesInUse: 2 } });
    expect(j.cluster.bgpConfiguration).toBeNull();
    expect(j.cluster.pools).toEqual([expect.objectContaining({ name: "status-v4", inUse: 2 })]);
  }, 30_000);

  it("status (table): the node columns, both nodes, the cluster section", async () => {
    const r = await trellisctl("status", "--kubeconfig", bed.kubeconfig);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    const header = lines[0] ?? "";
    for (const col of [
      "NODE",
      "READY",
      "STATUS",
      "BGP ADDRESS",
      "SESSIONS",
      "ROUTES",
      "PODS",
      "POLICY GEN",
      "UPDATED",
    ])
      expect(header).toContain(col);
    expect(lines.find((l) => l.startsWith("node-1"))).toMatch(
      /^node-1\s+true\s+ok\s+\S+ \(first-found\)\s+0\/0\s+0\/2\s+2 in 1 block/,
    );
    expect(lines.find((l) => l.startsWith("node-quiet"))).toContain("no agent status");
    expect(r.out).toContain("BGP configuration: none");
    expect(lines.find((l) => l.startsWith("status-v4"))).toMatch(/10\.73\.0\.0\/16/);
  }, 30_000);

  it("bgp peers --node: the node's published sessions (none here), or not found without a status", async () => {
    const r = await trellisctl(
      "bgp",
      "peers",
      "--node",
      "node-1",
      "--kubeconfig",
      bed.kubeconfig,
      "-o",
      "json",
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([]);
    const q = await trellisctl("bgp", "peers", "--node", "node-quiet", "--kubeconfig", bed.kubeconfig);
    expect(q.code).toBe(3);
    expect(q.err).toContain("no agent status");
  }, 30_000);
});

describe("without the API server", () => {
  it("the agent keeps running and serving CNI, logs the failed write once, and publishes when the server is back", async () => {
    const before = (await stored("node-1"))?.status;
    expect(before?.routes?.local).toBe(2);
    const warn = "cannot write the node status";
    const warnings = (): number => readFileSync(a1.logFile, "utf8").split(warn).length - 1;
    expect(warnings()).toBe(0);
    // The server goes away for two intervals and more.
    const restart = bed.restartApi(INTERVAL_S * 2000 + 1000);
    await new Promise((r) => setTimeout(r, 300));
    // A change the agent sees without the API server (one more proto 201 route),
    // so the ticks meanwhile do try to write, and fail.
    await sh("ip", ["-n", node1.netns, "route", "add", "192.0.2.1/32", "dev", "lo", "proto", "201"]);
    await new Promise((r) => setTimeout(r, INTERVAL_S * 1000 + 700));
    expect(a1.proc.exitCode).toBeNull();
    expect((await cniSocket(a1.socket, { command: "STATUS", config: netconf(a1.socket) })).exitCode).toBe(0);
    await restart;
    const { s } = await waitStatus("node-1", (b) => b.routes?.local === 3, 20_000);
    expect(Date.parse(s.status?.lastUpdated ?? "")).toBeGreaterThan(Date.parse(before?.lastUpdated ?? ""));
    expect(a1.proc.exitCode).toBeNull();
    // The agent logs after its write returns: the object can be visible before the line is.
    const deadline = Date.now() + 5000;
    while (!readFileSync(a1.logFile, "utf8").includes("node status written again") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(a1.logFile, "utf8")).toContain("node status written again");
    // One warning for the whole outage, however many ticks failed.
    expect(warnings()).toBe(1);
  }, 60_000);
});
