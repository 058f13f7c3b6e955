/**
 * The benchmark's stand-in for a container runtime: a long-lived process
 * started once inside the node namespace (nsenter --net=…), which execs CNI
 * plugins exactly as a runtime does (env + stdin, stdout result) and times
 * each exec from spawn to exit. Requests and replies are JSON lines.
 * It also times one routed veth made three ways, from the node: the
 * agent's way (rtnetlink through net/netlink, no process; per step), and
 * the two ways of driving iproute2 it replaced (one `ip -batch` per
 * namespace, one spawn per command), so the three compare in one run.
 * And it times a pod's policy transaction (the element adds of a CNI ADD,
 * then the deletes of its DEL) on a table shaped like `inet trellis`, both
 * ways the agent can send it: the long-lived `nft -j -i` session, and
 * nf_tables netlink from the process itself (agent/nft ExecNft.runElements).
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { runIp, runIpBatch } from "../../../agent/dataplane/ip-exec.js";
import { type VethSpec, planAdd } from "../../../agent/dataplane/routed-veth.js";
import { RoutedVethDataplane } from "../../../agent/dataplane/dataplane.js";
import { ExecNft } from "../../../agent/nft/backend.js";
import { NftDriver } from "../../../agent/nft/driver.js";
import { nftDocument, type NftTable, type TableRef } from "../../../policy/compiler/nft-table.js";

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

interface NftReq {
  id: number;
  op: "nft";
  strategy: "session" | "netlink";
  /** Pods already in the table (elements the transaction's sets hold). */
  pods: number;
  /** Which pod the transaction adds (and then deletes). */
  pod: number;
}

/** The bench's own table, never the agent's `inet trellis` (the runner is in the node namespace). */
const BENCH_TABLE: TableRef = { family: "inet", name: "trellis-bench" };
const podIf = (i: number): string => `trlbnch${i.toString(16).padStart(6, "0")}`;
const podIp = (i: number): string => `10.98.${(i >> 8) & 255}.${i & 255}`;

/** The sets and maps a pod's ADD touches in `inet trellis` (policy/compiler/to-nft.ts), with `pods` pods in them. */
function benchTable(pods: number): NftTable {
  const ids = Array.from({ length: pods }, (_, i) => i + 1);
  return {
    sets: [
      {
        name: "pod-sources",
        type: ["ifname", "ipv4_addr"],
        elements: ids.map((i) => ({ concat: [podIf(i), podIp(i)] })),
      },
      { name: "all-pods", type: "ipv4_addr", elements: ids.map(podIp) },
    ],
    maps: [
      {
        name: "egress-pods",
        type: "ifname",
        elements: ids.map((i) => [podIf(i), { accept: null }] as const),
      },
      {
        name: "ingress-pods",
        type: "ifname",
        elements: ids.map((i) => [podIf(i), { accept: null }] as const),
      },
    ],
    chains: [],
  };
}

/** A pod's ADD (or DEL) as the incremental compiler writes it (policy/compiler/incremental.ts deltaCommands). */
function podCommands(i: number, verb: "add" | "delete"): Record<string, unknown>[] {
  const at = { family: BENCH_TABLE.family, table: BENCH_TABLE.name };
  const el = (name: string, elem: unknown[]) => ({ [verb]: { element: { ...at, name, elem } } });
  return [
    el("pod-sources", [{ concat: [podIf(i), podIp(i)] }]),
    el("all-pods", [podIp(i)]),
    el("egress-pods", [verb === "add" ? [podIf(i), { accept: null }] : podIf(i)]),
    el("ingress-pods", [verb === "add" ? [podIf(i), { accept: null }] : podIf(i)]),
  ];
}

/** Each way's backend and driver, made once (the session's nft starts on its first transaction, a warm-up). */
const nftBackends = {
  session: new ExecNft({ persistent: true, netlink: false, table: BENCH_TABLE }),
  netlink: new ExecNft({ persistent: true, table: BENCH_TABLE }),
};
const nftWays = {
  session: new NftDriver(nftBackends.session, undefined, { table: BENCH_TABLE }),
  netlink: new NftDriver(nftBackends.netlink, undefined, { table: BENCH_TABLE }),
};
let benchPods = -1;

/** One pod's ADD transaction by `strategy`, timed, then its DEL transaction (timed, in stdout). */
async function nftElement(r: NftReq): Promise<{ id: number; ms: number; code: number; stdout: string }> {
  const d = nftWays[r.strategy];
  if (benchPods !== r.pods) {
    // The table made once, by nft, with `pods` pods; each driver then knows its shape.
    await nftWays.session.apply(benchTable(r.pods));
    await nftWays.netlink.apply(benchTable(r.pods));
    benchPods = r.pods;
  }
  const table = (): NftTable => benchTable(r.pods);
  let code = 0;
  const t0 = performance.now();
  const add = await d.applyCommands(podCommands(r.pod, "add"), table).catch(() => undefined);
  const ms = performance.now() - t0;
  const t1 = performance.now();
  const del = await d.applyCommands(podCommands(r.pod, "delete"), table).catch(() => undefined);
  const delMs = performance.now() - t1;
  const want = r.strategy === "session" ? "nft" : "netlink";
  if (add?.via !== want || del?.via !== want) code = 1;
  return { id: r.id, ms, code, stdout: JSON.stringify({ delMs }) };
}

/**
 * One exec's timeline in wall-clock ms (performance.timeOrigin-based, so the
 * agent's log can be laid beside it): the spawn asked, the child running
 * (libuv's spawn returned: fork and exec done), its exit seen.
 */
export interface ExecTimeline {
  start: number;
  spawned: number;
  exited: number;
}

function execPlugin(
  r: ExecReq,
): Promise<{ id: number; ms: number; code: number; stdout: string; at: ExecTimeline }> {
  const t0 = performance.now();
  const wall = (t: number): number => performance.timeOrigin + t;
  return new Promise((resolve) => {
    const c = spawn(r.plugin, [], { env: r.env, stdio: ["pipe", "pipe", "ignore"] });
    let spawned = t0;
    let exited = t0;
    c.on("spawn", () => (spawned = performance.now()));
    c.on("exit", () => (exited = performance.now()));
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stdin.on("error", () => {});
    const done = (code: number, stdout: string): void => {
      const end = performance.now();
      const at = { start: wall(t0), spawned: wall(spawned), exited: wall(exited === t0 ? end : exited) };
      resolve({ id: r.id, ms: end - t0, code, stdout, at });
    };
    c.on("error", () => done(127, ""));
    c.on("close", (code) => done(code ?? -1, out));
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
rl.on("close", () => {
  // The bench's table goes with the runner (and each session's nft with its stdin).
  void new ExecNft({ netlink: false })
    .run(nftDocument([{ delete: { table: { family: BENCH_TABLE.family, name: BENCH_TABLE.name } } }]))
    .catch(() => undefined)
    .finally(() => {
      for (const b of Object.values(nftBackends)) b.close();
    });
});
rl.on("line", (line) => {
  const r = JSON.parse(line) as ExecReq | VethReq | EnterReq | NftReq;
  const p =
    r.op === "exec" ? execPlugin(r) : r.op === "veth" ? veth(r) : r.op === "nft" ? nftElement(r) : enter(r);
  void p.then((res) => process.stdout.write(JSON.stringify(res) + "\n"));
});
