/**
 * natOutgoing, pure: IP pools (+ the configured service CIDRs) -> the NAT
 * plan -> the content of table `inet trellis-nat`.
 *
 * A packet is masqueraded to the node's address (the kernel picks the
 * address of the outgoing interface) when its SOURCE lies in a pool with
 * `natOutgoing: true` and its DESTINATION lies outside EVERY pool and every
 * service CIDR. So pod-to-pod traffic is never translated, on one node or
 * across nodes, whatever the pools say. Both families alike (IPv6 is
 * masqueraded too, as Calico does for natOutgoing IPv6 pools).
 *
 * Which pools count where (conservative: when in doubt, do not translate):
 * - destinations exempt from NAT: every pool whose CIDR can be read at all
 *   (host bits masked), valid or invalid, enabled or disabled, natOutgoing or
 *   not, plus `serviceClusterIPRanges`;
 * - sources: VALID pools (agent/ipam/pool-validity.ts, the verdict IPAM
 *   uses) with `natOutgoing: true`, disabled ones included (a disabled pool
 *   still holds its running pods' addresses, and Calico keeps NATing them).
 *   An invalid pool is not a source: where it overlaps an older pool, the
 *   addresses are that older pool's, and its natOutgoing decides.
 *
 * Sets are interval sets, so overlapping CIDRs are merged first (the kernel
 * rejects overlapping intervals). A family without any natOutgoing pool gets
 * no masquerade rule at all; with no pools there is no rule.
 */
import {
  aggregate,
  type Family,
  formatAddress,
  formatPrefix,
  parsePrefixLoose,
  type Prefix,
} from "../../net/address.js";
import { type NftSet, type NftTable, rule, type TableRef } from "../../policy/compiler/nft-table.js";
import { poolVerdicts } from "../ipam/pool-validity.js";

/** The table natOutgoing lives in (docs/architecture.md, nftables). */
export const NAT_TABLE: TableRef = { family: "inet", name: "trellis-nat" };
export const NAT_CHAIN = "postrouting";
/** srcnat: where masquerade belongs (after routing, after filter's forward). */
export const SRCNAT_PRIORITY = 100;
/** Sources to translate: natOutgoing pools. IPv6 twin: `-v6`. */
export const SET_NAT_SOURCES = "nat-outgoing";
/** Destinations never translated to: every pool and service CIDR. IPv6 twin: `-v6`. */
export const SET_CLUSTER = "cluster-cidrs";

export interface NatFamilyPlan {
  /** Merged, sorted: the addresses whose outgoing traffic is masqueraded. */
  readonly sources: readonly Prefix[];
  /** Merged, sorted: destinations that are never masqueraded to. */
  readonly cluster: readonly Prefix[];
}

export interface NatPlan {
  readonly v4: NatFamilyPlan;
  readonly v6: NatFamilyPlan;
  /** Pools with natOutgoing that are not sources, with why (for a log line). */
  readonly skipped: readonly { pool: string; reason: string }[];
}

function cidrOf(obj: unknown): Prefix | undefined {
  const c = (obj as { spec?: { cidr?: unknown } } | undefined)?.spec?.cidr;
  if (typeof c !== "string") return undefined;
  const p = parsePrefixLoose(c);
  return typeof p === "string" ? undefined : p;
}

function nameOf(obj: unknown): string {
  const n = (obj as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  return typeof n === "string" ? n : "?";
}

function natOutgoing(obj: unknown): boolean {
  return (obj as { spec?: { natOutgoing?: unknown } } | undefined)?.spec?.natOutgoing === true;
}

/**
 * Pools as the API serves them (unvalidated) and service CIDRs (validated by
 * the agent config) -> what to translate.
 */
export function natPlan(pools: readonly unknown[], serviceCidrs: readonly string[]): NatPlan {
  const cluster: Prefix[] = [];
  const sources: Prefix[] = [];
  const skipped: { pool: string; reason: string }[] = [];
  for (const p of pools) {
    const c = cidrOf(p);
    if (c !== undefined) cluster.push(c);
  }
  for (const s of serviceCidrs) {
    const p = parsePrefixLoose(s);
    if (typeof p !== "string") cluster.push(p);
  }
  const verdicts = new Map(poolVerdicts(pools).map((v) => [v.name, v] as const));
  for (const p of pools) {
    if (!natOutgoing(p)) continue;
    const name = nameOf(p);
    const v = verdicts.get(name);
    const c = cidrOf(p);
    if (v === undefined || v.invalid !== undefined || c === undefined) {
      skipped.push({ pool: name, reason: v?.invalid ?? "no readable CIDR" });
      continue;
    }
    sources.push(c);
  }
  const fam = (f: Family): NatFamilyPlan => ({
    sources: aggregate(sources.filter((p) => p.family === f)),
    cluster: aggregate(cluster.filter((p) => p.family === f)),
  });
  return { v4: fam(4), v6: fam(6), skipped };
}

/** A prefix as an interval-set element, in the form `nft -j list` prints it back. */
export function prefixElem(p: Prefix): unknown {
  const full = p.family === 4 ? 32 : 128;
  if (p.length === full) return formatAddress({ family: p.family, value: p.base });
  return { prefix: { addr: formatAddress({ family: p.family, value: p.base }), len: p.length } };
}

function addrSet(name: string, family: Family, prefixes: readonly Prefix[]): NftSet {
  return {
    name,
    type: family === 4 ? "ipv4_addr" : "ipv6_addr",
    flags: ["interval"],
    elements: prefixes.map(prefixElem),
  };
}

/** `ip[6] saddr @nat-outgoing ip[6] daddr != @cluster-cidrs counter masquerade` */
function masqueradeRule(family: Family): ReturnType<typeof rule> {
  const protocol = family === 4 ? "ip" : "ip6";
  const suffix = family === 4 ? "" : "-v6";
  return rule([
    {
      match: {
        op: "==",
        left: { payload: { protocol, field: "saddr" } },
        right: `@${SET_NAT_SOURCES}${suffix}`,
      },
    },
    {
      match: {
        op: "!=",
        left: { payload: { protocol, field: "daddr" } },
        right: `@${SET_CLUSTER}${suffix}`,
      },
    },
    { counter: null },
    { masquerade: null },
  ]);
}

/**
 * The plan as table content. The four sets always exist (a pool change is
 * then only element changes for the driver's diff); the chain holds one
 * masquerade rule per family that has a natOutgoing pool.
 */
export function natTable(plan: NatPlan): NftTable {
  const rules = [];
  if (plan.v4.sources.length > 0) rules.push(masqueradeRule(4));
  if (plan.v6.sources.length > 0) rules.push(masqueradeRule(6));
  return {
    sets: [
      addrSet(SET_NAT_SOURCES, 4, plan.v4.sources),
      addrSet(`${SET_NAT_SOURCES}-v6`, 6, plan.v6.sources),
      addrSet(SET_CLUSTER, 4, plan.v4.cluster),
      addrSet(`${SET_CLUSTER}-v6`, 6, plan.v6.cluster),
    ],
    maps: [],
    chains: [
      {
        name: NAT_CHAIN,
        base: { type: "nat", hook: "postrouting", prio: SRCNAT_PRIORITY, policy: "accept" },
        rules,
      },
    ],
  };
}

/** The plan in words, for logs: "v4 10.244.1.0/24 -> masquerade; ...". */
export function describeNatPlan(plan: NatPlan): { v4: string[]; v6: string[] } {
  return { v4: plan.v4.sources.map(formatPrefix), v6: plan.v6.sources.map(formatPrefix) };
}
