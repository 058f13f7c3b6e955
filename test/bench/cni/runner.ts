/**
 * The benchmark's stand-in for a container runtime: a long-lived process
 * started once inside the node namespace (nsenter --net=…), which execs CNI
 * plugins exactly as a runtime does (env + stdin, stdout result) and times
 * each exec from spawn to exit. Requests and replies are JSON lines.
 * It also times one routed veth made three ways, from the node: the
 * agent's way (rtnetlink through net/netlink, no process; per step), and
 * the two ways of driving iproute2 it replaced (one `ip -batch` per
 * namespace, one spawn per command), so the three compare in one run.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { runIp, runIpBatch } from "../../../agent/dataplane/ip-exec.js";
import { type VethSpec, planAdd } from "../../../agent/dataplane/routed-veth.js";
import { RoutedVethDataplane } from "../../../agent/dataplane/dataplane.js";

interface ExecReq {
  id: number;
  op: "exec";
  plugin: string;
  env: Record<string, string>;
  stdin: string;
}
interface EnterReq {
  id: number;
  op: "enter";
  how: "ip-n" | "nsenter";
  netns: string;
}
interface VethReq {
  id: number;
  op: "veth";
  strategy: "batch" | "spawn-each" | "netlink";
  hostIf: string;
  netns: string;
  address: string;
}

function execPlugin(r: ExecReq): Promise<{ id: number; ms: number; code: number; stdout: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const c = spawn(r.plugin, [], { env: r.env, stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stdin.on("error", () => {});
    c.on("error", () => resolve({ id: r.id, ms: performance.now() - t0, code: 127, stdout: "" }));
    c.on("close", (code) => resolve({ id: r.id, ms: performance.now() - t0, code: code ?? -1, stdout: out }));
    c.stdin.end(r.stdin);
  });
}

/** The step timings of the last netlink ADD (RoutedVethDataplane's onStep). */
let steps: Record<string, number> = {};
const netlink = new RoutedVethDataplane({ onStep: (step, ms) => (steps[step] = ms) });

/** The one routed veth every strategy makes. */
function vethSpec(r: VethReq): VethSpec {
  return {
    hostIf: r.hostIf,
    podIf: "eth0",
    netns: r.netns,
    mtu: 1500,
    podMac: "0a:58:0a:00:00:01",
    addresses: [r.address],
  };
}

async function veth(r: VethReq): Promise<{ id: number; ms: number; code: number; stdout: string }> {
  if (r.strategy === "netlink") {
    const spec = vethSpec(r);
    steps = {};
    const t0 = performance.now();
    let code = 0;
    await netlink.add(spec).catch(() => (code = 1));
    const ms = performance.now() - t0;
    const add = steps;
    steps = {};
    await netlink.del(r.hostIf).catch(() => (code = 1));
    // The step timings travel as the reply's stdout (JSON), with DEL's.
    return { id: r.id, ms, code, stdout: JSON.stringify({ ...add, ...steps }) };
  }
  const plan = planAdd(vethSpec(r));
  const t0 = performance.now();
  let code = 0;
  if (r.strategy === "batch") {
    code |= (await runIpBatch(plan.host)).code;
    await Promise.all(plan.sysctls.map(([p, v]) => writeFile(p, v)));
    code |= (await runIpBatch(plan.pod, r.netns)).code;
  } else {
    for (const l of plan.host) code |= (await runIp(l.split(" "))).code;
    await Promise.all(plan.sysctls.map(([p, v]) => writeFile(p, v)));
    for (const l of plan.pod) code |= (await runIp(l.split(" "), { netns: r.netns })).code;
  }
  const ms = performance.now() - t0;
  await runIp(["link", "del", r.hostIf]);
  return { id: r.id, ms, code, stdout: "" };
}

/** One `ip -batch` (a read-only line) inside a pod namespace, entered either way. */
async function enter(r: EnterReq): Promise<{ id: number; ms: number; code: number; stdout: string }> {
  const name = r.netns.split("/").pop() ?? "";
  const t0 = performance.now();
  const x =
    r.how === "ip-n"
      ? await runIp(["-n", name, "-batch", "-"], { stdin: "link show lo\n" })
      : await runIp(["-batch", "-"], { netns: r.netns, stdin: "link show lo\n" });
  return { id: r.id, ms: performance.now() - t0, code: x.code, stdout: "" };
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const r = JSON.parse(line) as ExecReq | VethReq | EnterReq;
  const p = r.op === "exec" ? execPlugin(r) : r.op === "veth" ? veth(r) : enter(r);
  void p.then((res) => process.stdout.write(JSON.stringify(res) + "\n"));
});
