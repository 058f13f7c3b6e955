/**
 * IP addresses and prefixes, v4 and v6, once for every room. Parsing is
 * ip-num's (its validators are strict: no leading zeros in a dotted quad, no
 * zone ids get through here); the arithmetic is on the bigint value ip-num
 * gives, so a prefix is plain data ({ family, base, length }) that any room
 * can store, compare and serialise.
 *
 * Errors are values: every parser returns the parsed thing or a string that
 * says what is wrong with the input. Nothing here throws on user input.
 *
 * Host-bit policy, per entry point (the three rules the rooms had, now named):
 * - `parsePrefix` REJECTS a prefix with host bits set ("10.0.0.1/24"): use it
 *   where the text is a network the user declares (pools, blocks, BGP
 *   networks, config files); the error names the prefix they probably meant.
 * - `parsePrefixLoose` MASKS host bits: use it where Kubernetes itself
 *   accepts them (NetworkPolicy ipBlock, netutils.ParseCIDR in the API
 *   server) and for text the kernel prints.
 * Neither accepts a bare address; `parseAddress` + `hostPrefix` do that.
 */
import { createRequire } from "node:module";
import type ipnum from "ip-num";
import { parseCanonicalIpv4 } from "./ipv4-packed.js";

/**
 * ip-num, loaded on the first IPv6 text (IPv4 never needs it). Loading it
 * cost 5-7 MB of resident memory (Node 20; measured after importing it: most
 * of it in the malloc arena of V8's worker thread, which compiles its
 * load-time code), and trellis-bgp with an IPv4-only configuration never
 * parses an IPv6 text: its idle RSS went from 72-74 to 67 MB (issue 12, the
 * daemon's RSS at 100k prefixes).
 */
let ipv6Class: typeof ipnum.IPv6 | undefined;
function IPv6(): typeof ipnum.IPv6 {
  return (ipv6Class ??= (createRequire(import.meta.url)("ip-num") as typeof ipnum).IPv6);
}

/** Where parseCanonicalIpv4 leaves a dotted quad (one buffer, no allocation per call). */
const quad = new Int32Array(1);

export type Family = 4 | 6;

export interface Address {
  readonly family: Family;
  /** the address as an unsigned 32- or 128-bit integer */
  readonly value: bigint;
}

export interface Prefix {
  readonly family: Family;
  /** the network address, host bits zero */
  readonly base: bigint;
  readonly length: number;
}

/** Address width in bits: 32 or 128. */
export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** The family a text is written in (a colon means IPv6), without validating it. */
export function textFamily(text: string): Family {
  return text.includes(":") ? 6 : 4;
}

/**
 * "a.b.c.d" (no leading zeros, RFC 6943 §3.1.1 strict form) or an RFC 4291
 * §2.2 IPv6 text, including an embedded dotted quad. No zone ids, no spaces.
 */
export function parseAddress(text: string): Address | string {
  if (text === "") return "empty address";
  // ip-num's constructors validate (and throw); the charset checks first keep
  // what ip-num tolerates (a zone id "%eth0", spaces) out, and cost little.
  if (textFamily(text) === 4) {
    // ipv4-packed.ts's strict reader decides the same dotted quads as
    // ip-num's validator (four parts, 0-255, no leading zeros; checked
    // against it in net/test/address.test.ts) without ip-num's detour
    // through a string of bits: a CNI ADD and DEL parse several addresses,
    // and ip-num's IPv4.fromString was about 0.3 ms of each pod's ADD and
    // DEL in a profile of the agent (issue 12).
    if (!parseCanonicalIpv4(text, text.length, quad)) return `"${text}" is not an IPv4 address`;
    return { family: 4, value: BigInt(quad[0]! >>> 0) };
  }
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !wellFormedV6(text)) return `"${text}" is not an IPv6 address`;
  const v = fromIpNum(() => IPv6().fromString(text).getValue());
  return v === undefined ? `"${text}" is not an IPv6 address` : { family: 6, value: v };
}

function fromIpNum(f: () => bigint): bigint | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** Checks ip-num is lenient about: at most one "::", at most 8 groups, 1–4 hex digits each. */
function wellFormedV6(text: string): boolean {
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  const quad = groups.length > 0 && groups[groups.length - 1]!.includes(".");
  const words = groups.length + (quad ? 1 : 0);
  if (halves.length === 1 ? words !== 8 : words > 7) return false;
  return groups.every((g, i) => (i === groups.length - 1 && quad) || /^[0-9a-fA-F]{1,4}$/.test(g));
}

/** The address of the given family, or an error (for inputs that must be one family). */
export function parseAddressOf(family: Family, text: string): Address | string {
  const a = parseAddress(text);
  if (typeof a === "string") return a;
  return a.family === family ? a : `"${text}" is not an IPv${family} address`;
}

/**
 * Canonical text: dotted quad for v4; RFC 5952 §4 for v6 (lower case, no
 * leading zeros, the first longest run of two or more zero groups as "::"),
 * with the low 32 bits as a dotted quad for IPv4-mapped `::ffff:a.b.c.d`
 * (RFC 5952 §5) and IPv4-compatible `::a.b.c.d` addresses, as glibc's
 * inet_ntop prints them (so text from `ip` and `nft` compares equal).
 */
export function formatAddress(a: Address): string {
  return a.family === 4 ? formatV4(a.value) : formatV6(a.value);
}

function formatV4(v: bigint): string {
  const n = Number(v);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/**
 * The groups "::" stands for in the text of 8 IPv6 groups (RFC 5952 §4.2):
 * the longest run of two or more zero groups, the first one on a tie
 * (§4.2.3); start -1 when there is none (a lone zero group stays "0", §4.2.2).
 */
export function longestZeroRun(groups: ArrayLike<number>): { start: number; length: number } {
  let start = -1;
  let length = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > length) {
      start = i;
      length = j - i;
    }
    i = j;
  }
  return { start, length };
}

function formatV6(n: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  const { start: best, length: bestLen } = longestZeroRun(words);
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(":");
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    const quad = formatV4(n & 0xffffffffn);
    return bestLen === 6 ? `::${quad}` : `::ffff:${quad}`;
  }
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** Re-formats an address text canonically, or returns the error. */
export function canonicalAddress(text: string): string | { error: string } {
  const a = parseAddress(text);
  return typeof a === "string" ? { error: a } : formatAddress(a);
}

function mask(family: Family, length: number): bigint {
  const bits = BigInt(familyBits(family));
  return ((1n << BigInt(length)) - 1n) << (bits - BigInt(length));
}

function splitPrefix(text: string): { addr: Address; length: number } | string {
  const slash = text.indexOf("/");
  if (slash < 0) return `"${text}" is not a prefix: no "/length"`;
  const addr = parseAddress(text.slice(0, slash));
  if (typeof addr === "string") return `"${text}" is not a prefix: ${addr}`;
  const lenText = text.slice(slash + 1);
  const max = familyBits(addr.family);
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > max)
    return `"${text}" is not a prefix: the length must be 0..${max}, without leading zeros`;
  return { addr, length: Number(lenText) };
}

/** "10.0.0.0/24", "2001:db8::/32"; REJECTS host bits, naming the prefix meant. */
export function parsePrefix(text: string): Prefix | string {
  const s = splitPrefix(text);
  if (typeof s === "string") return s;
  const p = prefixOf(s.addr, s.length);
  if (p.base !== s.addr.value) return `"${text}" has host bits set (the network is ${formatPrefix(p)})`;
  return p;
}

/** As `parsePrefix`, but host bits are MASKED ("10.0.0.1/24" is 10.0.0.0/24). */
export function parsePrefixLoose(text: string): Prefix | string {
  const s = splitPrefix(text);
  return typeof s === "string" ? s : prefixOf(s.addr, s.length);
}

/** The prefix of `length` bits that holds `a`. */
export function prefixOf(a: Address, length: number): Prefix {
  return { family: a.family, base: a.value & mask(a.family, length), length };
}

/** The /32 or /128 of one address. */
export function hostPrefix(a: Address): Prefix {
  return { family: a.family, base: a.value, length: familyBits(a.family) };
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress({ family: p.family, value: p.base })}/${p.length}`;
}

/** Re-formats a prefix text canonically (host bits masked), or returns the error. */
export function canonicalPrefix(text: string): string | { error: string } {
  const p = parsePrefixLoose(text);
  return typeof p === "string" ? { error: p } : formatPrefix(p);
}

/** Number of addresses in the prefix. */
export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt(familyBits(p.family) - p.length);
}

export function firstAddress(p: Prefix): Address {
  return { family: p.family, value: p.base };
}

export function lastAddress(p: Prefix): Address {
  return { family: p.family, value: prefixSpan(p).end };
}

/** The closed range of a prefix's addresses as values: [base, base + size - 1]. */
export function prefixSpan(p: Prefix): { start: bigint; end: bigint } {
  return { start: p.base, end: p.base + prefixSize(p) - 1n };
}

/** Whether `outer` holds all of `inner` (an address or a prefix of the same family). */
export function contains(outer: Prefix, inner: Prefix | Address): boolean {
  if (outer.family !== inner.family) return false;
  if ("value" in inner) return (inner.value & mask(outer.family, outer.length)) === outer.base;
  return inner.length >= outer.length && (inner.base & mask(outer.family, outer.length)) === outer.base;
}

/** Whether two prefixes share any address (for prefixes: one holds the other). */
export function overlaps(a: Prefix, b: Prefix): boolean {
  return contains(a, b) || contains(b, a);
}

/** Order: family, then base, then length (shorter first). */
export function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  return a.length - b.length;
}

/** The fewest prefixes that cover exactly the closed range [first, last]. */
export function rangeToPrefixes(family: Family, first: bigint, last: bigint): Prefix[] {
  const bits = familyBits(family);
  const out: Prefix[] = [];
  let cur = first;
  while (cur <= last) {
    // Largest block aligned at `cur` that does not pass `last`.
    let size = cur === 0n ? 1n << BigInt(bits) : cur & -cur;
    while (cur + size - 1n > last) size >>= 1n;
    out.push({ family, base: cur, length: bits - (size.toString(2).length - 1) });
    cur += size;
  }
  return out;
}

/** `from` minus every prefix in `holes`: the fewest prefixes covering what is left, in order. */
export function subtract(from: Prefix, holes: readonly Prefix[]): Prefix[] {
  let ranges: [bigint, bigint][] = [[from.base, lastAddress(from).value]];
  for (const h of holes) {
    if (h.family !== from.family) continue;
    const [hs, he] = [h.base, lastAddress(h).value];
    ranges = ranges.flatMap(([s, e]): [bigint, bigint][] => {
      if (he < s || hs > e) return [[s, e]];
      const keep: [bigint, bigint][] = [];
      if (hs > s) keep.push([s, hs - 1n]);
      if (he < e) keep.push([he + 1n, e]);
      return keep;
    });
  }
  return ranges.flatMap(([s, e]) => rangeToPrefixes(from.family, s, e));
}

/**
 * The fewest prefixes covering exactly the union of `prefixes`: contained
 * ones dropped, adjacent siblings merged. Sorted by `comparePrefixes`.
 */
export function aggregate(prefixes: readonly Prefix[]): Prefix[] {
  const out: Prefix[] = [];
  for (const family of [4, 6] as const) {
    const ranges = prefixes
      .filter((p) => p.family === family)
      .map((p): [bigint, bigint] => [p.base, lastAddress(p).value])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: [bigint, bigint][] = [];
    for (const r of ranges) {
      const top = merged[merged.length - 1];
      if (top !== undefined && r[0] <= top[1] + 1n) top[1] = r[1] > top[1] ? r[1] : top[1];
      else merged.push([r[0], r[1]]);
    }
    for (const [s, e] of merged) out.push(...rangeToPrefixes(family, s, e));
  }
  return out;
}
