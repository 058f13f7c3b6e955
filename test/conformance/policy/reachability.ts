/**
 * Expected truth tables, in the manner of the upstream e2e `Reachability`:
 * start from a default, then expect/unexpect peers by namespace and pod.
 * Loopback (a pod to itself) is not probed: it never leaves the pod.
 */
import { evaluate, type Connection, type Verdict } from "../../../policy/evaluator/evaluate.js";
import type { Cluster } from "../../../policy/model/cluster.js";
import { NAMESPACES, PODS } from "./netns-cluster.js";

export interface PeerSel {
  ns?: string;
  pod?: string;
}

export const ALL_PODS: string[] = NAMESPACES.flatMap((ns) => PODS.map((p) => `${ns}/${p}`));

function sel(s: PeerSel, pod: string): boolean {
  const [ns, name] = pod.split("/");
  return (s.ns === undefined || s.ns === ns) && (s.pod === undefined || s.pod === name);
}

export class Reachability {
  private readonly m = new Map<string, boolean>();

  constructor(defaultExpect: boolean) {
    for (const f of ALL_PODS) for (const t of ALL_PODS) if (f !== t) this.m.set(`${f}->${t}`, defaultExpect);
  }

  expect(from: string, to: string, v: boolean): this {
    if (from !== to) this.m.set(`${from}->${to}`, v);
    return this;
  }

  expectPeer(from: PeerSel, to: PeerSel, v: boolean): this {
    for (const f of ALL_PODS)
      for (const t of ALL_PODS) if (f !== t && sel(from, f) && sel(to, t)) this.m.set(`${f}->${t}`, v);
    return this;
  }

  expectAllIngress(to: string, v: boolean): this {
    return this.expectPeer({}, { ns: to.split("/")[0] as string, pod: to.split("/")[1] as string }, v);
  }

  expectAllEgress(from: string, v: boolean): this {
    return this.expectPeer({ ns: from.split("/")[0] as string, pod: from.split("/")[1] as string }, {}, v);
  }

  get(from: string, to: string): boolean {
    return this.m.get(`${from}->${to}`) ?? true;
  }

  entries(): [string, boolean][] {
    return [...this.m];
  }
}

/** The mismatches between an expected table and observed booleans, as printable lines. */
export function mismatches(
  expected: Reachability,
  observed: ReadonlyMap<string, boolean>,
  label: string,
): string[] {
  const out: string[] = [];
  for (const [k, v] of expected.entries()) {
    const o = observed.get(k);
    if (o !== v)
      out.push(
        `${label} ${k}: expected ${v ? "allowed" : "denied"}, got ${o === undefined ? "nothing" : o ? "allowed" : "denied"}`,
      );
  }
  return out;
}

/**
 * The evaluator's verdict for a probed pair, keyed "ns/from->ns/to" as the
 * probes and tracer tables report it; undefined when either pod is unknown.
 */
export function verdictFor(
  c: Cluster,
  key: string,
  conn: Omit<Connection, "from" | "to">,
): Verdict | undefined {
  const [f, t] = key.split("->") as [string, string];
  const from = c.pods.find((p) => p.key === f);
  const to = c.pods.find((p) => p.key === t);
  if (!from || !to) return undefined;
  return evaluate(c, { from: { kind: "pod", pod: from }, to: { kind: "pod", pod: to }, ...conn });
}
