/**
 * The cluster benchmark: Trellis's lab (`trellisctl lab up`) measured end to
 * end, with real pods, real BGP (BIRD at the ToR) and real nftables.
 *  1. pod creation → reachable from a pod on another node, side by side with
 *     the reference ptp + host-local lab (`lab up --cni ptp`, static routes);
 *  2. block claim → the ToR holding the block's route;
 *  3. NetworkPolicy change → every node enforcing it (goal p99 < 1 s);
 *  4. convergence after a node is lost, hold timer only and with BFD
 *     (`lab up --bgp-password`, which turns BFD on for the ToR sessions);
 *  5. scale: the lab measures of (1)-(4) came from (3 nodes, mesh) and, in the
 *     full run, an N-node lab with the full mesh and with 2 reflectors.
 *
 *   quick (CI): 3 pods, 2 claims, 2 changes, 1 loss (agent stopped), no BFD lab, no big lab
 *   full (scripts/bench-cluster): 100 pods, 30 claims, 100 changes, 3 losses per mode, 20 nodes
 */
import { cpus, loadavg } from "node:os";
import { LAB_HOLD_TIME } from "../../../lab/bgp-fabric.js";
import { stats, type Stats } from "../cni/bench.js";
import { BenchLab } from "./bench-lab.js";
import { CLAIM_POOL, measureBlockClaims } from "./block-claim.js";
import { LOSS_MODES, measureNodeLoss, type LossMode, type LossSamples } from "./node-loss.js";
import { measurePodReach } from "./pod-reach.js";
import { measurePolicyChanges } from "./policy-change.js";
import { measureScale, measureScaleRuns, type ScaleResult } from "./scale.js";

export interface ClusterBenchOptions {
  size: "quick" | "full";
  pods: number;
  claims: number;
  changes: number;
  lossReps: number;
  lossModes: readonly LossMode[];
  /** run the node-loss measure again on a lab with BFD */
  bfd: boolean;
  /** the big scale lab's node count; absent: no big lab */
  scaleNodes?: number;
}

export function benchOptions(size: "quick" | "full"): ClusterBenchOptions {
  return size === "quick"
    ? { size, pods: 3, claims: 2, changes: 2, lossReps: 1, lossModes: ["agent stopped"], bfd: false }
    : {
        size,
        pods: 100,
        claims: 30,
        changes: 100,
        lossReps: 3,
        lossModes: LOSS_MODES,
        bfd: true,
        scaleNodes: 20,
      };
}

/** BFD as the lab configures it (agent/bgp/desired-config.ts: `bfd: true` is 300 ms x 3). */
export const LAB_BFD = "BFD 300 ms x 3";

export interface LossRow {
  lab: string;
  mode: LossMode;
  tor: Stats;
  nodes: Stats;
}

export interface ClusterBenchResult {
  size: "quick" | "full";
  date: string;
  machine: { cpus: number; loadavgStart: number[]; loadavgEnd: number[]; durationSeconds: number };
  options: ClusterBenchOptions;
  podReach: {
    pods: number;
    trellis: { reachable: Stats; address: Stats };
    reference: { reachable: Stats; address: Stats };
    ratio: { reachableP50: number; reachableP99: number };
  };
  blockClaim: { pool: typeof CLAIM_POOL; claimToTor: Stats; podToTor: Stats };
  policy: { allNodes: Stats; perNode: Record<string, Stats>; denies: number; goalP99Ms: number };
  nodeLoss: { holdTimeSeconds: number; rows: LossRow[] };
  scale: { labs: ScaleResult[]; failures: string[] };
  samples: Record<string, unknown>;
}

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

export async function runClusterBench(
  o: ClusterBenchOptions,
  log: (s: string) => void = () => {},
): Promise<ClusterBenchResult> {
  const started = Date.now();
  const loadavgStart = loadavg();
  const labs: ScaleResult[] = [];
  const loss: { lab: string; s: LossSamples[] }[] = [];
  // Measures 1-4 share the 3-node lab (5 records how it came up); ptp joins for 1.
  const main = new BenchLab("trellis", 3);
  const ref = new BenchLab("ptp", 2, ["--cni", "ptp"]);
  const onMain = async () => {
    log("lab trellis: 3 nodes, mesh");
    labs.push(await measureScale(main, 180_000, log));
    log("lab ptp: 2 nodes, --cni ptp");
    await ref.up(180_000);
    const reach = await measurePodReach({ trellis: main, reference: ref }, o.pods, log);
    await ref.down();
    const claims = await measureBlockClaims(main, o.claims, log);
    const policy = await measurePolicyChanges(main, o.changes, log);
    loss.push({
      lab: `hold timer only (${LAB_HOLD_TIME} s)`,
      s: await measureNodeLoss(main, o.lossModes, o.lossReps, log),
    });
    return { reach, claims, policy };
  };
  let measured;
  try {
    measured = await onMain();
  } finally {
    await Promise.all([main.down(), ref.down()]);
  }
  const { reach, claims, policy } = measured;
  if (o.bfd) {
    const bfd = new BenchLab("bfd", 3, ["--bgp-password", "bench-cluster"]);
    try {
      log("lab bfd: 3 nodes, --bgp-password (TCP MD5 and BFD on the ToR sessions)");
      await bfd.up(180_000);
      await bfd.ensureNamespace("bench-loss");
      await bfd.createPod({ namespace: "bench-loss", name: "victim", node: "node-3" });
      await bfd.waitRunning("bench-loss", ["victim"]);
      loss.push({
        lab: `${LAB_BFD} on the ToR sessions`,
        s: await measureNodeLoss(bfd, o.lossModes, o.lossReps, log),
      });
    } finally {
      await bfd.down();
    }
  }
  let failures: string[] = [];
  if (o.scaleNodes !== undefined) {
    const big = await measureScaleRuns(o.scaleNodes, log);
    labs.push(...big.results);
    failures = big.failures;
  }
  return {
    size: o.size,
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      loadavgStart,
      loadavgEnd: loadavg(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
    },
    options: o,
    podReach: {
      pods: o.pods,
      trellis: { reachable: stats(reach.trellis.reachableMs), address: stats(reach.trellis.addressMs) },
      reference: {
        reachable: stats(reach.reference.reachableMs),
        address: stats(reach.reference.addressMs),
      },
      ratio: {
        reachableP50: ratio(stats(reach.trellis.reachableMs).p50, stats(reach.reference.reachableMs).p50),
        reachableP99: ratio(stats(reach.trellis.reachableMs).p99, stats(reach.reference.reachableMs).p99),
      },
    },
    blockClaim: {
      pool: CLAIM_POOL,
      claimToTor: stats(claims.claimToTorMs),
      podToTor: stats(claims.podToTorMs),
    },
    policy: {
      allNodes: stats(policy.allNodesMs),
      perNode: Object.fromEntries(Object.entries(policy.perNodeMs).map(([k, v]) => [k, stats(v)])),
      denies: policy.denies,
      goalP99Ms: 1000,
    },
    nodeLoss: {
      holdTimeSeconds: LAB_HOLD_TIME,
      rows: loss.flatMap((l) =>
        l.s.map((x) => ({ lab: l.lab, mode: x.mode, tor: stats(x.torMs), nodes: stats(x.nodesMs) })),
      ),
    },
    scale: { labs, failures },
    samples: { reach, claims, policy, loss },
  };
}

const ms = (x: number): string => String(Math.round(x));
const sec = (x: number): string => (x / 1000).toFixed(1);

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(w[i] ?? 0)).join(" | ")} |`;
  return [line(head), `|${w.map((n) => "-".repeat(n + 2)).join("|")}|`, ...rows.map(line)];
}

/** "a–b" for a spread, "a" when every value is the same. */
function spread(xs: number[]): string {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

export function formatClusterBench(x: ClusterBenchResult): string {
  const r = x.podReach;
  const out: string[] = [
    `Cluster benchmark (${x.size}), ${x.date}; load average ${x.machine.loadavgStart.map((l) => l.toFixed(2)).join(" ")} at the start, ` +
      `${x.machine.loadavgEnd.map((l) => l.toFixed(2)).join(" ")} at the end (${x.machine.cpus} cores), ${x.machine.durationSeconds} s`,
    "",
    `1. Pod created → reachable from a pod on another node (${r.pods} pods per lab, alternating)`,
    "",
    ...table(
      ["measure (ms)", "trellis p50", "trellis p99", "ptp p50", "ptp p99", "ratio p50", "ratio p99"],
      [
        [
          "created → reachable from node-2",
          ms(r.trellis.reachable.p50),
          ms(r.trellis.reachable.p99),
          ms(r.reference.reachable.p50),
          ms(r.reference.reachable.p99),
          String(r.ratio.reachableP50),
          String(r.ratio.reachableP99),
        ],
        [
          "created → address in pod status",
          ms(r.trellis.address.p50),
          ms(r.trellis.address.p99),
          ms(r.reference.address.p50),
          ms(r.reference.address.p99),
          String(ratio(r.trellis.address.p50, r.reference.address.p50)),
          String(ratio(r.trellis.address.p99, r.reference.address.p99)),
        ],
      ],
    ),
    "",
    `2. Block claim → the ToR holds its route (pool ${x.blockClaim.pool.cidr}, /${x.blockClaim.pool.blockSize} blocks: one claim per two pods, pre-claimed once a block runs low; no peer: ptp has no BGP)`,
    "",
    ...table(
      ["measure (ms)", "p50", "p99", "n"],
      [
        ["IPAMBlock seen → in the ToR's RIB", x.blockClaim.claimToTor],
        ["pod created → in the ToR's RIB", x.blockClaim.podToTor],
      ].map(([name, s]) => {
        const t = s as Stats;
        return [name as string, ms(t.p50), ms(t.p99), String(t.n)];
      }),
    ),
    "",
    `3. NetworkPolicy change → every node enforcing it (${x.policy.allNodes.n} changes, ${x.policy.denies} to deny; ` +
      `probe resolution 20 ms; goal p99 < ${x.policy.goalP99Ms} ms: ${x.policy.allNodes.p99 < x.policy.goalP99Ms ? "met" : "NOT met"})`,
    "",
    ...table(
      ["measure (ms)", "p50", "p99", "n"],
      [
        ["written → enforced on every node", x.policy.allNodes] as const,
        ...Object.entries(x.policy.perNode).map(([n, s]) => [`written → enforced on ${n}`, s] as const),
      ].map(([name, s]) => [name, ms(s.p50), ms(s.p99), String(s.n)]),
    ),
    "",
    `4. Node lost → its blocks gone from the kernels of the ToR and the other nodes (hold time ${x.nodeLoss.holdTimeSeconds} s; BFD only on the ToR sessions)`,
    "",
    ...table(
      ["lab", "loss", "ToR p50", "ToR p99", "nodes p50", "nodes p99", "n", "ToR vs hold-only"],
      x.nodeLoss.rows.map((row) => {
        const base = x.nodeLoss.rows.find((b) => b.mode === row.mode);
        return [
          row.lab,
          row.mode,
          ms(row.tor.p50),
          ms(row.tor.p99),
          ms(row.nodes.p50),
          ms(row.nodes.p99),
          String(row.tor.n),
          base !== undefined && base !== row ? String(ratio(row.tor.p50, base.tor.p50)) : "",
        ];
      }),
    ),
    "",
    "5. Scale (converged: every node and the ToR hold every other node's blocks, both families; one pod per node created when lab up returns)",
    "",
    ...table(
      [
        "nodes",
        "topology",
        "lab up s",
        "converged s (from up)",
        "pods → converged s",
        "BGP sessions/node",
        "agent RSS MiB p50",
        "max",
      ],
      x.scale.labs.map((s) => {
        const rss = stats(s.agentRssMiB);
        const rr = s.routeReflectors;
        const sessions =
          rr > 0
            ? `${spread(s.sessions.slice(0, rr))} (reflectors), ${spread(s.sessions.slice(rr))} (clients)`
            : spread(s.sessions);
        return [
          String(s.nodes),
          rr > 0 ? `${rr} route reflectors` : "full mesh",
          sec(s.labUpMs),
          sec(s.convergedMs),
          sec(s.podsToConvergedMs),
          sessions,
          String(rss.p50),
          String(Math.max(...s.agentRssMiB)),
        ];
      }),
    ),
    ...(x.scale.failures.length > 0 ? ["", ...x.scale.failures.map((f) => `did not come up: ${f}`)] : []),
    "",
  ];
  return out.join("\n");
}
