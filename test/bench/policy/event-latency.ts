/**
 * Event -> kernel latency of one pod added at the benchmark's big size
 * (10k pods / 2k policies / 100 tenants with TRELLIS_BENCH_FULL=1): the full
 * path (rebuild the model, compile, diff, apply) broken down by stage, and
 * the incremental path (policy/compiler/incremental.ts: update the compiler
 * state, emit only the changed elements and chains, apply), side by side in
 * one run, on the real `nft` (one long-lived session, as the agent runs it)
 * in a private network namespace. Writes test/bench/results/policy-event.json.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { buildClusterFromObjects, parseObject, type ParsedObject } from "../../../policy/model/load.js";
import { buildIR } from "../../../policy/compiler/ir.js";
import { irToTable } from "../../../policy/compiler/to-nft.js";
import { nftDocument } from "../../../policy/compiler/nft-table.js";
import { NftDriver } from "../../../agent/nft/driver.js";
import { ExecNft } from "../../../agent/nft/backend.js";
import { diffTable } from "../../../agent/nft/diff.js";
import { observe } from "../../../agent/nft/kernel-state.js";
import { pod } from "../../../policy/test/fixtures.js";
import { v4Text } from "../../../policy/model/ipv4.js";
// inc-begin
import {
  deltaCommands,
  initialState,
  materialize,
  updateObject,
  type CompilerState,
} from "../../../policy/compiler/incremental.js";
// inc-end
import { BENCH_NODE, syntheticDocs, type Size } from "./synthetic.js";
import { tableLine } from "./table-line.js";

const FULL = process.env["TRELLIS_BENCH_FULL"] === "1";
/** Events measured on the full path (each costs a whole compile); the incremental path gets INC_FACTOR times as many. */
const EVENTS = Number(process.env["TRELLIS_BENCH_EVENTS"] ?? 20);
const INC_FACTOR = 5;
/** Unmeasured events first on each path (JIT, caches), as in a long-running agent. */
const WARMUP = 3;
const SIZE: Size = FULL
  ? { pods: 10_000, policies: 2_000, tenants: 100, nodes: 100 }
  : { pods: 1_000, policies: 200, tenants: 10, nodes: 10 };
const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const NETNS = "tPev-cp";

const now = () => performance.now();
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
};
const sh = (...a: string[]) => execFileSync(a[0] as string, a.slice(1), { stdio: "ignore" });

/** The i-th new pod: alternately local and remote, labels spread like the synthetic cluster's. */
function newPod(i: number): ParsedObject {
  const base = (10 << 24) + (96 << 16);
  return parseObject(
    pod(
      `ns${(i * 7) % (SIZE.tenants * 5)}`,
      `ev-${i}`,
      { app: `app${i % 10}`, role: i % 3 === 0 ? "fe" : "be" },
      {
        node: i % 2 === 0 ? BENCH_NODE : `node${1 + (i % (SIZE.nodes - 1))}`,
        ip: v4Text(base + i + 1),
        ports: [{ name: "http", containerPort: 8080 }],
      },
    ),
  );
}

interface Stage {
  [k: string]: number;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("the event benchmark needs root (network namespace, nft)");
    process.exit(2);
  }
  const objects = syntheticDocs(SIZE, 20).map((d, i) => parseObject(d, i));
  try {
    sh("ip", "netns", "del", NETNS);
  } catch {
    // absent
  }
  sh("ip", "netns", "add", NETNS);
  const backend = new ExecNft({ netns: NETNS, persistent: true });
  try {
    const driver = new NftDriver(backend);
    const c0 = buildClusterFromObjects(objects);
    const t0 = irToTable(buildIR(c0, BENCH_NODE));
    await driver.apply(t0);
    await driver.apply(t0); // the first diff reads the kernel back; later ones trust the last apply

    // Full path, stage by stage (what the agent's sync loop does per event).
    let current = objects;
    const full: Stage[] = [];
    for (let i = 0; i < EVENTS + WARMUP; i++) {
      const s0 = now();
      current = [...current, newPod(i)];
      const c = buildClusterFromObjects(current);
      const s1 = now();
      const ir = buildIR(c, BENCH_NODE);
      const s2 = now();
      const table = irToTable(ir);
      const s3 = now();
      const r = await driver.apply(table);
      const s4 = now();
      if (i < WARMUP) continue;
      full.push({
        model: s1 - s0,
        ir: s2 - s1,
        toNft: s3 - s2,
        diffApply: s4 - s3,
        total: s4 - s0,
        cmds: r.commands.length,
      });
    }
    // The driver's diff alone (it is inside diffApply above).
    const prev = irToTable(buildIR(buildClusterFromObjects(current.slice(0, -1)), BENCH_NODE));
    const last = irToTable(buildIR(buildClusterFromObjects(current), BENCH_NODE));
    const obs = observe(prev);
    const d0 = now();
    const diffCmds = diffTable(obs, last);
    const diffMs = now() - d0;
    const a0 = now();
    if (diffCmds !== "rebuild") await backend.run(nftDocument([]));
    const emptyTxMs = now() - a0;

    // inc-begin
    // Incremental path: same kind of events, from the state of the current objects.
    const i0 = now();
    let state: CompilerState = initialState(current, BENCH_NODE);
    const initMs = now() - i0;
    // The kernel holds exactly `materialize(state)` now (the last full apply).
    const inc: Stage[] = [];
    /** Each incremental event's apply ms, by the way its transaction went to the kernel. */
    const via: Record<"netlink" | "nft", number[]> = { netlink: [], nft: [] };
    const first = EVENTS + WARMUP;
    for (let i = first; i < first + EVENTS * INC_FACTOR + WARMUP; i++) {
      const s0 = now();
      const o = newPod(i);
      const u = updateObject(state, "Pod", o.name.replace(/^Pod /, ""), o);
      const s1 = now();
      const cmds = deltaCommands(state, u.state, u.delta);
      const s2 = now();
      // As the agent applies a delta (policy-manager.ts): the driver sends
      // element adds and deletes alone as one nf_tables netlink batch, and
      // anything else (a chain, a rule, a new set) through the nft session.
      const next = u.state;
      const r = await driver.applyCommands(cmds, () => materialize(next));
      const s3 = now();
      state = u.state;
      if (i < first + WARMUP) continue;
      if (r.mode === "incremental" && r.via !== undefined) via[r.via].push(s3 - s2);
      inc.push({ update: s1 - s0, delta: s2 - s1, apply: s3 - s2, total: s3 - s0, cmds: cmds.length });
    }
    // Sanity: the kernel (read back) holds what the incremental state says.
    driver.requestResync();
    const check = await driver.apply(materialize(state));
    // inc-end
    const summary = (xs: Stage[]) => {
      const keys = Object.keys(xs[0] ?? {});
      return Object.fromEntries(
        keys.map((k) => [
          k,
          {
            p50: round(
              pct(
                xs.map((x) => x[k] ?? 0),
                50,
              ),
            ),
            p99: round(
              pct(
                xs.map((x) => x[k] ?? 0),
                99,
              ),
            ),
          },
        ]),
      );
    };
    const fs = summary(full);
    const is = summary(inc);
    const load = loadavg().map((x) => round(x));
    const result = {
      mode: FULL ? "full" : "smoke",
      date: new Date().toISOString(),
      size: SIZE,
      events: { full: EVENTS, incremental: EVENTS * INC_FACTOR, warmupEach: WARMUP },
      loadavg: load,
      fullPath: fs,
      diffOnlyMs: round(diffMs),
      emptyTransactionMs: round(emptyTxMs),
      incrementalInitMs: round(initMs),
      incremental: is,
      incrementalVia: Object.fromEntries(
        Object.entries(via).map(([k, ms]) => [
          k,
          { events: ms.length, applyP50: round(pct(ms, 50)), applyP99: round(pct(ms, 99)) },
        ]),
      ),
      ratio: {
        p50: round((fs["total"]?.p50 ?? 0) / (is["total"]?.p50 || 1), 1),
        p99: round((fs["total"]?.p99 ?? 0) / (is["total"]?.p99 || 1), 1),
      },
      kernelMatchesFullCompile: check.mode === "noop",
    };
    const line = tableLine(44, 12);
    const out: string[] = [];
    out.push(
      `one pod added, event -> kernel (${result.mode}: ${SIZE.pods} pods / ${SIZE.policies} policies / ${SIZE.tenants} tenants), ${EVENTS} full / ${EVENTS * INC_FACTOR} incremental events after ${WARMUP} warm-up each, loadavg ${load.join(" ")}`,
    );
    out.push(line(["stage", "p50 ms", "p99 ms"]));
    for (const [k, v] of Object.entries(fs)) out.push(line([`full: ${k}`, v.p50, v.p99]));
    for (const [k, v] of Object.entries(is)) out.push(line([`incremental: ${k}`, v.p50, v.p99]));
    out.push(line(["full / incremental (total)", `${result.ratio.p50}x`, `${result.ratio.p99}x`]));
    for (const [k, v] of Object.entries(result.incrementalVia))
      out.push(line([`incremental apply via ${k} (${v.events} events)`, v.applyP50, v.applyP99]));
    out.push(
      `driver diff alone ${result.diffOnlyMs} ms; empty nft transaction ${result.emptyTransactionMs} ms; incremental state built in ${result.incrementalInitMs} ms; kernel equals full compile after the incremental run: ${result.kernelMatchesFullCompile}`,
    );
    console.log(out.join("\n"));
    const outFile = process.env["TRELLIS_BENCH_OUT"] ?? `${ROOT}test/bench/results/policy-event.json`;
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
    console.log(`wrote ${outFile}`);
  } finally {
    backend.close?.();
    sh("ip", "netns", "del", NETNS);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
