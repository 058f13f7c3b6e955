// The skip gate's verdict (skip-gate.ts): one case per rule.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  formatVerdict,
  skipAllowlistSchema,
  skipVerdict,
  sourcePath,
  type RanFile,
  type SkipAllowlist,
} from "./skip-gate.js";

const F = "test/x/a.test.ts";
/** A file's run: each test's full name with its status, in order. */
const file = (tests: Record<string, string>, failedToRun = false, name = F): RanFile => ({
  file: name,
  failedToRun,
  tests: Object.entries(tests).map(([n, status]) => ({ name: n, status })),
});
const entry = (test: string, f = F): SkipAllowlist[number] => ({ file: f, test, reason: "because" });
const exists = (): boolean => true;

describe("skip gate verdict", () => {
  it("a run where every test passed or failed has nothing to say", () => {
    const v = skipVerdict({
      files: [file({ a: "passed", b: "failed" })],
      allowlist: [],
      fileExists: exists,
    });
    expect(v).toEqual({ problems: [], allowed: [] });
  });

  it.each(["pending", "todo", "skipped", "disabled"])(
    "a test reported %s is an unexpected skip",
    (status) => {
      const v = skipVerdict({
        files: [file({ a: "passed", "d b": status })],
        allowlist: [],
        fileExists: exists,
      });
      expect(v.problems).toEqual([{ kind: "skipped", file: F, test: "d b", status }]);
    },
  );

  it("an allowlisted skip is allowed, with its reason", () => {
    const v = skipVerdict({
      files: [file({ "d b": "pending" })],
      allowlist: [entry("d b")],
      fileExists: exists,
    });
    expect(v).toEqual({ problems: [], allowed: [entry("d b")] });
  });

  it("an entry names one test: the same name in another file is not allowed", () => {
    const v = skipVerdict({
      files: [file({ "d b": "pending" }, false, "test/y.test.ts")],
      allowlist: [entry("d b")],
      fileExists: exists,
    });
    expect(v.problems).toEqual([{ kind: "skipped", file: "test/y.test.ts", test: "d b", status: "pending" }]);
  });

  it("an entry whose test runs now is stale", () => {
    const v = skipVerdict({
      files: [file({ "d b": "passed" })],
      allowlist: [entry("d b")],
      fileExists: exists,
    });
    expect(v.problems).toEqual([{ kind: "stale", file: F, test: "d b", why: "the test runs now (passed)" }]);
  });

  it("an entry whose test is gone from its file is stale", () => {
    const v = skipVerdict({
      files: [file({ a: "passed" })],
      allowlist: [entry("d b")],
      fileExists: exists,
    });
    expect(v.problems).toEqual([
      { kind: "stale", file: F, test: "d b", why: "no test of that name in its file" },
    ]);
  });

  it("an entry whose file is gone is stale even when the run did not include it", () => {
    const v = skipVerdict({
      files: [file({ a: "passed" }, false, "test/other.test.ts")],
      allowlist: [entry("d b")],
      fileExists: () => false,
    });
    expect(v.problems).toEqual([{ kind: "stale", file: F, test: "d b", why: "its file no longer exists" }]);
  });

  it("an entry whose file exists but was not in this run (a path pattern) is not judged", () => {
    const v = skipVerdict({
      files: [file({ a: "passed" }, false, "test/other.test.ts")],
      allowlist: [entry("d b")],
      fileExists: exists,
    });
    expect(v.problems).toEqual([]);
  });

  it("an entry is not judged on a file that failed to run (that failure already fails the run)", () => {
    const v = skipVerdict({
      files: [file({ a: "passed" }, true)],
      allowlist: [entry("d b")],
      fileExists: exists,
    });
    expect(v.problems).toEqual([]);
  });

  it("an entry listed twice is a problem", () => {
    const v = skipVerdict({
      files: [file({ "d b": "pending" })],
      allowlist: [entry("d b"), entry("d b")],
      fileExists: exists,
    });
    expect(v.problems).toEqual([{ kind: "duplicate", file: F, test: "d b" }]);
  });

  it("a run with no tests at all fails, even when skips are not checked", () => {
    expect(skipVerdict({ files: [], allowlist: [], fileExists: exists }).problems).toEqual([
      { kind: "no-tests" },
    ]);
    expect(skipVerdict({ files: [], allowlist: [], fileExists: exists, checkSkips: false }).problems).toEqual(
      [{ kind: "no-tests" }],
    );
  });

  it("a name filter (-t) turns the skip checks off: it skips the other tests by design", () => {
    const v = skipVerdict({
      files: [file({ a: "passed", b: "pending" })],
      allowlist: [entry("gone")],
      fileExists: () => false,
      checkSkips: false,
    });
    expect(v.problems).toEqual([]);
  });

  it("the message names every problem with file and test, and the allowlist", () => {
    const text = formatVerdict(
      {
        problems: [
          { kind: "skipped", file: F, test: "d b", status: "pending" },
          { kind: "stale", file: "test/y.test.ts", test: "c", why: "the test runs now (passed)" },
        ],
        allowed: [],
      },
      "test/skip-allowlist.json",
    );
    expect(text).toContain("test/x/a.test.ts: d b [pending]");
    expect(text).toContain("test/y.test.ts: c: the test runs now (passed)");
    expect(text).toContain("test/skip-allowlist.json");
  });
});

describe("source paths", () => {
  it.each([
    ["dist/test/bgp-interop/gobgp.test.js", "test/bgp-interop/gobgp.test.ts"],
    ["dist/crds/test/ipam.test.js", "crds/test/ipam.test.ts"],
    ["gated.test.js", "gated.test.js"],
  ])("%s is reported as %s", (rel, want) => {
    expect(sourcePath(rel)).toBe(want);
  });
});

describe("the project's allowlist", () => {
  const path = fileURLToPath(new URL("../../../test/skip-allowlist.json", import.meta.url));
  const list = skipAllowlistSchema.parse(JSON.parse(readFileSync(path, "utf8")));

  it("gives a reason for every entry", () => {
    for (const e of list) expect(e.reason.length).toBeGreaterThan(10);
  });

  it("rejects an entry without a reason", () => {
    expect(skipAllowlistSchema.safeParse([{ file: F, test: "t" }]).success).toBe(false);
  });
});
