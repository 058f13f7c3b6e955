/**
 * A manual clock with the same interface as systemClock, for tests: time moves
 * only when `advance(ms)` is called, and due timers fire in order.
 */
import type { Clock, TimerHandle } from "./clock.js";

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<object, Entry>();
  private readonly rand: () => number;

  constructor(start = 0, random: () => number = () => 0.5) {
    this.t = start;
    this.rand = random;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const h = {};
    this.timers.set(h, { at: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return h;
  }

  clearTimeout(h: TimerHandle): void {
    this.timers.delete(h as object);
  }

  random(): number {
    return this.rand();
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** Move time forward, firing every timer due by then (including ones set while firing). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [object, Entry] | undefined;
      for (const e of this.timers) {
        if (
          e[1].at <= end &&
          (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq))
        ) {
          next = e;
        }
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}
