/** Running a command to completion and capturing its output (the edge every lab module shares). */
import { runProcess } from "../net/run-process.js";

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

export async function runCommand(
  cmd: string,
  args: readonly string[],
  o: RunOptions = {},
): Promise<CommandResult> {
  const r = await runProcess([cmd, ...args], o);
  return { ...r, code: r.signal === null ? r.code : null };
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
