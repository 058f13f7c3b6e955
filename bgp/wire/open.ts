// OPEN message body (RFC 4271 §4.2), its Optional Parameters (RFC 5492, with
// the RFC 9072 extended length form), the checks of §6.2 that need no
// configuration, and the helpers for the ones that do (Bad Peer AS, our own
// BGP Identifier) and for what the two OPENs negotiate.

import {
  ERR_OPEN,
  OPEN_BAD_BGP_ID,
  OPEN_BAD_PEER_AS,
  OPEN_UNACCEPTABLE_HOLD_TIME,
  OPEN_UNSPECIFIC,
  OPEN_UNSUPPORTED_CAPABILITY,
  OPEN_UNSUPPORTED_OPTIONAL_PARAMETER,
  OPEN_UNSUPPORTED_VERSION,
  bgpError,
} from "./errors.js";
import { decodeCapabilities, encodeCapabilityList } from "./capabilities.js";
import { formatIpv4, writeIpv4 } from "./address.js";
import { AFI_IPV4, SAFI_UNICAST } from "./types.js";
import type {
  Capability,
  CodecOptions,
  ExtendedNextHopEntry,
  Family,
  GracefulRestartCapability,
  OpenMessage,
  BgpError,
} from "./types.js";

const BGP_VERSION = 4;
const PARAM_CAPABILITIES = 2; // RFC 5492 §4
const PARAM_EXTENDED_LENGTH = 255; // RFC 9072 §2

/** Decode an OPEN body buf[s, e) (after the header); throws the RFC 4271 §6.2 error. */
export function decodeOpen(buf: Buffer, s: number, e: number): OpenMessage {
  const version = buf.readUInt8(s);
  if (version !== BGP_VERSION) {
    // Data: the largest locally supported version, 2 octets (RFC 4271 §6.2).
    const data = Buffer.alloc(2);
    data.writeUInt16BE(BGP_VERSION, 0);
    throw bgpError(ERR_OPEN, OPEN_UNSUPPORTED_VERSION, data, `version ${version}`);
  }
  const myAs = buf.readUInt16BE(s + 1);
  const holdTime = buf.readUInt16BE(s + 3);
  const idValue = buf.readUInt32BE(s + 5);
  const bgpId = formatIpv4(buf, s + 5);
  const optLen = buf.readUInt8(s + 9);
  let o = s + 10;
  let paramsEnd = o + optLen;
  let wideLengths = false;
  // RFC 9072: Non-Ext OP Len 255 and a first parameter of type 255 announce the extended form.
  if (optLen === 255 && e - o >= 3 && buf.readUInt8(o) === PARAM_EXTENDED_LENGTH) {
    const extLen = buf.readUInt16BE(o + 1);
    o += 3;
    paramsEnd = o + extLen;
    wideLengths = true;
  }
  if (paramsEnd !== e) {
    throw bgpError(
      ERR_OPEN,
      OPEN_UNSPECIFIC,
      undefined,
      "Optional Parameters length disagrees with the message length",
    );
  }
  // RFC 7607: AS 0 is never a valid peer AS.
  if (myAs === 0) throw bgpError(ERR_OPEN, OPEN_BAD_PEER_AS, undefined, "My Autonomous System is 0");
  // RFC 4271 §6.2: a Hold Time of 1 or 2 seconds MUST be rejected.
  if (holdTime === 1 || holdTime === 2) {
    throw bgpError(ERR_OPEN, OPEN_UNACCEPTABLE_HOLD_TIME, undefined, `hold time ${holdTime}`);
  }
  // RFC 6286 §2.2: any non-zero 4-octet value is a valid BGP Identifier.
  if (idValue === 0) throw bgpError(ERR_OPEN, OPEN_BAD_BGP_ID, undefined, "BGP Identifier 0.0.0.0");
  const capabilities: Capability[] = [];
  const hdr = wideLengths ? 3 : 2;
  while (o < paramsEnd) {
    if (paramsEnd - o < hdr)
      throw bgpError(ERR_OPEN, OPEN_UNSPECIFIC, undefined, "truncated Optional Parameter");
    const type = buf.readUInt8(o);
    const len = wideLengths ? buf.readUInt16BE(o + 1) : buf.readUInt8(o + 1);
    const vs = o + hdr;
    const ve = vs + len;
    if (ve > paramsEnd) throw bgpError(ERR_OPEN, OPEN_UNSPECIFIC, undefined, "Optional Parameter overruns");
    if (type !== PARAM_CAPABILITIES) {
      // Only Capabilities remain defined (RFC 5492 deprecated the rest).
      throw bgpError(ERR_OPEN, OPEN_UNSUPPORTED_OPTIONAL_PARAMETER, undefined, `parameter type ${type}`);
    }
    decodeCapabilities(buf, vs, ve, capabilities);
    o = ve;
  }
  for (const c of capabilities) {
    if (c.kind === "four-octet-as" && c.asn === 0) {
      throw bgpError(ERR_OPEN, OPEN_BAD_PEER_AS, undefined, "4-octet AS capability carries AS 0");
    }
  }
  return { type: "OPEN", version, myAs, holdTime, bgpId, capabilities };
}

/**
 * The OPEN body. Capabilities go into Capabilities parameters of at most 255
 * octets each, split between capabilities; if the parameters exceed 255
 * octets, the RFC 9072 extended form is used.
 */
export function encodeOpenBody(m: OpenMessage): Buffer {
  const params: Buffer[] = [];
  let current: Buffer[] = [];
  let currentLen = 0;
  for (const c of m.capabilities) {
    const tlv = encodeCapabilityList([c]);
    if (currentLen + tlv.length > 255 && current.length > 0) {
      params.push(Buffer.concat(current));
      current = [];
      currentLen = 0;
    }
    current.push(tlv);
    currentLen += tlv.length;
  }
  if (current.length > 0) params.push(Buffer.concat(current));
  const narrow = params.reduce((n, p) => n + 2 + p.length, 0);
  const wide = narrow > 255 || params.some((p) => p.length > 255);
  const paramBytes = wide ? params.reduce((n, p) => n + 3 + p.length, 0) : narrow;
  const body = Buffer.alloc(10 + (wide ? 3 : 0) + paramBytes);
  body.writeUInt8(m.version, 0);
  body.writeUInt16BE(m.myAs, 1);
  body.writeUInt16BE(m.holdTime, 3);
  writeIpv4(m.bgpId, body, 5);
  let o = 10;
  if (wide) {
    body.writeUInt8(255, 9);
    body.writeUInt8(PARAM_EXTENDED_LENGTH, 10);
    body.writeUInt16BE(paramBytes, 11);
    o = 13;
  } else body.writeUInt8(paramBytes, 9);
  for (const p of params) {
    body.writeUInt8(PARAM_CAPABILITIES, o);
    if (wide) {
      body.writeUInt16BE(p.length, o + 1);
      o += 3;
    } else {
      body.writeUInt8(p.length, o + 1);
      o += 2;
    }
    o += p.copy(body, o);
  }
  return body;
}

/** The peer's real AS: the 4-octet AS capability if present, else My Autonomous System (RFC 6793 §4.1). */
export function peerAs(open: OpenMessage): number {
  for (const c of open.capabilities) if (c.kind === "four-octet-as") return c.asn;
  return open.myAs;
}

/** RFC 5492 §5: Unsupported Capability, the Data field listing the capabilities we require. */
export function unsupportedCapabilityError(required: readonly Capability[]): BgpError {
  return bgpError(ERR_OPEN, OPEN_UNSUPPORTED_CAPABILITY, encodeCapabilityList(required));
}

export interface Negotiated {
  peerAs: number;
  /** min(local, remote) (RFC 4271 §4.2); 0 = no keepalives and no hold timer. */
  holdTime: number;
  fourOctetAs: boolean;
  families: Family[];
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  extendedMessage: boolean;
  extendedNextHop: ExtendedNextHopEntry[];
  /** The peer's Graceful Restart capability, if it sent one. */
  gracefulRestart?: GracefulRestartCapability;
  /** Ready to pass to the codec for this session. */
  options: CodecOptions;
}

function familiesOf(open: OpenMessage): Family[] {
  const fams = open.capabilities.flatMap((c) =>
    c.kind === "multiprotocol" ? [{ afi: c.afi, safi: c.safi }] : [],
  );
  // RFC 4760 §8 / RFC 4271: a speaker without Multiprotocol capabilities carries IPv4 unicast only.
  return fams.length > 0 ? fams : [{ afi: AFI_IPV4, safi: SAFI_UNICAST }];
}

function has(open: OpenMessage, kinds: Capability["kind"][]): boolean {
  return open.capabilities.some((c) => kinds.includes(c.kind));
}

/** What a session carries, given the OPEN we sent and the OPEN we received. */
export function negotiate(
  local: OpenMessage,
  remote: OpenMessage,
  peer: { external?: boolean } = {},
): Negotiated {
  const theirs = familiesOf(remote);
  const families = familiesOf(local).filter((f) => theirs.some((g) => g.afi === f.afi && g.safi === f.safi));
  const fourOctetAs = has(local, ["four-octet-as"]) && has(remote, ["four-octet-as"]);
  const routeRefresh =
    has(local, ["route-refresh", "route-refresh-old"]) && has(remote, ["route-refresh", "route-refresh-old"]);
  const enhancedRouteRefresh =
    has(local, ["enhanced-route-refresh"]) && has(remote, ["enhanced-route-refresh"]);
  const extendedMessage = has(local, ["extended-message"]) && has(remote, ["extended-message"]);
  const enh = (o: OpenMessage) =>
    o.capabilities.flatMap((c) => (c.kind === "extended-next-hop" ? c.entries : []));
  const remoteEnh = enh(remote);
  const extendedNextHop = enh(local).filter((x) =>
    remoteEnh.some((y) => y.afi === x.afi && y.safi === x.safi && y.nextHopAfi === x.nextHopAfi),
  );
  const gr = remote.capabilities.find((c): c is GracefulRestartCapability => c.kind === "graceful-restart");
  const options: CodecOptions = { fourOctetAs, families, extendedNextHop };
  if (extendedMessage) options.extendedMessage = true;
  if (enhancedRouteRefresh) options.enhancedRouteRefresh = true;
  if (peer.external !== undefined) options.external = peer.external;
  const out: Negotiated = {
    peerAs: peerAs(remote),
    holdTime: Math.min(local.holdTime, remote.holdTime),
    fourOctetAs,
    families,
    routeRefresh,
    enhancedRouteRefresh,
    extendedMessage,
    extendedNextHop,
    options,
  };
  if (gr !== undefined) out.gracefulRestart = gr;
  return out;
}
