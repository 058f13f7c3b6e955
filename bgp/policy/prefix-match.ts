// Prefix-list entries with ge/le (the Cisco/FRR/GoBGP "masklength range"
// semantics): a route matches when its prefix lies inside `prefix` and its
// length is within [ge, le]. Without ge/le the match is exact; with only ge,
// le is the family maximum; with only le, ge is the entry's own length.
import { isIPv4, isIPv6 } from "node:net";

export interface PrefixRange {
  v6: boolean;
  /** network bits as a bigint of 32 or 128 bits */
  net: bigint;
  len: number;
  ge: number;
  le: number;
}

export function addressToBigInt(addr: string): bigint | undefined {
  if (isIPv4(addr)) {
    return addr.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  }
  if (!isIPv6(addr)) return undefined;
  let s = addr;
  if (s.includes(".")) {
    const i = s.lastIndexOf(":");
    const v4 = addressToBigInt(s.slice(i + 1))!;
    s = `${s.slice(0, i + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const dbl = s.indexOf("::");
  let groups: string[];
  if (dbl < 0) groups = s.split(":");
  else {
    const h = s.slice(0, dbl) === "" ? [] : s.slice(0, dbl).split(":");
    const r = s.slice(dbl + 2) === "" ? [] : s.slice(dbl + 2).split(":");
    groups = [...h, ...new Array<string>(8 - h.length - r.length).fill("0"), ...r];
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function parsePrefix(p: string): { v6: boolean; net: bigint; len: number } | undefined {
  const slash = p.indexOf("/");
  if (slash < 0) return undefined;
  const addr = p.slice(0, slash);
  const lenText = p.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  const v6 = addr.includes(":");
  const bits = v6 ? 128 : 32;
  if (len > bits) return undefined;
  const a = addressToBigInt(addr);
  if (a === undefined) return undefined;
  const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
  return { v6, net: a & mask, len };
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
  const p = parsePrefix(prefix);
  if (p === undefined) return { error: `"${prefix}" is not an IPv4 or IPv6 prefix` };
  const max = p.v6 ? 128 : 32;
  const lo = ge ?? p.len;
  const hi = le ?? (ge !== undefined ? max : p.len);
  if (!(p.len <= lo && lo <= hi && hi <= max))
    return { error: `${prefix}: need ${p.len} <= ge (${lo}) <= le (${hi}) <= ${max}` };
  return { range: { v6: p.v6, net: p.net, len: p.len, ge: lo, le: hi } };
}

export function prefixInRange(route: { v6: boolean; net: bigint; len: number }, r: PrefixRange): boolean {
  if (route.v6 !== r.v6 || route.len < r.ge || route.len > r.le) return false;
  const bits = r.v6 ? 128 : 32;
  const shift = BigInt(bits - r.len);
  return route.net >> shift === r.net >> shift;
}
