/**
 * A long-lived `ip -force -batch -` in the node namespace: the host side of
 * every ADD and DEL without spawning a process (a spawn from the agent costs
 * 3–5 ms here, a line through the session ~0.2 ms).
 *
 * iproute2 reads batch lines as they arrive and, with -force, reports each
 * failure on stderr (unbuffered) as "<message>" then "Command failed -:<line>"
 * and goes on. Success is silent, so each group of lines is followed by a
 * marker line that always fails ("link show dev trellis.sync"); seeing the
 * marker's failure means every earlier line has run, and the failures in
 * between belong to the group, by line number.
 */
import { type ChildProcess, spawn } from "node:child_process";

const MARKER_DEV = "trellis.sync";
const IP = process.env["TRELLIS_IP_BIN"] ?? "ip";

export interface LineFailure {
  /** Index of the failed line within the group. */
  index: number;
  message: string;
}

interface Group {
  first: number;
  marker: number;
  failures: LineFailure[];
  resolve: (f: LineFailure[]) => void;
  reject: (e: Error) => void;
}

export class IpSession {
  private proc: ChildProcess | undefined;
  private line = 0;
  private readonly groups: Group[] = [];
  private pendingMessage: string[] = [];
  private buf = "";

  /** Groups queued or running (to pick the least busy session of a pool). */
  get busy(): number {
    return this.groups.length;
  }

  private start(): ChildProcess {
    const p = spawn(IP, ["-force", "-batch", "-"], { stdio: ["pipe", "ignore", "pipe"] });
    this.line = 0;
    this.buf = "";
    this.pendingMessage = [];
    p.stderr?.setEncoding("utf8").on("data", (c: string) => this.onStderr(c));
    p.stdin?.on("error", () => {});
    const fail = (why: string): void => {
      if (this.proc !== p) return;
      this.proc = undefined;
      for (const g of this.groups.splice(0)) g.reject(new Error(`ip session ended: ${why}`));
    };
    p.on("error", (e) => fail(e.message));
    p.on("exit", (code, sig) => fail(`exit ${code ?? sig}`));
    this.proc = p;
    return p;
  }

  private onStderr(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const l = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const m = /^Command failed -:(\d+)$/.exec(l);
      if (m === null) {
        this.pendingMessage.push(l);
        continue;
      }
      const n = Number(m[1]);
      const message = this.pendingMessage.join("; ");
      this.pendingMessage = [];
      const g = this.groups[0];
      if (g === undefined) continue;
      if (n === g.marker) {
        this.groups.shift();
        g.resolve(g.failures);
      } else if (n >= g.first && n < g.marker) {
        g.failures.push({ index: n - g.first, message });
      }
    }
  }

  /** Runs the lines in order; resolves with the lines that failed (empty: all ran). */
  run(lines: readonly string[]): Promise<LineFailure[]> {
    for (const l of lines) {
      if (l.includes("\n")) return Promise.reject(new Error("ip session: a line may not contain a newline"));
    }
    const p = this.proc ?? this.start();
    return new Promise((resolve, reject) => {
      const first = this.line + 1;
      this.line += lines.length + 1;
      this.groups.push({ first, marker: this.line, failures: [], resolve, reject });
      p.stdin?.write([...lines, `link show dev ${MARKER_DEV}`].join("\n") + "\n");
    });
  }

  close(): void {
    const p = this.proc;
    this.proc = undefined;
    p?.stdin?.end();
    for (const g of this.groups.splice(0)) g.reject(new Error("ip session closed"));
  }
}

/** A few sessions, each group to the least busy one (a slow veth delete must not stall an ADD). */
export class IpSessionPool {
  private readonly sessions: IpSession[];

  constructor(size = 2) {
    this.sessions = Array.from({ length: size }, () => new IpSession());
  }

  run(lines: readonly string[]): Promise<LineFailure[]> {
    let best = this.sessions[0] as IpSession;
    for (const s of this.sessions) if (s.busy < best.busy) best = s;
    return best.run(lines);
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }
}
