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
 * - A transaction made only of set and map element adds and deletes (the CNI
 *   ADD's and DEL's) goes to the backend's `runElements` — by the real
 *   backend, one nf_tables netlink batch with no nft process — when the
 *   driver knows the declaration of every set it touches (from the tables
 *   and declarations it applied: element-commands.ts); anything else goes
 *   to `run`. Both are all or nothing, and a rejection of either takes the
 *   same path below.
 * Only its one table is ever read or written: `inet trellis` unless the
 * caller names another table of ours (`inet trellis-nat`, agent/nat/); the
 * backend must list that same table.
 */
import type { NftTable, TableRef } from "../../policy/compiler/nft-table.js";
import { POLICY_TABLE, fullTransaction, nftDocument } from "../../policy/compiler/nft-table.js";
import { NftError, type NftBackend } from "./backend.js";
import { diffTable } from "./diff.js";
import { observe, parseListing, type ObservedTable } from "./kernel-state.js";
import { elementChanges, shapesOfTable, updateShapes, type SetShapes } from "./element-commands.js";

/** Element-only transactions larger than this go to `nft` (a policy touching thousands of addresses, not an ADD). */
const MAX_NETLINK_ELEMENTS = 2048;

export interface ApplyResult {
  /** `incremental`: commands the caller computed (applyCommands), not a diff. */
  readonly mode: "noop" | "diff" | "full" | "incremental";
  /** Commands in the applied transaction (0 for noop). */
  readonly commands: readonly Record<string, unknown>[];
  /** The error that forced a full rebuild, if one did. */
  readonly recoveredFrom?: string;
  /** How the transaction went to the kernel: `netlink` (runElements) or `nft` (absent for noop). */
  readonly via?: "netlink" | "nft";
}

export interface DriverLogger {
  warn(obj: object, msg: string): void;
}

export class NftDriver {
  /** The last table that applied (a thunk after applyCommands: built only if ever needed). */
  private lastGood: NftTable | (() => NftTable) | undefined;
  private needFull = true;
  /** What the kernel holds if nothing else touched it: the last applied content. */
  private applied: ObservedTable | undefined;
  private readBack = true;
  /**
   * The declarations of the sets in the kernel table as last applied (what
   * element-only transactions need to be encoded); undefined after a
   * failure, until a full replace or diff applies a whole table again.
   */
  private shapes: SetShapes | undefined;

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

  /**
   * Sends commands the caller computed (an incremental compiler's delta) as
   * one transaction; `desired` is the table they lead to, built only when
   * needed: while the driver is not in sync (a full replace instead), when
   * the transaction is rejected (an atomic rebuild from it, else the last
   * good table restored, as apply does), and for the next diff.
   */
  async applyCommands(
    cmds: readonly Record<string, unknown>[],
    desired: () => NftTable,
  ): Promise<ApplyResult> {
    if (this.needFull) return this.apply(desired());
    let via: "netlink" | "nft" | undefined;
    try {
      if (cmds.length > 0) via = await this.send(cmds);
    } catch (e) {
      this.readBack = true;
      this.shapes = undefined;
      const recoveredFrom = e instanceof Error ? e.message : String(e);
      this.log?.warn({ err: recoveredFrom }, "incremental nft apply failed; rebuilding the table");
      return this.replace(desired(), recoveredFrom);
    }
    this.lastGood = desired;
    this.applied = undefined;
    this.appliedLazy = desired;
    return via === undefined ? { mode: "noop", commands: [] } : { mode: "incremental", commands: cmds, via };
  }

  /**
   * One transaction to the kernel: by `runElements` when it is element adds
   * and deletes only on sets whose shape is known, else by `run`. Keeps
   * the shapes up to date with the declarations it sent.
   */
  private async send(cmds: readonly Record<string, unknown>[]): Promise<"netlink" | "nft"> {
    const changes =
      this.shapes !== undefined && this.backend.runElements !== undefined
        ? elementChanges(cmds, this.shapes, this.table, MAX_NETLINK_ELEMENTS)
        : undefined;
    if (changes !== undefined && (await this.backend.runElements?.(changes)) === true) return "netlink";
    await this.backend.run(nftDocument(cmds));
    if (this.shapes !== undefined) updateShapes(this.shapes, cmds, this.table);
    return "nft";
  }

  private appliedLazy: (() => NftTable) | undefined;

  async apply(desired: NftTable): Promise<ApplyResult> {
    let recoveredFrom: string | undefined;
    if (!this.needFull) {
      try {
        if (!this.readBack && this.applied === undefined && this.appliedLazy !== undefined)
          this.applied = observe(this.appliedLazy());
        this.appliedLazy = undefined;
        let current = this.readBack ? undefined : this.applied;
        let listing: { nftables: unknown[] } | null = null;
        if (!current) {
          listing = await this.backend.listTable();
          if (listing !== null) current = parseListing(listing);
        }
        const cmds = current === undefined ? "rebuild" : diffTable(current, desired, this.table);
        if (cmds !== "rebuild") {
          const via = cmds.length > 0 ? await this.send(cmds) : undefined;
          this.lastGood = desired;
          this.applied = observe(desired);
          this.readBack = false;
          this.shapes = shapesOfTable(desired);
          return via === undefined ? { mode: "noop", commands: [] } : { mode: "diff", commands: cmds, via };
        }
        recoveredFrom = current === undefined ? "table missing" : "object changed shape";
      } catch (e) {
        this.readBack = true;
        this.shapes = undefined;
        recoveredFrom = e instanceof Error ? e.message : String(e);
        this.log?.warn({ err: recoveredFrom }, "incremental nft apply failed; rebuilding the table");
      }
    }
    return this.replace(desired, recoveredFrom);
  }

  /** The atomic rebuild; if it is rejected, the last good table is restored and the error thrown. */
  private async replace(desired: NftTable, recoveredFrom: string | undefined): Promise<ApplyResult> {
    const full = fullTransaction(desired, true, this.table);
    try {
      await this.backend.run(nftDocument(full));
      this.lastGood = desired;
      this.applied = observe(desired);
      this.appliedLazy = undefined;
      this.needFull = false;
      this.shapes = shapesOfTable(desired);
      return { mode: "full", commands: full, via: "nft", ...(recoveredFrom ? { recoveredFrom } : {}) };
    } catch (e) {
      this.needFull = true;
      this.readBack = true;
      this.shapes = undefined;
      const msg = e instanceof Error ? e.message : String(e);
      if (this.lastGood) {
        try {
          const good = typeof this.lastGood === "function" ? this.lastGood() : this.lastGood;
          await this.backend.run(nftDocument(fullTransaction(good, true, this.table)));
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
