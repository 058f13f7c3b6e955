/**
 * Entry point of `scripts/bench-cluster` / `npm run bench:cluster`: runs the
 * cluster benchmark, prints its tables and writes
 * test/bench/results/cluster.json.
 *   --quick        the CI size (bench.test.ts runs it)
 *   --nodes N      the scale lab's size (default 20); --nodes 0 skips it
 *   --pods N, --claims N, --changes N, --losses N   override the counts
 *   --no-bfd       skip the node-loss run on the BFD lab
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { benchOptions, formatClusterBench, runClusterBench, type ClusterBenchOptions } from "./bench.js";

function count(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: "${v}" is not an integer >= ${min}`);
  return n;
}

function options(argv: string[]): ClusterBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      nodes: { type: "string" },
      pods: { type: "string" },
      claims: { type: "string" },
      changes: { type: "string" },
      losses: { type: "string" },
      "no-bfd": { type: "boolean" },
    },
    strict: true,
  });
  const o: ClusterBenchOptions = { ...benchOptions(values.quick === true ? "quick" : "full") };
  const nodes = count("nodes", values.nodes, 0);
  if (nodes === 1) throw new Error("--nodes: a scale lab needs 2 nodes or more (0 skips it)");
  if (nodes !== undefined) {
    if (nodes === 0) delete o.scaleNodes;
    else o.scaleNodes = nodes;
  }
  o.pods = count("pods", values.pods, 1) ?? o.pods;
  o.claims = count("claims", values.claims, 1) ?? o.claims;
  o.changes = count("changes", values.changes, 1) ?? o.changes;
  o.lossReps = count("losses", values.losses, 1) ?? o.lossReps;
  if (values["no-bfd"] === true) o.bfd = false;
  return o;
}

let o: ClusterBenchOptions;
try {
  o = options(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bench-cluster: ${(e as Error).message}\n`);
  process.exit(2);
}
try {
  const res = await runClusterBench(o, (s) => process.stderr.write(`bench-cluster: ${s}\n`));
  const dir = new URL("../../../../test/bench/results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const out = new URL("cluster.json", dir);
  writeFileSync(out, JSON.stringify(res, null, 2) + "\n");
  process.stdout.write(formatClusterBench(res));
  process.stdout.write(`written: ${out.pathname}\n`);
} catch (e) {
  process.stderr.write(`bench-cluster: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
