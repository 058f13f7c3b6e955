// What a best route looks like when sent to one peer, or whether it is sent at
// all: iBGP split horizon and route reflection (RFC 4271 §9.2.1, RFC 4456 §6,
// §8), well-known communities (RFC 1997), the eBGP attribute rules of
// RFC 4271 §5.1 (AS_PATH prepend, LOCAL_PREF and MED not sent to another AS,
// NEXT_HOP) and the export filter. Pure functions of their arguments.
import type { PathAttributes, Prefix } from "../wire/types.js";
import type { CompiledPolicy } from "../policy/types.js";
import { parsePrefixMatch, prefixInRange, routePrefix } from "../policy/prefix-match.js";
import { prependAs } from "./as-path.js";
import { DEFAULT_LOCAL_PREF } from "./attr-set.js";

const NO_EXPORT = 0xffffff01;
const NO_ADVERTISE = 0xffffff02;
const NO_EXPORT_SUBCONFED = 0xffffff03;

export interface ExportSpeaker {
  asn: number;
  clusterId: string;
}

/** The peer a route came from; null for a route we originate. */
export interface ExportSource {
  ibgp: boolean;
  rrClient: boolean;
  /** the source's BGP Identifier (becomes ORIGINATOR_ID on reflection) */
  routerId: string;
}

export interface ExportTarget {
  asn: number;
  ibgp: boolean;
  rrClient: boolean;
  nextHopSelf: boolean;
  localAddress: { ipv4?: string; ipv6?: string };
  /** subnets shared with this (external) peer: third-party next hops (RFC 4271 §5.1.3) */
  sharedSubnets: readonly string[];
  /** the peer's own address (a next hop equal to it is never sent back to it) */
  address: string;
  policy: CompiledPolicy | undefined;
}

export type Relation = "local" | "ebgp" | "ibgp" | "reflect";

/**
 * RFC 4271 §9.2.1: a route learnt from an internal peer is not sent to other
 * internal peers, except by a route reflector (RFC 4456 §6): a route from a
 * client goes to every peer, from a non-client only to clients.
 */
export function relation(src: ExportSource | null, tgt: ExportTarget): Relation | null {
  if (src === null) return "local";
  if (!src.ibgp || !tgt.ibgp) return "ebgp";
  if (src.rrClient || tgt.rrClient) return "reflect";
  return null;
}

/** RFC 1997: NO_ADVERTISE goes to nobody; NO_EXPORT and (no confederation here) NO_EXPORT_SUBCONFED stay in the AS. */
export function blockedByCommunities(attrs: PathAttributes, tgt: ExportTarget): boolean {
  const c = attrs.communities;
  if (c === undefined) return false;
  if (c.includes(NO_ADVERTISE)) return true;
  return !tgt.ibgp && (c.includes(NO_EXPORT) || c.includes(NO_EXPORT_SUBCONFED));
}

function inSubnet(addr: string, subnet: string): boolean {
  const a = routePrefix(`${addr}/${addr.includes(":") ? 128 : 32}`);
  const n = parsePrefixMatch(subnet).range;
  return a !== undefined && n !== undefined && prefixInRange(a, { ...n, ge: n.prefix.length, le: a.length });
}

function isV6(prefix: Prefix): boolean {
  return prefix.includes(":");
}

function selfAddress(prefix: Prefix, tgt: ExportTarget): string | undefined {
  // RFC 8950: an IPv4 prefix may go with an IPv6 next hop when the session is IPv6 only.
  return isV6(prefix) ? tgt.localAddress.ipv6 : (tgt.localAddress.ipv4 ?? tgt.localAddress.ipv6);
}

/**
 * The attributes sent to `tgt` for a best route with attributes `attrs`, or
 * null when it is not sent. `prefix` is only read by a prefix-dependent export
 * filter and for the next-hop family.
 */
export function exportAttributes(
  me: ExportSpeaker,
  prefix: Prefix,
  attrs: PathAttributes,
  src: ExportSource | null,
  tgt: ExportTarget,
): PathAttributes | null {
  const rel = relation(src, tgt);
  if (rel === null) return null;
  let out = attrs;
  let policyNextHopSelf = false;
  if (tgt.policy !== undefined) {
    const v = tgt.policy.evaluate({ prefix, attributes: attrs, neighborAs: tgt.asn, local: src === null });
    if (!v.accept) return null;
    out = v.attributes;
    policyNextHopSelf = v.nextHopSelf === true;
  }
  if (blockedByCommunities(out, tgt)) return null;

  const r: PathAttributes = { ...out };
  // AS4_* are produced by the codec for 2-octet peers from the full AS_PATH (RFC 6793 §4.2.2).
  delete r.as4Path;
  delete r.as4Aggregator;
  if (r.origin === undefined) r.origin = 0;
  if (!tgt.ibgp) {
    // RFC 4271 §5.1.2: prepend our AS toward an external peer.
    r.asPath = prependAs(out.asPath, me.asn);
    // §5.1.5: LOCAL_PREF is not sent to external peers.
    delete r.localPref;
    // §5.1.4: a MED received from another AS is not passed on to a third AS;
    // one we set (origination or an export filter action) is.
    if (src !== null && out.med === attrs.med) delete r.med;
    // RFC 4456 §8: ORIGINATOR_ID and CLUSTER_LIST are internal to the cluster.
    delete r.originatorId;
    delete r.clusterList;
    // §5.1.3: the next hop is our address on the session, except that a next
    // hop on a subnet the peer shares with us may be passed on as it is
    // ("third party"), unless next-hop-self is asked for.
    const nh = out.nextHop;
    const thirdParty =
      !tgt.nextHopSelf &&
      !policyNextHopSelf &&
      nh !== undefined &&
      nh !== tgt.address &&
      nh.includes(":") === isV6(prefix) &&
      tgt.sharedSubnets.some((s) => inSubnet(nh, s));
    if (!thirdParty) {
      const self = selfAddress(prefix, tgt);
      if (self === undefined) return null;
      r.nextHop = self;
    }
    delete r.nextHopLinkLocal;
    return r;
  }
  // Internal peer.
  if (r.asPath === undefined) r.asPath = [];
  if (r.localPref === undefined) r.localPref = DEFAULT_LOCAL_PREF;
  const nhFamilyOk = r.nextHop !== undefined && r.nextHop.includes(":") === isV6(prefix);
  if (rel === "local" || tgt.nextHopSelf || policyNextHopSelf || !nhFamilyOk) {
    const self = selfAddress(prefix, tgt);
    if (self === undefined) return null;
    r.nextHop = self;
    delete r.nextHopLinkLocal;
  }
  if (rel === "reflect") {
    // RFC 4456 §8: set ORIGINATOR_ID if absent; prepend our CLUSTER_ID.
    if (r.originatorId === undefined) r.originatorId = src!.routerId;
    r.clusterList = [me.clusterId, ...(r.clusterList ?? [])];
  } else {
    delete r.originatorId;
    delete r.clusterList;
  }
  return r;
}
