/**
 * `trellisctl lab probe`: one connection attempt from inside a source pod's
 * network namespace to a target pod's IP, with socat as the client.
 */
import { spawn } from "node:child_process";
import { ApiError, LabApi, type PodObject } from "./api-client.js";
import { LabError } from "./lab-errors.js";
import { commandInNetns } from "./netns.js";
import { missingNetnsReason, podNetnsPaths } from "./pod-netns.js";
import {
  classifyProbe,
  socatTarget,
  type ProbeOutcome,
  type ProbeVerdict,
  type Protocol,
} from "./probe-result.js";
import { loadLab } from "./lab-status.js";

export interface PodRef {
  namespace: string;
  name: string;
}

export function parsePodRef(s: string): PodRef {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(s);
  if (m === null) throw new LabError(`"${s}" is not NAMESPACE/POD`, "usage");
  return { namespace: m[1] ?? "", name: m[3] ?? "" };
}

export interface ProbeResult {
  from: string;
  to: string;
  ip: string;
  port: number;
  protocol: Protocol;
  outcome: ProbeOutcome;
  reply?: string;
  detail?: string;
  ms: number;
}

/**
 * Runs the client in `srcNetns` (a name under /var/run/netns, or a path: a
 * real node's containerd keeps its pods' namespaces under its state dir,
 * pod-netns.ts; net/netns-path.ts tells the two apart); resolves on the
 * first reply line, at exit, or at the deadline.
 */
export function probeFromNetns(
  srcNetns: string,
  ip: string,
  port: number,
  protocol: Protocol,
  timeoutMs: number,
): Promise<ProbeVerdict> {
  const [cmd, args] = commandInNetns(srcNetns, [
    "socat",
    // -T: give up after this much silence (UDP has no connect to time out).
    "-T",
    (timeoutMs / 1000).toFixed(3),
    protocol === "TCP" ? "-u" : "-",
    socatTarget(protocol, ip, port, timeoutMs),
    ...(protocol === "TCP" ? ["STDOUT"] : []),
  ]);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let done = false;
    const finish = (v: ProbeVerdict): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      resolve(v);
    };
    const timer = setTimeout(
      () =>
        finish(classifyProbe({ protocol, reply: undefined, stderr: err, exitCode: null, deadline: true })),
      timeoutMs + 1000,
    );
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0)
        finish(
          classifyProbe({ protocol, reply: out.slice(0, nl), stderr: err, exitCode: null, deadline: false }),
        );
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => finish({ outcome: "error", detail: e.message }));
    child.on("close", (code) =>
      finish(
        classifyProbe({
          protocol,
          reply: out !== "" ? out.replace(/\n$/, "") : undefined,
          stderr: err,
          exitCode: code,
          deadline: false,
        }),
      ),
    );
    child.stdin.on("error", () => undefined);
    // UDP needs a datagram to elicit the reply; stdin stays open so socat waits for it.
    if (protocol === "UDP") child.stdin.write("probe\n");
    else child.stdin.end();
  });
}

export interface ProbeOptions {
  dir: string;
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
  timeoutMs: number;
  family?: 4 | 6;
}

export async function labProbe(o: ProbeOptions): Promise<ProbeResult> {
  const from = parsePodRef(o.from);
  const to = parsePodRef(o.to);
  const { L, state } = loadLab(o.dir);
  const api = new LabApi(state.apiserverUrl ?? "");
  const [src, dst] = await Promise.all([getPod(api, from), getPod(api, to)]);
  const uid = src.metadata?.uid ?? "";
  const found = await podNetnsPaths(L, state, [uid]).catch((e: unknown) => {
    throw new LabError(`cannot find ${o.from}'s network namespace: ${(e as Error).message}`);
  });
  const srcNetns = found.paths.get(uid);
  if (srcNetns === undefined)
    throw new LabError(
      missingNetnsReason(found, o.from, src.spec?.nodeName ?? "", src.status?.phase ?? "Pending"),
    );
  const ip = podIp(dst, o.to, o.family ?? 4);
  return runProbe(srcNetns, o.from, o.to, ip, o.port, o.protocol, o.timeoutMs);
}

export async function runProbe(
  srcNetns: string,
  from: string,
  to: string,
  ip: string,
  port: number,
  protocol: Protocol,
  timeoutMs: number,
): Promise<ProbeResult> {
  const t0 = Date.now();
  const v = await probeFromNetns(srcNetns, ip, port, protocol, timeoutMs);
  return { from, to, ip, port, protocol, ...v, ms: Date.now() - t0 };
}

async function getPod(api: LabApi, ref: PodRef): Promise<PodObject> {
  try {
    return await api.getPod(ref.namespace, ref.name);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404)
      throw new LabError(`pod ${ref.namespace}/${ref.name} not found`, "not-found");
    throw new LabError((e as Error).message);
  }
}

export function podIp(pod: PodObject, label: string, family: 4 | 6): string {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip);
  if (ips.length === 0 && pod.status?.podIP !== undefined && pod.status.podIP !== "")
    ips.push(pod.status.podIP);
  const ip = ips.find((a) => (family === 6) === a.includes(":"));
  if (ip === undefined)
    throw new LabError(`pod ${label} has no IPv${family} address (phase ${pod.status?.phase ?? "Pending"})`);
  return ip;
}
