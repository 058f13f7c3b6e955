/**
 * Pure: the cluster's status as `trellisctl status` shows it, from what the
 * API server holds: the Nodes, the TrellisNodeStatus objects the agents
 * publish, the BGPConfiguration `default` (read as unstructured: its CRD may
 * not be installed), and the pools' usage (agent/ipam/ipam-check.ts).
 */
import { type NodeStatusBody, trellisNodeStatusSchema } from "../../crds/node-status.js";
import type { PoolUsage } from "../ipam/ipam-check.js";
import { isStale } from "./node-status-build.js";

export type NodeStatusState = "ok" | "stale" | "no agent status" | "invalid status";

export interface NodeStatusEntry {
  name: string;
  /** ok, stale (lastUpdated older than 3 refresh intervals), no agent status, invalid status. */
  state: NodeStatusState;
  /** false for a status object whose Node is gone (not garbage collected yet). */
  nodeExists: boolean;
  /** Seconds since lastUpdated. */
  ageSeconds?: number;
  /** Why the object does not parse (state "invalid status"). */
  problem?: string;
  status?: NodeStatusBody;
}

export interface BgpConfigurationView {
  asNumber?: unknown;
  mesh?: unknown;
}

export interface ClusterStatus {
  nodes: NodeStatusEntry[];
  cluster: {
    /** null: no BGPConfiguration `default` (or its kind is not served). */
    bgpConfiguration: BgpConfigurationView | null;
    pools: PoolUsage[];
  };
}

export interface ClusterStatusInput {
  nodes: readonly string[];
  /** TrellisNodeStatus objects as the API returned them (unvalidated). */
  statuses: readonly unknown[];
  /** The BGPConfiguration `default` as unstructured JSON, if any. */
  bgpConfiguration?: unknown;
  pools: readonly PoolUsage[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** asNumber and the mesh setting, when the object has them (its schema is the BGP CRDs' to define). */
export function bgpConfigurationView(o: unknown): BgpConfigurationView | null {
  if (!isObj(o)) return null;
  const spec = isObj(o["spec"]) ? o["spec"] : {};
  const view: BgpConfigurationView = {};
  if (spec["asNumber"] !== undefined) view.asNumber = spec["asNumber"];
  const mesh = spec["mesh"] ?? spec["nodeToNodeMeshEnabled"];
  if (mesh !== undefined) view.mesh = mesh;
  return view;
}

export function clusterStatus(input: ClusterStatusInput, nowMs: number): ClusterStatus {
  const nodes = new Set(input.nodes);
  const byName = new Map<string, NodeStatusEntry>();
  for (const raw of input.statuses) {
    const name = isObj(raw) && isObj(raw["metadata"]) ? raw["metadata"]["name"] : undefined;
    if (typeof name !== "string") continue;
    const nodeExists = nodes.has(name);
    const p = trellisNodeStatusSchema.safeParse(raw);
    if (!p.success) {
      const i = p.error.issues[0];
      byName.set(name, {
        name,
        state: "invalid status",
        nodeExists,
        problem: i === undefined ? "invalid" : `${i.path.join(".")}: ${i.message}`,
      });
      continue;
    }
    const s = p.data.status;
    if (s === undefined) {
      // Created, first status write not done (or failed) yet.
      byName.set(name, { name, state: "no agent status", nodeExists });
      continue;
    }
    const t = Date.parse(s.lastUpdated);
    byName.set(name, {
      name,
      state: isStale(s, nowMs) ? "stale" : "ok",
      nodeExists,
      ...(Number.isNaN(t) ? {} : { ageSeconds: Math.max(0, Math.round((nowMs - t) / 1000)) }),
      status: s,
    });
  }
  for (const n of nodes) {
    if (!byName.has(n)) byName.set(n, { name: n, state: "no agent status", nodeExists: true });
  }
  return {
    nodes: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
    cluster: {
      bgpConfiguration:
        input.bgpConfiguration === undefined ? null : bgpConfigurationView(input.bgpConfiguration),
      pools: [...input.pools],
    },
  };
}
