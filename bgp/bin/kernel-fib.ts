/**
 * The kernel shell around bgp/fib's pure FibSync: Loc-RIB changes in, `ip
 * -batch` transactions out, with the Trellis `proto` number so only our own
 * routes are ever read back or swept. Runs one `ip` at a time; changes that
 * arrive meanwhile are coalesced into the next batch. After a failed batch the
 * kernel is read back and diffed from scratch (DESIGN.md: resync after failure).
 */
import { spawn } from "node:child_process";
import { FibSync } from "../fib/fib-sync.js";
import { deleteCommand, replaceCommand, type KernelRoute } from "../fib/route.js";
import type { FibOp } from "../fib/fib-sync.js";
import type { FibChange } from "../rib/index.js";
import type { FibSink, Logger } from "../speaker.js";

export interface KernelFibOptions {
  table: number;
  protocol: number;
  /** Run `ip -n NETNS` (tests, the lab). */
  netns?: string;
  logger: Logger;
}

export class KernelFib implements FibSink {
  private readonly sync = new FibSync();
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly opts: KernelFibOptions) {}

  /** Learn what an earlier run left in the kernel: kept until markSynced (RFC 4724 §4.1). */
  async init(): Promise<number> {
    const found = await this.readKernel();
    await this.run(this.sync.reconcile(found));
    return found.length;
  }

  apply(changes: readonly FibChange[]): void {
    for (const c of changes) {
      if (c.nexthops.length === 0) this.sync.remove(c.prefix);
      else
        this.sync.set(
          c.prefix,
          c.nexthops.map((via) => ({ via })),
        );
    }
    this.kick();
  }

  markSynced(): void {
    const ops = this.sync.markSynced();
    void this.enqueue(ops);
  }

  /** Wait until everything applied so far is in the kernel. */
  async settle(): Promise<void> {
    while (this.running || this.sync.pendingCount > 0) {
      if (!this.running) this.kick();
      await this.running;
    }
  }

  async close(): Promise<void> {
    await this.settle();
    this.closed = true;
  }

  get installedCount(): number {
    return this.sync.installedCount;
  }

  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.run(this.sync.takeOps());
      } while (this.again || this.sync.pendingCount > 0);
    })().finally(() => {
      this.running = undefined;
    });
  }

  private async enqueue(ops: FibOp[]): Promise<void> {
    while (this.running) await this.running;
    await this.run(ops);
  }

  private async run(ops: FibOp[]): Promise<void> {
    if (ops.length === 0) return;
    const { table, protocol } = this.opts;
    const lines = ops.map((o) => opLine(o, table, protocol));
    try {
      // -force: one bad line must not stop the rest; failures are repaired by the readback below.
      await this.ip(["-force", "-batch", "-"], lines.join("\n") + "\n");
    } catch (e) {
      this.opts.logger.warn({ error: String(e), ops: ops.length }, "kernel route batch failed: resyncing");
      try {
        const kernel = await this.readKernel();
        const repair = this.sync.reconcile(kernel);
        if (repair.length) {
          await this.ip(
            ["-force", "-batch", "-"],
            repair.map((o) => opLine(o, table, protocol)).join("\n") + "\n",
          ).catch((err: unknown) =>
            this.opts.logger.error({ error: String(err) }, "kernel route repair failed"),
          );
        }
      } catch (err) {
        this.opts.logger.error({ error: String(err) }, "cannot read kernel routes");
      }
    }
  }

  private async readKernel(): Promise<KernelRoute[]> {
    const out: KernelRoute[] = [];
    for (const fam of ["-4", "-6"]) {
      const text = await this.ip([
        fam,
        "-j",
        "route",
        "show",
        "table",
        String(this.opts.table),
        "proto",
        String(this.opts.protocol),
      ]);
      const rows = JSON.parse(text || "[]") as IpRoute[];
      for (const r of rows) {
        if (!r.dst) continue;
        const prefix = r.dst === "default" ? (fam === "-4" ? "0.0.0.0/0" : "::/0") : withLen(r.dst, fam);
        const hops = (r.nexthops ?? [r]).map((h) => h.gateway ?? h.via?.host).filter((x): x is string => !!x);
        if (hops.length) out.push({ prefix, nexthops: hops.map((via) => ({ via })) });
      }
    }
    return out;
  }

  private ip(args: string[], stdin?: string): Promise<string> {
    const full = this.opts.netns ? ["-n", this.opts.netns, ...args] : args;
    return new Promise((resolve, reject) => {
      const p = spawn("ip", full, { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      p.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      p.stderr?.on("data", (d: Buffer) => (err += d.toString()));
      p.on("error", reject);
      p.on("close", (code) =>
        code === 0 ? resolve(out) : reject(new Error(`ip ${args.join(" ")}: exit ${code}: ${err.trim()}`)),
      );
      if (p.stdin) {
        // ip may exit before reading everything (a fatal error): that is reported by its exit code.
        p.stdin.on("error", () => undefined);
        p.stdin.end(stdin);
      }
    });
  }
}

interface IpHop {
  gateway?: string;
  via?: { family: string; host: string };
}
interface IpRoute extends IpHop {
  dst?: string;
  nexthops?: IpHop[];
}

function withLen(dst: string, fam: string): string {
  return dst.includes("/") ? dst : `${dst}/${fam === "-4" ? 32 : 128}`;
}

function opLine(o: FibOp, table: number, protocol: number): string {
  return batchLine(
    o.op === "replace" ? replaceCommand(o.route, table, protocol) : deleteCommand(o.prefix, table, protocol),
  );
}

/**
 * `ip -batch` takes no global options per line ("-6 route …" fails with
 * "Object -6 is unknown"); the family follows from the prefix anyway.
 */
function batchLine(cmd: string): string {
  return cmd.startsWith("-6 ") ? cmd.slice(3) : cmd;
}
