/**
 * `trellisctl status`: one row per node from the TrellisNodeStatus objects the
 * agents publish, and the cluster-wide picture (the BGPConfiguration in force,
 * the pools with their usage as `ipam show` computes them). Reads the API
 * server only; the join is agent/status/cluster-status.ts.
 */
import type { KubernetesListObject, V1Node } from "@kubernetes/client-node";
import type { Command } from "commander";
import {
  NODE_STATUS_GROUP,
  NODE_STATUS_PLURAL,
  NODE_STATUS_VERSION,
  type NodeStatusBody,
  trellisNodeStatusSchema,
} from "../../crds/node-status.js";
import {
  type ClusterStatus,
  type NodeStatusEntry,
  clusterStatus,
} from "../../agent/status/cluster-status.js";
import { usage } from "../../agent/ipam/ipam-check.js";
import type { KubeClient } from "../../agent/k8s/kube-client.js";
import { httpStatus, resourcePath } from "../../agent/k8s/kube-request.js";
import { CliError, errorText, EXIT_FAILURE, EXIT_NOT_FOUND } from "../exit-codes.js";
import { formatJson, formatTable, parseOutputFormat } from "../output.js";
import type { Io } from "../program.js";
import { kubeConfig, snapshot, withKubeClient } from "./ipam.js";

interface StatusOpts {
  kubeconfig?: string;
  output: string;
}

const NODE_STATUS = { group: NODE_STATUS_GROUP, version: NODE_STATUS_VERSION, plural: NODE_STATUS_PLURAL };

/** The TrellisNodeStatus objects; none when the kind is not served (CRD not installed). */
export async function listNodeStatuses(client: KubeClient): Promise<unknown[]> {
  try {
    return (await client.get<{ items?: unknown[] }>(resourcePath(NODE_STATUS))).items ?? [];
  } catch (e) {
    if (httpStatus(e) === 404) return [];
    throw e;
  }
}

/** One node's published status; CliError 3 when there is none. */
export async function readNodeStatus(client: KubeClient, node: string): Promise<NodeStatusBody> {
  let raw: unknown;
  try {
    raw = await client.get<unknown>(resourcePath({ ...NODE_STATUS, name: node }));
  } catch (e) {
    if (httpStatus(e) === 404)
      throw new CliError(
        `node ${node}: no agent status (TrellisNodeStatus ${node} not found)`,
        EXIT_NOT_FOUND,
      );
    throw new CliError(`cannot read the status of node ${node}: ${errorText(e)}`, EXIT_FAILURE);
  }
  const p = trellisNodeStatusSchema.safeParse(raw);
  if (!p.success)
    throw new CliError(
      `node ${node}: its TrellisNodeStatus does not parse: ${p.error.issues[0]?.message ?? ""}`,
      EXIT_FAILURE,
    );
  if (p.data.status === undefined)
    throw new CliError(`node ${node}: no agent status written yet`, EXIT_NOT_FOUND);
  return p.data.status;
}

/** The BGPConfiguration `default`, unstructured; undefined when absent or its kind is not served. */
async function bgpConfiguration(client: KubeClient): Promise<unknown> {
  try {
    return await client.get<unknown>(
      resourcePath({
        group: "trellis.dev",
        version: "v1alpha1",
        plural: "bgpconfigurations",
        name: "default",
      }),
    );
  } catch (e) {
    if (httpStatus(e) === 404) return undefined;
    throw e;
  }
}

export async function readClusterStatus(client: KubeClient, nowMs: number): Promise<ClusterStatus> {
  try {
    const [nodes, statuses, bgp, ipam] = await Promise.all([
      client.get<KubernetesListObject<V1Node>>(resourcePath({ group: "", version: "v1", plural: "nodes" })),
      listNodeStatuses(client),
      bgpConfiguration(client),
      snapshot(client),
    ]);
    return clusterStatus(
      {
        nodes: nodes.items.map((n) => n.metadata?.name ?? "").filter((n) => n !== ""),
        statuses,
        bgpConfiguration: bgp,
        pools: usage(ipam).pools,
      },
      nowMs,
    );
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read the cluster's status from the API server: ${errorText(e)}`, EXIT_FAILURE);
  }
}

function age(s: number | undefined): string {
  if (s === undefined) return "-";
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

function nodeRow(n: NodeStatusEntry): unknown[] {
  const s = n.status;
  const mark = n.nodeExists ? n.state : `${n.state} (node gone)`;
  if (s === undefined) return [n.name, "-", mark, "-", "-", "-", "-", "-", "-", n.problem ?? ""];
  const bgp = s.bgp;
  const addr =
    bgp === undefined
      ? "-"
      : `${[bgp.address4, bgp.address6].filter((a) => a !== undefined).join(",") || "-"}${bgp.method !== undefined ? ` (${bgp.method})` : ""}`;
  const sessions = bgp === undefined ? "-" : `${bgp.sessionsEstablished}/${bgp.sessions.length}`;
  const r = s.routes;
  const routes = `${r?.installed ?? "-"}/${r?.local ?? "-"}`;
  return [
    n.name,
    s.ready,
    mark,
    addr,
    sessions,
    routes,
    s.ipam === undefined ? "-" : `${s.ipam.addressesInUse} in ${s.ipam.affineBlocks} block(s)`,
    s.policy === undefined
      ? "off"
      : `${s.policy.generation}${s.policy.lastError !== undefined ? " (error)" : ""}`,
    age(n.ageSeconds),
    s.ready ? "" : s.reason,
  ];
}

export function statusTable(c: ClusterStatus): string {
  let out = formatTable(
    [
      "node",
      "ready",
      "status",
      "bgp address",
      "sessions",
      "routes learned/local",
      "pods",
      "policy gen",
      "updated",
      "reason",
    ],
    c.nodes.map(nodeRow),
  );
  out += "\n";
  const b = c.cluster.bgpConfiguration;
  const show = (v: unknown): string => (typeof v === "object" ? JSON.stringify(v) : String(v));
  out +=
    b === null
      ? "BGP configuration: none (no BGPConfiguration default)\n"
      : `BGP configuration: default${b.asNumber !== undefined ? `, asNumber ${show(b.asNumber)}` : ""}${b.mesh !== undefined ? `, mesh ${show(b.mesh)}` : ""}\n`;
  out += "\n";
  out += formatTable(
    ["pool", "cidr", "blocks", "in use", "capacity", "status"],
    c.cluster.pools.map((p) => [p.name, p.deleted ? "-" : p.cidr, p.blocks, p.inUse, p.capacity, p.status]),
  );
  return out;
}

export function registerStatus(program: Command, io: Io): void {
  program
    .command("status")
    .description("Every node's agent as it reports itself (ready, BGP, routes, IPAM, policy) and the pools")
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
    .option("-o, --output <format>", "json|table", (v: string) => parseOutputFormat(v), "table")
    .action(async (o: StatusOpts) => {
      const c = await withKubeClient(kubeConfig(o.kubeconfig), (client) =>
        readClusterStatus(client, Date.now()),
      );
      io.out(o.output === "json" ? formatJson(c) : statusTable(c));
    });
}
