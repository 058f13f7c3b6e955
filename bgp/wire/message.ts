// Whole messages: header + body, dispatching on the type (RFC 4271 §4).
// decodeMessage never throws anything but BgpError for peer input; encoders
// throw RangeError/TypeError only for caller bugs (an oversize message, a
// malformed address string).

import { frame } from "./framing.js";
import { decodeOpen, encodeOpenBody } from "./open.js";
import { decodeUpdate, encodeUpdateBody } from "./update.js";
import {
  ERR_MESSAGE_HEADER,
  ERR_ROUTE_REFRESH,
  HDR_BAD_MESSAGE_LENGTH,
  RR_INVALID_MESSAGE_LENGTH,
  bgpError,
} from "./errors.js";
import {
  HEADER_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MSG_KEEPALIVE,
  MSG_NOTIFICATION,
  MSG_OPEN,
  MSG_ROUTE_REFRESH,
  MSG_UPDATE,
} from "./types.js";
import type { BgpMessage, CodecOptions } from "./types.js";

/** Largest message this session may carry (RFC 8654 for Extended Message; never for OPEN). */
export function maxLength(opts: CodecOptions): number {
  return opts.extendedMessage === true ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
}

/**
 * Decode the one message that starts at `offset` (its length comes from its
 * header). Throws BgpError with the NOTIFICATION to send for anything that
 * needs a session reset, including a buffer that holds less than the message.
 */
export function decodeMessage(buf: Buffer, opts: CodecOptions, offset = 0): BgpMessage {
  const f = frame(buf, offset, maxLength(opts));
  if (f === null) {
    const data = Buffer.alloc(2);
    if (buf.length - offset >= HEADER_LENGTH) data.writeUInt16BE(buf.readUInt16BE(offset + 16), 0);
    throw bgpError(ERR_MESSAGE_HEADER, HDR_BAD_MESSAGE_LENGTH, data, "incomplete message");
  }
  const s = offset + HEADER_LENGTH;
  const e = offset + f.length;
  switch (f.type) {
    case MSG_OPEN:
      return decodeOpen(buf, s, e);
    case MSG_UPDATE:
      return decodeUpdate(buf, s, e, opts);
    case MSG_NOTIFICATION:
      return {
        type: "NOTIFICATION",
        code: buf.readUInt8(s),
        subcode: buf.readUInt8(s + 1),
        data: Buffer.from(buf.subarray(s + 2, e)),
      };
    case MSG_KEEPALIVE:
      return { type: "KEEPALIVE" };
    default: {
      // ROUTE-REFRESH: AFI (2), Message Subtype (1, RFC 7313; reserved in RFC 2918), SAFI (1).
      if (f.length !== HEADER_LENGTH + 4) {
        // RFC 7313 §5: with enhanced route refresh the error has its own code and
        // carries the whole message; otherwise it is a header length error.
        if (opts.enhancedRouteRefresh === true) {
          throw bgpError(ERR_ROUTE_REFRESH, RR_INVALID_MESSAGE_LENGTH, Buffer.from(buf.subarray(offset, e)));
        }
        throw bgpError(
          ERR_MESSAGE_HEADER,
          HDR_BAD_MESSAGE_LENGTH,
          Buffer.from(buf.subarray(offset + 16, offset + 18)),
        );
      }
      // A subtype other than 0, 1, 2 is returned as is: RFC 7313 §5 says to ignore the message.
      return {
        type: "ROUTE-REFRESH",
        afi: buf.readUInt16BE(s),
        subtype: buf.readUInt8(s + 2),
        safi: buf.readUInt8(s + 3),
      };
    }
  }
}

function body(msg: BgpMessage, opts: CodecOptions): { type: number; body: Buffer } {
  switch (msg.type) {
    case "OPEN":
      return { type: MSG_OPEN, body: encodeOpenBody(msg) };
    case "UPDATE":
      return { type: MSG_UPDATE, body: encodeUpdateBody(msg, opts) };
    case "NOTIFICATION": {
      const b = Buffer.alloc(2 + msg.data.length);
      b.writeUInt8(msg.code, 0);
      b.writeUInt8(msg.subcode, 1);
      msg.data.copy(b, 2);
      return { type: MSG_NOTIFICATION, body: b };
    }
    case "KEEPALIVE":
      return { type: MSG_KEEPALIVE, body: Buffer.alloc(0) };
    case "ROUTE-REFRESH": {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(msg.afi, 0);
      b.writeUInt8(msg.subtype, 2);
      b.writeUInt8(msg.safi, 3);
      return { type: MSG_ROUTE_REFRESH, body: b };
    }
  }
}

/** Write the 19-octet header (marker, length, type) at off. */
export function writeHeader(buf: Buffer, off: number, length: number, type: number): void {
  buf.fill(0xff, off, off + 16);
  buf.writeUInt16BE(length, off + 16);
  buf.writeUInt8(type, off + 18);
}

/** Octets the message takes on the wire, header included. */
export function encodingLength(msg: BgpMessage, opts: CodecOptions): number {
  if (msg.type === "KEEPALIVE") return HEADER_LENGTH;
  return HEADER_LENGTH + body(msg, opts).body.length;
}

function checkedBody(msg: BgpMessage, opts: CodecOptions): { type: number; body: Buffer; length: number } {
  const b = body(msg, opts);
  const length = HEADER_LENGTH + b.body.length;
  // OPEN is exchanged before Extended Message applies (RFC 8654 §3), but RFC 9072 may make it long.
  const limit = msg.type === "OPEN" ? MAX_EXTENDED_MESSAGE_LENGTH : maxLength(opts);
  if (length > limit)
    throw new RangeError(`${msg.type} of ${length} octets exceeds the ${limit}-octet limit`);
  return { ...b, length };
}

/** Encode into buf at offset; returns the number of octets written. */
export function encodeMessageInto(msg: BgpMessage, opts: CodecOptions, buf: Buffer, offset = 0): number {
  const b = checkedBody(msg, opts);
  if (buf.length - offset < b.length) throw new RangeError("buffer too small for the message");
  writeHeader(buf, offset, b.length, b.type);
  b.body.copy(buf, offset + HEADER_LENGTH);
  return b.length;
}

export function encodeMessage(msg: BgpMessage, opts: CodecOptions): Buffer {
  const b = checkedBody(msg, opts);
  const out = Buffer.alloc(b.length);
  writeHeader(out, 0, b.length, b.type);
  b.body.copy(out, HEADER_LENGTH);
  return out;
}
