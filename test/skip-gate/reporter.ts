/**
 * The skip gate as a jest reporter (registered in jest.config.js after
 * "default"): at the end of the run it reads the allowlist, judges every test
 * that did not run (skip-gate.ts), prints each problem with file and name on
 * stderr and fails the run through `getLastError()` (jest then reports
 * `success: false` and exits 1).
 *
 * Options: `{ allowlist: PATH }`, relative to jest's rootDir (default
 * `test/skip-allowlist.json`).
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { formatVerdict, skipAllowlistSchema, skipVerdict, sourcePath, type RanFile } from "./skip-gate.js";

/** The parts of jest's types the gate reads (kept here so it needs no jest package types). */
interface GlobalConfigLike {
  rootDir: string;
  testNamePattern?: string | null;
}
interface AggregatedResultLike {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    testFilePath: string;
    testExecError?: unknown;
    failureMessage?: string | null;
    testResults: { fullName: string; status: string }[];
  }[];
}

export default class SkipGateReporter {
  readonly #rootDir: string;
  readonly #allowlistPath: string;
  readonly #checkSkips: boolean;
  #error: Error | undefined;

  constructor(globalConfig: GlobalConfigLike, options: { allowlist?: string } = {}) {
    this.#rootDir = globalConfig.rootDir;
    this.#allowlistPath = options.allowlist ?? "test/skip-allowlist.json";
    // `-t PATTERN` skips every test it does not match, by design.
    this.#checkSkips = (globalConfig.testNamePattern ?? "") === "";
  }

  onRunComplete(_contexts: unknown, results: AggregatedResultLike): void {
    // One plain closing line that CI (and a person) can read without knowing jest's layout.
    const skipped = results.numPendingTests + results.numTodoTests;
    console.log(
      `\ntests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`,
    );
    const path = isAbsolute(this.#allowlistPath)
      ? this.#allowlistPath
      : resolve(this.#rootDir, this.#allowlistPath);
    let allowlist;
    try {
      allowlist = skipAllowlistSchema.parse(JSON.parse(readFileSync(path, "utf8")));
    } catch (e) {
      this.#fail(`skip gate: cannot read the allowlist ${path}: ${(e as Error).message}`);
      return;
    }
    const files: RanFile[] = results.testResults.map((r) => ({
      file: sourcePath(relative(this.#rootDir, r.testFilePath)),
      failedToRun: r.testExecError != null,
      tests: r.testResults.map((t) => ({ name: t.fullName, status: t.status })),
    }));
    const verdict = skipVerdict({
      files,
      allowlist,
      fileExists: (f) => existsSync(resolve(this.#rootDir, f)),
      checkSkips: this.#checkSkips,
    });
    for (const a of verdict.allowed)
      console.error(`skip gate: allowed skip ${a.file}: ${a.test} (${a.reason})`);
    if (verdict.problems.length > 0) this.#fail(formatVerdict(verdict, this.#allowlistPath));
  }

  getLastError(): Error | undefined {
    return this.#error;
  }

  #fail(message: string): void {
    console.error(`\n${message}\n`);
    this.#error = new Error(message);
  }
}
