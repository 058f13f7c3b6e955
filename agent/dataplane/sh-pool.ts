/**
 * A few long-lived /bin/sh processes that run short command scripts for the
 * agent. Forking the agent (a large Node.js process) costs 2–3 ms and blocks
 * its event loop while the page tables are copied; a small shell forks in a
 * fraction of that and off the agent's main thread. Used for the pod side of
 * ADD (`ip -n NS -batch -`), which must run in the pod's namespace.
 *
 * Each job is `{ script; } 2>&1; echo "<marker> $?"`: everything before the
 * marker line is the job's output, the number after it its exit status.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface ShExit {
  code: number;
  output: string;
}

/** Single-quotes a word for sh (every character literal). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A here-document feeding `lines` to a command's stdin, nothing expanded. */
export function withStdin(command: string, lines: readonly string[]): string {
  const end = "__TRELLIS_EOF__";
  if (lines.some((l) => l.includes("\n") || l === end)) throw new Error("sh job: invalid stdin line");
  return `${command} <<'${end}'\n${lines.join("\n")}\n${end}`;
}

interface Job {
  marker: string;
  resolve: (r: ShExit) => void;
  reject: (e: Error) => void;
}

class ShWorker {
  private proc: ChildProcess | undefined;
  private readonly jobs: Job[] = [];
  private out = "";
  private seq = 0;

  get busy(): number {
    return this.jobs.length;
  }

  private start(): ChildProcess {
    const p = spawn("/bin/sh", [], { stdio: ["pipe", "pipe", "ignore"] });
    this.out = "";
    p.stdout?.setEncoding("utf8").on("data", (c: string) => this.onData(c));
    p.stdin?.on("error", () => {});
    const fail = (why: string): void => {
      if (this.proc !== p) return;
      this.proc = undefined;
      for (const j of this.jobs.splice(0)) j.reject(new Error(`sh worker ended: ${why}`));
    };
    p.on("error", (e) => fail(e.message));
    p.on("exit", (code, sig) => fail(`exit ${code ?? sig}`));
    this.proc = p;
    return p;
  }

  private onData(chunk: string): void {
    this.out += chunk;
    for (;;) {
      const j = this.jobs[0];
      if (j === undefined) return;
      const at = this.out.indexOf(j.marker);
      if (at < 0) return;
      const nl = this.out.indexOf("\n", at);
      if (nl < 0) return;
      const code = Number(this.out.slice(at + j.marker.length, nl).trim());
      const output = this.out.slice(0, at);
      this.out = this.out.slice(nl + 1);
      this.jobs.shift();
      j.resolve({ code: Number.isFinite(code) ? code : 1, output: output.trim() });
    }
  }

  run(script: string): Promise<ShExit> {
    const p = this.proc ?? this.start();
    const marker = `__trellis_done_${process.pid}_${++this.seq}__`;
    return new Promise((resolve, reject) => {
      this.jobs.push({ marker, resolve, reject });
      p.stdin?.write(`{ ${script}\n} 2>&1 </dev/null; echo "${marker} $?"\n`);
    });
  }

  close(): void {
    const p = this.proc;
    this.proc = undefined;
    p?.stdin?.end();
    for (const j of this.jobs.splice(0)) j.reject(new Error("sh worker closed"));
  }
}

export class ShPool {
  private readonly workers: ShWorker[];

  constructor(size = 4) {
    this.workers = Array.from({ length: size }, () => new ShWorker());
  }

  run(script: string): Promise<ShExit> {
    let best = this.workers[0] as ShWorker;
    for (const w of this.workers) if (w.busy < best.busy) best = w;
    return best.run(script);
  }

  close(): void {
    for (const w of this.workers) w.close();
  }
}
