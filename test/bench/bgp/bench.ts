#!/usr/bin/env node
// BGP convergence benchmark: trellis-bgp vs BIRD, GoBGP and FRR bgpd.
//   scripts/bench-bgp                      smoke size 1×10k
//   TRELLIS_BENCH_FULL=1 scripts/bench-bgp 1×100k and 10×100k
// Env: TRELLIS_BENCH_TARGETS=trellis-bgp,bird (subset), TRELLIS_BENCH_SIZES=1x5000,2x1000,
// TRELLIS_BENCH_FIB=0 (RIB only), TRELLIS_BENCH_OVERLAP=1 (all peers announce the same prefixes),
// TRELLIS_BENCH_NETNS=tRxx (namespace names tRxxT/tRxxG instead of tRbgT/tRbgG),
// TRELLIS_BENCH_REPEAT=3 (rounds over all targets; medians reported).
// Prints a markdown table and writes test/bench/results/bgp.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { formatTable, runOne, teardown } from "./harness.js";
import type { RunResult, Size } from "./harness.js";
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

/** Per metric, the median over the successful runs; failed if none succeeded. */
export function median(rs: RunResult[]): RunResult {
  const ok = rs.filter((r) => r.ok);
  if (ok.length === 0) return rs[rs.length - 1]!;
  const mid = (xs: (number | undefined)[]): number | undefined => {
    const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    return v.length === 0 ? undefined : v[(v.length - 1) >> 1];
  };
  const out: RunResult = { ...ok[0]!, runs: ok.length };
  for (const k of ["ribMs", "fibMs", "peakRssMB", "generatorSendMs"] as const) {
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
  const fib = env.TRELLIS_BENCH_FIB !== "0";
  const repeat = Math.max(1, Number(env.TRELLIS_BENCH_REPEAT ?? 1) || 1);
  const overlap = env.TRELLIS_BENCH_OVERLAP === "1";
  const token = env.TRELLIS_BENCH_NETNS ?? "tRbg";
  if (!/^tR[a-z0-9]{1,6}$/.test(token))
    throw new Error(`TRELLIS_BENCH_NETNS: "${token}" must be tR + 1..6 of [a-z0-9]`);
  const ns = { target: `${token}T`, gen: `${token}G` };
  const results: RunResult[] = [];
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
      const rounds: RunResult[][] = targets.map(() => []);
      for (let k = 0; k < repeat; k++)
        for (const [i, t] of targets.entries()) {
          process.stderr.write(
            `bench-bgp: ${t.name} ${size.peers}×${size.prefixes} (round ${k + 1}/${repeat}) ...\n`,
          );
          const r = await runOne(t, size, { repoRoot, fib, overlap, timeoutMs, ns });
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
  process.stdout.write(
    "RIB/FIB converge: from all sessions Established to every path in the RIB / every prefix in the kernel table.\n" +
      "FIB is measured where the target installs routes here: trellis-bgp (ip -batch, proto 202) and BIRD (kernel protocol);\n" +
      "GoBGP (no zebra) and FRR bgpd (-Z, no zebra) do not install routes in this setup.\n",
  );
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.versions.node },
    fib,
    overlap,
    repeat,
    sizes,
    results,
    table,
  };
  mkdirSync(new URL("../../../../test/bench/results/", import.meta.url), { recursive: true });
  writeFileSync(
    new URL("../../../../test/bench/results/bgp.json", import.meta.url),
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
