import { describe, expect, it } from "@jest/globals";
import type { IPAMBlock, IPPool } from "../../../crds/ipam.js";
import {
  type AllocationRequest,
  type BlockView,
  type NodeView,
  type PoolView,
  blockView,
  eligiblePools,
  firstFreeBlock,
  gcHandles,
  parseList,
  planFamily,
  planRequest,
  poolNamesFromAnnotations,
  poolView,
} from "../block-allocator.js";

function pool(name: string, cidr: string, extra: Partial<IPPool["spec"]> = {}): PoolView {
  const v = poolView({ metadata: { name }, spec: { cidr, ...extra } });
  if (typeof v === "string") throw new Error(v);
  return v;
}

function block(
  cidr: string,
  poolName: string,
  node: string | undefined,
  used: [number, string][] = [],
): BlockView {
  const b: IPAMBlock = {
    metadata: { name: cidr.replace(/[^0-9a-z]/g, "-") },
    spec: {
      cidr,
      pool: poolName,
      ...(node !== undefined ? { affinity: `host:${node}` } : {}),
      allocations: used.map(([ordinal, handle]) => ({ ordinal, handle })),
    },
  };
  const v = blockView(b);
  if (v === undefined) throw new Error("bad block");
  return v;
}

const nodeA: NodeView = { name: "a", labels: { zone: "z1" }, strictAffinity: false };
function req(extra: Partial<AllocationRequest> = {}): AllocationRequest {
  return {
    handle: "c1.eth0",
    requestedIps: [],
    poolNames: { 4: undefined, 6: undefined },
    namespaceLabels: {},
    ...extra,
  };
}

describe("block allocator: order of preference", () => {
  const p4 = pool("default-v4", "10.244.0.0/16");

  it("takes the lowest free ordinal of this node's affine block first", () => {
    const blocks = [
      block("10.244.0.0/26", "default-v4", "a", [
        [0, "x"],
        [1, "y"],
        [3, "z"],
      ]),
    ];
    expect(planFamily([p4], blocks, nodeA, req(), 4)).toEqual({
      kind: "assign",
      family: 4,
      block: "10-244-0-0-26",
      ordinal: 2,
      address: "10.244.0.2",
      prefix: 32,
    });
  });

  it("prefers the affine block with the lowest CIDR", () => {
    const blocks = [block("10.244.0.128/26", "default-v4", "a"), block("10.244.0.64/26", "default-v4", "a")];
    const p = planFamily([p4], blocks, nodeA, req(), 4);
    expect(p.kind === "assign" && p.address).toBe("10.244.0.64");
  });

  it("claims the lowest unclaimed block when the affine blocks are full", () => {
    const full = Array.from({ length: 64 }, (_, i) => [i, `h${i}`] as [number, string]);
    const blocks = [
      block("10.244.0.0/26", "default-v4", "a", full),
      block("10.244.0.64/26", "default-v4", "b"),
    ];
    expect(planFamily([p4], blocks, nodeA, req(), 4)).toEqual({
      kind: "claim",
      family: 4,
      pool: "default-v4",
      cidr: "10.244.0.128/26",
      affine: true,
    });
  });

  it("never hands out the pool's network address (RFC 4291 §2.6.1 anycast in IPv6) unless asked", () => {
    const v6 = pool("v6", "fd00:1::/120", { blockSize: 124 });
    expect(planFamily([v6], [block("fd00:1::/124", "v6", "a")], nodeA, req(), 6)).toMatchObject({
      ordinal: 1,
      address: "fd00:1::1",
    });
    expect(
      planFamily([v6], [block("fd00:1::/124", "v6", "a")], nodeA, req({ requestedIps: ["fd00:1::"] }), 6),
    ).toMatchObject({
      ordinal: 0,
    });
  });

  it("claims the first block when the node has none", () => {
    const p = planFamily([p4], [], nodeA, req(), 4);
    expect(p).toMatchObject({ kind: "claim", cidr: "10.244.0.0/26" });
  });

  it("never plans into another node's block while a free block exists", () => {
    const blocks = [block("10.244.0.0/26", "default-v4", "b")];
    expect(planFamily([p4], blocks, nodeA, req(), 4)).toMatchObject({
      kind: "claim",
      cidr: "10.244.0.64/26",
    });
  });

  const tiny = pool("tiny", "10.9.0.0/25"); // two /26 blocks
  const fullA = Array.from({ length: 64 }, (_, i) => [i, `a${i}`] as [number, string]);

  it("borrows from another node's block when the pool has no free block", () => {
    const blocks = [
      block("10.9.0.0/26", "tiny", "a", fullA),
      block("10.9.0.64/26", "tiny", "b", [[0, "b0"]]),
    ];
    expect(planFamily([tiny], blocks, nodeA, req(), 4)).toMatchObject({
      kind: "assign",
      block: "10-9-0-64-26",
      ordinal: 1,
      address: "10.9.0.65",
    });
  });

  it("does not borrow under strict affinity (config or pool)", () => {
    const blocks = [block("10.9.0.0/26", "tiny", "a", fullA), block("10.9.0.64/26", "tiny", "b")];
    expect(planFamily([tiny], blocks, { ...nodeA, strictAffinity: true }, req(), 4)).toMatchObject({
      kind: "error",
    });
    const strictPool = pool("tiny", "10.9.0.0/25", { strictAffinity: true });
    expect(planFamily([strictPool], blocks, nodeA, req(), 4)).toMatchObject({ kind: "error" });
  });

  it("reports exhaustion naming the pools", () => {
    const fullB = Array.from({ length: 64 }, (_, i) => [i, `b${i}`] as [number, string]);
    const blocks = [block("10.9.0.0/26", "tiny", "a", fullA), block("10.9.0.64/26", "tiny", "b", fullB)];
    expect(planFamily([tiny], blocks, nodeA, req(), 4)).toEqual({
      kind: "error",
      family: 4,
      reason: "no free IPv4 address in pool(s) tiny",
      cause: "exhausted",
    });
  });

  it("returns the address a handle already holds (a repeated ADD is idempotent)", () => {
    const blocks = [
      block("10.244.0.0/26", "default-v4", "a", [
        [0, "x"],
        [5, "c1.eth0"],
      ]),
    ];
    expect(planFamily([p4], blocks, nodeA, req(), 4)).toMatchObject({ kind: "assign", ordinal: 5 });
  });

  it("is deterministic: the same inputs give the same plan", () => {
    const blocks = [block("10.244.0.0/26", "default-v4", "a", [[0, "x"]])];
    expect(planFamily([p4], blocks, nodeA, req(), 4)).toEqual(planFamily([p4], blocks, nodeA, req(), 4));
  });
});

describe("block allocator: pool choice", () => {
  const pools = [
    pool("a-v4", "10.1.0.0/16"),
    pool("b-v4", "10.2.0.0/16", { namespaceSelector: "team=blue" }),
    pool("c-v4", "10.3.0.0/16", { nodeSelector: "zone=z2" }),
    pool("d-v4", "10.4.0.0/16", { disabled: true }),
    pool("v6", "fd00:244::/56"),
  ];
  const names = (r: ReturnType<typeof eligiblePools>): string[] | string =>
    typeof r === "string" ? r : r.map((p) => p.name);

  it.each([
    ["no selector matches everything; disabled and node-mismatched pools are skipped", {}, ["a-v4"]],
    ["a namespaceSelector admits the namespace it selects", { team: "blue" }, ["a-v4", "b-v4"]],
  ])("%s", (_name, nsLabels, want) => {
    expect(names(eligiblePools(pools, nodeA, req({ namespaceLabels: nsLabels }), 4))).toEqual(want);
  });

  it("a nodeSelector admits the nodes it selects", () => {
    expect(names(eligiblePools(pools, { ...nodeA, labels: { zone: "z2" } }, req(), 4))).toEqual([
      "a-v4",
      "c-v4",
    ]);
  });

  it("annotation pool names are used in their order, ignoring selectors", () => {
    const r = req({ poolNames: { 4: ["c-v4", "a-v4"], 6: undefined } });
    expect(names(eligiblePools(pools, nodeA, r, 4))).toEqual(["c-v4", "a-v4"]);
  });

  it("an annotation naming a missing pool or a pool of the wrong family is an error", () => {
    expect(eligiblePools(pools, nodeA, req({ poolNames: { 4: ["nope"], 6: undefined } }), 4)).toMatch(
      /does not exist/,
    );
    expect(eligiblePools(pools, nodeA, req({ poolNames: { 4: ["v6"], 6: undefined } }), 4)).toMatch(
      /not an IPv4 pool/,
    );
  });

  it("the pod's annotation wins over its namespace's", () => {
    expect(
      poolNamesFromAnnotations(
        { "trellis.dev/ipv4pools": '["p1"]' },
        { "trellis.dev/ipv4pools": "n1", "trellis.dev/ipv6pools": "n6" },
      ),
    ).toEqual({ 4: ["p1"], 6: ["n6"] });
  });

  it("parses JSON arrays and comma lists", () => {
    expect(parseList('["a", "b"]')).toEqual(["a", "b"]);
    expect(parseList("a, b c")).toEqual(["a", "b", "c"]);
    expect(parseList(undefined)).toBeUndefined();
  });
});

describe("block allocator: dual stack and specific addresses", () => {
  const pools = [pool("v4", "10.244.0.0/16"), pool("v6", "fd00:244::/56")];
  const blocks = [block("10.244.0.0/26", "v4", "a"), block("fd00:244::/122", "v6", "a", [[0, "x"]])];

  it("allocates both families when both have pools", () => {
    const r = planRequest(pools, blocks, nodeA, req());
    expect(r).toEqual([
      { kind: "assign", family: 4, block: "10-244-0-0-26", ordinal: 1, address: "10.244.0.1", prefix: 32 },
      { kind: "assign", family: 6, block: "fd00-244---122", ordinal: 1, address: "fd00:244::1", prefix: 128 },
    ]);
  });

  it("fails the whole request when one family fails (both or neither)", () => {
    const r = planRequest(pools, blocks, nodeA, req({ poolNames: { 4: undefined, 6: ["missing"] } }));
    expect(r).toEqual({ error: 'IPv6 pool "missing" (from annotation) does not exist', cause: "invalid" });
  });

  it("is an error when no pool of any family matches", () => {
    expect(planRequest([pool("d", "10.0.0.0/16", { disabled: true })], [], nodeA, req())).toEqual({
      error: "no enabled IP pool matches this pod (node, namespace or annotations)",
      cause: "exhausted",
    });
  });

  it("assigns a requested address from its block", () => {
    const r = planRequest(pools, blocks, nodeA, req({ requestedIps: ["10.244.0.7"] }));
    expect(r).toEqual([
      { kind: "assign", family: 4, block: "10-244-0-0-26", ordinal: 7, address: "10.244.0.7", prefix: 32 },
    ]);
  });

  it("claims the block holding a requested address outside every existing block", () => {
    expect(planFamily(pools, blocks, nodeA, req({ requestedIps: ["10.244.3.9"] }), 4)).toEqual({
      kind: "claim",
      family: 4,
      pool: "v4",
      cidr: "10.244.3.0/26",
      affine: true,
    });
  });

  it.each([
    ["an address in use", ["fd00:244::"], /already in use/],
    ["an address in no pool", ["192.168.1.1"], /in no IP pool/],
    ["text that is not an address", ["10.0.0.300"], /not an IP address/],
    ["two addresses of one family", ["10.244.0.1", "10.244.0.2"], /more than one IPv4/],
  ])("rejects %s", (_n, ips, re) => {
    const r = planRequest(pools, blocks, nodeA, req({ requestedIps: ips }));
    expect("error" in r && r.error).toMatch(re);
  });
});

describe("block allocator: big IPv6 pools and GC", () => {
  it("finds the first unclaimed block of a /64 without enumerating it", () => {
    const p = pool("big", "fd00::/64");
    const claimed = [block("fd00::/122", "big", "a"), block("fd00::40/122", "big", "b")];
    const c = firstFreeBlock(p, claimed).cidr;
    expect(c && c.base.toString(16)).toBe("fd000000000000000000000000000080");
  });

  it("GC keeps only the valid attachments", () => {
    const allocs = [
      { handle: "c1.eth0", containerID: "c1", ifname: "eth0" },
      { handle: "c2.eth0", containerID: "c2", ifname: "eth0" },
      { handle: "c2.net1", containerID: "c2", ifname: "net1" },
    ];
    expect(gcHandles(allocs, [{ containerID: "c2", ifname: "eth0" }])).toEqual(["c1.eth0", "c2.net1"]);
  });
});
