/**
 * Durable state for the lab API server (`--state-dir`): a snapshot
 * (state-file.ts) plus a write-ahead log of every change since
 * (write-ahead-log.ts). At start the snapshot is loaded and the log replayed
 * over it (records at or below the snapshot's resourceVersion were already
 * in it); the resourceVersion continues after the highest one found, so it
 * never goes backwards across a crash. Every change is in the log, fsync'd,
 * before its request is answered and before any watcher sees it (server.ts
 * waits on `whenDurable`). Compaction writes a new snapshot and empties the
 * log: when the log passes `compactBytes`, every `compactIntervalMs` if it
 * holds anything, and on graceful close.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { KubeApi } from "./api.js";
import { readState, syncDir, writeState } from "./state-file.js";
import { type LogStats, openLog } from "./write-ahead-log.js";

export const LOG_FILE = "apiserver-wal.log";

export interface PersistenceOptions {
  dir: string;
  log: Logger;
  /** Compact once the log is this big (default 16 MiB). */
  compactBytes?: number;
  /** Compact this often when the log holds anything (default 30 s; 0 = by size and on close only). */
  compactIntervalMs?: number;
}

export interface Persistence {
  /** True when snapshot or log held anything (else the caller seeds a fresh cluster). */
  readonly restored: boolean;
  /** Sequence number of the last change handed to the log. */
  readonly seq: number;
  isDurable(seq: number): boolean;
  /** Resolves once change `seq` (default: every change so far) is on disk; rejects if the disk failed. */
  whenDurable(seq?: number): Promise<void>;
  /** Snapshot now and empty the log. */
  compact(): Promise<void>;
  readonly stats: LogStats & { compactions: number };
  close(): Promise<void>;
}

export async function openPersistence(api: KubeApi, o: PersistenceOptions): Promise<Persistence> {
  await mkdir(o.dir, { recursive: true });
  const state = await readState(o.dir);
  if (state !== undefined) api.restore(state);
  const { log: wal, read } = await openLog(join(o.dir, LOG_FILE));
  if (read.droppedBytes > 0)
    o.log.warn(
      { file: join(o.dir, LOG_FILE), droppedBytes: read.droppedBytes, keptRecords: read.records.length },
      "write-ahead log ends in a torn or corrupt record (a crash mid-append): cut back to the last good record",
    );
  const base = state?.resourceVersion ?? 0;
  let rv = base;
  let replayed = 0;
  for (const r of read.records) {
    if (r.rv <= base) continue; // already in the snapshot (a crash between snapshot and truncation)
    api.replay(r);
    if (r.rv > rv) rv = r.rv;
    replayed++;
  }
  const restored = state !== undefined || read.records.length > 0;
  if (restored) {
    api.settleReplay(rv);
    o.log.info(
      { stateDir: o.dir, snapshotResourceVersion: base, replayed, resourceVersion: rv },
      "restored state",
    );
  }
  // Make the log file's own creation durable before anything is promised from it.
  await syncDir(o.dir);
  api.store.journal = (r) => wal.append(r);

  const stats = { ...wal.stats, compactions: 0 };
  let compacting: Promise<void> | undefined;
  const compact = (): Promise<void> => {
    compacting ??= wal
      .runExclusive(async () => {
        // No write in flight: the dump holds everything on disk, plus changes
        // still buffered; those go to the emptied log after this and are
        // skipped at replay (rv <= the snapshot's), or, after a crash, are in
        // the snapshot though never answered (harmless: over-, not under-durable).
        const dump = api.dump();
        await writeState(o.dir, { version: 1, ...dump });
        await wal.truncate();
        stats.compactions++;
      })
      .finally(() => (compacting = undefined));
    return compacting;
  };
  const compactBytes = o.compactBytes ?? 16 * 1024 * 1024;
  const onErr = (e: unknown): void =>
    o.log.error({ err: e }, "compacting the state failed; the log keeps growing");
  wal.onCommitted = () => {
    if (wal.size >= compactBytes && compacting === undefined) compact().catch(onErr);
  };
  const every = o.compactIntervalMs ?? 30_000;
  const timer =
    every > 0
      ? setInterval(() => {
          if (wal.size > 0 && compacting === undefined) compact().catch(onErr);
        }, every)
      : undefined;
  timer?.unref();

  return {
    restored,
    get seq() {
      return wal.seq;
    },
    isDurable: (seq) => wal.isDurable(seq),
    whenDurable: (seq) => wal.whenDurable(seq),
    compact,
    get stats() {
      return { ...wal.stats, compactions: stats.compactions };
    },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      api.store.journal = undefined;
      await wal.whenDurable().catch(() => undefined);
      if (wal.error === undefined) await compact().catch(onErr);
      await wal.close();
    },
  };
}
