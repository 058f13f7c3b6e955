/** Entry point of `scripts/bench-cni` / `npm run bench:cni`: runs, prints the table, writes the JSON. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../agent/harness.js";
import { formatCniBench, runCniBench } from "./bench.js";

const full = process.env["TRELLIS_BENCH_FULL"] === "1";
const res = await runCniBench(full, (s) => process.stderr.write(`bench: ${s}\n`));
const out = join(ROOT, "test/bench/results/cni.json");
writeFileSync(out, JSON.stringify(res, null, 2) + "\n");
process.stdout.write(formatCniBench(res));
process.stdout.write(`written: ${out}\n`);
