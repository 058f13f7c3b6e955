// The real FIB driver: one long-lived `ip -force -batch -` process fed over
// stdin. Node has no netlink sockets (and we ship no native addons), so this
// is the fastest route into the kernel we have: ip turns each line into one
// RTM_NEWROUTE/RTM_DELROUTE and stays up between batches (no exec per route,
// no exec per batch). Measured in test/bench/bgp (fib-bench).
//
// Completion and errors: with -force ip keeps going after a failure and
// prints the error then "Command failed -:N" (N = input line) on stderr. After
// each batch we send a fence command that always fails (`link show dev` of a
// name that cannot exist); its "Command failed -:N" on stderr, which is
// ordered after every earlier error on the same pipe, marks the batch done.
import { spawn, execFile } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { promisify } from "node:util";
import { deleteCommand, replaceCommand } from "./route.js";
import type { KernelRoute, NextHop } from "./route.js";
import type { FibOp } from "./fib-sync.js";
import type { FibDriver, FibOpFailure } from "./driver.js";

const execFileP = promisify(execFile);

export interface IpBatchOptions {
  /** routing table id (254 = main) */
  table: number;
  /** rtnetlink protocol number that marks our routes (Trellis: 201) */
  proto: number;
  /** run in this named network namespace (`ip -n`); default: the caller's namespace */
  netns?: string;
  /** path of the ip binary */
  ip?: string;
}

/** A device name longer than IFNAMSIZ can never exist, so this line always fails. */
const FENCE = "link show dev trellis-fence-never-exists";

interface Pending {
  ops: readonly FibOp[];
  firstLine: number;
  fenceLine: number;
  failures: FibOpFailure[];
  resolve: (f: FibOpFailure[]) => void;
  reject: (e: Error) => void;
}

/** One long-lived `ip -force -batch -` process. */
class IpBatchPipe {
  private readonly opts: IpBatchOptions;
  private proc: ChildProcessWithoutNullStreams | null = null;
  private lineNo = 0;
  private stderrBuf = "";
  private errLines: string[] = [];
  private readonly queue: Pending[] = [];

  constructor(opts: IpBatchOptions) {
    this.opts = opts;
  }

  private ipArgs(): string[] {
    return this.opts.netns === undefined ? [] : ["-n", this.opts.netns];
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.proc !== null) return this.proc;
    const proc = spawn(this.opts.ip ?? "ip", [...this.ipArgs(), "-force", "-batch", "-"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.proc = proc;
    this.lineNo = 0;
    this.stderrBuf = "";
    this.errLines = [];
    proc.stdout.resume(); // nothing we send prints to stdout; drain anyway
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk: string) => this.onStderr(chunk));
    const fail = (why: string): void => {
      if (this.proc === proc) this.proc = null;
      const err = new Error(`ip -batch: ${why}`);
      for (const p of this.queue.splice(0)) p.reject(err);
    };
    proc.on("error", (e) => fail(e.message));
    proc.on("exit", (code, sig) => fail(`exited (${sig ?? code})`));
    proc.stdin.on("error", (e) => fail(e.message));
    return proc;
  }

  private onStderr(chunk: string): void {
    this.stderrBuf += chunk;
    let nl: number;
    while ((nl = this.stderrBuf.indexOf("\n")) >= 0) {
      const line = this.stderrBuf.slice(0, nl);
      this.stderrBuf = this.stderrBuf.slice(nl + 1);
      const m = /^Command failed -:(\d+)$/.exec(line);
      if (m === null) {
        this.errLines.push(line);
        continue;
      }
      const n = Number(m[1]);
      const message = this.errLines.join(" ").trim();
      this.errLines = [];
      const p = this.queue[0];
      if (p === undefined) continue;
      if (n === p.fenceLine) {
        this.queue.shift();
        p.resolve(p.failures);
        continue;
      }
      const op = p.ops[n - p.firstLine];
      if (op === undefined) continue;
      // Deleting a route that is already gone (ESRCH) is the state we wanted.
      if (op.op === "delete" && /No such process/.test(message)) continue;
      p.failures.push({ op, error: message || "failed" });
    }
  }

  apply(ops: readonly FibOp[]): Promise<FibOpFailure[]> {
    if (ops.length === 0) return Promise.resolve([]);
    const proc = this.start();
    const { table, proto } = this.opts;
    const lines: string[] = [];
    for (const op of ops)
      lines.push(
        op.op === "replace" ? replaceCommand(op.route, table, proto) : deleteCommand(op.prefix, table, proto),
      );
    lines.push(FENCE);
    const firstLine = this.lineNo + 1;
    this.lineNo += lines.length;
    return new Promise<FibOpFailure[]>((resolve, reject) => {
      this.queue.push({ ops, firstLine, fenceLine: this.lineNo, failures: [], resolve, reject });
      proc.stdin.write(lines.join("\n") + "\n");
    });
  }

  close(): Promise<void> {
    const proc = this.proc;
    if (proc === null) return Promise.resolve();
    this.proc = null;
    return new Promise((resolve) => {
      proc.once("exit", () => resolve());
      proc.stdin.end();
    });
  }
}

/**
 * The FIB driver: `workers` ip processes (default 1), each batch split among
 * them by prefix. Within one apply() a prefix appears once (FibSync
 * coalesces), so splitting never reorders operations on one prefix. Several
 * processes overlap the per-route user/kernel round trips ip makes (it waits
 * for each route's netlink ACK before sending the next).
 */
export class IpBatchDriver implements FibDriver {
  private readonly opts: IpBatchOptions;
  private readonly pipes: IpBatchPipe[];

  constructor(opts: IpBatchOptions & { workers?: number }) {
    this.opts = opts;
    this.pipes = Array.from({ length: Math.max(1, opts.workers ?? 1) }, () => new IpBatchPipe(opts));
  }

  private ipArgs(): string[] {
    return this.opts.netns === undefined ? [] : ["-n", this.opts.netns];
  }

  async apply(ops: readonly FibOp[]): Promise<FibOpFailure[]> {
    const n = this.pipes.length;
    if (n === 1 || ops.length < 64) return this.pipes[0]!.apply(ops);
    const parts: FibOp[][] = this.pipes.map(() => []);
    for (const op of ops) parts[prefixHash(op.op === "replace" ? op.route.prefix : op.prefix) % n]!.push(op);
    const res = await Promise.all(parts.map((part, i) => this.pipes[i]!.apply(part)));
    return res.flat();
  }

  async list(): Promise<KernelRoute[]> {
    const out: KernelRoute[] = [];
    for (const fam of ["-4", "-6"]) {
      let stdout: string;
      try {
        ({ stdout } = await execFileP(
          this.opts.ip ?? "ip",
          [
            ...this.ipArgs(),
            "-j",
            fam,
            "route",
            "show",
            "table",
            String(this.opts.table),
            "proto",
            String(this.opts.proto),
          ],
          { maxBuffer: 1 << 30 },
        ));
      } catch (e) {
        // A table nobody has used yet in this family does not exist: it is empty.
        if (/FIB table does not exist/.test(String((e as { stderr?: unknown }).stderr))) continue;
        throw e;
      }
      const rows = stdout.trim() === "" ? [] : (JSON.parse(stdout) as IpRouteJson[]);
      for (const r of rows) {
        const route = fromJson(r, fam === "-6");
        if (route !== undefined) out.push(route);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.pipes.map((p) => p.close()));
  }
}

function prefixHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return h >>> 0;
}

interface IpNextHopJson {
  gateway?: string;
  via?: { family: string; host: string };
  dev?: string;
}

interface IpRouteJson extends IpNextHopJson {
  dst: string;
  type?: string;
  nexthops?: IpNextHopJson[];
}

function nextHopFromJson(j: IpNextHopJson): NextHop | undefined {
  const via = j.gateway ?? j.via?.host;
  if (via === undefined) return undefined;
  // We set a device only for link-local gateways; report it only there so the
  // readback compares equal to what we installed.
  return via.startsWith("fe80:") && j.dev !== undefined ? { via, dev: j.dev } : { via };
}

function fromJson(r: IpRouteJson, v6: boolean): KernelRoute | undefined {
  if (r.type !== undefined && r.type !== "unicast") return undefined;
  let prefix = r.dst === "default" ? (v6 ? "::/0" : "0.0.0.0/0") : r.dst;
  if (!prefix.includes("/")) prefix += v6 ? "/128" : "/32";
  const hops = (r.nexthops ?? [r]).map(nextHopFromJson).filter((n): n is NextHop => n !== undefined);
  if (hops.length === 0) return { prefix, nexthops: [] };
  return { prefix, nexthops: hops };
}
