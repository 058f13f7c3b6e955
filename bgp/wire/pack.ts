// Turning routes into as few UPDATEs as fit (the Adj-RIB-Out side), End-of-RIB
// markers (RFC 4724 §2), and turning a received UPDATE back into routes (the
// Adj-RIB-In side). All prefixes given to packUpdates share one attribute set;
// the encoded attributes are built once and copied into every message.

import {
  AFI_IPV4,
  AFI_IPV6,
  ATTR_MP_REACH_NLRI,
  ATTR_MP_UNREACH_NLRI,
  HEADER_LENGTH,
  MSG_UPDATE,
  SAFI_UNICAST,
} from "./types.js";
import type { CodecOptions, Family, PathAttributes, Prefix, UpdateMessage } from "./types.js";
import { encodeAttributes } from "./attributes.js";
import { as4ForTwoOctetPeer } from "./as4.js";
import { encodePrefix } from "./prefix.js";
import { maxLength, writeHeader } from "./message.js";
import { mpNextHopLength, writeMpNextHop } from "./update.js";

const EMPTY = Buffer.alloc(0);

/** Splits prefixes into IPv4 and IPv6 lists without copying strings. */
function byFamily(list: readonly Prefix[]): [Prefix[], Prefix[]] {
  const v4: Prefix[] = [];
  const v6: Prefix[] = [];
  for (const p of list) (p.includes(":") ? v6 : v4).push(p);
  return [v4, v6];
}

/**
 * Fill messages with prefixes: `fixed` is everything before the prefixes that
 * does not depend on them except through `patch`, which writes the lengths
 * (Withdrawn Routes Length, Total Path Attribute Length, MP attribute length)
 * once the prefix octets of this message are known.
 */
function fill(
  prefixes: readonly Prefix[],
  limit: number,
  fixed: Buffer,
  tail: Buffer,
  patch: (msg: Buffer, prefixOctets: number) => void,
  out: Buffer[],
): void {
  const room = limit - fixed.length - tail.length;
  if (room < 17) throw new RangeError("path attributes leave no room for a prefix in one UPDATE");
  // Staging area with slack for one prefix (at most 17 octets) past the room.
  const stage = Buffer.allocUnsafe(room + 17);
  let used = 0;
  let count = 0;
  const flush = () => {
    const msg = Buffer.allocUnsafe(fixed.length + used + tail.length);
    fixed.copy(msg, 0);
    stage.copy(msg, fixed.length, 0, used);
    tail.copy(msg, fixed.length + used);
    msg.writeUInt16BE(msg.length, 16);
    patch(msg, used);
    out.push(msg);
  };
  for (const p of prefixes) {
    const end = encodePrefix(p, stage, used);
    if (end > room) {
      // Move the prefix that did not fit to the start of the next message.
      const n = end - used;
      flush();
      stage.copy(stage, 0, used, end);
      used = n;
      count = 1;
    } else {
      used = end;
      count++;
    }
  }
  if (count > 0) flush();
}

function header(len: number): Buffer {
  const b = Buffer.alloc(len);
  writeHeader(b, 0, len, MSG_UPDATE);
  return b;
}

/**
 * Encode announcements of `prefixes` (all with the attribute set `attrs`) and
 * withdrawals of `withdrawn` into UPDATEs of at most 4096 octets (65535 with
 * Extended Message), as few as fit. IPv4 prefixes with an IPv4 next hop go in
 * the NLRI field with NEXT_HOP; IPv6 prefixes, and IPv4 prefixes with an IPv6
 * next hop (RFC 8950, only if negotiated), go in MP_REACH_NLRI, which is the
 * first attribute (RFC 7606 §5.1). Withdrawals come first, in messages of
 * their own. On a session without 4-octet AS, AS_PATH/AGGREGATOR are
 * converted with AS4_PATH/AS4_AGGREGATOR (RFC 6793 §4.2.2); with it, any
 * AS4_* attribute is dropped.
 */
export function packUpdates(
  attrs: PathAttributes,
  prefixes: readonly Prefix[],
  withdrawn: readonly Prefix[],
  opts: CodecOptions,
): Buffer[] {
  const limit = maxLength(opts);
  const out: Buffer[] = [];
  const [w4, w6] = byFamily(withdrawn);

  // Withdrawn Routes field: header, 2-octet length, prefixes, 2-octet zero attribute length.
  if (w4.length > 0) {
    fill(
      w4,
      limit,
      header(HEADER_LENGTH + 2),
      Buffer.alloc(2),
      (m, n) => m.writeUInt16BE(n, HEADER_LENGTH),
      out,
    );
  }
  // MP_UNREACH_NLRI alone: extended-length attribute header (4) + AFI/SAFI (3).
  if (w6.length > 0) {
    const fixed = header(HEADER_LENGTH + 4 + 4 + 3);
    fixed.writeUInt16BE(0, HEADER_LENGTH);
    fixed.writeUInt8(0x80 | 0x10, HEADER_LENGTH + 4);
    fixed.writeUInt8(ATTR_MP_UNREACH_NLRI, HEADER_LENGTH + 5);
    fixed.writeUInt16BE(AFI_IPV6, HEADER_LENGTH + 8);
    fixed.writeUInt8(SAFI_UNICAST, HEADER_LENGTH + 10);
    fill(
      w6,
      limit,
      fixed,
      EMPTY,
      (m, n) => {
        m.writeUInt16BE(4 + 3 + n, HEADER_LENGTH + 2);
        m.writeUInt16BE(3 + n, HEADER_LENGTH + 6);
      },
      out,
    );
  }
  if (prefixes.length === 0) return out;

  const sendAttrs = opts.fourOctetAs ? withoutAs4(attrs) : as4ForTwoOctetPeer(attrs);
  const [p4, p6] = byFamily(prefixes);
  const nh = attrs.nextHop;
  if (nh === undefined) throw new TypeError("packUpdates: attrs.nextHop is required to announce prefixes");
  const nhIsV6 = nh.includes(":");

  if (p4.length > 0) {
    if (!nhIsV6) {
      // Plain RFC 4271 UPDATE: NEXT_HOP among the attributes, prefixes in the NLRI field.
      const body = encodeAttributes(sendAttrs, opts);
      const fixed = header(HEADER_LENGTH + 4 + body.length);
      fixed.writeUInt16BE(0, HEADER_LENGTH);
      fixed.writeUInt16BE(body.length, HEADER_LENGTH + 2);
      body.copy(fixed, HEADER_LENGTH + 4);
      fill(p4, limit, fixed, EMPTY, () => {}, out);
    } else {
      const ok = (opts.extendedNextHop ?? []).some(
        (x) => x.afi === AFI_IPV4 && x.safi === SAFI_UNICAST && x.nextHopAfi === AFI_IPV6,
      );
      if (!ok)
        throw new TypeError(
          "packUpdates: IPv4 prefixes with an IPv6 next hop need RFC 8950 extended next hop",
        );
      mpFill(p4, AFI_IPV4, sendAttrs, opts, limit, out);
    }
  }
  if (p6.length > 0) mpFill(p6, AFI_IPV6, sendAttrs, opts, limit, out);
  return out;
}

function withoutAs4(attrs: PathAttributes): PathAttributes {
  if (attrs.as4Path === undefined && attrs.as4Aggregator === undefined) return attrs;
  const out = { ...attrs };
  delete out.as4Path;
  delete out.as4Aggregator;
  return out;
}

/** Announcements in MP_REACH_NLRI (always extended length, so its header size is fixed). */
function mpFill(
  prefixes: Prefix[],
  afi: number,
  attrs: PathAttributes,
  opts: CodecOptions,
  limit: number,
  out: Buffer[],
): void {
  let nh = attrs.nextHop as string;
  // An IPv6 route with an IPv4 next hop uses the IPv4-mapped address (RFC 4291 §2.5.5.2).
  if (afi === AFI_IPV6 && !nh.includes(":")) nh = `::ffff:${nh}`;
  const ll = nh.includes(":") ? attrs.nextHopLinkLocal : undefined;
  const nhLen = mpNextHopLength(nh, ll);
  // NEXT_HOP is not sent with MP_REACH-only UPDATEs (RFC 4760 §3).
  const rest: PathAttributes = { ...attrs };
  delete rest.nextHop;
  const body = encodeAttributes(rest, opts);
  const mpHead = 4 + 5 + nhLen;
  const fixed = header(HEADER_LENGTH + 4 + mpHead);
  fixed.writeUInt16BE(0, HEADER_LENGTH);
  let o = HEADER_LENGTH + 4;
  fixed.writeUInt8(0x80 | 0x10, o);
  fixed.writeUInt8(ATTR_MP_REACH_NLRI, o + 1);
  fixed.writeUInt16BE(afi, o + 4);
  fixed.writeUInt8(SAFI_UNICAST, o + 6);
  fixed.writeUInt8(nhLen, o + 7);
  o = writeMpNextHop(nh, ll, fixed, o + 8);
  fixed.writeUInt8(0, o);
  const mpAt = HEADER_LENGTH + 4;
  fill(
    prefixes,
    limit,
    fixed,
    body,
    (m, n) => {
      m.writeUInt16BE(mpHead + n + body.length, HEADER_LENGTH + 2);
      m.writeUInt16BE(5 + nhLen + n, mpAt + 2);
    },
    out,
  );
}

/** The End-of-RIB marker of a family (RFC 4724 §2). */
export function endOfRib(family: Family): UpdateMessage {
  if (family.afi === AFI_IPV4 && family.safi === SAFI_UNICAST) {
    return { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] };
  }
  return {
    type: "UPDATE",
    withdrawn: [],
    attributes: {},
    nlri: [],
    mpUnreach: { afi: family.afi, safi: family.safi, withdrawn: [] },
  };
}

/** The family whose End-of-RIB this UPDATE is, or null. */
export function isEndOfRib(msg: UpdateMessage): Family | null {
  // A decoded message answers from its packed fields, so that asking this of
  // every UPDATE builds no text (see UpdateMessage.packed).
  const fields = msg.packed ?? msg;
  if (fields.withdrawn.length > 0 || fields.nlri.length > 0 || msg.mpReach !== undefined) return null;
  if (Object.keys(msg.attributes).length > 0 || (msg.discarded?.length ?? 0) > 0) return null;
  if (msg.mpUnreach === undefined) return { afi: AFI_IPV4, safi: SAFI_UNICAST };
  return msg.mpUnreach.withdrawn.length === 0 ? { afi: msg.mpUnreach.afi, safi: msg.mpUnreach.safi } : null;
}

export interface RouteGroup {
  /** The path's attributes, with nextHop (and nextHopLinkLocal) of the family the prefixes came in. */
  attrs: PathAttributes;
  prefixes: Prefix[];
}

/**
 * What a received UPDATE means for the Adj-RIB-In: the prefixes to withdraw
 * (Withdrawn Routes, MP_UNREACH_NLRI, and every announced prefix when RFC 7606
 * treat-as-withdraw applies) and the announced prefixes grouped by attribute
 * set (the NLRI field with NEXT_HOP; MP_REACH_NLRI with its own next hop).
 */
export function splitUpdate(msg: UpdateMessage): { withdrawn: Prefix[]; announced: RouteGroup[] } {
  let withdrawn = msg.withdrawn;
  if (msg.mpUnreach !== undefined && msg.mpUnreach.withdrawn.length > 0) {
    withdrawn = withdrawn.length === 0 ? msg.mpUnreach.withdrawn : withdrawn.concat(msg.mpUnreach.withdrawn);
  }
  const mp = msg.mpReach;
  if (msg.treatAsWithdraw === true) {
    withdrawn = withdrawn.concat(msg.nlri, mp?.nlri ?? []);
    return { withdrawn, announced: [] };
  }
  const announced: RouteGroup[] = [];
  if (msg.nlri.length > 0) announced.push({ attrs: msg.attributes, prefixes: msg.nlri });
  if (mp !== undefined && mp.nlri.length > 0) {
    const attrs: PathAttributes = { ...msg.attributes, nextHop: mp.nextHop };
    if (mp.nextHopLinkLocal !== undefined) attrs.nextHopLinkLocal = mp.nextHopLinkLocal;
    else delete attrs.nextHopLinkLocal;
    announced.push({ attrs, prefixes: mp.nlri });
  }
  return { withdrawn, announced };
}
