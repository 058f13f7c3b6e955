/**
 * Without root: the compiled rules, walked by the packet tracer, against the
 * reference evaluator — every conformance case and many seeded random policy
 * sets (TRELLIS_TRACE_SEEDS, default 300). The namespace suites check that the
 * kernel agrees with the same rules.
 */
import { describe, it, expect } from "@jest/globals";
import { loadCluster } from "../../../policy/model/load.js";
import { evaluate } from "../../../policy/evaluator/evaluate.js";
import { compile } from "../../../policy/compiler/compile.js";
import { trace } from "../../../policy/compiler/tracer.js";
import { hostVethName } from "../../../policy/compiler/veth-name.js";
import type { Protocol } from "../../../policy/model/objects.js";
import { NetnsCluster } from "./netns-cluster.js";
import { adminCases, networkPolicyCases, tenantCases } from "./cases.js";
import { generate } from "./generator.js";
import { mismatches } from "./reachability.js";
import { tracedTable } from "./tracer-table.js";

const NET = 76;
const model = new NetnsCluster("tPtr", NET); // its object model only: nothing is created
const ipOf = (k: string) => model.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string;
const SEEDS = Number(process.env["TRELLIS_TRACE_SEEDS"] ?? 300);
const PROBES: [number, Protocol][] = [
  [80, "TCP"],
  [81, "TCP"],
  [81, "UDP"],
  [80, "SCTP"],
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
      const g = generate(seed, NET, ipOf);
      const c = loadCluster([...model.baseDocs(), ...g.docs]);
      for (const [port, protocol] of PROBES) {
        for (const [key, ok] of tracedTable(c, port, protocol)) {
          const [f, t] = key.split("->") as [string, string];
          const from = c.pods.find((p) => p.key === f);
          const to = c.pods.find((p) => p.key === t);
          if (!from || !to) continue;
          const v = evaluate(c, {
            from: { kind: "pod", pod: from },
            to: { kind: "pod", pod: to },
            port,
            protocol,
          });
          if (v.allowed !== ok)
            diffs.push(
              `${g.name} ${protocol}/${port} ${key}: evaluator ${v.allowed}, rules ${ok} ${JSON.stringify(g.docs)}`,
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
    iifname: hostVethName("x", "a"),
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
  it("drops IPv6 from a pod", () => expect(trace(t, { ...pkt, family: "ipv6" }).verdict).toBe("drop"));
  it("leaves traffic that is not a pod's alone", () =>
    expect(trace(t, { ...pkt, iifname: "eth9", saddr: "192.0.2.1" }).verdict).toBe("accept"));
});
