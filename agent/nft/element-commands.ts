/**
 * Which transactions can skip the `nft` process: those made only of set and
 * verdict-map element adds and deletes (a pod added or deleted, a label
 * changed: the CNI ADD's and DEL's transactions), on sets whose declaration
 * the driver knows. Those go to the kernel as one nf_tables netlink batch
 * (net/netlink/nftables.ts); anything else — tables, chains, rules, set
 * declarations, a full rebuild — stays with `nft`, which knows how to write
 * rules.
 *
 * The codec needs each set's key type and flags, which an element command
 * does not carry: the driver keeps them (`SetShapes`) from the tables it
 * applied and the declarations it sent.
 */
import { isRecord, setShape, type ElementChange, type SetShape } from "../../net/netlink/nftables.js";
import type { NftTable, TableRef } from "../../policy/compiler/nft-table.js";

/** Set or map name -> what its elements look like; a set the codec cannot encode is absent. */
export type SetShapes = Map<string, SetShape>;

/** The shapes of every set and map of a table (as applied whole). */
export function shapesOfTable(t: NftTable): SetShapes {
  const out: SetShapes = new Map();
  for (const s of t.sets) {
    const sh = setShape(s.type, s.flags ?? [], undefined);
    if (typeof sh !== "string") out.set(s.name, sh);
  }
  for (const m of t.maps) {
    const sh = setShape(m.type, [], "verdict");
    if (typeof sh !== "string") out.set(m.name, sh);
  }
  return out;
}

type Cmd = Record<string, unknown>;

/** The verb and the object of a command: `{add: {set: {...}}}` -> ["add", "set", {...}]. */
function parts(c: Cmd): [string, string, Record<string, unknown>] | undefined {
  const verbs = Object.keys(c);
  if (verbs.length !== 1) return undefined;
  const verb = verbs[0]!;
  const body = c[verb];
  if (!isRecord(body)) return undefined;
  const kinds = Object.keys(body);
  if (kinds.length !== 1) return undefined;
  const obj = body[kinds[0]!];
  return isRecord(obj) ? [verb, kinds[0]!, obj] : undefined;
}

const ours = (o: Record<string, unknown>, ref: TableRef): boolean =>
  o["family"] === ref.family && o["table"] === ref.name;

/**
 * The shapes after `cmds` applied: set and map declarations added, deleted
 * ones removed. A table-level command (the full rebuild) is the caller's:
 * it takes the shapes of the whole table instead.
 */
export function updateShapes(shapes: SetShapes, cmds: readonly Cmd[], ref: TableRef): void {
  for (const c of cmds) {
    const p = parts(c);
    if (p === undefined) continue;
    const [verb, kind, o] = p;
    if ((kind !== "set" && kind !== "map") || !ours(o, ref) || typeof o["name"] !== "string") continue;
    if (verb === "delete") {
      shapes.delete(o["name"]);
    } else if (verb === "add") {
      const type = o["type"] as string | readonly string[];
      const flags = Array.isArray(o["flags"]) ? (o["flags"] as string[]) : [];
      const sh = setShape(type, flags, kind === "map" ? String(o["map"]) : undefined);
      if (typeof sh === "string") shapes.delete(o["name"]);
      else shapes.set(o["name"], sh);
    }
  }
}

/**
 * `cmds` as element changes when every one of them is an element add or
 * delete on a known set of table `ref`, and there are at most `maxElements`
 * elements; undefined otherwise (the transaction goes to `nft`). The order
 * is kept: the kernel applies a batch's messages in order, so a stale
 * interval deleted before its replacement is added (diff.ts's order) works
 * as it does through `nft`.
 */
export function elementChanges(
  cmds: readonly Cmd[],
  shapes: ReadonlyMap<string, SetShape>,
  ref: TableRef,
  maxElements: number,
): ElementChange[] | undefined {
  const out: ElementChange[] = [];
  let n = 0;
  for (const c of cmds) {
    const p = parts(c);
    if (p === undefined) return undefined;
    const [verb, kind, o] = p;
    if (kind !== "element" || (verb !== "add" && verb !== "delete") || !ours(o, ref)) return undefined;
    const name = o["name"];
    const shape = typeof name === "string" ? shapes.get(name) : undefined;
    if (shape === undefined || !Array.isArray(o["elem"])) return undefined;
    n += o["elem"].length;
    if (n > maxElements) return undefined;
    out.push({
      op: verb,
      family: ref.family,
      table: ref.name,
      set: name as string,
      shape,
      elements: o["elem"] as unknown[],
    });
  }
  return out;
}
