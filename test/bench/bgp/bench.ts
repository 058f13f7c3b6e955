#!/usr/bin/env node
// BGP convergence benchmark: trellis-bgp vs BIRD, GoBGP and FRR bgpd.
//   scripts/bench-bgp                      smoke size 1×10k
//   TRELLIS_BENCH_FULL=1 scripts/bench-bgp 1×100k and 10×100k
// Env: TRELLIS_BENCH_TARGETS=trellis-bgp,bird (subset), TRELLIS_BENCH_SIZES=1x5000,2x1000,
// TRELLIS_BENCH_COLUMNS=rib,fib (default both), TRELLIS_BENCH_POLL_MS=100 (pause after each read),
// TRELLIS_BENCH_OVERLAP=1 (all peers announce the same prefixes),
// TRELLIS_BENCH_NETNS=tRxx (namespace names tRxxT/tRxxG instead of tRbgT/tRbgG),
// TRELLIS_BENCH_REPEAT=3 (rounds over all targets; medians reported),
// TRELLIS_BENCH_OUT=bgp-1m (results file name under test/bench/results/, default bgp),
// TRELLIS_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" (node flags for trellis-bgp: profiling),
// TRELLIS_BENCH_HOLD_MS=60000 (keep each target up after its milestone, e.g. for a heap snapshot).
// Prints a markdown table and writes test/bench/results/<out>.json.
//
// Two columns, each like for like across the targets:
//   RIB: kernel export off for every target (BIRD without a kernel protocol,
//     FRR bgpd -Z without zebra, trellis-bgp with fib.enabled false, GoBGP as
//     is); milestone: all P×N paths in the Loc-RIB, read through each daemon's
//     own interface from the host namespace (trellis-bgp: control socket
//     `peers`, in process; BIRD: birdc on its control socket; GoBGP: gobgp CLI
//     on a gRPC unix socket; FRR: vtysh prefix-counts "PfxCt Best Selected").
//   FIB: kernel export on for the targets that have one (trellis-bgp: its FIB,
//     an `ip -batch` child; BIRD: kernel protocol; FRR: bgpd + zebra);
//     milestone: every prefix in the kernel, counted the same way for all
//     (`ip -n <ns> -4 route show table all proto <n>`). GoBGP has no FIB here.
// Both poll with the same pause after each read and report what the reads cost.
// Until this change (issue 12) the RIB figure was taken with kernel export on
// (BIRD kernel protocol, trellis-bgp FIB), BIRD and GoBGP were read through
// `ip netns exec`, FRR's count was pfxRcd (received, before best-path
// selection), and the pause between reads was twice the last read (so it
// differed per target).
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { fibVia, formatTable, runOne, teardown } from "./harness.js";
import type { Column, RunResult, Size } from "./harness.js";
import { TARGETS } from "./targets.js";

export function sizesFromEnv(env: NodeJS.ProcessEnv): Size[] {
  if (env.TRELLIS_BENCH_SIZES) {
    return env.TRELLIS_BENCH_SIZES.split(",").map((s) => {
      const [p, n] = s.split("x").map(Number);
      if (!Number.isInteger(p) || !Number.isInteger(n) || p! < 1 || n! < 1)
        throw new Error(`TRELLIS_BENCH_SIZES: "${s}" is not PxN`);
      return { peers: p!, prefixes: n! };
    });
  }
  return env.TRELLIS_BENCH_FULL === "1"
    ? [
        { peers: 1, prefixes: 100_000 },
        { peers: 10, prefixes: 100_000 },
      ]
    : [{ peers: 1, prefixes: 10_000 }];
}

/**
 * The run with the median time (its read cost and RSS come with it), with
 * the median RSS and generator time over the successful runs; failed if none
 * succeeded.
 */
export function median(rs: RunResult[]): RunResult {
  const ok = rs.filter((r) => r.ok);
  if (ok.length === 0) return rs[rs.length - 1]!;
  const mid = (xs: (number | undefined)[]): number | undefined => {
    const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    return v.length === 0 ? undefined : v[(v.length - 1) >> 1];
  };
  const byMs = [...ok].sort((a, b) => (a.ms ?? 0) - (b.ms ?? 0));
  const out: RunResult = { ...byMs[(byMs.length - 1) >> 1]!, runs: ok.length };
  for (const k of ["peakRssMB", "generatorSendMs"] as const) {
    const m = mid(ok.map((r) => r[k]));
    if (m === undefined) delete out[k];
    else out[k] = m;
  }
  return out;
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<RunResult[]> {
  const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
  const sizes = sizesFromEnv(env);
  const want = env.TRELLIS_BENCH_TARGETS?.split(",");
  const targets = want ? TARGETS.filter((t) => want.includes(t.name)) : TARGETS;
  const columns = (env.TRELLIS_BENCH_COLUMNS ?? "rib,fib").split(",") as Column[];
  for (const c of columns)
    if (c !== "rib" && c !== "fib") throw new Error(`TRELLIS_BENCH_COLUMNS: "${c}" is not rib or fib`);
  const pollMs = Number(env.TRELLIS_BENCH_POLL_MS ?? 100);
  if (!Number.isInteger(pollMs) || pollMs < 10 || pollMs > 5000)
    throw new Error(`TRELLIS_BENCH_POLL_MS: "${env.TRELLIS_BENCH_POLL_MS}" must be an integer in 10..5000`);
  const nodeArgs = env.TRELLIS_BENCH_NODE_ARGS?.split(" ").filter((a) => a !== "");
  if (nodeArgs?.some((a) => !a.startsWith("--")))
    throw new Error(`TRELLIS_BENCH_NODE_ARGS: "${env.TRELLIS_BENCH_NODE_ARGS}" must be node flags (--x)`);
  const holdMs = Number(env.TRELLIS_BENCH_HOLD_MS ?? 0);
  if (!Number.isInteger(holdMs) || holdMs < 0 || holdMs > 600_000)
    throw new Error(`TRELLIS_BENCH_HOLD_MS: "${env.TRELLIS_BENCH_HOLD_MS}" must be an integer in 0..600000`);
  const outName = env.TRELLIS_BENCH_OUT ?? "bgp";
  if (!/^bgp[a-z0-9-]{0,30}$/.test(outName))
    throw new Error(`TRELLIS_BENCH_OUT: "${outName}" must be bgp followed by up to 30 of [a-z0-9-]`);
  const repeat = Math.max(1, Number(env.TRELLIS_BENCH_REPEAT ?? 1) || 1);
  const overlap = env.TRELLIS_BENCH_OVERLAP === "1";
  const token = env.TRELLIS_BENCH_NETNS ?? "tRbg";
  if (!/^tR[a-z0-9]{1,6}$/.test(token))
    throw new Error(`TRELLIS_BENCH_NETNS: "${token}" must be tR + 1..6 of [a-z0-9]`);
  const ns = { target: `${token}T`, gen: `${token}G` };
  const results: RunResult[] = [];
  const loadavgStart = loadavg();
  const stop = (): void => {
    teardown(ns);
    process.exit(130);
  };
  process.once("SIGINT", stop);
  try {
    for (const size of sizes) {
      const timeoutMs = Math.max(60_000, ((size.peers * size.prefixes) / 1000) * 600);
      // Rounds interleave the targets (A B C D, A B C D, ...) so that a burst of
      // load from other jobs hits every target, and the median is reported.
      const runs = columns.flatMap((column) =>
        targets.filter((t) => column === "rib" || t.fibProto !== undefined).map((t) => ({ t, column })),
      );
      const rounds: RunResult[][] = runs.map(() => []);
      for (let k = 0; k < repeat; k++)
        for (const [i, { t, column }] of runs.entries()) {
          process.stderr.write(
            `bench-bgp: ${t.name} ${column} ${size.peers}×${size.prefixes} (round ${k + 1}/${repeat}) ...\n`,
          );
          const r = await runOne(t, size, {
            repoRoot,
            column,
            overlap,
            timeoutMs,
            pollMs,
            ns,
            holdMs,
            ...(nodeArgs ? { nodeArgs } : {}),
          });
          process.stderr.write(`bench-bgp:   ${JSON.stringify(r)}\n`);
          rounds[i]!.push(r);
        }
      for (const rs of rounds) results.push(median(rs));
    }
  } finally {
    process.removeListener("SIGINT", stop);
  }
  const table = formatTable(results);
  process.stdout.write(`${table}\n`);
  const load = loadavg().map((x) => x.toFixed(2));
  process.stdout.write(
    "RIB: kernel export off for every target; from all sessions Established to all paths in the Loc-RIB.\n" +
      "FIB: kernel export on (trellis-bgp FIB, BIRD kernel protocol, FRR zebra; GoBGP has none); to every prefix in the kernel.\n" +
      `Reads: a ${pollMs} ms pause after each; read ms is each read's wall time. Load average at the end: ${load.join(" ")}.\n`,
  );
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.versions.node },
    loadavgStart,
    loadavgEnd: loadavg(),
    columns,
    pollMs,
    via: Object.fromEntries(
      targets.map((t) => [
        t.name,
        { rib: t.ribPoll, fib: t.fibProto === undefined ? null : `${t.fibPath}; ${fibVia(t.fibProto)}` },
      ]),
    ),
    overlap,
    repeat,
    sizes,
    results,
    table,
  };
  mkdirSync(new URL("../../../../test/bench/results/", import.meta.url), { recursive: true });
  writeFileSync(
    new URL(`../../../../test/bench/results/${outName}.json`, import.meta.url),
    JSON.stringify(out, null, 2) + "\n",
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (r) => {
      process.exitCode = r.every((x) => x.ok) ? 0 : 1;
    },
    (e: unknown) => {
      process.stderr.write(`bench-bgp: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
