/**
 * Runs iproute2, in the agent's own (node) namespace or, through one
 * `nsenter --net=PATH`, inside a pod's namespace. A whole pod setup is one
 * `ip -batch -` per namespace: measured here, one spawn costs ~1.5–3 ms and
 * a batch of six commands costs the same as one command (see
 * test/bench/cni and the report), so batching is what makes ADD cheap.
 */
import { netnsPath } from "../../net/netns-path.js";
import { runProcess } from "../../net/run-process.js";

export interface IpExit {
  code: number;
  stdout: string;
  stderr: string;
}

const IP = process.env["TRELLIS_IP_BIN"] ?? "ip";
/** What of ip's stderr is kept: its first error is what a caller reports. */
const MAX_STDERR_CHARS = 8192;

/**
 * Runs `ip ARGS`; `netns` is a namespace path (or a name under
 * /var/run/netns) entered with nsenter. Never rejects: a program that could
 * not be started is code 127 (the shell's "command not found"), one a
 * signal ended is 128.
 */
export async function runIp(
  args: readonly string[],
  opts: { netns?: string; stdin?: string } = {},
): Promise<IpExit> {
  try {
    const r = await runProcess([IP, ...args], {
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      ...(opts.stdin !== undefined ? { input: opts.stdin } : {}),
      maxStderrChars: MAX_STDERR_CHARS,
    });
    return { code: r.signal !== null ? 128 : r.code, stdout: r.stdout, stderr: r.stderr.trim() };
  } catch (e) {
    const file = netnsPath(opts.netns) !== null ? "nsenter" : IP;
    return { code: 127, stdout: "", stderr: `${file}: ${(e as Error).message}` };
  }
}

/** Runs `ip -batch -` with the given lines; the first failing line's error is in stderr. */
export function runIpBatch(lines: readonly string[], netns?: string): Promise<IpExit> {
  return runIp(["-batch", "-"], {
    ...(netns !== undefined ? { netns } : {}),
    stdin: lines.join("\n") + "\n",
  });
}

/** Runs an `ip -j …` query and parses its JSON (an empty answer is []). */
export async function ipJson<T>(args: readonly string[], netns?: string): Promise<T[] | IpExit> {
  const r = await runIp(["-j", ...args], netns !== undefined ? { netns } : {});
  if (r.code !== 0) return r;
  const text = r.stdout.trim();
  if (text === "") return [];
  try {
    return JSON.parse(text) as T[];
  } catch {
    return { ...r, code: 1, stderr: `unparsable ip -j output: ${text.slice(0, 200)}` };
  }
}
