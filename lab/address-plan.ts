/**
 * The lab's address plan: pure, from the node count and ASNs.
 *
 * Links between the ToR and node i (1-based) are routed point-to-point links
 * (RFC 3021 /31 for IPv4, RFC 6164 /127 for IPv6) cut from the benchmarking
 * range 198.18.0.0/15 (RFC 2544) and a ULA prefix (RFC 4193), so lab traffic
 * can never be mistaken for a real network. The ToR holds the even address,
 * the node the odd one. Pod CIDRs: 10.244.i.0/24 and fd00:10:244:<i hex>::/64.
 */
import { NODE_UPLINK_IFNAME, nodeNetnsName, torIfname, torNetnsName } from "./lab-names.js";

export const TOR_ASN_DEFAULT = 65000;
export const NODE_ASN_DEFAULT = 64512;
/** 10.244.<i>.0/24 per node bounds the lab at 254 nodes. */
export const MAX_NODES = 254;
/** Router id (and loopback /32) of the ToR; outside every link subnet. */
export const TOR_ROUTER_ID = "198.19.255.254";

export interface NodePlan {
  index: number;
  name: string;
  netns: string;
  /** the node's uplink in its own netns */
  ifname: string;
  /** the ToR's interface toward this node */
  torIfname: string;
  address4: string;
  torAddress4: string;
  address6: string;
  torAddress6: string;
  podCidr4: string;
  podCidr6: string;
  asn: number;
}

export interface LabPlan {
  prefix: string;
  tor: { netns: string; routerId: string; asn: number };
  nodes: NodePlan[];
}

export interface PlanOptions {
  prefix: string;
  nodes: number;
  torAsn?: number;
  nodeAsn?: number;
  /**
   * Node i gets AS nodeAsn + i - 1. With one shared node AS, a node drops
   * the routes of the other nodes that the ToR re-advertises (their AS path
   * holds its own AS: RFC 4271 §9.1.2 loop detection) unless it allows its
   * own AS in; distinct ASes avoid that.
   */
  asnPerNode?: boolean;
}

export function planLab(o: PlanOptions): LabPlan {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES) {
    throw new RangeError(`node count must be an integer from 1 to ${MAX_NODES}, got ${o.nodes}`);
  }
  const torAsn = o.torAsn ?? TOR_ASN_DEFAULT;
  const nodeAsn = o.nodeAsn ?? NODE_ASN_DEFAULT;
  const lastNodeAsn = o.asnPerNode === true ? nodeAsn + o.nodes - 1 : nodeAsn;
  for (const [what, asn] of [
    ["ToR ASN", torAsn],
    ["node ASN", nodeAsn],
    ["last node ASN", lastNodeAsn],
  ] as const) {
    // RFC 6793: four-octet AS numbers; 0 is reserved (RFC 7607).
    if (!Number.isInteger(asn) || asn < 1 || asn > 4294967295) {
      throw new RangeError(`${what} must be an integer from 1 to 4294967295, got ${asn}`);
    }
  }
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const name = `node-${i}`;
    const even = 2 * (i - 1);
    nodes.push({
      index: i,
      name,
      netns: nodeNetnsName(o.prefix, name),
      ifname: NODE_UPLINK_IFNAME,
      torIfname: torIfname(i),
      torAddress4: v4FromOffset(LINK4_BASE, even),
      address4: v4FromOffset(LINK4_BASE, even + 1),
      torAddress6: `${LINK6_PREFIX}${even.toString(16)}`,
      address6: `${LINK6_PREFIX}${(even + 1).toString(16)}`,
      podCidr4: `10.244.${i}.0/24`,
      podCidr6: `fd00:10:244:${i.toString(16)}::/64`,
      asn: o.asnPerNode === true ? nodeAsn + i - 1 : nodeAsn,
    });
  }
  return {
    prefix: o.prefix,
    tor: { netns: torNetnsName(o.prefix), routerId: TOR_ROUTER_ID, asn: torAsn },
    nodes,
  };
}

const LINK4_BASE = (198 << 24) + (18 << 16); // 198.18.0.0 as an unsigned number
const LINK6_PREFIX = "fd00:198:18::";
export const LINK4_PREFIX_LEN = 31;
export const LINK6_PREFIX_LEN = 127;

function v4FromOffset(base: number, offset: number): string {
  const n = base + offset;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join(".");
}
