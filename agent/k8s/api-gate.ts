/**
 * One agent, one view of whether the API server is there. Each informer has
 * its own backoff (informer-backoff.ts), but an agent watches a dozen kinds
 * over the same connection: when the API server goes away, every watch
 * breaks at once, and a dozen independent backoffs make a dozen requests per
 * step, multiplied by every node. The gate turns that into one probe per
 * agent: the first informer that fails becomes the prober and keeps retrying
 * on its own backoff; every other informer that fails meanwhile waits for
 * the gate instead of trying. The first success of any informer (a list
 * completed, a watch delivered) opens the gate and releases every waiter at
 * once, each with its own failure count kept.
 *
 * A waiter never waits longer than `maxWaitMs` (the backoff ceiling): a
 * prober that fails for a reason of its own (a kind it may not read) must
 * not hold the others back for good; they then try once and wait again.
 *
 * The decisions are pure (`gateStep`); `ApiGate` holds the waiters and
 * their timers.
 */

export interface GateState {
  /** Some informer failed and nobody has succeeded since. */
  down: boolean;
  /** The informer allowed to attempt while the gate is down. */
  prober: string | undefined;
}

export type GateEvent =
  /** An informer's list or watch failed (the API server, not a refused rollback). */
  | { type: "failed"; informer: string }
  /** An informer listed or its watch delivered: the API server answers. */
  | { type: "succeeded"; informer: string }
  /** An informer's backoff ran out: may it attempt now? */
  | { type: "ask"; informer: string }
  /** An informer stopped: it neither probes nor waits any more. */
  | { type: "gone"; informer: string };

export type GateDecision =
  /** ask: go ahead. */
  | "attempt"
  /** ask: wait for the gate to open (or for the longest wait). */
  | "wait"
  /** succeeded while down: release every waiter. */
  | "release"
  /** gone: the prober left; hand the probe to one waiter. */
  | "promote"
  | "none";

export function initialGate(): GateState {
  return { down: false, prober: undefined };
}

export function gateStep(s: GateState, e: GateEvent): { state: GateState; decision: GateDecision } {
  switch (e.type) {
    case "failed":
      return { state: { down: true, prober: s.prober ?? e.informer }, decision: "none" };
    case "succeeded":
      if (!s.down) return { state: s, decision: "none" };
      return { state: initialGate(), decision: "release" };
    case "ask":
      if (!s.down || s.prober === e.informer) return { state: s, decision: "attempt" };
      if (s.prober === undefined) return { state: { ...s, prober: e.informer }, decision: "attempt" };
      return { state: s, decision: "wait" };
    case "gone":
      if (s.prober !== e.informer) return { state: s, decision: "none" };
      return { state: { ...s, prober: undefined }, decision: s.down ? "promote" : "none" };
  }
}

export class ApiGate {
  private state = initialGate();
  private readonly waiting = new Map<string, { go: () => void; timer: NodeJS.Timeout }>();

  constructor(private readonly maxWaitMs: number) {}

  get down(): boolean {
    return this.state.down;
  }

  /** Informers waiting for the gate (status, tests). */
  get waiters(): number {
    return this.waiting.size;
  }

  failed(informer: string): void {
    this.apply({ type: "failed", informer });
  }

  succeeded(informer: string): void {
    this.apply({ type: "succeeded", informer });
  }

  /** Runs `go` now if this informer may attempt, else once the gate opens (or after the longest wait). */
  whenMayAttempt(informer: string, go: () => void): void {
    if (this.apply({ type: "ask", informer }) === "attempt") {
      go();
      return;
    }
    this.drop(informer);
    const timer = setTimeout(() => {
      this.waiting.delete(informer);
      go();
    }, this.maxWaitMs);
    timer.unref?.();
    this.waiting.set(informer, { go, timer });
  }

  gone(informer: string): void {
    this.drop(informer);
    if (this.apply({ type: "gone", informer }) === "promote") {
      const next = this.waiting.keys().next();
      if (!next.done) this.release(next.value);
    }
  }

  private apply(e: GateEvent): GateDecision {
    const r = gateStep(this.state, e);
    this.state = r.state;
    if (r.decision === "release") for (const name of [...this.waiting.keys()]) this.release(name);
    return r.decision;
  }

  private release(informer: string): void {
    const w = this.waiting.get(informer);
    if (w === undefined) return;
    this.waiting.delete(informer);
    clearTimeout(w.timer);
    // Promoted waiters become the prober through their own "ask".
    this.whenMayAttempt(informer, w.go);
  }

  private drop(informer: string): void {
    const w = this.waiting.get(informer);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.waiting.delete(informer);
  }
}
