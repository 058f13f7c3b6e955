/**
 * Observed kernel table vs desired content -> the minimal transaction,
 * ordered like felix's sequencer: declare new sets, maps and chains; remove
 * stale elements before adding new ones (interval sets reject overlaps);
 * rewrite only chains whose rules changed; repoint verdict-map elements;
 * then delete what is gone (chains flushed before deleted, sets last).
 * Returns "rebuild" when an object changed shape (type, flags, hook), which
 * only a full atomic rebuild can fix.
 */
import {
  chainObject,
  DiffSteps,
  elementObject,
  mapObject,
  ruleObject,
  setObject,
  POLICY_TABLE,
  type NftTable,
  type TableRef,
} from "../../policy/compiler/nft-table.js";
import { elemKey, type ObservedTable } from "./kernel-state.js";

type Cmd = Record<string, unknown>;

export function diffTable(
  obs: ObservedTable,
  want: NftTable,
  ref: TableRef = POLICY_TABLE,
): Cmd[] | "rebuild" {
  const t = { family: ref.family, table: ref.name };
  const steps = new DiffSteps();
  const { declare, delElems, addElems, rules, mapDel, mapAdd, flushChains, deleteChains, deleteSets } = steps;

  const wanted = new Set<string>();
  for (const s of want.sets) {
    wanted.add(s.name);
    const o = obs.sets.get(s.name);
    const byKey = new Map(s.elements.map((e) => [elemKey(e), e] as const));
    if (!o) {
      declare.push({ add: { set: setObject(s, ref) } });
      if (s.elements.length > 0) addElems.push({ add: { element: elementObject(s.name, s.elements, ref) } });
      continue;
    }
    if (
      o.isMap ||
      JSON.stringify(o.type) !== JSON.stringify(s.type) ||
      JSON.stringify(o.flags) !== JSON.stringify(s.flags ?? [])
    ) {
      return "rebuild";
    }
    const gone = [...o.elements].filter((k) => !byKey.has(k)).map((k) => JSON.parse(k) as unknown);
    const fresh = [...byKey].filter(([k]) => !o.elements.has(k)).map(([, e]) => e);
    if (gone.length > 0) delElems.push({ delete: { element: elementObject(s.name, gone, ref) } });
    if (fresh.length > 0) addElems.push({ add: { element: elementObject(s.name, fresh, ref) } });
  }
  for (const m of want.maps) {
    wanted.add(m.name);
    const o = obs.sets.get(m.name);
    if (!o) {
      declare.push({ add: { map: mapObject(m, ref) } });
      if (m.elements.length > 0)
        mapAdd.push({
          add: {
            element: elementObject(
              m.name,
              m.elements.map((e) => [e[0], e[1]]),
              ref,
            ),
          },
        });
      continue;
    }
    if (!o.isMap || JSON.stringify(o.type) !== JSON.stringify(m.type)) return "rebuild";
    const want = new Map(m.elements.map((e) => [elemKey([e[0], e[1]]), e] as const));
    // A changed verdict is a delete of the old pair and an add of the new one.
    const gone = [...o.elements].filter((k) => !want.has(k)).map((k) => (JSON.parse(k) as unknown[])[0]);
    const fresh = [...want].filter(([k]) => !o.elements.has(k)).map(([, e]) => [e[0], e[1]]);
    if (gone.length > 0) mapDel.push({ delete: { element: elementObject(m.name, gone, ref) } });
    if (fresh.length > 0) mapAdd.push({ add: { element: elementObject(m.name, fresh, ref) } });
  }

  const wantedChains = new Set<string>();
  for (const c of want.chains) {
    wantedChains.add(c.name);
    const o = obs.chains.get(c.name);
    if (!o) {
      declare.push({ add: { chain: chainObject(c, ref) } });
      for (const r of c.rules) rules.push({ add: { rule: ruleObject(c.name, r, ref) } });
      continue;
    }
    if (JSON.stringify(o.base ?? null) !== JSON.stringify(c.base ?? null)) return "rebuild";
    const same =
      o.comments.length === c.rules.length && o.comments.every((x, i) => x === c.rules[i]?.comment);
    if (same) continue;
    rules.push({ flush: { chain: { ...t, name: c.name } } });
    for (const r of c.rules) rules.push({ add: { rule: ruleObject(c.name, r, ref) } });
  }
  const staleChains = [...obs.chains.keys()].filter((n) => !wantedChains.has(n));
  for (const n of staleChains) flushChains.push({ flush: { chain: { ...t, name: n } } });
  for (const n of staleChains) deleteChains.push({ delete: { chain: { ...t, name: n } } });
  for (const [n, o] of obs.sets) {
    if (!wanted.has(n)) deleteSets.push({ delete: { [o.isMap ? "map" : "set"]: { ...t, name: n } } });
  }
  return steps.commands();
}
