import { describe, expect, it } from "@jest/globals";
import { MAX_NODES, planLab, TOR_ASN_DEFAULT, NODE_ASN_DEFAULT } from "../address-plan.js";
import { IFNAME_MAX } from "../lab-names.js";

describe("lab address plan", () => {
  const plan = planLab({ prefix: "tlabcd-", nodes: 3 });

  it("gives node i the odd end of a /31 and a /127 toward the ToR, the ToR the even end", () => {
    expect(plan.nodes.map((n) => [n.torAddress4, n.address4, n.torAddress6, n.address6])).toEqual([
      ["198.18.0.0", "198.18.0.1", "fd00:198:18::0", "fd00:198:18::1"],
      ["198.18.0.2", "198.18.0.3", "fd00:198:18::2", "fd00:198:18::3"],
      ["198.18.0.4", "198.18.0.5", "fd00:198:18::4", "fd00:198:18::5"],
    ]);
  });

  it("gives each node its own pod CIDRs, IPv4 /24 and IPv6 /64", () => {
    expect(plan.nodes.map((n) => [n.podCidr4, n.podCidr6])).toEqual([
      ["10.244.1.0/24", "fd00:10:244:1::/64"],
      ["10.244.2.0/24", "fd00:10:244:2::/64"],
      ["10.244.3.0/24", "fd00:10:244:3::/64"],
    ]);
  });

  it("names nodes node-1..node-N and prefixes every namespace", () => {
    expect(plan.nodes.map((n) => n.name)).toEqual(["node-1", "node-2", "node-3"]);
    expect(plan.nodes.map((n) => n.netns)).toEqual(["tlabcd-node-1", "tlabcd-node-2", "tlabcd-node-3"]);
    expect(plan.tor.netns).toBe("tlabcd-tor");
  });

  it("uses AS 65000 for the ToR and 64512 for nodes unless told otherwise", () => {
    expect(plan.tor.asn).toBe(TOR_ASN_DEFAULT);
    expect(TOR_ASN_DEFAULT).toBe(65000);
    expect(plan.nodes.every((n) => n.asn === NODE_ASN_DEFAULT && n.asn === 64512)).toBe(true);
    const p = planLab({ prefix: "x-", nodes: 1, torAsn: 65100, nodeAsn: 4200000000 });
    expect([p.tor.asn, p.nodes[0]?.asn]).toEqual([65100, 4200000000]);
  });

  it("gives node i AS nodeAsn + i - 1 with asnPerNode", () => {
    expect(planLab({ prefix: "x-", nodes: 3, asnPerNode: true }).nodes.map((n) => n.asn)).toEqual([
      64512, 64513, 64514,
    ]);
    expect(() => planLab({ prefix: "x-", nodes: 2, nodeAsn: 4294967295, asnPerNode: true })).toThrow(
      /last node ASN/,
    );
  });

  it("keeps addresses unique and interface names within IFNAMSIZ at the maximum size", () => {
    const big = planLab({ prefix: "tlabcd-", nodes: MAX_NODES });
    const addrs = big.nodes.flatMap((n) => [n.address4, n.torAddress4, n.address6, n.torAddress6]);
    expect(new Set(addrs).size).toBe(addrs.length);
    expect(new Set(big.nodes.map((n) => n.podCidr4)).size).toBe(MAX_NODES);
    expect(big.nodes.at(-1)?.podCidr4).toBe("10.244.254.0/24");
    expect(big.nodes.at(-1)?.address4).toBe("198.18.1.251");
    expect(big.nodes.at(-1)?.podCidr6).toBe("fd00:10:244:fe::/64");
    expect(
      Math.max(...big.nodes.map((n) => Math.max(n.torIfname.length, n.ifname.length))),
    ).toBeLessThanOrEqual(IFNAME_MAX);
  });

  it.each([0, -1, 1.5, MAX_NODES + 1])("rejects %p nodes", (n) => {
    expect(() => planLab({ prefix: "x-", nodes: n })).toThrow(/node count/);
  });

  it.each([0, 4294967296, 1.5])("rejects AS %p", (asn) => {
    expect(() => planLab({ prefix: "x-", nodes: 1, nodeAsn: asn })).toThrow(/ASN/);
  });
});
