import { describe, expect, it } from "@jest/globals";
import { revocationFor } from "../revocation.js";
import { WALK_ENTRIES, listPlan, matches, touches, wholeDump } from "../conntrack-revoker.js";
import { recheck, type CtEntry } from "../revocation.js";
import type { CtMatch, DumpedCt } from "../../../net/netlink/ctnetlink.js";
import { loadCluster } from "../../../policy/model/load.js";
import { compile } from "../../../policy/compiler/compile.js";
import { CT_MARK_DENIED } from "../../../policy/compiler/to-nft.js";
import { podVethName } from "../../../net/veth-name.js";
import { POLICY_TABLE } from "../../../policy/compiler/nft-table.js";

const T = { family: "inet", table: "trellis" };
const el = (verb: "add" | "delete", name: string, elem: unknown[], t = T) => ({
  [verb]: { element: { ...t, name, elem } },
});
const pods = new Map<string, readonly string[]>([
  ["trlaaaaaaaaaaa", ["10.1.0.2", "fd00::2"]],
  ["trlbbbbbbbbbbb", ["10.1.0.3"]],
]);
const plan = (mode: "noop" | "diff" | "full" | "incremental", cmds: Record<string, unknown>[]) =>
  revocationFor(mode, cmds, pods, POLICY_TABLE);

describe("revocation: which conntrack entries a policy change looks at", () => {
  it("a no-op revokes nothing", () => {
    expect(plan("noop", [])).toEqual({ prefixes: [], reason: "none" });
  });

  it("a replaced table revokes every local pod's addresses (the old rules cannot be diffed)", () => {
    expect(plan("full", [{ add: { table: { family: "inet", name: "trellis" } } }])).toEqual({
      prefixes: ["10.1.0.2/32", "10.1.0.3/32", "fd00::2/128"],
      reason: "replaced",
    });
  });

  it("a pod whose verdict-map entry changed (another group) has its addresses revoked", () => {
    const r = plan("incremental", [
      el("delete", "ingress-pods", ["trlaaaaaaaaaaa"]),
      el("add", "ingress-pods", [["trlaaaaaaaaaaa", { jump: { target: "in-1234" } }]]),
    ]);
    expect(r).toEqual({ prefixes: ["10.1.0.2/32", "fd00::2/128"], reason: "changed" });
  });

  it("an address joining an existing set is revoked, and only that address", () => {
    const r = plan("diff", [el("add", "peer-abc", ["10.2.0.9"]), el("add", "all-pods-v6", ["fd00::9"])]);
    expect(r.prefixes).toEqual(["10.2.0.9/32", "fd00::9/128"]);
  });

  it("a merged range replaced by a wider one revokes only the difference", () => {
    const r = plan("diff", [
      el("delete", "peer-abc", [
        { range: ["10.2.0.4", "10.2.0.5"] },
        { prefix: { addr: "10.3.0.0", len: 24 } },
      ]),
      el("add", "peer-abc", [{ range: ["10.2.0.4", "10.2.0.6"] }, { prefix: { addr: "10.3.0.0", len: 24 } }]),
    ]);
    expect(r.prefixes).toEqual(["10.2.0.6/32"]);
  });

  it("an address leaving a set is revoked (a pod relabelled out of a peer selector)", () => {
    expect(plan("diff", [el("delete", "tenant-a", ["10.2.0.7"])]).prefixes).toEqual(["10.2.0.7/32"]);
  });

  it("the elements of a set declared in the same transaction are not revoked (the new group's pods are)", () => {
    const r = plan("incremental", [
      { add: { set: { ...T, name: "peer-new", type: "ipv4_addr" } } },
      el("add", "peer-new", ["10.9.0.1", "10.9.0.2"]),
      el("add", "egress-pods", [["trlbbbbbbbbbbb", { jump: { target: "out-1" } }]]),
    ]);
    expect(r.prefixes).toEqual(["10.1.0.3/32"]);
  });

  it("named-port and anti-spoofing elements count by their address; another table's are ignored", () => {
    const r = plan("diff", [
      el("add", "port-1", [{ concat: ["10.4.0.1", "tcp", 8080] }]),
      el("delete", "pod-sources", [{ concat: ["trlccccccccccc", "10.4.0.2"] }]),
      el("add", "peer-abc", ["10.4.0.3"], { family: "inet", table: "trellis-nat" }),
    ]);
    expect(r.prefixes).toEqual(["10.4.0.1/32", "10.4.0.2/32"]);
  });

  it("an interface no local pod has any more (its pod deleted) revokes nothing by itself", () => {
    expect(plan("incremental", [el("delete", "egress-pods", ["trlzzzzzzzzzzz"])])).toEqual({
      prefixes: [],
      reason: "none",
    });
  });
});

describe("which dumps list the entries of the touched prefixes (conntrack-revoker.ts)", () => {
  const v4 = (t: string) => ({
    family: 4,
    value: BigInt(t.split(".").reduce((n, o) => n * 256 + Number(o), 0)),
  });

  it("an IPv4 address in a large table: three dumps the kernel filters, by original source, original destination and reply source", () => {
    expect(listPlan(["10.1.0.2/32"], 2 * WALK_ENTRIES + 1)).toEqual({
      filtered: [
        { family: 4, match: "orig-src", addr: v4("10.1.0.2") },
        { family: 4, match: "orig-dst", addr: v4("10.1.0.2") },
        { family: 4, match: "reply-src", addr: v4("10.1.0.2") },
      ],
      whole: [],
    });
  });

  it("IPv6 (the kernel's IPv6 filter is inverted), a wider prefix, or a table too small for the extra walks: the family dumped whole", () => {
    expect(listPlan(["fd00::2/128", "fd00:1::/64"], 1e6)).toEqual({
      filtered: [],
      whole: [
        {
          family: 6,
          hosts: new Set(["fd00::2"]),
          wide: [{ family: 6, base: 0xfd000001n << 96n, length: 64 }],
        },
      ],
    });
    expect(listPlan(["10.2.0.0/24", "10.1.0.2/32"], 1e6)).toEqual({
      filtered: [],
      whole: [
        { family: 4, hosts: new Set(["10.1.0.2"]), wide: [{ family: 4, base: 0x0a020000n, length: 24 }] },
      ],
    });
    // One address: 3 walks against 1 walk and the entries; three addresses: 9 against 1.
    const one = listPlan(["10.1.0.2/32"], 2 * WALK_ENTRIES);
    expect(typeof one !== "string" && [one.filtered.length, one.whole[0]?.hosts]).toEqual([
      0,
      new Set(["10.1.0.2"]),
    ]);
    const three = ["10.1.0.2/32", "10.1.0.3/32", "10.1.0.4/32"];
    const many = listPlan(three, 8 * 100, 100);
    expect(typeof many !== "string" && [many.filtered.length, many.whole[0]?.hosts]).toEqual([
      0,
      new Set(["10.1.0.2", "10.1.0.3", "10.1.0.4"]),
    ]);
    const big = listPlan(three, 8 * 100 + 1, 100);
    expect(typeof big !== "string" && [big.filtered.length, big.whole.length]).toEqual([9, 0]);
    expect(listPlan([], 0)).toEqual({ filtered: [], whole: [] });
  });

  it("a dual-stack pod's two whole dumps are one dump of both families (one walk of the hash, not two)", () => {
    const plan = listPlan(["10.1.0.2/32", "fd00::2/128", "fd00:1::/64"], 10);
    if (typeof plan === "string") throw new Error(plan);
    expect(plan.whole.map((w) => w.family)).toEqual([4, 6]);
    expect(wholeDump(plan)).toEqual({
      family: "any",
      hosts: new Set(["10.1.0.2", "fd00::2"]),
      wide: [{ family: 6, base: 0xfd000001n << 96n, length: 64 }],
    });
    // One family stays that family's dump; nothing whole, no dump.
    const v6 = listPlan(["fd00::2/128"], 10);
    expect(typeof v6 !== "string" && wholeDump(v6)?.family).toBe(6);
    const filtered = listPlan(["10.1.0.2/32"], 1e6);
    expect(typeof filtered !== "string" && wholeDump(filtered)).toBeUndefined();
  });

  it("a prefix that is none is a clear error", () => {
    expect(listPlan(["10.1.0.300/32"], 0)).toMatch(/^revocation prefix 10\.1\.0\.300\/32: /);
  });

  it("an entry a filtered dump returns is kept only when its field is the address asked for", () => {
    const d: DumpedCt = {
      entry: { protocol: "udp", saddr: "10.1.0.2", daddr: "10.96.0.10", sport: 1, dport: 53, mark: 0 },
      replySaddr: "10.1.0.9",
    };
    expect(["orig-src", "orig-dst", "reply-src"].map((m) => matches(d, m as CtMatch, "10.1.0.2"))).toEqual([
      true,
      false,
      false,
    ]);
    expect(matches(d, "orig-dst", "10.96.0.10")).toBe(true);
    expect(matches(d, "reply-src", "10.1.0.9")).toBe(true);
  });

  it("a whole dump keeps what the filtered dumps would give: an address in any of the three fields, a prefix by original source or destination", () => {
    const d = (saddr: string, daddr: string, replySaddr = daddr): DumpedCt => ({
      entry: { protocol: "tcp", saddr, daddr, sport: 1, dport: 2, mark: 0 },
      replySaddr,
    });
    const hosts = new Set(["10.1.0.2"]);
    const wide = [{ family: 4 as const, base: 0x0a020000n, length: 24 }];
    expect(touches(d("10.1.0.2", "10.9.9.9"), hosts, [])).toBe(true);
    expect(touches(d("10.9.9.9", "10.1.0.2"), hosts, [])).toBe(true);
    expect(touches(d("10.9.9.9", "10.96.0.10", "10.1.0.2"), hosts, [])).toBe(true);
    expect(touches(d("10.9.9.9", "10.9.9.8"), hosts, [])).toBe(false);
    expect(touches(d("10.2.0.77", "10.9.9.8"), hosts, wide)).toBe(true);
    expect(touches(d("10.9.9.9", "10.2.0.1"), hosts, wide)).toBe(true);
    expect(touches(d("10.9.9.9", "10.96.0.10", "10.2.0.1"), hosts, wide)).toBe(false);
  });
});

describe("revocation: re-checking entries against the applied table", () => {
  // Local pods x/a (isolated: admits only pods labelled role=client) and x/b; y/c is remote.
  const docs = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "y" } },
    ...[
      ["x", "a", "n1", "10.1.0.2", {}],
      ["x", "b", "n1", "10.1.0.3", { role: "client" }],
      ["y", "c", "n2", "10.2.0.4", {}],
    ].map(([ns, name, node, ip, labels]) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, labels },
      spec: { nodeName: node, containers: [] },
      status: { podIP: ip, podIPs: [{ ip }] },
    })),
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "only-clients", namespace: "x" },
      spec: {
        podSelector: { matchExpressions: [{ key: "role", operator: "DoesNotExist" }] },
        ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: "client" } } }] }],
      },
    },
  ];
  const table = compile(loadCluster(docs), "n1").table;
  const local = new Map([
    [podVethName("x", "a"), ["10.1.0.2"]],
    [podVethName("x", "b"), ["10.1.0.3"]],
  ]);
  const tcp = (saddr: string, daddr: string, mark = 0): CtEntry => ({
    protocol: "tcp",
    saddr,
    daddr,
    sport: 40000,
    dport: 80,
    mark,
  });

  it("an entry the rules now drop is to be marked denied", () =>
    expect(recheck([tcp("10.2.0.4", "10.1.0.2")], table, local)).toEqual({
      deny: [tcp("10.2.0.4", "10.1.0.2")],
      allow: [],
    }));

  it("an entry the rules still accept is left alone", () =>
    expect(recheck([tcp("10.1.0.3", "10.1.0.2"), tcp("10.1.0.2", "10.2.0.4")], table, local)).toEqual({
      deny: [],
      allow: [],
    }));

  it("a marked entry the rules accept again is to be cleared; a marked one still denied stays as it is", () => {
    const again = tcp("10.1.0.3", "10.1.0.2", CT_MARK_DENIED | 0x5);
    const still = tcp("10.2.0.4", "10.1.0.2", CT_MARK_DENIED);
    expect(recheck([again, still], table, local)).toEqual({ deny: [], allow: [again] });
  });
});
