import { readFileSync } from "node:fs";

/** The agent's version: package.json beside dist/ (read once, at start). */
export function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}
