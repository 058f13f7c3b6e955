/**
 * Running a command to completion for the lab suites: its exit code and
 * output, trellisctl (the CLI as built), and kubectl against a lab's
 * kubeconfig, raw, checked or parsed.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../cli/trellisctl.js", import.meta.url));

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function run(cmd: string, args: string[], input?: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 << 20 }, (e, out, err) =>
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : 1, out, err }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

export const trellisctl = (...args: string[]): Promise<Run> => run(process.execPath, [CLI, ...args]);

/** `trellisctl lab up --nodes NODES --dir DIR FLAGS...`: a suite's lab, with the flags it is about. */
export const labUp = (dir: string, nodes: number, ...flags: string[]): Promise<Run> =>
  trellisctl("lab", "up", "--nodes", String(nodes), "--dir", dir, ...flags);

/** `kubectl ARGS` against the lab in `dir`. */
export const kubectlIn = (dir: string, ...args: string[]): Promise<Run> =>
  run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), ...args]);

/** The finished run, or an error naming `what` and its stderr when it exited non-zero. */
export async function must(what: string, r: Promise<Run>): Promise<Run> {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what}: ${x.err}`);
  return x;
}

/** `kubectl apply -f -` of `yaml` against the lab in `dir`. */
export const kubectlApply = (dir: string, yaml: string): Promise<Run> =>
  run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), "apply", "-f", "-"], yaml);

/** `kubectl ARGS -o json` against the lab in `dir`, parsed; an error naming the command and its stderr. */
export async function kubectlJson<T>(dir: string, ...args: string[]): Promise<T> {
  const r = await must(`kubectl ${args.join(" ")}`, kubectlIn(dir, ...args, "-o", "json"));
  return JSON.parse(r.out) as T;
}
