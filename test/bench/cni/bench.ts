/**
 * CNI benchmark, side by side in one run: Trellis (static shim -> agent ->
 * block IPAM on the lab API server + routed veth) against the reference
 * `ptp` + `host-local`, both exec'd as a runtime would from inside the same
 * node namespace. Measures ADD and DEL latency p50/p99 over sequential pods
 * (the two plugins alternate pod by pod so machine noise hits both alike),
 * wall time of bursts of 30 concurrent ADDs, one routed veth made by the
 * agent's netlink dataplane (per step) and by the two iproute2 strategies it
 * replaced, one pod's policy transaction (its element adds, then deletes)
 * sent by the long-lived `nft` session and by nf_tables netlink, and (full
 * size) the agent's RSS with 1,000 pods.
 *
 *   smoke (CI): 30 sequential pods, 3 bursts of 30
 *   full (TRELLIS_BENCH_FULL=1): 200 sequential pods, 10 bursts, RSS at 1,000 pods
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { TestBed, SHIM, ROOT, sh } from "../../agent/harness.js";
import type { ExecTimeline } from "./runner.js";
import { DETACHED_VETH_PREFIX } from "../../../agent/dataplane/dataplane.js";

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

export interface CniBenchResult {
  size: "smoke" | "full";
  pods: number;
  burstSize: number;
  bursts: number;
  date: string;
  /** The 1, 5 and 15 minute load averages when the run started and when it ended: ratios move with load. */
  loadavg: { start: number[]; end: number[] };
  trellis: {
    add: Stats;
    del: Stats;
    burstWallMs: Stats;
    rssMiBAt1000Pods?: number;
    memoryAt1000Pods?: AgentMemory;
  };
  reference: { add: Stats; del: Stats; burstWallMs: Stats };
  iproute2: { batchMs: Stats; spawnEachMs: Stats; enterIpNMs: Stats; enterNsenterMs: Stats };
  /** One routed veth by the agent's dataplane (rtnetlink, no process): the whole ADD, and each step (DEL: "del"). */
  netlink: { addMs: Stats; steps: Record<string, Stats> };
  /**
   * One pod's policy transaction on a table of `pods` pods (runner.ts): its
   * ADD's element adds and its DEL's deletes, through the driver, by the
   * `nft -j -i` session and by nf_tables netlink, alternated.
   */
  policyTransaction?: {
    pods: number;
    session: { addMs: Stats; delMs: Stats };
    netlink: { addMs: Stats; delMs: Stats };
  };
  /**
   * Where the sequential ADDs' and DELs' time went inside the agent, from its
   * debug log (only with TRELLIS_BENCH_KEEP_LOG, which runs it at debug):
   * execBreakdown(): each ADD exec from the runtime's side (spawn, until the
   * agent accepts, the agent, until the exit is seen); agentBreakdown(): IPAM,
   * veth, configure after IPAM, DEL's veth and release, and the CNI server's
   * receive / handler / reply per request.
   */
  agentBreakdown?: Record<string, Stats>;
  /**
   * The agent's CPU time per Trellis pod (ms), from /proc: its main thread
   * and all its threads, over the sequential phase (per pod: one ADD, one
   * DEL and the background work they cause) and over the bursts (per ADD,
   * with its DEL after the burst). Less noisy than latency: it moves with
   * the work the agent does, not with what else the machine runs.
   */
  agentCpu?: { sequentialPerPod: { main: number; all: number }; burstPerPod: { main: number; all: number } };
  ratios: {
    addP50: number;
    addP99: number;
    delP50: number;
    burstP50: number;
    /** netlink / nft session, the policy transaction of one pod's ADD, p50. */
    policyTxAddP50?: number;
  };
}

/**
 * The per-step timings the agent logs at debug (agent/cni-backend.ts "ADD" and
 * "DEL", agent/cni-server/server.ts "CNI request"), for the sequential pods
 * only (container IDs `seq-trellis-*`; a request line carries no ID, so the
 * server's rows take the first `pods` ADDs and DELs, which are the sequential ones).
 */
export function agentBreakdown(log: string, pods: number): Record<string, Stats> {
  const lines = jsonLines(log);
  const seq = (msg: string): Record<string, unknown>[] =>
    lines.filter((l) => l["msg"] === msg && String(l["containerID"]).startsWith("seq-trellis"));
  const nums = (ls: Record<string, unknown>[], k: string): number[] =>
    ls.map((l) => l[k]).filter((x): x is number => typeof x === "number");
  const add = seq("ADD");
  const del = seq("DEL");
  const req = (command: string): Record<string, unknown>[] =>
    lines.filter((l) => l["msg"] === "CNI request" && l["command"] === command).slice(1, 1 + pods); // [0]: warm-up
  const out: Record<string, Stats> = {
    "ADD: IPAM plan + API write (from start)": stats(nums(add, "ipamMs")),
    "ADD: veth created (from start)": stats(nums(add, "linkMs")),
    "ADD: configure + policy left after IPAM": stats(nums(add, "configureMs")),
    "DEL: veth detached (from start)": stats(nums(del, "linkMs")),
    "DEL: IPAM release, API write (from start)": stats(nums(del, "ipamMs")),
  };
  for (const c of ["ADD", "DEL"])
    for (const k of ["receiveMs", "handleMs", "replyMs"]) out[`${c} server: ${k}`] = stats(nums(req(c), k));
  return out;
}

/**
 * An ADD as the runtime sees it, laid beside the agent's log: the runtime's
 * spawn (fork and exec of the plugin, the same cost for the reference), the
 * shim's start, stdin and connect until the agent accepts, the agent's
 * accept to its handler's answer, and from there the reply's encoding and
 * write, the shim's read, print and exit until the runtime sees the exit. Each exec
 * is matched to the "CNI request" ADD line whose acceptedAt falls inside it
 * (the sequential pods run one at a time).
 */
export function execBreakdown(log: string, execs: readonly ExecTimeline[]): Record<string, Stats> {
  const reqs = jsonLines(log).filter(
    (l) => l["msg"] === "CNI request" && l["command"] === "ADD" && typeof l["acceptedAt"] === "number",
  );
  const spawn: number[] = [];
  const toAccept: number[] = [];
  const agent: number[] = [];
  const toExit: number[] = [];
  for (const e of execs) {
    const r = reqs.find(
      (q) => (q["acceptedAt"] as number) >= e.start && (q["acceptedAt"] as number) <= e.exited,
    );
    if (r === undefined) continue;
    const accepted = r["acceptedAt"] as number;
    const answered = r["answeredAt"] as number;
    spawn.push(e.spawned - e.start);
    toAccept.push(accepted - e.spawned);
    agent.push(answered - accepted);
    toExit.push(e.exited - answered);
  }
  return {
    "ADD exec: runtime's spawn of the plugin": stats(spawn),
    "ADD exec: spawned → agent accepts": stats(toAccept),
    "ADD exec: agent accept → handler's answer": stats(agent),
    "ADD exec: answer → plugin exit seen": stats(toExit),
  };
}

function jsonLines(log: string): Record<string, unknown>[] {
  return log
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    })
    .filter((l): l is Record<string, unknown> => l !== undefined);
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? 0;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    n: s.length,
    p50: r(q(0.5)),
    p99: r(q(0.99)),
    mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

interface Reply {
  id: number;
  ms: number;
  code: number;
  stdout: string;
  /** exec requests: the runner's timeline of the exec (runner.ts ExecTimeline) */
  at?: ExecTimeline;
}

class Runner {
  private next = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  constructor(private readonly proc: ChildProcess) {
    if (proc.stdout) {
      createInterface({ input: proc.stdout }).on("line", (l) => {
        const r = JSON.parse(l) as Reply;
        this.waiting.get(r.id)?.(r);
        this.waiting.delete(r.id);
      });
    }
  }
  send(req: Record<string, unknown>): Promise<Reply> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin?.write(JSON.stringify({ ...req, id }) + "\n");
    });
  }
}

/** Where the agent's RSS is (MiB): resident pages by kind, and V8's own account. */
export interface AgentMemory {
  /** smaps_rollup: anonymous pages (heaps, V8's spaces, malloc) and file-backed ones (the binary, libraries). */
  anon: number;
  file: number;
  /** prom-client's default metrics (net/metrics.ts): the V8 heap, per space, and external memory. */
  heapUsed: number;
  heapTotal: number;
  external: number;
  spacesUsed: Record<string, number>;
}

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

async function agentMemory(pid: number, netns: string, metricsPort: number): Promise<AgentMemory> {
  const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(smaps)?.[1] ?? 0) * 1024;
  const text = await sh("nsenter", [
    `--net=/var/run/netns/${netns}`,
    "curl",
    "-s",
    `http://127.0.0.1:${metricsPort}/metrics`,
  ]);
  const metric = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? 0);
  const spacesUsed: Record<string, number> = {};
  for (const m of text.matchAll(/^nodejs_heap_space_size_used_bytes\{space="(\w+)"\} (\S+)/gm))
    spacesUsed[m[1] ?? ""] = mib(Number(m[2]));
  return {
    anon: mib(kb("Anonymous")),
    file: mib(kb("Rss") - kb("Anonymous")),
    heapUsed: mib(metric("nodejs_heap_size_used_bytes")),
    heapTotal: mib(metric("nodejs_heap_size_total_bytes")),
    external: mib(metric("nodejs_external_memory_bytes")),
    spacesUsed,
  };
}

/** USER_HZ: the unit of utime and stime in /proc/PID/stat (getconf CLK_TCK; 100 on Linux here). */
let clockTicks: number | undefined;

/**
 * CPU time (utime + stime, ms) of a process's main thread and of all its
 * threads, from /proc/PID/task/PID/stat and /proc/PID/stat (proc(5): fields
 * 14 and 15, counted after the parenthesised command name, which may hold
 * spaces).
 */
export function cpuMs(pid: number): { main: number; all: number } {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const ticks = (path: string): number => {
    const text = readFileSync(path, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const ms = (t: number): number => (t * 1000) / (clockTicks ?? 100);
  return { main: ms(ticks(`/proc/${pid}/task/${pid}/stat`)), all: ms(ticks(`/proc/${pid}/stat`)) };
}

/**
 * The run's name prefix: TRELLIS_BENCH_TOKEN, else one made of our pid, so
 * two benches on one machine never share namespace names (the cleanup of
 * one would delete the other's). At most 4 of [a-z0-9]: it goes into
 * interface names (15 bytes, IFNAMSIZ).
 */
export function benchToken(given: string | undefined, pid: number): string {
  if (given === undefined || given === "") return `b${(pid % 1296).toString(36)}`;
  if (!/^[a-z0-9]{1,4}$/.test(given))
    throw new Error(
      `TRELLIS_BENCH_TOKEN=${JSON.stringify(given)}: 1 to 4 of a-z and 0-9 (it goes into interface names)`,
    );
  return given;
}

export async function runCniBench(
  full: boolean,
  log: (s: string) => void = () => {},
): Promise<CniBenchResult> {
  const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);
  const loadStart = load();
  // TRELLIS_BENCH_PODS / TRELLIS_BENCH_BURSTS override the sizes (experiments).
  const pods = Number(process.env["TRELLIS_BENCH_PODS"] ?? (full ? 200 : 30));
  const bursts = Number(process.env["TRELLIS_BENCH_BURSTS"] ?? (full ? 10 : 3));
  const burstSize = 30;
  const bed = new TestBed(benchToken(process.env["TRELLIS_BENCH_TOKEN"], process.pid));
  try {
    await bed.startApi();
    await bed.createPool("bench", { cidr: "10.90.0.0/16", blockSize: 26 });
    const node = await bed.addNode();
    // The agent at its production log level (info); TRELLIS_BENCH_KEEP_LOG asks for debug phase timings.
    const agent = await bed.startAgent(
      "bench-node",
      node.netns,
      { leakCheckIntervalSeconds: 3600 },
      { logLevel: process.env["TRELLIS_BENCH_KEEP_LOG"] !== undefined ? "debug" : "info" },
    );
    const hl = join(bed.dir, "host-local");
    mkdirSync(hl, { recursive: true });
    const runnerProc = spawn(
      "nsenter",
      [`--net=/var/run/netns/${node.netns}`, process.execPath, join(ROOT, "dist/test/bench/cni/runner.js")],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const runner = new Runner(runnerProc);
    const conf = {
      trellis: JSON.stringify({
        cniVersion: "1.0.0",
        name: "bench-trellis",
        type: "trellis",
        agentSocket: agent.socket,
        mtu: 1500,
        ipam: { type: "trellis-ipam" },
      }),
      reference: JSON.stringify({
        cniVersion: "1.0.0",
        name: "bench-ptp",
        type: "ptp",
        mtu: 1500,
        ipam: { type: "host-local", ranges: [[{ subnet: "10.91.0.0/16" }]], dataDir: hl },
      }),
    };
    const plugin = { trellis: SHIM, reference: "/usr/lib/cni/ptp" };
    const call = async (
      who: "trellis" | "reference",
      command: "ADD" | "DEL",
      id: string,
      netns: string,
    ): Promise<number> => {
      const r = await runner.send({
        op: "exec",
        plugin: plugin[who],
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: id,
          CNI_NETNS: `/var/run/netns/${netns}`,
          CNI_IFNAME: "eth0",
          CNI_PATH: "/usr/lib/cni",
          PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        },
        stdin: conf[who],
      });
      if (r.code !== 0) throw new Error(`${who} ${command} ${id}: exit ${r.code}: ${r.stdout}`);
      if (who === "trellis" && command === "ADD" && id.startsWith("seq-") && r.at !== undefined)
        seqAddExecs.push(r.at);
      return r.ms;
    };
    /** The sequential Trellis ADDs' exec timelines (execBreakdown). */
    const seqAddExecs: ExecTimeline[] = [];

    // A Trellis DEL answers before the kernel has deleted the veth (agent/dataplane
    // detach); the delete then holds the RTNL for tens of ms. Each measurement
    // starts once those are done, so neither plugin's timings carry the other's
    // kernel work (untimed; bounded).
    const settleDetached = async (): Promise<void> => {
      for (let i = 0; i < 500; i++) {
        const links = await sh("ip", ["-n", node.netns, "-o", "link", "show"]);
        if (!links.includes(`: ${DETACHED_VETH_PREFIX}`)) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error("detached host veths still there after 10 s");
    };

    // Warm-up: first exec of each binary pulls it into the page cache.
    const warm = [bed.netnsName("wt"), bed.netnsName("wr")];
    await bed.addNetns(warm);
    await call("trellis", "ADD", "warm-t", warm[0] ?? "");
    await call("reference", "ADD", "warm-r", warm[1] ?? "");
    await call("trellis", "DEL", "warm-t", warm[0] ?? "");
    await call("reference", "DEL", "warm-r", warm[1] ?? "");
    await settleDetached();
    await bed.delNetns(warm);

    // Sequential pods, alternating plugins.
    log(`sequential: ${pods} pods per plugin`);
    const tNs = Array.from({ length: pods }, (_, i) => bed.netnsName(`t${i}`));
    const rNs = Array.from({ length: pods }, (_, i) => bed.netnsName(`r${i}`));
    await bed.addNetns([...tNs, ...rNs]);
    const agentPid = agent.proc.pid ?? 0;
    const cpuSeq0 = cpuMs(agentPid);
    const add = { trellis: [] as number[], reference: [] as number[] };
    const del = { trellis: [] as number[], reference: [] as number[] };
    for (let i = 0; i < pods; i++) {
      const order: ("trellis" | "reference")[] =
        i % 2 === 0 ? ["trellis", "reference"] : ["reference", "trellis"];
      for (const who of order)
        add[who].push(await call(who, "ADD", `seq-${who}-${i}`, (who === "trellis" ? tNs : rNs)[i] ?? ""));
    }
    for (let i = 0; i < pods; i++) {
      const order: ("trellis" | "reference")[] =
        i % 2 === 0 ? ["reference", "trellis"] : ["trellis", "reference"];
      for (const who of order) {
        del[who].push(await call(who, "DEL", `seq-${who}-${i}`, (who === "trellis" ? tNs : rNs)[i] ?? ""));
        if (who === "trellis") await settleDetached();
      }
    }
    const cpuSeq1 = cpuMs(agentPid);
    // Namespaces are deleted only at the end: the kernel tears a deleted
    // namespace down asynchronously under the global RTNL lock, which would
    // slow whichever plugin runs next.

    // Bursts of concurrent ADDs, into namespaces made beforehand.
    log(`bursts: ${bursts} × ${burstSize} concurrent ADDs per plugin`);
    const burstWall = { trellis: [] as number[], reference: [] as number[] };
    const burstNs = (who: string, b: number): string[] =>
      Array.from({ length: burstSize }, (_, i) => bed.netnsName(`b${who[0]}${b}x${i}`));
    for (let b = 0; b < bursts; b++)
      await bed.addNetns([...burstNs("trellis", b), ...burstNs("reference", b)]);
    const cpuBurst0 = cpuMs(agentPid);
    for (let b = 0; b < bursts; b++) {
      for (const who of b % 2 === 0
        ? (["trellis", "reference"] as const)
        : (["reference", "trellis"] as const)) {
        const ns = burstNs(who, b);
        await new Promise((r) => setTimeout(r, 300));
        const t0 = performance.now();
        await Promise.all(ns.map((n, i) => call(who, "ADD", `burst-${who}-${b}-${i}`, n)));
        burstWall[who].push(performance.now() - t0);
        await Promise.all(ns.map((n, i) => call(who, "DEL", `burst-${who}-${b}-${i}`, n)));
        if (who === "trellis") await settleDetached();
      }
    }
    const cpuBurst1 = cpuMs(agentPid);
    const perPod = (a: { main: number; all: number }, b: { main: number; all: number }, n: number) => ({
      main: Math.round(((b.main - a.main) / n) * 100) / 100,
      all: Math.round(((b.all - a.all) / n) * 100) / 100,
    });
    const agentCpu = {
      sequentialPerPod: perPod(cpuSeq0, cpuSeq1, pods),
      burstPerPod: perPod(cpuBurst0, cpuBurst1, bursts * burstSize),
    };

    // One routed veth: netlink (the agent's way), ip -batch, one spawn per command; rotated.
    log("routed veth: netlink vs iproute2 strategies");
    const ipr = { batch: [] as number[], spawn: [] as number[], netlink: [] as number[] };
    const stepMs: Record<string, number[]> = {};
    const vns = bed.netnsName("ipr");
    await bed.addNetns([vns]);
    const strategies = ["netlink", "batch", "spawn-each"] as const;
    for (let i = 0; i < (full ? 40 : 10); i++) {
      for (let k = 0; k < strategies.length; k++) {
        const strategy = strategies[(i + k) % strategies.length] ?? "netlink";
        const r = await runner.send({
          op: "veth",
          strategy,
          hostIf: "trlbench0000",
          netns: `/var/run/netns/${vns}`,
          address: "10.99.99.9/32",
        });
        if (r.code !== 0) throw new Error(`routed veth by ${strategy} failed`);
        (strategy === "batch" ? ipr.batch : strategy === "netlink" ? ipr.netlink : ipr.spawn).push(r.ms);
        if (strategy === "netlink") {
          for (const [step, ms] of Object.entries(JSON.parse(r.stdout) as Record<string, number>))
            (stepMs[step] ??= []).push(ms);
        }
      }
    }
    const enter = { ipn: [] as number[], nsenter: [] as number[] };
    for (let i = 0; i < (full ? 40 : 10); i++) {
      for (const how of i % 2 === 0 ? (["ip-n", "nsenter"] as const) : (["nsenter", "ip-n"] as const)) {
        const r = await runner.send({ op: "enter", how, netns: `/var/run/netns/${vns}` });
        (how === "ip-n" ? enter.ipn : enter.nsenter).push(r.ms);
      }
    }
    await bed.delNetns([vns]);

    // One pod's policy transaction, both ways, alternated, on a table holding the sequential pods.
    log("policy transaction of one pod: nft session vs nf_tables netlink");
    const tx = {
      session: { add: [] as number[], del: [] as number[] },
      netlink: { add: [] as number[], del: [] as number[] },
    };
    for (let i = 0; i < (full ? 100 : 20); i++) {
      for (const strategy of i % 2 === 0
        ? (["session", "netlink"] as const)
        : (["netlink", "session"] as const)) {
        const r = await runner.send({ op: "nft", strategy, pods, pod: pods + 1 });
        if (r.code !== 0) throw new Error(`policy transaction by ${strategy} failed or went another way`);
        tx[strategy].add.push(r.ms);
        tx[strategy].del.push((JSON.parse(r.stdout) as { delMs: number }).delMs);
      }
    }
    // The first of each is a warm-up (the session's nft starts; the addon loads).
    const txStats = (w: { add: number[]; del: number[] }) => ({
      addMs: stats(w.add.slice(1)),
      delMs: stats(w.del.slice(1)),
    });
    const policyTransaction = { pods, session: txStats(tx.session), netlink: txStats(tx.netlink) };

    let rss: number | undefined;
    let memory: AgentMemory | undefined;
    if (full) {
      log("RSS with 1,000 pods");
      const many = Array.from({ length: 1000 }, (_, i) => bed.netnsName(`m${i}`));
      await bed.addNetns(many);
      for (let i = 0; i < many.length; i += 50) {
        await Promise.all(many.slice(i, i + 50).map((n, j) => call("trellis", "ADD", `rss-${i + j}`, n)));
      }
      const status = readFileSync(`/proc/${agent.proc.pid}/status`, "utf8");
      rss = Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
      memory = await agentMemory(agent.proc.pid ?? 0, node.netns, agent.metricsPort);
      for (let i = 0; i < many.length; i += 50) {
        await Promise.all(many.slice(i, i + 50).map((n, j) => call("trellis", "DEL", `rss-${i + j}`, n)));
      }
      await bed.delNetns(many);
    }
    runnerProc.stdin?.end();

    const t = { add: stats(add.trellis), del: stats(del.trellis), burstWallMs: stats(burstWall.trellis) };
    const r = {
      add: stats(add.reference),
      del: stats(del.reference),
      burstWallMs: stats(burstWall.reference),
    };
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    const keptLog = process.env["TRELLIS_BENCH_KEEP_LOG"] !== undefined;
    const agentLog = keptLog ? readFileSync(join(bed.dir, "bench-node.log"), "utf8") : "";
    const breakdown = keptLog
      ? { ...execBreakdown(agentLog, seqAddExecs), ...agentBreakdown(agentLog, pods) }
      : undefined;
    return {
      size: full ? "full" : "smoke",
      pods,
      burstSize,
      bursts,
      date: new Date().toISOString(),
      loadavg: { start: loadStart, end: load() },
      trellis: {
        ...t,
        ...(rss !== undefined ? { rssMiBAt1000Pods: rss } : {}),
        ...(memory !== undefined ? { memoryAt1000Pods: memory } : {}),
      },
      reference: r,
      iproute2: {
        batchMs: stats(ipr.batch),
        spawnEachMs: stats(ipr.spawn),
        enterIpNMs: stats(enter.ipn),
        enterNsenterMs: stats(enter.nsenter),
      },
      netlink: {
        addMs: stats(ipr.netlink),
        steps: Object.fromEntries(Object.entries(stepMs).map(([k, v]) => [k, stats(v)])),
      },
      policyTransaction,
      ...(breakdown !== undefined ? { agentBreakdown: breakdown } : {}),
      agentCpu,
      ratios: {
        addP50: ratio(t.add.p50, r.add.p50),
        addP99: ratio(t.add.p99, r.add.p99),
        delP50: ratio(t.del.p50, r.del.p50),
        burstP50: ratio(t.burstWallMs.p50, r.burstWallMs.p50),
        policyTxAddP50: ratio(policyTransaction.netlink.addMs.p50, policyTransaction.session.addMs.p50),
      },
    };
  } finally {
    // Keep the agent's log for phase timings (ipamMs, linkMs, configureMs) when asked.
    const keep = process.env["TRELLIS_BENCH_KEEP_LOG"];
    if (keep !== undefined) copyFileSync(join(bed.dir, "bench-node.log"), keep);
    await bed.cleanup();
  }
}

export function formatCniBench(x: CniBenchResult): string {
  const row = (name: string, s: Stats): string =>
    `| ${name.padEnd(34)} | ${String(s.p50).padStart(8)} | ${String(s.p99).padStart(8)} | ${String(s.n).padStart(4)} |`;
  return [
    `CNI benchmark (${x.size}): ${x.pods} sequential pods per plugin, ${x.bursts} bursts of ${x.burstSize} concurrent ADDs; ` +
      `loadavg ${x.loadavg.start.join(" ")} at the start, ${x.loadavg.end.join(" ")} at the end`,
    "",
    `| ${"measure (ms)".padEnd(34)} | ${"p50".padStart(8)} | ${"p99".padStart(8)} | ${"n".padStart(4)} |`,
    `|${"-".repeat(36)}|${"-".repeat(10)}|${"-".repeat(10)}|${"-".repeat(6)}|`,
    row("ADD  trellis (shim+agent)", x.trellis.add),
    row("ADD  reference ptp+host-local", x.reference.add),
    row("DEL  trellis", x.trellis.del),
    row("DEL  reference", x.reference.del),
    row(`burst of ${x.burstSize} ADDs, wall: trellis`, x.trellis.burstWallMs),
    row(`burst of ${x.burstSize} ADDs, wall: reference`, x.reference.burstWallMs),
    row("routed veth: netlink (agent)", x.netlink.addMs),
    ...Object.entries(x.netlink.steps).map(([step, st]) => row(`  netlink step ${step}`, st)),
    row("routed veth: ip -batch ×2", x.iproute2.batchMs),
    row("routed veth: one ip per command", x.iproute2.spawnEachMs),
    row("enter pod netns: ip -n NS -batch", x.iproute2.enterIpNMs),
    row("enter pod netns: nsenter --net ip", x.iproute2.enterNsenterMs),
    ...(x.policyTransaction !== undefined
      ? [
          row("pod policy tx ADD: nft session", x.policyTransaction.session.addMs),
          row("pod policy tx ADD: netlink", x.policyTransaction.netlink.addMs),
          row("pod policy tx DEL: nft session", x.policyTransaction.session.delMs),
          row("pod policy tx DEL: netlink", x.policyTransaction.netlink.delMs),
        ]
      : []),
    ...Object.entries(x.agentBreakdown ?? {}).map(([k, st]) => row(`agent: ${k}`, st)),
    "",
    `trellis/reference: ADD p50 ${x.ratios.addP50}, ADD p99 ${x.ratios.addP99}, DEL p50 ${x.ratios.delP50}, burst p50 ${x.ratios.burstP50}` +
      (x.ratios.policyTxAddP50 !== undefined
        ? `; pod policy tx ADD p50 netlink/session ${x.ratios.policyTxAddP50} (${x.policyTransaction?.pods ?? 0} pods in the table)`
        : "") +
      (x.trellis.rssMiBAt1000Pods !== undefined
        ? `; agent RSS with 1,000 pods: ${x.trellis.rssMiBAt1000Pods} MiB`
        : ""),
    ...(x.trellis.memoryAt1000Pods !== undefined ? [memoryLine(x.trellis.memoryAt1000Pods)] : []),
    ...(x.agentCpu !== undefined
      ? [
          `agent CPU per pod (ms, main thread / all threads): sequential (ADD, DEL and what they set off) ${x.agentCpu.sequentialPerPod.main} / ${x.agentCpu.sequentialPerPod.all}; in bursts ${x.agentCpu.burstPerPod.main} / ${x.agentCpu.burstPerPod.all}`,
        ]
      : []),
    "",
  ].join("\n");
}

function memoryLine(m: AgentMemory): string {
  const spaces = Object.entries(m.spacesUsed)
    .filter(([, v]) => v >= 0.5)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return (
    `agent memory at 1,000 pods (MiB): anonymous ${m.anon}, file-backed ${m.file}; ` +
    `V8 heap ${m.heapUsed} used of ${m.heapTotal} (${spaces}), external ${m.external}`
  );
}
