import { describe, expect, it } from "@jest/globals";
import type { IPAMBlock, IPPool } from "../../../crds/ipam.js";
import {
  type AllocationRequest,
  type BlockView,
  type NodeView,
  type PoolView,
  blockUnusable,
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
  state?: "pending" | "confirmed",
): BlockView {
  const b: IPAMBlock = {
    metadata: { name: cidr.replace(/[^0-9a-z]/g, "-") },
    spec: {
      cidr,
      pool: poolName,
      ...(node !== undefined ? { affinity: `host:${node}` } : {}),
      ...(state !== undefined ? { state } : {}),
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

describe("block allocator: overlapping pools and blocks", () => {
  const invalidPool = (name: string, cidr: string, reason: string, extra: Partial<IPPool["spec"]> = {}) => ({
    ...pool(name, cidr, extra),
    invalid: reason,
  });
  const wide = pool("wide24", "10.244.1.0/24", { blockSize: 24 });
  // Left behind by default-ipv4, which was deleted while node-1's pods still use it.
  const orphan = block("10.244.1.0/26", "default-ipv4", "node-1", [[1, "p1"]]);

  it("never claims a block that overlaps a known block of another size (names the block in the way)", () => {
    expect(
      planFamily([wide], [orphan], nodeA, req({ poolNames: { 4: ["wide24"], 6: undefined } }), 4),
    ).toEqual({
      kind: "error",
      family: 4,
      cause: "busy",
      reason:
        "no free IPv4 address in pool(s) wide24 (block 10.244.1.0/24 of pool wide24 overlaps block 10.244.1.0/26 of pool default-ipv4 held by node-1)",
    });
  });

  it("skips only the candidates a block overlaps partially, and claims the next", () => {
    const p25 = pool("p25", "10.244.1.0/24", { blockSize: 25 });
    const mid = block("10.244.1.64/26", "gone", "node-2");
    expect(planFamily([p25], [mid], nodeA, req(), 4)).toEqual({
      kind: "claim",
      family: 4,
      pool: "p25",
      cidr: "10.244.1.128/25",
      affine: true,
    });
    // A smaller block inside the candidate blocks it as well.
    const tiny = block("10.244.1.200/29", "gone", undefined);
    const r = planFamily([p25], [mid, tiny], nodeA, req(), 4);
    expect(r.kind === "error" && r.reason).toMatch(
      /block 10\.244\.1\.0\/25 of pool p25 overlaps block 10\.244\.1\.64\/26/,
    );
  });

  it("a pending block counts for overlap: no claim is planned over another node's claim in progress", () => {
    const p = pool("p", "10.8.0.0/24", { blockSize: 26 });
    const pend = block("10.8.0.0/26", "p", "b", [], "pending");
    const r = planFamily([p], [pend], nodeA, req(), 4);
    expect(r).toMatchObject({ kind: "claim", cidr: "10.8.0.64/26" });
  });

  it.each<[string, PoolView[], BlockView, RegExp]>([
    [
      "a pending block (even this node's)",
      [pool("p", "10.8.0.0/24", { blockSize: 26 })],
      block("10.8.0.0/26", "p", "a", [], "pending"),
      /still being claimed/,
    ],
    [
      "a block of a deleted pool",
      [pool("p", "10.8.0.0/24", { blockSize: 26 })],
      block("10.9.0.0/26", "gone", "a"),
      /pool gone, which does not exist/,
    ],
    [
      "a block of an invalid pool",
      [invalidPool("p", "10.8.0.0/24", "overlaps the older pool q (10.8.0.0/16)", { blockSize: 26 })],
      block("10.8.0.0/26", "p", "a"),
      /invalid pool p \(overlaps the older pool q/,
    ],
    [
      "a block outside its pool (the pool was re-created with another CIDR)",
      [pool("p", "10.8.1.0/24", { blockSize: 26 })],
      block("10.8.0.0/26", "p", "a"),
      /lies outside its pool p \(10\.8\.1\.0\/24\)/,
    ],
  ])("never allocates into %s", (_n, pools, b, why) => {
    expect(blockUnusable(b, pools)).toMatch(why);
    const r = planFamily(pools, [b], nodeA, req(), 4);
    expect(r.kind === "assign" && r.block === b.name).toBe(false);
  });

  it("never hands out an address that an overlapping legacy block already holds", () => {
    // Claimed before claims were exclusive across sizes: wide24's /24 holds .1 and .2.
    const p = pool("default-ipv4", "10.244.1.0/24", { blockSize: 26 });
    const mine = block("10.244.1.0/26", "default-ipv4", "a", [[3, "x"]]);
    const legacy = block("10.244.1.0/24", "wide24", "a", [
      [1, "w1"],
      [2, "w2"],
    ]);
    expect(planFamily([p], [mine, legacy], nodeA, req(), 4)).toMatchObject({
      kind: "assign",
      address: "10.244.1.4",
    });
  });

  it("a handle that already holds an address keeps it, even in a deleted pool's block (idempotent ADD)", () => {
    const r = planFamily([wide], [orphan], nodeA, req({ handle: "p1" }), 4);
    expect(r).toMatchObject({ kind: "assign", address: "10.244.1.1" });
  });

  it("an annotation naming an invalid pool is refused with the reason; selectors skip it", () => {
    const pools = [
      pool("default-ipv4", "10.244.1.0/24"),
      invalidPool("wide24", "10.244.1.0/24", "overlaps the older pool default-ipv4 (10.244.1.0/24)"),
    ];
    const r = planRequest(pools, [], nodeA, req({ poolNames: { 4: ["wide24"], 6: [] } }));
    expect(r).toEqual({
      error:
        'IPv4 pool "wide24" (from annotation) is invalid: overlaps the older pool default-ipv4 (10.244.1.0/24)',
      cause: "invalid",
    });
    expect(eligiblePools(pools, nodeA, req(), 4)).toEqual([pools[0]]);
  });

  describe("specific addresses", () => {
    const p = pool("p", "10.8.0.0/24", { blockSize: 26 });
    const ask = (ip: string) => req({ requestedIps: [ip] });

    it("borrows an address inside another node's block explicitly", () => {
      const theirs = block("10.8.0.0/26", "p", "b", [[1, "x"]]);
      expect(planFamily([p], [theirs], nodeA, ask("10.8.0.7"), 4)).toMatchObject({
        kind: "assign",
        block: theirs.name,
        address: "10.8.0.7",
      });
    });

    it("fails cleanly when taken, also when an overlapping block holds it", () => {
      const newer = block("10.8.0.0/26", "p", "b");
      const legacy = block("10.8.0.0/24", "old", "c", [[7, "y"]]);
      const r = planFamily([p], [newer, legacy], nodeA, ask("10.8.0.7"), 4);
      expect(r).toMatchObject({ kind: "error", reason: "address 10.8.0.7 is already in use" });
    });

    it.each<[string, PoolView[], BlockView[], string, RegExp, string]>([
      [
        "in a pending block",
        [p],
        [block("10.8.0.0/26", "p", "b", [], "pending")],
        "10.8.0.3",
        /10\.8\.0\.0\/26 of pool p held by b, which is still being claimed/,
        "busy",
      ],
      [
        "in a deleted pool's block",
        [p],
        [block("10.9.0.0/26", "gone", "b")],
        "10.9.0.3",
        /pool gone, which does not exist/,
        "invalid",
      ],
      [
        "in an invalid pool",
        [invalidPool("w", "10.8.0.0/24", "overlaps the older pool z (10.8.0.0/16)")],
        [],
        "10.8.0.3",
        /address 10\.8\.0\.3 is in pool w, which is invalid: overlaps the older pool z/,
        "invalid",
      ],
      [
        "whose block would overlap a block of another pool",
        [pool("w", "10.8.0.0/24", { blockSize: 24 })],
        [block("10.8.0.128/26", "gone", "b")],
        "10.8.0.3",
        /block 10\.8\.0\.0\/24 of pool w overlaps block 10\.8\.0\.128\/26 of pool gone held by b/,
        "invalid",
      ],
    ])("refuses an address %s, with the reason", (_n, pools, blocks, ip, why, cause) => {
      const r = planFamily(pools, blocks, nodeA, ask(ip), 4);
      expect(r).toMatchObject({ kind: "error", cause });
      expect(r.kind === "error" && r.reason).toMatch(why);
    });

    it("prefers the valid pool when an invalid one overlaps it", () => {
      const pools = [
        p,
        invalidPool("w", "10.8.0.0/23", "overlaps the older pool p (10.8.0.0/24)", { blockSize: 23 }),
      ];
      expect(planFamily(pools, [], nodeA, ask("10.8.0.9"), 4)).toMatchObject({
        kind: "claim",
        pool: "p",
        cidr: "10.8.0.0/26",
      });
    });
  });
});
