/**
 * The journal of reserved ordinals granted before their block's write
 * (reservations.ts gives the rules and the safety argument): one JSON line
 * per take, appended and fdatasync'd before the ADD is granted, and
 * rewritten (temporary file, fsync, rename, fsync of the directory) with
 * the takes still owed once a write carried the others. Every file
 * operation runs in one chain, in the order asked, so a rewrite never
 * overtakes an append queued before it. Appends that arrive while one is
 * on its way to the disk go together in the next (group commit), and an
 * append costs one trip to libuv's thread pool: the write into the page
 * cache is synchronous (microseconds), only the fdatasync waits.
 */
import { closeSync, fdatasync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
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
export function ipamJournalPath(cniSocket: string, node: string): string {
  return join(dirname(cniSocket), `ipam-journal.${node}`);
}

const datasync = promisify(fdatasync);

interface Waiting {
  text: string;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class IpamJournal {
  private chain: Promise<void> = Promise.resolve();
  /** The journal open for appending (reopened after a rewrite replaced the file). */
  private fd: number | undefined;
  /** Appends waiting for the next commit. */
  private waiting: Waiting[] = [];

  /** Its directory made (lazily: the CNI server reports an unusable socket directory first, by name). */
  private dirMade = false;

  constructor(readonly path: string) {}

  private ensureDir(): void {
    if (this.dirMade) return;
    mkdirSync(dirname(this.path), { recursive: true });
    this.dirMade = true;
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
    return new Promise((resolve, reject) => {
      this.waiting.push({ text, resolve, reject });
      if (this.waiting.length === 1) void this.run(() => this.commit());
    });
  }

  /** Writes every waiting append and syncs once. */
  private async commit(): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    try {
      this.ensureDir();
      this.fd ??= openSync(this.path, "a");
      writeSync(this.fd, batch.map((w) => w.text).join(""));
      await datasync(this.fd);
      for (const w of batch) w.resolve();
    } catch (e) {
      // The file may hold part of it: reopen for the next append.
      this.close();
      for (const w of batch) w.reject(e);
    }
  }

  /** Closes the append descriptor (shutdown; a rewrite reopens). */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed: nothing to release
    }
    this.fd = undefined;
  }

  /** Replaces the journal with the takes `owed()` returns when the rewrite runs. */
  rewrite(owed: () => readonly Take[]): Promise<void> {
    return this.run(async () => {
      this.ensureDir();
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
      // Appends go to the new file from now on.
      this.close();
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
