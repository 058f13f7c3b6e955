/**
 * IPv4 addresses as unsigned 32-bit numbers, CIDRs as closed ranges, and the
 * interval arithmetic that ipBlock `except` needs (cidr minus excepts, unions
 * merged so nft interval sets never hold overlapping elements).
 */

export interface Range {
  readonly start: number;
  readonly end: number; // inclusive
}

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i]!.length > 1 && m[i]!.startsWith("0"))) return undefined;
    n = n * 256 + o;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function isIPv6(s: string): boolean {
  return s.includes(":");
}

/** Parses "a.b.c.d/len" (or a bare address as /32). Host bits must be zero? No: k8s accepts them, so mask. */
export function parseCidrV4(s: string): Range | undefined {
  const [addr, lenText, extra] = s.split("/");
  if (extra !== undefined || addr === undefined) return undefined;
  const base = parseIPv4(addr);
  if (base === undefined) return undefined;
  const len = lenText === undefined ? 32 : /^\d{1,2}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(len >= 0 && len <= 32)) return undefined;
  const size = 2 ** (32 - len);
  const start = base - (base % size);
  return { start, end: start + size - 1 };
}

export function contains(r: Range, n: number): boolean {
  return n >= r.start && n <= r.end;
}

export function rangeWithin(inner: Range, outer: Range): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

/** Sorted, merged (overlapping and adjacent joined) union of ranges. */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: { start: number; end: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** `base` minus every range in `holes`. */
export function subtractRanges(base: Range, holes: readonly Range[]): Range[] {
  let cur: Range[] = [base];
  for (const h of mergeRanges(holes)) {
    const next: Range[] = [];
    for (const r of cur) {
      if (h.end < r.start || h.start > r.end) {
        next.push(r);
        continue;
      }
      if (h.start > r.start) next.push({ start: r.start, end: h.start - 1 });
      if (h.end < r.end) next.push({ start: h.end + 1, end: r.end });
    }
    cur = next;
  }
  return cur;
}

/** The prefix length when the range is exactly one CIDR block, else undefined. */
export function exactPrefix(r: Range): number | undefined {
  const size = r.end - r.start + 1;
  const bits = Math.log2(size);
  if (!Number.isInteger(bits) || r.start % size !== 0) return undefined;
  return 32 - bits;
}

export function rangeText(r: Range): string {
  if (r.start === r.end) return formatIPv4(r.start);
  const p = exactPrefix(r);
  return p === undefined ? `${formatIPv4(r.start)}-${formatIPv4(r.end)}` : `${formatIPv4(r.start)}/${p}`;
}
