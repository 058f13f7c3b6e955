/**
 * Policy benchmark (test/bench/policy). Control plane: load, compile and
 * apply at the configured size, then one pod added and one policy changed
 * (time and transaction size). Dataplane, side by side in one run: iperf3
 * throughput and short-connection rate between two pods through a node with
 * no ruleset, conntrack only, our ruleset at 100 policies, our ruleset at the
 * big size, and the same policies in the shape Calico's iptables mode builds
 * (per-endpoint chains behind a dispatch list, one chain per policy, set
 * lookups: per-endpoint.ts) at the big size. Two more rows say what costs
 * what: the big size in the shape Trellis compiled before its one base chain
 * (two base chains, conntrack checked in each: two-chain-shape.ts), and the
 * big size with no policy selecting the server (the walk of the 20 policies
 * below is then all a new connection is spared).
 *
 * In every variant 20 policies select the server pod (the allowing one
 * last), so the Trellis variants differ only in the size of the rest of the
 * cluster.
 *
 * Smoke size by default (CI); TRELLIS_BENCH_FULL=1 for 10k pods / 2k
 * policies / 100 tenants. Prints a table; writes test/bench/results/policy.json.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import { dirname } from "node:path";
import {
  buildClusterFromObjects,
  loadCluster,
  parseObject,
  type ParsedObject,
} from "../../../policy/model/load.js";
import { compile } from "../../../policy/compiler/compile.js";
import { podVethName } from "../../../net/veth-name.js";
import { NftDriver, type ApplyResult } from "../../../agent/nft/driver.js";
import { ExecNft } from "../../../agent/nft/backend.js";
import { pod, networkPolicy } from "../../../policy/test/fixtures.js";
import { BENCH_CLIENT_IP, BENCH_NODE, BENCH_SERVER_IP, syntheticDocs, type Size } from "./synthetic.js";
import { perEndpointTable, type PerEndpoint } from "./per-endpoint.js";
import { tableLine } from "./table-line.js";
import { twoChainShape } from "./two-chain-shape.js";

const FULL = process.env["TRELLIS_BENCH_FULL"] === "1";
const P = "tPbn";
const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const AGENT = `${ROOT}test/conformance/policy/pod-agent.py`;

const BIG: Size = FULL
  ? { pods: 10_000, policies: 2_000, tenants: 100, nodes: 100 }
  : { pods: 1_000, policies: 200, tenants: 10, nodes: 10 };
const SMALL: Size = FULL
  ? { pods: 1_000, policies: 100, tenants: 10, nodes: 10 }
  : { pods: 300, policies: 100, tenants: 4, nodes: 10 };
const SECONDS = FULL ? 3 : 1;
/**
 * Variants are measured interleaved, ROUNDS times, and the median kept: these
 * machines are noisy (TRELLIS_BENCH_ROUNDS for more).
 */
const ROUNDS = Number(process.env["TRELLIS_BENCH_ROUNDS"] ?? (FULL ? 5 : 2));

const sh = (...a: string[]) =>
  execFileSync(a[0] as string, a.slice(1), { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

function tableStats(t: ReturnType<typeof compile>["table"]) {
  return {
    sets: t.sets.length + t.maps.length,
    elements:
      t.sets.reduce((n, s) => n + s.elements.length, 0) + t.maps.reduce((n, m) => n + m.elements.length, 0),
    chains: t.chains.length,
    rules: t.chains.reduce((n, c) => n + c.rules.length, 0),
  };
}

function txSize(r: ApplyResult) {
  return { mode: r.mode, commands: r.commands.length, bytes: JSON.stringify(r.commands).length };
}

async function controlPlane() {
  const docs = syntheticDocs(BIG, 20);
  let t0 = process.hrtime.bigint();
  const objects = docs.map((d, i) => parseObject(d, i));
  const loadMs = ms(t0);
  t0 = process.hrtime.bigint();
  const compiled = compile(buildClusterFromObjects(objects), BENCH_NODE);
  const compileMs = ms(t0);
  const netns = `${P}-cp`;
  sh("ip", "netns", "add", netns);
  try {
    const driver = new NftDriver(new ExecNft({ netns }));
    t0 = process.hrtime.bigint();
    const full = await driver.apply(compiled.table);
    const applyMs = ms(t0);
    // The first diff after start reads the kernel back (then the driver trusts
    // its last apply until a resync): measured on its own.
    t0 = process.hrtime.bigint();
    await driver.apply(compiled.table);
    const resyncMs = ms(t0);

    // As an agent with a watch cache does: validate only the object that
    // changed, rebuild the model from cached objects, recompile, diff, apply.
    let current = objects;
    const step = async (change: (objs: readonly ParsedObject[]) => ParsedObject[]) => {
      const s0 = process.hrtime.bigint();
      current = change(current);
      const t2 = compile(buildClusterFromObjects(current), BENCH_NODE).table;
      const recompute = ms(s0);
      const a0 = process.hrtime.bigint();
      const r = await driver.apply(t2);
      return { recomputeMs: round(recompute), applyMs: round(ms(a0)), ...txSize(r) };
    };
    const podAdded = await step((objs) => [
      ...objs,
      parseObject(
        pod(
          "ns1",
          "new-pod",
          { app: "app1", role: "fe" },
          { node: BENCH_NODE, ip: "10.127.0.1", ports: [{ name: "http", containerPort: 8080 }] },
        ),
      ),
    ]);
    const remotePodAdded = await step((objs) => [
      ...objs,
      parseObject(pod("ns2", "new-remote", { app: "app2", role: "fe" }, { node: "node3", ip: "10.127.0.2" })),
    ]);
    const policyChanged = await step((objs) =>
      objs.map((o) =>
        o.name === "NetworkPolicy bench/server-0"
          ? parseObject(
              networkPolicy("bench", "server-0", {
                podSelector: { matchLabels: { app: "server" } },
                ingress: [
                  { from: [{ podSelector: { matchLabels: { app: "nobody-0" } } }], ports: [{ port: 999 }] },
                ],
              }),
            )
          : o,
      ),
    );
    return {
      size: BIG,
      objects: docs.length,
      loadMs: round(loadMs),
      compileMs: round(compileMs),
      table: tableStats(compiled.table),
      fullApply: { applyMs: round(applyMs), ...txSize(full) },
      resyncMs: round(resyncMs),
      podAdded,
      remotePodAdded,
      policyChanged,
      perEndpointRules: perEndpointTable(compiled.ir, compiled.table).rules,
    };
  } finally {
    sh("ip", "netns", "del", netns);
  }
}

// ------------------------------------------------------------------ dataplane

const NODE = `${P}-node`;
const CLIENT = `${P}-client`;
const SERVER = `${P}-server`;

function dataplaneUp(): void {
  for (const n of [NODE, CLIENT, SERVER]) sh("ip", "netns", "add", n);
  sh("ip", "netns", "exec", NODE, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  sh("ip", "-n", NODE, "link", "set", "lo", "up");
  for (const [ns, name, ip] of [
    [CLIENT, "client", BENCH_CLIENT_IP],
    [SERVER, "server", BENCH_SERVER_IP],
  ] as const) {
    const veth = podVethName("bench", name);
    sh("ip", "-n", NODE, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
    sh("ip", "netns", "exec", NODE, "sysctl", "-qw", `net.ipv4.conf.${veth}.proxy_arp=1`);
    sh("ip", "-n", NODE, "link", "set", veth, "up");
    sh("ip", "-n", NODE, "route", "add", `${ip}/32`, "dev", veth);
    sh("ip", "-n", ns, "link", "set", "lo", "up");
    sh("ip", "-n", ns, "addr", "add", `${ip}/32`, "dev", "eth0");
    sh("ip", "-n", ns, "link", "set", "eth0", "up");
    sh("ip", "-n", ns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
    sh("ip", "-n", ns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
  }
  // Proxy ARP answers for 169.254.1.1 only when the node has a unicast route
  // to it: a default route into a veth pair that leads nowhere.
  sh("ip", "-n", NODE, "link", "add", `${P}-d0`, "type", "veth", "peer", "name", `${P}-d1`);
  sh("ip", "-n", NODE, "link", "set", `${P}-d0`, "up");
  sh("ip", "-n", NODE, "link", "set", `${P}-d1`, "up");
  sh("ip", "-n", NODE, "route", "add", "default", "dev", `${P}-d0`);
}

function dataplaneDown(): void {
  for (const n of [NODE, CLIENT, SERVER]) {
    try {
      sh("ip", "netns", "del", n);
    } catch {
      // absent
    }
  }
}

function clearNode(): void {
  for (const t of ["trellis", "conntrack", "peer"]) {
    try {
      sh("ip", "netns", "exec", NODE, "nft", "delete", "table", "inet", t);
    } catch {
      // absent
    }
  }
}

/** The floor for any stateful policy: a table with conntrack and one accept rule. */
async function loadConntrackOnly(): Promise<void> {
  const t = { family: "inet", table: "conntrack" };
  await new ExecNft({ netns: NODE }).run({
    nftables: [
      { add: { table: { family: "inet", name: "conntrack" } } },
      {
        add: { chain: { ...t, name: "forward", type: "filter", hook: "forward", prio: 0, policy: "accept" } },
      },
      {
        add: {
          rule: {
            ...t,
            chain: "forward",
            expr: [
              { match: { op: "in", left: { ct: { key: "state" } }, right: ["established", "related"] } },
              { accept: null },
            ],
          },
        },
      },
    ],
  });
}

async function iperf(): Promise<number> {
  const server = spawn(
    "nsenter",
    [`--net=/var/run/netns/${SERVER}`, "--", "iperf3", "-s", "-1", "-p", "5201"],
    { stdio: "ignore" },
  );
  await new Promise((r) => setTimeout(r, 300));
  try {
    const out = sh(
      "nsenter",
      `--net=/var/run/netns/${CLIENT}`,
      "--",
      "iperf3",
      "-c",
      BENCH_SERVER_IP,
      "-p",
      "5201",
      "-t",
      String(SECONDS),
      "-J",
    );
    const j = JSON.parse(out) as { error?: string; end: { sum_received?: { bits_per_second: number } } };
    if (!j.end.sum_received) throw new Error(`iperf3: ${j.error ?? "no result"}`);
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    server.kill();
  }
}

/** Short TCP connections per second: connect, wait for the server's close, close (paced by the server). */
function connRate(): number {
  const code = `import socket,time
n=0; end=time.time()+${SECONDS}; t0=time.time()
while time.time()<end:
  s=socket.create_connection(("${BENCH_SERVER_IP}",80),timeout=2); s.recv(1); s.close(); n+=1
print(n/(time.time()-t0))`;
  return Number(sh("nsenter", `--net=/var/run/netns/${CLIENT}`, "--", "python3", "-c", code).trim());
}

type Table = ReturnType<typeof compile>["table"];

async function dataplane(smallTable: Table, bigTable: Table, bigUnselected: Table, peer: PerEndpoint) {
  dataplaneDown();
  dataplaneUp();
  const agent = spawn("nsenter", [`--net=/var/run/netns/${SERVER}`, "--", "python3", "-u", AGENT, "80"], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  await new Promise((r) => setTimeout(r, 500));
  // A fresh driver per variant: its first apply replaces whatever the last variant left.
  const load = async (t: Table) => {
    clearNode();
    await new NftDriver(new ExecNft({ netns: NODE })).apply(t);
  };
  const rows: { variant: string; rules: number; throughputGbps: number; connPerSec: number }[] = [];
  try {
    const variants: [string, number, () => Promise<void>][] = [
      ["no ruleset", 0, async () => clearNode()],
      // The floor for any stateful policy: conntrack and one accept rule.
      [
        "conntrack only (1 rule)",
        1,
        async () => {
          clearNode();
          await loadConntrackOnly();
        },
      ],
      [`trellis, ${SMALL.policies} policies`, tableStats(smallTable).rules, () => load(smallTable)],
      [
        `trellis, ${BIG.pods} pods / ${BIG.policies} policies, two base chains (before)`,
        tableStats(twoChainShape(bigTable)).rules,
        () => load(twoChainShape(bigTable)),
      ],
      [
        `trellis, ${BIG.pods} pods / ${BIG.policies} policies`,
        tableStats(bigTable).rules,
        () => load(bigTable),
      ],
      [
        `trellis, ${BIG.pods} pods / ${BIG.policies} policies, server unselected`,
        tableStats(bigUnselected).rules,
        () => load(bigUnselected),
      ],
      [
        "per-endpoint chains (Calico shape)",
        peer.rules,
        async () => {
          clearNode();
          await new ExecNft({ netns: NODE }).run({ nftables: peer.cmds });
        },
      ],
    ];
    const samples = new Map<string, { gbps: number[]; cps: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [variant, , setup] of variants) {
        await setup();
        try {
          const gbps = await iperf();
          const cps = connRate();
          const s = samples.get(variant) ?? { gbps: [], cps: [] };
          s.gbps.push(gbps);
          s.cps.push(cps);
          samples.set(variant, s);
        } catch (e) {
          throw new Error(`${variant}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    for (const [variant, rules] of variants) {
      const s = samples.get(variant) ?? { gbps: [], cps: [] };
      rows.push({
        variant,
        rules,
        throughputGbps: round(median(s.gbps), 2),
        connPerSec: Math.round(median(s.cps)),
      });
    }
  } finally {
    agent.stdin?.end();
    agent.kill();
    dataplaneDown();
  }
  return rows;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench-policy needs root (network namespaces, nft)");
    process.exit(2);
  }
  const started = Date.now();
  const loadStart = loadavg().map((x) => round(x, 2));
  const cp = await controlPlane();
  const small = compile(loadCluster(syntheticDocs(SMALL, 20)), BENCH_NODE).table;
  const bigCompiled = compile(loadCluster(syntheticDocs(BIG, 20)), BENCH_NODE);
  const big = bigCompiled.table;
  // The same cluster with no policy selecting the server (syntheticDocs' benchPolicies 0).
  const bigUnselected = compile(loadCluster(syntheticDocs(BIG, 0)), BENCH_NODE).table;
  const dp = await dataplane(small, big, bigUnselected, perEndpointTable(bigCompiled.ir, big));
  const none = dp[0];
  const ct = dp[1];
  const result = {
    mode: FULL ? "full" : "smoke",
    date: new Date().toISOString(),
    controlPlane: cp,
    dataplane: dp.map((r) => ({
      ...r,
      throughputVsNone: none ? round(r.throughputGbps / none.throughputGbps, 3) : null,
      connRateVsNone: none ? round(r.connPerSec / none.connPerSec, 3) : null,
      // The goals are stated against conntrack only, the floor of any stateful policy.
      throughputVsConntrack: ct ? round(r.throughputGbps / ct.throughputGbps, 3) : null,
      connRateVsConntrack: ct ? round(r.connPerSec / ct.connPerSec, 3) : null,
    })),
    rounds: ROUNDS,
    seconds: round((Date.now() - started) / 1000),
    // The machines are shared and noisy: the load average around the run (1, 5, 15 min).
    loadavg: { start: loadStart, end: loadavg().map((x) => round(x, 2)) },
  };
  const line = tableLine(40, 14);
  const out: string[] = [];
  out.push(
    `policy benchmark (${result.mode}): ${BIG.pods} pods / ${BIG.policies} policies / ${BIG.tenants} tenants, node ${BENCH_NODE}, loadavg ${result.loadavg.start.join(" ")}`,
  );
  out.push(line(["control plane", "ms", "tx commands", "tx bytes", "mode"]));
  out.push(line(["validate objects (zod)", cp.loadMs, "", "", ""]));
  out.push(line(["build model + compile", cp.compileMs, "", "", ""]));
  out.push(
    line([
      "apply (full, atomic)",
      cp.fullApply.applyMs,
      cp.fullApply.commands,
      cp.fullApply.bytes,
      cp.fullApply.mode,
    ]),
  );
  out.push(line(["resync (read back + diff)", cp.resyncMs, 0, 0, "noop"]));
  for (const [name, s] of [
    ["one local pod added", cp.podAdded],
    ["one remote pod added", cp.remotePodAdded],
    ["one policy changed", cp.policyChanged],
  ] as const) {
    out.push(line([`${name}: rebuild+compile`, s.recomputeMs, "", "", ""]));
    out.push(line([`${name}: diff+apply`, s.applyMs, s.commands, s.bytes, s.mode]));
  }
  out.push(
    `table: ${cp.table.sets} sets/maps, ${cp.table.elements} elements, ${cp.table.chains} chains, ${cp.table.rules} rules; per-endpoint (Calico iptables) shape: ${cp.perEndpointRules} rules`,
  );
  out.push("");
  const dline = tableLine(66, 10);
  out.push(
    dline([
      `dataplane (client -> node -> server), median of ${ROUNDS}`,
      "rules",
      "Gbps",
      "vs none",
      "vs ct",
      "conn/s",
      "vs none",
      "vs ct",
    ]),
  );
  for (const r of result.dataplane)
    out.push(
      dline([
        r.variant,
        r.rules,
        r.throughputGbps,
        r.throughputVsNone ?? "",
        r.throughputVsConntrack ?? "",
        r.connPerSec,
        r.connRateVsNone ?? "",
        r.connRateVsConntrack ?? "",
      ]),
    );
  console.log(out.join("\n"));
  // TRELLIS_BENCH_OUT lets the CI smoke test write elsewhere than the committed results.
  const outFile = process.env["TRELLIS_BENCH_OUT"] ?? `${ROOT}test/bench/results/policy.json`;
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nwrote ${outFile} (${result.seconds} s)`);
}

main().catch((e: unknown) => {
  dataplaneDown();
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
