/**
 * Measure 3: a NetworkPolicy change to every node enforcing it. On each of
 * the lab's nodes a target pod (app=target) and a client pod (app=client);
 * the client on node k+1 probes the target on node k, so each node's
 * enforcement (ingress is enforced where the target lives) is seen from
 * another node. One NetworkPolicy selects the targets and alternates between
 * allowing the clients and allowing nothing (deny); a change is done when
 * every client sees the new verdict. Each prober starts a new connection
 * every 20 ms (each with 900 ms to answer) from just before the write, and
 * the time of a change is when the first attempt with the new verdict left,
 * on the slowest node.
 */
import type { BenchLab } from "./bench-lab.js";
import { POD_PORT } from "./bench-lab.js";
import { ProbeClient } from "./probe-client.js";
import { clockMs, type Want } from "./probe-verdict.js";

const NS = "bench-policy";
const PATH = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;

export interface PolicySamples {
  /** change written → the slowest node enforcing it, ms */
  allNodesMs: number[];
  /** the same, per node (where the target lives) */
  perNodeMs: Record<string, number[]>;
  /** how many of the changes were to deny (the rest allow) */
  denies: number;
}

/** The NetworkPolicy in one of its two states. */
export function benchPolicy(allow: boolean, resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: "bench",
      namespace: NS,
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    },
    spec: {
      podSelector: { matchLabels: { app: "target" } },
      policyTypes: ["Ingress"],
      ingress: allow ? [{ from: [{ podSelector: { matchLabels: { app: "client" } } }] }] : [],
    },
  };
}

export async function measurePolicyChanges(
  lab: BenchLab,
  changes: number,
  log: (s: string) => void,
): Promise<PolicySamples> {
  const nodes = lab.nodeNames();
  await lab.ensureNamespace(NS);
  const created = new Map<string, string>();
  for (const node of nodes)
    for (const role of ["target", "client"]) {
      const name = `${role}-${node}`;
      const p = await lab.createPod({ namespace: NS, name, node, labels: { app: role } });
      created.set(name, p.netns);
    }
  const ips = await lab.waitRunning(NS, [...created.keys()]);
  // client on node k+1 → target on node k
  const pairs = nodes.map((node, k) => {
    const from = nodes[(k + 1) % nodes.length] ?? node;
    return {
      node,
      ip: ips.get(`target-${node}`) ?? "",
      client: new ProbeClient(created.get(`client-${from}`) ?? ""),
    };
  });
  const out: PolicySamples = {
    allNodesMs: [],
    perNodeMs: Object.fromEntries(nodes.map((n) => [n, []])),
    denies: 0,
  };
  const verdictEverywhere = async (want: Want, t0: number, write: () => Promise<void>): Promise<number[]> => {
    const probes = pairs.map((p) =>
      p.client.probe({
        ip: p.ip,
        port: POD_PORT,
        want,
        intervalMs: 20,
        attemptTimeoutMs: 900,
        deadlineMs: 30_000,
      }),
    );
    await write();
    const rs = await Promise.all(probes);
    const failed = rs.map((r, k) => (r.ok ? undefined : pairs[k]?.node)).filter((x) => x !== undefined);
    if (failed.length > 0) throw new Error(`policy ${want}: not seen on ${failed.join(", ")} within 30 s`);
    return rs.map((r) => r.at - t0);
  };
  try {
    let obj = await lab.api.request<{ metadata: { resourceVersion: string } }>(
      "POST",
      PATH,
      benchPolicy(true),
    );
    // Allowed everywhere first: the start state is known, and is enforced.
    await verdictEverywhere("open", clockMs(), async () => undefined);
    for (let i = 0; i < changes; i++) {
      const allow = i % 2 === 1;
      if (!allow) out.denies++;
      const t0 = clockMs();
      const ms = await verdictEverywhere(allow ? "open" : "closed", t0, async () => {
        obj = await lab.api.request("PUT", `${PATH}/bench`, benchPolicy(allow, obj.metadata.resourceVersion));
      });
      ms.forEach((m, k) => out.perNodeMs[pairs[k]?.node ?? ""]?.push(m));
      out.allNodesMs.push(Math.max(...ms));
      if ((i + 1) % 10 === 0 || i + 1 === changes) log(`policy changes: ${i + 1}/${changes}`);
    }
  } finally {
    for (const p of pairs) p.client.close();
  }
  return out;
}
