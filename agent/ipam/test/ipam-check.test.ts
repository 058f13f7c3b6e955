import { describe, expect, it } from "@jest/globals";
import type { IPAMBlock, IPPool } from "../../../crds/ipam.js";
import { type IpamSnapshot, check, usage } from "../ipam-check.js";
import { reservationHandle } from "../reservations.js";

function pool(name: string, cidr: string, created: string, blockSize?: number): IPPool {
  return {
    metadata: { name, creationTimestamp: created },
    spec: { cidr, ...(blockSize !== undefined ? { blockSize } : {}) },
  };
}

function block(
  cidr: string,
  poolName: string,
  node: string,
  ordinals: number[] = [],
  state?: "pending" | "confirmed",
): IPAMBlock {
  return {
    metadata: { name: cidr.replace(/[^0-9a-z]/g, "-") },
    spec: {
      cidr,
      pool: poolName,
      affinity: `host:${node}`,
      ...(state !== undefined ? { state } : {}),
      allocations: ordinals.map((o) => ({ ordinal: o, handle: `${cidr}#${o}`, attributes: { node } })),
    },
  };
}

function snap(pools: IPPool[], blocks: IPAMBlock[]): IpamSnapshot {
  const affinities = blocks.map((b) => ({
    metadata: { name: `n1-${b.metadata.name}` },
    spec: { node: "n1", cidr: b.spec.cidr, state: "confirmed" as const },
  }));
  return { pools, blocks, affinities, pods: [], nodes: ["n1"] };
}

const T0 = "2026-01-01T00:00:00Z";
const T1 = "2026-01-01T00:01:00Z";

describe("ipam show: pool and block status", () => {
  it("marks a pool that overlaps an older one INVALID with the reason; the older stays VALID", () => {
    const u = usage(
      snap([pool("default-ipv4", "10.244.1.0/24", T0, 26), pool("wide24", "10.244.1.0/24", T1, 24)], []),
    );
    expect(u.pools.map((p) => [p.name, p.valid, p.status])).toEqual([
      ["default-ipv4", true, "VALID"],
      ["wide24", false, "INVALID: overlaps the older pool default-ipv4 (10.244.1.0/24)"],
    ]);
  });

  it("reports a deleted pool's remaining blocks as 'pool deleted, N in use', not silently", () => {
    const u = usage(
      snap(
        [pool("wide24", "10.244.1.0/24", T1, 24)],
        [block("10.244.1.0/26", "default-ipv4", "n1", [1, 2]), block("10.244.1.64/26", "default-ipv4", "n1")],
      ),
    );
    expect(u.pools.find((p) => p.name === "default-ipv4")).toMatchObject({
      deleted: true,
      valid: false,
      inUse: 2,
      blocks: 2,
      status: "pool deleted, 2 in use",
    });
    expect(u.blocks.map((b) => b.status)).toEqual(["pool deleted, 2 in use", "pool deleted, 2 in use"]);
  });

  it("counts a node's reservations apart from the addresses pods hold (in use excludes them)", () => {
    const b = block("10.244.1.0/26", "default-ipv4", "n1", [1, 2]);
    b.spec.allocations.push(
      ...[3, 4, 5].map((o) => ({
        ordinal: o,
        handle: reservationHandle("n1", b.metadata.name, o),
        attributes: { node: "n1" },
      })),
    );
    const u = usage(snap([pool("default-ipv4", "10.244.1.0/24", T0, 26)], [b]));
    expect(u.pools[0]).toMatchObject({ inUse: 2, reserved: 3, capacity: "64" });
    expect(u.blocks[0]).toMatchObject({ inUse: 2, reserved: 3, status: "ok" });
    // Deleted pool: its status names the pods' addresses only.
    const d = usage(snap([], [b]));
    expect(d.pools[0]).toMatchObject({ inUse: 2, reserved: 3, status: "pool deleted, 2 in use" });
  });

  it("gives pending blocks and blocks of invalid pools or outside their pool their status", () => {
    const u = usage(
      snap(
        [pool("a", "10.1.0.0/24", T0, 26), pool("b", "10.1.0.0/25", T1, 26)],
        [
          block("10.1.0.0/26", "a", "n1", [], "pending"),
          block("10.1.0.64/26", "b", "n1"),
          block("10.9.0.0/26", "a", "n1"),
          block("10.1.0.128/26", "a", "n1", [], "confirmed"),
        ],
      ),
    );
    expect(Object.fromEntries(u.blocks.map((b) => [b.cidr, [b.state, b.status]]))).toEqual({
      "10.1.0.0/26": ["pending", "pending"],
      "10.1.0.64/26": ["confirmed", "pool invalid"],
      "10.9.0.0/26": ["confirmed", "outside pool"],
      "10.1.0.128/26": ["confirmed", "ok"],
    });
  });
});

describe("ipam check: overlaps, blocks outside their pool, duplicated addresses", () => {
  it("finds nothing when invalid pools merely exist beside valid ones", () => {
    const s = snap(
      [pool("default-ipv4", "10.244.1.0/24", T0, 26), pool("wide24", "10.244.1.0/24", T1, 24)],
      [block("10.244.1.0/26", "default-ipv4", "n1", [1])],
    );
    expect(check(s)).toEqual([]);
  });

  it("reports confirmed blocks that overlap (v4 and v6), and the address both hold", () => {
    const s = snap(
      [pool("default-ipv4", "10.244.1.0/24", T0, 26), pool("v6", "fd00::/120", T0, 122)],
      [
        block("10.244.1.0/26", "default-ipv4", "n1", [1]),
        block("10.244.1.0/24", "default-ipv4", "n1", [1]),
        block("fd00::/122", "v6", "n1"),
        block("fd00::20/123", "v6", "n1"),
      ],
    );
    const f = check(s);
    expect(f.filter((x) => x.kind === "overlapping-blocks").map((x) => x.message)).toEqual([
      "block 10.244.1.0/24 of pool default-ipv4 held by n1 overlaps block 10.244.1.0/26 of pool default-ipv4 held by n1",
      "block fd00::20/123 of pool v6 held by n1 overlaps block fd00::/122 of pool v6 held by n1",
    ]);
    expect(f.filter((x) => x.kind === "duplicate-address").map((x) => x.address)).toEqual(["10.244.1.1"]);
  });

  it("a pending block is no overlap finding and needs no affinity yet", () => {
    const s = snap([pool("p", "10.1.0.0/24", T0, 26)], [block("10.1.0.0/26", "p", "n1")]);
    s.blocks = [...s.blocks, block("10.1.0.0/24", "p", "n1", [], "pending")];
    expect(check(s)).toEqual([]);
  });

  it("reports a block that extends outside its pool", () => {
    const s = snap([pool("p", "10.1.0.0/25", T0, 26)], [block("10.1.0.0/24", "p", "n1")]);
    expect(check(s).map((x) => x.message)).toEqual(["block 10.1.0.0/24 lies outside its pool 10.1.0.0/25"]);
  });
});
