/**
 * Dual-stack (docs/architecture.md: pods get a /32 and a /128): IPv6 is read, evaluated
 * and compiled exactly as IPv4 — addresses, ipBlocks with excepts, networks
 * peers, node addresses, named ports, tenants, anti-spoofing — and ICMP
 * follows the port rules (only a rule without ports admits it).
 */
import { describe, it, expect } from "@jest/globals";
import { loadCluster, PolicyInputError } from "../model/load.js";
import { evaluate, resolveEndpoint, type Connection } from "../evaluator/evaluate.js";
import { compile } from "../compiler/compile.js";
import { trace, type Packet } from "../compiler/tracer.js";
import { podVethName } from "../../net/veth-name.js";
import type { NftTable } from "../compiler/nft-table.js";
import type { Cluster } from "../model/cluster.js";
import { anp, namespace, networkPolicy as np, node, pod, tenant, type Doc } from "./fixtures.js";

const world: Doc[] = [
  namespace("x", { team: "x" }),
  namespace("y", { team: "y" }),
  node("n1", ["192.168.0.1", "fd00:168::1"]),
  node("n2", ["192.168.0.2", "fd00:168::2"]),
  pod(
    "x",
    "web",
    { app: "web" },
    {
      node: "n1",
      ips: ["10.0.1.1", "fd00:10:0:1:0:0:0:1"], // canonicalized to fd00:10:0:1::1
      ports: [{ name: "http", containerPort: 8080 }],
    },
  ),
  pod("x", "api", { app: "api" }, { node: "n1", ips: ["10.0.1.2", "fd00:10:0:1::2"] }),
  pod("y", "client", { app: "client" }, { node: "n2", ips: ["fd00:10:0:2::1", "10.0.2.1"] }),
  pod("y", "v4only", { app: "v4only" }, { node: "n1", ip: "10.0.1.9" }),
];

function load(policies: Doc[]): Cluster {
  return loadCluster([...world, ...policies]);
}

function ep(c: Cluster, ref: string) {
  const e = resolveEndpoint(c, ref);
  if (!e) throw new Error(`no endpoint ${ref}`);
  return e;
}

function allowed(c: Cluster, from: string, to: string, conn: Partial<Connection> = {}): boolean {
  return evaluate(c, { from: ep(c, from), to: ep(c, to), port: 8080, protocol: "TCP", ...conn }).allowed;
}

function loadError(policies: Doc[]): string {
  try {
    load(policies);
  } catch (e) {
    if (e instanceof PolicyInputError) return e.message;
    throw e;
  }
  return "no error";
}

/** A NetworkPolicy isolating x/web for ingress, admitting `ingress`. */
const webIngress = (name: string, ...ingress: Doc[]) =>
  np("x", name, { podSelector: { matchLabels: { app: "web" } }, ingress });

const ipBlockIngress = (cidr: string, except: string[] = []) =>
  webIngress("cidr", { from: [{ ipBlock: { cidr, except } }] });

describe("dual-stack input", () => {
  it("reads both families from status.podIPs, IPv6 in RFC 5952 form", () => {
    const web = load([]).pods.find((p) => p.key === "x/web");
    expect([web?.ipv4, web?.ipv6]).toEqual(["10.0.1.1", "fd00:10:0:1::1"]);
    const client = load([]).pods.find((p) => p.key === "y/client");
    expect([client?.ipv4, client?.ipv6]).toEqual(["10.0.2.1", "fd00:10:0:2::1"]);
  });

  it("resolves either address of a pod to the pod, keeping the address", () => {
    const c = load([]);
    const web = c.pods.find((p) => p.key === "x/web");
    expect(resolveEndpoint(c, "10.0.1.1")).toEqual({ kind: "pod", pod: web, address: "10.0.1.1" });
    for (const ref of ["fd00:10:0:1::1", "FD00:10:0:1:0::1"])
      expect(resolveEndpoint(c, ref)).toEqual({ kind: "pod", pod: web, address: "fd00:10:0:1::1" });
    expect(resolveEndpoint(c, "x/web")).toEqual({ kind: "pod", pod: web });
  });

  it("takes the connection's family from pods named by address (trellisctl policy explain --from IP)", () => {
    const c = load([ipBlockIngress("fd00:10::/32")]);
    const conn = { port: 8080, protocol: "TCP" as const };
    const v6 = evaluate(c, { ...conn, from: ep(c, "fd00:10:0:1::2"), to: ep(c, "fd00:10:0:1::1") });
    expect([v6.family, v6.allowed]).toEqual(["ipv6", true]);
    const v4 = evaluate(c, { ...conn, from: ep(c, "10.0.1.2"), to: ep(c, "10.0.1.1") });
    expect([v4.family, v4.allowed]).toEqual(["ipv4", false]);
    const byName = evaluate(c, { ...conn, from: ep(c, "x/api"), to: ep(c, "x/web") });
    expect(byName.family).toBe("ipv4");
  });

  it.each([
    [
      "an invalid IPv6 podIP",
      [pod("x", "bad", {}, { ips: ["10.0.0.1", "fd00::g"] })],
      /status.podIPs\[1\]: invalid IP/,
    ],
    ["an invalid IPv6 cidr", [ipBlockIngress("fd00::/129")], /ipBlock.cidr: invalid CIDR "fd00::\/129"/],
    [
      "an IPv6 except outside its cidr",
      [ipBlockIngress("fd00:1::/64", ["fd00:2::/80"])],
      /except\[0\]: "fd00:2::\/80" is outside/,
    ],
    [
      "an IPv4 except in an IPv6 cidr",
      [ipBlockIngress("fd00:1::/64", ["10.0.0.0/8"])],
      /except\[0\]: "10.0.0.0\/8" is outside/,
    ],
    [
      "an IPv6 except in an IPv4 cidr",
      [ipBlockIngress("10.0.0.0/8", ["fd00::/64"])],
      /except\[0\]: "fd00::\/64" is outside/,
    ],
  ])("rejects %s, naming the field", (_n, docs, re) => expect(loadError(docs)).toMatch(re));
});

describe("dual-stack evaluator", () => {
  it("an IPv6 ipBlock with except admits IPv6 sources in it and not in the except", () => {
    const c = load([ipBlockIngress("fd00:10::/32", ["fd00:10:0:2::/64"])]);
    expect(allowed(c, "fd00:10:0:3::7", "x/web")).toBe(true);
    expect(allowed(c, "fd00:10:0:2::7", "x/web")).toBe(false);
    expect(allowed(c, "y/client", "x/web", { family: "ipv6" })).toBe(false); // fd00:10:0:2::1: in the except
    expect(allowed(c, "x/api", "x/web", { family: "ipv6" })).toBe(true);
    // An IPv6 block says nothing about IPv4: the pod is isolated, IPv4 denied.
    expect(allowed(c, "x/api", "x/web", { family: "ipv4" })).toBe(false);
  });

  it("an IPv4 ipBlock never admits IPv6 traffic of the same pod", () => {
    const c = load([ipBlockIngress("10.0.0.0/16")]);
    expect(allowed(c, "x/api", "x/web", { family: "ipv4" })).toBe(true);
    expect(allowed(c, "x/api", "x/web", { family: "ipv6" })).toBe(false);
  });

  it("pod and namespace selectors hold for both families", () => {
    const c = load([webIngress("from-y", { from: [{ namespaceSelector: { matchLabels: { team: "y" } } }] })]);
    for (const family of ["ipv4", "ipv6"] as const) {
      expect(allowed(c, "y/client", "x/web", { family })).toBe(true);
      expect(allowed(c, "x/api", "x/web", { family })).toBe(false);
    }
  });

  it("the pod's own node is always allowed, by either of its addresses", () => {
    const c = load([np("x", "deny", { podSelector: {}, policyTypes: ["Ingress"] })]);
    expect(allowed(c, "fd00:168::1", "x/web")).toBe(true);
    expect(allowed(c, "192.168.0.1", "x/web")).toBe(true);
    expect(allowed(c, "fd00:168::2", "x/web")).toBe(false);
  });

  it("an admin networks peer with an IPv6 CIDR denies IPv6 egress to it only", () => {
    const c = load([
      anp("no-db6", {
        priority: 1,
        subject: { namespaces: {} },
        egress: [{ action: "Deny", to: [{ networks: ["2001:db8::/48", "198.51.100.0/24"] }] }],
      }),
    ]);
    expect(allowed(c, "x/web", "2001:db8::1")).toBe(false);
    expect(allowed(c, "x/web", "2001:db9::1")).toBe(true);
    expect(allowed(c, "x/web", "198.51.100.1")).toBe(false);
  });

  it("ICMP: a rule with ports never admits it, a rule without ports does", () => {
    const ports = load([webIngress("http", { ports: [{ port: 8080 }] })]);
    const any = load([webIngress("all", {})]);
    for (const family of ["ipv4", "ipv6"] as const) {
      expect(allowed(ports, "y/client", "x/web", { family, protocol: "TCP" })).toBe(true);
      expect(allowed(ports, "y/client", "x/web", { family, protocol: "ICMP", port: 0 })).toBe(false);
      expect(allowed(any, "y/client", "x/web", { family, protocol: "ICMP", port: 0 })).toBe(true);
      // Not isolated: default allow.
      expect(allowed(ports, "x/web", "y/client", { family, protocol: "ICMP", port: 0 })).toBe(true);
    }
  });
});

describe("dual-stack compiled table", () => {
  const web = podVethName("x", "web");
  const api = podVethName("x", "api");
  const v4only = podVethName("y", "v4only");
  const set = (t: NftTable, name: string) => t.sets.find((s) => s.name === name);

  it("holds each local pod's veth and IPv6 address for anti-spoofing", () => {
    const t = compile(load([]), "n1").table;
    expect(set(t, "pod-sources-v6")).toMatchObject({ type: ["ifname", "ipv6_addr"] });
    expect(set(t, "pod-sources-v6")?.elements).toEqual([
      { concat: [api, "fd00:10:0:1::2"] },
      { concat: [web, "fd00:10:0:1::1"] },
    ]);
    // A plain set of single addresses, as for IPv4 (no intervals: see PolicyIR.plainSets).
    expect(set(t, "all-pods-v6")).toMatchObject({ type: "ipv6_addr" });
    expect(set(t, "all-pods-v6")?.flags).toBeUndefined();
    expect(set(t, "all-pods-v6")?.elements).toEqual(["fd00:10:0:1::1", "fd00:10:0:1::2", "fd00:10:0:2::1"]);
  });

  it("gives every address and port set an ipv6_addr twin", () => {
    const t = compile(
      load([
        ipBlockIngress("fd00:10::/32", ["fd00:10:0:2::/64"]),
        webIngress("named", { ports: [{ port: "http" }] }),
      ]),
      "n1",
    ).table;
    const v4 = t.sets.filter((s) => /^(peer|port)-[0-9a-f]+$/.test(s.name));
    expect(v4.length).toBe(2);
    for (const s of v4) {
      const twin = set(t, `${s.name}-v6`);
      expect(twin?.type).toEqual(Array.isArray(s.type) ? ["ipv6_addr", ...s.type.slice(1)] : "ipv6_addr");
    }
    const peer = v4.find((s) => s.name.startsWith("peer-"))?.name as string;
    expect(set(t, `${peer}-v6`)?.elements).toEqual([
      { prefix: { addr: "fd00:10::", len: 63 } },
      { range: ["fd00:10:0:3::", "fd00:10:ffff:ffff:ffff:ffff:ffff:ffff"] },
    ]);
    expect(set(t, peer)?.elements).toEqual([]);
    const port = v4.find((s) => s.name.startsWith("port-"))?.name as string;
    expect(set(t, `${port}-v6`)?.elements).toEqual([{ concat: ["fd00:10:0:1::1", "tcp", 8080] }]);
  });

  it("emits address-matching rules once per family, with ip and ip6 payloads", () => {
    const t = compile(load([ipBlockIngress("fd00:10::/32")]), "n1").table;
    const protos = t.chains
      .flatMap((c) => c.rules)
      .flatMap((r) => JSON.stringify(r.expr).match(/"protocol":"ip6?"/g) ?? []);
    expect(protos.filter((p) => p.includes("ip6")).length).toBe(
      protos.filter((p) => !p.includes("ip6")).length,
    );
    expect(JSON.stringify(t)).not.toContain('"nfproto"');
  });

  it("compiles admin networks and nodes peers of both families, and traces them as the evaluator says", () => {
    const c = load([
      anp("edges", {
        priority: 1,
        subject: { namespaces: {} },
        egress: [
          { action: "Deny", to: [{ networks: ["2001:db8::/48", "198.51.100.0/24"] }] },
          { action: "Deny", to: [{ nodes: { matchLabels: {} } }] },
        ],
      }),
    ]);
    const t = compile(c, "n1").table;
    const sets = t.sets.filter((s) => s.name.startsWith("peer-")).map((s) => [s.name, s.elements]);
    expect(sets).toContainEqual([
      expect.stringMatching(/-v6$/),
      [{ prefix: { addr: "2001:db8::", len: 48 } }],
    ]);
    // Node addresses are single addresses: a plain set.
    expect(sets).toContainEqual([expect.stringMatching(/-v6$/), ["fd00:168::1", "fd00:168::2"]]);
    for (const daddr of ["2001:db8::1", "2001:db8:1::1", "2001:db9::1", "fd00:168::2", "198.51.100.7"]) {
      const traced = trace(t, {
        iifname: web,
        oifname: "uplink0",
        saddr: daddr.includes(":") ? "fd00:10:0:1::1" : "10.0.1.1",
        daddr,
        protocol: "tcp",
        dport: 443,
        ct: "new",
      }).verdict;
      const v = evaluate(c, { from: ep(c, "x/web"), to: ep(c, daddr), port: 443, protocol: "TCP" });
      expect([daddr, traced]).toEqual([daddr, v.allowed ? "accept" : "drop"]);
    }
    // …and the deny is really there: 2001:db8::1 and the remote node's IPv6 are dropped.
    expect(allowed(c, "x/web", "2001:db8::1")).toBe(false);
    expect(allowed(c, "x/web", "fd00:168::2")).toBe(false);
  });

  describe("traced", () => {
    const c = load([
      webIngress("web-http", { from: [{ podSelector: {} }], ports: [{ port: "http" }] }),
      tenant("t1", { namespaceSelector: { matchLabels: { team: "y" } }, isolation: "Strict" }),
    ]);
    const t = compile(c, "n1").table;
    const pkt: Packet = {
      iifname: api,
      oifname: web,
      saddr: "fd00:10:0:1::2",
      daddr: "fd00:10:0:1::1",
      protocol: "tcp",
      dport: 8080,
      ct: "new",
    };
    it.each<[string, Partial<Packet>, "accept" | "drop"]>([
      ["a pod's own IPv6 source to an allowed named port", {}, "accept"],
      ["the same to another port", { dport: 8081 }, "drop"],
      ["ICMPv6 echo to the isolated pod (only a port rule)", { protocol: "ipv6-icmp", dport: 0 }, "drop"],
      [
        "ICMPv6 echo from the isolated pod (egress not isolated)",
        {
          iifname: web,
          oifname: api,
          saddr: "fd00:10:0:1::1",
          daddr: "fd00:10:0:1::2",
          protocol: "ipv6-icmp",
          dport: 0,
        },
        "accept",
      ],
      ["a forged IPv6 source", { saddr: "fd00:10:0:1::99" }, "drop"],
      ["another pod's IPv6 source", { saddr: "fd00:10:0:2::1" }, "drop"],
      [
        "a forged IPv6 source on an established flow",
        { saddr: "fd00:10:0:1::99", ct: "established" },
        "drop",
      ],
      ["IPv6 from a pod that has no IPv6 address", { iifname: v4only, saddr: "fd00:10:0:1::9" }, "drop"],
      [
        "IPv6 that is not a pod's",
        { iifname: "eth9", oifname: "eth8", saddr: "2001:db8::1", daddr: "2001:db8::2" },
        "accept",
      ],
    ])("%s: %s", (_n, over, want) => expect(trace(t, { ...pkt, ...over }).verdict).toBe(want));

    it("the tenant boundary holds for IPv6: y/client (remote) into Strict tenant t1's pod", () => {
      // y/v4only is in t1 and has no IPv6; check against the evaluator for a v6 pod instead.
      const t2 = compile(c, "n2").table;
      const client = podVethName("y", "client");
      const out = trace(t2, {
        iifname: "uplink0",
        oifname: client,
        saddr: "fd00:10:0:1::2",
        daddr: "fd00:10:0:2::1",
        protocol: "tcp",
        dport: 80,
        ct: "new",
      }).verdict;
      const v = evaluate(c, {
        from: ep(c, "x/api"),
        to: ep(c, "y/client"),
        port: 80,
        protocol: "TCP",
        family: "ipv6",
      });
      expect(v.allowed).toBe(false);
      expect(out).toBe("drop");
    });
  });
});
