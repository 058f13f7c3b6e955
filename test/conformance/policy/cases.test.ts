/**
 * The conformance cases against the reference evaluator alone (no root, no
 * namespaces): the evaluator must produce every expected truth table. The
 * namespace suite (netns.test.ts) then checks the compiled rules agree.
 */
import { describe, it, expect } from "@jest/globals";
import { loadCluster } from "../../../policy/model/load.js";
import { evaluate } from "../../../policy/evaluator/evaluate.js";
import type { Cluster } from "../../../policy/model/cluster.js";
import { adminCases, networkPolicyCases, tenantCases, type Case, type Probe } from "./cases.js";
import { mismatches } from "./reachability.js";
import type { Doc } from "../../../policy/test/fixtures.js";
import { NetnsCluster } from "./netns-cluster.js";

// Only used for its object model (pod IPs, docs); nothing is created.
const model = new NetnsCluster("tPcase", 71);
const ipModel = {
  net: 71,
  ip: (k: string) => model.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string,
};

export function evaluatorTable(c: Cluster, probe: Probe): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const f of c.pods) {
    for (const t of c.pods) {
      if (f === t) continue;
      const v = evaluate(c, {
        from: { kind: "pod", pod: f },
        to: { kind: "pod", pod: t },
        port: probe.port,
        protocol: probe.protocol,
      });
      out.set(`${f.key}->${t.key}`, v.allowed);
    }
  }
  return out;
}

function check(cases: Case[]): void {
  for (const k of cases) {
    it(k.name, () => {
      const errors: string[] = [];
      k.steps.forEach((s, i) => {
        const docs: Doc[] = [...model.baseDocs(s.nsLabels, s.podLabels), ...s.policies];
        const c = loadCluster(docs);
        for (const p of s.probes)
          errors.push(...mismatches(p.expect, evaluatorTable(c, p), `step ${i} ${p.protocol}/${p.port}`));
      });
      expect(errors).toEqual([]);
    });
  }
}

describe("evaluator: upstream NetworkPolicy e2e cases", () => check(networkPolicyCases(ipModel)));
describe("evaluator: admin network policy cases", () => check(adminCases(ipModel)));
describe("evaluator: tenant cases", () => check(tenantCases()));
