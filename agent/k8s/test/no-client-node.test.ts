/**
 * trellis-node must not load @kubernetes/client-node: loading it alone took
 * a bare node from about 40 to 105 MiB RSS (issue 12's budget is 100 MiB
 * with 1,000 pods). The agent's entry is started with a module-resolution
 * hook (node:module register) that prints every package it resolves; the
 * entry's whole static import graph loads before `--version` answers.
 * The lab and the tests may keep using client-node.
 */
import { describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const HOOK = `
import { writeSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes("/node_modules/")) writeSync(2, "RESOLVED " + r.url + "\\n");
  return r;
}
`;

describe("the agent's process", () => {
  it("trellis-node's entry loads its packages (pino, commander) but never @kubernetes/client-node", () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-no-client-node-"));
    try {
      const hook = join(dir, "hook.mjs");
      writeFileSync(hook, HOOK);
      const register = `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(hook).href)});`;
      const bin = new URL("../../bin/trellis-node.js", import.meta.url).pathname;
      const r = spawnSync(
        process.execPath,
        ["--import", `data:text/javascript,${encodeURIComponent(register)}`, bin, "--version"],
        { encoding: "utf8", timeout: 30_000 },
      );
      expect(r.status).toBe(0);
      const resolved = r.stderr.split("\n").filter((l) => l.startsWith("RESOLVED "));
      // The hook saw the entry's packages: its silence about client-node means something.
      expect(resolved.some((l) => l.includes("/node_modules/pino/"))).toBe(true);
      expect(resolved.some((l) => l.includes("/node_modules/commander/"))).toBe(true);
      expect(resolved.filter((l) => l.includes("@kubernetes/client-node"))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
