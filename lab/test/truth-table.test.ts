import { describe, expect, it } from "@jest/globals";
import { buildTruthTable, prettyPrint } from "../truth-table.js";
import { formatMatrix, type MatrixReport } from "../matrix.js";

describe("truth tables in the upstream e2e format", () => {
  const t = buildTruthTable(
    ["x/a", "x/b"],
    ["x/a", "x/b"],
    [
      { from: "x/a", to: "x/a", ok: true },
      { from: "x/a", to: "x/b", ok: false },
      { from: "x/b", to: "x/a", ok: true },
    ],
  );

  it("prints '-' and the targets as header, '.' reachable, 'X' not, '?' unprobed, tab-separated", () => {
    expect(prettyPrint(t)).toBe("-\tx/a\tx/b\nx/a\t.\tX\nx/b\t.\t?");
  });

  it("indents every line", () => {
    expect(
      prettyPrint(t, "  ")
        .split("\n")
        .every((l) => l.startsWith("  ")),
    ).toBe(true);
  });

  it("ignores cells for unknown pods", () => {
    const u = buildTruthTable(["a"], ["a"], [{ from: "a", to: "zz", ok: true }]);
    expect(u.values).toEqual({ a: {} });
  });

  const report = (nodeErrors: MatrixReport["nodeErrors"]): MatrixReport => ({
    pods: [{ pod: "x/a", node: "n", ip: "1.2.3.4", ports: [80] }],
    tables: [
      {
        port: 80,
        protocol: "TCP",
        ...buildTruthTable(["x/a"], ["x/a"], [{ from: "x/a", to: "x/a", ok: true }]),
      },
    ],
    results: [],
    nodeErrors,
  });

  it("titles each table with protocol/port", () => {
    expect(formatMatrix(report([]))).toBe("TCP/80:\n-\tx/a\nx/a\t.\n");
  });

  it("names first each node whose pods were not probed from, and why", () => {
    expect(formatMatrix(report([{ node: "node-2", error: "ctr containers ls: connection refused" }]))).toBe(
      "node node-2: its pods not probed from (rows of ?): ctr containers ls: connection refused\n" +
        "TCP/80:\n-\tx/a\nx/a\t.\n",
    );
  });
});
