// The real FIB driver: one long-lived `ip -force -batch -` process fed over
// stdin. Node has no netlink sockets (and we ship no native addons), so this
// is the fastest route into the kernel we have: ip turns each line into one
// RTM_NEWROUTE/RTM_DELROUTE and stays up between batches (no exec per route,
// no exec per batch). Measured in test/bench/bgp (fib-bench).
// Completion and errors: with -force ip keeps going after a failure and
// prints the error then "Command failed -:N" (N = input line) on stderr.
// net/line-session.ts owns the process and that protocol (fence line,
// per-line attribution, restart after death); this file turns FIB ops into
// lines and failures back into ops.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { IP_BATCH_PROTOCOL, LineSession } from "../../net/line-session.js";
import { deleteCommand, replaceCommand } from "./route.js";
import type { KernelRoute, NextHop } from "./route.js";
import type { FibOp } from "./fib-sync.js";
import type { FibDriver, FibOpFailure } from "./driver.js";

const execFileP = promisify(execFile);

export interface IpBatchOptions {
  /** routing table id (254 = main) */
  table: number;
  /** rtnetlink protocol number that marks our routes (trellis-bgp: PROTO_TRELLIS_BGP from net/route-ownership.ts, 202) */
  proto: number;
  /** run in this named network namespace (`ip -n`); default: the caller's namespace */
  netns?: string;
  /** path of the ip binary */
  ip?: string;
}

/** One long-lived `ip -force -batch -` process. */
class IpBatchPipe {
  private readonly session: LineSession;

  constructor(private readonly opts: IpBatchOptions) {
    const ns = opts.netns === undefined ? [] : ["-n", opts.netns];
    // Unbounded queue: KernelFib keeps one batch in flight per pipe, so this never fills.
    this.session = new LineSession({
      argv: [opts.ip ?? "ip", ...ns, "-force", "-batch", "-"],
      protocol: IP_BATCH_PROTOCOL,
      name: "ip -batch",
      maxQueued: Infinity,
    });
  }

  async apply(ops: readonly FibOp[]): Promise<FibOpFailure[]> {
    if (ops.length === 0) return [];
    const { table, proto } = this.opts;
    const lines = ops.map((op) =>
      op.op === "replace" ? replaceCommand(op.route, table, proto) : deleteCommand(op.prefix, table, proto),
    );
    const { failures } = await this.session.run(lines);
    const out: FibOpFailure[] = [];
    for (const f of failures) {
      const op = ops[f.index];
      if (op === undefined) continue;
      // Deleting a route that is already gone (ESRCH) is the state we wanted.
      if (op.op === "delete" && /No such process/.test(f.message)) continue;
      out.push({ op, error: f.message });
    }
    return out;
  }

  close(): Promise<void> {
    return this.session.close();
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
