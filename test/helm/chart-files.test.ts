// The chart's generated files match their sources (scripts/chart-sync writes them).
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import {
  actualChartCrds,
  chartDir,
  chartReadme,
  expectedChartCrds,
  readSchema,
  renderReadme,
  valueRows,
} from "./chart-files.js";

describe("helm/trellis generated files", () => {
  it("crds/ holds exactly the CRDs of crds/manifests, byte for byte (run scripts/chart-sync)", () => {
    expect(actualChartCrds()).toEqual(expectedChartCrds());
  });

  it("README.md's values table is the one values.schema.json gives (run scripts/chart-sync)", () => {
    const readme = readFileSync(chartReadme, "utf8");
    expect(readme).toBe(renderReadme(readme, readSchema()));
  });

  it("every value in values.yaml has a schema entry with the same default, and every leaf of the schema is in values.yaml", () => {
    const values = parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<string, unknown>;
    const leaves = new Map<string, unknown>();
    const walk = (o: Record<string, unknown>, prefix: string, schemaPaths: Set<string>): void => {
      for (const [k, v] of Object.entries(o)) {
        const p = prefix === "" ? k : `${prefix}.${k}`;
        if (v !== null && typeof v === "object" && !Array.isArray(v) && !schemaPaths.has(p)) {
          walk(v as Record<string, unknown>, p, schemaPaths);
        } else leaves.set(p, v);
      }
    };
    const rows = valueRows(readSchema());
    walk(values, "", new Set(rows.map((r) => r.path)));
    expect(Object.fromEntries(leaves)).toEqual(Object.fromEntries(rows.map((r) => [r.path, r.default])));
  });

  it("a leaf without a description or a default is refused", () => {
    expect(() => valueRows({ properties: { a: { type: "string", default: "" } } })).toThrow(
      "a needs a description and a default",
    );
  });
});
