/**
 * Policy IR -> the content of table `inet trellis` (nft-table.ts).
 *
 *   chain from-pods (forward, priority 0): anti-spoofing, conntrack, then
 *       `iifname vmap @egress-pods` -> the pod's egress group chain;
 *       unknown `trl*` interfaces dropped.
 *   chain to-pods (forward, priority 10): conntrack, then
 *       `oifname vmap @ingress-pods` -> the pod's ingress group chain;
 *       unknown `trl*` interfaces dropped.
 * Two base chains, because `accept` ends only the base chain it is in: a
 * packet between two local pods is accepted by the source's egress and then
 * still meets the destination's ingress in the later chain.
 */
import { formatIPv4, exactPrefix, type Range } from "../model/ipv4.js";
import type { IRGroup, IRRule, IRSection, PolicyIR, IRPortEntry } from "./ir.js";
import {
  rule,
  type NftChain,
  type NftMap,
  type NftRule,
  type NftSet,
  type NftTable,
  type NftVerdict,
} from "./nft-table.js";
import { VETH_PREFIX } from "./veth-name.js";

export const CHAIN_FROM_PODS = "from-pods";
export const CHAIN_TO_PODS = "to-pods";
export const MAP_EGRESS = "egress-pods";
export const MAP_INGRESS = "ingress-pods";
export const SET_POD_SOURCES = "pod-sources";
export const SET_ALL_PODS = "all-pods";

/** An address range as nft JSON: address, prefix or range (the form nft lists back). */
export function addrElem(r: Range): unknown {
  if (r.start === r.end) return formatIPv4(r.start);
  const p = exactPrefix(r);
  if (p !== undefined) return { prefix: { addr: formatIPv4(r.start), len: p } };
  return { range: [formatIPv4(r.start), formatIPv4(r.end)] };
}

function portElem(e: IRPortEntry): unknown {
  const port = e.from === e.to ? e.from : { range: [e.from, e.to] };
  return { concat: [addrElem(e.dst), e.protocol.toLowerCase(), port] };
}

const counter = { counter: null };
const meta = (key: string) => ({ meta: { key } });
const ip = (field: "saddr" | "daddr") => ({ payload: { protocol: "ip", field } });
const match = (left: unknown, right: unknown, op = "==") => ({ match: { op, left, right } });
const ctState = match({ ct: { key: "state" } }, ["established", "related"], "in");
const trlWildcard = `${VETH_PREFIX}*`;

function verdictOf(action: IRRule["action"]): unknown {
  return action === "Allow" ? { accept: null } : action === "Deny" ? { drop: null } : { return: null };
}

function matchRule(dir: "ingress" | "egress", r: IRRule): NftRule {
  const remote = dir === "ingress" ? "saddr" : "daddr";
  const expr: unknown[] = [];
  if (r.peerSet) expr.push(match(ip(remote), `@${r.peerSet}`));
  if (r.portSet)
    expr.push(
      match(
        { concat: [ip("daddr"), meta("l4proto"), { payload: { protocol: "th", field: "dport" } }] },
        `@${r.portSet}`,
      ),
    );
  expr.push(counter);
  if (r.log) expr.push({ log: { prefix: r.log } });
  expr.push(verdictOf(r.action));
  return rule(expr);
}

function groupChains(g: IRGroup): NftChain[] {
  const dir = g.direction;
  const remote = dir === "ingress" ? "saddr" : "daddr";
  const main: NftRule[] = [];
  const extra: NftChain[] = [];
  for (const s of g.sections) main.push(...sectionRules(g, s, dir, remote, extra));
  main.push(rule([counter, { accept: null }]));
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
      extra.push({ name, rules: s.rules.map((r) => matchRule(dir, r)) });
      return [rule([counter, { jump: { target: name } }])];
    }
    case "tenant-strict":
    case "tenant-baseline": {
      const expr: unknown[] = [
        match(ip(remote), `@${SET_ALL_PODS}`),
        match(ip(remote), `@${s.admitSet}`, "!="),
        counter,
        ...(s.log ? [{ log: { prefix: s.log } }] : []),
        { drop: null },
      ];
      return [rule(expr)];
    }
    case "networkpolicy": {
      const out = s.rules.map((r) => matchRule(dir, r));
      // Isolated: "the pod ... will reject any connections that are not
      // allowed by any NetworkPolicy" that selects it.
      out.push(rule([counter, ...(s.log ? [{ log: { prefix: s.log } }] : []), { drop: null }]));
      return out;
    }
  }
}

function addrSet(name: string, ranges: readonly Range[]): NftSet {
  return { name, type: "ipv4_addr", flags: ["interval"], elements: ranges.map(addrElem) };
}

export function irToTable(ir: PolicyIR): NftTable {
  const sets: NftSet[] = [];
  sets.push({
    name: SET_POD_SOURCES,
    type: ["ifname", "ipv4_addr"],
    elements: ir.pods.filter((p) => p.ipv4).map((p) => ({ concat: [p.iface, p.ipv4] })),
  });
  sets.push(addrSet(SET_ALL_PODS, ir.allPods));
  for (const [name, ranges] of [...ir.addressSets].sort(([a], [b]) => (a < b ? -1 : 1)))
    sets.push(addrSet(name, ranges));
  for (const [name, entries] of [...ir.portSets].sort(([a], [b]) => (a < b ? -1 : 1))) {
    sets.push({
      name,
      type: ["ipv4_addr", "inet_proto", "inet_service"],
      flags: ["interval"],
      elements: entries.map(portElem),
    });
  }
  const vmap = (group: string | undefined): NftVerdict =>
    group ? { jump: { target: group } } : { accept: null };
  const maps: NftMap[] = [
    {
      name: MAP_EGRESS,
      type: "ifname",
      elements: ir.pods.map((p) => [p.iface, vmap(p.egressGroup)] as const),
    },
    {
      name: MAP_INGRESS,
      type: "ifname",
      elements: ir.pods.map((p) => [p.iface, vmap(p.ingressGroup)] as const),
    },
  ];
  const chains: NftChain[] = [];
  for (const g of ir.groups) chains.push(...groupChains(g));
  chains.push({
    name: CHAIN_FROM_PODS,
    base: { type: "filter", hook: "forward", prio: 0, policy: "accept" },
    rules: [
      // Anti-spoofing: a packet from a pod veth must carry that pod's address
      // (checked on every packet, before conntrack: a forged source must not
      // ride another pod's established flow).
      rule([
        match(meta("iifname"), trlWildcard),
        match({ concat: [meta("iifname"), ip("saddr")] }, `@${SET_POD_SOURCES}`, "!="),
        counter,
        { drop: null },
      ]),
      rule([ctState, counter, { accept: null }]),
      // IPv6 is not compiled yet (policy/README.md): fail closed for pods.
      // After conntrack: no IPv6 flow from a pod is ever established.
      rule([match(meta("iifname"), trlWildcard), match(meta("nfproto"), "ipv6"), counter, { drop: null }]),
      rule([counter, { vmap: { key: meta("iifname"), data: `@${MAP_EGRESS}` } }]),
      rule([match(meta("iifname"), trlWildcard), counter, { drop: null }]),
    ],
  });
  chains.push({
    name: CHAIN_TO_PODS,
    base: { type: "filter", hook: "forward", prio: 10, policy: "accept" },
    rules: [
      rule([ctState, counter, { accept: null }]),
      rule([match(meta("oifname"), trlWildcard), match(meta("nfproto"), "ipv6"), counter, { drop: null }]),
      rule([counter, { vmap: { key: meta("oifname"), data: `@${MAP_INGRESS}` } }]),
      rule([match(meta("oifname"), trlWildcard), counter, { drop: null }]),
    ],
  });
  return { sets, maps, chains };
}
