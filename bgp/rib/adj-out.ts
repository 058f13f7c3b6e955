// One peer's Adj-RIB-Out (RFC 4271 §3.2: what we last advertised to it), keyed
// by the destination id of dest-table.ts: an array slot per destination
// instead of a Map entry and a prefix string. The array grows only as far as
// the highest destination ever advertised to the peer, so a peer we send
// nothing to (a route injector, a pure receiver's upstream) costs nothing.
import type { AttrSet } from "./attr-set.js";

export class AdjRibOut {
  private sets: (AttrSet | undefined)[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(d: number): AttrSet | undefined {
    return d < this.sets.length ? this.sets[d] : undefined;
  }

  set(d: number, set: AttrSet): void {
    const sets = this.sets;
    // grow by appending (never a hole: the array stays in fast elements)
    while (sets.length <= d) sets.push(undefined);
    if (sets[d] === undefined) this.count++;
    sets[d] = set;
  }

  /** Remove and return the entry, if any. */
  delete(d: number): AttrSet | undefined {
    const had = this.get(d);
    if (had !== undefined) {
      this.sets[d] = undefined;
      this.count--;
    }
    return had;
  }

  /** Drop every entry, handing each set to `release` (to drop its reference). */
  clear(release: (set: AttrSet) => void): void {
    for (const s of this.sets) if (s !== undefined) release(s);
    this.sets = [];
    this.count = 0;
  }

  /** [destination id, set] in id order */
  *entries(): IterableIterator<[number, AttrSet]> {
    const sets = this.sets;
    for (let d = 0; d < sets.length; d++) {
      const s = sets[d];
      if (s !== undefined) yield [d, s];
    }
  }
}
