// A clone of this repository must be complete on its own: no file may point
// at notes that live outside it (a sibling `shared` folder, or the notes by
// their old names); the architecture and machine notes are in docs/. Every
// docs/… reference and every relative Markdown link must resolve inside the
// repository.
import { describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** Tracked files (git), else every file outside build output and dependencies. */
function repoFiles(): string[] {
  try {
    const out = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" });
    return out.split("\0").filter((f) => f !== "" && existsSync(join(root, f)));
  } catch {
    const skip = new Set([".git", "node_modules", "dist", ".lab"]);
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (skip.has(e.name)) continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(relative(root, p));
      }
    };
    walk(root);
    return files;
  }
}

/** Text files only (a NUL byte marks a binary). */
function texts(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of repoFiles()) {
    const p = join(root, f);
    if (!statSync(p).isFile()) continue;
    const buf = readFileSync(p);
    if (buf.includes(0)) continue;
    out.push([f, buf.toString("utf8")]);
  }
  return out;
}

// Spelled in pieces so that this file does not name them itself.
const OUTSIDE = [".." + "/shared", ...["DESIGN", "MACHINE", "STYLE"].map((n) => `${n}.md`)];

describe("the repository refers only to itself", () => {
  const files = texts();

  it("finds the repository's files", () => {
    expect(files.map(([f]) => f)).toEqual(expect.arrayContaining(["README.md", "docs/architecture.md"]));
  });

  it.each(OUTSIDE)("no file mentions %s", (needle) => {
    const hits: string[] = [];
    for (const [f, text] of files) {
      text.split("\n").forEach((line, i) => {
        if (line.includes(needle)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it("every docs/… document named anywhere exists", () => {
    const missing: string[] = [];
    for (const [f, text] of files) {
      for (const m of text.matchAll(/\bdocs\/[\w.-]+\.md\b/g)) {
        if (!existsSync(join(root, m[0]))) missing.push(`${f}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every relative link in a Markdown file resolves inside the repository", () => {
    const broken: string[] = [];
    for (const [f, text] of files) {
      if (!f.endsWith(".md")) continue;
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] ?? "").split("#")[0] ?? "";
        if (target === "" || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // anchor or URL
        const abs = resolve(dirname(join(root, f)), target);
        if (relative(root, abs).startsWith("..") || !existsSync(abs)) broken.push(`${f}: ${m[1] ?? ""}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("README.md still opens with the two commands and points at docs/", () => {
    const readme = files.find(([f]) => f === "README.md")?.[1] ?? "";
    const head = readme.split("\n").slice(0, 14).join("\n");
    expect(head).toMatch(/^npm run lab\s+#/m);
    expect(head).toMatch(/^npm test\s+#/m);
    expect(readme).toContain("docs/architecture.md");
    expect(readme).toContain("docs/machine.md");
  });
});
