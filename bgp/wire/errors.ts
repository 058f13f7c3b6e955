// NOTIFICATION error codes and subcodes, as named constants (RFC 4271 §4.5 and
// §6, RFC 4486 and RFC 9384 Cease subcodes, RFC 5492, RFC 6608 FSM subcodes,
// RFC 7313 ROUTE-REFRESH Message Error), plus constructors for the errors
// whose Data field has a prescribed shape.

import { BgpError } from "./types.js";

export const ERR_MESSAGE_HEADER = 1;
export const ERR_OPEN = 2;
export const ERR_UPDATE = 3;
export const ERR_HOLD_TIMER_EXPIRED = 4;
export const ERR_FSM = 5;
export const ERR_CEASE = 6;
export const ERR_ROUTE_REFRESH = 7;

// Message Header Error subcodes (RFC 4271 §6.1)
export const HDR_CONNECTION_NOT_SYNCHRONIZED = 1;
export const HDR_BAD_MESSAGE_LENGTH = 2;
export const HDR_BAD_MESSAGE_TYPE = 3;

// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234)
export const OPEN_UNSPECIFIC = 0;
export const OPEN_UNSUPPORTED_VERSION = 1;
export const OPEN_BAD_PEER_AS = 2;
export const OPEN_BAD_BGP_ID = 3;
export const OPEN_UNSUPPORTED_OPTIONAL_PARAMETER = 4;
export const OPEN_UNACCEPTABLE_HOLD_TIME = 6;
export const OPEN_UNSUPPORTED_CAPABILITY = 7;
export const OPEN_ROLE_MISMATCH = 11;

// UPDATE Message Error subcodes (RFC 4271 §6.3)
export const UPD_MALFORMED_ATTRIBUTE_LIST = 1;
export const UPD_UNRECOGNIZED_WELL_KNOWN = 2;
export const UPD_MISSING_WELL_KNOWN = 3;
export const UPD_ATTRIBUTE_FLAGS = 4;
export const UPD_ATTRIBUTE_LENGTH = 5;
export const UPD_INVALID_ORIGIN = 6;
export const UPD_INVALID_NEXT_HOP = 8;
export const UPD_OPTIONAL_ATTRIBUTE = 9;
export const UPD_INVALID_NETWORK_FIELD = 10;
export const UPD_MALFORMED_AS_PATH = 11;

// Finite State Machine Error subcodes (RFC 6608)
export const FSM_UNSPECIFIED = 0;
export const FSM_UNEXPECTED_IN_OPENSENT = 1;
export const FSM_UNEXPECTED_IN_OPENCONFIRM = 2;
export const FSM_UNEXPECTED_IN_ESTABLISHED = 3;

// Cease subcodes (RFC 4486, RFC 8538, RFC 9384)
export const CEASE_MAX_PREFIXES = 1;
export const CEASE_ADMIN_SHUTDOWN = 2;
export const CEASE_PEER_DECONFIGURED = 3;
export const CEASE_ADMIN_RESET = 4;
export const CEASE_CONNECTION_REJECTED = 5;
export const CEASE_OTHER_CONFIG_CHANGE = 6;
export const CEASE_CONNECTION_COLLISION = 7;
export const CEASE_OUT_OF_RESOURCES = 8;
export const CEASE_HARD_RESET = 9;
export const CEASE_BFD_DOWN = 10;

// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5)
export const RR_INVALID_MESSAGE_LENGTH = 1;

const CODE_NAMES: Record<number, string> = {
  1: "Message Header Error",
  2: "OPEN Message Error",
  3: "UPDATE Message Error",
  4: "Hold Timer Expired",
  5: "Finite State Machine Error",
  6: "Cease",
  7: "ROUTE-REFRESH Message Error",
};

const SUBCODE_NAMES: Record<number, Record<number, string>> = {
  1: { 1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type" },
  2: {
    0: "Unspecific",
    1: "Unsupported Version Number",
    2: "Bad Peer AS",
    3: "Bad BGP Identifier",
    4: "Unsupported Optional Parameter",
    6: "Unacceptable Hold Time",
    7: "Unsupported Capability",
    11: "Role Mismatch",
  },
  3: {
    1: "Malformed Attribute List",
    2: "Unrecognized Well-known Attribute",
    3: "Missing Well-known Attribute",
    4: "Attribute Flags Error",
    5: "Attribute Length Error",
    6: "Invalid ORIGIN Attribute",
    8: "Invalid NEXT_HOP Attribute",
    9: "Optional Attribute Error",
    10: "Invalid Network Field",
    11: "Malformed AS_PATH",
  },
  5: {
    0: "Unspecified Error",
    1: "Receive Unexpected Message in OpenSent State",
    2: "Receive Unexpected Message in OpenConfirm State",
    3: "Receive Unexpected Message in Established State",
  },
  6: {
    1: "Maximum Number of Prefixes Reached",
    2: "Administrative Shutdown",
    3: "Peer De-configured",
    4: "Administrative Reset",
    5: "Connection Rejected",
    6: "Other Configuration Change",
    7: "Connection Collision Resolution",
    8: "Out of Resources",
    9: "Hard Reset",
    10: "BFD Down",
  },
  7: { 1: "Invalid Message Length" },
};

/** "UPDATE Message Error / Malformed AS_PATH" — for logs and the control socket. */
export function errorName(code: number, subcode: number): string {
  const c = CODE_NAMES[code] ?? `Unknown error ${code}`;
  const s = SUBCODE_NAMES[code]?.[subcode];
  return s === undefined ? (subcode === 0 ? c : `${c} / subcode ${subcode}`) : `${c} / ${s}`;
}

/** Build a BgpError whose message names the code and subcode, with a detail. */
export function bgpError(code: number, subcode: number, data?: Buffer, detail?: string): BgpError {
  const name = errorName(code, subcode);
  return new BgpError(code, subcode, data ?? Buffer.alloc(0), detail ? `${name}: ${detail}` : name);
}

/** RFC 4486 §4: Maximum Number of Prefixes Reached carries AFI (2), SAFI (1), upper bound (4). */
export function maxPrefixesError(afi: number, safi: number, limit: number): BgpError {
  const data = Buffer.alloc(7);
  data.writeUInt16BE(afi, 0);
  data.writeUInt8(safi, 2);
  data.writeUInt32BE(limit >>> 0, 3);
  return bgpError(ERR_CEASE, CEASE_MAX_PREFIXES, data, `limit ${limit} for AFI ${afi} SAFI ${safi}`);
}

/**
 * RFC 9003 Shutdown Communication for Administrative Shutdown / Reset: one
 * length octet then UTF-8 text, at most 255 octets (truncated on a character
 * boundary).
 */
export function shutdownCommunication(subcode: number, text: string): BgpError {
  let bytes = Buffer.from(text, "utf8");
  if (bytes.length > 255) {
    let end = 255;
    // Step back over UTF-8 continuation bytes so we never cut a character.
    while (end > 0 && ((bytes.readUInt8(end) ?? 0) & 0xc0) === 0x80) end--;
    bytes = bytes.subarray(0, end);
  }
  const data = Buffer.alloc(1 + bytes.length);
  data.writeUInt8(bytes.length, 0);
  bytes.copy(data, 1);
  return bgpError(ERR_CEASE, subcode, data, text);
}

/** Decode the RFC 9003 Shutdown Communication of a Cease 2/4 NOTIFICATION, if well-formed. */
export function parseShutdownCommunication(data: Buffer): string | undefined {
  if (data.length < 1) return undefined;
  const n = data.readUInt8(0);
  if (n + 1 > data.length) return undefined;
  return data.toString("utf8", 1, 1 + n);
}
