/**
 * Runs iproute2, in the agent's own (node) namespace or, through one
 * `nsenter --net=PATH`, inside a pod's namespace. A whole pod setup is one
 * `ip -batch -` per namespace: measured here, one spawn costs ~1.5–3 ms and
 * a batch of six commands costs the same as one command (see
 * test/bench/cni and the report), so batching is what makes ADD cheap.
 */
import { spawn } from "node:child_process";

export interface IpExit {
  code: number;
  stdout: string;
  stderr: string;
}

const IP = process.env["TRELLIS_IP_BIN"] ?? "ip";
const NSENTER = process.env["TRELLIS_NSENTER_BIN"] ?? "nsenter";

export function runIp(
  args: readonly string[],
  opts: { netns?: string; stdin?: string } = {},
): Promise<IpExit> {
  const [file, argv] =
    opts.netns !== undefined ? [NSENTER, [`--net=${opts.netns}`, IP, ...args]] : [IP, [...args]];
  return new Promise((resolve) => {
    const child = spawn(file, argv, {
      stdio: [opts.stdin !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => {
      if (err.length < 8192) err += c;
    });
    child.on("error", (e) => resolve({ code: 127, stdout: out, stderr: `${file}: ${e.message}` }));
    child.on("close", (code, signal) =>
      resolve({ code: code ?? (signal !== null ? 128 : 1), stdout: out, stderr: err.trim() }),
    );
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on("error", () => {});
      child.stdin.end(opts.stdin);
    }
  });
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
