// Numeric order of addresses for the last tie-breakers of the decision process
// (RFC 4271 §9.1.2.2 f "lowest BGP Identifier", g "lowest peer address").
import { isIPv4 } from "node:net";

export function ipv4ToNumber(s: string): number {
  const p = s.split(".");
  if (p.length !== 4) return 0;
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

function expandIpv6(s: string): string {
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (s.includes(".")) {
    // embedded IPv4 tail (RFC 4291 §2.2 form 3): a.b.c.d -> two hex groups
    const i = s.lastIndexOf(":");
    const v4 = ipv4ToNumber(s.slice(i + 1));
    s = `${s.slice(0, i + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const dbl = s.indexOf("::");
  let groups: string[];
  if (dbl < 0) groups = s.split(":");
  else {
    const h = s.slice(0, dbl) === "" ? [] : s.slice(0, dbl).split(":");
    const r = s.slice(dbl + 2) === "" ? [] : s.slice(dbl + 2).split(":");
    groups = [...h, ...new Array<string>(Math.max(0, 8 - h.length - r.length)).fill("0"), ...r];
  }
  return groups.map((g) => g.padStart(4, "0")).join("");
}

/**
 * A string whose lexicographic order is the numeric order of the address,
 * IPv4 before IPv6 (fixed width hex).
 */
export function addressSortKey(s: string): string {
  if (isIPv4(s)) return "4" + ipv4ToNumber(s).toString(16).padStart(8, "0");
  return "6" + expandIpv6(s);
}
