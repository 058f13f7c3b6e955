/**
 * The shell of revocation (revocation.ts decides): the conntrack table by
 * ctnetlink, from inside the agent, in its network namespace or in `netns`
 * (net/netlink: the codec ctnetlink.ts, carried by our addon on a pool
 * thread). It lists the entries to or from the touched prefixes and sets
 * or clears the mark bit CT_MARK_DENIED on the ones the new rules deny or
 * allow again; the mask leaves every other bit of the mark to whoever else
 * uses it. No process is spawned: the `conntrack` tool this replaced cost
 * three forks per touched prefix and one per marked entry, which competed
 * with the CNI ADDs for the node's cores (issue 12).
 *
 * Which entries: for an address, those whose original source, original
 * destination or reply source it is (the last: flows DNATed to a pod,
 * whose original destination was a service or node address); for a wider
 * prefix, those whose original source or destination lies in it (the set
 * the tool gave: conntrack 1.4.7 takes no CIDR for the reply source).
 *
 * How: the kernel filters a dump by one exact address of one tuple field
 * (CTA_FILTER, Linux 5.8+; net/netfilter/nf_conntrack_netlink.c
 * `ctnetlink_filter_match_tuple` has no prefix length), so an IPv4 address
 * can cost three filtered dumps, of which the agent reads only the
 * matching entries. But every dump, filtered or not, walks every bucket of
 * the conntrack hash (one table for all namespaces), about 10 ms at 262,144
 * buckets even when empty, while the agent's share of a whole dump grows
 * with the entries (about 3.5 µs each, copied and scanned). So the table's
 * size (IPCTNL_MSG_CT_GET_STATS, one small answer) decides: filtered dumps
 * only when the namespace holds more entries than the extra walks cost;
 * otherwise, and for a wider prefix, one dump of the family, filtered
 * here (net/netlink/README.md "ctnetlink").
 *
 * IPv6 is always dumped whole: the kernel's IPv6 filter is
 * inverted (`ctnetlink_filter_match_tuple` rejects an entry when
 * `!ipv6_addr_cmp(filter, entry)`, that is when the addresses are equal:
 * seen on 6.18, where a filter on fd00::2 returns every entry but
 * fd00::2's), and on a kernel before 5.8 CTA_FILTER is ignored: so every
 * entry a filtered dump returns is checked here again, and a kernel that
 * filters nothing costs time, never a wrong answer. When both families are
 * dumped whole (a dual-stack pod), it is one dump of both (nfgen_family
 * AF_UNSPEC): one walk of the hash instead of two.
 *
 * There is no fallback to the tool: the agent does not start without the
 * addon (net/netlink/README.md "No fallback to `ip`").
 */
import { messageOf } from "../../net/native-addon.js";
import { netnsPath } from "../../net/netns-path.js";
import {
  contains,
  formatAddress,
  familyBits,
  parsePrefix,
  parseAddress,
  type Address,
  type Family,
  type Prefix,
} from "../../net/address.js";
import {
  ctDumpRequest,
  ctMarkRequest,
  ctStatsRequest,
  decodeCtEntry,
  decodeCtStats,
  describeCt,
  type CtMatch,
  type DumpedCt,
} from "../../net/netlink/ctnetlink.js";
import { NETLINK_NETFILTER, dumpEach, exchange, firstError, type Op } from "../../net/netlink/netlink.js";
import { addressBytes, type Answer } from "../../net/netlink/rtnetlink.js";
import { CT_MARK_DENIED } from "../../policy/compiler/to-nft.js";
import type { CtEntry } from "./revocation.js";

export interface Revoker {
  /** The entries to or from the prefixes, each once. */
  list(prefixes: readonly string[]): Promise<CtEntry[]>;
  /** Sets (`denied`) or clears the denied bit on the entry's flow; resolves with how many entries changed. */
  mark(e: CtEntry, denied: boolean): Promise<number>;
}

/** Listing or marking failed: the kernel refused, or the socket or namespace could not be reached. */
export class ConntrackError extends Error {
  readonly code = "TRELLIS_ECONNTRACK";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConntrackError";
  }
}

/**
 * What one more walk of the conntrack hash costs, in entries of a whole
 * dump (copied by the kernel, scanned by the agent): about 10 ms against
 * about 3.5 µs per entry, measured at 262,144 buckets (net/netlink/README.md
 * "ctnetlink"). k IPv4 addresses by filtered dumps cost 3k walks, one whole
 * dump one walk and its entries: filtered only above (3k - 1) × this.
 */
export const WALK_ENTRIES = 2500;

/** Up to this many addresses, a whole dump looks for their octets before decoding an entry. */
const PREFILTER_MAX = 16;

const MATCHES: readonly CtMatch[] = ["orig-src", "orig-dst", "reply-src"];

/** How one listing reads the table. */
export interface ListPlan {
  /** Dumps the kernel filters on one address each. */
  readonly filtered: readonly { family: Family; match: CtMatch; addr: Address }[];
  /** Families dumped whole, and what an entry must touch to be kept. */
  readonly whole: readonly { family: Family; hosts: ReadonlySet<string>; wide: readonly Prefix[] }[];
}

/**
 * The dumps that cover `prefixes` in a table of `entries` entries (every
 * family), or what is wrong with one of them.
 */
export function listPlan(
  prefixes: readonly string[],
  entries: number,
  walkEntries = WALK_ENTRIES,
): ListPlan | string {
  const hosts: Record<Family, Address[]> = { 4: [], 6: [] };
  const wide: Record<Family, Prefix[]> = { 4: [], 6: [] };
  for (const text of prefixes) {
    const p = text.includes("/") ? parsePrefix(text) : parseAddress(text);
    if (typeof p === "string") return `revocation prefix ${text}: ${p}`;
    if ("value" in p) hosts[p.family].push(p);
    else if (p.length === familyBits(p.family)) hosts[p.family].push({ family: p.family, value: p.base });
    else wide[p.family].push(p);
  }
  const filtered: { family: Family; match: CtMatch; addr: Address }[] = [];
  const whole: { family: Family; hosts: ReadonlySet<string>; wide: readonly Prefix[] }[] = [];
  for (const family of [4, 6] as const) {
    const hs = hosts[family];
    if (hs.length + wide[family].length === 0) continue;
    if (family === 6 || wide[family].length > 0 || entries <= (hs.length * MATCHES.length - 1) * walkEntries)
      whole.push({ family, hosts: new Set(hs.map(formatAddress)), wide: wide[family] });
    else for (const addr of hs) for (const match of MATCHES) filtered.push({ family, match, addr });
  }
  return { filtered, whole };
}

/** What one whole dump covers: one family, or both ("any"). */
export interface WholeDump {
  readonly family: Family | "any";
  readonly hosts: ReadonlySet<string>;
  readonly wide: readonly Prefix[];
}

/**
 * The plan's whole-family dumps as one: a dump of both families walks the
 * conntrack hash once, as a dump of one does (the walk, not the entries, is
 * most of its cost; ctnetlink.ts ctDumpRequest("any")), so a dual-stack
 * pod's revocation walks once, not twice. Addresses of the two families
 * never compare equal as text, so the union of the hosts keeps the same
 * entries.
 */
export function wholeDump(plan: ListPlan): WholeDump | undefined {
  const [first, second] = plan.whole;
  if (first === undefined || second === undefined) return first;
  return {
    family: "any",
    hosts: new Set([...first.hosts, ...second.hosts]),
    wide: [...first.wide, ...second.wide],
  };
}

/** Whether an entry of a filtered dump is one the filter asked for (the kernel's filter is not trusted alone). */
export function matches(d: DumpedCt, match: CtMatch, addr: string): boolean {
  return (
    (match === "orig-src" ? d.entry.saddr : match === "orig-dst" ? d.entry.daddr : d.replySaddr) === addr
  );
}

/** Whether a dumped entry of a whole-family dump is one `list()` returns. */
export function touches(d: DumpedCt, hosts: ReadonlySet<string>, wide: readonly Prefix[]): boolean {
  const e = d.entry;
  if (hosts.has(e.saddr) || hosts.has(e.daddr) || hosts.has(d.replySaddr)) return true;
  if (wide.length === 0) return false;
  const within = (text: string) => {
    const a = parseAddress(text);
    return typeof a !== "string" && wide.some((p) => contains(p, a));
  };
  return within(e.saddr) || within(e.daddr);
}

/** One entry's identity: its original tuple and zone (the mark is not part of it). */
const key = (e: CtEntry) =>
  `${e.zone ?? 0} ${e.protocol} ${e.saddr} ${e.daddr} ${e.sport ?? ""} ${e.dport ?? ""} ${e.icmp ? `${e.icmp.type}/${e.icmp.code}/${e.icmp.id}` : ""}`;

const ENOENT = 2;

export class NetlinkConntrackRevoker implements Revoker {
  private readonly netns: string | null;

  /** `netns`: a name under /var/run/netns or a path (net/netns-path.ts); none: the agent's own namespace. */
  constructor(private readonly opts: { netns?: string; timeoutMs?: number; walkEntries?: number } = {}) {
    this.netns = netnsPath(opts.netns);
  }

  async list(prefixes: readonly string[]): Promise<CtEntry[]> {
    if (prefixes.length === 0) return [];
    const plan = listPlan(prefixes, await this.entries(), this.opts.walkEntries);
    if (typeof plan === "string") throw new ConntrackError(plan);
    const out = new Map<string, CtEntry>();
    // One dump at a time: each is well under a millisecond for a pod's few
    // entries, and revocation runs off the apply path.
    for (const f of plan.filtered) {
      const a = formatAddress(f.addr);
      await this.dump(
        `conntrack list IPv${f.family} entries by ${f.match} ${a}`,
        f.family,
        f,
        (d) => matches(d, f.match, a),
        out,
      );
    }
    const w = wholeDump(plan);
    if (w !== undefined) {
      // A few addresses and no prefix: an entry whose octets hold none of them
      // (memmem, in C) is not decoded at all, which halves the cost of a whole
      // dump (net/netlink/README.md "ctnetlink"); a hit is decoded and checked.
      const needles =
        w.wide.length === 0 && w.hosts.size <= PREFILTER_MAX
          ? [...w.hosts].map((h) => addressBytes(parseAddress(h) as Address))
          : undefined;
      await this.dump(
        `conntrack list ${w.family === "any" ? "IPv4 and IPv6" : `IPv${w.family}`} entries`,
        w.family,
        undefined,
        (d) => touches(d, w.hosts, w.wide),
        out,
        needles && ((body) => needles.some((n) => body.includes(n))),
      );
    }
    return [...out.values()];
  }

  /** How many entries the namespace's table holds. */
  private async entries(): Promise<number> {
    const ops = [{ what: `conntrack statistics${this.where()}`, req: ctStatsRequest() }];
    const [a] = await this.exchange(ops);
    const m = a?.messages[0];
    const s = m === undefined ? "no answer" : decodeCtStats(m);
    if (typeof s === "string") throw new ConntrackError(`${ops[0]!.what}: ${s}`);
    return s.entries;
  }

  private where(): string {
    return this.netns !== null ? ` in ${this.netns}` : "";
  }

  /** One ctnetlink exchange; a refusal or a transport failure as a ConntrackError; ENOENT left to the caller. */
  private async exchange(ops: Op[]): Promise<Answer[]> {
    let answers: Answer[];
    try {
      answers = await exchange(this.netns, ops, {
        protocol: NETLINK_NETFILTER,
        timeoutMs: this.opts.timeoutMs ?? 10_000,
      });
    } catch (err) {
      throw new ConntrackError(messageOf(err), { cause: err });
    }
    const refused = answers[0]?.errno === ENOENT ? undefined : firstError(ops, answers);
    if (refused !== undefined) throw new ConntrackError(refused.message, { cause: refused });
    return answers;
  }

  private async dump(
    what: string,
    family: Family | "any",
    filter: { match: CtMatch; addr: Address } | undefined,
    keep: (d: DumpedCt) => boolean,
    into: Map<string, CtEntry>,
    mayHold?: (body: Buffer) => boolean,
  ): Promise<void> {
    let bad: string | undefined;
    try {
      await dumpEach(
        this.netns,
        what,
        ctDumpRequest(family, filter),
        (m) => {
          if (mayHold !== undefined && !mayHold(m.body)) return;
          const d = decodeCtEntry(m);
          if (typeof d === "string") bad ??= d;
          else if (d !== undefined && keep(d)) into.set(key(d.entry), d.entry);
        },
        { protocol: NETLINK_NETFILTER, timeoutMs: this.opts.timeoutMs ?? 10_000, maxBytes: 256 << 20 },
      );
    } catch (e) {
      throw new ConntrackError(messageOf(e), { cause: e });
    }
    if (bad !== undefined) throw new ConntrackError(`${what}: ${bad}`);
  }

  async mark(e: CtEntry, denied: boolean): Promise<number> {
    const what = `conntrack ${denied ? "mark" : "unmark"} ${describeCt(e)}${this.where()}`;
    const req = ctMarkRequest(e, denied ? CT_MARK_DENIED : 0, CT_MARK_DENIED);
    if (typeof req === "string") throw new ConntrackError(`${what}: ${req}`);
    const [a] = await this.exchange([{ what, req }]);
    // The entry ended (timed out, or the flow closed) since it was listed: nothing to change.
    return a?.errno === ENOENT ? 0 : 1;
  }
}
