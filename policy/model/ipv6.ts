/**
 * IPv6 addresses as unsigned 128-bit bigints, CIDRs as closed ranges, and the
 * same interval arithmetic as ipv4.ts (ipBlock `except`, merged unions for nft
 * interval sets). Text is parsed (RFC 4291 §2.2) and printed (RFC 5952) by
 * net/address.ts.
 */
import {
  formatAddress,
  lastAddress,
  parseAddress,
  parseAddressOf,
  parsePrefixLoose,
} from "../../net/address.js";
import { isIPv6, v4Value } from "./ipv4.js";
import { type Interval, type Steps, mergeIntervals, subtractIntervals } from "./intervals.js";

export type Range6 = Interval<bigint>;

export const MAX6 = (1n << 128n) - 1n;

/** The address as the 128-bit value the v6 interval sets use (net/address.ts parses). */
export function v6Value(s: string): bigint | undefined {
  const a = parseAddressOf(6, s);
  return typeof a === "string" ? undefined : a.value;
}

/**
 * An address of either family as a number tagged with its family (IPv4 as
 * v4Value, IPv6 as v6Value), so the two never compare equal: what nft and
 * the tracer compare address elements by.
 */
export function addrValue(s: string): { v6: boolean; n: bigint } | undefined {
  if (isIPv6(s)) {
    const n = v6Value(s);
    return n === undefined ? undefined : { v6: true, n };
  }
  const n = v4Value(s);
  return n === undefined ? undefined : { v6: false, n: BigInt(n) };
}

/**
 * RFC 5952 text, with the dotted quad for IPv4-mapped and IPv4-compatible
 * addresses as glibc's inet_ntop prints them (so `nft -j list` and the
 * compiled elements compare equal as text): net/address.ts formatAddress.
 */
export function v6Text(n: bigint): string {
  return formatAddress({ family: 6, value: n });
}

/** "addr/len" (or a bare address as /128); host bits are MASKED, as Kubernetes accepts them. */
export function v6Range(s: string): Range6 | undefined {
  const p = s.includes("/") ? parsePrefixLoose(s) : parseAddress(s);
  if (typeof p === "string" || p.family !== 6) return undefined;
  if ("value" in p) return { start: p.value, end: p.value };
  return { start: p.base, end: lastAddress(p).value };
}

export function contains6(r: Range6, n: bigint): boolean {
  return n >= r.start && n <= r.end;
}

export function rangeWithin6(inner: Range6, outer: Range6): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

const STEPS6: Steps<bigint> = { next: (v) => v + 1n, prev: (v) => v - 1n };

/** Sorted, merged (overlapping and adjacent joined) union of ranges. */
export function mergeRanges6(ranges: readonly Range6[]): Range6[] {
  return mergeIntervals(ranges, STEPS6);
}

/** `base` minus every range in `holes`. */
export function subtractRanges6(base: Range6, holes: readonly Range6[]): Range6[] {
  return subtractIntervals(base, holes, STEPS6);
}

/** The prefix length when the range is exactly one CIDR block, else undefined. */
export function exactPrefix6(r: Range6): number | undefined {
  const size = r.end - r.start + 1n;
  if ((size & (size - 1n)) !== 0n || r.start % size !== 0n) return undefined;
  return 128 - (size.toString(2).length - 1);
}

export function single6(ip: string): Range6 {
  const n = v6Value(ip);
  if (n === undefined) throw new Error(`invalid IPv6 address "${ip}"`);
  return { start: n, end: n };
}
