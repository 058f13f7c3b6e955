// Turns a validated filter into a CompiledPolicy: matchers and actions built
// once, evaluation a pure function that never throws and never mutates its
// input (copy on first write, so an unchanged route keeps its attribute object
// and the RIB keeps sharing the interned set).
import type { LargeCommunity, PathAttributes } from "../wire/types.js";
import { formatAsPath, prependAs } from "../rib/as-path.js";
import { parseCommunity, parseLargeCommunity, sameLargeCommunity } from "./community.js";
import { parsePrefixMatch, prefixInRange, routePrefix } from "./prefix-match.js";
import type { PrefixRange } from "./prefix-match.js";
import { FilterObjectSchema, FilterSchema } from "./schema.js";
import type { Actions, Filter, Match } from "./schema.js";
import type { CompiledPolicy, PolicyRoute, PolicyVerdict } from "./types.js";

export class PolicyError extends Error {
  readonly code = "TRELLIS_EPOLICY";
  constructor(message: string) {
    super(message);
    this.name = "PolicyError";
  }
}

const ORIGINS = { igp: 0, egp: 1, incomplete: 2 } as const;

type Matcher = (r: PolicyRoute) => boolean;
type Action = (a: PathAttributes, r: PolicyRoute) => void;

interface CompiledTerm {
  name: string;
  match: Matcher[];
  actions: Action[];
  nextHopSelf: boolean;
  verdict: "accept" | "reject" | "next";
}

function compileMatch(m: Match): { matchers: Matcher[]; prefixDependent: boolean } {
  const out: Matcher[] = [];
  let prefixDependent = false;
  if (m.prefixes !== undefined) {
    prefixDependent = true;
    const ranges: PrefixRange[] = m.prefixes.map((p) => parsePrefixMatch(p).range!);
    out.push((r) => {
      const p = routePrefix(r.prefix);
      return p !== undefined && ranges.some((rg) => prefixInRange(p, rg));
    });
  }
  if (m.family !== undefined) {
    prefixDependent = true;
    const v6 = m.family === "ipv6";
    out.push((r) => r.prefix.includes(":") === v6);
  }
  if (m.communities !== undefined) {
    const want = m.communities.map((c) => parseCommunity(c)!);
    out.push((r) => r.attributes.communities?.some((c) => want.includes(c)) === true);
  }
  if (m.largeCommunities !== undefined) {
    const want = m.largeCommunities.map((c) => parseLargeCommunity(c)!);
    out.push(
      (r) => r.attributes.largeCommunities?.some((c) => want.some((w) => sameLargeCommunity(c, w))) === true,
    );
  }
  if (m.asPath !== undefined) {
    const ap = m.asPath;
    if (ap.regex !== undefined) {
      const re = new RegExp(ap.regex);
      out.push((r) => re.test(formatAsPath(r.attributes.asPath)));
    }
    if (ap.contains !== undefined) {
      const want = ap.contains;
      out.push((r) => r.attributes.asPath?.some((s) => s.asns.some((a) => want.includes(a))) === true);
    }
    if (ap.minLength !== undefined || ap.maxLength !== undefined) {
      const lo = ap.minLength ?? 0;
      const hi = ap.maxLength ?? Infinity;
      out.push((r) => {
        let n = 0;
        for (const s of r.attributes.asPath ?? []) n += s.type === 2 ? s.asns.length : s.type === 1 ? 1 : 0;
        return n >= lo && n <= hi;
      });
    }
  }
  if (m.neighborAs !== undefined) {
    const want = m.neighborAs;
    out.push((r) => want.includes(r.neighborAs));
  }
  if (m.origin !== undefined) {
    const o = ORIGINS[m.origin];
    out.push((r) => (r.attributes.origin ?? 2) === o);
  }
  if (m.local !== undefined) {
    const l = m.local;
    out.push((r) => r.local === l);
  }
  return { matchers: out, prefixDependent };
}

function editList<T>(
  cur: readonly T[] | undefined,
  edit: { set?: T[] | undefined; add?: T[] | undefined; remove?: T[] | undefined },
  same: (a: T, b: T) => boolean,
): T[] {
  let list = edit.set !== undefined ? edit.set.slice() : (cur ?? []).slice();
  if (edit.remove !== undefined) list = list.filter((x) => !edit.remove!.some((y) => same(x, y)));
  for (const x of edit.add ?? []) if (!list.some((y) => same(x, y))) list.push(x);
  return list;
}

function compileActions(s: Actions, localAs: number): Action[] {
  const out: Action[] = [];
  if (s.localPref !== undefined) {
    const v = s.localPref;
    out.push((a) => (a.localPref = v));
  }
  if (s.med !== undefined) {
    const v = s.med;
    out.push((a) => (a.med = v));
  }
  if (s.communities !== undefined) {
    const e = s.communities;
    const edit = {
      set: e.set?.map((c) => parseCommunity(c)!),
      add: e.add?.map((c) => parseCommunity(c)!),
      remove: e.remove?.map((c) => parseCommunity(c)!),
    };
    out.push((a) => {
      const l = editList(a.communities, edit, (x, y) => x === y);
      if (l.length > 0) a.communities = l;
      else delete a.communities;
    });
  }
  if (s.largeCommunities !== undefined) {
    const e = s.largeCommunities;
    const conv = (x: string[] | undefined): LargeCommunity[] | undefined =>
      x?.map((c) => parseLargeCommunity(c)!);
    const edit = { set: conv(e.set), add: conv(e.add), remove: conv(e.remove) };
    out.push((a) => {
      const l = editList(a.largeCommunities, edit, sameLargeCommunity);
      if (l.length > 0) a.largeCommunities = l;
      else delete a.largeCommunities;
    });
  }
  if (s.asPathPrepend !== undefined) {
    const p = s.asPathPrepend;
    const asn = typeof p === "number" ? localAs : p.asn;
    const times = typeof p === "number" ? p : p.times;
    out.push((a) => (a.asPath = prependAs(a.asPath, asn, times)));
  }
  return out;
}

export interface CompileOptions {
  /** our AS: the AS `asPathPrepend: N` prepends */
  localAs: number;
}

/** Compile a filter that already passed FilterSchema. */
export function compileFilter(filter: Filter, opts: CompileOptions): CompiledPolicy {
  if (typeof filter === "string") {
    const accept = filter === "accept";
    return {
      prefixIndependent: true,
      evaluate: (r) => (accept ? { accept: true, attributes: r.attributes } : { accept: false }),
    };
  }
  let prefixIndependent = true;
  const terms: CompiledTerm[] = filter.terms.map((t, i) => {
    const m = t.match === undefined ? { matchers: [], prefixDependent: false } : compileMatch(t.match);
    if (m.prefixDependent) prefixIndependent = false;
    return {
      name: t.name ?? `term ${i + 1}`,
      match: m.matchers,
      actions: t.set === undefined ? [] : compileActions(t.set, opts.localAs),
      nextHopSelf: t.set?.nextHopSelf === true,
      verdict: t.action,
    };
  });
  const defaultAccept = filter.default === "accept";
  return {
    prefixIndependent,
    evaluate(r: PolicyRoute): PolicyVerdict {
      let attrs = r.attributes;
      let copied = false;
      let nextHopSelf = false;
      for (const t of terms) {
        let ok = true;
        // later matchers see earlier terms' edits (a `next` term can tag a route)
        const view = copied ? { ...r, attributes: attrs } : r;
        for (const m of t.match)
          if (!m(view)) {
            ok = false;
            break;
          }
        if (!ok) continue;
        if (t.verdict === "reject") return { accept: false, term: t.name };
        if (t.actions.length > 0) {
          if (!copied) {
            attrs = { ...attrs };
            copied = true;
          }
          for (const act of t.actions) act(attrs, view);
        }
        if (t.nextHopSelf) nextHopSelf = true;
        if (t.verdict === "accept") return verdict(true, attrs, nextHopSelf, t.name);
      }
      return verdict(defaultAccept, attrs, nextHopSelf, undefined);
    },
  };
}

function verdict(
  accept: boolean,
  attributes: PathAttributes,
  nextHopSelf: boolean,
  term: string | undefined,
): PolicyVerdict {
  if (!accept) return term === undefined ? { accept: false } : { accept: false, term };
  const v: PolicyVerdict = { accept: true, attributes };
  if (nextHopSelf) v.nextHopSelf = true;
  if (term !== undefined) v.term = term;
  return v;
}

/**
 * Validate untrusted filter input (a config file fragment) and compile it.
 * Errors name the path of the bad field, e.g. `terms.0.match.prefixes.1`.
 */
export function parseFilter(input: unknown, opts: CompileOptions, where = "filter"): CompiledPolicy {
  // Parse against the branch the input is meant for, so errors point into it.
  const r = (typeof input === "object" && input !== null ? FilterObjectSchema : FilterSchema).safeParse(
    input,
  );
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = [where, ...issue.path.map(String)].join(".");
    throw new PolicyError(`${path}: ${issue.message}`);
  }
  return compileFilter(r.data, opts);
}
