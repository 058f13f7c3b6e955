/**
 * trellis-node's IPAM against the real kube-apiserver and etcd
 * (lab/controlplane, TLS and RBAC on), whatever TRELLIS_TEST_CONTROL_PLANE
 * says: concurrent CNI ADDs get distinct addresses and their DELs release
 * everything (`trellisctl ipam check` clean); etcd or kube-apiserver killed
 * for 10 s in the middle of a burst loses nothing and leaks nothing (every
 * ADD either succeeded with a unique address or failed with a CNI error and
 * holds no allocation, and the failed ones succeed when retried); and the
 * real server rejects a Trellis object that violates its CRD schema, naming
 * the field.
 */
import { describe, expect, it } from "@jest/globals";
import { type AgentProc, type CniAnswer, TestBed, cniSocket, podCall } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";
import { until } from "../support/until.js";

const bed = new TestBed("rB", "real");
let a1: AgentProc;
let a2: AgentProc;

useTestBed(bed, async () => {
  await bed.createPool("burst-v4", { cidr: "10.74.0.0/16", blockSize: 26 });
  await bed.createPool("burst-v6", { cidr: "fd00:74::/64", blockSize: 122 });
  // Node objects, as the cluster has them: `ipam check` reports allocations of nodes that do not exist.
  for (const name of ["burst-1", "burst-2"]) await bed.core.createNode({ body: { metadata: { name } } });
  const n1 = await bed.addNode();
  const n2 = await bed.addNode();
  a1 = await bed.startAgent("burst-1", n1.netns);
  a2 = await bed.startAgent("burst-2", n2.netns);
});

const add = (a: AgentProc, id: string, netns: string): Promise<CniAnswer> =>
  cniSocket(a.socket, podCall("ADD", a, id, netns));
const del = (a: AgentProc, id: string, netns: string): Promise<CniAnswer> =>
  cniSocket(a.socket, podCall("DEL", a, id, netns));
const addresses = (r: CniAnswer): string[] =>
  ((r.json["ips"] as { address: string }[] | undefined) ?? []).map((x) => x.address);

/** Handles (containerID.eth0, one per pod: its v4 and v6 addresses) whose containerID starts with `prefix`. */
async function held(prefix: string): Promise<string[]> {
  const handles = [...(await bed.allocations()).values()].map((a) => a.handle);
  return [...new Set(handles.filter((h) => h.startsWith(prefix)))].sort();
}

async function ipamCheckClean(): Promise<void> {
  const r = await bed.cli("ipam", "check", "-o", "json");
  expect((JSON.parse(r.out) as { findings: unknown[] }).findings).toEqual([]);
  expect(r.code).toBe(0);
}

const pods = (tag: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => bed.netnsName(`${tag}${i}`));

describe("IPAM on the real API server", () => {
  it("100 concurrent ADDs on one node give 100 distinct addresses; the DELs release them all", async () => {
    const ns = pods("o", 100);
    await bed.addNetns(ns);
    const rs = await Promise.all(ns.map((p, i) => add(a1, `one${i}`, p)));
    expect(rs.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    expect(new Set(rs.flatMap(addresses)).size).toBe(200); // v4 + v6 each
    // An ADD answers from the node's reservations; the block's write follows it (agent/ipam/reservations.ts).
    await until(
      "the 100 allocations written to their blocks",
      async () => (await held("one")).length === 100,
      30_000,
    );
    expect(await held("one")).toHaveLength(100);
    const ds = await Promise.all(ns.map((p, i) => del(a1, `one${i}`, p)));
    expect(ds.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    await bed.delNetns(ns);
    expect(await held("one")).toEqual([]);
    await ipamCheckClean();
  }, 180_000);

  it("2 × 50 concurrent ADDs on two nodes sharing the pools give 100 distinct addresses; the DELs release them all", async () => {
    const p1 = pods("x", 50);
    const p2 = pods("y", 50);
    await bed.addNetns([...p1, ...p2]);
    const rs = await Promise.all([
      ...p1.map((p, i) => add(a1, `two-a${i}`, p)),
      ...p2.map((p, i) => add(a2, `two-b${i}`, p)),
    ]);
    expect(rs.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    expect(new Set(rs.flatMap(addresses)).size).toBe(200);
    const ds = await Promise.all([
      ...p1.map((p, i) => del(a1, `two-a${i}`, p)),
      ...p2.map((p, i) => del(a2, `two-b${i}`, p)),
    ]);
    expect(ds.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    await bed.delNetns([...p1, ...p2]);
    expect(await held("two-")).toEqual([]);
    await ipamCheckClean();
  }, 180_000);

  /**
   * 60 ADDs on two nodes, started 25 ms apart (1.5 s), `component` killed
   * 300 ms in and back 10 s later.
   */
  async function burstThroughOutage(component: "etcd" | "kube-apiserver", tag: string): Promise<void> {
    const ns = pods(tag, 60);
    await bed.addNetns(ns);
    const agentOf = (i: number): AgentProc => (i % 2 === 0 ? a1 : a2);
    const burst = ns.map((p, i) =>
      new Promise((r) => setTimeout(r, i * 25)).then(() => add(agentOf(i), `${tag}${i}`, p)),
    );
    await new Promise((r) => setTimeout(r, 300));
    await bed.outage(component, 10_000);
    const rs = await Promise.all(burst);
    const ok = rs.flatMap((r, i) => (r.exitCode === 0 ? [i] : []));
    const failed = rs.flatMap((r, i) => (r.exitCode !== 0 ? [i] : []));
    // A failure is a CNI error (spec: code and msg), never a crash or a hang.
    for (const i of failed) {
      expect(rs[i]?.json).toEqual(
        expect.objectContaining({ code: expect.any(Number), msg: expect.any(String) }),
      );
    }
    // Nothing lost, nothing leaked: exactly the ADDs that succeeded hold addresses, all distinct.
    const okAddrs = ok.flatMap((i) => addresses(rs[i] as CniAnswer));
    expect(new Set(okAddrs).size).toBe(okAddrs.length);
    // (A failed ADD whose write landed all the same is released by the agent once the server is
    // back: its rollback is retried with backoff, at most 8 s apart.)
    const want = ok.map((i) => `${tag}${i}.eth0`).sort();
    const now = await until(
      "only the successful ADDs hold addresses",
      async () => {
        const h = await held(tag);
        return JSON.stringify(h) === JSON.stringify(want) ? h : undefined;
      },
      30_000,
      500,
    ).catch(() => held(tag));
    expect(now).toEqual(want);
    // The failed ones, retried, all succeed; every address in the burst is still unique.
    const retried = await Promise.all(failed.map((i) => add(agentOf(i), `${tag}${i}`, ns[i] ?? "")));
    expect(retried.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    const all = [...okAddrs, ...retried.flatMap(addresses)];
    expect(all).toHaveLength(120);
    expect(new Set(all).size).toBe(120);
    console.log(
      `${component} outage: ${ok.length} ADDs succeeded through it, ${failed.length} failed and succeeded on retry`,
    );
    const ds = await Promise.all(ns.map((p, i) => del(agentOf(i), `${tag}${i}`, p)));
    expect(ds.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    await bed.delNetns(ns);
    expect(await held(tag)).toEqual([]);
    await ipamCheckClean();
  }

  it("etcd killed for 10 s in the middle of a burst: nothing lost, nothing leaked", async () => {
    await burstThroughOutage("etcd", "e");
  }, 240_000);

  it("kube-apiserver killed for 10 s in the middle of a burst: nothing lost, nothing leaked", async () => {
    await burstThroughOutage("kube-apiserver", "k");
  }, 240_000);
});

describe("CRD schemas on the real API server", () => {
  const create = async (plural: string, kind: string, spec: Record<string, unknown>): Promise<string> => {
    try {
      await bed.custom.createClusterCustomObject({
        group: "trellis.dev",
        version: "v1alpha1",
        plural,
        body: { apiVersion: "trellis.dev/v1alpha1", kind, metadata: { name: `bad-${plural}` }, spec },
      });
    } catch (e) {
      const err = e as { code?: number; body?: unknown };
      expect(err.code).toBe(422);
      return typeof err.body === "string" ? err.body : JSON.stringify(err.body);
    }
    throw new Error(`the ${kind} was accepted`);
  };

  it("an IPPool with a blockSize out of range is rejected with 422 naming spec.blockSize", async () => {
    const body = await create("ippools", "IPPool", { cidr: "10.75.0.0/16", blockSize: 8 });
    expect(body).toMatch(/spec\.blockSize/);
  });

  it("a BGPPeer with a string for asNumber is rejected with 422 naming spec.asNumber", async () => {
    const body = await create("bgppeers", "BGPPeer", { peerIP: "10.0.0.1", asNumber: "sixty-five" });
    expect(body).toMatch(/spec\.asNumber/);
  });
});
