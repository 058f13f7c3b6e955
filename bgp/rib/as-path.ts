// AS_PATH facts the decision process and the export rules need.
import type { AsPathSegment } from "../wire/types.js";

const AS_SET = 1;
const AS_SEQUENCE = 2;

/**
 * Path length for best-path selection (RFC 4271 §9.1.2.2 a): an AS_SET counts
 * as 1 whatever its size; confederation segments count 0 (RFC 5065 §5.3).
 */
export function asPathLength(path: readonly AsPathSegment[] | undefined): number {
  if (path === undefined) return 0;
  let n = 0;
  for (const seg of path) {
    if (seg.type === AS_SEQUENCE) n += seg.asns.length;
    else if (seg.type === AS_SET) n += 1;
  }
  return n;
}

/**
 * The neighbouring AS for MED comparison (RFC 4271 §9.1.2.2 c): the first AS
 * of the leftmost AS_SEQUENCE; undefined for an empty path (a route from our
 * own AS), which the caller maps to the local AS.
 */
export function neighborAs(path: readonly AsPathSegment[] | undefined): number | undefined {
  if (path === undefined) return undefined;
  for (const seg of path) {
    if (seg.type === AS_SEQUENCE && seg.asns.length > 0) return seg.asns[0];
    if (seg.type === AS_SET) return undefined;
  }
  return undefined;
}

export function asPathContains(path: readonly AsPathSegment[] | undefined, asn: number): boolean {
  if (path === undefined) return false;
  for (const seg of path) if (seg.asns.includes(asn)) return true;
  return false;
}

/**
 * Prepend `asn` `times` times (RFC 4271 §5.1.2: to an external peer the speaker
 * prepends its own AS as the leftmost AS_SEQUENCE element, opening a new
 * segment when the first one is an AS_SET or full at 255 ASes).
 */
export function prependAs(
  path: readonly AsPathSegment[] | undefined,
  asn: number,
  times = 1,
): AsPathSegment[] {
  const out: AsPathSegment[] = (path ?? []).map((s) => ({ type: s.type, asns: s.asns.slice() }));
  for (let i = 0; i < times; i++) {
    const first = out[0];
    if (first !== undefined && first.type === AS_SEQUENCE && first.asns.length < 255) first.asns.unshift(asn);
    else out.unshift({ type: AS_SEQUENCE, asns: [asn] });
  }
  return out;
}

/** "65001 65002 {65003 65004}" for display and for AS-path regex matching. */
export function formatAsPath(path: readonly AsPathSegment[] | undefined): string {
  if (path === undefined) return "";
  const parts: string[] = [];
  for (const seg of path) {
    const s = seg.asns.join(" ");
    if (seg.type === AS_SEQUENCE) parts.push(s);
    else if (seg.type === AS_SET) parts.push(`{${s}}`);
    else if (seg.type === 3) parts.push(`(${s})`);
    else parts.push(`[${s}]`);
  }
  return parts.filter((p) => p.length > 0).join(" ");
}
