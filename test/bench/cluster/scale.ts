/**
 * Measure 5: a lab at scale, full mesh or route reflectors. From the start
 * of `lab up` to full convergence: one pod is created on every node as soon
 * as `up` returns (blocks are claimed on a node's first pod), and the lab has
 * converged when every node's kernel holds every other node's blocks (both
 * families) and so does the ToR's. Then, per node: established BGP sessions
 * (TCP port 179 in the node's namespace, from `ss`) and the agent's RSS.
 */
import { performance } from "node:perf_hooks";
import { BenchLab } from "./bench-lab.js";
import { until } from "../../support/until.js";

const NS = "bench-scale";

export interface ScaleResult {
  nodes: number;
  routeReflectors: number;
  /** `lab up` alone, ms */
  labUpMs: number;
  /** `lab up` started → every block on every node and the ToR, ms */
  convergedMs: number;
  /** pods created → converged, ms */
  podsToConvergedMs: number;
  /** established BGP sessions per node (index i: node-(i+1)) */
  sessions: number[];
  /** trellis-node VmRSS per node, MiB */
  agentRssMiB: number[];
}

/** Every (observer, block) where the observer lacks a block of another node; empty once converged. */
export function missingBlocks(
  blocks: Map<string, string[]>,
  routes: Map<string, Set<string>>,
): [string, string][] {
  const out: [string, string][] = [];
  for (const [observer, have] of routes)
    for (const [owner, cidrs] of blocks)
      if (owner !== observer) for (const c of cidrs) if (!have.has(c)) out.push([observer, c]);
  return out;
}

/**
 * Brings `lab` up (timed) and measures it. The lab is left running: the
 * caller uses it further, or downs it.
 */
export async function measureScale(
  lab: BenchLab,
  upTimeoutMs: number,
  log: (s: string) => void,
): Promise<ScaleResult> {
  const k = lab.upArgs.indexOf("--route-reflectors");
  const rr = k >= 0 ? Number(lab.upArgs[k + 1]) : 0;
  const t0 = performance.now();
  const labUpMs = await lab.up(upTimeoutMs);
  log(
    `scale: ${lab.nodes} nodes${rr > 0 ? `, ${rr} reflectors` : ", mesh"}: up in ${Math.round(labUpMs)} ms`,
  );
  await lab.ensureNamespace(NS);
  const tPods = performance.now();
  const nodes = lab.nodeNames();
  for (const node of nodes) await lab.createPod({ namespace: NS, name: `pod-${node}`, node });
  await until(
    `every block on every node of ${lab.name}`,
    async () => {
      const blocks = await lab.blocks();
      // every node has claimed a block of each family
      if (nodes.some((n) => (blocks.get(n) ?? []).length < 2)) return false;
      const routes = new Map<string, Set<string>>();
      for (const o of ["tor", ...nodes]) routes.set(o, await lab.routeDestinations(o));
      return missingBlocks(blocks, routes).length === 0;
    },
    Math.max(120_000, nodes.length * 15_000),
    250,
  );
  const t1 = performance.now();
  const sessions: number[] = [];
  const agentRssMiB: number[] = [];
  for (const node of nodes) {
    sessions.push(await lab.bgpSessions(node));
    agentRssMiB.push(lab.agentRssMiB(node));
  }
  return {
    nodes: lab.nodes,
    routeReflectors: rr,
    labUpMs,
    convergedMs: t1 - t0,
    podsToConvergedMs: t1 - tPods,
    sessions,
    agentRssMiB,
  };
}

/** The sizes tried, largest first: `nodes`, then ¾ of the last, down to 2. */
export function scaleSizes(nodes: number): number[] {
  const out: number[] = [];
  for (let n = nodes; n >= 2; n = Math.min(n - 1, Math.floor((n * 3) / 4))) out.push(n);
  return out;
}

/**
 * The scale runs: `nodes` with the full mesh, then with 2 reflectors. A size
 * that does not come up and converge within its bound is recorded and the
 * next smaller one tried (scaleSizes), so the table shows the largest N that
 * did here.
 */
export async function measureScaleRuns(
  nodes: number,
  log: (s: string) => void,
): Promise<{ results: ScaleResult[]; failures: string[] }> {
  const results: ScaleResult[] = [];
  const failures: string[] = [];
  for (const rr of [0, 2]) {
    for (const n of scaleSizes(nodes)) {
      const lab = new BenchLab(`scale-${n}-rr${rr}`, n, rr > 0 ? ["--route-reflectors", String(rr)] : []);
      try {
        results.push(await measureScale(lab, 60_000 + n * 20_000, log));
        await lab.down();
        break;
      } catch (e) {
        failures.push(`${n} nodes, ${rr} reflectors: ${(e as Error).message}`);
        log(`scale: ${failures.at(-1) ?? ""}`);
        await lab.down();
      }
    }
  }
  return { results, failures };
}
