// Framing (RFC 4271 §4.1, §6.1) as its own step before any parsing, as BIRD
// does: find one whole message in a byte stream, or say that more bytes are
// needed, or fail with the Message Header Error the header deserves.

import {
  ERR_MESSAGE_HEADER,
  HDR_BAD_MESSAGE_LENGTH,
  HDR_BAD_MESSAGE_TYPE,
  HDR_CONNECTION_NOT_SYNCHRONIZED,
  bgpError,
} from "./errors.js";
import { HEADER_LENGTH, MAX_MESSAGE_LENGTH, MSG_KEEPALIVE, MSG_OPEN, MSG_ROUTE_REFRESH } from "./types.js";

/**
 * Minimum length per message type (RFC 4271 §4.2–4.5: OPEN 29, UPDATE 23,
 * NOTIFICATION 21, KEEPALIVE exactly 19; RFC 2918 ROUTE-REFRESH 23, whose exact
 * length check is left to the decoder because RFC 7313 gives it its own error).
 */
const MIN_LENGTH: ReadonlyArray<number> = [0, 29, 23, 21, 19, 19];

/**
 * The length and type of the message starting at `offset`, or null when fewer
 * bytes than a header or than the announced length are present. Throws
 * BgpError (Message Header Error) for a bad marker, length or type: RFC 4271
 * §6.1 data is the erroneous Length field (2 octets) or Type field (1 octet).
 */
export function frame(
  buf: Buffer,
  offset = 0,
  maxLength: number = MAX_MESSAGE_LENGTH,
): { length: number; type: number } | null {
  if (buf.length - offset < HEADER_LENGTH) return null;
  // The marker is 16 octets of all ones (RFC 4271 §4.1).
  if (
    buf.readUInt32BE(offset) !== 0xffffffff ||
    buf.readUInt32BE(offset + 4) !== 0xffffffff ||
    buf.readUInt32BE(offset + 8) !== 0xffffffff ||
    buf.readUInt32BE(offset + 12) !== 0xffffffff
  ) {
    throw bgpError(ERR_MESSAGE_HEADER, HDR_CONNECTION_NOT_SYNCHRONIZED, undefined, "marker is not all ones");
  }
  const length = buf.readUInt16BE(offset + 16);
  const type = buf.readUInt8(offset + 18);
  // §6.1: the Data field is the erroneous header field itself (Length: 2 octets at 16, Type: 1 octet at 18).
  if (length < HEADER_LENGTH || length > maxLength) {
    throw headerError(HDR_BAD_MESSAGE_LENGTH, buf, offset + 16, offset + 18, `length ${length}`);
  }
  if (type < MSG_OPEN || type > MSG_ROUTE_REFRESH) {
    throw headerError(HDR_BAD_MESSAGE_TYPE, buf, offset + 18, offset + 19, `type ${type}`);
  }
  const min = MIN_LENGTH[type] as number;
  if (length < min || (type === MSG_KEEPALIVE && length !== HEADER_LENGTH)) {
    const text = `length ${length} for message type ${type}`;
    throw headerError(HDR_BAD_MESSAGE_LENGTH, buf, offset + 16, offset + 18, text);
  }
  if (buf.length - offset < length) return null;
  return { length, type };
}

/** A Message Header Error whose Data is a copy of the erroneous header field, buf[from, to) (RFC 4271 §6.1). */
function headerError(subcode: number, buf: Buffer, from: number, to: number, text: string) {
  return bgpError(ERR_MESSAGE_HEADER, subcode, Buffer.from(buf.subarray(from, to)), text);
}
