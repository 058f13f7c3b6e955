/**
 * IPv4 addresses as unsigned 32-bit numbers, CIDRs as closed ranges, and the
 * interval arithmetic that ipBlock `except` needs (cidr minus excepts, unions
 * merged so nft interval sets never hold overlapping elements). Text is parsed
 * and printed by net/address.ts; ranges stay here because nft interval sets
 * hold arbitrary ranges, not only prefixes.
 */
import {
  formatAddress,
  lastAddress,
  parseAddress,
  parseAddressOf,
  parsePrefixLoose,
  textFamily,
} from "../../net/address.js";
import { type Interval, type Steps, mergeIntervals, subtractIntervals } from "./intervals.js";

export type Range = Interval<number>;

/** The address as the 32-bit number the v4 interval sets use (net/address.ts parses). */
export function v4Value(s: string): number | undefined {
  const a = parseAddressOf(4, s);
  return typeof a === "string" ? undefined : Number(a.value);
}

export function v4Text(n: number): string {
  return formatAddress({ family: 4, value: BigInt(n) });
}

export function isIPv6(s: string): boolean {
  return textFamily(s) === 6;
}

/**
 * "a.b.c.d/len" (or a bare address as /32) as a range. Host bits are MASKED
 * (parsePrefixLoose): Kubernetes accepts them in ipBlock.
 */
export function v4Range(s: string): Range | undefined {
  const p = s.includes("/") ? parsePrefixLoose(s) : parseAddress(s);
  if (typeof p === "string" || p.family !== 4) return undefined;
  const first = "value" in p ? p.value : p.base;
  const last = "value" in p ? p.value : lastAddress(p).value;
  return { start: Number(first), end: Number(last) };
}

export function contains(r: Range, n: number): boolean {
  return n >= r.start && n <= r.end;
}

export function rangeWithin(inner: Range, outer: Range): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

const STEPS: Steps<number> = { next: (v) => v + 1, prev: (v) => v - 1 };

/** Sorted, merged (overlapping and adjacent joined) union of ranges. */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  return mergeIntervals(ranges, STEPS);
}

/** `base` minus every range in `holes`. */
export function subtractRanges(base: Range, holes: readonly Range[]): Range[] {
  return subtractIntervals(base, holes, STEPS);
}

/** The prefix length when the range is exactly one CIDR block, else undefined. */
export function exactPrefix(r: Range): number | undefined {
  const size = r.end - r.start + 1;
  const bits = Math.log2(size);
  if (!Number.isInteger(bits) || r.start % size !== 0) return undefined;
  return 32 - bits;
}

export function rangeText(r: Range): string {
  if (r.start === r.end) return v4Text(r.start);
  const p = exactPrefix(r);
  return p === undefined ? `${v4Text(r.start)}-${v4Text(r.end)}` : `${v4Text(r.start)}/${p}`;
}
