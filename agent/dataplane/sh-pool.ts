/**
 * A few long-lived /bin/sh processes that run short command scripts for the
 * agent. Forking the agent (a large Node.js process) costs 2–3 ms and blocks
 * its event loop while the page tables are copied; a small shell forks in a
 * fraction of that and off the agent's main thread. Used for the pod side of
 * ADD (`ip -n NS -batch -`), which must run in the pod's namespace.
 *
 * Each shell is a net/line-session.ts `LineSession` reading stdout: a job is
 * written as `{ script } 2>&1 </dev/null`, and the fence after it prints the
 * job's exit status, then a line naming the job. Everything before the
 * status line is the job's output.
 */
import { type FenceProtocol, LineSessionPool } from "../../net/line-session.js";

export interface ShExit {
  code: number;
  output: string;
}

/** Single-quotes a word for sh (every character literal). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A here-document feeding `lines` to a command's stdin, nothing expanded. */
export function withStdin(command: string, lines: readonly string[]): string {
  const end = "__TRELLIS_EOF__";
  if (lines.some((l) => l.includes("\n") || l === end)) throw new Error("sh job: invalid stdin line");
  return `${command} <<'${end}'\n${lines.join("\n")}\n${end}`;
}

const EXIT = "__trellis_sh_exit ";
const DONE = "__trellis_sh_done ";

/**
 * printf's arguments are expanded before it runs, so `$?` is the job's
 * status; the leading newline ends a last output line that has none.
 */
const SH_JOB_PROTOCOL: FenceProtocol = {
  fence: ({ seq }) => `printf '\\n${EXIT}%s\\n${DONE}%s\\n' "$?" ${seq}`,
  read: (line) =>
    line.startsWith(DONE)
      ? { kind: "fence", seq: Number(line.slice(DONE.length)), ownMessages: 0 }
      : { kind: "text" },
};

export class ShPool {
  private readonly shells: LineSessionPool;

  constructor(size = 4) {
    this.shells = new LineSessionPool(size, {
      argv: ["/bin/sh"],
      name: "sh worker",
      protocol: SH_JOB_PROTOCOL,
      output: "stdout",
    });
  }

  async run(script: string): Promise<ShExit> {
    const { messages } = await this.shells.run(["{", ...script.split("\n"), "} 2>&1 </dev/null"]);
    const status = messages[messages.length - 1] ?? "";
    const code = status.startsWith(EXIT) ? Number(status.slice(EXIT.length)) : NaN;
    return { code: Number.isInteger(code) ? code : 1, output: messages.slice(0, -1).join("\n").trim() };
  }

  close(): void {
    void this.shells.close();
  }
}
