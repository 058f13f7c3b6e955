/**
 * A small topology for interop tests: one namespace for trellis-bgp and one
 * namespace per peer daemon, each joined to the Trellis namespace by its own
 * veth pair with IPv4 and IPv6 addresses. Every name is `tB` + a per-file token
 * + the test process id (5 base-36 digits), so that two runs of the same file
 * (two worktrees) never touch each other's namespaces; `destroy()` removes it
 * all (also after failures), and leftovers of dead runs are swept at setup.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { controlRequest } from "../../bgp/control/client.js";
import type { PeerStatus, RouteStatus } from "../../bgp/control/protocol.js";
import { PROTO_TRELLIS_BGP } from "../../net/route-ownership.js";
import { until as waitUntil } from "../support/until.js";

export const REPO = new URL("../../..", import.meta.url).pathname;
export const TRELLIS_BGP = join(REPO, "dist/bgp/bin/trellis-bgp.js");
/** trellis-bgp's own routes (its default protocol). */
export const PROTO = PROTO_TRELLIS_BGP;

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: "utf8", input: input ?? "", stdio: ["pipe", "pipe", "pipe"] });
}

/** Like sh but never throws: returns stdout, or "" and the error text on failure. */
export function trySh(cmd: string, args: string[]): { out: string; err: string; ok: boolean } {
  try {
    return { out: sh(cmd, args), err: "", ok: true };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    return { out: x.stdout ?? "", err: x.stderr ?? x.message, ok: false };
  }
}

/** Polls `f` until it gives a value (test/support/until.ts); errors count as "not yet". */
export function until<T>(f: () => T | undefined | false, ms: number, what: string): Promise<T> {
  return waitUntil(what, f, ms);
}

export function untilAsync<T>(f: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  return waitUntil(what, f, ms);
}

/** Sends `sig` to the child, if it runs. */
export function signalChild(p: ChildProcess | undefined, sig: NodeJS.Signals): void {
  if (p?.pid) process.kill(p.pid, sig);
}

/** Sends `sig` to the child and waits for its exit (its exit code; at once if it has exited). */
export async function signalAndWait(
  p: ChildProcess | undefined,
  sig: NodeJS.Signals,
): Promise<number | null> {
  if (!p || p.exitCode !== null) return p?.exitCode ?? null;
  const done = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
  signalChild(p, sig);
  return await done;
}

/** A suite's teardown: stop the daemon, then remove the namespaces whatever happened. */
export async function stopAll(trellis: TrellisDaemon | undefined, lab: NetLab | undefined): Promise<void> {
  try {
    await trellis?.stop();
  } finally {
    lab?.destroy();
  }
}

/** trellis-bgp's AS in the interop suites and the BFD benchmark. */
export const T_AS = 65001;

/**
 * The trellis-bgp configuration the interop suites (suite, bfd, security) and
 * the BFD failover benchmark share: AS T_AS, router id 10.255.0.1, listening on
 * [::]:179, connect retry 1 s, the FIB in the main table with ECMP under PROTO.
 * `rest` adds the timers, peers and the rest of the case.
 */
export function labSpeakerConfig(rest: Record<string, unknown>): Record<string, unknown> {
  return {
    asn: T_AS,
    routerId: "10.255.0.1",
    listen: { address: "::", port: 179 },
    connectRetryTime: 1,
    fib: { enabled: true, table: 254, ecmp: true, protocol: PROTO },
    ...rest,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Link {
  /** Peer namespace name. */
  ns: string;
  /** Trellis side addresses. */
  t4: string;
  t6: string;
  /** Peer side addresses. */
  p4: string;
  p6: string;
  /** Interface names (Trellis side, peer side). */
  tIf: string;
  pIf: string;
}

export class NetLab {
  readonly trellisNs: string;
  /** `tB` + token + pid: the prefix of every namespace and interface of this run. */
  readonly prefix: string;
  readonly links = new Map<string, Link>();
  readonly dir: string;
  private readonly procs: ChildProcess[] = [];

  /**
   * token: 1–3 lowercase letters unique per test file; peers: short names (one
   * letter each). shared: all peers on one bridged segment with Trellis (so
   * that next hops of reflected routes are on-link), instead of a subnet each.
   */
  constructor(
    readonly token: string,
    peers: string[],
    shared = false,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `tB${token}-`));
    this.prefix = `tB${token}${pidTag(process.pid)}`;
    this.trellisNs = `${this.prefix}t`;
    this.cleanupLeftovers();
    try {
      this.build(peers, shared);
    } catch (e) {
      // Half a topology must not outlive a failed setup.
      this.destroy();
      throw e;
    }
  }

  private build(peers: string[], shared: boolean): void {
    const pre = this.prefix;
    sh("ip", ["netns", "add", this.trellisNs]);
    sh("ip", ["-n", this.trellisNs, "link", "set", "lo", "up"]);
    const br = `${pre}br`;
    if (shared) {
      sh("ip", ["-n", this.trellisNs, "link", "add", br, "type", "bridge"]);
      sh("ip", ["-n", this.trellisNs, "addr", "add", "10.200.0.1/24", "dev", br]);
      sh("ip", ["-n", this.trellisNs, "addr", "add", "fd00::1/64", "dev", br, "nodad"]);
      sh("ip", ["-n", this.trellisNs, "link", "set", br, "up"]);
    }
    peers.forEach((name, i) => {
      const ns = `${pre}${name}`;
      const tIf = `${pre}${name}0`;
      const pIf = `${pre}${name}1`;
      const n = i + 1;
      const l: Link = shared
        ? { ns, tIf: br, pIf, t4: "10.200.0.1", p4: `10.200.0.${n + 1}`, t6: "fd00::1", p6: `fd00::${n + 1}` }
        : {
            ns,
            tIf,
            pIf,
            t4: `10.${200 + n}.0.1`,
            p4: `10.${200 + n}.0.2`,
            t6: `fd00:${n}::1`,
            p6: `fd00:${n}::2`,
          };
      sh("ip", ["netns", "add", ns]);
      sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
      sh("ip", [
        "link",
        "add",
        tIf,
        "netns",
        this.trellisNs,
        "type",
        "veth",
        "peer",
        "name",
        pIf,
        "netns",
        ns,
      ]);
      const ends: [string, string, string | undefined, string | undefined][] = shared
        ? [
            [this.trellisNs, tIf, undefined, undefined],
            [ns, pIf, l.p4, l.p6],
          ]
        : [
            [this.trellisNs, tIf, l.t4, l.t6],
            [ns, pIf, l.p4, l.p6],
          ];
      if (shared) sh("ip", ["-n", this.trellisNs, "link", "set", tIf, "master", br]);
      for (const [where, ifn, a4, a6] of ends) {
        if (a4) sh("ip", ["-n", where, "addr", "add", `${a4}/24`, "dev", ifn]);
        if (a6) sh("ip", ["-n", where, "addr", "add", `${a6}/64`, "dev", ifn, "nodad"]);
        sh("ip", ["-n", where, "link", "set", ifn, "up"]);
      }
      this.links.set(name, l);
    });
  }

  link(name: string): Link {
    const l = this.links.get(name);
    if (!l) throw new Error(`no link ${name}`);
    return l;
  }

  /** Start a long-running process inside a namespace; stdout+stderr go to `log`. */
  spawnIn(ns: string | undefined, cmd: string, args: string[], log: string): ChildProcess {
    const fd = openSync(join(this.dir, log), "a");
    const p =
      ns === undefined
        ? spawn(cmd, args, { stdio: ["ignore", fd, fd] })
        : spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", fd, fd] });
    this.procs.push(p);
    return p;
  }

  track(p: ChildProcess): void {
    this.procs.push(p);
  }

  kernelRoutes(ns = this.trellisNs): string {
    return (
      sh("ip", ["-n", ns, "route", "show", "proto", String(PROTO)]) +
      sh("ip", ["-n", ns, "-6", "route", "show", "proto", String(PROTO)])
    );
  }

  destroy(): void {
    for (const p of this.procs) {
      if (p.exitCode === null && p.pid) {
        try {
          process.kill(p.pid, "SIGCONT");
          process.kill(p.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
    }
    this.cleanupLeftovers();
    // TB_KEEP_LOGS=1 keeps the configs and logs of a run for a look afterwards.
    if (process.env.TB_KEEP_LOGS === "1") process.stderr.write(`netlab: kept ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Remove namespaces of this file's token whose run is over (its test process
   * is gone), and kill what runs in them: leftovers of a crashed run. A live
   * run's namespaces (another worktree running the same file) are left alone.
   */
  private cleanupLeftovers(): void {
    const list = trySh("ip", ["netns", "list"]).out;
    for (const line of list.split("\n")) {
      const ns = line.split(" ")[0];
      if (!ns || !ns.startsWith(`tB${this.token}`)) continue;
      const owner = parseInt(ns.slice(2 + this.token.length, 2 + this.token.length + 5), 36);
      if (owner !== process.pid && alive(owner)) continue;
      const pids = trySh("ip", ["netns", "pids", ns]).out.split(/\s+/).filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          /* gone */
        }
      }
      trySh("ip", ["netns", "del", ns]);
    }
  }
}

/** trellis-bgp running in the lab's Trellis namespace. */
export class TrellisDaemon {
  readonly socket: string;
  readonly configPath: string;
  readonly logPath: string;
  proc: ChildProcess | undefined;

  /** rootNs: run in the test's own namespace (loopback peers only; FIB may point elsewhere). */
  constructor(
    private readonly lab: NetLab,
    private config: Record<string, unknown>,
    private readonly rootNs = false,
  ) {
    this.socket = join(lab.dir, "trellis-bgp.sock");
    this.configPath = join(lab.dir, "trellis-bgp.yaml");
    this.logPath = join(lab.dir, "trellis-bgp.log");
    this.config = { ...config, control: { socket: this.socket } };
  }

  async start(): Promise<void> {
    writeFileSync(this.configPath, stringify(this.config));
    this.proc = this.lab.spawnIn(
      this.rootNs ? undefined : this.lab.trellisNs,
      process.execPath,
      [TRELLIS_BGP, "--config", this.configPath, "--log-level", "debug"],
      "trellis-bgp.log",
    );
    try {
      await untilAsync(async () => (await this.peers()).length >= 0, 10000, "trellis-bgp control socket");
    } catch (e) {
      throw new Error(`${String(e)}\n--- trellis-bgp log ---\n${this.log().slice(-3000)}`);
    }
  }

  /** Rewrite the config and send SIGHUP. */
  reload(config: Record<string, unknown>): void {
    this.config = { ...config, control: { socket: this.socket } };
    writeFileSync(this.configPath, stringify(this.config));
    this.signal("SIGHUP");
  }

  signal(sig: NodeJS.Signals): void {
    signalChild(this.proc, sig);
  }

  stop(): Promise<number | null> {
    return signalAndWait(this.proc, "SIGTERM");
  }

  /** SIGKILL (a crash: kernel routes stay, no NOTIFICATION) and wait for the exit. */
  async crash(): Promise<void> {
    await signalAndWait(this.proc, "SIGKILL");
  }

  async peers(): Promise<PeerStatus[]> {
    return (await this.ask("peers")) as PeerStatus[];
  }

  async routes(): Promise<RouteStatus[]> {
    return (await this.ask("routes")) as RouteStatus[];
  }

  /** A control request; if the daemon died, say so with the end of its log. */
  private async ask(method: "peers" | "routes"): Promise<unknown> {
    try {
      return await controlRequest(this.socket, method, 3000);
    } catch (e) {
      const p = this.proc;
      if (p && (p.exitCode !== null || p.signalCode !== null)) {
        const how = p.exitCode ?? p.signalCode;
        throw new Error(`trellis-bgp exited (${how}): ${String(e)}\n${this.log().slice(-2000)}`);
      }
      throw e;
    }
  }

  async peer(address: string): Promise<PeerStatus | undefined> {
    return (await this.peers()).find((p) => p.address === address);
  }

  async route(prefix: string): Promise<RouteStatus | undefined> {
    return (await this.routes()).find((r) => r.prefix === prefix);
  }

  log(): string {
    return readFileSync(this.logPath, "utf8");
  }

  /** Parsed pino lines of the daemon's log. */
  logLines(): Record<string, unknown>[] {
    return this.log()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** A pid as 5 base-36 digits (pid_max 4194304 fits): part of every name of a run. */
export function pidTag(pid: number): string {
  return pid.toString(36).padStart(5, "0");
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
