/**
 * One long-lived `nft -j -i` process that applies transactions sent down a
 * pipe, so the CNI ADD's transaction does not pay for a process spawn (and
 * nft's start-up) each time: measured on the CNI bench, 10–40 ms per spawned
 * `nft -j -f FILE` inside the agent vs well under 1 ms here.
 *
 * Why interactive mode: nft 1.0.6 cannot read `-f /dev/stdin` from the
 * socket Node gives a child as its stdin, and `-f FIFO` still exits after one
 * file. `nft -i` reads one line at a time and hands each line to
 * nft_run_cmd_from_buffer(): one line = one netlink batch = one atomic
 * transaction (all or nothing, like `-f`). With `-j` a line is parsed as JSON
 * first. `JSON.stringify` never emits a raw newline, so a document is
 * always one line.
 *
 * Interactive mode acknowledges nothing, so each transaction is followed by a
 * marker line that is a syntax error: nft echoes the offending input line on
 * stderr (erec_print), and stderr is unbuffered, so everything nft wrote to
 * stderr before the marker's echo belongs to the transaction. An `Error`
 * among it means the kernel (or the parser) rejected the transaction.
 *
 * libedit keeps every line in its history and nft writes it to
 * $HOME/.nft.history at exit: HOME=/dev/null makes that path impossible (so
 * nothing is written, even when the agent is killed), and the process is
 * replaced after `maxTransactions` or `maxBytes` of input so the in-memory
 * history stays bounded.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { NftError } from "./backend.js";

export interface NftSessionOptions {
  /** Command line of the interactive nft, e.g. ["nft", "-j", "-i"] (maybe behind nsenter). */
  argv: readonly string[];
  /** A transaction without an answer after this long kills the process (ms). */
  timeoutMs?: number;
  maxTransactions?: number;
  maxBytes?: number;
}

const MARKER = "trellis-ack-";

/**
 * Splits what nft wrote to stderr at the marker `seq`: null until the
 * marker's echo and the caret line after it have arrived; else the
 * transaction's own messages and what is left of the buffer.
 */
export function takeAnswer(buf: string, seq: number): { messages: string[]; rest: string } | null {
  const lines = buf.split("\n");
  const at = lines.indexOf(`${MARKER}${seq}`);
  // The echo is followed by a caret line; wait for its newline too, so it never
  // spills into the next transaction's messages.
  if (at < 0 || lines.length < at + 3) return null;
  const before = lines.slice(0, at);
  // The line just before the echo is the marker's own "Error: syntax error …".
  before.pop();
  const messages = before.filter((l) => l.trim() !== "" && !/^\s*\^+\s*$/.test(l));
  return { messages, rest: lines.slice(at + 2).join("\n") };
}

interface Pending {
  seq: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class NftSession {
  private proc: ChildProcess | undefined;
  private stderr = "";
  private pending: Pending | undefined;
  private seq = 0;
  private sent = 0;
  private bytes = 0;
  /** Transactions run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: NftSessionOptions) {}

  /** The running nft's pid, if one runs (tests, diagnostics). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Applies one JSON document (one line) as one transaction; rejects with NftError. */
  run(doc: string): Promise<void> {
    const p = this.queue.then(() => this.runOne(doc));
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Ends the process (its stdin closes, so nft exits). */
  close(): void {
    this.closed = true;
    this.stop(new NftError("nft session closed"));
  }

  private runOne(doc: string): Promise<void> {
    if (this.closed) return Promise.reject(new NftError("nft session closed"));
    if (doc.includes("\n")) return Promise.reject(new NftError("an nft session document must be one line"));
    if (
      this.proc !== undefined &&
      (this.sent >= (this.o.maxTransactions ?? 1000) || this.bytes >= (this.o.maxBytes ?? 64 << 20))
    ) {
      this.stop(undefined);
    }
    const proc = this.proc ?? this.start();
    const seq = ++this.seq;
    this.sent++;
    this.bytes += doc.length;
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.o.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        this.stop(new NftError(`nft did not answer within ${timeoutMs} ms; process restarted`));
      }, timeoutMs);
      this.pending = { seq, resolve, reject, timer };
      proc.stdin?.write(`${doc}\n${MARKER}${seq}\n`);
    });
  }

  private start(): ChildProcess {
    const [cmd, ...args] = this.o.argv;
    const p = spawn(cmd as string, args, {
      stdio: ["pipe", "ignore", "pipe"],
      env: { ...process.env, HOME: "/dev/null" },
    });
    // The agent's exit must not wait for nft; nft exits on its own when its stdin closes.
    p.unref();
    this.proc = p;
    this.stderr = "";
    this.sent = 0;
    this.bytes = 0;
    p.stdin?.on("error", () => undefined); // reported by "exit" below
    p.stderr?.setEncoding("utf8").on("data", (d: string) => {
      if (this.proc !== p) return;
      this.stderr += d;
      this.answer();
    });
    p.on("error", (e) => {
      if (this.proc === p) this.stop(new NftError(`nft session: ${e.message}`));
    });
    p.on("exit", (code, signal) => {
      if (this.proc === p) this.stop(new NftError(`nft session exited (${signal ?? code ?? "?"})`));
    });
    return p;
  }

  private answer(): void {
    const w = this.pending;
    if (w === undefined) return;
    const a = takeAnswer(this.stderr, w.seq);
    if (a === null) return;
    this.stderr = a.rest;
    this.pending = undefined;
    clearTimeout(w.timer);
    if (a.messages.some((l) => /\bError\b/.test(l))) {
      w.reject(new NftError(`nft rejected the transaction: ${a.messages.slice(0, 6).join(" | ")}`));
    } else {
      w.resolve();
    }
  }

  /** Kills the process; a transaction in flight fails with `err` (its outcome is unknown to us). */
  private stop(err: NftError | undefined): void {
    const p = this.proc;
    this.proc = undefined;
    if (p !== undefined) {
      p.stdin?.end();
      p.kill();
    }
    const w = this.pending;
    this.pending = undefined;
    if (w !== undefined) {
      clearTimeout(w.timer);
      w.reject(err ?? new NftError("nft session restarted"));
    }
  }
}
