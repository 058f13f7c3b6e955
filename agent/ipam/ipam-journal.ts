/**
 * The journal of reserved ordinals granted before their block's write
 * (reservations.ts gives the rules and the safety argument): one JSON line
 * per take, written before the ADD is granted, and rewritten with the
 * takes still owed once a write carried the others.
 *
 * What it must survive is the agent, not the node: a take the journal lost
 * in a node crash was granted to a pod the crash ended (a reboot ends every
 * sandbox; the reservation is then simply free again, and a take that did
 * reach the disk is written and released like any allocation of a dead
 * sandbox, by its DEL, GC or the leak check). A write(2) that returned is in
 * the kernel's page cache and outlives the process, so an append is one
 * synchronous write of a few hundred bytes, no fdatasync, no trip through
 * libuv's thread pool: the ADD's IPAM is done in the same event-loop turn.
 * The rewrite is durable (temporary file, fdatasync, rename, fsync of the
 * directory), so a node crash never brings back takes it dropped (rule C:
 * their ordinals may be reserved again by then). Appends made while a
 * rewrite is on its way go into the old file and, in the same synchronous
 * step as the rename, into the new one: none is lost to the rename.
 */
import {
  closeSync,
  fdatasync,
  fsync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
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
 * node (above).
 */
export function ipamJournalPath(cniSocket: string, node: string): string {
  return join(dirname(cniSocket), `ipam-journal.${node}`);
}

const datasync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

function lines(takes: readonly Take[]): string {
  return takes.map((t) => JSON.stringify(t) + "\n").join("");
}

export class IpamJournal {
  private chain: Promise<void> = Promise.resolve();
  /** The journal open for appending (the new file once a rewrite renamed it into place). */
  private fd: number | undefined;
  /** Per rewrite asked for and not done: the appends made since (they go into its new file too). */
  private readonly captures = new Set<string[]>();
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

  /** Appends takes (synchronously; throws when the write fails: then nothing may be granted). */
  append(takes: readonly Take[]): void {
    const text = lines(takes);
    this.ensureDir();
    this.fd ??= openSync(this.path, "a");
    try {
      writeSync(this.fd, text);
    } catch (e) {
      // The file may hold part of it (skipped on read): reopen for the next append.
      this.close();
      throw e;
    }
    for (const c of this.captures) c.push(text);
  }

  /** Closes the append descriptor (shutdown). */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed: nothing to release
    }
    this.fd = undefined;
  }

  /**
   * Replaces the journal with the takes `owed()` returns when the rewrite
   * starts, plus every append made from this call until the new file is in
   * place. Rewrites run one at a time, in the order asked.
   */
  rewrite(owed: () => readonly Take[]): Promise<void> {
    const extra: string[] = [];
    this.captures.add(extra);
    const job = async (): Promise<void> => {
      const tmp = `${this.path}.tmp`;
      let fd: number | undefined;
      try {
        this.ensureDir();
        fd = openSync(tmp, "w");
        writeSync(fd, lines(owed()));
        await datasync(fd);
        // One synchronous step: the appends made meanwhile, then the rename,
        // then appends go to the new file. No append falls in between.
        writeSync(fd, extra.join(""));
        renameSync(tmp, this.path);
        this.close();
        this.fd = fd;
        fd = undefined;
      } finally {
        this.captures.delete(extra);
        if (fd !== undefined) closeSync(fd);
      }
      // The rename is durable only once the directory is (rename(2) on ext4: fsync the parent).
      const dir = openSync(dirname(this.path), "r");
      try {
        await fsyncAsync(dir);
      } finally {
        closeSync(dir);
      }
    };
    const p = this.chain.then(job);
    this.chain = p.catch(() => undefined);
    return p;
  }
}
