/** Running a command to completion and capturing its output (the edge every lab module shares). */
import { spawn } from "node:child_process";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function runCommand(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: o.env ?? process.env,
      ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs, killSignal: "SIGKILL" as const } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    // A plugin may exit before reading stdin: ignore EPIPE on our side.
    child.stdin.on("error", () => undefined);
    child.stdin.end(o.input ?? "");
  });
}

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly result: CommandResult,
  ) {
    super(
      `${cmd} failed (${result.signal ?? `exit ${result.code}`}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
    this.name = "CommandError";
  }
}

/** Runs and throws CommandError unless it exits 0. */
export async function mustRun(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<string> {
  const r = await runCommand(cmd, args, o);
  if (r.code !== 0) throw new CommandError([cmd, ...args].join(" "), r);
  return r.stdout;
}
