/**
 * `trellisctl lab matrix`: probes every ordered pod pair (self included, as
 * upstream does) on every port and protocol, with bounded parallelism, and
 * returns one truth table per port/protocol plus every probe result.
 */
import { LabApi, type PodObject } from "./api-client.js";
import { boundedAll } from "./bounded-all.js";
import { LabError } from "./lab-errors.js";
import { loadLab } from "./lab-status.js";
import { podNetnsPaths } from "./pod-netns.js";
import { runProbe, type ProbeResult } from "./probe.js";
import type { Protocol } from "./probe-result.js";
import { buildTruthTable, prettyPrint, type TruthTable } from "./truth-table.js";

export interface MatrixOptions {
  dir: string;
  ports?: number[];
  protocols: Protocol[];
  timeoutMs: number;
  parallel: number;
  family?: 4 | 6;
}

export interface MatrixPod {
  pod: string;
  node: string;
  ip: string;
  ports: number[];
}

export interface MatrixTable extends TruthTable {
  port: number;
  protocol: Protocol;
}

export interface MatrixReport {
  pods: MatrixPod[];
  tables: MatrixTable[];
  results: ProbeResult[];
  /** nodes whose pods' namespaces could not be read: their pods are targets, but their rows are not probed (`?`) */
  nodeErrors: { node: string; error: string }[];
}

export async function labMatrix(o: MatrixOptions): Promise<MatrixReport> {
  const { L, state } = loadLab(o.dir);
  const api = new LabApi(state.apiserverUrl ?? "");
  let items: PodObject[];
  try {
    items = (await api.listPods()).items;
  } catch (e) {
    throw new LabError((e as Error).message);
  }
  const family = o.family ?? 4;
  // host-network pods have no pod namespace to probe from (and no listeners)
  const running = items.filter((p) => p.status?.phase === "Running" && p.spec?.hostNetwork !== true);
  const found = await podNetnsPaths(
    L,
    state,
    running.map((p) => p.metadata?.uid ?? ""),
  ).catch((e: unknown) => {
    throw new LabError(`cannot find the pods' network namespaces: ${(e as Error).message}`);
  });
  const pods: (MatrixPod & { netns: string })[] = running
    .map((p) => ({
      pod: `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`,
      node: p.spec?.nodeName ?? "",
      ip: (p.status?.podIPs ?? []).map((x) => x.ip).find((ip) => (family === 6) === ip.includes(":")) ?? "",
      ports: [
        ...new Set((p.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((x) => x.containerPort))),
      ].sort((a, b) => a - b),
      netns: found.paths.get(p.metadata?.uid ?? "") ?? "",
    }))
    // Running in the API but without a sandbox here (just deleted, or another lab's pod): nothing to
    // probe from. A pod of a node whose containerd did not answer is kept: a target still, its own row unprobed.
    .filter((p) => p.ip !== "" && (p.netns !== "" || found.failedNodes.has(p.node)))
    .sort((a, b) => a.pod.localeCompare(b.pod));
  const ports = o.ports ?? [...new Set(pods.flatMap((p) => p.ports))].sort((a, b) => a - b);
  const jobs: (() => Promise<ProbeResult>)[] = [];
  for (const port of ports)
    for (const protocol of o.protocols)
      for (const from of pods.filter((p) => p.netns !== ""))
        for (const to of pods)
          jobs.push(() => runProbe(from.netns, from.pod, to.pod, to.ip, port, protocol, o.timeoutMs));
  const results = await boundedAll(jobs, o.parallel);
  const names = pods.map((p) => p.pod);
  const tables: MatrixTable[] = [];
  for (const port of ports) {
    for (const protocol of o.protocols) {
      const cells = results
        .filter((r) => r.port === port && r.protocol === protocol)
        .map((r) => ({ from: r.from, to: r.to, ok: r.outcome === "connected" }));
      tables.push({ port, protocol, ...buildTruthTable(names, names, cells) });
    }
  }
  const nodeErrors = [...found.failedNodes].map(([node, error]) => ({ node, error }));
  return { pods: pods.map(({ netns: _n, ...p }) => p), tables, results, nodeErrors };
}

/** The table text: one upstream-style truth table per port/protocol. */
export function formatMatrix(r: MatrixReport): string {
  const failed = r.nodeErrors.map(
    ({ node, error }) => `node ${node}: its pods not probed from (rows of ?): ${error}\n`,
  );
  return failed.join("") + formatTables(r);
}

function formatTables(r: MatrixReport): string {
  if (r.pods.length === 0) return "no Running pods with an IP\n";
  if (r.tables.length === 0) return "no ports to probe (no pod declares a containerPort; pass --port)\n";
  return r.tables.map((t) => `${t.protocol}/${t.port}:\n${prettyPrint(t)}\n`).join("\n");
}
