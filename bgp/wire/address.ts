// IPv4/IPv6 addresses between wire octets and canonical text (RFC 5952 for
// IPv6: lower case, leading zeros dropped, the longest run of two or more zero
// groups compressed to "::", the first such run on a tie).

import { longestZeroRun } from "../../net/address.js";
import { parseCanonicalIpv4 } from "../../net/ipv4-packed.js";

// Scratch space for IPv6 formatting/parsing: the codec is synchronous, so one
// module-level array is never shared between two calls in flight.
const groups = new Uint16Array(8);

export function formatIpv4(buf: Buffer, off: number): string {
  return `${buf.readUInt8(off)}.${buf.readUInt8(off + 1)}.${buf.readUInt8(off + 2)}.${buf.readUInt8(off + 3)}`;
}

// Hex text of each 16-bit group value, filled on first use: IPv6 NLRI decoding
// formats one address per prefix, and toString(16) is most of that cost.
const HEX = new Array<string | undefined>(65536);
function hex16(v: number): string {
  return (HEX[v] ??= v.toString(16));
}

/** Format the 8 groups of `groups` (RFC 5952). */
export function formatIpv6Groups(groups: Uint16Array): string {
  const { start: bestStart, length: bestLen } = longestZeroRun(groups);
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += "::";
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(":")) s += ":";
    s += hex16(groups[i] as number);
  }
  return s;
}

export function formatIpv6(buf: Buffer, off: number): string {
  for (let i = 0; i < 8; i++) groups[i] = buf.readUInt16BE(off + 2 * i);
  return formatIpv6Groups(groups);
}

/** Where parseIpv4 has net/ipv4-packed.ts leave the address it read. */
const quad = new Int32Array(1);

/**
 * Parse dotted-quad IPv4 text (the whole of `s`, or the embedded IPv4 tail of
 * an IPv6 text between `start` and `end`) into a 32-bit unsigned number, or
 * -1 if malformed. Only the canonical form passes, as everywhere in net/
 * (net/ipv4-packed.ts, RFC 6943 §3.1.1 strict form): "010.0.0.1" is refused,
 * since inet_aton(3) reads a leading zero as octal (8.0.0.1) where we would
 * have sent 10.0.0.1.
 */
export function parseIpv4(s: string, start = 0, end = s.length): number {
  const text = start === 0 ? s : s.slice(start, end);
  return parseCanonicalIpv4(text, end - start, quad) ? (quad[0] as number) >>> 0 : -1;
}

const parsed = new Uint16Array(8);

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parse IPv6 text into `out` (16 octets at off) in one pass over the
 * characters (no split, no regular expression: packUpdates parses every
 * prefix it encodes). Returns false if malformed.
 */
export function parseIpv6Into(s: string, out: Buffer, off: number, start = 0, end = s.length): boolean {
  let n = 0; // groups written
  let gap = -1; // group index where "::" stands
  let i = start;
  if (i < end && s.charCodeAt(i) === 58) {
    // A leading colon must be "::".
    if (i + 1 >= end || s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (n === 8) return false;
    // Read up to 4 hex digits.
    let v = 0;
    let digits = 0;
    const groupStart = i;
    while (i < end) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      digits++;
      i++;
    }
    if (i < end && s.charCodeAt(i) === 46) {
      // Embedded IPv4 in the last 32 bits.
      if (n > 6) return false;
      const v4 = parseIpv4(s, groupStart, end);
      if (v4 < 0) return false;
      parsed[n++] = Math.floor(v4 / 65536);
      parsed[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    parsed[n++] = v;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) return false; // trailing single colon
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  const fill = 8 - n;
  let k = 0;
  for (let g = 0; g < 8; g++) {
    let v: number;
    if (gap >= 0 && g >= gap && g < gap + fill) v = 0;
    else v = parsed[k++] as number;
    out.writeUInt16BE(v, off + 2 * g);
  }
  return true;
}

/** Write an IPv4 address; throws TypeError on malformed text (a caller bug, not peer input). */
export function writeIpv4(s: string, buf: Buffer, off: number): void {
  const v = parseIpv4(s);
  if (v < 0) throw new TypeError(`invalid IPv4 address: ${s} (want a dotted quad without leading zeros)`);
  buf.writeUInt32BE(v, off);
}

export function writeIpv6(s: string, buf: Buffer, off: number): void {
  if (!parseIpv6Into(s, buf, off)) throw new TypeError(`invalid IPv6 address: ${s}`);
}

export function isIpv4(s: string): boolean {
  return parseIpv4(s) >= 0;
}

export function isIpv6(s: string): boolean {
  return parseIpv6Into(s, scratch16, 0);
}
const scratch16 = Buffer.alloc(16);

/** Canonical text of an IPv6 address given in any valid form. */
export function canonicalIpv6(s: string): string {
  if (!parseIpv6Into(s, scratch16, 0)) throw new TypeError(`invalid IPv6 address: ${s}`);
  return formatIpv6(scratch16, 0);
}
