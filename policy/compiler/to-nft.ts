/**
 * Policy IR -> the content of table `inet trellis` (nft-table.ts).
 *
 *   chain from-pods (the one base chain, forward, priority 0):
 *       anti-spoofing, conntrack (established flows end here), flows a
 *       policy change denied (ct mark), then `iifname vmap @egress-pods`
 *       -> the pod's egress group chain, whose allow is `goto to-pods`;
 *       unknown `trl*` interfaces dropped; anything else `goto to-pods`.
 *   chain to-pods (regular): `oifname vmap @ingress-pods` -> the pod's
 *       ingress group chain (allow is `accept`); unknown `trl*` interfaces
 *       dropped; anything else accepted.
 * Dual-stack: every address or port set exists twice, `name` (ipv4_addr) and
 * `name-v6` (ipv6_addr), since an nft set holds one key type; a rule that
 * matches addresses is emitted once per family (`ip …` / `ip6 …`, each of
 * which implies its `meta nfproto` in an inet table), a rule that matches
 * none once. So IPv6 is enforced exactly as IPv4, and a pod gaining an
 * address of either family is a set-element change.
 * One base chain, so that a packet meets the conntrack check once: the
 * egress side's allow cannot be `accept` (that would end the walk before a
 * local destination's ingress), so it is `goto to-pods`, and to-pods always
 * ends in a verdict.
 */
import { v4Text, exactPrefix, type Range } from "../model/ipv4.js";
import { exactPrefix6, v6Text, type Range6 } from "../model/ipv6.js";
import type { Family } from "../model/select.js";
import type { IRGroup, IRRule, IRSection, PolicyIR, IRPortEntry, IRPortEntry6 } from "./ir.js";
import {
  rule,
  type NftChain,
  type NftMap,
  type NftRule,
  type NftSet,
  type NftTable,
  type NftVerdict,
} from "./nft-table.js";
import { HOST_VETH_PREFIX } from "../../net/veth-name.js";

export const CHAIN_FROM_PODS = "from-pods";
export const CHAIN_TO_PODS = "to-pods";
/**
 * The conntrack mark bit of a flow a policy change denied (pinned,
 * policy/README.md "Revocation"): the agent sets it on the entries of
 * established flows the new rules no longer allow (and clears it when a
 * later change allows them again), and the forward chain drops a marked
 * flow in both directions before `ct state established` could accept it.
 */
export const CT_MARK_DENIED = 0x10000000;
export const MAP_EGRESS = "egress-pods";
export const MAP_INGRESS = "ingress-pods";
export const SET_POD_SOURCES = "pod-sources";
export const SET_ALL_PODS = "all-pods";
export const FAMILIES: readonly Family[] = ["ipv4", "ipv6"];

/** The name of a set's IPv6 twin (v4 names end in a hash or a fixed word, never in `-v6`). */
export function setName(name: string, family: Family): string {
  return family === "ipv4" ? name : `${name}-v6`;
}

/** An address range as nft JSON: address, prefix or range (the form nft lists back). */
export function addrElem(r: Range): unknown {
  if (r.start === r.end) return v4Text(r.start);
  const p = exactPrefix(r);
  if (p !== undefined) return { prefix: { addr: v4Text(r.start), len: p } };
  return { range: [v4Text(r.start), v4Text(r.end)] };
}

/** The same for IPv6, in RFC 5952 text (as `nft -j list` prints it). */
export function addrElem6(r: Range6): unknown {
  if (r.start === r.end) return v6Text(r.start);
  const p = exactPrefix6(r);
  if (p !== undefined) return { prefix: { addr: v6Text(r.start), len: p } };
  return { range: [v6Text(r.start), v6Text(r.end)] };
}

export function portElem(e: IRPortEntry): unknown {
  const port = e.from === e.to ? e.from : { range: [e.from, e.to] };
  return { concat: [addrElem(e.dst), e.protocol.toLowerCase(), port] };
}

export function portElem6(e: IRPortEntry6): unknown {
  const port = e.from === e.to ? e.from : { range: [e.from, e.to] };
  return { concat: [addrElem6(e.dst), e.protocol.toLowerCase(), port] };
}

const counter = { counter: null };
const meta = (key: string) => ({ meta: { key } });
const ip = (field: "saddr" | "daddr", family: Family = "ipv4") => ({
  payload: { protocol: family === "ipv4" ? "ip" : "ip6", field },
});
const match = (left: unknown, right: unknown, op = "==") => ({ match: { op, left, right } });
const ctState = match({ ct: { key: "state" } }, ["established", "related"], "in");
const ctDenied = { "&": [{ ct: { key: "mark" } }, CT_MARK_DENIED] };
/** An established flow no policy change has denied: the common case, one rule. */
const ctSettled = [ctState, match(ctDenied, 0)];
const trlWildcard = `${HOST_VETH_PREFIX}*`;

/**
 * What "allowed" means in a direction: egress goes on to the destination's
 * ingress (`goto to-pods`, which always ends in a verdict), ingress is the
 * last word (`accept`).
 */
function allowed(dir: "ingress" | "egress"): NftVerdict {
  return dir === "egress" ? { goto: { target: CHAIN_TO_PODS } } : { accept: null };
}

function verdictOf(dir: "ingress" | "egress", action: IRRule["action"]): unknown {
  return action === "Allow" ? allowed(dir) : action === "Deny" ? { drop: null } : { return: null };
}

/** A local pod's verdict-map element: its group chain, or allowed in that direction when none selects it. */
export function podVerdict(dir: "ingress" | "egress", group: string | undefined): NftVerdict {
  return group ? { jump: { target: group } } : allowed(dir);
}

/** One rule per family when it matches addresses, else one rule for both. */
function matchRules(dir: "ingress" | "egress", r: IRRule): NftRule[] {
  const tail: unknown[] = [counter, ...(r.log ? [{ log: { prefix: r.log } }] : []), verdictOf(dir, r.action)];
  if (!r.peerSet && !r.portSet) return [rule(tail)];
  const remote = dir === "ingress" ? "saddr" : "daddr";
  return FAMILIES.map((f) => {
    const expr: unknown[] = [];
    if (r.peerSet) expr.push(match(ip(remote, f), `@${setName(r.peerSet, f)}`));
    if (r.portSet)
      expr.push(
        match(
          { concat: [ip("daddr", f), meta("l4proto"), { payload: { protocol: "th", field: "dport" } }] },
          `@${setName(r.portSet, f)}`,
        ),
      );
    return rule([...expr, ...tail]);
  });
}

/** A group's chains: the main one, plus one per admin/baseline section (Pass is `return`). */
export function groupChains(g: IRGroup): NftChain[] {
  const dir = g.direction;
  const remote = dir === "ingress" ? "saddr" : "daddr";
  const main: NftRule[] = [];
  const extra: NftChain[] = [];
  for (const s of g.sections) main.push(...sectionRules(g, s, dir, remote, extra));
  main.push(rule([counter, allowed(dir)]));
  return [{ name: g.id, rules: main }, ...extra];
}

function sectionRules(
  g: IRGroup,
  s: IRSection,
  dir: "ingress" | "egress",
  remote: "saddr" | "daddr",
  extra: NftChain[],
): NftRule[] {
  switch (s.kind) {
    case "admin":
    case "baseline": {
      // Own chain so that Pass is a `return`: it skips the rest of the tier
      // and resumes in the group chain at the next tier.
      const name = `${g.id}-${s.kind}`;
      extra.push({ name, rules: s.rules.flatMap((r) => matchRules(dir, r)) });
      return [rule([counter, { jump: { target: name } }])];
    }
    case "tenant-strict":
    case "tenant-baseline": {
      return FAMILIES.map((f) =>
        rule([
          match(ip(remote, f), `@${setName(SET_ALL_PODS, f)}`),
          match(ip(remote, f), `@${setName(s.admitSet, f)}`, "!="),
          counter,
          ...(s.log ? [{ log: { prefix: s.log } }] : []),
          { drop: null },
        ]),
      );
    }
    case "networkpolicy": {
      const out = s.rules.flatMap((r) => matchRules(dir, r));
      // Isolated: "the pod ... will reject any connections that are not
      // allowed by any NetworkPolicy" that selects it.
      out.push(rule([counter, ...(s.log ? [{ log: { prefix: s.log } }] : []), { drop: null }]));
      return out;
    }
  }
}

/** An address set: interval, or plain (single addresses only; see PolicyIR.plainSets). */
function addrSet(name: string, ranges: readonly Range[], plain = false): NftSet {
  return {
    name,
    type: "ipv4_addr",
    ...(plain ? {} : { flags: ["interval"] }),
    elements: ranges.map(addrElem),
  };
}

function addrSet6(name: string, ranges: readonly Range6[], plain = false): NftSet {
  return {
    name: setName(name, "ipv6"),
    type: "ipv6_addr",
    ...(plain ? {} : { flags: ["interval"] }),
    elements: ranges.map(addrElem6),
  };
}

const byName = <T>([a]: [string, T], [b]: [string, T]) => (a < b ? -1 : a > b ? 1 : 0);

export function irToTable(ir: PolicyIR): NftTable {
  const sets: NftSet[] = [];
  sets.push({
    name: SET_POD_SOURCES,
    type: ["ifname", "ipv4_addr"],
    elements: ir.pods.filter((p) => p.ipv4).map((p) => ({ concat: [p.iface, p.ipv4] })),
  });
  sets.push({
    name: setName(SET_POD_SOURCES, "ipv6"),
    type: ["ifname", "ipv6_addr"],
    elements: ir.pods.filter((p) => p.ipv6).map((p) => ({ concat: [p.iface, p.ipv6] })),
  });
  sets.push(addrSet(SET_ALL_PODS, ir.allPods, true));
  sets.push(addrSet6(SET_ALL_PODS, ir.allPods6, true));
  for (const [name, ranges] of [...ir.addressSets].sort(byName)) {
    const plain = ir.plainSets?.has(name) ?? false;
    sets.push(addrSet(name, ranges, plain));
    sets.push(addrSet6(name, ir.addressSets6.get(name) ?? [], plain));
  }
  for (const [name, entries] of [...ir.portSets].sort(byName)) {
    sets.push({
      name,
      type: ["ipv4_addr", "inet_proto", "inet_service"],
      flags: ["interval"],
      elements: entries.map(portElem),
    });
    sets.push({
      name: setName(name, "ipv6"),
      type: ["ipv6_addr", "inet_proto", "inet_service"],
      flags: ["interval"],
      elements: (ir.portSets6.get(name) ?? []).map(portElem6),
    });
  }
  const maps: NftMap[] = [
    {
      name: MAP_EGRESS,
      type: "ifname",
      elements: ir.pods.map((p) => [p.iface, podVerdict("egress", p.egressGroup)] as const),
    },
    {
      name: MAP_INGRESS,
      type: "ifname",
      elements: ir.pods.map((p) => [p.iface, podVerdict("ingress", p.ingressGroup)] as const),
    },
  ];
  const chains: NftChain[] = [];
  for (const g of ir.groups) chains.push(...groupChains(g));
  chains.push({
    name: CHAIN_FROM_PODS,
    base: { type: "filter", hook: "forward", prio: 0, policy: "accept" },
    rules: [
      // Anti-spoofing: a packet from a pod veth must carry that pod's address
      // of its family (checked on every packet, before conntrack: a forged
      // source must not ride another pod's established flow). A pod's
      // link-local (fe80::/10) traffic — NDP with its gateway, the host
      // veth's link-local (RS/RA/NS/NA, RFC 4861) — never reaches this hook:
      // link-scoped packets are not forwarded (RFC 4291 §2.5.6; the kernel
      // drops a link-local source in ip6_forward before NF_INET_FORWARD and
      // delivers NDP, proxied or not, locally), so it is neither checked
      // nor dropped here. Only `forward` is hooked (policy/README.md).
      ...FAMILIES.map((f) =>
        rule([
          match(meta("iifname"), trlWildcard),
          match({ concat: [meta("iifname"), ip("saddr", f)] }, `@${setName(SET_POD_SOURCES, f)}`, "!="),
          counter,
          { drop: null },
        ]),
      ),
      rule([...ctSettled, counter, { accept: null }]),
      // A flow a policy change denied, either direction (the agent marks it:
      // agent/policy/revocation.ts). Checked in this chain only: it sees
      // every forwarded packet, and a dropped one meets no later chain.
      rule([match(ctDenied, CT_MARK_DENIED), counter, { drop: null }]),
      // The source pod's egress: its group chain, which ends in a drop or
      // in `goto to-pods`; a pod no egress policy selects goes straight there.
      rule([counter, { vmap: { key: meta("iifname"), data: `@${MAP_EGRESS}` } }]),
      rule([match(meta("iifname"), trlWildcard), counter, { drop: null }]),
      // Not from a pod (another node, the uplink): only the destination's ingress.
      rule([counter, { goto: { target: CHAIN_TO_PODS } }]),
    ],
  });
  chains.push({
    // Not a base chain: reached only by `goto` from from-pods and the egress
    // group chains, so a packet meets conntrack and the anti-spoofing once.
    name: CHAIN_TO_PODS,
    rules: [
      rule([counter, { vmap: { key: meta("oifname"), data: `@${MAP_INGRESS}` } }]),
      rule([match(meta("oifname"), trlWildcard), counter, { drop: null }]),
      rule([counter, { accept: null }]),
    ],
  });
  return { sets, maps, chains };
}
