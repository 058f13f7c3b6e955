/**
 * One long-lived child process fed lines over stdin (`ip -force -batch -`,
 * `nft -j -i`), so a caller pays neither a spawn nor the tool's start-up per
 * batch. Neither tool acknowledges success, so after each batch we write a
 * *fence*: a line the tool always answers (with an error, on stderr, which is
 * unbuffered and ordered after every earlier message). Seeing the fence's
 * answer means every line of the batch has run, and the messages in between
 * belong to the batch; tools that number their input (ip) attribute each
 * failure to its line.
 *
 * What differs per tool is a `FenceProtocol`: the fence line and how to read
 * one output line. The session does the rest, once:
 * - batches are written as soon as they are queued and resolve in order;
 * - a bounded queue: more than `maxQueued` batches waiting is refused at once;
 * - the process starts lazily and again after it died (a batch in flight
 *   when it dies is rejected: its outcome is unknown to us);
 * - an optional per-batch timeout kills a hung process;
 * - an optional recycle after `maxBatches`/`maxBytes` (nft keeps each line
 *   in its history), done between batches, never under one.
 * Failures of lines are data (`BatchResult`); only the process failing
 * rejects, with a `LineSessionError` carrying a stable code.
 */
import { type ChildProcess, spawn } from "node:child_process";

/** How one output line reads. */
export type OutputLine =
  /** part of a message; gathered until a failure or a fence claims it */
  | { kind: "text" }
  /** noise (blank lines, carets): dropped */
  | { kind: "ignore" }
  /** the text gathered so far is the failure of input line `line` (1-based, since the process started) */
  | { kind: "failed"; line: number }
  /** batch `seq` is done; the last `ownMessages` gathered lines are the fence's own answer */
  | { kind: "fence"; seq: number; ownMessages: number };

export interface FenceProtocol {
  /** The line written after batch `seq`, which is input line `line` of this process. */
  fence(at: { seq: number; line: number }): string;
  /** Reads one complete output line (without its newline). */
  read(line: string): OutputLine;
}

export interface LineFailure {
  /** Index of the failed line within the batch. */
  index: number;
  message: string;
}

export interface BatchResult {
  /** lines that failed, with their messages, in order */
  failures: LineFailure[];
  /** messages no line claimed (tools that do not number their input put everything here) */
  messages: string[];
}

export type LineSessionErrorCode =
  | "TRELLIS_ELINESESSION_FULL"
  | "TRELLIS_ELINESESSION_EXITED"
  | "TRELLIS_ELINESESSION_TIMEOUT"
  | "TRELLIS_ELINESESSION_CLOSED"
  | "TRELLIS_ELINESESSION_NEWLINE";

export class LineSessionError extends Error {
  constructor(
    readonly code: LineSessionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface LineSessionOptions {
  /** command line, e.g. ["ip", "-force", "-batch", "-"] */
  argv: readonly string[];
  protocol: FenceProtocol;
  /** name in error messages (default: argv[0]) */
  name?: string;
  /** which stream answers (default stderr: ip and nft report there, unbuffered) */
  output?: "stderr" | "stdout";
  /** environment of the child (default: ours) */
  env?: NodeJS.ProcessEnv;
  /** batches queued or in flight beyond which run() is refused (default 1024) */
  maxQueued?: number;
  /** a batch without its fence after this long kills the process (ms; default: no limit) */
  timeoutMs?: number;
  /** replace the process after this many batches (default: never) */
  maxBatches?: number;
  /** replace the process after this many bytes of input (default: never) */
  maxBytes?: number;
  /** let our process exit while the child runs (it exits on its own when stdin closes) */
  unref?: boolean;
}

interface Batch {
  seq: number;
  first: number;
  fenceLine: number;
  failures: LineFailure[];
  resolve: (r: BatchResult) => void;
  reject: (e: LineSessionError) => void;
}

export class LineSession {
  private proc: ChildProcess | undefined;
  private out = "";
  private gathered: string[] = [];
  private readonly batches: Batch[] = [];
  private seq = 0;
  private line = 0;
  private sentBatches = 0;
  private sentBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: LineSessionOptions) {}

  private get name(): string {
    return this.o.name ?? this.o.argv[0] ?? "session";
  }

  /** The running process's pid, if one runs. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Batches queued or in flight. */
  get busy(): number {
    return this.batches.length;
  }

  /** Runs the lines in order, then the fence; resolves when the fence answers. */
  run(lines: readonly string[]): Promise<BatchResult> {
    if (this.closed)
      return Promise.reject(
        new LineSessionError("TRELLIS_ELINESESSION_CLOSED", `${this.name}: session closed`),
      );
    if (lines.some((l) => l.includes("\n")))
      return Promise.reject(
        new LineSessionError(
          "TRELLIS_ELINESESSION_NEWLINE",
          `${this.name}: a line may not contain a newline`,
        ),
      );
    if (this.batches.length >= (this.o.maxQueued ?? 1024))
      return Promise.reject(
        new LineSessionError(
          "TRELLIS_ELINESESSION_FULL",
          `${this.name}: ${this.batches.length} batches queued; refusing more`,
        ),
      );
    if (this.proc !== undefined && this.batches.length === 0 && this.worn()) this.stop(undefined);
    const proc = this.proc ?? this.start();
    const seq = ++this.seq;
    const first = this.line + 1;
    this.line += lines.length + 1;
    const text = [...lines, this.o.protocol.fence({ seq, line: this.line })].join("\n") + "\n";
    this.sentBatches++;
    this.sentBytes += text.length;
    return new Promise<BatchResult>((resolve, reject) => {
      this.batches.push({ seq, first, fenceLine: this.line, failures: [], resolve, reject });
      if (this.batches.length === 1) this.arm();
      proc.stdin?.write(text);
    });
  }

  /** Ends stdin: queued batches still finish (or fail if the process dies); new ones are refused. */
  close(): Promise<void> {
    this.closed = true;
    const p = this.proc;
    if (p === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) resolve();
      else p.once("exit", () => resolve());
      p.stdin?.end();
    });
  }

  private worn(): boolean {
    return (
      this.sentBatches >= (this.o.maxBatches ?? Infinity) || this.sentBytes >= (this.o.maxBytes ?? Infinity)
    );
  }

  private start(): ChildProcess {
    const [cmd, ...args] = this.o.argv;
    const fromStdout = this.o.output === "stdout";
    const p = spawn(cmd ?? "", args, {
      stdio: fromStdout ? ["pipe", "pipe", "ignore"] : ["pipe", "ignore", "pipe"],
      env: this.o.env ?? process.env,
    });
    if (this.o.unref === true) p.unref();
    this.proc = p;
    this.out = "";
    this.gathered = [];
    this.line = 0;
    this.sentBatches = 0;
    this.sentBytes = 0;
    p.stdin?.on("error", () => undefined); // reported by "exit" below
    (fromStdout ? p.stdout : p.stderr)?.setEncoding("utf8").on("data", (d: string) => {
      if (this.proc === p) this.onOutput(d);
    });
    p.on("error", (e) => {
      if (this.proc === p)
        this.stop(new LineSessionError("TRELLIS_ELINESESSION_EXITED", `${this.name}: ${e.message}`));
    });
    p.on("exit", (code, signal) => {
      if (this.proc === p)
        this.stop(
          new LineSessionError(
            "TRELLIS_ELINESESSION_EXITED",
            `${this.name} exited (${signal ?? code ?? "?"})`,
          ),
        );
    });
    return p;
  }

  private onOutput(chunk: string): void {
    this.out += chunk;
    let nl: number;
    while ((nl = this.out.indexOf("\n")) >= 0) {
      const text = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      this.onLine(text);
    }
  }

  private onLine(text: string): void {
    const r = this.o.protocol.read(text);
    if (r.kind === "ignore") return;
    if (r.kind === "text") {
      this.gathered.push(text);
      return;
    }
    const head = this.batches[0];
    if (r.kind === "failed") {
      const message = this.gathered.join("; ").trim();
      this.gathered = [];
      if (head === undefined) return;
      if (r.line === head.fenceLine) this.finish(head, []);
      else if (r.line >= head.first && r.line < head.fenceLine)
        head.failures.push({ index: r.line - head.first, message: message === "" ? "failed" : message });
      return;
    }
    // a fence naming its batch
    if (head === undefined || r.seq !== head.seq) return;
    const own = Math.max(0, this.gathered.length - r.ownMessages);
    const messages = this.gathered.slice(0, own);
    this.gathered = [];
    this.finish(head, messages);
  }

  private finish(b: Batch, messages: string[]): void {
    this.batches.shift();
    this.disarm();
    if (this.batches.length > 0) this.arm();
    b.resolve({ failures: b.failures, messages });
  }

  private arm(): void {
    const ms = this.o.timeoutMs;
    if (ms === undefined) return;
    this.disarm();
    this.timer = setTimeout(() => {
      this.stop(
        new LineSessionError(
          "TRELLIS_ELINESESSION_TIMEOUT",
          `${this.name} did not answer within ${ms} ms; process restarted`,
        ),
      );
    }, ms);
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Ends the process; every batch queued or in flight fails with `err`. */
  private stop(err: LineSessionError | undefined): void {
    const p = this.proc;
    this.proc = undefined;
    this.disarm();
    if (p !== undefined) {
      p.stdin?.end();
      p.kill();
    }
    const e = err ?? new LineSessionError("TRELLIS_ELINESESSION_EXITED", `${this.name} restarted`);
    for (const b of this.batches.splice(0)) b.reject(e);
  }
}

/**
 * iproute2's batch mode (`ip -force -batch -`): with -force it reports each
 * failure as its message(s) then "Command failed -:<line>" and goes on;
 * success is silent. The fence shows a device whose name is longer than
 * IFNAMSIZ, so it can never exist and always fails.
 */
export const IP_BATCH_PROTOCOL: FenceProtocol = {
  fence: () => "link show dev trellis-fence-never-exists",
  read: (line) => {
    const m = /^Command failed -:(\d+)$/.exec(line);
    return m === null ? { kind: "text" } : { kind: "failed", line: Number(m[1]) };
  },
};

const NFT_MARKER = "trellis-ack-";

/**
 * nft's interactive mode (`nft [-j] -i`): one line = one transaction; it
 * acknowledges nothing. The fence is a marker word that is a syntax error:
 * nft prints "Error: syntax error, …", echoes the line, then a caret line.
 * The error line is the fence's own; carets and blank lines are noise. nft
 * does not number its input, so a batch's messages are not attributed to
 * lines (`BatchResult.messages`).
 */
export const NFT_INTERACTIVE_PROTOCOL: FenceProtocol = {
  fence: ({ seq }) => `${NFT_MARKER}${seq}`,
  read: (line) => {
    if (line.startsWith(NFT_MARKER) && /^\d+$/.test(line.slice(NFT_MARKER.length)))
      return { kind: "fence", seq: Number(line.slice(NFT_MARKER.length)), ownMessages: 1 };
    if (line.trim() === "" || /^\s*\^+\s*$/.test(line)) return { kind: "ignore" };
    return { kind: "text" };
  },
};
