/**
 * IPv4 prefixes packed as a 32-bit address and a length, for hot paths that
 * must not allocate per prefix (bgp/rib's prefix table at 1M prefixes; issue
 * 12). The general parser, with its host-bit policies, is address.ts; this
 * one accepts only the canonical text ("a.b.c.d/len", no leading zero), so
 * that formatting the packed form gives back the identical string.
 */

/** Where readQuad leaves the address it read, until its caller accepts the whole text. */
const scratch = new Int32Array(1);

/**
 * Reads a canonical dotted quad ("a.b.c.d", no leading zero; RFC 6943
 * §3.1.1 strict form) from the start of `p`, up to `end` or the first
 * character that is neither a digit nor a dot: returns where it stopped, with
 * the address (an int32 bit pattern) in `scratch[0]`, or -1.
 */
function readQuad(p: string, end: number): number {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let octets = 0;
  let i = 0;
  for (; i <= end; i++) {
    const c = i < end ? p.charCodeAt(i) : -1;
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero is not canonical
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
      continue;
    }
    if (digits === 0) return -1;
    addr = (addr << 8) | octet;
    octet = 0;
    digits = 0;
    if (++octets === 4 || c !== 46 /* . */) break;
  }
  if (octets !== 4) return -1;
  scratch[0] = addr;
  return i;
}

/**
 * Parses the canonical dotted quad in `p` before `end`: returns true and
 * writes the address (an int32 bit pattern) to `addrOut[0]`, or returns
 * false and leaves it untouched.
 */
export function parseCanonicalIpv4(p: string, end: number, addrOut: Int32Array): boolean {
  if (end > p.length || readQuad(p, end) !== end) return false;
  addrOut[0] = scratch[0]!;
  return true;
}

/**
 * Parses a canonical "a.b.c.d/len": returns len and writes the address (as
 * an int32 bit pattern) to `addrOut[0]`, or returns -1 (the buffer
 * untouched) if the text is not one. Host bits are not checked here (the
 * caller decides: bgp/wire's decoder masks them, RFC 4271 §4.3; rtnetlink's
 * RouteBatch refuses them), ipv4Mask gives the mask to do either.
 */
export function parseCanonicalIpv4Prefix(p: string, addrOut: Int32Array): number {
  const n = p.length;
  const slash = readQuad(p, n);
  if (slash < 0 || p.charCodeAt(slash) !== 47 /* / */) return -1;
  // the length after the slash: 0..32, no leading zero
  let len = 0;
  let ld = 0;
  for (let j = slash + 1; j < n; j++) {
    const d = p.charCodeAt(j);
    if (d < 48 || d > 57 || ++ld > 2 || (ld === 2 && len === 0)) return -1;
    len = len * 10 + (d - 48);
  }
  if (ld === 0 || len > 32) return -1;
  addrOut[0] = scratch[0]!;
  return len;
}

/** The netmask of a /len IPv4 prefix as an int32 bit pattern (0 for /0: a shift by 32 is a no-op). */
export const ipv4Mask = (len: number): number => (len === 0 ? 0 : -1 << (32 - len));

/** The dotted quad of an IPv4 address (an int32 bit pattern or its unsigned value). */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/** The text of an IPv4 prefix from its address (int32 bit pattern) and length. */
export function formatIpv4Prefix(addr: number, len: number): string {
  return `${formatIpv4(addr)}/${len}`;
}
