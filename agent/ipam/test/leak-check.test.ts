import { describe, expect, it } from "@jest/globals";
import { emptyBlocksToRelease, leakCheck } from "../leak-check.js";

const old = "2026-01-01T00:00:00Z";
const T0 = Date.parse("2026-01-02T00:00:00Z");
const gone = (): boolean => false;

describe("leak check", () => {
  const allocs = [{ handle: "h1", namespace: "ns", pod: "p1", timestamp: old }];

  it("does not release on the first observation", () => {
    const r = leakCheck(new Map(), allocs, gone, T0, 60_000);
    expect(r.release).toEqual([]);
    expect(r.missingSince.get("h1")).toBe(T0);
  });

  it("does not release on a second observation inside the grace period", () => {
    const r = leakCheck(new Map([["h1", T0]]), allocs, gone, T0 + 30_000, 60_000);
    expect(r.release).toEqual([]);
    expect(r.missingSince.get("h1")).toBe(T0);
  });

  it("releases on a second observation after the grace period", () => {
    expect(leakCheck(new Map([["h1", T0]]), allocs, gone, T0 + 60_000, 60_000).release).toEqual(["h1"]);
  });

  it("forgets an allocation whose pod came back", () => {
    const r = leakCheck(new Map([["h1", T0]]), allocs, () => true, T0 + 60_000, 60_000);
    expect(r.release).toEqual([]);
    expect(r.missingSince.size).toBe(0);
  });

  it("leaves fresh allocations (younger than the grace period) alone", () => {
    const fresh = [
      { handle: "h2", namespace: "ns", pod: "p2", timestamp: new Date(T0 - 1000).toISOString() },
    ];
    expect(leakCheck(new Map([["h2", T0 - 120_000]]), fresh, gone, T0, 60_000).release).toEqual([]);
  });

  it("leaves allocations without a pod to CNI GC", () => {
    const r = leakCheck(
      new Map(),
      [{ handle: "h3", namespace: undefined, pod: undefined, timestamp: old }],
      gone,
      T0,
      0,
    );
    expect(r.missingSince.size).toBe(0);
  });
});

describe("empty block release", () => {
  it("releases a block seen empty twice, the grace period apart", () => {
    const first = emptyBlocksToRelease(new Map(), ["b1"], T0, 1000);
    expect(first.release).toEqual([]);
    expect(emptyBlocksToRelease(first.emptySince, ["b1"], T0 + 1000, 1000).release).toEqual(["b1"]);
    expect(emptyBlocksToRelease(first.emptySince, [], T0 + 1000, 1000).emptySince.size).toBe(0);
  });
});
