// Prefix NLRI encoding (RFC 4271 §4.3, RFC 4760 §5): one length octet in bits,
// then the minimum number of octets that hold that many bits. Decoding builds
// the canonical prefix string straight from the wire octets, with no Buffer
// allocated per prefix.
//
// Trailing bits: RFC 4271 §4.3 says "the value of trailing bits is irrelevant",
// so a prefix like 10.0.0.1/24 is accepted and stored as 10.0.0.0/24 (BIRD and
// GoBGP do the same). A length above 32 (IPv4) or 128 (IPv6), or a prefix that
// runs past the end of its field, means the NLRI cannot be parsed: RFC 7606
// §5.3 leaves session reset as the only option; the caller picks the subcode.

import { AFI_IPV4, AFI_IPV6 } from "./types.js";
import type { Prefix } from "./types.js";
import { formatIpv6Groups, parseIpv6Into } from "./address.js";
import { formatIpv4Prefix, ipv4Mask, parseCanonicalIpv4Prefix } from "../../net/ipv4-packed.js";

export interface ParsedPrefix {
  afi: number;
  len: number;
  /** 4 or 16 octets, host bits cleared. */
  bytes: Buffer;
}

const v6 = Buffer.alloc(16);
const groups = new Uint16Array(8);
const v4 = new Int32Array(1);

/** The AFI of a canonical prefix string. */
export function prefixAfi(p: Prefix): number {
  return p.includes(":") ? AFI_IPV6 : AFI_IPV4;
}

/**
 * Decode the prefixes in buf[start, end) into `out`. Returns undefined on
 * success or the reason the field cannot be parsed (what out then holds is
 * unspecified, and the caller must not use it).
 */
export function decodePrefixes(
  buf: Buffer,
  start: number,
  end: number,
  afi: number,
  out: Prefix[],
): string | undefined {
  if (afi === AFI_IPV4) {
    const pairs = decodeIpv4Packed(buf, start, end);
    if (typeof pairs === "string") return pairs;
    for (const p of formatIpv4Packed(pairs)) out.push(p);
    return undefined;
  }
  const family = afi === AFI_IPV6 ? NLRI_V6 : undefined;
  if (family === undefined) return `AFI ${afi} is not supported`;
  let o = start;
  while (o < end) {
    const len = buf.readUInt8(o++);
    if (len > family.bits) return `prefix length ${len} > ${family.bits}`;
    const n = (len + 7) >> 3;
    if (o + n > end) return `prefix /${len} runs past the end of its field`;
    out.push(family.format(buf, o, n, len));
    o += n;
  }
  return undefined;
}

/** An empty packed field (most UPDATEs withdraw nothing): shared, never written. */
const NO_PAIRS = new Int32Array(0);
/** Where decodeIpv4Packed collects pairs before the one copy it returns; grows, never shrinks. */
let pairScratch = new Int32Array(2 * 1024);

/**
 * Decode an IPv4 prefix field buf[start, end) (Withdrawn Routes, NLRI) into
 * packed pairs [address as an int32 bit pattern, length, ...], host bits
 * cleared (trailing bits are irrelevant, RFC 4271 §4.3): no string and no
 * object per prefix, which is what lets the RIB take a full table without a
 * string per route (issue 12). Returns the reason the field cannot be parsed
 * instead, worded as decodePrefixes words it.
 */
export function decodeIpv4Packed(buf: Buffer, start: number, end: number): Int32Array | string {
  if (start >= end) return NO_PAIRS;
  let o = start;
  let n = 0;
  while (o < end) {
    const len = buf[o++]!;
    if (len > 32) return `prefix length ${len} > 32`;
    const k = (len + 7) >> 3;
    if (o + k > end) return `prefix /${len} runs past the end of its field`;
    let a = 0;
    for (let i = 0; i < 4; i++) a = (a << 8) | (i < k ? buf[o + i]! : 0);
    if (n + 2 > pairScratch.length) {
      const grown = new Int32Array(pairScratch.length * 2);
      grown.set(pairScratch);
      pairScratch = grown;
    }
    pairScratch[n] = a & ipv4Mask(len);
    pairScratch[n + 1] = len;
    n += 2;
    o += k;
  }
  return pairScratch.slice(0, n);
}

/** The canonical text of each packed IPv4 prefix (see decodeIpv4Packed). */
export function formatIpv4Packed(pairs: Int32Array): Prefix[] {
  const out: Prefix[] = [];
  for (let i = 0; i < pairs.length; i += 2) out.push(formatIpv4Prefix(pairs[i]!, pairs[i + 1]!));
  return out;
}

/**
 * Per family: the longest prefix length, and how to turn the n wire octets at
 * o of a /len prefix into the canonical prefix text, host bits cleared.
 */
interface NlriFamily {
  bits: number;
  format(buf: Buffer, o: number, n: number, len: number): string;
}

const NLRI_V6: NlriFamily = {
  bits: 128,
  format(buf, o, n, len) {
    // Build the 16-bit groups straight from the wire octets, host bits cleared.
    const lastMask = len & 7 ? (0xff << (8 - (len & 7))) & 0xff : 0xff;
    for (let g = 0; g < 8; g++) {
      const i = 2 * g;
      let hi = i < n ? buf.readUInt8(o + i) : 0;
      let lo = i + 1 < n ? buf.readUInt8(o + i + 1) : 0;
      if (i === n - 1) hi &= lastMask;
      else if (i + 1 === n - 1) lo &= lastMask;
      groups[g] = (hi << 8) | lo;
    }
    return `${formatIpv6Groups(groups)}/${len}`;
  },
};

/** Octets a prefix takes on the wire (length octet included). */
export function prefixEncodingLength(p: Prefix): number {
  const slash = p.lastIndexOf("/");
  const len = Number(p.slice(slash + 1));
  return 1 + ((len + 7) >> 3);
}

/** Write one prefix at off; returns the offset after it. Throws TypeError on a malformed prefix string. */
export function encodePrefix(p: Prefix, buf: Buffer, off: number): number {
  const slash = p.lastIndexOf("/");
  const len = slash > 0 ? Number(p.slice(slash + 1)) : NaN;
  if (p.includes(":")) {
    if (!(len >= 0 && len <= 128) || !Number.isInteger(len) || !parseIpv6Into(p, v6, 0, 0, slash)) {
      throw new TypeError(`invalid IPv6 prefix: ${p}`);
    }
    const n = (len + 7) >> 3;
    buf.writeUInt8(len, off++);
    for (let i = 0; i < n; i++) buf.writeUInt8(v6.readUInt8(i), off + i);
    if (len & 7) buf.writeUInt8(v6.readUInt8(n - 1) & (0xff << (8 - (len & 7))) & 0xff, off + n - 1);
    return off + n;
  }
  // The codec's prefixes are canonical text (its own decoder's, or checked
  // config through net/address.ts), so the packed parser of the RIB serves.
  const v4len = parseCanonicalIpv4Prefix(p, v4);
  if (v4len < 0) throw new TypeError(`invalid IPv4 prefix: ${p}`);
  const n = (v4len + 7) >> 3;
  const masked = (v4[0]! & ipv4Mask(v4len)) >>> 0;
  buf.writeUInt8(v4len, off++);
  for (let i = 0; i < n; i++) buf.writeUInt8((masked >>> (24 - 8 * i)) & 0xff, off + i);
  return off + n;
}

/** Parse "10.0.0.0/24" or "2001:db8::/32"; throws TypeError if malformed. Host bits are cleared. */
export function parsePrefix(p: string): ParsedPrefix {
  const tmp = Buffer.alloc(17);
  const end = encodePrefix(p, tmp, 0);
  const afi = p.includes(":") ? AFI_IPV6 : AFI_IPV4;
  const bytes = Buffer.alloc(afi === AFI_IPV6 ? 16 : 4);
  tmp.copy(bytes, 0, 1, end);
  return { afi, len: tmp.readUInt8(0), bytes };
}

/** The canonical form of a prefix string (host bits cleared, RFC 5952), or null if malformed. */
export function canonicalPrefix(p: string): Prefix | null {
  const tmp = Buffer.alloc(17);
  let end: number;
  try {
    end = encodePrefix(p, tmp, 0);
  } catch {
    return null;
  }
  const out: Prefix[] = [];
  decodePrefixes(tmp, 0, end, p.includes(":") ? AFI_IPV6 : AFI_IPV4, out);
  return out[0] ?? null;
}
