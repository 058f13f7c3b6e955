/**
 * The IPAM shell against the real lab API server through client-node:
 * compare-and-swap under contention, batching, claims that two nodes race
 * for, borrowing, dual stack, specific addresses and release by handle.
 */
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { type IPPool, validatePool } from "../../crds/ipam.js";
import { type PoolView, poolView } from "../../agent/ipam/block-allocator.js";
import { KubeIpamApi } from "../../agent/ipam/ipam-api.js";
import { KubeClient } from "../../agent/k8s/kube-client.js";
import { IpamService } from "../../agent/ipam/ipam-service.js";
import { TestBed } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";

const bed = new TestBed("is");
const log = pino({ level: "silent" });

async function poolsNow(api: KubeIpamApi): Promise<PoolView[]> {
  const out: PoolView[] = [];
  for (const p of await api.listPools()) {
    const v = validatePool(p);
    if (!v.ok) continue;
    const pv = poolView(v.pool);
    if (typeof pv !== "string") out.push(pv);
  }
  return out;
}

function service(
  node: string,
  pools: () => PoolView[],
  writes?: Map<string, number>,
  strict = false,
): IpamService {
  return new IpamService({
    api: new KubeIpamApi(KubeClient.fromFile(bed.kubeconfig)),
    node: () => ({ name: node, labels: {}, strictAffinity: strict }),
    pools,
    log,
    onWrite: (w) => writes?.set(w, (writes.get(w) ?? 0) + 1),
  });
}

function req(handle: string, poolNames: { 4?: string[]; 6?: string[] }, requestedIps: string[] = []) {
  return {
    handle,
    requestedIps,
    poolNames: { 4: poolNames[4] ?? [], 6: poolNames[6] ?? [] },
    namespaceLabels: {},
    attributes: { containerID: handle.split(".")[0] ?? handle, ifname: "eth0" },
  };
}

let pools: PoolView[] = [];

useTestBed(bed, async () => {
  await bed.createPool("shared", { cidr: "10.60.0.0/24", blockSize: 28 });
  await bed.createPool("tiny", { cidr: "10.61.0.0/27", blockSize: 28 });
  await bed.createPool("v6", { cidr: "fd00:61::/120", blockSize: 124 });
  await bed.createPool("batch", { cidr: "10.62.0.0/24", blockSize: 26 });
  pools = await poolsNow(new KubeIpamApi(KubeClient.fromFile(bed.kubeconfig)));
});

describe("IPAM over the API server", () => {
  it("two nodes × 50 concurrent allocations on one pool give 100 distinct addresses, blocks never shared", async () => {
    const a = service("node-a", () => pools);
    const b = service("node-b", () => pools);
    await Promise.all([a.load(), b.load()]);
    const results = await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => a.allocate(req(`a${i}.eth0`, { 4: ["shared"] }))),
      ...Array.from({ length: 50 }, (_, i) => b.allocate(req(`b${i}.eth0`, { 4: ["shared"] }))),
    ]);
    const addrs = results.map((r) => r[0]?.address);
    expect(new Set(addrs).size).toBe(100);
    const stored = await bed.allocations();
    for (const [i, addr] of addrs.entries()) {
      expect(stored.get(addr ?? "")?.handle).toBe(i < 50 ? `a${i}.eth0` : `b${i - 50}.eth0`);
    }
    // Each /28 block is claimed by exactly one node and has exactly one affinity.
    const blocks = await bed.list("ipamblocks");
    const affinities = await bed.list("blockaffinities");
    const shared = blocks.filter((x) => x.spec["pool"] === "shared");
    expect(shared.length).toBeGreaterThanOrEqual(7);
    for (const blk of shared) {
      const owner = String(blk.spec["affinity"]).replace("host:", "");
      const mine = affinities.filter((x) => x.spec["cidr"] === blk.spec["cidr"]);
      expect(mine.map((x) => x.spec["node"])).toEqual([owner]);
      expect(mine[0]?.spec["state"]).toBe("confirmed");
    }
  });

  it("batches a burst: 60 concurrent allocations cost far fewer than 60 block writes", async () => {
    const writes = new Map<string, number>();
    const s = service("node-c", () => pools, writes);
    await s.load();
    const r = await Promise.all(
      Array.from({ length: 60 }, (_, i) => s.allocate(req(`c${i}.eth0`, { 4: ["batch"] }))),
    );
    expect(new Set(r.map((x) => x[0]?.address)).size).toBe(60);
    // One claim (block create) plus a handful of CAS writes, not 60.
    expect(writes.get("block") ?? 0).toBeLessThanOrEqual(6);
  });

  it("retries after a 409: a stale cache loses the compare-and-swap and is re-read", async () => {
    const w1 = new Map<string, number>();
    const s1 = service("node-d", () => pools, w1);
    await s1.load();
    const first = await s1.allocate(req("d1.eth0", { 4: ["batch"] }));
    // A second writer (same node name, separate cache) now changes the block behind s1's back.
    const s2 = service("node-d", () => pools);
    await s2.load();
    const second = await s2.allocate(req("d2.eth0", { 4: ["batch"] }));
    // s1's cache is stale: it plans the ordinal s2 took, gets 409, re-reads, re-plans.
    const before = w1.get("block") ?? 0;
    const third = await s1.allocate(req("d3.eth0", { 4: ["batch"] }));
    // One write lost to the 409, one won after re-reading.
    expect((w1.get("block") ?? 0) - before).toBe(2);
    const all = [first[0]?.address, second[0]?.address, third[0]?.address];
    expect(new Set(all).size).toBe(3);
    const stored = await bed.allocations();
    expect(stored.get(third[0]?.address ?? "")?.handle).toBe("d3.eth0");
    expect(stored.get(second[0]?.address ?? "")?.handle).toBe("d2.eth0");
  });

  it("borrows from another node's block when the pool has no free block, unless strict", async () => {
    // tiny: 2 blocks of 16. node-e takes both blocks' worth; node-f must borrow.
    const e = service("node-e", () => pools);
    await e.load();
    await Promise.all(Array.from({ length: 20 }, (_, i) => e.allocate(req(`e${i}.eth0`, { 4: ["tiny"] }))));
    const strict = service("node-f", () => pools, undefined, true);
    await strict.load();
    await expect(strict.allocate(req("f0.eth0", { 4: ["tiny"] }))).rejects.toThrow(
      /no free IPv4 address in pool\(s\) tiny/,
    );
    const f = service("node-f", () => pools);
    await f.load();
    const got = await f.allocate(req("f1.eth0", { 4: ["tiny"] }));
    const stored = await bed.allocations();
    const where = stored.get(got[0]?.address ?? "");
    expect(where?.handle).toBe("f1.eth0");
    expect(where?.node).toBe("node-f");
    const blk = (await bed.list("ipamblocks")).find((x) => x.metadata.name === where?.block);
    expect(blk?.spec["affinity"]).toBe("host:node-e");
  });

  it("dual stack gives both families; releasing by handle frees both", async () => {
    const s = service("node-g", () => pools);
    await s.load();
    const r = await s.allocate(req("g1.eth0", { 4: ["batch"], 6: ["v6"] }));
    expect(r.map((x) => x.family).sort()).toEqual([4, 6]);
    expect(await s.release(["g1.eth0"])).toBe(2);
    const stored = await bed.allocations();
    for (const x of r) expect(stored.has(x.address)).toBe(false);
  });

  it("dual stack is both or neither: a failing family allocates nothing", async () => {
    const s = service("node-g", () => pools);
    await s.load();
    const before = (await bed.allocations()).size;
    await expect(s.allocate(req("g2.eth0", { 4: ["batch"], 6: ["nope"] }))).rejects.toThrow(/pool "nope"/);
    expect((await bed.allocations()).size).toBe(before);
  });

  it("assigns a specific address, claiming its block, and refuses it twice", async () => {
    const s = service("node-h", () => pools);
    await s.load();
    const r = await s.allocate(req("h1.eth0", {}, ["10.60.0.250"]));
    expect(r[0]?.address).toBe("10.60.0.250");
    await expect(s.allocate(req("h2.eth0", {}, ["10.60.0.250"]))).rejects.toThrow(/already in use/);
  });

  it("releases an empty block and its affinity", async () => {
    const s = service("node-i", () => pools);
    await s.load();
    const r = await s.allocate(req("i1.eth0", { 4: ["batch"] }));
    const name = r[0]?.block ?? "";
    expect(await s.releaseBlock(name)).toBe(false); // not empty yet
    await s.release(["i1.eth0"]);
    expect(await s.releaseBlock(name)).toBe(true);
    expect((await bed.list("ipamblocks")).some((b) => b.metadata.name === name)).toBe(false);
    expect((await bed.list("blockaffinities")).some((a) => a.spec["node"] === "node-i")).toBe(false);
  });

  it("rejects a pool with a bad CIDR, with the reason", async () => {
    const bad: IPPool = { metadata: { name: "bad" }, spec: { cidr: "10.70.0.1/16" } };
    await bed.createPool("bad", bad.spec).catch(() => undefined); // the API may or may not accept it
    const fromApi = (await new KubeIpamApi(KubeClient.fromFile(bed.kubeconfig)).listPools()).find(
      (p) => p.metadata.name === "bad",
    );
    const v = validatePool(fromApi ?? bad);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(/"10\.70\.0\.1\/16" has host bits set/);
    const s = service("node-j", () => pools);
    await s.load();
    await expect(s.allocate(req("j1.eth0", { 4: ["bad"] }))).rejects.toThrow(
      /pool "bad" \(from annotation\) does not exist/,
    );
  });
});
