/**
 * Closed intervals of addresses, for either family: IPv4 as numbers
 * (ipv4.ts), IPv6 as bigints (ipv6.ts). The two differ only in their number
 * type, so the arithmetic is written once over `T` with the step of one
 * address (`next`, `prev`) given by the caller.
 */
export interface Interval<T extends number | bigint> {
  readonly start: T;
  readonly end: T; // inclusive
}

export interface Steps<T> {
  next(v: T): T;
  prev(v: T): T;
}

/** Sorted, merged (overlapping and adjacent joined) union of intervals. */
export function mergeIntervals<T extends number | bigint>(
  list: readonly Interval<T>[],
  steps: Steps<T>,
): Interval<T>[] {
  const sorted = [...list].sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0,
  );
  const out: { start: T; end: T }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= steps.next(last.end)) last.end = last.end > r.end ? last.end : r.end;
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** `base` minus every interval in `holes`. */
export function subtractIntervals<T extends number | bigint>(
  base: Interval<T>,
  holes: readonly Interval<T>[],
  steps: Steps<T>,
): Interval<T>[] {
  let cur: Interval<T>[] = [base];
  for (const h of mergeIntervals(holes, steps)) {
    const next: Interval<T>[] = [];
    for (const r of cur) {
      if (h.end < r.start || h.start > r.end) {
        next.push(r);
        continue;
      }
      if (h.start > r.start) next.push({ start: r.start, end: steps.prev(h.start) });
      if (h.end < r.end) next.push({ start: steps.next(h.end), end: r.end });
    }
    cur = next;
  }
  return cur;
}
