/**
 * IPv4 prefixes packed as a 32-bit address and a length, for hot paths that
 * must not allocate per prefix (bgp/rib's prefix table at 1M prefixes; issue
 * 12). The general parser, with its host-bit policies, is address.ts; this
 * one accepts only the canonical text ("a.b.c.d/len", no leading zero), so
 * that formatting the packed form gives back the identical string.
 */

/**
 * Parses a canonical "a.b.c.d/len": returns len and writes the address (as
 * an int32 bit pattern) to `addrOut[0]`, or returns -1 if the text is not
 * one. Host bits are not checked: the caller's text is already canonical
 * (bgp/wire's decoder masks them, RFC 4271 §4.3).
 */
export function parseCanonicalIpv4Prefix(p: string, addrOut: Int32Array): number {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const c = p.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero is not canonical
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === 46 /* . */ || c === 47 /* / */) {
      if (digits === 0) return -1;
      addr = (addr << 8) | octet;
      octet = 0;
      digits = 0;
      if (c === 46) {
        if (++dots > 3) return -1;
        continue;
      }
      if (dots !== 3) return -1;
      // the length after the slash
      let len = 0;
      let ld = 0;
      for (let j = i + 1; j < n; j++) {
        const d = p.charCodeAt(j);
        if (d < 48 || d > 57 || ++ld > 2 || (ld === 2 && len === 0)) return -1;
        len = len * 10 + (d - 48);
      }
      if (ld === 0 || len > 32) return -1;
      addrOut[0] = addr;
      return len;
    } else return -1;
  }
  return -1;
}

/** The text of an IPv4 prefix from its address (int32 bit pattern) and length. */
export function formatIpv4Prefix(addr: number, len: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}/${len}`;
}
