// Prefix-list entries with ge/le (the Cisco/FRR/GoBGP "masklength range"
// semantics): a route matches when its prefix lies inside `prefix` and its
// length is within [ge, le]. Without ge/le the match is exact; with only ge,
// le is the family maximum; with only le, ge is the entry's own length.
import { contains, familyBits, parsePrefixLoose, type Prefix } from "../../net/address.js";
import { parsePrefix as prefixOctets } from "../wire/prefix.js";

export interface PrefixRange {
  /** the entry's prefix (host bits masked, as route-maps do) */
  prefix: Prefix;
  ge: number;
  le: number;
}

/**
 * A route's prefix (canonical codec text: the RIB's keys) as a net/ Prefix.
 * Read through the codec's own octet encoder: this runs for every route a
 * filter sees, and net's ip-num parse is several times slower per prefix.
 */
export function routePrefix(p: string): Prefix | undefined {
  let w: ReturnType<typeof prefixOctets>;
  try {
    w = prefixOctets(p);
  } catch {
    return undefined;
  }
  const v6 = w.bytes.length === 16;
  const base = v6
    ? (w.bytes.readBigUInt64BE(0) << 64n) | w.bytes.readBigUInt64BE(8)
    : BigInt(w.bytes.readUInt32BE(0));
  return { family: v6 ? 6 : 4, base, length: w.len };
}

/** Parse "10.0.0.0/8", "10.0.0.0/8 ge 16 le 24" or { prefix, ge?, le? }. */
export function parsePrefixMatch(
  v: string | { prefix: string; ge?: number | undefined; le?: number | undefined },
): { range?: PrefixRange; error?: string } {
  let prefix: string;
  let ge: number | undefined;
  let le: number | undefined;
  if (typeof v === "string") {
    const words = v.trim().split(/\s+/);
    prefix = words[0] ?? "";
    for (let i = 1; i < words.length; i += 2) {
      const n = Number(words[i + 1]);
      if (words[i] === "ge" && Number.isInteger(n)) ge = n;
      else if (words[i] === "le" && Number.isInteger(n)) le = n;
      else return { error: `"${v}": expected "PREFIX [ge N] [le M]"` };
    }
  } else {
    prefix = v.prefix;
    ge = v.ge;
    le = v.le;
  }
  const p = parsePrefixLoose(prefix);
  if (typeof p === "string") return { error: `"${prefix}" is not an IPv4 or IPv6 prefix` };
  const max = familyBits(p.family);
  const lo = ge ?? p.length;
  const hi = le ?? (ge !== undefined ? max : p.length);
  if (!(p.length <= lo && lo <= hi && hi <= max))
    return { error: `${prefix}: need ${p.length} <= ge (${lo}) <= le (${hi}) <= ${max}` };
  return { range: { prefix: p, ge: lo, le: hi } };
}

export function prefixInRange(route: Prefix, r: PrefixRange): boolean {
  return route.length >= r.ge && route.length <= r.le && contains(r.prefix, route);
}
