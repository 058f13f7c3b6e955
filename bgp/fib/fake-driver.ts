// An in-memory kernel routing table with the FibDriver interface. It keeps
// the kernel's semantics that matter to the core: `replace` is atomic and
// idempotent, deleting a missing route is an error (ESRCH, which the real
// driver treats as done), and a gateway can be declared unreachable so that
// installing through it fails like "Nexthop has invalid gateway".
import { canonicalNextHops } from "./route.js";
import type { KernelRoute } from "./route.js";
import type { FibOp } from "./fib-sync.js";
import type { FibDriver, FibOpFailure } from "./driver.js";

export class FakeFibDriver implements FibDriver {
  readonly routes = new Map<string, KernelRoute>();
  readonly unreachable = new Set<string>();
  /** every batch applied, for assertions on batching */
  readonly batches: FibOp[][] = [];
  listCalls = 0;
  closed = false;

  constructor(initial: readonly KernelRoute[] = []) {
    for (const r of initial)
      this.routes.set(r.prefix, { prefix: r.prefix, nexthops: canonicalNextHops(r.nexthops) });
  }

  list(): Promise<KernelRoute[]> {
    this.listCalls++;
    return Promise.resolve([...this.routes.values()]);
  }

  apply(ops: readonly FibOp[]): Promise<FibOpFailure[]> {
    this.batches.push([...ops]);
    const failures: FibOpFailure[] = [];
    for (const op of ops) {
      if (op.op === "replace") {
        const bad = op.route.nexthops.find((nh) => this.unreachable.has(nh.via));
        if (bad !== undefined) failures.push({ op, error: "Error: Nexthop has invalid gateway." });
        else this.routes.set(op.route.prefix, op.route);
      } else if (!this.routes.delete(op.prefix)) {
        // like the real driver: a route already gone is what we wanted
      }
    }
    return Promise.resolve(failures);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** sorted dump for golden comparisons */
  dump(): string[] {
    return [...this.routes.values()]
      .map((r) => `${r.prefix} ${r.nexthops.map((n) => n.via).join(",")}`)
      .sort();
  }
}
