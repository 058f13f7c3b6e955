/**
 * OPEN message checks of RFC 4271 §6.2, with RFC 6793 (4-octet AS) and
 * RFC 6286 (BGP Identifier) amendments. Returns the OPEN Message Error
 * subcode and data to send, or undefined when the OPEN is acceptable.
 */
import {
  OPEN_BAD_BGP_ID,
  OPEN_BAD_PEER_AS,
  OPEN_UNACCEPTABLE_HOLD_TIME,
  OPEN_UNSUPPORTED_VERSION,
} from "../wire/errors.js";
import { AS_TRANS } from "../wire/types.js";

/** The parts of a received OPEN that the FSM judges. */
export interface PeerOpen {
  version: number;
  /** The 2-octet "My Autonomous System" field. */
  myAs: number;
  holdTime: number;
  /** BGP Identifier as an unsigned 32-bit number. */
  bgpId: number;
  /** The 4-octet AS from the RFC 6793 capability, when the peer sent it. */
  as4?: number;
}

export interface OpenError {
  subcode: number;
  data?: Uint8Array;
}

export interface OpenExpectations {
  localAs: number;
  localId: number;
  peerAs: number;
}

export function checkOpen(open: PeerOpen, exp: OpenExpectations): OpenError | undefined {
  if (open.version !== 4) {
    // §6.2: data is the largest locally supported version number, 2 octets.
    return { subcode: OPEN_UNSUPPORTED_VERSION, data: Uint8Array.of(0, 4) };
  }
  // RFC 6793 §4.2.3: a 4-octet speaker takes the AS from the capability; a
  // 2-octet field of AS_TRANS without the capability is just AS 23456.
  const peerAs = open.as4 ?? open.myAs;
  if (open.as4 !== undefined && open.as4 <= 0xffff && open.myAs !== open.as4 && open.myAs !== AS_TRANS) {
    return { subcode: OPEN_BAD_PEER_AS, data: u16(open.myAs) };
  }
  if (open.as4 !== undefined && open.as4 > 0xffff && open.myAs !== AS_TRANS) {
    return { subcode: OPEN_BAD_PEER_AS, data: u16(open.myAs) };
  }
  if (peerAs !== exp.peerAs) return { subcode: OPEN_BAD_PEER_AS, data: u16(open.myAs) };
  // RFC 6286 §2.2: non-zero, and unique within the AS (an iBGP peer may not share ours).
  if (open.bgpId === 0 || (peerAs === exp.localAs && open.bgpId === exp.localId)) {
    return { subcode: OPEN_BAD_BGP_ID, data: u32(open.bgpId) };
  }
  // §6.2: hold times of one or two seconds MUST be rejected.
  if (open.holdTime === 1 || open.holdTime === 2) {
    return { subcode: OPEN_UNACCEPTABLE_HOLD_TIME, data: u16(open.holdTime) };
  }
  return undefined;
}

function u16(v: number): Uint8Array {
  return Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
}
function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
