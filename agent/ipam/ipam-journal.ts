/**
 * The journal of reserved ordinals granted before their block's write
 * (reservations.ts gives the rules and the safety argument): one JSON line
 * per take, appended and fdatasync'd before the ADD is granted, and
 * rewritten (temporary file, fsync, rename, fsync of the directory) with
 * the takes still owed once a write carried the others. Every file
 * operation runs in one chain, in the order asked, so a rewrite never
 * overtakes an append queued before it.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { allocationSchema } from "../../crds/ipam.js";
import type { Take } from "./reservations.js";
import { z } from "zod";

const takeSchema = z.object({
  block: z.string().min(1),
  ordinal: z.number().int().min(0),
  allocation: allocationSchema,
});

/**
 * The journal beside the CNI socket (the chart's /var/run/trellis, a host
 * directory): it must outlive the agent's process, and need not outlive the
 * node (reservations.ts).
 */
export function ipamJournalPath(cniSocket: string): string {
  return join(dirname(cniSocket), "ipam-journal");
}

export class IpamJournal {
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /**
   * The takes on file. A line that does not parse is skipped: only the last
   * one can be torn (a crash mid-append), and its take was never granted.
   */
  read(): { takes: Take[]; skipped: number } {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { takes: [], skipped: 0 };
      throw e;
    }
    const takes: Take[] = [];
    let skipped = 0;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        skipped++;
        continue;
      }
      const t = takeSchema.safeParse(parsed);
      if (t.success) takes.push(t.data);
      else skipped++;
    }
    return { takes, skipped };
  }

  private run(job: () => Promise<void>): Promise<void> {
    const p = this.chain.then(job);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Appends takes; resolves once they are on the disk. */
  append(takes: readonly Take[]): Promise<void> {
    const text = takes.map((t) => JSON.stringify(t) + "\n").join("");
    return this.run(async () => {
      const fh = await open(this.path, "a");
      try {
        await fh.write(text);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    });
  }

  /** Replaces the journal with the takes `owed()` returns when the rewrite runs. */
  rewrite(owed: () => readonly Take[]): Promise<void> {
    return this.run(async () => {
      const tmp = `${this.path}.tmp`;
      const fh = await open(tmp, "w");
      try {
        await fh.write(
          owed()
            .map((t) => JSON.stringify(t) + "\n")
            .join(""),
        );
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      // The rename is durable only once the directory is (rename(2) on ext4: fsync the parent).
      const dir = await open(dirname(this.path), "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    });
  }
}
