import { describe, expect, it } from "@jest/globals";
import { revocationFor } from "../revocation.js";
import { entryFilters, markArgs, reportedCount } from "../conntrack-revoker.js";
import { parseConntrackLine, recheck, type CtEntry } from "../revocation.js";
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

describe("conntrack -U (the mark of the entries to re-check)", () => {
  it("a single address is matched by original source, original destination and reply source", () => {
    expect(entryFilters("10.1.0.2/32")).toEqual([
      ["-s", "10.1.0.2"],
      ["-d", "10.1.0.2"],
      ["-r", "10.1.0.2"],
    ]);
    expect(entryFilters("fd00::2/128")).toEqual([
      ["-s", "fd00::2"],
      ["-d", "fd00::2"],
      ["-r", "fd00::2"],
    ]);
  });

  it("a wider prefix by original source and destination only (conntrack takes no CIDR for --reply-src)", () => {
    expect(entryFilters("10.2.0.0/24")).toEqual([
      ["-s", "10.2.0.0/24"],
      ["-d", "10.2.0.0/24"],
    ]);
  });

  it("reads the count conntrack prints; none is exit 1 and not an error; anything else is", () => {
    expect(
      reportedCount(0, "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been updated.\n", "updated"),
    ).toBe(3);
    expect(
      reportedCount(1, "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n", "shown"),
    ).toBe(0);
    expect(
      reportedCount(2, "conntrack v1.4.7 (conntrack-tools): Invalid IP address `x'\n", "shown"),
    ).toBeUndefined();
  });

  it("parses an entry's original direction and mark from a listing line", () => {
    expect(
      parseConntrackLine(
        "tcp      6 431995 ESTABLISHED src=10.78.1.10 dst=10.78.1.11 sport=46290 dport=5001 src=10.78.1.11 dst=10.78.1.10 sport=5001 dport=46290 [ASSURED] mark=268435461 use=1",
      ),
    ).toEqual({
      protocol: "tcp",
      saddr: "10.78.1.10",
      daddr: "10.78.1.11",
      sport: 46290,
      dport: 5001,
      mark: 268435461,
    });
    expect(
      parseConntrackLine(
        "icmpv6   58 29 src=fd00::1 dst=fd00::2 type=128 code=0 id=7 src=fd00::2 dst=fd00::1 type=129 code=0 id=7 mark=0 use=1",
      ),
    ).toEqual({ protocol: "ipv6-icmp", saddr: "fd00::1", daddr: "fd00::2", mark: 0 });
    expect(
      parseConntrackLine("gre      47 29 src=1.1.1.1 dst=2.2.2.2 srckey=0x0 dstkey=0x0 mark=0"),
    ).toBeUndefined();
    expect(parseConntrackLine("")).toBeUndefined();
  });

  it("sets or clears only the denied bit on the entry's own flow", () => {
    const e: CtEntry = {
      protocol: "tcp",
      saddr: "10.1.0.2",
      daddr: "10.1.0.3",
      sport: 40000,
      dport: 80,
      mark: 0,
    };
    const bit = `0x${CT_MARK_DENIED.toString(16)}`;
    expect(markArgs(e, true)).toEqual([
      "-U",
      "-p",
      "tcp",
      "-s",
      "10.1.0.2",
      "-d",
      "10.1.0.3",
      "--sport",
      "40000",
      "--dport",
      "80",
      "--mark",
      `${bit}/${bit}`,
    ]);
    expect(markArgs({ protocol: "ipv6-icmp", saddr: "fd00::2", daddr: "fd00::3", mark: 0 }, false)).toEqual([
      "-U",
      "-p",
      "icmpv6",
      "-s",
      "fd00::2",
      "-d",
      "fd00::3",
      "--mark",
      `0/${bit}`,
    ]);
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
