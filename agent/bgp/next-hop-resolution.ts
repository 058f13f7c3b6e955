/**
 * **Pure**: recursive next-hop resolution for the kernel (BIRD's `gateway
 * recursive`, what Calico's iBGP mesh uses). A BGP next hop is the remote
 * node's address; when that address is not on a directly connected network
 * (nodes behind a routed ToR: each on its own /31) the kernel refuses
 * `via <node>` ("Nexthop has invalid gateway"), so the route is installed via
 * the gateway the node itself uses toward that address (longest match among
 * the routes that are not ours). A next hop on a connected network, or one no
 * route covers, stays as it is.
 */
import { contains, parseAddress, parsePrefixLoose, type Prefix } from "../../net/address.js";

export interface UnderlayRoute {
  prefix: string;
  /** gateway; absent for a connected (device) route */
  via?: string;
}

export interface Underlay {
  routes: { prefix: Prefix; via: string | undefined }[];
}

export function underlay(routes: readonly UnderlayRoute[]): Underlay {
  const out: Underlay["routes"] = [];
  for (const r of routes) {
    const p = parsePrefixLoose(r.prefix);
    if (typeof p !== "string") out.push({ prefix: p, via: r.via });
  }
  // Longest prefix first: the first containing route is the match.
  out.sort((a, b) => b.prefix.length - a.prefix.length);
  return { routes: out };
}

export function resolveNextHop(u: Underlay, nextHop: string): string {
  const a = parseAddress(nextHop);
  if (typeof a === "string") return nextHop;
  const r = u.routes.find((x) => contains(x.prefix, a));
  return r?.via ?? nextHop;
}
