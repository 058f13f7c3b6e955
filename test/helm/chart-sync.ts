/** `scripts/chart-sync`: writes the chart's generated files (see chart-files.ts). */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chartCrdDir, chartReadme, expectedChartCrds, readSchema, renderReadme } from "./chart-files.js";

const crds = expectedChartCrds();
mkdirSync(chartCrdDir, { recursive: true });
for (const f of readdirSync(chartCrdDir)) if (!crds.has(f)) rmSync(join(chartCrdDir, f));
for (const [f, text] of crds) writeFileSync(join(chartCrdDir, f), text);
writeFileSync(chartReadme, renderReadme(readFileSync(chartReadme, "utf8"), readSchema()));
console.log(`chart-sync: ${crds.size} CRDs in ${chartCrdDir}, values table in ${chartReadme}`);
