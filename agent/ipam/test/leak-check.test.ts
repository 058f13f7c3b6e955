import { describe, expect, it } from "@jest/globals";
import { emptyBlocksToRelease, leakCheck, supersededHandles } from "../leak-check.js";

const old = "2026-01-01T00:00:00Z";
const T0 = Date.parse("2026-01-02T00:00:00Z");
const gone = (): undefined => undefined;
const present =
  (...podIPs: string[]) =>
  (): { podIPs: string[] } => ({ podIPs });

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
    const r = leakCheck(new Map([["h1", T0]]), allocs, present(), T0 + 60_000, 60_000);
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

describe("leak check: a sandbox superseded by a newer one of the same pod (its DEL was lost)", () => {
  // The old sandbox (c1) of ns/web-0 held .5; the pod was recreated under its name and got .9 (c2).
  const later = "2026-01-01T00:05:00Z";
  const both = [
    { handle: "c1.eth0", namespace: "ns", pod: "web-0", timestamp: old, address: "10.0.0.5" },
    { handle: "c2.eth0", namespace: "ns", pod: "web-0", timestamp: later, address: "10.0.0.9" },
    { handle: "c2.eth0", namespace: "ns", pod: "web-0", timestamp: later, address: "fd00::9" },
  ];
  const rows: [string, string[], string[]][] = [
    ["the status shows the new sandbox's address: the old handle is superseded", ["10.0.0.9"], ["c1.eth0"]],
    ["dual stack: the status shows both new addresses", ["10.0.0.9", "fd00::9"], ["c1.eth0"]],
    [
      "the kubelet has not written the new address yet: the newer handle is an ADD in flight, kept",
      ["10.0.0.5"],
      [],
    ],
    ["the status is empty: nothing is superseded", [], []],
    [
      "the status names addresses of two handles: ambiguous, nothing is superseded",
      ["10.0.0.5", "10.0.0.9"],
      [],
    ],
  ];
  it.each(rows)("%s", (_rule, podIPs, superseded) => {
    expect([...supersededHandles(both, present(...podIPs))].sort()).toEqual(superseded);
  });

  it("one handle per pod is never superseded, whatever the status says", () => {
    expect(supersededHandles(both.slice(0, 1), present("10.0.0.9")).size).toBe(0);
  });

  it("a superseded handle is released after two observations the grace period apart, the current one kept", () => {
    const lookup = present("10.0.0.9", "fd00::9");
    const first = leakCheck(new Map(), both, lookup, T0, 60_000);
    expect(first.release).toEqual([]);
    expect([...first.missingSince.keys()]).toEqual(["c1.eth0"]);
    expect(leakCheck(first.missingSince, both, lookup, T0 + 60_000, 60_000).release).toEqual(["c1.eth0"]);
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
