import { describe, expect, it } from "@jest/globals";
import { formatPrefix } from "../../../net/address.js";
import {
  NAT_CHAIN,
  natPlan,
  natTable,
  prefixElem,
  SET_CLUSTER,
  SET_NAT_SOURCES,
  SRCNAT_PRIORITY,
} from "../nat-table.js";

interface PoolOpts {
  nat?: boolean;
  disabled?: boolean;
  blockSize?: number;
  created?: string;
}

function pool(name: string, cidr: string, o: PoolOpts = {}): Record<string, unknown> {
  return {
    apiVersion: "trellis.dev/v1alpha1",
    kind: "IPPool",
    metadata: { name, creationTimestamp: o.created ?? "2026-01-01T00:00:00Z" },
    spec: {
      cidr,
      ...(o.blockSize !== undefined ? { blockSize: o.blockSize } : {}),
      ...(o.disabled !== undefined ? { disabled: o.disabled } : {}),
      ...(o.nat !== undefined ? { natOutgoing: o.nat } : {}),
    },
  };
}

interface Case {
  name: string;
  pools: Record<string, unknown>[];
  services?: string[];
  sources4: string[];
  cluster4: string[];
  sources6?: string[];
  cluster6?: string[];
  skipped?: string[];
}

const CASES: Case[] = [
  { name: "no pools at all: nothing to translate", pools: [], sources4: [], cluster4: [] },
  {
    name: "a pool with natOutgoing is a source and a cluster destination",
    pools: [pool("a", "10.244.1.0/24", { nat: true })],
    sources4: ["10.244.1.0/24"],
    cluster4: ["10.244.1.0/24"],
  },
  {
    name: "a pool without natOutgoing (absent or false) is only a cluster destination",
    pools: [pool("a", "10.244.1.0/24"), pool("b", "10.244.2.0/24", { nat: false })],
    sources4: [],
    cluster4: ["10.244.1.0/24", "10.244.2.0/24"],
  },
  {
    name: "mixed pools: only the natOutgoing one is a source; every pool is exempt as a destination",
    pools: [pool("a", "10.244.1.0/24", { nat: true }), pool("b", "10.244.2.0/24")],
    sources4: ["10.244.1.0/24"],
    cluster4: ["10.244.1.0/24", "10.244.2.0/24"],
  },
  {
    name: "a disabled natOutgoing pool still translates (its running pods keep their addresses)",
    pools: [pool("a", "10.244.1.0/24", { nat: true, disabled: true })],
    sources4: ["10.244.1.0/24"],
    cluster4: ["10.244.1.0/24"],
  },
  {
    name: "an invalid pool (overlapping an older one) is no source, but its CIDR is never a NAT destination",
    pools: [
      pool("old", "10.244.0.0/16", { created: "2026-01-01T00:00:00Z" }),
      pool("new", "10.250.0.0/15", { nat: true, created: "2026-01-02T00:00:00Z" }),
      pool("inner", "10.244.5.0/24", { nat: true, created: "2026-01-03T00:00:00Z" }),
    ],
    sources4: ["10.250.0.0/15"],
    cluster4: ["10.244.0.0/16", "10.250.0.0/15"],
    skipped: ["inner"],
  },
  {
    name: "an invalid pool on its own (bad block size) is skipped as a source, exempt as a destination",
    pools: [pool("bad", "10.9.0.0/16", { nat: true, blockSize: 8 })],
    sources4: [],
    cluster4: ["10.9.0.0/16"],
    skipped: ["bad"],
  },
  {
    name: "overlapping and adjacent CIDRs are merged (interval sets reject overlaps)",
    pools: [
      pool("a", "10.244.0.0/24", { nat: true, created: "2026-01-01T00:00:00Z" }),
      pool("b", "10.244.1.0/24", { nat: true, created: "2026-01-01T00:00:01Z" }),
      pool("c", "10.244.0.128/25", { created: "2026-01-01T00:00:02Z" }),
    ],
    sources4: ["10.244.0.0/23"],
    cluster4: ["10.244.0.0/23"],
    skipped: [],
  },
  {
    name: "service CIDRs are cluster destinations, never sources",
    pools: [pool("a", "10.244.1.0/24", { nat: true })],
    services: ["10.96.0.0/12", "fd00:96::/112"],
    sources4: ["10.244.1.0/24"],
    cluster4: ["10.96.0.0/12", "10.244.1.0/24"],
    sources6: [],
    cluster6: ["fd00:96::/112"],
  },
  {
    name: "IPv6 pools: the same rules in their own sets",
    pools: [
      pool("v6nat", "fd00:10:244:1::/64", { nat: true }),
      pool("v6", "fd00:10:244:2::/64"),
      pool("v4", "10.244.1.0/24"),
    ],
    sources4: [],
    cluster4: ["10.244.1.0/24"],
    sources6: ["fd00:10:244:1::/64"],
    cluster6: ["fd00:10:244:1::/64", "fd00:10:244:2::/64"],
  },
  {
    name: "a pool CIDR with host bits set is still exempt as a destination (masked)",
    pools: [pool("sloppy", "10.7.0.1/16", { nat: true })],
    sources4: [],
    cluster4: ["10.7.0.0/16"],
    skipped: ["sloppy"],
  },
];

describe("natOutgoing plan: pools + service CIDRs -> what is masqueraded", () => {
  it.each(CASES)("$name", (c) => {
    const plan = natPlan(c.pools, c.services ?? []);
    expect(plan.v4.sources.map(formatPrefix)).toEqual(c.sources4);
    expect(plan.v4.cluster.map(formatPrefix)).toEqual(c.cluster4);
    expect(plan.v6.sources.map(formatPrefix)).toEqual(c.sources6 ?? []);
    expect(plan.v6.cluster.map(formatPrefix)).toEqual(c.cluster6 ?? []);
    if (c.skipped !== undefined) expect(plan.skipped.map((s) => s.pool)).toEqual(c.skipped);
  });

  it("names the older pool when a natOutgoing pool is skipped for overlapping it", () => {
    const plan = natPlan(
      [
        pool("old", "10.244.0.0/16", { created: "2026-01-01T00:00:00Z" }),
        pool("inner", "10.244.5.0/24", { nat: true, created: "2026-01-02T00:00:00Z" }),
      ],
      [],
    );
    expect(plan.skipped).toEqual([{ pool: "inner", reason: expect.stringContaining("old") as unknown }]);
  });
});

describe("natOutgoing table content", () => {
  it("no pools at all: the sets exist, empty, and the chain has no masquerade rule", () => {
    const t = natTable(natPlan([], []));
    expect(t.sets.map((s) => s.name)).toEqual([
      SET_NAT_SOURCES,
      `${SET_NAT_SOURCES}-v6`,
      SET_CLUSTER,
      `${SET_CLUSTER}-v6`,
    ]);
    expect(t.sets.every((s) => s.elements.length === 0 && s.flags?.includes("interval"))).toBe(true);
    expect(t.chains).toHaveLength(1);
    expect(t.chains[0]?.rules).toEqual([]);
  });

  it("one srcnat postrouting base chain, nat type, policy accept", () => {
    const c = natTable(natPlan([], [])).chains[0];
    expect(c?.name).toBe(NAT_CHAIN);
    expect(c?.base).toEqual({ type: "nat", hook: "postrouting", prio: SRCNAT_PRIORITY, policy: "accept" });
  });

  it("pools without natOutgoing: cluster CIDRs filled, still no masquerade rule", () => {
    const t = natTable(natPlan([pool("a", "10.244.1.0/24"), pool("b", "fd00::/64")], []));
    expect(t.chains[0]?.rules).toEqual([]);
    expect(t.sets.find((s) => s.name === SET_CLUSTER)?.elements).toEqual([
      { prefix: { addr: "10.244.1.0", len: 24 } },
    ]);
  });

  it("a natOutgoing v4 pool: one rule, saddr in the sources, daddr outside the cluster, masquerade", () => {
    const t = natTable(natPlan([pool("a", "10.244.1.0/24", { nat: true })], []));
    const rules = t.chains[0]?.rules ?? [];
    expect(rules).toHaveLength(1);
    expect(rules[0]?.expr).toEqual([
      { match: { op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: "@nat-outgoing" } },
      { match: { op: "!=", left: { payload: { protocol: "ip", field: "daddr" } }, right: "@cluster-cidrs" } },
      { counter: null },
      { masquerade: null },
    ]);
    expect(rules[0]?.comment).toMatch(/^[0-9a-f]{16}$/);
  });

  it("natOutgoing in both families: one rule per family, the v6 one on ip6 and the -v6 sets", () => {
    const t = natTable(
      natPlan([pool("a", "10.244.1.0/24", { nat: true }), pool("b", "fd00:1::/64", { nat: true })], []),
    );
    const rules = t.chains[0]?.rules ?? [];
    expect(rules).toHaveLength(2);
    expect(JSON.stringify(rules[1]?.expr)).toContain('"protocol":"ip6"');
    expect(JSON.stringify(rules[1]?.expr)).toContain("@nat-outgoing-v6");
    expect(JSON.stringify(rules[1]?.expr)).toContain("@cluster-cidrs-v6");
    expect(t.sets.find((s) => s.name === "nat-outgoing-v6")?.elements).toEqual([
      { prefix: { addr: "fd00:1::", len: 64 } },
    ]);
  });

  it("only a v6 natOutgoing pool: only the v6 rule", () => {
    const t = natTable(natPlan([pool("a", "10.244.1.0/24"), pool("b", "fd00:1::/64", { nat: true })], []));
    const rules = t.chains[0]?.rules ?? [];
    expect(rules).toHaveLength(1);
    expect(JSON.stringify(rules[0]?.expr)).toContain('"protocol":"ip6"');
  });

  it("host prefixes are written as bare addresses (as nft lists them back)", () => {
    const plan = natPlan([], ["10.0.0.1/32", "fd00::1/128"]);
    expect(plan.v4.cluster.map(prefixElem)).toEqual(["10.0.0.1"]);
    expect(plan.v6.cluster.map(prefixElem)).toEqual(["fd00::1"]);
  });
});
