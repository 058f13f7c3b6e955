// The BGP-4 message and path-attribute object model shared by the codec,
// the session FSM and the RIB. Pure data: no behaviour lives here except the
// error class. Numbers on the wire (AS numbers, MED, LOCAL_PREF, communities)
// are plain unsigned JavaScript numbers; addresses are strings in their
// canonical textual form; prefixes are canonical strings (see Prefix below).

/** Address Family Identifiers (IANA) and Subsequent AFIs used by Trellis (RFC 4760). */
export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;

/** One <AFI, SAFI> pair, as carried by the Multiprotocol capability and MP_* attributes. */
export interface Family {
  afi: number;
  safi: number;
}

/**
 * A prefix is its canonical string: "10.0.0.0/24" or "2001:db8::/32" (RFC 5952
 * lower-case compressed form), host bits cleared.
 *
 * Why strings and not `{ afi, len, addr: Buffer }`: the RIB keys Maps by prefix,
 * and a V8 string is hashed and compared by value with no extra key derivation,
 * whereas a Buffer view costs an object plus a backing-store reference per
 * prefix and still needs a key built from it. A string is also what the control
 * socket and the FIB print. The decoder builds it straight from the wire bytes
 * (one small string per prefix, no intermediate Buffer), and a Buffer view would
 * pin the whole received message in memory. The family is `:` in it or not
 * (`prefixAfi`). test/bench/bgp-wire compares the two side by side.
 */
export type Prefix = string;

// ---------------------------------------------------------------------------
// Capabilities (RFC 5492 framework). One variant per capability code; codes
// we do not model are kept raw so they can be logged or passed on.

export const CAP_MULTIPROTOCOL = 1; // RFC 4760
export const CAP_ROUTE_REFRESH = 2; // RFC 2918
export const CAP_EXTENDED_NEXT_HOP = 5; // RFC 8950
export const CAP_EXTENDED_MESSAGE = 6; // RFC 8654
export const CAP_GRACEFUL_RESTART = 64; // RFC 4724
export const CAP_FOUR_OCTET_AS = 65; // RFC 6793
export const CAP_ADD_PATH = 69; // RFC 7911
export const CAP_ENHANCED_ROUTE_REFRESH = 70; // RFC 7313
export const CAP_FQDN = 73; // draft-walton-bgp-hostname-capability
export const CAP_ROUTE_REFRESH_OLD = 128; // pre-standard Cisco route refresh

export type Capability =
  | { kind: "multiprotocol"; afi: number; safi: number }
  | { kind: "route-refresh" }
  | { kind: "route-refresh-old" }
  | { kind: "extended-next-hop"; entries: ExtendedNextHopEntry[] }
  | { kind: "extended-message" }
  | GracefulRestartCapability
  | { kind: "four-octet-as"; asn: number }
  | { kind: "add-path"; entries: AddPathEntry[] }
  | { kind: "enhanced-route-refresh" }
  | { kind: "fqdn"; hostname: string; domain: string }
  | { kind: "unknown"; code: number; data: Buffer };

export interface ExtendedNextHopEntry {
  /** NLRI AFI and SAFI (RFC 8950 §3: AFI is 2 octets here, SAFI 2 octets). */
  afi: number;
  safi: number;
  /** AFI of the next hop that may be used for this NLRI family. */
  nextHopAfi: number;
}

export interface AddPathEntry {
  afi: number;
  safi: number;
  /** 1 = receive, 2 = send, 3 = both (RFC 7911 §4). */
  sendReceive: number;
}

export interface GracefulRestartCapability {
  kind: "graceful-restart";
  /** R bit: the sender has restarted (RFC 4724 §3). */
  restarting: boolean;
  /** N bit: BGP graceful restart for NOTIFICATION supported (RFC 8538). */
  notification: boolean;
  /** Restart Time in seconds, 12 bits. */
  restartTime: number;
  families: { afi: number; safi: number; forwarding: boolean }[];
}

// ---------------------------------------------------------------------------
// Path attributes

export const ATTR_ORIGIN = 1;
export const ATTR_AS_PATH = 2;
export const ATTR_NEXT_HOP = 3;
export const ATTR_MULTI_EXIT_DISC = 4;
export const ATTR_LOCAL_PREF = 5;
export const ATTR_ATOMIC_AGGREGATE = 6;
export const ATTR_AGGREGATOR = 7;
export const ATTR_COMMUNITIES = 8;
export const ATTR_ORIGINATOR_ID = 9;
export const ATTR_CLUSTER_LIST = 10;
export const ATTR_MP_REACH_NLRI = 14;
export const ATTR_MP_UNREACH_NLRI = 15;
export const ATTR_EXTENDED_COMMUNITIES = 16;
export const ATTR_AS4_PATH = 17;
export const ATTR_AS4_AGGREGATOR = 18;
export const ATTR_LARGE_COMMUNITY = 32;

/** Attribute Flags (RFC 4271 §4.3). */
export const FLAG_OPTIONAL = 0x80;
export const FLAG_TRANSITIVE = 0x40;
export const FLAG_PARTIAL = 0x20;
export const FLAG_EXTENDED_LENGTH = 0x10;

export const ORIGIN_IGP = 0;
export const ORIGIN_EGP = 1;
export const ORIGIN_INCOMPLETE = 2;
export type Origin = 0 | 1 | 2;

export const AS_SET = 1;
export const AS_SEQUENCE = 2;
export const AS_CONFED_SEQUENCE = 3; // RFC 5065
export const AS_CONFED_SET = 4; // RFC 5065
export type AsSegmentType = 1 | 2 | 3 | 4;

/** AS_TRANS, the 2-octet stand-in for a 4-octet AS number (RFC 6793 §9). */
export const AS_TRANS = 23456;

export interface AsPathSegment {
  type: AsSegmentType;
  /** Always full 4-octet values in memory, whatever the wire width. */
  asns: number[];
}

export interface Aggregator {
  asn: number;
  address: string;
}

/** Well-known communities (RFC 1997, RFC 3765 NOPEER). Communities are uint32: high 16 bits AS, low 16 value. */
export const COMMUNITY_NO_EXPORT = 0xffffff01;
export const COMMUNITY_NO_ADVERTISE = 0xffffff02;
export const COMMUNITY_NO_EXPORT_SUBCONFED = 0xffffff03;
export const COMMUNITY_NOPEER = 0xffffff04;

/** RFC 8092 large community: Global Administrator : Local Data Part 1 : Local Data Part 2. */
export interface LargeCommunity {
  global: number;
  local1: number;
  local2: number;
}

/** An attribute the codec does not model, or a known one kept as received. */
export interface RawAttribute {
  /** Flags as received, Extended Length bit cleared (the encoder sets it when the length needs it). */
  flags: number;
  type: number;
  value: Buffer;
}

/**
 * The attribute set of a path, one named field per modelled attribute (BIRD's
 * ea_list, but typed). MP_REACH_NLRI / MP_UNREACH_NLRI are not here: they carry
 * NLRI, not path properties, and live on the UPDATE (see UpdateMessage).
 *
 * `nextHop` is the path's next hop whatever its family: an IPv4 NEXT_HOP
 * attribute on decode; on encode (packUpdates) it goes to NEXT_HOP for IPv4 NLRI
 * with an IPv4 next hop, or into MP_REACH_NLRI otherwise (RFC 4760, RFC 8950),
 * with `nextHopLinkLocal` as the second IPv6 address of a 32-byte next hop.
 */
export interface PathAttributes {
  origin?: Origin;
  asPath?: AsPathSegment[];
  nextHop?: string;
  nextHopLinkLocal?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: Aggregator;
  communities?: number[];
  originatorId?: string;
  clusterList?: string[];
  /** RFC 4360: each value is the 8 octets as an unsigned 64-bit bigint; see extendedCommunityView. */
  extendedCommunities?: bigint[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: Aggregator;
  largeCommunities?: LargeCommunity[];
  /** Attributes not modelled above, in received order, flags as received. */
  unknown?: RawAttribute[];
}

export interface MpReachNlri {
  afi: number;
  safi: number;
  /** Global next hop (IPv6, or IPv4 for AFI 1 with a 4-octet next hop). */
  nextHop: string;
  /** Second address of a 32-octet IPv6 next hop (RFC 2545 §3). */
  nextHopLinkLocal?: string;
  nlri: Prefix[];
}

export interface MpUnreachNlri {
  afi: number;
  safi: number;
  withdrawn: Prefix[];
}

// ---------------------------------------------------------------------------
// Messages (RFC 4271 §4, RFC 2918, RFC 7313)

export const MSG_OPEN = 1;
export const MSG_UPDATE = 2;
export const MSG_NOTIFICATION = 3;
export const MSG_KEEPALIVE = 4;
export const MSG_ROUTE_REFRESH = 5;

export const HEADER_LENGTH = 19;
/** RFC 4271 §4.1; RFC 8654 raises it to 65535 when Extended Message is negotiated. */
export const MAX_MESSAGE_LENGTH = 4096;
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;

export interface OpenMessage {
  type: "OPEN";
  version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS when the real AS is 4-octet). */
  myAs: number;
  holdTime: number;
  bgpId: string;
  /** All capabilities of all Capabilities optional parameters, in order. */
  capabilities: Capability[];
}

export interface UpdateMessage {
  type: "UPDATE";
  /** IPv4 unicast prefixes of the Withdrawn Routes field. */
  withdrawn: Prefix[];
  attributes: PathAttributes;
  /** IPv4 unicast prefixes of the NLRI field. */
  nlri: Prefix[];
  mpReach?: MpReachNlri;
  mpUnreach?: MpUnreachNlri;
  /**
   * Set by the decoder only (RFC 7606 §2): when true every announced prefix of
   * this UPDATE (nlri and mpReach.nlri) must be handled as withdrawn.
   */
  treatAsWithdraw?: boolean;
  /** Set by the decoder only: attributes dropped under "attribute discard" and why. */
  discarded?: DiscardedAttribute[];
  /**
   * Set by the decoder only (not enumerable): the Withdrawn Routes and NLRI
   * fields as packed IPv4 pairs [address as an int32 bit pattern, length,
   * ...], host bits cleared, which `withdrawn` and `nlri` are the text of.
   * Readers that must not build a string per prefix (the RIB) use these.
   * Gone once either text field is assigned.
   */
  packed?: PackedFields;
}

/** See UpdateMessage.packed. */
export interface PackedFields {
  withdrawn: Int32Array;
  nlri: Int32Array;
}

export interface DiscardedAttribute {
  type: number;
  /** What the decoder did with it: "discard" = attribute discard, "withdraw" = caused treat-as-withdraw. */
  action: "discard" | "withdraw";
  reason: string;
}

export interface NotificationMessage {
  type: "NOTIFICATION";
  code: number;
  subcode: number;
  data: Buffer;
}

export interface KeepaliveMessage {
  type: "KEEPALIVE";
}

/** RFC 7313 §3 Message Subtype of ROUTE-REFRESH. */
export const RR_NORMAL = 0;
export const RR_BORR = 1;
export const RR_EORR = 2;

export interface RouteRefreshMessage {
  type: "ROUTE-REFRESH";
  afi: number;
  safi: number;
  /** RFC 7313: 0 normal request, 1 BoRR, 2 EoRR (the octet RFC 2918 reserved). */
  subtype: number;
}

export type BgpMessage =
  OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

// ---------------------------------------------------------------------------
// What the session negotiated; passed to every encode/decode. No globals.

export interface CodecOptions {
  /** Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH/AGGREGATOR carry 4-octet ASNs. */
  fourOctetAs: boolean;
  /**
   * The AFI/SAFIs the session may carry in MP_REACH/MP_UNREACH. Absent: every
   * family the codec knows (IPv4 and IPv6 unicast). MP attributes of another
   * family are discarded (attribute discard) without parsing their NLRI.
   */
  families?: readonly Family[];
  /** RFC 8950 families negotiated with an IPv6 next hop (e.g. {afi:1,safi:1,nextHopAfi:2}). */
  extendedNextHop?: readonly ExtendedNextHopEntry[];
  /** RFC 8654 Extended Message negotiated: messages up to 65535 octets. */
  extendedMessage?: boolean;
  /**
   * RFC 7911 ADD-PATH per family in the receive/send direction. Not implemented
   * yet: must be absent or empty; the codec rejects a non-empty list so that a
   * session never silently misparses path identifiers.
   */
  addPath?: readonly AddPathEntry[];
  /**
   * The peer is external: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST received
   * from it are discarded (RFC 7606 §7.5, §7.9, §7.10). Absent = internal rules.
   */
  external?: boolean;
  /** RFC 7313 enhanced route refresh negotiated: a bad ROUTE-REFRESH length is error 7/1. */
  enhancedRouteRefresh?: boolean;
}

// ---------------------------------------------------------------------------
// Errors: the NOTIFICATION a decode failure must produce (RFC 4271 §6).

export class BgpError extends Error {
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;
  constructor(code: number, subcode: number, data: Buffer = Buffer.alloc(0), message?: string) {
    super(message ?? `BGP error ${code}/${subcode}`);
    this.name = "BgpError";
    this.code = code;
    this.subcode = subcode;
    this.data = data;
  }
}
