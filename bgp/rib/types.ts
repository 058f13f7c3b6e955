// The public data model of the RIB: what the speaker tells it about peers and
// what it gets back. The RIB is a pure, deterministic state machine: every
// input is a method call (clock passed in as `now`, milliseconds), every
// output is data (GoBGP internal/pkg/table shape). No sockets, no timers.
import type { Family, LargeCommunity, PathAttributes, Prefix } from "../wire/types.js";
import type { CompiledPolicy } from "../policy/types.js";

export type PeerId = string;

export interface RibConfig {
  /** our AS (1..4294967295) */
  asn: number;
  /** our BGP Identifier, dotted quad */
  routerId: string;
  /** RFC 4456 §7 CLUSTER_ID; defaults to routerId */
  clusterId?: string;
  /** compare MED between routes from different neighbour ASes (default false, RFC 4271 §9.1.2.2 c) */
  alwaysCompareMed?: boolean;
  /** RFC 5004: prefer the oldest of otherwise equal eBGP routes (default false) */
  preferOldestExternal?: boolean;
  /**
   * ECMP: install up to maxPaths equal routes (equal down to the IGP cost step);
   * 1 (the default) turns multipath off. relaxAsPath: equal AS_PATH length is
   * enough (BIRD `merge paths`, Cisco `as-path multipath-relax`); otherwise the
   * AS_PATHs must be identical.
   */
  multipath?: { maxPaths: number; relaxAsPath?: boolean };
  /**
   * Next-hop resolution (RFC 4271 §9.1.2.1): undefined = unreachable; a number
   * = reachable with that IGP cost. Absent: every next hop is reachable with cost 0.
   */
  resolveNextHop?: (nextHop: string) => number | undefined;
}

/** Static, configured facts about a peer (from the config file). */
export interface PeerConfig {
  /** unique key, normally the peer address */
  id: PeerId;
  address: string;
  asn: number;
  /** RFC 4456: this iBGP peer is a route-reflector client of ours */
  routeReflectorClient?: boolean;
  /** announce ourselves as next hop even to iBGP peers */
  nextHopSelf?: boolean;
  /** per-family limit on prefixes accepted after import policy (RFC 4486 Cease subcode 1) */
  maxPrefixes?: number;
  /** import filter; absent = accept all */
  import?: CompiledPolicy;
  /** export filter; absent = accept all (protocol rules still apply, see adj-rib-out.ts) */
  export?: CompiledPolicy;
}

/** What the session negotiated when it reached Established. */
export interface PeerSession {
  /** the peer's BGP Identifier from its OPEN */
  routerId: string;
  /** our local address on this session per family, used as NEXT_HOP when we are next hop */
  localAddress: { ipv4?: string; ipv6?: string };
  /**
   * Subnets ("192.0.2.0/24", "2001:db8::/64") of the link we share with an
   * external peer. A route whose NEXT_HOP lies in one of them keeps that next
   * hop toward the peer (RFC 4271 §5.1.3, "third party" next hop) unless
   * next-hop-self is configured. Absent: always next hop self to eBGP peers.
   */
  sharedSubnets?: readonly string[];
  /** AFI/SAFIs negotiated (both advertised Multiprotocol) */
  families: readonly Family[];
}

/** A locally originated route (config `originate`). */
export interface Origination {
  prefix: Prefix;
  communities?: number[];
  largeCommunities?: LargeCommunity[];
  /** default 100 (RFC 4271 §5.1.5 is silent; 100 is every implementation's default) */
  localPref?: number;
  med?: number;
}

/**
 * Why the best path won (RFC 4271 §9.1.2.2, RFC 4456 §9), in the order the
 * steps run. `only-path` when there was nothing to compare against.
 */
export const BEST_REASONS = [
  "only-path",
  "reachable-next-hop",
  "local-pref",
  "as-path-length",
  "origin",
  "med",
  "local-origin",
  "ebgp-over-ibgp",
  "igp-cost",
  "oldest-ebgp",
  "router-id",
  "cluster-list-length",
  "peer-address",
] as const;
export type BestReason = (typeof BEST_REASONS)[number];

/** One path of a destination, as shown by `trellisctl bgp routes`. */
export interface PathView {
  /** peer id, or "local" for an origination */
  source: PeerId | "local";
  attributes: PathAttributes;
  best: boolean;
  multipath: boolean;
  stale: boolean;
  /** kept for soft reconfiguration but refused by the loop checks or the import filter */
  rejected?: boolean;
  /** ms timestamp (injected clock) when the path was learnt */
  since: number;
}

export interface RouteView {
  prefix: Prefix;
  reason: BestReason;
  /** next hops installed for this prefix (several = ECMP); empty for local routes */
  nexthops: string[];
  paths: PathView[];
}

/** A Loc-RIB change for the kernel: an empty nexthops list removes the route. */
export interface FibChange {
  prefix: Prefix;
  /** shared between changes (frozen for one next hop or none; the Loc-RIB's own ECMP list): read only */
  nexthops: string[];
}

/** Prefixes for one peer that share one attribute set: one or more UPDATEs (wire `packUpdates`). */
export interface OutGroup {
  attributes: PathAttributes;
  prefixes: Prefix[];
}

export interface PeerOut {
  peer: PeerId;
  /** grouped by identical attribute set, so the session packs many prefixes per UPDATE */
  announce: OutGroup[];
  withdraw: Prefix[];
  /** families for which this flush completes the initial table dump: send End-of-RIB (RFC 4724 §2) */
  endOfRib: Family[];
}

/** The coalesced result of everything since the previous `takeChanges()`. */
export interface RibChanges {
  fib: FibChange[];
  out: PeerOut[];
}

/** RFC 4486 Cease / Maximum Number of Prefixes Reached, with the data of §4. */
export interface MaxPrefixExceeded {
  afi: number;
  safi: number;
  limit: number;
  count: number;
}

export interface UpdateResult {
  /** prefixes announced and accepted by import policy */
  accepted: number;
  /** prefixes announced but rejected (policy, AS loop, RR loop, treat-as-withdraw) */
  rejected: number;
  withdrawn: number;
  /** set when this UPDATE took a family over the peer's maxPrefixes: send Cease 6/1 */
  maxPrefixExceeded?: MaxPrefixExceeded;
}

export interface PeerStats {
  received: number;
  accepted: number;
  advertised: number;
  stale: number;
}
