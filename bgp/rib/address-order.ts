// Numeric order of addresses for the last tie-breakers of the decision process
// (RFC 4271 §9.1.2.2 f "lowest BGP Identifier", g "lowest peer address").
// Computed once per peer (and per interned attribute set for ORIGINATOR_ID),
// never per route; the text is parsed by net/address.ts.
import { parseAddress, parseAddressOf } from "../../net/address.js";

/** A dotted-quad BGP Identifier (or ORIGINATOR_ID) as an unsigned number; 0 if it is not one. */
export function ipv4ToNumber(s: string): number {
  const a = parseAddressOf(4, s);
  return typeof a === "string" ? 0 : Number(a.value);
}

/**
 * A string whose lexicographic order is the numeric order of the address,
 * IPv4 before IPv6 (fixed width hex). A zone ("%eth0") does not count.
 */
export function addressSortKey(s: string): string {
  const zone = s.indexOf("%");
  const a = parseAddress(zone >= 0 ? s.slice(0, zone) : s);
  if (typeof a === "string") return `6${s}`;
  return a.family === 4
    ? "4" + a.value.toString(16).padStart(8, "0")
    : "6" + a.value.toString(16).padStart(32, "0");
}
