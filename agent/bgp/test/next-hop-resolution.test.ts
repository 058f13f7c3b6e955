import { describe, expect, it } from "@jest/globals";
import { resolveNextHop, underlay } from "../next-hop-resolution.js";
import { borrowedAddresses } from "../bgp-service.js";

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
