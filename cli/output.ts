/** `-o json|table` rendering shared by every trellisctl command. */
import { CliError, EXIT_USAGE } from "./exit-codes.js";

export type OutputFormat = "json" | "table";

export function parseOutputFormat(value: string, allowed: readonly string[] = ["json", "table"]): string {
  if (!allowed.includes(value)) {
    throw new CliError(`invalid output format "${value}": expected one of ${allowed.join(", ")}`, EXIT_USAGE);
  }
  return value;
}

export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * A plain aligned table: header row in upper case, columns separated by two
 * spaces, no borders (the kubectl look, so it greps and cuts well).
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => cellText(c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return (
    cells
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

function cellText(c: unknown): string {
  if (c === undefined || c === null) return "<none>";
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map((x) => cellText(x)).join(",");
  if (typeof c === "object") return JSON.stringify(c);
  return String(c);
}
