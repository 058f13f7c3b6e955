// Capabilities Optional Parameter (RFC 5492), table-driven: one row per
// capability code with decode / encode. Codes without a row are kept raw
// ({ kind: "unknown" }) so nothing a peer advertises is lost.
//
// A capability whose value has the wrong length is an OPEN Message Error with
// subcode 0 (Unspecific), as BIRD does: RFC 5492 defines no finer subcode.

import { ERR_OPEN, OPEN_UNSPECIFIC, bgpError } from "./errors.js";
import {
  CAP_ADD_PATH,
  CAP_ENHANCED_ROUTE_REFRESH,
  CAP_EXTENDED_MESSAGE,
  CAP_EXTENDED_NEXT_HOP,
  CAP_FOUR_OCTET_AS,
  CAP_FQDN,
  CAP_GRACEFUL_RESTART,
  CAP_MULTIPROTOCOL,
  CAP_ROUTE_REFRESH,
  CAP_ROUTE_REFRESH_OLD,
} from "./types.js";
import type { Capability } from "./types.js";

type Kind = Capability["kind"];
type Of<K extends Kind> = Extract<Capability, { kind: K }>;

interface CapabilityRow<K extends Kind = Kind> {
  code: number;
  kind: K;
  name: string;
  /** Value octets buf[s, e) to the capability; throws BgpError when malformed. */
  decode(buf: Buffer, s: number, e: number): Of<K>;
  encode(c: Of<K>): Buffer;
}

function malformed(name: string, len: number): never {
  throw bgpError(ERR_OPEN, OPEN_UNSPECIFIC, undefined, `malformed ${name} capability (length ${len})`);
}

function empty<K extends Kind>(code: number, kind: K, name: string): CapabilityRow<K> {
  // Zero-length capabilities: trailing octets are tolerated, as most speakers do.
  return { code, kind, name, decode: () => ({ kind }) as Of<K>, encode: () => Buffer.alloc(0) };
}

/**
 * The fields of a fixed-size entry, in wire order, with their octets (1, 2 or
 * 4); a null field is reserved: read past, written as zero.
 */
type Layout<F extends string> = readonly (readonly [field: F | null, octets: 1 | 2 | 4])[];

function readField(buf: Buffer, at: number, octets: 1 | 2 | 4): number {
  return octets === 4 ? buf.readUInt32BE(at) : octets === 2 ? buf.readUInt16BE(at) : buf.readUInt8(at);
}

function writeField(buf: Buffer, at: number, octets: 1 | 2 | 4, v: number): void {
  if (octets === 4) buf.writeUInt32BE(v >>> 0, at);
  else if (octets === 2) buf.writeUInt16BE(v, at);
  else buf.writeUInt8(v, at);
}

function entrySize<F extends string>(layout: Layout<F>): number {
  return layout.reduce((n, [, octets]) => n + octets, 0);
}

/** buf[s, e) as a list of `layout` entries; a length that is not a whole number of them is malformed. */
function readEntries<F extends string>(
  name: string,
  layout: Layout<F>,
  buf: Buffer,
  s: number,
  e: number,
): Record<F, number>[] {
  const size = entrySize(layout);
  if ((e - s) % size !== 0) malformed(name, e - s);
  const out: Record<F, number>[] = [];
  for (let o = s; o < e; o += size) {
    const entry = {} as Record<F, number>;
    let at = o;
    for (const [field, octets] of layout) {
      if (field !== null) entry[field] = readField(buf, at, octets);
      at += octets;
    }
    out.push(entry);
  }
  return out;
}

/** `list` as `layout` entries, after `head` octets left for the caller. */
function writeEntries<F extends string>(
  layout: Layout<F>,
  list: readonly Record<F, number>[],
  head = 0,
): Buffer {
  const size = entrySize(layout);
  const b = Buffer.alloc(head + size * list.length);
  let at = head;
  for (const entry of list) {
    for (const [field, octets] of layout) {
      writeField(b, at, octets, field === null ? 0 : entry[field]);
      at += octets;
    }
  }
  return b;
}

// RFC 8950 §3: NLRI AFI (2), NLRI SAFI (2), Next Hop AFI (2).
const EXTENDED_NEXT_HOP: Layout<"afi" | "safi" | "nextHopAfi"> = [
  ["afi", 2],
  ["safi", 2],
  ["nextHopAfi", 2],
];
// RFC 7911 §4: AFI (2), SAFI (1), Send/Receive (1).
const ADD_PATH: Layout<"afi" | "safi" | "sendReceive"> = [
  ["afi", 2],
  ["safi", 1],
  ["sendReceive", 1],
];
// RFC 4724 §3: per family AFI (2), SAFI (1), Flags for Address Family (1, bit 0x80 = F).
const GR_FAMILY: Layout<"afi" | "safi" | "flags"> = [
  ["afi", 2],
  ["safi", 1],
  ["flags", 1],
];

// RFC 4760 §8: AFI (2), reserved (1), SAFI (1).
const MULTIPROTOCOL: Layout<"afi" | "safi"> = [
  ["afi", 2],
  [null, 1],
  ["safi", 1],
];
// RFC 6793 §3: the 4-octet AS number.
const FOUR_OCTET_AS: Layout<"asn"> = [["asn", 4]];

/** Capabilities whose value is exactly one fixed-size entry, with their layouts. */
type FixedKind = "multiprotocol" | "four-octet-as";
const FIXED_LAYOUTS: { [K in FixedKind]: Layout<Exclude<keyof Of<K>, "kind"> & string> } = {
  multiprotocol: MULTIPROTOCOL,
  "four-octet-as": FOUR_OCTET_AS,
};

function fixed<K extends FixedKind>(code: number, kind: K, name: string): CapabilityRow<K> {
  // FIXED_LAYOUTS ties each kind to its fields; as for entryList, TypeScript
  // cannot follow that through the generic K, hence the casts.
  const layout = FIXED_LAYOUTS[kind] as Layout<string>;
  const size = entrySize(layout);
  return {
    code,
    kind,
    name,
    decode(buf, s, e) {
      if (e - s !== size) malformed(name, e - s);
      return { kind, ...readEntries(name, layout, buf, s, e)[0] } as unknown as Of<K>;
    },
    encode: (c) => writeEntries(layout, [c as unknown as Record<string, number>]),
  };
}

/** Capabilities whose whole value is a list of fixed-size entries, with their layouts. */
type EntryListKind = "extended-next-hop" | "add-path";
const ENTRY_LAYOUTS: { [K in EntryListKind]: Layout<keyof Of<K>["entries"][number] & string> } = {
  "extended-next-hop": EXTENDED_NEXT_HOP,
  "add-path": ADD_PATH,
};

function entryList<K extends EntryListKind>(code: number, kind: K, name: string): CapabilityRow<K> {
  // ENTRY_LAYOUTS ties each kind to the fields of its entries; TypeScript
  // cannot follow that through the generic K, hence the casts.
  const layout = ENTRY_LAYOUTS[kind] as Layout<string>;
  return {
    code,
    kind,
    name,
    decode: (buf, s, e) => ({ kind, entries: readEntries(name, layout, buf, s, e) }) as unknown as Of<K>,
    encode: (c) => writeEntries(layout, (c as unknown as { entries: Record<string, number>[] }).entries),
  };
}

function row<K extends Kind>(r: CapabilityRow<K>): CapabilityRow {
  return r as unknown as CapabilityRow;
}

export const CAPABILITY_ROWS: readonly CapabilityRow[] = [
  row(fixed(CAP_MULTIPROTOCOL, "multiprotocol", "Multiprotocol")),
  row(empty(CAP_ROUTE_REFRESH, "route-refresh", "Route Refresh")),
  row(entryList(CAP_EXTENDED_NEXT_HOP, "extended-next-hop", "Extended Next Hop")),
  row(empty(CAP_EXTENDED_MESSAGE, "extended-message", "Extended Message")),
  row({
    code: CAP_GRACEFUL_RESTART,
    kind: "graceful-restart",
    name: "Graceful Restart",
    // RFC 4724 §3: Restart Flags (4 bits) + Restart Time (12 bits), then GR_FAMILY entries.
    decode(buf, s, e) {
      // The whole value's length is the one reported, as for the other capabilities.
      if (e - s < 2 || (e - s - 2) % entrySize(GR_FAMILY) !== 0) malformed("Graceful Restart", e - s);
      const head = buf.readUInt16BE(s);
      const families = readEntries("Graceful Restart", GR_FAMILY, buf, s + 2, e).map((f) => ({
        afi: f.afi,
        safi: f.safi,
        forwarding: (f.flags & 0x80) !== 0,
      }));
      return {
        kind: "graceful-restart",
        restarting: (head & 0x8000) !== 0,
        notification: (head & 0x4000) !== 0,
        restartTime: head & 0x0fff,
        families,
      };
    },
    encode(c) {
      const families = c.families.map((f) => ({ afi: f.afi, safi: f.safi, flags: f.forwarding ? 0x80 : 0 }));
      const b = writeEntries(GR_FAMILY, families, 2);
      b.writeUInt16BE(
        (c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | (c.restartTime & 0x0fff),
        0,
      );
      return b;
    },
  }),
  row(fixed(CAP_FOUR_OCTET_AS, "four-octet-as", "4-octet AS")),
  row(entryList(CAP_ADD_PATH, "add-path", "ADD-PATH")),
  row(empty(CAP_ENHANCED_ROUTE_REFRESH, "enhanced-route-refresh", "Enhanced Route Refresh")),
  row({
    code: CAP_FQDN,
    kind: "fqdn",
    name: "FQDN",
    // draft-walton-bgp-hostname-capability: length-prefixed hostname, then domain.
    decode(buf, s, e) {
      if (e - s < 1) malformed("FQDN", e - s);
      const hl = buf.readUInt8(s);
      if (s + 1 + hl + 1 > e) malformed("FQDN", e - s);
      const dl = buf.readUInt8(s + 1 + hl);
      if (s + 2 + hl + dl > e) malformed("FQDN", e - s);
      return {
        kind: "fqdn",
        hostname: buf.toString("utf8", s + 1, s + 1 + hl),
        domain: buf.toString("utf8", s + 2 + hl, s + 2 + hl + dl),
      };
    },
    encode(c) {
      const h = Buffer.from(c.hostname, "utf8").subarray(0, 255);
      const d = Buffer.from(c.domain, "utf8").subarray(0, 255);
      return Buffer.concat([Buffer.from([h.length]), h, Buffer.from([d.length]), d]);
    },
  }),
  row(empty(CAP_ROUTE_REFRESH_OLD, "route-refresh-old", "Route Refresh (Cisco)")),
];

const BY_CODE = new Map(CAPABILITY_ROWS.map((r) => [r.code, r]));
const BY_KIND = new Map(CAPABILITY_ROWS.map((r) => [r.kind, r]));

/** Decode the capabilities of one Capabilities parameter value buf[s, e) into out. */
export function decodeCapabilities(buf: Buffer, s: number, e: number, out: Capability[]): void {
  let o = s;
  while (o < e) {
    if (e - o < 2) malformed("capability header", e - o);
    const code = buf.readUInt8(o);
    const len = buf.readUInt8(o + 1);
    const vs = o + 2;
    const ve = vs + len;
    if (ve > e) malformed(`code ${code}`, len);
    const r = BY_CODE.get(code);
    out.push(r ? r.decode(buf, vs, ve) : { kind: "unknown", code, data: Buffer.from(buf.subarray(vs, ve)) });
    o = ve;
  }
}

/** The code and value octets of a capability. */
export function encodeCapability(c: Capability): { code: number; value: Buffer } {
  if (c.kind === "unknown") return { code: c.code, value: c.data };
  const r = BY_KIND.get(c.kind) as CapabilityRow;
  return { code: r.code, value: r.encode(c) };
}

/** Capability TLVs (code, length, value) back to back: the Capabilities parameter value. */
export function encodeCapabilityList(caps: readonly Capability[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of caps) {
    const { code, value } = encodeCapability(c);
    if (value.length > 255) throw new RangeError(`capability ${code} value exceeds 255 octets`);
    parts.push(Buffer.from([code, value.length]), value);
  }
  return Buffer.concat(parts);
}

export function capabilityName(c: Capability): string {
  return c.kind === "unknown" ? `capability ${c.code}` : (BY_KIND.get(c.kind)?.name ?? c.kind);
}
