// A kernel route as the FIB layer sees it: one destination prefix and one or
// more next hops (more than one = an ECMP multipath route). Only the fields
// Trellis sets are modelled; the routing table and the `proto` number are
// properties of the FIB, not of each route.
import { isIPv4, isIPv6 } from "node:net";

export interface NextHop {
  /** gateway address (same family as the prefix, or IPv6 for RFC 8950 v4-over-v6) */
  via: string;
  /** outgoing device; only needed for link-local gateways */
  dev?: string;
}

export interface KernelRoute {
  /** canonical "a.b.c.d/len" or "x::/len" (host bits zero) */
  prefix: string;
  /** sorted by `via`, no duplicates; never empty (withdrawals are deletions, never blackholes) */
  nexthops: readonly NextHop[];
}

export class FibRouteError extends Error {
  readonly code = "TRELLIS_EFIBROUTE";
}

/** Sort and de-duplicate next hops so two equal sets compare equal. */
export function canonicalNextHops(nhs: readonly NextHop[]): NextHop[] {
  const seen = new Map<string, NextHop>();
  for (const nh of nhs) {
    if (!isIPv4(nh.via) && !isIPv6(nh.via)) throw new FibRouteError(`invalid next hop address ${nh.via}`);
    const key = `${nh.via}%${nh.dev ?? ""}`;
    if (!seen.has(key)) seen.set(key, nh.dev === undefined ? { via: nh.via } : { via: nh.via, dev: nh.dev });
  }
  return [...seen.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
}

export function sameNextHops(a: readonly NextHop[], b: readonly NextHop[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.via !== y.via || (x.dev ?? "") !== (y.dev ?? "")) return false;
  }
  return true;
}
