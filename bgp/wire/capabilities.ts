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

function row<K extends Kind>(r: CapabilityRow<K>): CapabilityRow {
  return r as unknown as CapabilityRow;
}

export const CAPABILITY_ROWS: readonly CapabilityRow[] = [
  row({
    code: CAP_MULTIPROTOCOL,
    kind: "multiprotocol",
    name: "Multiprotocol",
    // RFC 4760 §8: AFI (2), reserved (1), SAFI (1).
    decode(buf, s, e) {
      if (e - s !== 4) malformed("Multiprotocol", e - s);
      return { kind: "multiprotocol", afi: buf.readUInt16BE(s), safi: buf.readUInt8(s + 3) };
    },
    encode(c) {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(c.afi, 0);
      b.writeUInt8(c.safi, 3);
      return b;
    },
  }),
  row(empty(CAP_ROUTE_REFRESH, "route-refresh", "Route Refresh")),
  row({
    code: CAP_EXTENDED_NEXT_HOP,
    kind: "extended-next-hop",
    name: "Extended Next Hop",
    // RFC 8950 §3: triples of NLRI AFI (2), NLRI SAFI (2), Next Hop AFI (2).
    decode(buf, s, e) {
      if ((e - s) % 6 !== 0) malformed("Extended Next Hop", e - s);
      const entries = [];
      for (let o = s; o < e; o += 6) {
        entries.push({
          afi: buf.readUInt16BE(o),
          safi: buf.readUInt16BE(o + 2),
          nextHopAfi: buf.readUInt16BE(o + 4),
        });
      }
      return { kind: "extended-next-hop", entries };
    },
    encode(c) {
      const b = Buffer.alloc(6 * c.entries.length);
      c.entries.forEach((x, i) => {
        b.writeUInt16BE(x.afi, 6 * i);
        b.writeUInt16BE(x.safi, 6 * i + 2);
        b.writeUInt16BE(x.nextHopAfi, 6 * i + 4);
      });
      return b;
    },
  }),
  row(empty(CAP_EXTENDED_MESSAGE, "extended-message", "Extended Message")),
  row({
    code: CAP_GRACEFUL_RESTART,
    kind: "graceful-restart",
    name: "Graceful Restart",
    // RFC 4724 §3: Restart Flags (4 bits) + Restart Time (12 bits), then
    // per family AFI (2), SAFI (1), Flags for Address Family (1, bit 0x80 = F).
    decode(buf, s, e) {
      if (e - s < 2 || (e - s - 2) % 4 !== 0) malformed("Graceful Restart", e - s);
      const head = buf.readUInt16BE(s);
      const families = [];
      for (let o = s + 2; o < e; o += 4) {
        families.push({
          afi: buf.readUInt16BE(o),
          safi: buf.readUInt8(o + 2),
          forwarding: (buf.readUInt8(o + 3) & 0x80) !== 0,
        });
      }
      return {
        kind: "graceful-restart",
        restarting: (head & 0x8000) !== 0,
        notification: (head & 0x4000) !== 0,
        restartTime: head & 0x0fff,
        families,
      };
    },
    encode(c) {
      const b = Buffer.alloc(2 + 4 * c.families.length);
      b.writeUInt16BE(
        (c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | (c.restartTime & 0x0fff),
        0,
      );
      c.families.forEach((f, i) => {
        b.writeUInt16BE(f.afi, 2 + 4 * i);
        b.writeUInt8(f.safi, 4 + 4 * i);
        b.writeUInt8(f.forwarding ? 0x80 : 0, 5 + 4 * i);
      });
      return b;
    },
  }),
  row({
    code: CAP_FOUR_OCTET_AS,
    kind: "four-octet-as",
    name: "4-octet AS",
    decode(buf, s, e) {
      if (e - s !== 4) malformed("4-octet AS", e - s);
      return { kind: "four-octet-as", asn: buf.readUInt32BE(s) };
    },
    encode(c) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(c.asn >>> 0, 0);
      return b;
    },
  }),
  row({
    code: CAP_ADD_PATH,
    kind: "add-path",
    name: "ADD-PATH",
    // RFC 7911 §4: AFI (2), SAFI (1), Send/Receive (1).
    decode(buf, s, e) {
      if ((e - s) % 4 !== 0) malformed("ADD-PATH", e - s);
      const entries = [];
      for (let o = s; o < e; o += 4) {
        entries.push({
          afi: buf.readUInt16BE(o),
          safi: buf.readUInt8(o + 2),
          sendReceive: buf.readUInt8(o + 3),
        });
      }
      return { kind: "add-path", entries };
    },
    encode(c) {
      const b = Buffer.alloc(4 * c.entries.length);
      c.entries.forEach((x, i) => {
        b.writeUInt16BE(x.afi, 4 * i);
        b.writeUInt8(x.safi, 4 * i + 2);
        b.writeUInt8(x.sendReceive, 4 * i + 3);
      });
      return b;
    },
  }),
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
