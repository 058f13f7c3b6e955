/**
 * Detached lab processes: started in their own session so they outlive
 * `trellisctl`, with a pid file and a log file each; found again and stopped
 * from what is on disk.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface DaemonSpec {
  argv: readonly string[];
  pidFile: string;
  logFile: string;
  /** stdout goes here when set (the API server prints its address on stdout), else to logFile */
  stdoutFile?: string;
  env?: Record<string, string>;
}

export function startDaemon(spec: DaemonSpec): number {
  const [cmd, ...args] = spec.argv;
  if (cmd === undefined) throw new Error("empty argv");
  const log = openSync(spec.logFile, "a");
  const out = spec.stdoutFile !== undefined ? openSync(spec.stdoutFile, "a") : log;
  try {
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ["ignore", out, log],
      env: { ...process.env, ...(spec.env ?? {}) },
    });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(log);
    if (out !== log) closeSync(out);
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie (exited, not reaped by its parent) is not alive, but only once
  // its other threads are gone too: a multi-threaded process (kube-apiserver,
  // etcd) shows its leader as Z while the rest still exit, and its files (a
  // listening socket) close only with the last thread (EADDRINUSE on a restart).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (!/^\d+ \(.*\) Z/.test(stat)) return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL for whatever is still there after `graceMs`. */
export async function stopProcesses(pids: Iterable<number>, graceMs = 3000): Promise<void> {
  const live = [...new Set(pids)].filter((p) => p !== process.pid && isAlive(p));
  for (const p of live) signal(p, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some((p) => isAlive(p))) await sleep(50);
  for (const p of live) if (isAlive(p)) signal(p, "SIGKILL");
  const killDeadline = Date.now() + 2000;
  while (Date.now() < killDeadline && live.some((p) => isAlive(p))) await sleep(50);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Processes whose command line mentions a path inside `dir` (every lab
 * process has one: a socket, a config, a node dir), limited to the programs
 * the lab starts, so that an editor open on a lab file is left alone.
 */
export function processesMentioning(dir: string, programs: readonly string[]): number[] {
  const out: number[] = [];
  for (const ent of readdirSync("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    const argv = commandLine(Number(ent));
    const prog = (argv[0] ?? "").split("/").pop() ?? "";
    if (programs.includes(prog) && argvMentions(argv, dir)) out.push(Number(ent));
  }
  return out;
}

export function commandLineMentions(pid: number, dir: string): boolean {
  return argvMentions(commandLine(pid), dir);
}

/** `dir/` with the slash, so that /tmp/lab never matches /tmp/lab2. */
function argvMentions(argv: readonly string[], dir: string): boolean {
  const needle = dir.endsWith("/") ? dir : `${dir}/`;
  return argv.some((a) => a.includes(needle));
}

/**
 * A process's argv from /proc/PID/cmdline (NUL-separated, with a trailing
 * NUL: proc(5)); empty when the process is gone.
 */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((a) => a !== "");
  } catch {
    return [];
  }
}

/** The last `lines` lines of a daemon's log, joined on one line for an error message. */
export function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join(" | ");
  } catch {
    return "(no log)";
  }
}

/** The daemon an HTTP wait watches: it fails at once, naming the log's tail, when the process exits. */
export interface WatchedDaemon {
  pid: number;
  log: string;
  what: string;
}

/**
 * Polls `url` until it answers 2xx, bounded by `timeoutMs` (each request too).
 * With `daemon`, a process that exits meanwhile fails the wait at once.
 */
export async function waitHttpOk(url: string, timeoutMs: number, daemon?: WatchedDaemon): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logTail = (): string => (daemon === undefined ? "" : `: ${tail(daemon.log)}`);
  let last = "";
  while (Date.now() < deadline) {
    if (daemon !== undefined && !isAlive(daemon.pid)) throw new Error(`${daemon.what} exited${logTail()}`);
    try {
      const res = await fetch(url, {
        signal: AbortSignal.timeout(Math.max(1, Math.min(5000, deadline - Date.now()))),
      });
      if (res.ok) return;
      last = `${res.status} ${(await res.text()).slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(
    `${daemon?.what ?? url} not ready after ${Math.round(timeoutMs / 1000)} s (${url}: ${last})${logTail()}`,
  );
}
