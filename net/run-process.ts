/**
 * One run of a program to completion, its output captured: the agent's
 * one-shot tools (`nft -j -f FILE`, `conntrack -L`/`-U`). A long-lived child
 * fed line by line is line-session.ts.
 */
import { spawn } from "node:child_process";
import { inNetns } from "./netns-path.js";

export interface ProcessResult {
  /** The exit code; -1 when a signal ended it (the timeout's SIGKILL among them). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunProcessOptions {
  /** Run it in this network namespace (a name under /var/run/netns, or a path), through nsenter. */
  netns?: string;
  /** Written to its stdin, which is then closed (closed at once when absent). */
  input?: string;
  /** SIGKILL after this many milliseconds (default: no limit). */
  timeoutMs?: number;
}

/**
 * Runs `argv` (program first) and resolves with how it ended, whatever its
 * exit code; rejects only when it could not be started (ENOENT, EACCES), with
 * Node's error.
 */
export function runProcess(argv: readonly string[], o: RunProcessOptions = {}): Promise<ProcessResult> {
  const [cmd, ...args] = inNetns(o.netns, argv);
  if (cmd === undefined) return Promise.reject(new TypeError("runProcess: empty argv"));
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs, killSignal: "SIGKILL" as const } : {}),
    });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A program may exit before reading its input: no EPIPE from our side.
    p.stdin.on("error", () => undefined);
    p.stdin.end(o.input ?? "");
  });
}
