/**
 * The nft driver: keeps table `inet trellis` equal to the compiler's output.
 *
 * - The first apply (and any apply after a failure) replaces the whole table
 *   in one transaction (`add; delete; add …` so it never fails on absence):
 *   the kernel goes from the old table to the new one with nothing between.
 * - Later applies diff against what the driver last applied and send only
 *   the difference (set and map element changes, rewritten chains) as one
 *   transaction. Reading a large table back costs far more than the update
 *   itself (seconds at 10k pods), so the kernel is read back — and the diff
 *   taken against what is really there — on the first diff after start, after
 *   any failure, and whenever `requestResync()` asks (the agent calls it on a
 *   timer, as felix does); foreign or missing objects are then repaired.
 * - If that transaction is rejected, the driver rebuilds the table atomically
 *   from the desired content; if that is rejected too, from the last content
 *   that applied (the kernel keeps the last good rules either way: nft
 *   transactions are all or nothing), and reports the error.
 * Only its one table is ever read or written: `inet trellis` unless the
 * caller names another table of ours (`inet trellis-nat`, agent/nat/); the
 * backend must list that same table.
 */
import type { NftTable, TableRef } from "../../policy/compiler/nft-table.js";
import { POLICY_TABLE, fullTransaction, nftDocument } from "../../policy/compiler/nft-table.js";
import { NftError, type NftBackend } from "./backend.js";
import { diffTable } from "./diff.js";
import { observe, parseListing, type ObservedTable } from "./kernel-state.js";

export interface ApplyResult {
  readonly mode: "noop" | "diff" | "full";
  /** Commands in the applied transaction (0 for noop). */
  readonly commands: readonly Record<string, unknown>[];
  /** The error that forced a full rebuild, if one did. */
  readonly recoveredFrom?: string;
}

export interface DriverLogger {
  warn(obj: object, msg: string): void;
}

export class NftDriver {
  private lastGood: NftTable | undefined;
  private needFull = true;
  /** What the kernel holds if nothing else touched it: the last applied content. */
  private applied: ObservedTable | undefined;
  private readBack = true;

  private readonly table: TableRef;

  constructor(
    private readonly backend: NftBackend,
    private readonly log?: DriverLogger,
    opts: { table?: TableRef } = {},
  ) {
    this.table = opts.table ?? POLICY_TABLE;
  }

  /** The next apply reads the kernel back instead of trusting the last applied content. */
  requestResync(): void {
    this.readBack = true;
  }

  /** True after the first successful apply (and no failure since). */
  get inSync(): boolean {
    return !this.needFull;
  }

  async apply(desired: NftTable): Promise<ApplyResult> {
    let recoveredFrom: string | undefined;
    if (!this.needFull) {
      try {
        let current = this.readBack ? undefined : this.applied;
        let listing: { nftables: unknown[] } | null = null;
        if (!current) {
          listing = await this.backend.listTable();
          if (listing !== null) current = parseListing(listing);
        }
        const cmds = current === undefined ? "rebuild" : diffTable(current, desired, this.table);
        if (cmds !== "rebuild") {
          if (cmds.length > 0) await this.backend.run(nftDocument(cmds));
          this.lastGood = desired;
          this.applied = observe(desired);
          this.readBack = false;
          return cmds.length === 0 ? { mode: "noop", commands: [] } : { mode: "diff", commands: cmds };
        }
        recoveredFrom = current === undefined ? "table missing" : "object changed shape";
      } catch (e) {
        this.readBack = true;
        recoveredFrom = e instanceof Error ? e.message : String(e);
        this.log?.warn({ err: recoveredFrom }, "incremental nft apply failed; rebuilding the table");
      }
    }
    const full = fullTransaction(desired, true, this.table);
    try {
      await this.backend.run(nftDocument(full));
      this.lastGood = desired;
      this.applied = observe(desired);
      this.needFull = false;
      return { mode: "full", commands: full, ...(recoveredFrom ? { recoveredFrom } : {}) };
    } catch (e) {
      this.needFull = true;
      this.readBack = true;
      const msg = e instanceof Error ? e.message : String(e);
      if (this.lastGood) {
        try {
          await this.backend.run(nftDocument(fullTransaction(this.lastGood, true, this.table)));
        } catch (e2) {
          this.log?.warn({ err: String(e2) }, "restoring the last good table failed");
        }
      }
      throw new NftError(
        `applying table ${this.table.family} ${this.table.name} failed (last good rules kept): ${msg}`,
      );
    }
  }
}
