/**
 * One run of a program to completion, its output captured: the agent's
 * one-shot tools (`nft -j -f FILE`) and every command
 * the lab runs (lab/run-command.ts). A long-lived child fed line by line is
 * line-session.ts.
 */
import { spawn } from "node:child_process";
import { inNetns } from "./netns-path.js";

export interface ProcessResult {
  /** The exit code; -1 when a signal ended it (the timeout's SIGKILL among them). */
  code: number;
  /** The signal that ended it, or null when it exited. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Whether the timeout ended it (a SIGKILL from anyone else is not a timeout). */
  timedOut: boolean;
}

export interface RunProcessOptions {
  /** Run it in this network namespace (a name under /var/run/netns, or a path), through nsenter. */
  netns?: string;
  /** Written to its stdin, which is then closed (closed at once when absent). */
  input?: string | Uint8Array;
  /** SIGKILL after this many milliseconds (default: no limit). */
  timeoutMs?: number;
  /** Keep at most this many characters of stdout, of stderr; the rest is read and dropped (default: all). */
  maxStdoutChars?: number;
  maxStderrChars?: number;
  /** Its environment (default: ours). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `argv` (program first) and resolves with how it ended, whatever its
 * exit code; rejects only when it could not be started (ENOENT, EACCES), with
 * Node's error. In a namespace nsenter starts it, so a program that is not
 * there resolves with nsenter's exit code 127 and its message on stderr.
 */
export function runProcess(argv: readonly string[], o: RunProcessOptions = {}): Promise<ProcessResult> {
  // Checked before nsenter wraps it: an empty command there would start $SHELL.
  if (argv.length === 0) return Promise.reject(new TypeError("runProcess: empty argv"));
  const [cmd, ...args] = inNetns(o.netns, argv) as [string, ...string[]];
  const maxOut = o.maxStdoutChars ?? Infinity;
  const maxErr = o.maxStderrChars ?? Infinity;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      ...(o.env !== undefined ? { env: o.env } : {}),
    });
    let timedOut = false;
    const timer =
      o.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            p.kill("SIGKILL");
          }, o.timeoutMs)
        : undefined;
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < maxOut) stdout += d.slice(0, maxOut - stdout.length);
    });
    p.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < maxErr) stderr += d.slice(0, maxErr - stderr.length);
    });
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout, stderr, timedOut });
    });
    // A program may exit before reading its input: no EPIPE from our side.
    p.stdin.on("error", () => undefined);
    p.stdin.end(o.input ?? "");
  });
}
