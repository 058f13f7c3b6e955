/**
 * The table shape Trellis compiled before one base chain (until this
 * benchmark's 2026-12-07 run), rebuilt from today's table so the dataplane
 * benchmark measures both side by side in one run:
 *
 *   from-pods (forward, prio 0):  anti-spoofing; ct established,related
 *                                 accept; iifname vmap @egress-pods; trl* drop
 *   to-pods   (forward, prio 10): ct established,related accept; oifname vmap
 *                                 @ingress-pods; trl* drop
 *   egress allow = `accept` (ending from-pods; to-pods then runs)
 *
 * So an established packet met the conntrack check twice, and a new one two
 * base chains. No revocation mark. Equal, rule for rule, to what the
 * compiler of that day emitted for the same IR (checked when it was written:
 * every rule comment, which hashes the rule's expressions, matched).
 */
import { rule, type NftChain, type NftRule, type NftTable } from "../../../policy/compiler/nft-table.js";
import { CHAIN_FROM_PODS, CHAIN_TO_PODS } from "../../../policy/compiler/to-nft.js";

const isGotoToPods = (e: unknown): boolean =>
  (e as { goto?: { target?: string } }).goto?.target === CHAIN_TO_PODS;
const accept = { accept: null };
const ctState = { match: { op: "in", left: { ct: { key: "state" } }, right: ["established", "related"] } };
const usesMark = (e: unknown): boolean => JSON.stringify(e).includes('"mark"');

/** An egress allow back to `accept`. */
function acceptEgress(r: NftRule): NftRule {
  return r.expr.some(isGotoToPods) ? rule(r.expr.map((e) => (isGotoToPods(e) ? accept : e))) : r;
}

export function twoChainShape(t: NftTable): NftTable {
  const chains: NftChain[] = [];
  for (const c of t.chains) {
    if (c.name === CHAIN_FROM_PODS) {
      const rules: NftRule[] = [];
      for (const r of c.rules) {
        if (r.expr.some(isGotoToPods)) continue; // the trailing goto: to-pods was a base chain
        if (r.expr.some((e) => usesMark(e) && JSON.stringify(e).includes('"&"'))) {
          // The established rule without its mark test; the denied-flow drop gone.
          if (!r.expr.some((e) => JSON.stringify(e) === JSON.stringify(ctState))) continue;
          rules.push(rule(r.expr.filter((e) => !usesMark(e))));
          continue;
        }
        rules.push(r);
      }
      chains.push({ ...c, rules });
    } else if (c.name === CHAIN_TO_PODS) {
      // A base chain again, with its own conntrack check; its trailing accept was the policy.
      chains.push({
        name: c.name,
        base: { type: "filter", hook: "forward", prio: 10, policy: "accept" },
        rules: [rule([ctState, { counter: null }, accept]), ...c.rules.slice(0, -1)],
      });
    } else chains.push({ ...c, rules: c.rules.map(acceptEgress) });
  }
  const maps = t.maps.map((m) => ({
    ...m,
    elements: m.elements.map(([k, v]) => [k, isGotoToPods(v) ? accept : v] as const),
  }));
  return { sets: t.sets, maps, chains };
}
