/**
 * The lab as a BGP fabric (under --cni trellis): the agents advertise their
 * blocks; nothing is routed statically. Written before the agents start:
 *
 * - BGPConfiguration `default`: AS = the plan's node AS, node-to-node mesh on
 *   (off with --route-reflectors N), hold time 9 s / keepalive 3 s so that a
 *   dead node shows within a test's patience, graceful restart 120 s;
 * - one BGPPeer per node and family for its ToR link (`node: node-i`, peerIP =
 *   the ToR's address on that node's link, which differs per link), AS 65000;
 *   with --bgp-password, each also has `password.secretKeyRef` (the Secret
 *   `bgp-password` in `kube-system`, key `password`, written here) and `bfd`;
 * - Node annotations: the BGP addresses (the node's uplink addresses, so
 *   nothing is left to detection), `trellis.dev/bgp-asn` with --asn-per-node,
 *   and `trellis.dev/route-reflector-cluster-id` on the first N nodes with
 *   --route-reflectors N.
 */
import type { LabPlan, NodePlan } from "./address-plan.js";
import { ApiError, type LabApi } from "./api-client.js";

export const LAB_HOLD_TIME = 9;
export const LAB_KEEPALIVE_TIME = 3;
export const LAB_RESTART_TIME = 120;
/** The cluster ID every lab reflector shares (one reflection cluster). */
export const LAB_RR_CLUSTER_ID = "198.19.255.1";

export interface FabricOptions {
  routeReflectors: number;
  asnPerNode: boolean;
  /** --bgp-password: TCP MD5 and BFD on every ToR session */
  password?: string;
}

/** Where the lab keeps the ToR sessions' TCP MD5 key (the agent's default `bgp.secretNamespace`). */
export const LAB_PASSWORD_SECRET = { namespace: "kube-system", name: "bgp-password", key: "password" };

export function nodeBgpAnnotations(n: NodePlan, o: FabricOptions): Record<string, string> {
  return {
    "trellis.dev/bgp-ipv4-address": n.address4,
    "trellis.dev/bgp-ipv6-address": n.address6,
    ...(o.asnPerNode ? { "trellis.dev/bgp-asn": String(n.asn) } : {}),
    ...(n.index <= o.routeReflectors ? { "trellis.dev/route-reflector-cluster-id": LAB_RR_CLUSTER_ID } : {}),
  };
}

/** The BGP objects of the lab (pure). */
export function fabricObjects(plan: LabPlan, o: FabricOptions): Record<string, unknown>[] {
  const api = "trellis.dev/v1alpha1";
  const out: Record<string, unknown>[] = [
    {
      apiVersion: api,
      kind: "BGPConfiguration",
      metadata: { name: "default" },
      spec: {
        asNumber: plan.nodes[0]?.asn ?? 64512,
        nodeToNodeMeshEnabled: o.routeReflectors === 0,
        holdTime: LAB_HOLD_TIME,
        keepaliveTime: LAB_KEEPALIVE_TIME,
        gracefulRestart: { enabled: true, restartTime: LAB_RESTART_TIME },
      },
    },
  ];
  for (const n of plan.nodes) {
    for (const [fam, ip] of [
      ["v4", n.torAddress4],
      ["v6", n.torAddress6],
    ] as const) {
      out.push({
        apiVersion: api,
        kind: "BGPPeer",
        metadata: { name: `lab-tor-${n.name}-${fam}` },
        spec: {
          node: n.name,
          peerIP: ip,
          asNumber: plan.tor.asn,
          holdTime: LAB_HOLD_TIME,
          keepaliveTime: LAB_KEEPALIVE_TIME,
          ...(o.password !== undefined
            ? {
                password: {
                  secretKeyRef: { name: LAB_PASSWORD_SECRET.name, key: LAB_PASSWORD_SECRET.key },
                },
                bfd: true,
              }
            : {}),
        },
      });
    }
  }
  return out;
}

export async function writeFabric(api: LabApi, plan: LabPlan, o: FabricOptions): Promise<void> {
  if (o.password !== undefined) await writePasswordSecret(api, o.password);
  const plural: Record<string, string> = { BGPConfiguration: "bgpconfigurations", BGPPeer: "bgppeers" };
  for (const obj of fabricObjects(plan, o)) {
    try {
      await api.request("POST", `/apis/trellis.dev/v1alpha1/${plural[obj["kind"] as string] ?? ""}`, obj);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) throw e;
    }
  }
}

/** The namespace (if missing) and the Secret the ToR BGPPeers name, before them. */
async function writePasswordSecret(api: LabApi, password: string): Promise<void> {
  const { namespace, name, key } = LAB_PASSWORD_SECRET;
  const create = async (path: string, obj: unknown): Promise<void> => {
    try {
      await api.request("POST", path, obj);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) throw e;
    }
  };
  await create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    type: "Opaque",
    data: { [key]: Buffer.from(password, "utf8").toString("base64") },
  };
  try {
    await api.request("POST", `/api/v1/namespaces/${namespace}/secrets`, secret);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
    await api.request("PUT", `/api/v1/namespaces/${namespace}/secrets/${name}`, secret);
  }
}
