/**
 * `trellisctl ipam show|check|release` against the lab API server: usage,
 * each kind of finding, and release freeing exactly what check reported.
 */
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { type PoolView, poolView } from "../../agent/ipam/block-allocator.js";
import { KubeIpamApi } from "../../agent/ipam/ipam-api.js";
import { KubeClient } from "../../agent/k8s/kube-client.js";
import { IpamService } from "../../agent/ipam/ipam-service.js";
import { validatePool } from "../../crds/ipam.js";
import { TestBed } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";

const bed = new TestBed("ic");

const cli = (...args: string[]) => bed.cli(...args);

useTestBed(bed, async () => {
  await bed.createPool("cli-v4", { cidr: "10.77.0.0/24", blockSize: 28 });
  const pools: PoolView[] = [];
  for (const p of await new KubeIpamApi(KubeClient.fromFile(bed.kubeconfig)).listPools()) {
    const v = validatePool(p);
    if (v.ok) {
      const pv = poolView(v.pool);
      if (typeof pv !== "string") pools.push(pv);
    }
  }
  await bed.core.createNode({ body: { metadata: { name: "live-node" } } });
  await bed.core.createNamespace({ body: { metadata: { name: "apps" } } }).catch(() => undefined);
  await bed.createPod("apps", "alive", "live-node");
  const svc = (node: string): IpamService =>
    new IpamService({
      api: new KubeIpamApi(KubeClient.fromFile(bed.kubeconfig)),
      node: () => ({ name: node, labels: {}, strictAffinity: false }),
      pools: () => pools,
      log: pino({ level: "silent" }),
    });
  const live = svc("live-node");
  await live.load();
  const attrs = (pod: string, id: string) => ({
    handle: `${id}.eth0`,
    requestedIps: [],
    poolNames: { 4: ["cli-v4"], 6: [] },
    namespaceLabels: {},
    attributes: { namespace: "apps", pod, containerID: id, ifname: "eth0" },
  });
  await live.allocate(attrs("alive", "c-alive"));
  await live.allocate(attrs("vanished", "c-vanished"));
  // A node that no longer exists still owns a block.
  const dead = svc("dead-node");
  await dead.load();
  await dead.allocate(attrs("alive", "c-dead"));
  // An affinity without a block.
  await bed.custom.createClusterCustomObject({
    group: "trellis.dev",
    version: "v1alpha1",
    plural: "blockaffinities",
    body: {
      apiVersion: "trellis.dev/v1alpha1",
      kind: "BlockAffinity",
      metadata: { name: "live-node-10-77-0-240-28" },
      spec: { node: "live-node", cidr: "10.77.0.240/28", state: "confirmed" },
    },
  });
});

describe("trellisctl ipam", () => {
  it("show lists pools and blocks with usage", async () => {
    const r = await cli("ipam", "show", "-o", "json");
    expect(r.code).toBe(0);
    const u = JSON.parse(r.out) as {
      pools: { name: string; inUse: number; blocks: number }[];
      blocks: { node: string }[];
    };
    expect(u.pools).toEqual([expect.objectContaining({ name: "cli-v4", inUse: 3, blocks: 2 })]);
    expect(u.blocks.map((b) => b.node).sort()).toEqual(["dead-node", "live-node"]);
    const t = await cli("ipam", "show");
    expect(t.out).toMatch(/^POOL\s+CIDR/m);
    expect(t.out).toMatch(/10\.77\.0\.0\/28\s+cli-v4\s+live-node\s+2\/16/);
  });

  it("check reports the pod that is gone, the dead node's allocation and block, the orphan affinity (exit 1)", async () => {
    const r = await cli("ipam", "check", "-o", "json");
    expect(r.code).toBe(1);
    const f = (JSON.parse(r.out) as { findings: { kind: string; handle?: string }[] }).findings;
    expect(f.map((x) => `${x.kind}:${x.handle ?? ""}`).sort()).toEqual([
      "node-missing:c-dead.eth0",
      "orphan-affinity:",
      "orphan-block:",
      "pod-missing:c-vanished.eth0",
    ]);
    expect(r.err).toMatch(/4 problem\(s\) found/);
  });

  it("release --yes frees exactly what check reported; check is then clean", async () => {
    const r = await cli("ipam", "release", "--yes", "-o", "json");
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out) as {
      released: number;
      blocksDeleted: string[];
      affinitiesDeleted: string[];
    };
    expect(res.released).toBe(2);
    expect(res.blocksDeleted).toEqual(["10-77-0-16-28"]);
    expect(res.affinitiesDeleted.sort()).toEqual(["dead-node-10-77-0-16-28", "live-node-10-77-0-240-28"]);
    const after = await cli("ipam", "check");
    expect(after.code).toBe(0);
    expect(after.out).toBe("no problems found\n");
    const held = [...(await bed.allocations()).values()].map((a) => a.handle);
    expect(held).toEqual(["c-alive.eth0"]);
  });

  it("check names a pool the agents reject, with the reason", async () => {
    await bed.createPool("bad-pool", { cidr: "10.78.0.1/24" });
    const r = await cli("ipam", "check", "-o", "json");
    expect(r.code).toBe(1);
    const f = (JSON.parse(r.out) as { findings: { kind: string; message: string }[] }).findings;
    expect(f).toEqual([
      {
        kind: "invalid-pool",
        message:
          'pool bad-pool is rejected: spec.cidr: "10.78.0.1/24" has host bits set (the network is 10.78.0.0/24)',
      },
    ]);
    const show = JSON.parse((await cli("ipam", "show", "-o", "json")).out) as {
      pools: { name: string; valid: boolean }[];
    };
    expect(show.pools.find((p) => p.name === "bad-pool")?.valid).toBe(false);
  });

  it("a bad output format is a usage error (exit 2)", async () => {
    expect((await cli("ipam", "show", "-o", "yaml")).code).toBe(2);
  });
});
