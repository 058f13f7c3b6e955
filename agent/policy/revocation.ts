/**
 * Revocation (pure): which established flows a policy change denies.
 *
 * The forward chains accept `ct state established,related` before any
 * policy rule (policy/README.md), so a flow admitted under the old rules
 * would keep flowing after a change that denies it. So after each apply the
 * agent looks at the conntrack entries the change may concern and walks
 * each one's original direction, as a new connection, through the table it
 * just applied (policy/compiler/tracer.ts: the same rules as the kernel's).
 * An entry the rules now drop gets the ct mark bit CT_MARK_DENIED, which
 * the forward chain drops in both directions; a marked entry the rules now
 * accept again loses it. An entry that was allowed and still is stays as it
 * is, so the flows a change does not deny never notice it.
 *
 * Why a mark and not deleting the entry: after a delete, the next packet of
 * a TCP stream is picked up mid-stream (`nf_conntrack_tcp_loose`) as a new
 * flow in whichever direction it goes. When the server speaks first (it
 * pushes, or retransmits), the flow is judged as if the server had opened
 * it, which the client pod's ingress often allows, and the client's
 * packets then pass as its replies: the denied flow goes on. The mark keeps
 * the entry, and with it the direction the policy speaks of
 * (test/conformance/policy/conntrack-revocation.netns.test.ts shows it
 * with a pushing server).
 *
 * Which entries are looked at: those to or from an address whose treatment
 * the applied transaction changed, that is
 *
 * - the addresses of a local pod whose verdict-map entry changed (its
 *   egress or ingress group: a policy selecting it was added, changed or
 *   removed, or its labels moved it), and
 * - the addresses that joined or left an existing set (a pod relabelled or
 *   moved in or out of a namespace a peer selector matches, a tenant's
 *   members, the cluster's pods, a named port's pods, a node's address):
 *   the changed part only, since an interval set replaces a merged range
 *   when a neighbour joins it;
 *
 * but not the elements of a set the same transaction declares: a new set is
 * named only by a new group chain, and the pods that move to that group are
 * in the first item already. A transaction that replaced the whole table
 * (the first apply, a rebuild after a failure) replaced rules nobody can
 * diff any more: every local pod's entries are looked at.
 */
import { addrValue } from "../../policy/model/ipv6.js";
import { mergeIntervals, subtractIntervals, type Interval } from "../../policy/model/intervals.js";
import {
  familyBits,
  formatPrefix,
  parseAddress,
  prefixOf,
  prefixSpan,
  rangeToPrefixes,
  type Family,
} from "../../net/address.js";
import type { NftTable } from "../../policy/compiler/nft-table.js";
import type { IRLocalPod } from "../../policy/compiler/ir.js";
import { CT_MARK_DENIED, SET_POD_SOURCES, setName } from "../../policy/compiler/to-nft.js";
import { trace } from "../../policy/compiler/tracer.js";
import type { CtEntry } from "../../net/netlink/ctnetlink.js";

type Cmd = Record<string, unknown>;
type Span = Interval<bigint>;

export interface Revocation {
  /** Prefixes (`10.244.1.7/32`, `fd00::/64`) whose conntrack entries are looked at, in either direction. */
  readonly prefixes: readonly string[];
  /** Why: "replaced" (the whole table), "changed" (a diff), or "none". */
  readonly reason: "replaced" | "changed" | "none";
}

const steps = { next: (v: bigint) => v + 1n, prev: (v: bigint) => v - 1n };

interface Changes {
  added: Span[];
  deleted: Span[];
}

/** The address spans of one element as nft JSON writes it, or an interface name. */
function elementSpans(e: unknown): { family: Family; span: Span } | { iface: string } | undefined {
  if (typeof e === "string") {
    const a = addrValue(e);
    return a ? { family: a.v6 ? 6 : 4, span: { start: a.n, end: a.n } } : { iface: e };
  }
  if (typeof e === "number" || e === null || typeof e !== "object") return undefined;
  // A verdict-map element: [key, verdict]; a map delete names the key alone.
  if (Array.isArray(e)) return elementSpans(e[0]);
  const o = e as Record<string, unknown>;
  if ("prefix" in o) {
    const p = o["prefix"] as { addr: string; len: number };
    const a = parseAddress(p.addr);
    if (typeof a === "string" || !Number.isInteger(p.len) || p.len < 0 || p.len > familyBits(a.family))
      return undefined;
    return { family: a.family, span: prefixSpan(prefixOf(a, p.len)) };
  }
  if ("range" in o) {
    const [x, y] = o["range"] as [unknown, unknown];
    if (typeof x !== "string" || typeof y !== "string") return undefined;
    const a = addrValue(x);
    const b = addrValue(y);
    return a && b ? { family: a.v6 ? 6 : 4, span: { start: a.n, end: b.n } } : undefined;
  }
  if ("concat" in o) {
    // ifname . addr (pod-sources), addr . proto . port (named-port sets): the address counts.
    for (const c of o["concat"] as unknown[]) {
      const s = elementSpans(c);
      if (s && "span" in s) return s;
    }
  }
  return undefined;
}

/**
 * The prefixes whose entries go after a transaction of `mode` with
 * `commands` was applied to `table` (`family`, `name`). `localPods`: each
 * local pod's host veth and its addresses.
 */
export function revocationFor(
  mode: "noop" | "diff" | "full" | "incremental",
  commands: readonly Cmd[],
  localPods: ReadonlyMap<string, readonly string[]>,
  table: { family: string; name: string },
): Revocation {
  if (mode === "noop") return { prefixes: [], reason: "none" };
  const spans: Record<Family, Span[]> = { 4: [], 6: [] };
  const addAddress = (ip: string) => {
    const a = addrValue(ip);
    if (a) spans[a.v6 ? 6 : 4].push({ start: a.n, end: a.n });
  };
  if (mode === "full") {
    for (const ips of localPods.values()) ips.forEach(addAddress);
    return done(spans, "replaced");
  }
  const ours = (o: Record<string, unknown>) => o["family"] === table.family && o["table"] === table.name;
  const declared = new Set<string>();
  for (const c of commands) {
    const add = c["add"] as Record<string, Record<string, unknown>> | undefined;
    for (const kind of ["set", "map"]) {
      const o = add?.[kind];
      if (o && ours(o)) declared.add(o["name"] as string);
    }
  }
  const bySet = new Map<string, Record<Family, Changes>>();
  for (const c of commands) {
    for (const verb of ["add", "delete"] as const) {
      const el = (c[verb] as Record<string, Record<string, unknown>> | undefined)?.["element"];
      if (!el || !ours(el)) continue;
      const name = el["name"] as string;
      if (declared.has(name)) continue;
      let rec = bySet.get(name);
      if (!rec) {
        rec = { 4: { added: [], deleted: [] }, 6: { added: [], deleted: [] } };
        bySet.set(name, rec);
      }
      for (const e of el["elem"] as unknown[]) {
        const s = elementSpans(e);
        if (s === undefined) continue;
        if ("iface" in s) (localPods.get(s.iface) ?? []).forEach(addAddress);
        else rec[s.family][verb === "add" ? "added" : "deleted"].push(s.span);
      }
    }
  }
  for (const rec of bySet.values()) {
    for (const f of [4, 6] as const) {
      const { added, deleted } = rec[f];
      // What the set covers now and did not, and the reverse.
      for (const [a, b] of [
        [added, deleted],
        [deleted, added],
      ] as const)
        for (const r of mergeIntervals(a, steps)) spans[f].push(...subtractIntervals(r, b, steps));
    }
  }
  return done(spans, "changed");
}

/**
 * Spans as prefixes, each span on its own (not merged with its neighbours:
 * two pods' adjacent addresses stay two /32s, which conntrack can also match
 * by reply source), without duplicates.
 */
function done(spans: Record<Family, Span[]>, reason: "replaced" | "changed"): Revocation {
  const out: string[] = [];
  for (const f of [4, 6] as const) {
    const seen = new Set<string>();
    const sorted = [...spans[f]].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const r of sorted)
      for (const p of rangeToPrefixes(f, r.start, r.end).map(formatPrefix))
        if (!seen.has(p)) {
          seen.add(p);
          out.push(p);
        }
  }
  return out.length === 0 ? { prefixes: out, reason: "none" } : { prefixes: out, reason };
}

/** Local pods' veths and addresses as a compiled table holds them (its anti-spoofing sets). */
export function localPodsOfTable(t: NftTable): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of ["ipv4", "ipv6"] as const) {
    const set = t.sets.find((s) => s.name === setName(SET_POD_SOURCES, f));
    for (const e of set?.elements ?? []) {
      const [iface, ip] = (e as { concat: [string, string] }).concat;
      out.set(iface, [...(out.get(iface) ?? []), ip]);
    }
  }
  return out;
}

/** The same from the incremental compiler's local pods. */
export function localPodsOfState(local: ReadonlyMap<string, IRLocalPod>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of local.values())
    out.set(
      p.iface,
      [p.ipv4, p.ipv6].filter((x): x is string => x !== undefined),
    );
  return out;
}

/** A conntrack entry as ctnetlink gives it (net/netlink/ctnetlink.ts): its protocol, its original direction's tuple, and its mark. */
export type { CtEntry };

/** What to change: entries to mark denied, and marked entries the rules allow again. */
export interface Recheck {
  readonly deny: readonly CtEntry[];
  readonly allow: readonly CtEntry[];
}

/**
 * Each entry's original direction as a new connection through `table`:
 * from its source pod's veth if that pod is local (else from a link that is
 * no pod's), to its destination pod's veth likewise.
 */
export function recheck(
  entries: readonly CtEntry[],
  table: NftTable,
  localPods: ReadonlyMap<string, readonly string[]>,
): Recheck {
  const vethOf = new Map<string, string>();
  for (const [iface, ips] of localPods) for (const ip of ips) vethOf.set(ip, iface);
  const deny: CtEntry[] = [];
  const allow: CtEntry[] = [];
  for (const e of entries) {
    const v = trace(table, {
      iifname: vethOf.get(e.saddr) ?? "-",
      oifname: vethOf.get(e.daddr) ?? "-",
      saddr: e.saddr,
      daddr: e.daddr,
      protocol: e.protocol,
      dport: e.dport ?? 0,
      ct: "new",
    }).verdict;
    const marked = (e.mark & CT_MARK_DENIED) !== 0;
    if (v === "drop" && !marked) deny.push(e);
    if (v === "accept" && marked) allow.push(e);
  }
  return { deny, allow };
}
