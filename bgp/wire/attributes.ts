// Path attributes, table-driven in the shape of BIRD's proto/bgp/attrs.c: one
// row per type code with its flags, its RFC 7606 error action, and decode /
// encode / format. UPDATE parsing (update.ts) walks the attribute list and asks
// the row; nothing else knows an attribute's layout.
//
// MP_REACH_NLRI and MP_UNREACH_NLRI have rows for their flags and names but
// are parsed by update.ts: they carry NLRI, and their errors reach the session.

import {
  AS_CONFED_SEQUENCE,
  AS_CONFED_SET,
  AS_SET,
  AS_TRANS,
  ATTR_AGGREGATOR,
  ATTR_AS4_AGGREGATOR,
  ATTR_AS4_PATH,
  ATTR_AS_PATH,
  ATTR_ATOMIC_AGGREGATE,
  ATTR_CLUSTER_LIST,
  ATTR_COMMUNITIES,
  ATTR_EXTENDED_COMMUNITIES,
  ATTR_LARGE_COMMUNITY,
  ATTR_LOCAL_PREF,
  ATTR_MP_REACH_NLRI,
  ATTR_MP_UNREACH_NLRI,
  ATTR_MULTI_EXIT_DISC,
  ATTR_NEXT_HOP,
  ATTR_ORIGIN,
  ATTR_ORIGINATOR_ID,
  FLAG_EXTENDED_LENGTH,
  FLAG_OPTIONAL,
  FLAG_PARTIAL,
  FLAG_TRANSITIVE,
} from "./types.js";
import type {
  Aggregator,
  AsPathSegment,
  AsSegmentType,
  CodecOptions,
  LargeCommunity,
  Origin,
  PathAttributes,
  RawAttribute,
} from "./types.js";
import { formatIpv4, writeIpv4 } from "./address.js";
import { extendedCommunityView, formatCommunity, formatLargeCommunity } from "./communities.js";

/** A decode failure: the row's RFC 7606 action applies, with this reason. */
export class Malformed {
  constructor(readonly reason: string) {}
}

/** What RFC 7606 §7 (or the attribute's own RFC) prescribes for a malformed attribute. */
export type ErrorAction = "withdraw" | "discard";

type Key = Exclude<keyof PathAttributes, "unknown" | "nextHopLinkLocal">;

export interface AttributeRow<K extends Key = Key> {
  type: number;
  name: string;
  /** Optional and Transitive bits as the RFC fixes them (Partial/Extended Length excluded). */
  flags: number;
  key: K | undefined;
  onMalformed: ErrorAction;
  /** Value octets buf[start, end) to the in-memory value. */
  decode(
    buf: Buffer,
    start: number,
    end: number,
    opts: CodecOptions,
  ): NonNullable<PathAttributes[K]> | Malformed;
  /** Octets of the value (header excluded), or -1 to omit the attribute. */
  length(v: NonNullable<PathAttributes[K]>, opts: CodecOptions): number;
  /** Write the value at off; returns the offset after it. */
  write(v: NonNullable<PathAttributes[K]>, buf: Buffer, off: number, opts: CodecOptions): number;
  format(v: NonNullable<PathAttributes[K]>): string;
}

// --- helpers shared by rows -------------------------------------------------

function u32(buf: Buffer, start: number, end: number, name: string): number | Malformed {
  return end - start === 4 ? buf.readUInt32BE(start) : new Malformed(`${name} length ${end - start} != 4`);
}

function writeU32(v: number, buf: Buffer, off: number): number {
  buf.writeUInt32BE(v >>> 0, off);
  return off + 4;
}

function writeIpv4Field(v: string, buf: Buffer, off: number): number {
  writeIpv4(v, buf, off);
  return off + 4;
}

/**
 * decode, length and write of an attribute that is a list of `size`-octet
 * items (COMMUNITIES, CLUSTER_LIST, EXTENDED_COMMUNITIES, LARGE_COMMUNITY):
 * an empty list or a length that is no multiple of `size` is malformed, and
 * an empty list is not sent.
 */
function listOf<T>(
  name: string,
  size: number,
  read: (buf: Buffer, off: number) => T,
  put: (v: T, buf: Buffer, off: number) => number,
) {
  return {
    decode(buf: Buffer, s: number, e: number): T[] | Malformed {
      if (e === s || (e - s) % size !== 0) {
        return new Malformed(`${name} length ${e - s} is not a non-zero multiple of ${size}`);
      }
      const out: T[] = [];
      for (let o = s; o < e; o += size) out.push(read(buf, o));
      return out;
    },
    length: (v: readonly T[]) => (v.length === 0 ? -1 : v.length * size),
    write(v: readonly T[], buf: Buffer, off: number): number {
      for (const x of v) off = put(x, buf, off);
      return off;
    },
  };
}

/** RFC 7606 §7.2: AS_PATH (and AS4_PATH, RFC 6793 §6) segment checks. */
export function decodeAsPath(
  buf: Buffer,
  start: number,
  end: number,
  asSize: 2 | 4,
  allowConfed: boolean,
): AsPathSegment[] | Malformed {
  const segs: AsPathSegment[] = [];
  let o = start;
  while (o < end) {
    if (end - o < 2) return new Malformed("AS_PATH underrun: one octet left after the last segment");
    const type = buf.readUInt8(o);
    const count = buf.readUInt8(o + 1);
    o += 2;
    if (type < AS_SET || type > AS_CONFED_SET) return new Malformed(`unknown AS_PATH segment type ${type}`);
    if (!allowConfed && (type === AS_CONFED_SEQUENCE || type === AS_CONFED_SET)) {
      return new Malformed("confederation segment where none may appear");
    }
    if (count === 0) return new Malformed("AS_PATH segment of length zero");
    if (o + count * asSize > end) return new Malformed("AS_PATH segment overruns the attribute");
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      const asn = asSize === 4 ? buf.readUInt32BE(o) : buf.readUInt16BE(o);
      // RFC 7607 §2: AS 0 in a path makes the attribute malformed.
      if (asn === 0) return new Malformed("AS 0 in the path (RFC 7607)");
      asns[i] = asn;
      o += asSize;
    }
    segs.push({ type: type as AsSegmentType, asns });
  }
  return segs;
}

/** Segments longer than 255 ASNs are split on encode (RFC 4271 §5.1.2: one octet of count). */
function asPathLength(segs: AsPathSegment[], asSize: number): number {
  let n = 0;
  for (const s of segs) {
    if (s.asns.length === 0) continue;
    const pieces = Math.ceil(s.asns.length / 255);
    n += pieces * 2 + s.asns.length * asSize;
  }
  return n;
}

function writeAsPath(segs: AsPathSegment[], buf: Buffer, off: number, asSize: number): number {
  for (const s of segs) {
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = Math.min(255, s.asns.length - i);
      buf.writeUInt8(s.type, off);
      buf.writeUInt8(chunk, off + 1);
      off += 2;
      for (let k = 0; k < chunk; k++) {
        const asn = s.asns[i + k] as number;
        if (asSize === 4) buf.writeUInt32BE(asn >>> 0, off);
        // A 4-octet AS on a 2-octet session is sent as AS_TRANS (RFC 6793 §4.2.2).
        else buf.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, off);
        off += asSize;
      }
    }
  }
  return off;
}

export function formatAsPath(segs: AsPathSegment[]): string {
  return segs
    .map((s) => {
      const list = s.asns.join(" ");
      switch (s.type) {
        case AS_SET:
          return `{${list}}`;
        case AS_CONFED_SEQUENCE:
          return `(${list})`;
        case AS_CONFED_SET:
          return `[${list}]`;
        default:
          return list;
      }
    })
    .join(" ");
}

function decodeAggregator(buf: Buffer, start: number, end: number, asSize: 2 | 4, name: string) {
  if (end - start !== asSize + 4) return new Malformed(`${name} length ${end - start} != ${asSize + 4}`);
  const asn = asSize === 4 ? buf.readUInt32BE(start) : buf.readUInt16BE(start);
  // RFC 7607 §2: AS 0 makes AGGREGATOR / AS4_AGGREGATOR malformed.
  if (asn === 0) return new Malformed(`${name} with AS 0 (RFC 7607)`);
  return { asn, address: formatIpv4(buf, start + asSize) };
}

function writeAggregator(v: Aggregator, buf: Buffer, off: number, asSize: number): number {
  if (asSize === 4) buf.writeUInt32BE(v.asn >>> 0, off);
  else buf.writeUInt16BE(v.asn > 0xffff ? AS_TRANS : v.asn, off);
  writeIpv4(v.address, buf, off + asSize);
  return off + asSize + 4;
}

/** RFC 4271 §6.3 / RFC 7606 §7.3: a NEXT_HOP that is no unicast host address. */
export function badIpv4NextHop(buf: Buffer, off: number): string | undefined {
  const a = buf.readUInt8(off);
  const v = buf.readUInt32BE(off);
  if (v === 0) return "NEXT_HOP 0.0.0.0";
  if (a >= 224) return `NEXT_HOP ${formatIpv4(buf, off)} is multicast or reserved`;
  return undefined;
}

// --- the table --------------------------------------------------------------

const WELL_KNOWN = FLAG_TRANSITIVE;
const OPT_TRANSITIVE = FLAG_OPTIONAL | FLAG_TRANSITIVE;
const OPT_NON_TRANSITIVE = FLAG_OPTIONAL;

function row<K extends Key>(r: AttributeRow<K>): AttributeRow {
  return r as unknown as AttributeRow;
}

/**
 * MULTI_EXIT_DISC and LOCAL_PREF: one 4-octet unsigned integer; any other
 * length is treat-as-withdraw (RFC 7606 §7.4, §7.5).
 */
function u32Row(type: number, name: string, flags: number, key: "med" | "localPref"): AttributeRow {
  return row({
    type,
    name,
    flags,
    key,
    onMalformed: "withdraw",
    decode: (buf, s, e) => u32(buf, s, e, name),
    length: () => 4,
    write: writeU32,
    format: String,
  });
}

/** MP_REACH_NLRI and MP_UNREACH_NLRI: a row for flags and name; update.ts parses them (they carry NLRI). */
function parsedByUpdate(type: number, name: string): AttributeRow {
  return {
    type,
    name,
    flags: OPT_NON_TRANSITIVE,
    key: undefined,
    onMalformed: "withdraw",
    decode: () => new Malformed("parsed by the UPDATE decoder"),
    length: () => -1,
    write: (_v, _b, off) => off,
    format: () => "",
  };
}

const ORIGIN_NAMES = ["IGP", "EGP", "incomplete"];

export const ATTRIBUTE_ROWS: readonly AttributeRow[] = [
  row({
    type: ATTR_ORIGIN,
    name: "ORIGIN",
    flags: WELL_KNOWN,
    key: "origin",
    onMalformed: "withdraw", // RFC 7606 §7.1
    decode(buf, s, e) {
      if (e - s !== 1) return new Malformed(`ORIGIN length ${e - s} != 1`);
      const v = buf.readUInt8(s);
      return v <= 2 ? (v as Origin) : new Malformed(`undefined ORIGIN value ${v}`);
    },
    length: () => 1,
    write: (v, buf, off) => buf.writeUInt8(v, off),
    format: (v) => ORIGIN_NAMES[v] ?? String(v),
  }),
  row({
    type: ATTR_AS_PATH,
    name: "AS_PATH",
    flags: WELL_KNOWN,
    key: "asPath",
    onMalformed: "withdraw", // RFC 7606 §7.2
    // Confederation segments from an external peer are malformed (RFC 7606 §7.2).
    decode: (buf, s, e, o) => decodeAsPath(buf, s, e, o.fourOctetAs ? 4 : 2, o.external !== true),
    length: (v, o) => asPathLength(v, o.fourOctetAs ? 4 : 2),
    write: (v, buf, off, o) => writeAsPath(v, buf, off, o.fourOctetAs ? 4 : 2),
    format: formatAsPath,
  }),
  row({
    type: ATTR_NEXT_HOP,
    name: "NEXT_HOP",
    flags: WELL_KNOWN,
    key: "nextHop",
    onMalformed: "withdraw", // RFC 7606 §7.3
    decode(buf, s, e) {
      if (e - s !== 4) return new Malformed(`NEXT_HOP length ${e - s} != 4`);
      const bad = badIpv4NextHop(buf, s);
      return bad === undefined ? formatIpv4(buf, s) : new Malformed(bad);
    },
    // Only an IPv4 next hop goes in NEXT_HOP; an IPv6 one belongs in MP_REACH_NLRI.
    length: (v) => (v.includes(":") ? -1 : 4),
    write: writeIpv4Field,
    format: (v) => v,
  }),
  u32Row(ATTR_MULTI_EXIT_DISC, "MULTI_EXIT_DISC", OPT_NON_TRANSITIVE, "med"),
  u32Row(ATTR_LOCAL_PREF, "LOCAL_PREF", WELL_KNOWN, "localPref"),
  row({
    type: ATTR_ATOMIC_AGGREGATE,
    name: "ATOMIC_AGGREGATE",
    flags: WELL_KNOWN,
    key: "atomicAggregate",
    onMalformed: "discard", // RFC 7606 §7.6
    decode: (_b, s, e) => (e === s ? true : new Malformed(`ATOMIC_AGGREGATE length ${e - s} != 0`)),
    length: (v) => (v ? 0 : -1),
    write: (_v, _b, off) => off,
    format: () => "",
  }),
  row({
    type: ATTR_AGGREGATOR,
    name: "AGGREGATOR",
    flags: OPT_TRANSITIVE,
    key: "aggregator",
    onMalformed: "discard", // RFC 7606 §7.7
    decode: (buf, s, e, o) => decodeAggregator(buf, s, e, o.fourOctetAs ? 4 : 2, "AGGREGATOR"),
    length: (_v, o) => (o.fourOctetAs ? 8 : 6),
    write: (v, buf, off, o) => writeAggregator(v, buf, off, o.fourOctetAs ? 4 : 2),
    format: (v) => `${v.asn} ${v.address}`,
  }),
  row({
    type: ATTR_COMMUNITIES,
    name: "COMMUNITIES",
    flags: OPT_TRANSITIVE,
    key: "communities",
    onMalformed: "withdraw", // RFC 7606 §7.8
    ...listOf("COMMUNITIES", 4, (buf, o) => buf.readUInt32BE(o), writeU32),
    format: (v) => v.map(formatCommunity).join(" "),
  }),
  row({
    type: ATTR_ORIGINATOR_ID,
    name: "ORIGINATOR_ID",
    flags: OPT_NON_TRANSITIVE,
    key: "originatorId",
    onMalformed: "withdraw", // RFC 7606 §7.9
    decode: (buf, s, e) =>
      e - s === 4 ? formatIpv4(buf, s) : new Malformed(`ORIGINATOR_ID length ${e - s} != 4`),
    length: () => 4,
    write: writeIpv4Field,
    format: (v) => v,
  }),
  row({
    type: ATTR_CLUSTER_LIST,
    name: "CLUSTER_LIST",
    flags: OPT_NON_TRANSITIVE,
    key: "clusterList",
    onMalformed: "withdraw", // RFC 7606 §7.10
    ...listOf("CLUSTER_LIST", 4, formatIpv4, writeIpv4Field),
    format: (v) => v.join(" "),
  }),
  parsedByUpdate(ATTR_MP_REACH_NLRI, "MP_REACH_NLRI"),
  parsedByUpdate(ATTR_MP_UNREACH_NLRI, "MP_UNREACH_NLRI"),
  row({
    type: ATTR_EXTENDED_COMMUNITIES,
    name: "EXTENDED_COMMUNITIES",
    flags: OPT_TRANSITIVE,
    key: "extendedCommunities",
    onMalformed: "withdraw", // RFC 7606 §7.14
    ...listOf(
      "EXTENDED_COMMUNITIES",
      8,
      (buf, o) => buf.readBigUInt64BE(o),
      (c, buf, off) => buf.writeBigUInt64BE(BigInt.asUintN(64, c), off),
    ),
    format: (v) => v.map((c) => extendedCommunityView(c).text).join(" "),
  }),
  row({
    type: ATTR_AS4_PATH,
    name: "AS4_PATH",
    flags: OPT_TRANSITIVE,
    key: "as4Path",
    onMalformed: "discard", // RFC 6793 §6; RFC 7606 §7.15 leaves it so
    // AS4_PATH never carries confederation segments (RFC 6793 §3).
    decode: (buf, s, e) => decodeAsPath(buf, s, e, 4, false),
    length: (v) => asPathLength(v, 4),
    write: (v, buf, off) => writeAsPath(v, buf, off, 4),
    format: formatAsPath,
  }),
  row({
    type: ATTR_AS4_AGGREGATOR,
    name: "AS4_AGGREGATOR",
    flags: OPT_TRANSITIVE,
    key: "as4Aggregator",
    onMalformed: "discard", // RFC 6793 §6
    decode: (buf, s, e) => decodeAggregator(buf, s, e, 4, "AS4_AGGREGATOR"),
    length: () => 8,
    write: (v, buf, off) => writeAggregator(v, buf, off, 4),
    format: (v) => `${v.asn} ${v.address}`,
  }),
  row({
    type: ATTR_LARGE_COMMUNITY,
    name: "LARGE_COMMUNITY",
    flags: OPT_TRANSITIVE,
    key: "largeCommunities",
    onMalformed: "withdraw", // RFC 8092 §6
    ...listOf<LargeCommunity>(
      "LARGE_COMMUNITY",
      12,
      (buf, o) => ({
        global: buf.readUInt32BE(o),
        local1: buf.readUInt32BE(o + 4),
        local2: buf.readUInt32BE(o + 8),
      }),
      (c, buf, off) => writeU32(c.local2, buf, writeU32(c.local1, buf, writeU32(c.global, buf, off))),
    ),
    format: (v) => v.map(formatLargeCommunity).join(" "),
  }),
];

/** Row by type code (sparse array: index = type). */
export const ATTRIBUTE_BY_TYPE: ReadonlyArray<AttributeRow | undefined> = (() => {
  const t: (AttributeRow | undefined)[] = new Array(256).fill(undefined);
  for (const r of ATTRIBUTE_ROWS) t[r.type] = r;
  return t;
})();

export function attributeName(type: number): string {
  return ATTRIBUTE_BY_TYPE[type]?.name ?? `attribute ${type}`;
}

// --- encoding a whole attribute set ------------------------------------------

/** One attribute ready to write: header flags, type, and a value writer. */
interface Pending {
  flags: number;
  type: number;
  len: number;
  write(buf: Buffer, off: number): number;
}

/**
 * The attributes of `attrs` in ascending type order (RFC 4271 §5 SHOULD), the
 * unknown ones merged in by type, with `leading` (MP_REACH / MP_UNREACH)
 * first as RFC 7606 §5.1 asks so that a receiver can always find the NLRI.
 */
function pendingAttributes(attrs: PathAttributes, opts: CodecOptions, leading: Pending[]): Pending[] {
  const out: Pending[] = leading.slice();
  const unknown = attrs.unknown ?? [];
  let u = 0;
  const sortedUnknown = unknown.length > 1 ? [...unknown].sort((a, b) => a.type - b.type) : unknown;
  for (const r of ATTRIBUTE_ROWS) {
    while (u < sortedUnknown.length && (sortedUnknown[u] as RawAttribute).type < r.type) {
      out.push(rawPending(sortedUnknown[u++] as RawAttribute));
    }
    if (r.key === undefined) continue;
    const v = attrs[r.key];
    if (v === undefined) continue;
    const len = r.length(v as never, opts);
    if (len < 0) continue;
    out.push({ flags: r.flags, type: r.type, len, write: (buf, off) => r.write(v as never, buf, off, opts) });
  }
  while (u < sortedUnknown.length) out.push(rawPending(sortedUnknown[u++] as RawAttribute));
  return out;
}

function rawPending(a: RawAttribute): Pending {
  return {
    flags: a.flags & ~FLAG_EXTENDED_LENGTH,
    type: a.type,
    len: a.value.length,
    write: (buf, off) => off + a.value.copy(buf, off),
  };
}

function pendingLength(list: Pending[]): number {
  let n = 0;
  for (const p of list) n += (p.len > 255 ? 4 : 3) + p.len;
  return n;
}

function writePending(list: Pending[], buf: Buffer, off: number): number {
  for (const p of list) {
    const ext = p.len > 255;
    buf.writeUInt8(p.flags | (ext ? FLAG_EXTENDED_LENGTH : 0), off);
    buf.writeUInt8(p.type, off + 1);
    if (ext) buf.writeUInt16BE(p.len, off + 2);
    else buf.writeUInt8(p.len, off + 2);
    off = p.write(buf, off + (ext ? 4 : 3));
  }
  return off;
}

/** Encode the Path Attributes field (without its 2-octet length) of an attribute set plus leading MP attributes. */
export function encodeAttributes(attrs: PathAttributes, opts: CodecOptions, leading: Pending[] = []): Buffer {
  const list = pendingAttributes(attrs, opts, leading);
  const buf = Buffer.alloc(pendingLength(list));
  writePending(list, buf, 0);
  return buf;
}

/** A leading attribute (MP_REACH / MP_UNREACH) for encodeAttributes. */
export function leadingAttribute(
  type: number,
  len: number,
  write: (buf: Buffer, off: number) => number,
): Pending {
  return { flags: OPT_NON_TRANSITIVE, type, len, write };
}

const KEY_OPTS: CodecOptions = { fourOctetAs: true };

/**
 * A stable key for an attribute set: equal keys iff the sets encode to the
 * same octets (4-octet AS form) and have the same next hop(s). The RIB groups
 * prefixes by it to pack them into shared UPDATEs; it costs one attribute
 * encode, which is what sending them would cost anyway.
 */
export function attributeKey(attrs: PathAttributes): string {
  // An IPv6 next hop is not encoded by the NEXT_HOP row, hence the explicit prefix.
  const body = encodeAttributes(attrs, KEY_OPTS);
  return `${attrs.nextHop ?? ""}|${attrs.nextHopLinkLocal ?? ""}|${body.toString("latin1")}`;
}

/**
 * The attributes to pass on to another peer (RFC 4271 §5, §9.1.3): unknown
 * optional transitive attributes are kept with the Partial bit set; unknown
 * optional non-transitive ones are dropped (and unknown well-known ones never
 * get this far: they fail the UPDATE).
 */
export function forwardableAttributes(attrs: PathAttributes): PathAttributes {
  if (attrs.unknown === undefined) return attrs;
  const kept = attrs.unknown
    .filter((a) => (a.flags & OPT_TRANSITIVE) === OPT_TRANSITIVE)
    .map((a) => ({ ...a, flags: a.flags | FLAG_PARTIAL }));
  const out = { ...attrs };
  if (kept.length > 0) out.unknown = kept;
  else delete out.unknown;
  return out;
}

/** One "NAME: value" line per attribute, in type order (for logs and `trellisctl bgp routes`). */
export function formatAttributes(attrs: PathAttributes): string[] {
  const lines: string[] = [];
  for (const r of ATTRIBUTE_ROWS) {
    if (r.key === undefined) continue;
    const v = attrs[r.key];
    if (v === undefined) continue;
    lines.push(`${r.name}: ${r.format(v as never)}`.trimEnd());
    if (r.key === "nextHop" && attrs.nextHopLinkLocal !== undefined) {
      lines[lines.length - 1] += ` ${attrs.nextHopLinkLocal}`;
    }
  }
  for (const a of attrs.unknown ?? []) {
    lines.push(`attribute ${a.type} flags 0x${a.flags.toString(16)}: 0x${a.value.toString("hex")}`);
  }
  return lines;
}
