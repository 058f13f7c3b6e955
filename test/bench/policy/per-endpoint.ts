/**
 * The peer shape for the dataplane benchmark: the same policies laid out as
 * Calico's iptables mode lays them out (felix's rule renderer), in nft:
 *
 *   forward:        ct established,related accept; jump from-dispatch;
 *                   jump to-dispatch; accept
 *   from-/to-dispatch: one `iifname X goto fw-X` / `oifname X goto tw-X`
 *                   rule per local endpoint (felix splits the list into a
 *                   tree of chains by interface-name prefix; one level here)
 *   fw-X / tw-X:    per endpoint: mark cleared, then per tier and policy
 *                   `jump pi-<policy>` followed by `mark 0x10000 -> return`
 *                   (allowed), and "drop if no policies passed packet"
 *   pi-<policy>:    the policy's rules, shared by every endpoint it selects:
 *                   set lookups (felix's ipsets: the same peer and port sets
 *                   Trellis builds), an allow sets the mark and returns, a
 *                   deny drops
 *
 * So per new connection a packet walks a dispatch list and one chain per
 * policy that selects its endpoint, where Trellis does one verdict-map lookup
 * and one chain shared by the endpoints with the same policies.
 */
import type { IRRule, IRSection, PolicyIR } from "../../../policy/compiler/ir.js";
import { hashText, type NftTable } from "../../../policy/compiler/nft-table.js";

const T = { family: "inet", table: "peer" };
const ALLOWED = 0x10000;

const meta = (key: string) => ({ meta: { key } });
const match = (left: unknown, right: unknown, op = "==") => ({ match: { op, left, right } });
const ip = (field: "saddr" | "daddr", v6: boolean) => ({
  payload: { protocol: v6 ? "ip6" : "ip", field },
});
const markAllowed = match({ "&": [meta("mark"), ALLOWED] }, ALLOWED);
const setMark = { mangle: { key: meta("mark"), value: ALLOWED } };

export interface PerEndpoint {
  readonly cmds: Record<string, unknown>[];
  readonly rules: number;
}

/** The per-endpoint table for this IR, reusing the compiled table's sets (as felix reuses its ipsets). */
export function perEndpointTable(ir: PolicyIR, compiled: NftTable): PerEndpoint {
  const cmds: Record<string, unknown>[] = [];
  const rules: [string, unknown[]][] = [];
  const chains: Record<string, unknown>[] = [];
  const chain = (name: string, base?: Record<string, unknown>) =>
    chains.push({ ...T, name, ...(base ?? {}) });
  const rule = (c: string, expr: unknown[]) => rules.push([c, expr]);

  const policyChains = new Map<string, string>();
  const policyChain = (dir: "ingress" | "egress", policy: string, rs: readonly IRRule[]): string => {
    const key = `${dir} ${policy} ${JSON.stringify(rs)}`;
    let name = policyChains.get(key);
    if (name !== undefined) return name;
    name = `pi-${hashText(key, 10)}`;
    policyChains.set(key, name);
    chain(name);
    const remote = dir === "ingress" ? "saddr" : "daddr";
    for (const r of rs) {
      const verdict =
        r.action === "Allow"
          ? [setMark, { return: null }]
          : r.action === "Deny"
            ? [{ drop: null }]
            : [{ return: null }];
      if (!r.peerSet && !r.portSet) {
        rule(name, [{ counter: null }, ...verdict]);
        continue;
      }
      for (const v6 of [false, true]) {
        const sfx = v6 ? "-v6" : "";
        const e: unknown[] = [];
        if (r.peerSet) e.push(match(ip(remote, v6), `@${r.peerSet}${sfx}`));
        if (r.portSet)
          e.push(
            match(
              { concat: [ip("daddr", v6), meta("l4proto"), { payload: { protocol: "th", field: "dport" } }] },
              `@${r.portSet}${sfx}`,
            ),
          );
        rule(name, [...e, { counter: null }, ...verdict]);
      }
    }
    return name;
  };

  const sectionRules = (c: string, dir: "ingress" | "egress", s: IRSection) => {
    if ("admitSet" in s) {
      const remote = dir === "ingress" ? "saddr" : "daddr";
      for (const v6 of [false, true]) {
        const sfx = v6 ? "-v6" : "";
        rule(c, [
          match(ip(remote, v6), `@all-pods${sfx}`),
          match(ip(remote, v6), `@${s.admitSet}${sfx}`, "!="),
          { counter: null },
          { drop: null },
        ]);
      }
      return;
    }
    // One chain per policy, in order, each followed by felix's "allowed -> return".
    const byPolicy = new Map<string, IRRule[]>();
    for (const r of "rules" in s ? s.rules : [])
      byPolicy.set(r.policy, [...(byPolicy.get(r.policy) ?? []), r]);
    for (const [policy, rs] of byPolicy) {
      rule(c, [{ jump: { target: policyChain(dir, policy, rs) } }]);
      rule(c, [markAllowed, { return: null }]);
    }
    if (s.kind === "networkpolicy") rule(c, [{ counter: null }, { drop: null }]);
  };

  chain("forward", { type: "filter", hook: "forward", prio: 0, policy: "accept" });
  chain("from-dispatch");
  chain("to-dispatch");
  rule("forward", [match({ ct: { key: "state" } }, ["established", "related"], "in"), { accept: null }]);
  rule("forward", [{ jump: { target: "from-dispatch" } }]);
  rule("forward", [{ jump: { target: "to-dispatch" } }]);
  rule("forward", [{ accept: null }]);
  const groups = new Map(ir.groups.map((g) => [g.id, g]));
  ir.pods.forEach((p, i) => {
    for (const [dir, gid, disp, key, prefix] of [
      ["egress", p.egressGroup, "from-dispatch", "iifname", "fw"],
      ["ingress", p.ingressGroup, "to-dispatch", "oifname", "tw"],
    ] as const) {
      const c = `${prefix}-${i}`;
      chain(c);
      rule(disp, [match(meta(key), p.iface), { goto: { target: c } }]);
      rule(c, [{ mangle: { key: meta("mark"), value: 0 } }]);
      for (const s of groups.get(gid ?? "")?.sections ?? []) sectionRules(c, dir, s);
      // No policy: allowed (felix: "no policies -> return").
      rule(c, [{ return: null }]);
    }
  });

  cmds.push({ add: { table: { family: "inet", name: "peer" } } });
  for (const s of compiled.sets)
    cmds.push({
      add: {
        set: {
          ...T,
          name: s.name,
          type: s.type,
          ...(s.flags && s.flags.length > 0 ? { flags: s.flags } : {}),
        },
      },
    });
  for (const c of chains) cmds.push({ add: { chain: c } });
  for (const s of compiled.sets)
    if (s.elements.length > 0) cmds.push({ add: { element: { ...T, name: s.name, elem: s.elements } } });
  // Jump targets exist before the rules that jump: policy and endpoint chains first, forward last.
  const order = (c: string) =>
    c.startsWith("pi-") ? 0 : c === "forward" ? 3 : c.endsWith("dispatch") ? 2 : 1;
  for (const [c, expr] of [...rules].sort((a, b) => order(a[0]) - order(b[0])))
    cmds.push({ add: { rule: { ...T, chain: c, expr } } });
  return { cmds, rules: rules.length };
}
