import { describe, expect, it } from "@jest/globals";
import { judgeRv, mayActOnCaches, parseRv, type RollbackGuard } from "../rollback-guard.js";

describe("judgeRv: refuse a resourceVersion below the highest already seen", () => {
  const rows: [string, RollbackGuard, string | undefined, boolean, RollbackGuard, string?][] = [
    // [rule, guard before, rv, accepted, guard after, flag]
    ["the first list is accepted and remembered", {}, "100", true, { highest: 100 }],
    [
      "a higher resourceVersion is accepted and raises the mark",
      { highest: 100 },
      "150",
      true,
      { highest: 150 },
    ],
    [
      "an equal resourceVersion is accepted (nothing changed)",
      { highest: 100 },
      "100",
      true,
      { highest: 100 },
    ],
    [
      "a lower one is refused and trips the guard",
      { highest: 100 },
      "7",
      false,
      { highest: 100, rolledBack: { seen: 100, got: 7 } },
      "tripped",
    ],
    [
      "refused again while tripped: no second trip (one log line)",
      { highest: 100, rolledBack: { seen: 100, got: 7 } },
      "12",
      false,
      { highest: 100, rolledBack: { seen: 100, got: 12 } },
    ],
    [
      "the store caught up (>= seen): accepted and cleared",
      { highest: 100, rolledBack: { seen: 100, got: 12 } },
      "100",
      true,
      { highest: 100 },
      "cleared",
    ],
    ["an empty resourceVersion is not judged", { highest: 100 }, "", true, { highest: 100 }],
    ["an absent resourceVersion is not judged", { highest: 100 }, undefined, true, { highest: 100 }],
    [
      "an opaque (non-integer) resourceVersion is not judged",
      { highest: 100 },
      "abc-1",
      true,
      { highest: 100 },
    ],
    ["numbers compare as numbers, not strings", { highest: 99 }, "100", true, { highest: 100 }],
  ];
  // Rest parameters: jest reads a callback of more parameters than a row has as one taking done().
  it.each(rows)("%s", (...row) => {
    const [, before, rv, accept, after, flag] = row;
    const v = judgeRv(before, rv);
    expect(v.accept).toBe(accept);
    expect(v.guard).toEqual(after);
    expect(v.tripped === true).toBe(flag === "tripped");
    expect(v.cleared === true).toBe(flag === "cleared");
  });

  it("parseRv reads integers only", () => {
    expect(parseRv("42")).toBe(42);
    expect(parseRv("-1")).toBeUndefined();
    expect(parseRv("1e3")).toBeUndefined();
  });
});

describe("mayActOnCaches: no release, sweep or GC while any informer is rolled back", () => {
  it("acts when nothing is rolled back", () => {
    expect(mayActOnCaches(new Map())).toEqual({ ok: true });
  });
  it("refuses, naming the informers and what they saw, when one is", () => {
    const r = mayActOnCaches(
      new Map([
        ["pods", { seen: 900, got: 5 }],
        ["ipamblocks", { seen: 880, got: 5 }],
      ]),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toContain(
      "ipamblocks (saw resourceVersion 880, served 5), pods (saw resourceVersion 900",
    );
    expect(r.reason).toContain("restart the agent");
  });
});
