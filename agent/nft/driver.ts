/**
 * The nft driver: keeps table `inet trellis` equal to the compiler's output.
 *
 * - The first apply (and any apply after a failure) replaces the whole table
 *   in one transaction (`add; delete; add …` so it never fails on absence):
 *   the kernel goes from the old table to the new one with nothing between.
 * - Later applies read the kernel back, diff, and send only the difference
 *   (set and map element changes, rewritten chains) as one transaction.
 * - If that transaction is rejected, the driver rebuilds the table atomically
 *   from the desired content; if that is rejected too, from the last content
 *   that applied (the kernel keeps the last good rules either way: nft
 *   transactions are all or nothing), and reports the error.
 * Only table `inet trellis` is ever read or written.
 */
import type { NftTable } from "../../policy/compiler/nft-table.js";
import { fullTransaction, nftDocument } from "../../policy/compiler/nft-table.js";
import { NftError, type NftBackend } from "./backend.js";
import { diffTable } from "./diff.js";
import { parseListing } from "./kernel-state.js";

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

  constructor(
    private readonly backend: NftBackend,
    private readonly log?: DriverLogger,
  ) {}

  /** True after the first successful apply (and no failure since). */
  get inSync(): boolean {
    return !this.needFull;
  }

  async apply(desired: NftTable): Promise<ApplyResult> {
    let recoveredFrom: string | undefined;
    if (!this.needFull) {
      try {
        const listing = await this.backend.listTable();
        const cmds = listing === null ? "rebuild" : diffTable(parseListing(listing), desired);
        if (cmds !== "rebuild") {
          if (cmds.length === 0) {
            this.lastGood = desired;
            return { mode: "noop", commands: [] };
          }
          await this.backend.run(nftDocument(cmds));
          this.lastGood = desired;
          return { mode: "diff", commands: cmds };
        }
        recoveredFrom = listing === null ? "table missing" : "object changed shape";
      } catch (e) {
        recoveredFrom = e instanceof Error ? e.message : String(e);
        this.log?.warn({ err: recoveredFrom }, "incremental nft apply failed; rebuilding the table");
      }
    }
    const full = fullTransaction(desired, true);
    try {
      await this.backend.run(nftDocument(full));
      this.lastGood = desired;
      this.needFull = false;
      return { mode: "full", commands: full, ...(recoveredFrom ? { recoveredFrom } : {}) };
    } catch (e) {
      this.needFull = true;
      const msg = e instanceof Error ? e.message : String(e);
      if (this.lastGood) {
        try {
          await this.backend.run(nftDocument(fullTransaction(this.lastGood, true)));
        } catch (e2) {
          this.log?.warn({ err: String(e2) }, "restoring the last good table failed");
        }
      }
      throw new NftError(`applying table inet trellis failed (last good rules kept): ${msg}`);
    }
  }
}
