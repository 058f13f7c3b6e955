/**
 * Reachability truth tables printed the way the upstream NetworkPolicy e2e
 * suite prints them (kubernetes test/e2e/network/netpol/truthtable.go,
 * PrettyPrint): a header `-` then the targets, one row per source, cells
 * tab-separated, `.` reachable, `X` not, `?` not probed. Pure.
 */
export interface TruthTable {
  froms: string[];
  tos: string[];
  /** values[from][to]; absent = not probed */
  values: Record<string, Record<string, boolean>>;
}

export function prettyPrint(t: TruthTable, indent = ""): string {
  const lines = [indent + ["-", ...t.tos].join("\t")];
  for (const from of t.froms) {
    const row = [from];
    for (const to of t.tos) {
      const v = t.values[from]?.[to];
      row.push(v === undefined ? "?" : v ? "." : "X");
    }
    lines.push(indent + row.join("\t"));
  }
  return lines.join("\n");
}

export function buildTruthTable(
  froms: readonly string[],
  tos: readonly string[],
  cells: Iterable<{ from: string; to: string; ok: boolean }>,
): TruthTable {
  const values: Record<string, Record<string, boolean>> = {};
  for (const f of froms) values[f] = {};
  for (const c of cells) {
    const row = values[c.from];
    if (row !== undefined && tos.includes(c.to)) row[c.to] = c.ok;
  }
  return { froms: [...froms], tos: [...tos], values };
}
