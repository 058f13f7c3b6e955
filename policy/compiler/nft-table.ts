/**
 * The desired content of table `inet trellis` as data: named sets, verdict
 * maps, chains and rules. The compiler produces it; the nft driver
 * (agent/nft) turns it into a full transaction or diffs it against the kernel.
 *
 * Every rule carries a comment that is the hash of its expressions, so the
 * driver recognises its own rules when it reads the kernel back (felix's hash
 * comments) without comparing expressions the kernel may print differently.
 */
import { createHash } from "node:crypto";

export const TABLE_FAMILY = "inet";
export const TABLE_NAME = "trellis";

/** Which table a transaction targets: the policy table unless a caller names another of ours. */
export interface TableRef {
  readonly family: string;
  readonly name: string;
}
export const POLICY_TABLE: TableRef = { family: TABLE_FAMILY, name: TABLE_NAME };

/** An element as `nft -j` writes and lists it (address, prefix, range, concat). */
export type NftElem = unknown;
export type NftVerdict =
  { accept: null } | { drop: null } | { jump: { target: string } } | { goto: { target: string } };

export interface NftSet {
  readonly name: string;
  readonly type: string | readonly string[];
  readonly flags?: readonly string[];
  readonly elements: readonly NftElem[];
}

export interface NftMap {
  readonly name: string;
  readonly type: string | readonly string[];
  readonly elements: readonly (readonly [NftElem, NftVerdict])[];
}

export interface NftBaseChain {
  readonly type: "filter" | "nat";
  readonly hook: "forward" | "input" | "output" | "postrouting";
  readonly prio: number;
  readonly policy: "accept" | "drop";
}

export interface NftRule {
  /** Hash of `expr`: the rule's identity. */
  readonly comment: string;
  readonly expr: readonly unknown[];
}

export interface NftChain {
  readonly name: string;
  readonly base?: NftBaseChain;
  readonly rules: readonly NftRule[];
}

export interface NftTable {
  readonly sets: readonly NftSet[];
  readonly maps: readonly NftMap[];
  readonly chains: readonly NftChain[];
}

export function hashText(s: string, n = 12): string {
  return createHash("sha1").update(s).digest("hex").slice(0, n);
}

export function rule(expr: readonly unknown[]): NftRule {
  return { comment: hashText(JSON.stringify(expr), 16), expr };
}

const at = (ref: TableRef): { family: string; table: string } => ({ family: ref.family, table: ref.name });

export function setObject(s: NftSet, ref: TableRef = POLICY_TABLE): Record<string, unknown> {
  return {
    ...at(ref),
    name: s.name,
    type: s.type,
    ...(s.flags && s.flags.length > 0 ? { flags: s.flags } : {}),
  };
}

export function mapObject(m: NftMap, ref: TableRef = POLICY_TABLE): Record<string, unknown> {
  return { ...at(ref), name: m.name, type: m.type, map: "verdict" };
}

export function chainObject(c: NftChain, ref: TableRef = POLICY_TABLE): Record<string, unknown> {
  return { ...at(ref), name: c.name, ...(c.base ?? {}) };
}

export function ruleObject(chain: string, r: NftRule, ref: TableRef = POLICY_TABLE): Record<string, unknown> {
  return { ...at(ref), chain, comment: r.comment, expr: r.expr };
}

export function elementObject(
  name: string,
  elem: readonly unknown[],
  ref: TableRef = POLICY_TABLE,
): Record<string, unknown> {
  return { ...at(ref), name, elem };
}

/**
 * Every command that creates the table from nothing, in dependency order:
 * sets and maps' declarations, chains, set elements, rules, then map
 * elements (they jump to chains). With `replace`, the table is first deleted
 * in the same transaction (`add` first so the delete never fails): the atomic
 * rebuild.
 */
export function fullTransaction(
  table: NftTable,
  replace: boolean,
  ref: TableRef = POLICY_TABLE,
): Record<string, unknown>[] {
  const cmds: Record<string, unknown>[] = [];
  const tbl = { family: ref.family, name: ref.name };
  cmds.push({ add: { table: tbl } });
  if (replace) {
    cmds.push({ delete: { table: tbl } });
    cmds.push({ add: { table: tbl } });
  }
  for (const s of table.sets) cmds.push({ add: { set: setObject(s, ref) } });
  for (const m of table.maps) cmds.push({ add: { map: mapObject(m, ref) } });
  for (const c of table.chains) cmds.push({ add: { chain: chainObject(c, ref) } });
  for (const s of table.sets)
    if (s.elements.length > 0) cmds.push({ add: { element: elementObject(s.name, s.elements, ref) } });
  // Non-base chains first so a base chain never jumps into a chain whose rules are not yet there.
  const ordered = [...table.chains.filter((c) => !c.base), ...table.chains.filter((c) => c.base)];
  for (const c of ordered) for (const r of c.rules) cmds.push({ add: { rule: ruleObject(c.name, r, ref) } });
  for (const m of table.maps) {
    if (m.elements.length > 0)
      cmds.push({
        add: {
          element: elementObject(
            m.name,
            m.elements.map(([k, v]) => [k, v]),
            ref,
          ),
        },
      });
  }
  return cmds;
}

/**
 * The steps of a diff transaction, in the order they run (felix's sequencer):
 * declare new sets, maps and chains; delete stale elements before adding new
 * ones (interval sets reject overlaps); rewrite chains' rules; repoint
 * verdict-map elements; then flush the chains that go, delete them, and
 * delete the sets and maps that go. Shared by the driver's diff
 * (agent/nft/diff.ts) and the incremental compiler's deltaCommands.
 */
export class DiffSteps {
  readonly declare: Record<string, unknown>[] = [];
  readonly delElems: Record<string, unknown>[] = [];
  readonly addElems: Record<string, unknown>[] = [];
  readonly rules: Record<string, unknown>[] = [];
  readonly mapDel: Record<string, unknown>[] = [];
  readonly mapAdd: Record<string, unknown>[] = [];
  readonly flushChains: Record<string, unknown>[] = [];
  readonly deleteChains: Record<string, unknown>[] = [];
  readonly deleteSets: Record<string, unknown>[] = [];

  /** Every step's commands, in order. */
  commands(): Record<string, unknown>[] {
    return [
      ...this.declare,
      ...this.delElems,
      ...this.addElems,
      ...this.rules,
      ...this.mapDel,
      ...this.mapAdd,
      ...this.flushChains,
      ...this.deleteChains,
      ...this.deleteSets,
    ];
  }
}

/** The JSON document `nft -j -f -` reads. */
export function nftDocument(cmds: readonly Record<string, unknown>[]): {
  nftables: Record<string, unknown>[];
} {
  return { nftables: [{ metainfo: { json_schema_version: 1 } }, ...cmds] };
}
