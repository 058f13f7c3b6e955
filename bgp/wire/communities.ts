// Text forms of RFC 1997 communities, RFC 8092 large communities and a typed
// view of RFC 4360 extended communities (which the codec carries as opaque
// 8-octet values, so unknown types pass through untouched).

import {
  COMMUNITY_NO_ADVERTISE,
  COMMUNITY_NO_EXPORT,
  COMMUNITY_NO_EXPORT_SUBCONFED,
  COMMUNITY_NOPEER,
} from "./types.js";
import type { LargeCommunity } from "./types.js";

const WELL_KNOWN: Record<string, number> = {
  "no-export": COMMUNITY_NO_EXPORT,
  "no-advertise": COMMUNITY_NO_ADVERTISE,
  "no-export-subconfed": COMMUNITY_NO_EXPORT_SUBCONFED,
  "no-peer": COMMUNITY_NOPEER,
};
const WELL_KNOWN_NAME = new Map(Object.entries(WELL_KNOWN).map(([k, v]) => [v, k]));

const U16 = /^\d{1,5}$/;
const U32 = /^\d{1,10}$/;

/** "65001:100" or a well-known name ("no-export", …) to the 32-bit value; null if malformed. */
export function parseCommunity(s: string): number | null {
  const known = WELL_KNOWN[s.toLowerCase()];
  if (known !== undefined) return known;
  const parts = s.split(":");
  if (parts.length !== 2 || !U16.test(parts[0] as string) || !U16.test(parts[1] as string)) return null;
  const hi = Number(parts[0]);
  const lo = Number(parts[1]);
  if (hi > 0xffff || lo > 0xffff) return null;
  return hi * 65536 + lo;
}

export function formatCommunity(c: number): string {
  return WELL_KNOWN_NAME.get(c) ?? `${Math.floor(c / 65536)}:${c & 0xffff}`;
}

/** "65001:1:2" to a large community; null if malformed. */
export function parseLargeCommunity(s: string): LargeCommunity | null {
  const parts = s.split(":");
  if (parts.length !== 3 || !parts.every((p) => U32.test(p))) return null;
  const [g, a, b] = parts.map(Number) as [number, number, number];
  if (g > 0xffffffff || a > 0xffffffff || b > 0xffffffff) return null;
  return { global: g, local1: a, local2: b };
}

export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c.global}:${c.local1}:${c.local2}`;
}

/** RFC 4360 §3 high-order type octets (transitive forms; +0x40 = non-transitive). */
export const EXT_TWO_OCTET_AS = 0x00;
export const EXT_IPV4_ADDRESS = 0x01;
export const EXT_FOUR_OCTET_AS = 0x02; // RFC 5668
export const EXT_OPAQUE = 0x03;
/** Sub-types shared by the AS- and address-specific types (RFC 4360 §4, §5). */
export const EXT_SUB_ROUTE_TARGET = 0x02;
export const EXT_SUB_ROUTE_ORIGIN = 0x03;

export interface ExtendedCommunityView {
  type: number;
  subtype: number;
  /** RFC 4360 §2: bit 1 of the type octet (0x40) clear means transitive. */
  transitive: boolean;
  /** Global administrator: an AS number or an IPv4 address, when the type defines one. */
  global?: number | string;
  local?: number;
  /** "rt:65000:100", "ro:192.0.2.1:7", or "0x…" for types without a text form. */
  text: string;
}

/** A typed reading of one 8-octet extended community value. */
export function extendedCommunityView(v: bigint): ExtendedCommunityView {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, v));
  const type = b.readUInt8(0);
  const subtype = b.readUInt8(1);
  const transitive = (type & 0x40) === 0;
  const base = type & 0xbf;
  const tag = subtype === EXT_SUB_ROUTE_TARGET ? "rt" : subtype === EXT_SUB_ROUTE_ORIGIN ? "ro" : undefined;
  const raw = `0x${b.toString("hex")}`;
  if (base === EXT_TWO_OCTET_AS) {
    const global = b.readUInt16BE(2);
    const local = b.readUInt32BE(4);
    return { type, subtype, transitive, global, local, text: tag ? `${tag}:${global}:${local}` : raw };
  }
  if (base === EXT_IPV4_ADDRESS) {
    const global = `${b.readUInt8(2)}.${b.readUInt8(3)}.${b.readUInt8(4)}.${b.readUInt8(5)}`;
    const local = b.readUInt16BE(6);
    return { type, subtype, transitive, global, local, text: tag ? `${tag}:${global}:${local}` : raw };
  }
  if (base === EXT_FOUR_OCTET_AS) {
    const global = b.readUInt32BE(2);
    const local = b.readUInt16BE(6);
    return { type, subtype, transitive, global, local, text: tag ? `${tag}:${global}:${local}` : raw };
  }
  return { type, subtype, transitive, text: raw };
}

/** A transitive Route Target: 2-octet AS form when the AS fits, else the RFC 5668 4-octet form. */
export function routeTargetCommunity(asn: number, local: number): bigint {
  const b = Buffer.alloc(8);
  if (asn <= 0xffff) {
    b.writeUInt8(EXT_TWO_OCTET_AS, 0);
    b.writeUInt8(EXT_SUB_ROUTE_TARGET, 1);
    b.writeUInt16BE(asn, 2);
    b.writeUInt32BE(local >>> 0, 4);
  } else {
    b.writeUInt8(EXT_FOUR_OCTET_AS, 0);
    b.writeUInt8(EXT_SUB_ROUTE_TARGET, 1);
    b.writeUInt32BE(asn >>> 0, 2);
    b.writeUInt16BE(local & 0xffff, 6);
  }
  return b.readBigUInt64BE(0);
}
