/**
 * The natOutgoing manager, in the style of the policy manager: the pool
 * handler only computes the desired table and marks it (no I/O); one loop
 * hands the latest desired table to an `NftDriver` on table
 * `inet trellis-nat` (full atomic replace first, diffs after, rebuild on
 * rejection, last good table restored). A failed apply is retried with
 * capped backoff; every `resyncIntervalMs` the kernel is read back and
 * repaired.
 *
 * The agent calls `setPools` only after its first full sync (never sweep
 * kernel state before it), and on every IPPool change after that, so a pool
 * flipped to or from natOutgoing takes effect without a restart. Existing
 * connections keep the translation conntrack gave them (nat rules are only
 * consulted for a connection's first packet).
 */
import type { NftTable } from "../../policy/compiler/nft-table.js";
import type { NftBackend } from "../nft/backend.js";
import { NftDriver } from "../nft/driver.js";
import { describeNatPlan, NAT_TABLE, natPlan, natTable } from "./nat-table.js";

export interface NatLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface NatManagerOptions {
  /** Lists and writes `inet trellis-nat` (ExecNft with `table: NAT_TABLE`, or FakeNft). */
  backend: NftBackend;
  serviceCidrs: readonly string[];
  log: NatLogger;
  resyncIntervalMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class NatManager {
  private readonly driver: NftDriver;
  private desired: NftTable | undefined;
  private lastPlanText = "";
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  /** Applies that reached the kernel (tests, metrics). */
  applied = 0;
  /** The last apply's error, undefined once an apply succeeds. */
  lastError: string | undefined;

  constructor(private readonly o: NatManagerOptions) {
    this.driver = new NftDriver(o.backend, o.log, { table: NAT_TABLE });
  }

  /** The pools as listed (unvalidated objects); recompute and apply. No I/O here. */
  setPools(pools: readonly unknown[]): void {
    if (this.stopped) return;
    const plan = natPlan(pools, this.o.serviceCidrs);
    const text = JSON.stringify({ ...describeNatPlan(plan), skipped: plan.skipped });
    if (text !== this.lastPlanText) {
      this.lastPlanText = text;
      this.o.log.info(
        { masquerade: describeNatPlan(plan), skipped: plan.skipped },
        "natOutgoing: sources to masquerade",
      );
    }
    this.desired = natTable(plan);
    this.kick();
    if (this.resyncTimer === undefined && this.o.resyncIntervalMs !== undefined) {
      this.resyncTimer = setInterval(() => {
        this.driver.requestResync();
        this.kick();
      }, this.o.resyncIntervalMs).unref();
    }
  }

  private kick(): void {
    if (this.stopped || this.desired === undefined) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const want = this.desired;
      if (want === undefined) return;
      try {
        const r = await this.driver.apply(want);
        this.applied++;
        this.failures = 0;
        this.lastError = undefined;
        if (r.recoveredFrom !== undefined)
          this.o.log.warn({ err: r.recoveredFrom }, "natOutgoing: table inet trellis-nat rebuilt");
      } catch (e) {
        this.failures++;
        this.lastError = e instanceof Error ? e.message : String(e);
        const min = this.o.retryMinMs ?? 200;
        const delay = Math.min(this.o.retryMaxMs ?? 30_000, min * 2 ** (this.failures - 1));
        this.o.log.warn({ err: this.lastError, retryMs: delay }, "natOutgoing: apply failed; will retry");
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.kick(), delay).unref();
        return;
      }
    } while (this.again && !this.stopped);
  }

  /** Resolves when no apply is running or queued (tests). */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Stops applying; the table stays (pods keep their NAT while the agent restarts). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    await this.settled();
    this.o.backend.close?.();
  }
}
