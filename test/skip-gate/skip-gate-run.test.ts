/**
 * The skip gate end to end: scripts/test (the real jest binary) with the gate
 * reporter on the fixture directory test/skip-gate/fixture (plain JS outside
 * dist/, so the main run never collects it), under different allowlists.
 */
import { afterAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const REPORTER = fileURLToPath(new URL("./reporter.js", import.meta.url));
const FIXTURE = join(REPO, "test/skip-gate/fixture");
const SKIPPED = { file: "gated.test.js", test: "fixture is skipped", reason: "the fixture's own skip" };

const tmp = mkdtempSync(join(tmpdir(), "trellis-skip-gate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
}

/** Runs jest on the fixture with the given allowlist; extra arguments go to jest. */
function runJest(allowlist: unknown, extra: string[] = [], testMatch = "**/*.test.js"): Promise<Run> {
  const listFile = join(tmp, `allowlist-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(listFile, JSON.stringify(allowlist));
  const config = {
    rootDir: FIXTURE,
    testMatch: [testMatch],
    transform: {},
    cacheDirectory: join(tmp, "cache"),
    reporters: ["default", [REPORTER, { allowlist: listFile }]],
  };
  const env = { ...process.env };
  delete env["JEST_WORKER_ID"];
  return new Promise((resolve) => {
    execFile(
      join(REPO, "scripts/test"),
      ["--config", JSON.stringify(config), ...extra],
      { cwd: REPO, env, timeout: 50000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

describe("skip gate on a real jest run", () => {
  it("fails a run with a skipped test that is not allowlisted, naming file and test", async () => {
    const r = await runJest([]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("gated.test.js: fixture is skipped [pending]");
  });

  it("passes the same run when the allowlist names the test, and shows the reason", async () => {
    const r = await runJest([SKIPPED]);
    expect(r.out).not.toContain("did not run and");
    expect(r.code).toBe(0);
    expect(r.out).toContain("allowed skip gated.test.js: fixture is skipped (the fixture's own skip)");
  });

  it("fails on a stale allowlist: an entry whose test runs, or whose file is gone", async () => {
    const r = await runJest([
      SKIPPED,
      { file: "gated.test.js", test: "fixture runs", reason: "stale: it runs" },
      { file: "gone.test.js", test: "anything", reason: "stale: no such file" },
    ]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("gated.test.js: fixture runs: the test runs now (passed)");
    expect(r.out).toContain("gone.test.js: anything: its file no longer exists");
  });

  it("fails when jest finds no tests, even with --passWithNoTests", async () => {
    const plain = await runJest([SKIPPED], [], "**/*.nothing.js");
    expect(plain.code).not.toBe(0);
    const passing = await runJest([SKIPPED], ["--passWithNoTests"], "**/*.nothing.js");
    expect(passing.code).not.toBe(0);
    expect(passing.out).toContain("skip gate: no tests ran");
  });
});
