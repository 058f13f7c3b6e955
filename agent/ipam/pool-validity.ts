/**
 * Which IP pools may be allocated from, pure and deterministic: every agent
 * and `trellisctl ipam show` compute the same answer from the same list.
 *
 * A pool is invalid when its object does not validate (bad CIDR, block size,
 * selector), or when its CIDR overlaps the CIDR of any OLDER pool (order:
 * metadata.creationTimestamp, then name). Two overlapping pools would hand
 * out one address twice, and which one yields must not depend on who looked
 * first, so the older pool keeps its addresses.
 *
 * Validity depends only on older pools (valid or not, disabled or not: a
 * disabled pool still holds its running pods' addresses), so deleting a pool
 * can only make newer pools valid, never invalidate one, and a newcomer can
 * never take a range away from a pool that running pods already use.
 */
import { type IPPool, validatePool } from "../../crds/ipam.js";
import { type Prefix, formatPrefix, overlaps, parsePrefix } from "../../net/address.js";
import { type PoolView, poolView } from "./block-allocator.js";

export interface PoolVerdict {
  name: string;
  /** The pool's network when its CIDR parses (it then counts for overlap), else undefined. */
  cidr: Prefix | undefined;
  /** Parsed pool, set for every pool that validates on its own (overlap aside). */
  view: PoolView | undefined;
  /** Why the pool is not used; undefined when it is valid. */
  invalid: string | undefined;
}

interface Candidate {
  name: string;
  created: number;
  obj: unknown;
}

/** Milliseconds since the epoch; a missing or unreadable time sorts as the newest. */
function createdAt(obj: unknown): number {
  const ts = (obj as { metadata?: { creationTimestamp?: unknown } } | undefined)?.metadata?.creationTimestamp;
  const t = typeof ts === "string" ? Date.parse(ts) : Number.NaN;
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function nameOf(obj: unknown): string {
  const n = (obj as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  return typeof n === "string" ? n : "?";
}

/** Oldest first: creation time, then name (creation times have one-second resolution). */
export function poolAgeOrder(
  a: { name: string; created: number },
  b: { name: string; created: number },
): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Verdicts for every pool, oldest first. */
export function poolVerdicts(pools: readonly unknown[]): PoolVerdict[] {
  const ordered: Candidate[] = pools
    .map((obj) => ({ name: nameOf(obj), created: createdAt(obj), obj }))
    .sort(poolAgeOrder);
  const out: PoolVerdict[] = [];
  for (const c of ordered) {
    const spec = (c.obj as { spec?: { cidr?: unknown } } | undefined)?.spec;
    const parsed = typeof spec?.cidr === "string" ? parsePrefix(spec.cidr) : undefined;
    const cidr = typeof parsed === "object" ? parsed : undefined;
    const v = validatePool(c.obj);
    const view = v.ok ? poolView(v.pool) : v.reason;
    let invalid = typeof view === "string" ? view : undefined;
    if (invalid === undefined && cidr !== undefined) {
      const older = out.find((o) => o.cidr !== undefined && overlaps(o.cidr, cidr));
      if (older?.cidr !== undefined) {
        invalid = `overlaps the older pool ${older.name} (${formatPrefix(older.cidr)})`;
      }
    }
    out.push({
      name: c.name,
      cidr,
      view: typeof view === "string" ? undefined : view,
      invalid,
    });
  }
  return out;
}

/**
 * Pool views as the allocator takes them: every pool that parses, the
 * invalid ones marked with their reason (so a request that names one, or
 * asks for an address in one, is refused with it); oldest first.
 */
export function poolViewsWithValidity(pools: readonly IPPool[] | readonly unknown[]): {
  views: PoolView[];
  /** name -> reason, for every pool that is not valid (also those that do not parse). */
  invalid: Map<string, string>;
} {
  const views: PoolView[] = [];
  const invalid = new Map<string, string>();
  for (const v of poolVerdicts(pools)) {
    if (v.invalid !== undefined) invalid.set(v.name, v.invalid);
    if (v.view !== undefined)
      views.push(v.invalid !== undefined ? { ...v.view, invalid: v.invalid } : v.view);
  }
  return { views, invalid };
}
