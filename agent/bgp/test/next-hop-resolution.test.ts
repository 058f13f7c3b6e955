import { describe, expect, it } from "@jest/globals";
import { resolveNextHop, underlay } from "../next-hop-resolution.js";
import { blockBgpFacts, borrowedAddresses } from "../bgp-service.js";

describe("recursive next-hop resolution", () => {
  const u = underlay([
    { prefix: "0.0.0.0/0", via: "198.18.0.0" },
    { prefix: "198.18.0.0/31" },
    { prefix: "192.0.2.0/24", via: "198.18.0.0" },
    { prefix: "::/0", via: "fd00:198:18::" },
    { prefix: "fd00:198:18::/127" },
  ]);
  it.each([
    ["a next hop behind the ToR goes via the node's gateway", "198.18.0.3", "198.18.0.0"],
    ["an IPv6 next hop behind the ToR goes via the IPv6 gateway", "fd00:198:18::3", "fd00:198:18::"],
    ["a next hop on a connected network stays", "198.18.0.0", "198.18.0.0"],
    ["the longest match wins", "192.0.2.7", "198.18.0.0"],
    ["something that is not an address stays", "fe80::1%eth0", "fe80::1%eth0"],
  ])("%s", (_n, nh, want) => {
    expect(resolveNextHop(u, nh)).toBe(want);
  });
  it("with no route at all the next hop stays", () => {
    expect(resolveNextHop(underlay([]), "10.0.0.1")).toBe("10.0.0.1");
  });
});

describe("borrowed addresses", () => {
  it("are this node's allocations in other nodes' blocks", () => {
    const blocks = [
      {
        spec: {
          cidr: "10.244.1.0/26",
          affinity: "host:n1",
          allocations: [{ ordinal: 3, attributes: { node: "n1" } }],
        },
      },
      {
        spec: {
          cidr: "10.244.2.0/26",
          affinity: "host:n2",
          allocations: [
            { ordinal: 5, attributes: { node: "n1" } },
            { ordinal: 6, attributes: { node: "n2" } },
          ],
        },
      },
      {
        spec: {
          cidr: "fd00::/122",
          affinity: "host:n2",
          allocations: [{ ordinal: 10, attributes: { node: "n1" } }],
        },
      },
    ];
    expect(borrowedAddresses(blocks, "n1")).toEqual(["10.244.2.5", "fd00::a"]);
  });
});

describe("a block's BGP facts (what a block event must change before BGP recomputes)", () => {
  type Alloc = { ordinal: number; attributes: { node: string } };
  const block = (affinity: string, allocations: Alloc[], state = "confirmed") => ({
    spec: { cidr: "10.244.2.0/26", pool: "default", affinity, state, allocations },
  });
  const at = (ordinal: number, node: string): Alloc => ({ ordinal, attributes: { node } });
  it.each<[string, ReturnType<typeof block>, ReturnType<typeof block>, boolean]>([
    [
      "another node's pod comes and goes in its block",
      block("host:n2", []),
      block("host:n2", [at(6, "n2")]),
      false,
    ],
    [
      "this node's pod comes and goes in this node's block",
      block("host:n1", []),
      block("host:n1", [at(6, "n1")]),
      false,
    ],
    [
      "this node's pod borrows an address of another node's block",
      block("host:n2", []),
      block("host:n2", [at(5, "n1")]),
      true,
    ],
    [
      "a borrowed address is released",
      block("host:n2", [at(5, "n1"), at(6, "n2")]),
      block("host:n2", [at(6, "n2")]),
      true,
    ],
    ["the block's affinity moves", block("host:n2", []), block("host:n1", []), true],
    ["this node's pending claim is confirmed", block("host:n1", [], "pending"), block("host:n1", []), true],
  ])("%s: changed = %s", (_n, before, after, changed) => {
    expect(blockBgpFacts(before, "n1") !== blockBgpFacts(after, "n1")).toBe(changed);
  });
  it("tells the pool apart (tenant communities)", () => {
    const b = block("host:n2", []);
    expect(blockBgpFacts(b, "n1")).not.toBe(blockBgpFacts({ spec: { ...b.spec, pool: "tenant-a" } }, "n1"));
  });
});
