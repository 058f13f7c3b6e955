/**
 * The skip gate (issue 8), pure part: given what one jest run reported and the
 * allowlist, which tests did not run without a reason on file, and which
 * allowlist entries no longer describe a skip.
 *
 * CI runs `npm test` as root with every tool installed, so a test that did not
 * run there (it.skip, describe.skip, test.todo, `(cond ? it : it.skip)`, a
 * stray `.only`) hides a regression: the run must fail and name it. The only
 * skips allowed are the entries of one file (test/skip-allowlist.json), each
 * naming the test (source file + full name) and the reason.
 */
import { z } from "zod";

export const skipAllowlistSchema = z.array(
  z
    .object({
      /** Source path from the repository root, e.g. `test/bgp-interop/gobgp.test.ts`. */
      file: z.string().min(1),
      /** jest's full name: the describe titles and the test title, joined by spaces. */
      test: z.string().min(1),
      /** Why this test cannot run in CI; shown in the run's summary. */
      reason: z.string().min(1),
    })
    .strict(),
);
export type SkipAllowlist = z.infer<typeof skipAllowlistSchema>;

/** One test file as jest reported it; `file` is already the source path. */
export interface RanFile {
  file: string;
  /** The file failed to load or to run its hooks: its tests are not a verdict on the allowlist. */
  failedToRun: boolean;
  tests: { name: string; status: string }[];
}

export type SkipProblem =
  | { kind: "skipped"; file: string; test: string; status: string }
  | { kind: "stale"; file: string; test: string; why: string }
  | { kind: "duplicate"; file: string; test: string }
  | { kind: "no-tests" };

export interface SkipVerdict {
  problems: SkipProblem[];
  /** Allowlisted tests that did skip in this run, with their reason. */
  allowed: SkipAllowlist;
}

/** Only these mean "the test body ran"; jest-circus reports the rest as pending or todo. */
const RAN = new Set(["passed", "failed"]);

/**
 * jest runs the compiled `dist/<path>.js`; people and the allowlist name the
 * source `<path>.ts`. A path outside dist/ (the gate's own fixture) is kept.
 */
export function sourcePath(relative: string): string {
  const p = relative.split("\\").join("/");
  return p.startsWith("dist/") && p.endsWith(".js") ? p.slice("dist/".length, -".js".length) + ".ts" : p;
}

/**
 * The verdict. An allowlist entry is judged only when its file ran in this
 * run (a path pattern may leave it out), except that a file that no longer
 * exists is always stale. `checkSkips: false` (a `-t` name filter, which
 * skips every other test by design) keeps only the "no tests" check.
 */
export function skipVerdict(input: {
  files: readonly RanFile[];
  allowlist: SkipAllowlist;
  fileExists: (file: string) => boolean;
  checkSkips?: boolean;
}): SkipVerdict {
  const problems: SkipProblem[] = [];
  const allowed: SkipAllowlist = [];
  const total = input.files.reduce((n, f) => n + f.tests.length, 0);
  if (total === 0) problems.push({ kind: "no-tests" });
  if (input.checkSkips === false) return { problems, allowed };

  const key = (file: string, test: string): string => `${file}\0${test}`;
  const entries = new Map<string, SkipAllowlist[number]>();
  for (const e of input.allowlist) {
    if (entries.has(key(e.file, e.test))) problems.push({ kind: "duplicate", file: e.file, test: e.test });
    else entries.set(key(e.file, e.test), e);
  }

  const byFile = new Map(input.files.map((f) => [f.file, f]));
  for (const f of input.files) {
    for (const t of f.tests) {
      if (RAN.has(t.status)) continue;
      const entry = entries.get(key(f.file, t.name));
      if (entry !== undefined) allowed.push(entry);
      else problems.push({ kind: "skipped", file: f.file, test: t.name, status: t.status });
    }
  }

  for (const e of entries.values()) {
    const ran = byFile.get(e.file);
    if (ran === undefined) {
      if (!input.fileExists(e.file))
        problems.push({ kind: "stale", ...pick(e), why: "its file no longer exists" });
      continue;
    }
    if (ran.failedToRun) continue;
    const t = ran.tests.find((x) => x.name === e.test);
    if (t === undefined)
      problems.push({ kind: "stale", ...pick(e), why: "no test of that name in its file" });
    else if (RAN.has(t.status))
      problems.push({ kind: "stale", ...pick(e), why: `the test runs now (${t.status})` });
  }
  return { problems, allowed };
}

function pick(e: { file: string; test: string }): { file: string; test: string } {
  return { file: e.file, test: e.test };
}

/** The text a failing run ends with: every problem with file and name, and what to do. */
export function formatVerdict(v: SkipVerdict, allowlistPath: string): string {
  const lines: string[] = [];
  const skipped = v.problems.filter((p) => p.kind === "skipped");
  const listProblems = v.problems.filter((p) => p.kind === "stale" || p.kind === "duplicate");
  if (v.problems.some((p) => p.kind === "no-tests")) {
    lines.push("skip gate: no tests ran (a path pattern that matches nothing, or no test files were built)");
  }
  if (skipped.length > 0) {
    lines.push(
      `skip gate: ${skipped.length} test(s) did not run and ${allowlistPath} does not allow it ` +
        "(CI is root with every tool installed: a skip there hides a regression):",
    );
    for (const p of skipped) lines.push(`  ${p.file}: ${p.test} [${p.status}]`);
    lines.push(
      "  Make the test run (a missing tool or root must fail it, naming the package), " +
        `or add {file, test, reason} to ${allowlistPath}.`,
    );
  }
  if (listProblems.length > 0) {
    lines.push(`skip gate: ${listProblems.length} entry(ies) of ${allowlistPath} no longer hold:`);
    for (const p of listProblems) {
      const why = p.kind === "stale" ? p.why : "listed twice";
      lines.push(`  ${p.file}: ${p.test}: ${why}`);
    }
    lines.push("  Remove or correct them, so that the list says only what is true.");
  }
  return lines.join("\n");
}
