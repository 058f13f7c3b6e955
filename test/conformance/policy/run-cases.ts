/**
 * Runs conformance cases against a NetnsCluster: compile and apply every step
 * through the driver on both nodes, probe every pod pair with real
 * connections, and report mismatches against both the expected truth table
 * and the reference evaluator.
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { loadCluster } from "../../../policy/model/load.js";
import { evaluate } from "../../../policy/evaluator/evaluate.js";
import type { Doc } from "../../../policy/test/fixtures.js";
import type { Case, IpModel } from "./cases.js";
import { NetnsCluster } from "./netns-cluster.js";
import { mismatches } from "./reachability.js";

export async function runCase(cluster: NetnsCluster, k: Case): Promise<string[]> {
  const errors: string[] = [];
  for (const [i, s] of k.steps.entries()) {
    const docs: Doc[] = [...cluster.baseDocs(s.nsLabels, s.podLabels), ...s.policies];
    await cluster.apply(docs);
    const c = loadCluster(docs);
    for (const p of s.probes) {
      const results = await cluster.probeAll(p.port, p.protocol);
      const observed = new Map<string, boolean>();
      for (const [key, r] of results) {
        observed.set(key, r === "connected");
        if (r !== "connected" && r !== "timeout")
          errors.push(`step ${i} ${p.protocol}/${p.port} ${key}: unexpected probe result ${r}`);
        const [from, to] = key.split("->") as [string, string];
        const fp = c.pods.find((x) => x.key === from);
        const tp = c.pods.find((x) => x.key === to);
        if (fp && tp) {
          const v = evaluate(c, {
            from: { kind: "pod", pod: fp },
            to: { kind: "pod", pod: tp },
            port: p.port,
            protocol: p.protocol,
          });
          if (v.allowed !== (r === "connected"))
            errors.push(
              `step ${i} ${p.protocol}/${p.port} ${key}: evaluator says ${v.allowed ? "allowed" : "denied"}, probe ${r}`,
            );
        }
      }
      errors.push(...mismatches(p.expect, observed, `step ${i} ${p.protocol}/${p.port}`));
    }
  }
  return errors;
}

/**
 * One suite of cases on a cluster of its own: `prefix` unique per test file
 * (e.g. "tPnp"), `net` its second octet (10.<net>.x.x); one test per case,
 * each expecting no mismatch from runCase.
 */
export function describeCases(
  title: string,
  prefix: string,
  net: number,
  cases: (m: IpModel) => readonly Case[],
): void {
  const cluster = new NetnsCluster(prefix, net);
  const ipModel: IpModel = {
    net,
    ip: (k: string) => cluster.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string,
  };
  describe(title, () => {
    beforeAll(() => cluster.up(), 120_000);
    afterAll(() => cluster.down());
    for (const k of cases(ipModel)) {
      it(
        k.name,
        async () => {
          expect(await runCase(cluster, k)).toEqual([]);
        },
        60_000,
      );
    }
  });
}
