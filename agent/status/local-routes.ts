/**
 * Counts the pod routes this agent installed (proto 201, both families,
 * blackholes for affine blocks and the gatewayed BGPPeer `reachableBy`
 * routes of agent/bgp/peer-routes.ts left out) with two `ip -j route show`. Run on
 * the status interval only, never on an event path.
 */
import { ipJson } from "../dataplane/ip-exec.js";
import { PROTO_TRELLIS_LOCAL } from "../../net/route-ownership.js";

interface IpRoute {
  dst?: string;
  type?: string;
  gateway?: string;
}

/** undefined when `ip` failed (the count is left out of the status). */
export async function countLocalRoutes(): Promise<number | undefined> {
  const proto = String(PROTO_TRELLIS_LOCAL);
  const [v4, v6] = await Promise.all([
    ipJson<IpRoute>(["route", "show", "proto", proto]),
    ipJson<IpRoute>(["-6", "route", "show", "proto", proto]),
  ]);
  if (!Array.isArray(v4) || !Array.isArray(v6)) return undefined;
  return [...v4, ...v6].filter((r) => r.type !== "blackhole" && r.gateway === undefined).length;
}
