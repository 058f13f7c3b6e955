/**
 * Reads `nft -j list table inet trellis` back into the table model, so the
 * driver can diff. Rules are identified by their hash comment; a rule
 * without one is not ours, so its chain no longer matches and is rewritten.
 */
import type { NftBaseChain, NftTable } from "../../policy/compiler/nft-table.js";

export interface ObservedSet {
  readonly name: string;
  readonly type: unknown;
  readonly flags: readonly string[];
  readonly isMap: boolean;
  /** Canonical JSON text of each element (map elements as [key, verdict]). */
  readonly elements: ReadonlySet<string>;
}

export interface ObservedChain {
  readonly name: string;
  readonly base?: NftBaseChain;
  readonly comments: readonly string[];
}

export interface ObservedTable {
  readonly sets: ReadonlyMap<string, ObservedSet>;
  readonly chains: ReadonlyMap<string, ObservedChain>;
}

export function elemKey(e: unknown): string {
  return JSON.stringify(e);
}

export function parseListing(doc: { nftables: unknown[] }): ObservedTable {
  const sets = new Map<string, ObservedSet>();
  const chains = new Map<string, { name: string; base?: NftBaseChain; comments: string[] }>();
  for (const item of doc.nftables) {
    const o = item as Record<string, Record<string, unknown>>;
    if (o["set"] || o["map"]) {
      const s = (o["set"] ?? o["map"]) as Record<string, unknown>;
      const elems = (s["elem"] as unknown[] | undefined) ?? [];
      sets.set(s["name"] as string, {
        name: s["name"] as string,
        type: s["type"],
        flags: (s["flags"] as string[] | undefined) ?? [],
        isMap: o["map"] !== undefined,
        elements: new Set(elems.map(elemKey)),
      });
    } else if (o["chain"]) {
      const c = o["chain"];
      const base =
        c["hook"] !== undefined
          ? ({ type: c["type"], hook: c["hook"], prio: c["prio"], policy: c["policy"] } as NftBaseChain)
          : undefined;
      chains.set(c["name"] as string, { name: c["name"] as string, ...(base ? { base } : {}), comments: [] });
    } else if (o["rule"]) {
      const r = o["rule"];
      chains.get(r["chain"] as string)?.comments.push((r["comment"] as string | undefined) ?? "<foreign>");
    }
  }
  return { sets, chains };
}

/** The model of a desired table in the same observed shape (for diffs and tests). */
export function observe(t: NftTable): ObservedTable {
  const sets = new Map<string, ObservedSet>();
  for (const s of t.sets) {
    sets.set(s.name, {
      name: s.name,
      type: s.type,
      flags: s.flags ?? [],
      isMap: false,
      elements: new Set(s.elements.map(elemKey)),
    });
  }
  for (const m of t.maps) {
    sets.set(m.name, {
      name: m.name,
      type: m.type,
      flags: [],
      isMap: true,
      elements: new Set(m.elements.map((e) => elemKey([e[0], e[1]]))),
    });
  }
  const chains = new Map<string, ObservedChain>();
  for (const c of t.chains)
    chains.set(c.name, {
      name: c.name,
      ...(c.base ? { base: c.base } : {}),
      comments: c.rules.map((r) => r.comment),
    });
  return { sets, chains };
}
