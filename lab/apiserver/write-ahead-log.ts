/**
 * The lab API server's write-ahead log: every change to the store, appended
 * and fsync'd before the request that made it is answered (persistence.ts
 * holds the answer back), so a crash (kill -9, power loss) loses nothing
 * that a client was told had happened.
 *
 * Format: one record per line, `<crc32 as 8 hex digits> <JSON>\n`. A crash
 * in the middle of an append leaves a torn last line (no newline, or a
 * checksum that does not match); reading stops at the first bad line and
 * the file is cut back to the last good record, like etcd's WAL repair.
 *
 * Group commit: appends made in one turn of the event loop (a burst of
 * requests, a namespace deletion's cascade) go to disk in one write and one
 * fdatasync; while that is in flight, new appends gather for the next one.
 */
import { open, type FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";
import type { JournalRecord } from "./object-store.js";

/** One record as a line (the put's object JSON is spliced in, not re-serialised). */
export function encodeRecord(r: JournalRecord): string {
  const body =
    r.op === "put"
      ? `{"op":"put","rv":${r.rv},"key":${JSON.stringify(r.key)},"obj":${r.json}}`
      : `{"op":"del","rv":${r.rv},"key":${JSON.stringify(r.key)},"ns":${JSON.stringify(r.namespace)},"name":${JSON.stringify(r.name)}}`;
  return `${crc32(body).toString(16).padStart(8, "0")} ${body}\n`;
}

export interface DecodedLog {
  records: JournalRecord[];
  /** Bytes of whole, valid records from the start: the file is cut back to this. */
  goodBytes: number;
  /** Bytes after the last good record (a torn or corrupt tail), 0 when clean. */
  droppedBytes: number;
}

function decodeBody(body: string): JournalRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof o !== "object" || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if (typeof r.rv !== "number" || typeof r.key !== "string") return undefined;
  if (r.op === "put" && typeof r.obj === "object" && r.obj !== null)
    return { op: "put", rv: r.rv, key: r.key, json: JSON.stringify(r.obj) };
  if (r.op === "del" && typeof r.ns === "string" && typeof r.name === "string")
    return { op: "del", rv: r.rv, key: r.key, namespace: r.ns, name: r.name };
  return undefined;
}

/** Reads a log; stops at the first torn or corrupt record (pure). */
export function decodeLog(buf: Buffer): DecodedLog {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    if (nl < 0) break; // torn: the last append never got its newline
    const line = buf.toString("utf8", at, nl);
    const sp = line.indexOf(" ");
    if (sp !== 8 || !/^[0-9a-f]{8}$/.test(line.slice(0, 8))) break;
    const body = line.slice(9);
    if (crc32(body) !== parseInt(line.slice(0, 8), 16)) break;
    const r = decodeBody(body);
    if (r === undefined) break;
    records.push(r);
    at = nl + 1;
  }
  return { records, goodBytes: at, droppedBytes: buf.length - at };
}

export interface LogStats {
  /** Batches written (one write + one fdatasync each). */
  commits: number;
  records: number;
  bytes: number;
}

/** An append-only file with group commit. Open it with `openLog`. */
export class WriteAheadLog {
  private buf: string[] = [];
  private appended = 0;
  private durable = 0;
  private scheduled = false;
  private committing: Promise<void> | undefined;
  private failed: Error | undefined;
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Runs between two commits, nothing in flight (compaction); appends meanwhile are committed after it. */
  private exclusive: (() => Promise<void>) | undefined;
  size: number;
  /** Called after every batch reached the disk (compaction policy). */
  onCommitted: (() => void) | undefined;
  readonly stats: LogStats = { commits: 0, records: 0, bytes: 0 };

  constructor(
    private readonly fh: FileHandle,
    size: number,
  ) {
    this.size = size;
  }

  /** Sequence number of the last append (compare with `whenDurable`). */
  get seq(): number {
    return this.appended;
  }

  /** True when append number `seq` is on disk. */
  isDurable(seq: number): boolean {
    return this.durable >= seq;
  }

  /** True when every append so far is on disk. */
  get idle(): boolean {
    return this.durable === this.appended;
  }

  append(r: JournalRecord): void {
    this.buf.push(encodeRecord(r));
    this.appended++;
    this.schedule();
  }

  /** Resolves once append number `seq` (default: the last one) is on disk; rejects if the log failed. */
  whenDurable(seq = this.appended): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (this.durable >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  /** Runs `fn` with no write in flight; what is buffered then, or appended meanwhile, is committed after it. */
  runExclusive(fn: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      const prev = this.exclusive;
      this.exclusive = async () => {
        if (prev !== undefined) await prev();
        await fn().then(resolve, reject);
      };
      this.schedule(true);
    });
  }

  /** Empties the file (the snapshot now holds everything in it). Only inside runExclusive. */
  async truncate(): Promise<void> {
    await this.fh.truncate(0);
    await this.fh.datasync();
    this.size = 0;
  }

  private schedule(force = false): void {
    if (this.scheduled || this.committing !== undefined) return;
    if (!force && this.buf.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every request parsed in this turn joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.committing = this.commit().finally(() => {
        this.committing = undefined;
        if (this.buf.length > 0 || this.exclusive !== undefined) this.schedule(true);
      });
    });
  }

  private async commit(): Promise<void> {
    if (this.failed !== undefined) return;
    if (this.buf.length > 0) {
      const data = this.buf.join("");
      const upto = this.appended;
      const n = this.buf.length;
      this.buf = [];
      try {
        // The file is opened "a": every write lands at the end, whatever the position.
        await this.fh.write(data);
        await this.fh.datasync();
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      this.size += Buffer.byteLength(data);
      this.stats.commits++;
      this.stats.records += n;
      this.stats.bytes += Buffer.byteLength(data);
      this.durable = upto;
      const still: typeof this.waiters = [];
      for (const w of this.waiters) {
        if (w.seq <= upto) w.resolve();
        else still.push(w);
      }
      this.waiters = still;
      this.onCommitted?.();
    }
    // Not waiting for an empty buffer: under steady writes it may never be.
    const ex = this.exclusive;
    if (ex !== undefined) {
      this.exclusive = undefined;
      await ex();
    }
  }

  /**
   * A failed write or fsync: the disk no longer matches what was promised.
   * Every waiting and later request is answered with an error (never 2xx);
   * the operator restarts the server, which replays what did reach the disk.
   */
  private fail(e: Error): void {
    this.failed = e;
    for (const w of this.waiters) w.reject(e);
    this.waiters = [];
  }

  get error(): Error | undefined {
    return this.failed;
  }

  /** Waits for everything appended so far, then closes the file. */
  async close(): Promise<void> {
    await this.whenDurable().catch(() => undefined);
    while (this.committing !== undefined) await this.committing;
    await this.fh.close();
  }
}

/** Opens (creating) a log, reads what it holds and cuts off a torn tail. */
export async function openLog(path: string): Promise<{ log: WriteAheadLog; read: DecodedLog }> {
  const fh = await open(path, "a+");
  try {
    const data = await fh.readFile();
    const read = decodeLog(data);
    if (read.droppedBytes > 0) {
      await fh.truncate(read.goodBytes);
      await fh.datasync();
    }
    return { log: new WriteAheadLog(fh, read.goodBytes), read };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
