// The benchmark harness (bgperf-style): for each size, target and column, build
// two fresh namespaces joined by a veth (target tRbgT, generator tRbgG), start
// the target, let the generator bring up P sessions and blast P × N prefixes,
// and time, from the moment every session is Established:
//   rib column (kernel export off for every target): until the target's
//     Loc-RIB holds all P × N paths, read through its own interface
//     (targets.ts header);
//   fib column (kernel export on, targets with a FIB): until the kernel holds
//     every prefix, counted for every target the same way: `ip -n <ns> -4 route
//     show table all proto <number>`, streamed and counted here;
// then read the target's peak RSS (VmHWM). Both columns poll with the same
// fixed pause (pollMs, default 100 ms) after each read, and every read's wall
// time is recorded: the milestone is when the first read that saw the count
// finished, so a figure includes up to pollMs plus one read. Everything is torn
// down after each run, also on failure.
import { spawn, execFileSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { TARGET_ADDR, TARGET_AS, FIB_TABLE } from "./targets.js";
import type { BenchPeer, Target, RunningTarget } from "./targets.js";

/** Default namespace names (tR prefix); a run may use others (the jest smoke test does). */
export const NS_TARGET = "tRbgT";
export const NS_GEN = "tRbgG";

export interface Namespaces {
  target: string;
  gen: string;
}
const DEFAULT_NS: Namespaces = { target: NS_TARGET, gen: NS_GEN };
const GEN_BASE = "10.200.0.10";
const ASN_BASE = 65100;

export interface Size {
  peers: number;
  prefixes: number;
}

/** rib: kernel export off, time to the Loc-RIB; fib: kernel export on, time to the kernel. */
export type Column = "rib" | "fib";

/** What polling cost: reads made and their wall time. */
export interface PollCost {
  reads: number;
  medianMs: number;
  maxMs: number;
}

export interface RunResult {
  target: string;
  version: string;
  column: Column;
  peers: number;
  prefixes: number;
  ok: boolean;
  error?: string;
  /** how the milestone was read */
  via: string;
  /** ms from all sessions Established to the milestone (Loc-RIB full, or kernel full) */
  ms?: number;
  poll?: PollCost;
  /** peak resident set of the target process(es), MB (VmHWM) */
  peakRssMB?: number;
  /** the same by process name (e.g. node and its FIB's ip; bgpd and zebra) */
  peakRssByProcessMB?: Record<string, number>;
  /** ms the generator needed to write everything (below every RIB time; a FIB-busy target may slow its reads) */
  generatorSendMs?: number;
  /** successful runs behind the medians (TRELLIS_BENCH_REPEAT) */
  runs?: number;
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}

function tryDel(ns: string): void {
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  } catch {
    /* absent */
  }
}

export function teardown(ns: Namespaces = DEFAULT_NS): void {
  tryDel(ns.target);
  tryDel(ns.gen);
}

function addr(i: number): string {
  const p = GEN_BASE.split(".").map(Number);
  return `${p[0]}.${p[1]}.${p[2]}.${p[3]! + i}`;
}

export function setup(peers: number, ns: Namespaces = DEFAULT_NS): BenchPeer[] {
  teardown(ns);
  const T = ns.target;
  const G = ns.gen;
  sh("ip", ["netns", "add", T]);
  sh("ip", ["netns", "add", G]);
  sh("ip", ["-n", T, "link", "set", "lo", "up"]);
  sh("ip", ["-n", G, "link", "set", "lo", "up"]);
  sh("ip", ["-n", T, "link", "add", `${T}0`, "type", "veth", "peer", "name", `${G}0`, "netns", G]);
  sh("ip", ["-n", T, "addr", "add", `${TARGET_ADDR}/24`, "dev", `${T}0`]);
  sh("ip", ["-n", T, "link", "set", `${T}0`, "up"]);
  sh("ip", ["-n", G, "link", "set", `${G}0`, "up"]);
  // Make the bench table exist in both families (an unused table is "FIB table
  // does not exist" to a readback) with a route of another proto, never counted.
  sh("ip", [
    "-n",
    T,
    "route",
    "add",
    "unreachable",
    "203.0.113.0/24",
    "table",
    String(FIB_TABLE),
    "proto",
    "static",
  ]);
  sh("ip", [
    "-n",
    T,
    "-6",
    "route",
    "add",
    "unreachable",
    "2001:db8:ffff::/48",
    "table",
    String(FIB_TABLE),
    "proto",
    "static",
  ]);
  const out: BenchPeer[] = [];
  for (let i = 0; i < peers; i++) {
    sh("ip", ["-n", G, "addr", "add", `${addr(i)}/24`, "dev", `${G}0`]);
    out.push({ address: addr(i), asn: ASN_BASE + i });
  }
  return out;
}

/** Peak RSS in MB (VmHWM, /proc/PID/status) of the processes, in total and by process name. */
function peakRss(pids: number[]): { total: number; by: Record<string, number> } | undefined {
  let kb = 0;
  const by: Record<string, number> = {};
  for (const pid of pids) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (!m) continue;
      kb += Number(m[1]);
      const name = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      by[name] = (by[name] ?? 0) + Math.round(Number(m[1]) / 1024);
    } catch {
      /* gone */
    }
  }
  return kb === 0 ? undefined : { total: Math.round(kb / 1024), by };
}

/** The FIB read, the same for every target. */
export function fibVia(proto: number): string {
  return `ip -n <ns> -4 route show table all proto ${proto}`;
}

/** Count IPv4 routes of one proto in every table, streaming (a 1M-line dump is never held in memory). */
function countFib(ns: string, proto: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn("ip", ["-n", ns, "-4", "route", "show", "table", "all", "proto", String(proto)], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let n = 0;
    let atLineStart = true;
    p.stdout.on("data", (d: Buffer) => {
      // one line per route; multipath routes add indented "nexthop" lines
      for (let i = 0; i < d.length; i++) {
        const c = d[i]!;
        if (atLineStart && c !== 9 && c !== 32) n++;
        atLineStart = c === 10;
      }
    });
    p.on("error", reject);
    p.on("close", () => resolve(n));
  });
}

interface GenEvents {
  established: Promise<number>;
  sent: Promise<number>;
  failed: Promise<never>;
}

function startGenerator(
  repoRoot: string,
  size: Size,
  overlap: boolean,
  genNs: string,
): { proc: ChildProcess; ev: GenEvents } {
  const proc = spawn(
    "ip",
    [
      "netns",
      "exec",
      genNs,
      process.execPath,
      join(repoRoot, "dist/test/bench/bgp/generator.js"),
      "--target",
      TARGET_ADDR,
      "--target-asn",
      String(TARGET_AS),
      "--peers",
      String(size.peers),
      "--prefixes",
      String(size.prefixes),
      "--local-base",
      GEN_BASE,
      "--asn-base",
      String(ASN_BASE),
      "--overlap",
      overlap ? "1" : "0",
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let est!: (t: number) => void;
  let sent!: (t: number) => void;
  let fail!: (e: Error) => void;
  const ev: GenEvents = {
    established: new Promise((r) => (est = r)),
    sent: new Promise((r) => (sent = r)),
    failed: new Promise((_, rej) => (fail = rej)),
  };
  ev.failed.catch(() => undefined);
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    let e: { event?: string; at?: number; ms?: number; message?: string };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      return;
    }
    if (e.event === "established") est(e.at!);
    else if (e.event === "sent") sent(e.ms!);
    else if (e.event === "error") fail(new Error(`generator: ${e.message}`));
  });
  proc.on("exit", (code) => fail(new Error(`generator exited (${code})`)));
  return { proc, ev };
}

/**
 * Read until the count is reached, pausing `pollMs` after each read (the same
 * for every target); returns when the successful read finished and what the
 * reads cost.
 */
async function pollUntil(
  read: () => Promise<number>,
  want: number,
  deadline: number,
  failed: Promise<never>,
  what: string,
  ns: Namespaces,
  pollMs: number,
): Promise<{ at: number; poll: PollCost }> {
  let last = -1;
  const took: number[] = [];
  for (;;) {
    // another job on a shared machine may delete namespaces: fail fast, not at the timeout
    for (const n of [ns.target, ns.gen])
      if (!existsSync(`/var/run/netns/${n}`)) throw new Error(`namespace ${n} vanished during the run`);
    const t = Date.now();
    const n = await Promise.race([read().catch(() => -1), failed]);
    const now = Date.now();
    took.push(now - t);
    if (n >= want) return { at: now, poll: pollCost(took) };
    last = n;
    if (now > deadline) throw new Error(`${what}: ${last} of ${want} after timeout`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export function pollCost(took: number[]): PollCost {
  const s = [...took].sort((a, b) => a - b);
  return { reads: s.length, medianMs: s[(s.length - 1) >> 1] ?? 0, maxMs: s[s.length - 1] ?? 0 };
}

export interface RunOptions {
  repoRoot: string;
  column: Column;
  overlap: boolean;
  timeoutMs: number;
  /** pause after each read, ms (default 100) */
  pollMs?: number;
  /** extra node flags for trellis-bgp (TRELLIS_BENCH_NODE_ARGS) */
  nodeArgs?: string[];
  /** keep the target running this long after the milestone (TRELLIS_BENCH_HOLD_MS: time for a heap snapshot) */
  holdMs?: number;
  ns?: Namespaces;
}

export async function runOne(target: Target, size: Size, o: RunOptions): Promise<RunResult> {
  const ns = o.ns ?? DEFAULT_NS;
  const fibProto = target.fibProto;
  if (o.column === "fib" && fibProto === undefined) throw new Error(`${target.name} has no FIB`);
  const via = o.column === "rib" ? target.ribPoll : `${target.fibPath ?? ""}; ${fibVia(fibProto!)}`;
  const base: RunResult = {
    target: target.name,
    version: await target.version(),
    column: o.column,
    ...size,
    ok: false,
    via,
  };
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-bgp-"));
  let running: RunningTarget | undefined;
  let gen: ChildProcess | undefined;
  try {
    const peers = setup(size.peers, ns);
    const fib = o.column === "fib";
    running = await target.start({
      netns: ns.target,
      dir,
      peers,
      fib,
      repoRoot: o.repoRoot,
      ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}),
    });
    const g = startGenerator(o.repoRoot, size, o.overlap, ns.gen);
    gen = g.proc;
    const deadline = Date.now() + o.timeoutMs;
    const t0 = await Promise.race([
      g.ev.established,
      g.ev.failed,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("sessions did not come up in 60 s")), 60_000).unref(),
      ),
    ]);
    const paths = size.peers * size.prefixes;
    const r = running;
    const pollMs = o.pollMs ?? 100;
    const done = fib
      ? await pollUntil(
          () => countFib(ns.target, fibProto!),
          o.overlap ? size.prefixes : paths,
          deadline,
          g.ev.failed,
          "FIB",
          ns,
          pollMs,
        )
      : await pollUntil(() => r.ribCount(), paths, deadline, g.ev.failed, "RIB", ns, pollMs);
    const result: RunResult = { ...base, ok: true, ms: done.at - t0, poll: done.poll };
    if (o.holdMs) await new Promise((r) => setTimeout(r, o.holdMs));
    result.generatorSendMs = await Promise.race([
      g.ev.sent,
      new Promise<number>((r) => setTimeout(() => r(-1), 1000).unref()),
    ]);
    const rss = peakRss(running.pids());
    if (rss !== undefined) {
      result.peakRssMB = rss.total;
      result.peakRssByProcessMB = rss.by;
    }
    return result;
  } catch (e) {
    if (running !== undefined) {
      const rss = peakRss(running.pids());
      if (rss !== undefined) base.peakRssMB = rss.total;
    }
    const logs = ["trellis-bgp.log", "bird.log", "gobgpd.log", "bgpd.log", "zebra.log"]
      .map((f) => {
        try {
          return readFileSync(join(dir, f), "utf8").split("\n").slice(-5).join("\n");
        } catch {
          return "";
        }
      })
      .filter((s) => s.trim() !== "")
      .join("\n");
    return { ...base, error: `${e instanceof Error ? e.message : String(e)}${logs ? `\n${logs}` : ""}` };
  } finally {
    gen?.stdin?.end();
    gen?.kill("SIGTERM");
    await running?.stop().catch(() => undefined);
    teardown(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

function ratio(x: number | undefined, y: number | undefined): string {
  if (x === undefined || y === undefined || y === 0) return "-";
  return `${(x / y).toFixed(2)}x`;
}

function secs(ms: number | undefined): string {
  return ms === undefined ? "-" : (ms / 1000).toFixed(2);
}

/** A figure of a run; a failed run shows its error in its time cell and "-" elsewhere. */
function cell(r: RunResult | undefined, f: (r: RunResult) => string, error = false): string {
  if (r === undefined) return "-";
  if (!r.ok) return error ? `failed: ${(r.error ?? "").split("\n")[0]}` : "-";
  return f(r);
}

/**
 * Markdown table, one row per (size, target): the RIB column (kernel export
 * off) and the FIB column (kernel export on), each with its read cost, and
 * ratios against BIRD of the same size and column.
 */
export function formatTable(results: RunResult[]): string {
  const rows = [
    "| size (P×N) | target | RIB s | vs BIRD | RIB read ms (median/max, reads) | RSS MB | FIB s | vs BIRD | FIB read ms (median/max, reads) | RSS MB |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const key = (r: RunResult): string => `${r.peers}x${r.prefixes} ${r.target}`;
  const seen = new Set<string>();
  for (const r of results) {
    if (seen.has(key(r))) continue;
    seen.add(key(r));
    const get = (t: string, c: Column): RunResult | undefined =>
      results.find(
        (x) => x.target === t && x.column === c && x.peers === r.peers && x.prefixes === r.prefixes,
      );
    const rib = get(r.target, "rib");
    const fib = get(r.target, "fib");
    const bRib = get("bird", "rib");
    const bFib = get("bird", "fib");
    const size = `${r.peers}×${r.prefixes >= 1000 ? `${r.prefixes / 1000}k` : r.prefixes}`;
    const cost = (x: RunResult): string =>
      x.poll ? `${x.poll.medianMs}/${x.poll.maxMs}, ${x.poll.reads}` : "-";
    rows.push(
      `| ${size} | ${r.target} | ${cell(rib, (x) => secs(x.ms), true)} | ${cell(rib, (x) => ratio(x.ms, bRib?.ms))} | ${cell(rib, cost)} | ${rib?.peakRssMB ?? "-"} | ${cell(fib, (x) => secs(x.ms), true)} | ${cell(fib, (x) => ratio(x.ms, bFib?.ms))} | ${cell(fib, cost)} | ${fib?.peakRssMB ?? "-"} |`,
    );
  }
  return rows.join("\n");
}
