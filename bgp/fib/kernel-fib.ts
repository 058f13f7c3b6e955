// The thin shell around FibSync: feeds Loc-RIB changes in, applies the
// coalesced operations through a driver, one batch in flight at a time, and
// repairs from a kernel readback after any failure (docs/architecture.md: resync from
// scratch after any failure; never sweep before the first full sync).
import { FibSync } from "./fib-sync.js";
import type { FibDriver, FibOpFailure } from "./driver.js";

export interface FibChangeIn {
  prefix: string;
  /** gateway addresses; empty removes the route */
  nexthops: readonly string[];
}

export interface KernelFibOptions {
  /** without ECMP only the first next hop is installed */
  ecmp?: boolean;
  /** operations per driver call (default 4096): bounds memory and lets the pipe's backpressure work */
  batchSize?: number;
  /** called with failures that a reconcile could not repair */
  onError?: (failures: FibOpFailure[] | Error) => void;
}

export interface KernelFibStats {
  desired: number;
  installed: number;
  pending: number;
  synced: boolean;
  batches: number;
  ops: number;
  failures: number;
}

export class KernelFib {
  private readonly core = new FibSync();
  private readonly driver: FibDriver;
  private readonly opts: KernelFibOptions;
  private running: Promise<void> | null = null;
  private again = false;
  private started = false;
  private readonly stats = { batches: 0, ops: 0, failures: 0 };

  constructor(driver: FibDriver, opts: KernelFibOptions = {}) {
    this.driver = driver;
    this.opts = opts;
  }

  /**
   * Read our routes back from the kernel (left by an earlier run or kept across
   * our own graceful restart) and install what is already desired. Nothing
   * found there is removed until markSynced(). Returns how many routes were found.
   */
  async start(): Promise<number> {
    const found = await this.driver.list();
    const ops = this.core.reconcile(found);
    this.started = true;
    for (let i = 0; i < ops.length; i += this.opts.batchSize ?? 4096)
      await this.applyOps(ops.slice(i, i + (this.opts.batchSize ?? 4096)));
    this.kick();
    return found.length;
  }

  update(changes: readonly FibChangeIn[]): void {
    for (const c of changes)
      this.core.setGateways(c.prefix, this.opts.ecmp === false ? c.nexthops.slice(0, 1) : c.nexthops);
    this.kick();
  }

  /** FibSink shape of bgp/speaker.ts: same as update(). */
  apply(changes: readonly FibChangeIn[]): void {
    this.update(changes);
  }

  /** The first full sync is done (End-of-RIB from every peer, or the deferral timer): sweep leftovers. */
  async markSynced(): Promise<void> {
    await this.idle();
    const ops = this.core.markSynced();
    for (let i = 0; i < ops.length; i += this.opts.batchSize ?? 4096)
      await this.applyOps(ops.slice(i, i + (this.opts.batchSize ?? 4096)));
  }

  get isSynced(): boolean {
    return this.core.isSynced;
  }

  /** Routes installed in the kernel per family (status; O(n)). */
  installedByFamily(): { v4: number; v6: number } {
    return this.core.installedByFamily();
  }

  getStats(): KernelFibStats {
    return {
      desired: this.core.desiredCount,
      installed: this.core.installedCount,
      pending: this.core.pendingCount,
      synced: this.core.isSynced,
      ...this.stats,
    };
  }

  /** Resolves when every change given so far is applied. */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  async close(): Promise<void> {
    await this.idle();
    await this.driver.close();
  }

  private kick(): void {
    if (!this.started) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      // let the event loop gather more changes into this batch
      await new Promise<void>((r) => setImmediate(r));
      // Two batches outstanding at most: the next one is taken and handed to the
      // driver (which encodes it and queues it behind this one) while the kernel
      // applies this one, so the event loop's share of the work overlaps the
      // kernel's; the driver keeps them in order (driver.ts).
      let inFlight: Promise<void> | undefined;
      do {
        this.again = false;
        const next = this.applyOps(this.core.takeOps(this.opts.batchSize ?? 4096));
        if (inFlight !== undefined) await inFlight;
        inFlight = next;
        // let changes that arrived meanwhile join the next batch
        if (this.core.pendingCount === 0 && !this.again) await inFlight;
      } while (this.again || this.core.pendingCount > 0);
      await inFlight;
    })().finally(() => {
      this.running = null;
    });
  }

  private async applyOps(ops: ReturnType<FibSync["takeOps"]>): Promise<void> {
    if (ops.length === 0) return;
    this.stats.batches++;
    this.stats.ops += ops.length;
    let failures: FibOpFailure[] | Error;
    try {
      failures = await this.driver.apply(ops);
    } catch (e) {
      failures = e instanceof Error ? e : new Error(String(e));
    }
    if (Array.isArray(failures) && failures.length === 0) return;
    this.stats.failures += Array.isArray(failures) ? failures.length : 1;
    // Repair once from what the kernel really holds; what still fails is reported.
    try {
      const repair = this.core.reconcile(await this.driver.list());
      const left = repair.length === 0 ? [] : await this.driver.apply(repair);
      if (left.length > 0) {
        this.core.failed(left.map((f) => f.op));
        this.opts.onError?.(left);
      }
    } catch (e) {
      this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
