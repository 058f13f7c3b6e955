// UPDATE message body (RFC 4271 §4.3, RFC 4760) with the revised error
// handling of RFC 7606. Every attribute is parsed first and the outcome is
// decided afterwards (RFC 7606 §2): the worst of "attribute discard" <
// "treat-as-withdraw" < "session reset" wins. Session reset is a thrown
// BgpError; the two milder outcomes are reported on the message
// (treatAsWithdraw, discarded) so the RIB can act and the session can log.

import {
  ATTR_AS4_AGGREGATOR,
  ATTR_AS4_PATH,
  ATTR_CLUSTER_LIST,
  ATTR_LOCAL_PREF,
  ATTR_MP_REACH_NLRI,
  ATTR_MP_UNREACH_NLRI,
  ATTR_NEXT_HOP,
  ATTR_ORIGIN,
  ATTR_AS_PATH,
  ATTR_ORIGINATOR_ID,
  AFI_IPV4,
  AFI_IPV6,
  SAFI_UNICAST,
  FLAG_EXTENDED_LENGTH,
  FLAG_OPTIONAL,
  FLAG_TRANSITIVE,
} from "./types.js";
import type {
  BgpError,
  CodecOptions,
  DiscardedAttribute,
  MpReachNlri,
  MpUnreachNlri,
  PathAttributes,
  Prefix,
  RawAttribute,
  UpdateMessage,
} from "./types.js";
import {
  ERR_UPDATE,
  UPD_INVALID_NETWORK_FIELD,
  UPD_MALFORMED_ATTRIBUTE_LIST,
  UPD_OPTIONAL_ATTRIBUTE,
  UPD_UNRECOGNIZED_WELL_KNOWN,
  bgpError,
} from "./errors.js";
import {
  ATTRIBUTE_BY_TYPE,
  Malformed,
  badIpv4NextHop,
  encodeAttributes,
  leadingAttribute,
} from "./attributes.js";
import {
  decodeIpv4Packed,
  decodePrefixes,
  encodePrefix,
  formatIpv4Packed,
  prefixEncodingLength,
} from "./prefix.js";
import { formatIpv4, formatIpv6, writeIpv4, writeIpv6 } from "./address.js";

function familyAllowed(opts: CodecOptions, afi: number, safi: number): boolean {
  if (safi !== SAFI_UNICAST || (afi !== AFI_IPV4 && afi !== AFI_IPV6)) return false;
  return opts.families === undefined || opts.families.some((f) => f.afi === afi && f.safi === safi);
}

/** RFC 8950: IPv4 NLRI may carry an IPv6 next hop only where that was negotiated. */
function ipv6NextHopAllowed(opts: CodecOptions, afi: number, safi: number): boolean {
  if (afi === AFI_IPV6) return true;
  return (opts.extendedNextHop ?? []).some(
    (x) => x.afi === afi && x.safi === safi && x.nextHopAfi === AFI_IPV6,
  );
}

function badIpv6NextHop(buf: Buffer, off: number): string | undefined {
  const first = buf.readUInt8(off);
  if (first === 0xff) return `next hop ${formatIpv6(buf, off)} is multicast`;
  for (let i = 0; i < 16; i++) if (buf.readUInt8(off + i) !== 0) return undefined;
  return "next hop ::";
}

/**
 * The UPDATE with its IPv4 Withdrawn Routes and NLRI fields as the decoder
 * read them, packed (`packed`, not enumerable), and `withdrawn`/`nlri` as
 * text built on first read, then kept (frozen). The RIB reads `packed`, so a
 * full table goes from the wire into the RIB without a string per prefix
 * (issue 12: without the text, decode and import of 1M prefixes in one
 * process took 530-680 ms of CPU against 770-860 ms when every prefix was
 * formatted here and parsed again in the RIB's prefix table);
 * every other reader (splitUpdate, logs, tests) sees the arrays it always
 * saw. Assigning `withdrawn` or `nlri` replaces the text and drops `packed`,
 * so the two can never disagree.
 */
function packedUpdate(withdrawn: Int32Array, attributes: PathAttributes, nlri: Int32Array): UpdateMessage {
  const msg = { type: "UPDATE" } as UpdateMessage;
  const field = (key: "withdrawn" | "nlri", pairs: Int32Array): void => {
    let text: Prefix[] | undefined;
    Object.defineProperty(msg, key, {
      enumerable: true,
      configurable: true,
      get: () => (text ??= Object.freeze(formatIpv4Packed(pairs)) as Prefix[]),
      set: (v: Prefix[]) => {
        Object.defineProperty(msg, key, { value: v, writable: true, enumerable: true, configurable: true });
        delete msg.packed;
      },
    });
  };
  field("withdrawn", withdrawn);
  msg.attributes = attributes;
  field("nlri", nlri);
  Object.defineProperty(msg, "packed", {
    value: { withdrawn, nlri },
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return msg;
}

/** The attribute as it came (flags, type, length, value), for a NOTIFICATION's Data field. */
function wholeAttribute(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end));
}

/** Decode an UPDATE body buf[s, e) (after the 19-octet header). Throws BgpError only for session reset. */
export function decodeUpdate(buf: Buffer, s: number, e: number, opts: CodecOptions): UpdateMessage {
  if (opts.addPath !== undefined && opts.addPath.length > 0) {
    throw new RangeError("ADD-PATH is not supported by this codec");
  }
  const wlen = buf.readUInt16BE(s);
  // RFC 4271 §6.3: Withdrawn Routes Length + Total Attribute Length + 23 > message length.
  if (s + 2 + wlen + 2 > e) {
    throw bgpError(
      ERR_UPDATE,
      UPD_MALFORMED_ATTRIBUTE_LIST,
      undefined,
      "Withdrawn Routes Length overruns the message",
    );
  }
  const withdrawn = decodeIpv4Packed(buf, s + 2, s + 2 + wlen);
  // RFC 7606 §5.3: NLRI that cannot be parsed leaves session reset.
  if (typeof withdrawn === "string")
    throw bgpError(ERR_UPDATE, UPD_INVALID_NETWORK_FIELD, undefined, `withdrawn routes: ${withdrawn}`);
  const aStart = s + 2 + wlen + 2;
  const alen = buf.readUInt16BE(s + 2 + wlen);
  const aEnd = aStart + alen;
  if (aEnd > e) {
    throw bgpError(
      ERR_UPDATE,
      UPD_MALFORMED_ATTRIBUTE_LIST,
      undefined,
      "Total Path Attribute Length overruns the message",
    );
  }
  const nlri = decodeIpv4Packed(buf, aEnd, e);
  if (typeof nlri === "string")
    throw bgpError(ERR_UPDATE, UPD_INVALID_NETWORK_FIELD, undefined, `NLRI: ${nlri}`);

  const attributes: PathAttributes = {};
  const discarded: DiscardedAttribute[] = [];
  let mpReach: MpReachNlri | undefined;
  let mpUnreach: MpUnreachNlri | undefined;
  const seen = new Uint8Array(256);
  const note = (type: number, action: "discard" | "withdraw", reason: string) => {
    discarded.push({ type, action, reason });
  };

  let o = aStart;
  while (o < aEnd) {
    const hStart = o;
    // RFC 7606 §4: fewer octets than a minimal attribute header, or an attribute
    // that runs past Total Attribute Length, is treat-as-withdraw; the NLRI
    // field is still found through Total Attribute Length.
    if (aEnd - o < 3) {
      note(0, "withdraw", "path attributes end inside an attribute header");
      break;
    }
    const flags = buf.readUInt8(o);
    const type = buf.readUInt8(o + 1);
    const ext = (flags & FLAG_EXTENDED_LENGTH) !== 0;
    if (ext && aEnd - o < 4) {
      note(type, "withdraw", "path attributes end inside an attribute header");
      break;
    }
    const len = ext ? buf.readUInt16BE(o + 2) : buf.readUInt8(o + 2);
    const vs = o + (ext ? 4 : 3);
    const ve = vs + len;
    if (ve > aEnd) {
      note(type, "withdraw", "attribute length runs past Total Path Attribute Length");
      break;
    }
    o = ve;

    // RFC 7606 §3.g: a repeated MP_REACH/MP_UNREACH is Malformed Attribute List;
    // any other repeat is dropped after the first.
    if (seen[type] === 1) {
      if (type === ATTR_MP_REACH_NLRI || type === ATTR_MP_UNREACH_NLRI) {
        throw bgpError(
          ERR_UPDATE,
          UPD_MALFORMED_ATTRIBUTE_LIST,
          undefined,
          `attribute ${type} appears twice`,
        );
      }
      note(type, "discard", "duplicate attribute");
      continue;
    }
    seen[type] = 1;

    const row = ATTRIBUTE_BY_TYPE[type];
    if (row === undefined) {
      // RFC 4271 §6.3: an unrecognized well-known attribute fails the session.
      if ((flags & FLAG_OPTIONAL) === 0) {
        throw bgpError(
          ERR_UPDATE,
          UPD_UNRECOGNIZED_WELL_KNOWN,
          wholeAttribute(buf, hStart, ve),
          `attribute ${type}`,
        );
      }
      // The Extended Length bit is a wire detail: the encoder sets it when the length needs it.
      const raw: RawAttribute = {
        flags: flags & ~FLAG_EXTENDED_LENGTH,
        type,
        value: Buffer.from(buf.subarray(vs, ve)),
      };
      (attributes.unknown ??= []).push(raw);
      continue;
    }

    // RFC 7606 §3.c: Optional/Transitive bits in conflict with the definition.
    const flagsWrong = (flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE)) !== row.flags;

    if (type === ATTR_MP_REACH_NLRI || type === ATTR_MP_UNREACH_NLRI) {
      // The NLRI must still be located and parsed, so a flags error here is
      // treat-as-withdraw of what the attribute carries.
      if (flagsWrong) note(type, "withdraw", "attribute flags");
      const r =
        type === ATTR_MP_REACH_NLRI ? decodeMpReach(buf, vs, ve, opts) : decodeMpUnreach(buf, vs, ve, opts);
      if (typeof r === "string") note(type, "discard", r);
      else if ("nextHop" in r) {
        mpReach = r;
        const bad = r.badNextHop;
        delete r.badNextHop;
        if (bad !== undefined) note(type, "withdraw", bad);
      } else mpUnreach = r;
      continue;
    }

    if (flagsWrong) {
      // RFC 6793 §6 makes malformed AS4_* attributes "attribute discard".
      note(
        type,
        type === ATTR_AS4_PATH || type === ATTR_AS4_AGGREGATOR ? "discard" : "withdraw",
        "attribute flags",
      );
      continue;
    }
    if (
      opts.external === true &&
      (type === ATTR_LOCAL_PREF || type === ATTR_ORIGINATOR_ID || type === ATTR_CLUSTER_LIST)
    ) {
      // RFC 7606 §7.5, §7.9, §7.10: ignored when received from an external peer.
      note(type, "discard", "not accepted from an external peer");
      continue;
    }
    if (opts.fourOctetAs && (type === ATTR_AS4_PATH || type === ATTR_AS4_AGGREGATOR)) {
      // RFC 6793 §4.1: a NEW speaker never sends these to a NEW speaker; discard.
      note(type, "discard", "AS4 attribute on a 4-octet AS session");
      continue;
    }
    const v = row.decode(buf, vs, ve, opts);
    if (v instanceof Malformed) {
      note(type, row.onMalformed, v.reason);
      continue;
    }
    (attributes as Record<string, unknown>)[row.key as string] = v;
  }

  // RFC 7606 §3.d: a missing well-known mandatory attribute is treat-as-withdraw.
  // NEXT_HOP is mandatory only with NLRI in the NLRI field (RFC 4760 §3).
  const announces = nlri.length > 0 || (mpReach !== undefined && mpReach.nlri.length > 0);
  // (nlri holds two numbers per prefix: only its emptiness is read here.)
  if (announces) {
    const missing: number[] = [];
    if (seen[ATTR_ORIGIN] !== 1) missing.push(ATTR_ORIGIN);
    if (seen[ATTR_AS_PATH] !== 1) missing.push(ATTR_AS_PATH);
    if (nlri.length > 0 && seen[ATTR_NEXT_HOP] !== 1) missing.push(ATTR_NEXT_HOP);
    for (const t of missing) {
      // An attribute cut off by a length overrun (§4) is already reported.
      if (!discarded.some((d) => d.type === t)) note(t, "withdraw", "missing well-known mandatory attribute");
    }
  }

  const msg = packedUpdate(withdrawn, attributes, nlri);
  if (mpReach !== undefined) msg.mpReach = mpReach;
  if (mpUnreach !== undefined) msg.mpUnreach = mpUnreach;
  // RFC 4760 §3: with no NLRI field, a NEXT_HOP attribute is to be ignored,
  // so a malformed one cannot withdraw the MP_REACH_NLRI routes.
  if (nlri.length === 0) {
    for (const d of discarded) {
      if (d.type === ATTR_NEXT_HOP && d.action === "withdraw") {
        d.action = "discard";
        d.reason += " (ignored: no NLRI field, RFC 4760 §3)";
      }
    }
  }
  if (announces && discarded.some((d) => d.action === "withdraw")) msg.treatAsWithdraw = true;
  if (discarded.length > 0) msg.discarded = discarded;
  return msg;
}

type MpReachResult = MpReachNlri & { badNextHop?: string };

/**
 * The AFI (2) and SAFI (1) both MP attributes start with (RFC 4760 §3, §4),
 * and how their errors are made: an attribute shorter than `minLength`
 * cannot be located (session reset, RFC 7606 §7.11); a family that was not
 * negotiated is a string (the attribute is discarded).
 */
function mpFamily(
  name: string,
  buf: Buffer,
  s: number,
  e: number,
  minLength: number,
  opts: CodecOptions,
): { afi: number; safi: number; fail: (why: string) => BgpError } | string {
  const fail = (why: string): BgpError =>
    bgpError(ERR_UPDATE, UPD_OPTIONAL_ATTRIBUTE, undefined, `${name}: ${why}`);
  if (e - s < minLength) throw fail(`length ${e - s} < ${minLength}`);
  const afi = buf.readUInt16BE(s);
  const safi = buf.readUInt8(s + 2);
  if (!familyAllowed(opts, afi, safi)) return `AFI ${afi} SAFI ${safi} not negotiated`;
  return { afi, safi, fail };
}

/**
 * MP_REACH_NLRI (RFC 4760 §3): AFI (2), SAFI (1), next hop length (1), next
 * hop, reserved (1), NLRI. A length that cannot hold these, a next hop length
 * that does not fit the family, or NLRI that cannot be parsed make the NLRI
 * impossible to locate: session reset with Optional Attribute Error (RFC 7606
 * §7.11, RFC 4760 §7). Returns a string for "discard" (family not carried).
 */
function decodeMpReach(buf: Buffer, s: number, e: number, opts: CodecOptions): MpReachResult | string {
  const head = mpFamily("MP_REACH_NLRI", buf, s, e, 5, opts);
  if (typeof head === "string") return head;
  const { afi, safi, fail } = head;
  const nhLen = buf.readUInt8(s + 3);
  const nh = s + 4;
  if (nh + nhLen + 1 > e) throw fail(`next hop length ${nhLen} overruns the attribute`);
  let nextHop: string;
  let nextHopLinkLocal: string | undefined;
  let badNextHop: string | undefined;
  if (nhLen === 4 && afi === AFI_IPV4) {
    nextHop = formatIpv4(buf, nh);
    badNextHop = badIpv4NextHop(buf, nh);
  } else if ((nhLen === 16 || nhLen === 32) && ipv6NextHopAllowed(opts, afi, safi)) {
    // RFC 2545 §3 / RFC 8950 §3: global address, optionally followed by a link-local one.
    nextHop = formatIpv6(buf, nh);
    if (nhLen === 32) nextHopLinkLocal = formatIpv6(buf, nh + 16);
    badNextHop = badIpv6NextHop(buf, nh);
  } else {
    throw fail(`next hop length ${nhLen} does not fit AFI ${afi}`);
  }
  const nlri: Prefix[] = [];
  const err = decodePrefixes(buf, nh + nhLen + 1, e, afi, nlri);
  if (err !== undefined) throw fail(err);
  const r: MpReachResult = { afi, safi, nextHop, nlri };
  if (nextHopLinkLocal !== undefined) r.nextHopLinkLocal = nextHopLinkLocal;
  if (badNextHop !== undefined) r.badNextHop = badNextHop;
  return r;
}

/** MP_UNREACH_NLRI (RFC 4760 §4): AFI (2), SAFI (1), withdrawn routes. */
function decodeMpUnreach(buf: Buffer, s: number, e: number, opts: CodecOptions): MpUnreachNlri | string {
  const head = mpFamily("MP_UNREACH_NLRI", buf, s, e, 3, opts);
  if (typeof head === "string") return head;
  const { afi, safi, fail } = head;
  const withdrawn: Prefix[] = [];
  const err = decodePrefixes(buf, s + 3, e, afi, withdrawn);
  if (err !== undefined) throw fail(err);
  return { afi, safi, withdrawn };
}

// --- encoding ---------------------------------------------------------------

function prefixesLength(list: readonly Prefix[]): number {
  let n = 0;
  for (const p of list) n += prefixEncodingLength(p);
  return n;
}

function writePrefixes(list: readonly Prefix[], buf: Buffer, off: number): number {
  for (const p of list) off = encodePrefix(p, buf, off);
  return off;
}

/** Next hop octets of MP_REACH: 4 (IPv4), 16 or 32 (IPv6 global + link-local). */
export function mpNextHopLength(nextHop: string, linkLocal: string | undefined): number {
  if (!nextHop.includes(":")) return 4;
  return linkLocal === undefined ? 16 : 32;
}

export function writeMpNextHop(
  nextHop: string,
  linkLocal: string | undefined,
  buf: Buffer,
  off: number,
): number {
  if (!nextHop.includes(":")) {
    writeIpv4(nextHop, buf, off);
    return off + 4;
  }
  writeIpv6(nextHop, buf, off);
  if (linkLocal === undefined) return off + 16;
  writeIpv6(linkLocal, buf, off + 16);
  return off + 32;
}

export function mpReachAttribute(r: MpReachNlri) {
  const nhLen = mpNextHopLength(r.nextHop, r.nextHopLinkLocal);
  return leadingAttribute(ATTR_MP_REACH_NLRI, 5 + nhLen + prefixesLength(r.nlri), (buf, off) => {
    buf.writeUInt16BE(r.afi, off);
    buf.writeUInt8(r.safi, off + 2);
    buf.writeUInt8(nhLen, off + 3);
    off = writeMpNextHop(r.nextHop, r.nextHopLinkLocal, buf, off + 4);
    buf.writeUInt8(0, off);
    return writePrefixes(r.nlri, buf, off + 1);
  });
}

export function mpUnreachAttribute(r: MpUnreachNlri) {
  return leadingAttribute(ATTR_MP_UNREACH_NLRI, 3 + prefixesLength(r.withdrawn), (buf, off) => {
    buf.writeUInt16BE(r.afi, off);
    buf.writeUInt8(r.safi, off + 2);
    return writePrefixes(r.withdrawn, buf, off + 3);
  });
}

/** The UPDATE body (after the header): withdrawn, attributes (MP_* first), NLRI. */
export function encodeUpdateBody(m: UpdateMessage, opts: CodecOptions): Buffer {
  const leading = [];
  if (m.mpUnreach !== undefined) leading.push(mpUnreachAttribute(m.mpUnreach));
  if (m.mpReach !== undefined) leading.push(mpReachAttribute(m.mpReach));
  const attrs = encodeAttributes(m.attributes, opts, leading);
  const wlen = prefixesLength(m.withdrawn);
  const nlen = prefixesLength(m.nlri);
  const body = Buffer.alloc(4 + wlen + attrs.length + nlen);
  body.writeUInt16BE(wlen, 0);
  let o = writePrefixes(m.withdrawn, body, 2);
  body.writeUInt16BE(attrs.length, o);
  o += 2 + attrs.copy(body, o + 2);
  writePrefixes(m.nlri, body, o);
  return body;
}
