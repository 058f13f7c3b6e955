/**
 * IPv6 addresses as unsigned 128-bit bigints, CIDRs as closed ranges, and the
 * same interval arithmetic as ipv4.ts (ipBlock `except`, merged unions for nft
 * interval sets). Text forms follow RFC 4291 §2.2 (parsing, including an
 * embedded dotted quad) and RFC 5952 §4 (the canonical output nft prints).
 */
import { parseIPv4 } from "./ipv4.js";

export interface Range6 {
  readonly start: bigint;
  readonly end: bigint; // inclusive
}

export const MAX6 = (1n << 128n) - 1n;

export function parseIPv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let text = s;
  // RFC 4291 §2.2 form 3: the low 32 bits as a dotted quad become two groups.
  if (text.includes(".")) {
    const cut = text.lastIndexOf(":");
    const v4 = parseIPv4(text.slice(cut + 1));
    if (v4 === undefined || cut < 0) return undefined;
    text = `${text.slice(0, cut + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] => (h === "" ? [] : h.split(":"));
  const h = groups(halves[0] ?? "");
  const r = halves.length === 2 ? groups(halves[1] ?? "") : [];
  const have = h.length + r.length;
  if (halves.length === 1 ? have !== 8 : have >= 8) return undefined;
  const words: number[] = [];
  for (const g of [...h, ...Array<string>(8 - have).fill("0"), ...r]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    words.push(parseInt(g, 16));
  }
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/**
 * RFC 5952 §4: lower case, no leading zeros, the first longest run (≥ 2) of
 * zero groups as `::`; and, as glibc's inet_ntop (so `nft -j list` and the
 * compiled elements compare equal as text), the low 32 bits as a dotted quad
 * for IPv4-mapped `::ffff:a.b.c.d` and IPv4-compatible `::a.b.c.d` (words 0–5
 * zero, word 6 not) addresses.
 */
export function formatIPv6(n: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    const lo = Number(n & 0xffffffffn);
    const quad = [lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255].join(".");
    return bestLen === 6 ? `::${quad}` : `::ffff:${quad}`;
  }
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** "addr/len" (or a bare address as /128); host bits are masked, as Kubernetes accepts them. */
export function parseCidrV6(s: string): Range6 | undefined {
  const [addr, lenText, extra] = s.split("/");
  if (extra !== undefined || addr === undefined) return undefined;
  const base = parseIPv6(addr);
  if (base === undefined) return undefined;
  const len = lenText === undefined ? 128 : /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(len >= 0 && len <= 128)) return undefined;
  const size = 1n << BigInt(128 - len);
  const start = base - (base % size);
  return { start, end: start + size - 1n };
}

export function contains6(r: Range6, n: bigint): boolean {
  return n >= r.start && n <= r.end;
}

export function rangeWithin6(inner: Range6, outer: Range6): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

/** Sorted, merged (overlapping and adjacent joined) union of ranges. */
export function mergeRanges6(ranges: readonly Range6[]): Range6[] {
  const sorted = [...ranges].sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0,
  );
  const out: { start: bigint; end: bigint }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1n) last.end = last.end > r.end ? last.end : r.end;
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** `base` minus every range in `holes`. */
export function subtractRanges6(base: Range6, holes: readonly Range6[]): Range6[] {
  let cur: Range6[] = [base];
  for (const h of mergeRanges6(holes)) {
    const next: Range6[] = [];
    for (const r of cur) {
      if (h.end < r.start || h.start > r.end) {
        next.push(r);
        continue;
      }
      if (h.start > r.start) next.push({ start: r.start, end: h.start - 1n });
      if (h.end < r.end) next.push({ start: h.end + 1n, end: r.end });
    }
    cur = next;
  }
  return cur;
}

/** The prefix length when the range is exactly one CIDR block, else undefined. */
export function exactPrefix6(r: Range6): number | undefined {
  const size = r.end - r.start + 1n;
  if ((size & (size - 1n)) !== 0n || r.start % size !== 0n) return undefined;
  return 128 - (size.toString(2).length - 1);
}

export function single6(ip: string): Range6 {
  const n = parseIPv6(ip);
  if (n === undefined) throw new Error(`invalid IPv6 address "${ip}"`);
  return { start: n, end: n };
}
