/**
 * Without root: the compiled rules, walked by the packet tracer, against the
 * reference evaluator — every conformance case and many seeded random policy
 * sets (TRELLIS_TRACE_SEEDS, default 300) over a dual-stack model, for IPv4
 * and IPv6 (with IPv6 ipBlocks in the generator) and ICMP echo. The
 * namespace suites check that the kernel agrees with the same rules.
 */
import { describe, it, expect } from "@jest/globals";
import { loadCluster } from "../../../policy/model/load.js";
import { compile } from "../../../policy/compiler/compile.js";
import { trace } from "../../../policy/compiler/tracer.js";
import { CT_MARK_DENIED } from "../../../policy/compiler/to-nft.js";
import { podVethName } from "../../../net/veth-name.js";
import type { Family } from "../../../policy/model/select.js";
import { NetnsCluster, type ProbeProtocol } from "./netns-cluster.js";
import { adminCases, networkPolicyCases, tenantCases } from "./cases.js";
import { generate } from "./generator.js";
import { mismatches, verdictFor } from "./reachability.js";
import { tracedTable } from "./tracer-table.js";

const NET = 76;
const model = new NetnsCluster("tPtr", NET, { dualStack: true }); // its object model only: nothing is created
const ipOf = (k: string) => model.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string;
const ip6Of = (k: string) => model.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip6 as string;
const SEEDS = Number(process.env["TRELLIS_TRACE_SEEDS"] ?? 300);
const PROBES: [number, ProbeProtocol, Family][] = [
  [80, "TCP", "ipv4"],
  [81, "TCP", "ipv4"],
  [81, "UDP", "ipv4"],
  [80, "SCTP", "ipv4"],
  [0, "ICMP", "ipv4"],
  [80, "TCP", "ipv6"],
  [81, "UDP", "ipv6"],
  [0, "ICMP", "ipv6"],
];

describe("tracer: conformance cases through the compiled rules", () => {
  for (const k of [
    ...networkPolicyCases({ net: NET, ip: ipOf }),
    ...adminCases({ net: NET, ip: ipOf }),
    ...tenantCases(),
  ]) {
    it(k.name, () => {
      const errors: string[] = [];
      k.steps.forEach((s, i) => {
        const c = loadCluster([...model.baseDocs(s.nsLabels, s.podLabels), ...s.policies]);
        for (const p of s.probes)
          errors.push(
            ...mismatches(p.expect, tracedTable(c, p.port, p.protocol), `step ${i} ${p.protocol}/${p.port}`),
          );
      });
      expect(errors).toEqual([]);
    });
  }
});

describe("tracer: seeded random policy sets, compiled rules vs evaluator", () => {
  it(`agrees on ${SEEDS} seeds × every pod pair × ${PROBES.length} ports`, () => {
    const diffs: string[] = [];
    for (let seed = 1; seed <= SEEDS && diffs.length < 20; seed++) {
      const g = generate(seed, NET, ipOf, ip6Of);
      const c = loadCluster([...model.baseDocs(), ...g.docs]);
      for (const [port, protocol, family] of PROBES) {
        for (const [key, ok] of tracedTable(c, port, protocol, family)) {
          const v = verdictFor(c, key, { port, protocol, family });
          if (v === undefined) continue;
          if (v.allowed !== ok)
            diffs.push(
              `${g.name} ${family} ${protocol}/${port} ${key}: evaluator ${v.allowed}, rules ${ok} ${JSON.stringify(g.docs)}`,
            );
        }
      }
    }
    expect(diffs).toEqual([]);
  });
});

describe("tracer: dataplane guards", () => {
  const c = loadCluster(model.baseDocs());
  const xa = c.pods.find((p) => p.key === "x/a");
  const yb = c.pods.find((p) => p.key === "y/b");
  if (!xa?.node || !xa.ipv4 || !yb?.ipv4) throw new Error("model");
  const node: string = xa.node;
  const own: string = xa.ipv4;
  const forged: string = yb.ipv4;
  const t = compile(c, node).table;
  const pkt = {
    iifname: podVethName("x", "a"),
    oifname: "uplink0",
    saddr: own,
    daddr: "10.99.0.1",
    protocol: "tcp" as const,
    dport: 80,
    ct: "new" as const,
  };
  it("accepts a pod's own source address", () => expect(trace(t, pkt).verdict).toBe("accept"));
  it("drops a forged source address", () => expect(trace(t, { ...pkt, saddr: forged }).verdict).toBe("drop"));
  it("drops a forged source even on an established flow", () =>
    expect(trace(t, { ...pkt, saddr: forged, ct: "established" }).verdict).toBe("drop"));
  it("drops an unknown trl interface", () =>
    expect(trace(t, { ...pkt, iifname: "trl00000000000" }).verdict).toBe("drop"));
  const own6 = xa.ipv6 as string;
  const pkt6 = { ...pkt, saddr: own6, daddr: "2001:db8::1" };
  it("accepts a pod's own IPv6 source", () => expect(trace(t, pkt6).verdict).toBe("accept"));
  it("drops a forged IPv6 source", () =>
    expect(trace(t, { ...pkt6, saddr: yb.ipv6 as string }).verdict).toBe("drop"));
  it("drops a forged IPv6 source even on an established flow", () =>
    expect(trace(t, { ...pkt6, saddr: yb.ipv6 as string, ct: "established" }).verdict).toBe("drop"));
  it("drops the pod's IPv4 address carried in an IPv6 packet", () =>
    expect(trace(t, { ...pkt6, family: "ipv6", saddr: own }).verdict).toBe("drop"));
  it("leaves traffic that is not a pod's alone", () =>
    expect(trace(t, { ...pkt, iifname: "eth9", saddr: "192.0.2.1" }).verdict).toBe("accept"));
});

describe("tracer: a flow a policy change denied (policy/README.md, Revocation)", () => {
  const c = loadCluster(model.baseDocs());
  const xa = model.pods.find((p) => p.ns === "x" && p.pod === "a");
  const yb = model.pods.find((p) => p.ns === "y" && p.pod === "b");
  if (!xa || !yb) throw new Error("model");
  const t = compile(c, xa.node).table;
  const fwd = {
    iifname: yb.node === xa.node ? podVethName("y", "b") : "uplink0",
    oifname: podVethName("x", "a"),
    saddr: yb.ip,
    daddr: xa.ip,
    protocol: "tcp" as const,
    dport: 80,
    ct: "established" as const,
  };
  const reply = { ...fwd, iifname: fwd.oifname, oifname: fwd.iifname, saddr: fwd.daddr, daddr: fwd.saddr };
  it("an established flow goes on without a policy walk (the policy speaks of new connections)", () => {
    expect(trace(t, fwd).verdict).toBe("accept");
    expect(trace(t, reply).verdict).toBe("accept");
  });
  it("marked denied, it is dropped in both directions, whatever the rules say now", () => {
    expect(trace(t, { ...fwd, ctMark: CT_MARK_DENIED }).verdict).toBe("drop");
    expect(trace(t, { ...reply, ctMark: CT_MARK_DENIED | 0x5 }).verdict).toBe("drop");
  });
  it("other bits of the mark leave it established", () =>
    expect(trace(t, { ...fwd, ctMark: 0xef }).verdict).toBe("accept"));
});
