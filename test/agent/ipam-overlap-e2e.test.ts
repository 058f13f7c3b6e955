/**
 * Issue 14, the lab bug end to end: trellis-node in a node namespace, the
 * lab API server, real CNI ADDs over the agent socket, trellisctl.
 *   - a /24-block pool over the range of the running /26-block pool, and a
 *     v6 /48 over the running v6 pool, are INVALID (ipam show, metrics);
 *     pods annotated with them fail ADD with code 7 naming the older pool;
 *     running pods keep their addresses; ipam check finds nothing;
 *   - pools that overlap only partially (one containing the older pool, one
 *     inside it) are INVALID too;
 *   - once the older pool is deleted, the newer one is valid, but its block
 *     overlaps (partially) the deleted pool's block that running pods still
 *     use: ADD fails naming that block, ipam show reports "pool deleted,
 *     N in use"; when those pods go, the empty block is released and the
 *     newer pool allocates;
 *   - a pending block (a claim a crash interrupted) is deleted by its own
 *     agent at start.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { type AgentProc, TestBed, cniSocket, k8sArgs, podCall } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";
import { until as waitUntil } from "../support/until.js";

const bed = new TestBed("Iov");
let agent: AgentProc;
let nodeNs = "";
const NS = "apps";

const cli = (...args: string[]) => bed.cli(...args);

interface ShowJson {
  pools: { name: string; valid: boolean; reason?: string; deleted: boolean; status: string; inUse: number }[];
  blocks: { cidr: string; pool: string; status: string }[];
}

async function show(): Promise<ShowJson> {
  const r = await cli("ipam", "show", "-o", "json");
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as ShowJson;
}

async function pod(name: string, annotations: Record<string, string> = {}): Promise<void> {
  await bed.createPod(NS, name, "node-1", annotations);
}

const call = (command: "ADD" | "DEL", name: string) =>
  cniSocket(agent.socket, podCall(command, agent, `id-${name}`, bed.netnsName(name), k8sArgs(NS, name)));
const add = (name: string) => call("ADD", name);
const del = (name: string) => call("DEL", name);

const until = <T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> =>
  waitUntil(what, f, timeoutMs, 200);

/** The agent has seen the pool set (its metric lists exactly these rejected pools). */
async function agentRejects(pools: string[]): Promise<string> {
  return until(`the agent to reject exactly ${pools.join(", ") || "nothing"}`, async () => {
    const m = await bed.httpInNode(nodeNs, agent.metricsPort, "/metrics");
    const rejected = [...m.body.matchAll(/^trellis_ipam_pool_rejected\{pool="([^"]+)"/gm)].map((x) => x[1]);
    return rejected.sort().join() === [...pools].sort().join() ? m.body : undefined;
  });
}

const ips = (r: { json: Record<string, unknown> }): string[] =>
  ((r.json["ips"] as { address: string }[] | undefined) ?? []).map((x) => x.address.split("/")[0] ?? "");

useTestBed(bed, async () => {
  await bed.createPool("default-ipv4", { cidr: "10.244.1.0/24", blockSize: 26 });
  await bed.createPool("default-ipv6", { cidr: "fd00:10:244:1::/120", blockSize: 122 });
  await bed.core.createNamespace({ body: { metadata: { name: NS } } });
  await bed.core.createNode({ body: { metadata: { name: "node-1" } } });
  const node = await bed.addNode();
  nodeNs = node.netns;
  await bed.addNetns(["a", "b", "w4", "w6", "later"].map((n) => bed.netnsName(n)));
  agent = await bed.startAgent("node-1", node.netns, { leakCheckIntervalSeconds: 1 });
});

describe("overlapping pools (issue 14)", () => {
  let running: Record<string, string[]> = {};

  it("running pods get addresses from the lab's pools", async () => {
    await pod("a");
    await pod("b");
    const ra = await add("a");
    const rb = await add("b");
    expect(ra.exitCode).toBe(0);
    expect(rb.exitCode).toBe(0);
    running = { a: ips(ra), b: ips(rb) };
    expect(running["a"]).toEqual(["10.244.1.1", "fd00:10:244:1::1"]);
    expect(running["b"]).toEqual(["10.244.1.2", "fd00:10:244:1::2"]);
  });

  it("a /24-block pool over the same /24 and a v6 /48 over the v6 pool are INVALID, naming the older pool", async () => {
    await bed.createPool("wide24", { cidr: "10.244.1.0/24", blockSize: 24 });
    await bed.createPool("wide6", { cidr: "fd00:10:244::/48", blockSize: 122 });
    const s = await show();
    expect(s.pools.find((p) => p.name === "wide24")).toMatchObject({
      valid: false,
      status: "INVALID: overlaps the older pool default-ipv4 (10.244.1.0/24)",
    });
    expect(s.pools.find((p) => p.name === "wide6")).toMatchObject({
      valid: false,
      status: "INVALID: overlaps the older pool default-ipv6 (fd00:10:244:1::/120)",
    });
    expect(s.pools.find((p) => p.name === "default-ipv4")).toMatchObject({ valid: true, status: "VALID" });
    // Columns: block size, disabled, blocks, in use, reserved, capacity, status.
    const table = await cli("ipam", "show");
    expect(table.out).toMatch(
      /wide24\s+10\.244\.1\.0\/24\s+24\s+false\s+0\s+0\s+0\s+0\s+INVALID: overlaps the older pool default-ipv4/,
    );
    const metrics = await agentRejects(["wide24", "wide6"]);
    expect(metrics).toMatch(/^trellis_ipam_pools_rejected 2$/m);
    expect(metrics).toContain(
      'trellis_ipam_pool_rejected{pool="wide24",reason="overlaps the older pool default-ipv4 (10.244.1.0/24)"} 1',
    );
    // Logged once per change, not per allocation.
    const logged = readFileSync(agent.logFile, "utf8")
      .split("\n")
      .filter((l) => l.includes("IPPool rejected") && l.includes('"pool":"wide24"'));
    expect(logged).toHaveLength(1);
  });

  it.each([
    [
      "wide24",
      "trellis.dev/ipv4pools",
      'IPv4 pool "wide24" (from annotation) is invalid: overlaps the older pool default-ipv4 (10.244.1.0/24)',
    ],
    [
      "wide6",
      "trellis.dev/ipv6pools",
      'IPv6 pool "wide6" (from annotation) is invalid: overlaps the older pool default-ipv6 (fd00:10:244:1::/120)',
    ],
  ])("a pod annotated with %s fails ADD with code 7 naming the overlap", async (pool, key, msg) => {
    const name = pool === "wide24" ? "w4" : "w6";
    await pod(name, { [key]: JSON.stringify([pool]) });
    const before = await bed.allocations();
    const r = await add(name);
    expect(r.exitCode).toBe(1);
    expect(r.json["code"]).toBe(7);
    expect(r.json["msg"]).toBe(`trellis-ipam: ${msg}`);
    expect([...(await bed.allocations()).keys()].sort()).toEqual([...before.keys()].sort());
  });

  it("running pods keep their addresses, and ipam check finds nothing", async () => {
    const held = await bed.podAllocations();
    for (const [p, addrs] of Object.entries(running))
      for (const a of addrs) expect(held.get(a)).toBe(`id-${p}.eth0`);
    expect(held.size).toBe(4);
    const c = await cli("ipam", "check");
    expect(c.out).toBe("no problems found\n");
    expect(c.code).toBe(0);
  });

  it("pools that overlap the older one only partially are INVALID as well", async () => {
    await bed.createPool("around", { cidr: "10.244.0.0/23", blockSize: 23 });
    await bed.createPool("inside", { cidr: "10.244.1.128/25", blockSize: 28 });
    const s = await show();
    expect(s.pools.find((p) => p.name === "around")?.status).toBe(
      "INVALID: overlaps the older pool default-ipv4 (10.244.1.0/24)",
    );
    expect(s.pools.find((p) => p.name === "inside")?.status).toBe(
      "INVALID: overlaps the older pool default-ipv4 (10.244.1.0/24)",
    );
    await agentRejects(["around", "inside", "wide24", "wide6"]);
    await bed.custom.deleteClusterCustomObject({
      group: "trellis.dev",
      version: "v1alpha1",
      plural: "ippools",
      name: "around",
    });
    await bed.custom.deleteClusterCustomObject({
      group: "trellis.dev",
      version: "v1alpha1",
      plural: "ippools",
      name: "inside",
    });
  });

  it("deleting the older pool makes the newer valid; its /24 block partially overlaps the deleted pool's /26, which pods still use", async () => {
    await bed.custom.deleteClusterCustomObject({
      group: "trellis.dev",
      version: "v1alpha1",
      plural: "ippools",
      name: "default-ipv4",
    });
    await agentRejects(["wide6"]);
    const s = await show();
    expect(s.pools.find((p) => p.name === "wide24")).toMatchObject({ valid: true, status: "VALID" });
    expect(s.pools.find((p) => p.name === "default-ipv4")).toMatchObject({
      deleted: true,
      status: "pool deleted, 2 in use",
      inUse: 2,
    });
    expect(s.blocks.find((b) => b.cidr === "10.244.1.0/26")?.status).toBe("pool deleted, 2 in use");
    const r = await add("w4");
    expect(r.exitCode).toBe(1);
    expect(r.json["code"]).toBe(11);
    expect(r.json["msg"]).toContain(
      "block 10.244.1.0/24 of pool wide24 overlaps block 10.244.1.0/26 of pool default-ipv4 held by node-1",
    );
    // Running pods still hold their addresses.
    expect((await bed.allocations()).get("10.244.1.1")?.handle).toBe("id-a.eth0");
  });

  it("when the pods go, the deleted pool's empty block is released and the newer pool allocates", async () => {
    expect((await del("a")).exitCode).toBe(0);
    expect((await del("b")).exitCode).toBe(0);
    await until("the deleted pool's block to be released", async () =>
      (await bed.list("ipamblocks")).some((b) => b.spec["pool"] === "default-ipv4") ? undefined : true,
    );
    // The agent logs once its delete returns: the block can be gone before the line is written.
    await until("the release to be logged", async () =>
      readFileSync(agent.logFile, "utf8").includes("released empty block of a deleted or invalid pool")
        ? true
        : undefined,
    );
    expect(readFileSync(agent.logFile, "utf8")).toContain(
      "released empty block of a deleted or invalid pool",
    );
    const r = await add("w4");
    expect(r.exitCode).toBe(0);
    expect(ips(r)).toEqual(["10.244.1.1", "fd00:10:244:1::1"]);
    const blocks = await bed.list("ipamblocks");
    expect(blocks.find((b) => b.spec["pool"] === "wide24")?.spec).toMatchObject({
      cidr: "10.244.1.0/24",
      state: "confirmed",
      affinity: "host:node-1",
    });
    const c = await cli("ipam", "check");
    expect(c.out).toBe("no problems found\n");
  });

  it("a pending claim a crash left behind is deleted by its own agent at start", async () => {
    await bed.stopAgent(agent, "SIGKILL");
    await bed.custom.createClusterCustomObject({
      group: "trellis.dev",
      version: "v1alpha1",
      plural: "ipamblocks",
      body: {
        apiVersion: "trellis.dev/v1alpha1",
        kind: "IPAMBlock",
        metadata: { name: "fd00-10-244-1--40-122" },
        spec: {
          cidr: "fd00:10:244:1::40/122",
          pool: "default-ipv6",
          affinity: "host:node-1",
          state: "pending",
          allocations: [],
        },
      },
    });
    agent = await bed.startAgent("node-1", nodeNs, { leakCheckIntervalSeconds: 1 });
    expect((await bed.list("ipamblocks")).map((b) => b.metadata.name)).not.toContain("fd00-10-244-1--40-122");
    expect(readFileSync(agent.logFile, "utf8")).toContain("deleted a pending block its claimer left behind");
    const c = await cli("ipam", "check");
    expect(c.out).toBe("no problems found\n");
  });
});
