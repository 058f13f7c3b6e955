/**
 * **Pure**: BGPFilter rules (crds/bgp.ts) to terms of the speaker's filter
 * language (bgp/policy/schema.ts). The filters a peer lists are applied in
 * order and the first rule that matches decides (Calico's semantics); what no
 * rule matches falls to the filter's default.
 *
 * A rule's match on the route's prefix P, against the rule's `cidr` C:
 * - `Equal`: P = C;
 * - `In`: P lies inside C (C itself included);
 * - `NotIn`: P does not lie inside C — compiled as the prefix ranges of the
 *   complement: for each bit of C, the sibling subtree at that depth (any
 *   length), plus the shorter prefixes on C's own path (supernets of C);
 * - no cidr: every prefix of the rule's family.
 * `prefixLength {min, max}` narrows the route's prefix length; `source:
 * RemotePeers` limits the rule to routes learned from peers (`local: false`).
 */
import type { Term } from "../../bgp/policy/schema.js";
import { familyBits, formatPrefix, parsePrefix, type Family, type Prefix } from "../../net/address.js";
import type { BGPFilter, BGPFilterRule } from "../../crds/bgp.js";

export type FilterDirection = "import" | "export";

interface Range {
  prefix: Prefix;
  ge: number;
  le: number;
}

/** Ranges of prefixes NOT inside `c` (same family). */
export function complementRanges(c: Prefix): Range[] {
  const bits = familyBits(c.family);
  const out: Range[] = [];
  for (let i = 0; i < c.length; i++) {
    // Supernet of C at length i (on C's path): exactly that length.
    const keep = c.base & maskOf(c.family, i);
    out.push({ prefix: { family: c.family, base: keep, length: i }, ge: i, le: i });
    // Sibling subtree at depth i+1: bit i flipped, any longer length.
    const bit = 1n << BigInt(bits - i - 1);
    const sib = (c.base & maskOf(c.family, i + 1)) ^ bit;
    out.push({ prefix: { family: c.family, base: sib, length: i + 1 }, ge: i + 1, le: bits });
  }
  return out;
}

function maskOf(family: Family, length: number): bigint {
  const bits = familyBits(family);
  if (length === 0) return 0n;
  return ((1n << BigInt(length)) - 1n) << BigInt(bits - length);
}

function rangesOf(rule: BGPFilterRule, family: Family): Range[] {
  const bits = familyBits(family);
  let ranges: Range[];
  if (rule.cidr === undefined) {
    ranges = [{ prefix: { family, base: 0n, length: 0 }, ge: 0, le: bits }];
  } else {
    const c = parsePrefix(rule.cidr);
    if (typeof c === "string") return [];
    if (rule.matchOperator === "Equal") ranges = [{ prefix: c, ge: c.length, le: c.length }];
    else if (rule.matchOperator === "NotIn") ranges = complementRanges(c);
    else ranges = [{ prefix: c, ge: c.length, le: bits }];
  }
  const min = rule.prefixLength?.min ?? 0;
  const max = Math.min(rule.prefixLength?.max ?? bits, bits);
  return ranges
    .map((r) => ({ ...r, ge: Math.max(r.ge, min), le: Math.min(r.le, max) }))
    .filter((r) => r.ge <= r.le);
}

/** One rule as one term, or undefined when it can match nothing (e.g. its lengths exclude its cidr). */
export function ruleTerm(rule: BGPFilterRule, family: Family, name: string): Term | undefined {
  const ranges = rangesOf(rule, family);
  if (ranges.length === 0) return undefined;
  const everything = rule.cidr === undefined && rule.prefixLength === undefined;
  const term: Term = {
    name,
    match: {
      family: family === 4 ? "ipv4" : "ipv6",
      ...(everything
        ? {}
        : { prefixes: ranges.map((r) => ({ prefix: formatPrefix(r.prefix), ge: r.ge, le: r.le })) }),
      ...(rule.source === "RemotePeers" ? { local: false } : {}),
    },
    action: rule.action === "Accept" ? "accept" : "reject",
  };
  return term;
}

/** The terms of the named filters, in order, for one direction (both families). Unknown names are reported. */
export function filterTerms(
  names: readonly string[],
  filters: readonly BGPFilter[],
  direction: FilterDirection,
): { terms: Term[]; missing: string[] } {
  const byName = new Map(filters.map((f) => [f.metadata.name, f]));
  const terms: Term[] = [];
  const missing: string[] = [];
  for (const n of names) {
    const f = byName.get(n);
    if (f === undefined) {
      missing.push(n);
      continue;
    }
    const lists: [BGPFilterRule[] | undefined, Family, string][] =
      direction === "import"
        ? [
            [f.spec.importV4, 4, "importV4"],
            [f.spec.importV6, 6, "importV6"],
          ]
        : [
            [f.spec.exportV4, 4, "exportV4"],
            [f.spec.exportV6, 6, "exportV6"],
          ];
    for (const [rules, fam, key] of lists) {
      (rules ?? []).forEach((r, i) => {
        const t = ruleTerm(r, fam, `${n}.${key}[${i}]`);
        if (t !== undefined) terms.push(t);
      });
    }
  }
  return { terms, missing };
}
