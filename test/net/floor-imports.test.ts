// The import rule of the ground floor (docs/architecture.md layout): net/ imports
// nothing of ours, and bgp/ (a library usable without Kubernetes) imports
// nothing of ours but net/. A static scan of the tracked sources.
import { describe, it, expect } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));

/** Every relative import of a file, as a repository path. */
function relativeImports(file: string): string[] {
  const text = readFileSync(join(REPO, file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g))
    out.push(normalize(join(dirname(file), m[1] ?? "")));
  for (const m of text.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g))
    out.push(normalize(join(dirname(file), m[1] ?? "")));
  return out;
}

function sources(room: string): string[] {
  return execFileSync("git", ["ls-files", `${room}/*.ts`], { cwd: REPO, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "");
}

describe("import rules of the ground floor", () => {
  it("the scan sees imports (bgp/config.ts takes its route protocol from net/)", () => {
    expect(relativeImports("bgp/config.ts")).toContain("net/route-ownership.js");
  });

  it("net/ imports nothing of ours (node built-ins and npm packages only)", () => {
    const bad = sources("net").flatMap((f) =>
      relativeImports(f)
        .filter((p) => !p.startsWith("net/"))
        .map((p) => `${f} -> ${p}`),
    );
    expect(bad).toEqual([]);
  });

  it("bgp/ imports nothing of ours but net/", () => {
    const bad = sources("bgp").flatMap((f) =>
      relativeImports(f)
        .filter((p) => !p.startsWith("bgp/") && !p.startsWith("net/"))
        .map((p) => `${f} -> ${p}`),
    );
    expect(bad).toEqual([]);
  });
});
