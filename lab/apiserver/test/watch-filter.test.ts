import { describe, it, expect } from "@jest/globals";
import { filterEvent } from "../watch-stream.js";
import type { KubeObject, StoreEvent, StoredObject } from "../object-store.js";
import { humanDuration } from "../table.js";
import { decodeContinue, encodeContinue } from "../continue-token.js";

function stored(labels: Record<string, string>, rv: number): StoredObject {
  const obj: KubeObject = { metadata: { name: "o", labels, resourceVersion: String(rv) } };
  return { obj, json: JSON.stringify(obj), rv };
}

const on = (o: KubeObject): boolean => o.metadata.labels?.sel === "yes";

describe("watch event filtering (cacher/cache_watcher.go convertToWatchEvent)", () => {
  it.each([
    ["ADDED matching", "ADDED", undefined, { sel: "yes" }, "ADDED"],
    ["ADDED not matching", "ADDED", undefined, { sel: "no" }, undefined],
    ["MODIFIED staying in", "MODIFIED", { sel: "yes" }, { sel: "yes" }, "MODIFIED"],
    ["MODIFIED entering", "MODIFIED", { sel: "no" }, { sel: "yes" }, "ADDED"],
    ["MODIFIED leaving", "MODIFIED", { sel: "yes" }, { sel: "no" }, "DELETED"],
    ["MODIFIED staying out", "MODIFIED", { sel: "no" }, { sel: "no" }, undefined],
    ["DELETED matching", "DELETED", { sel: "yes" }, { sel: "yes" }, "DELETED"],
    ["DELETED not matching", "DELETED", { sel: "no" }, { sel: "no" }, undefined],
  ] as const)("%s", (_n, type, prev, cur, want) => {
    const ev: StoreEvent = { type, rv: 10, namespace: "", object: stored(cur, 10) };
    if (prev !== undefined) ev.prev = stored(prev, 9);
    expect(filterEvent(ev, on)?.type).toBe(want);
  });

  it("sends the last matching state, at the new resourceVersion, when an object leaves the selector", () => {
    const ev: StoreEvent = {
      type: "MODIFIED",
      rv: 10,
      namespace: "",
      object: stored({ sel: "no" }, 10),
      prev: stored({ sel: "yes" }, 9),
    };
    const out = filterEvent(ev, on);
    expect(out?.object.obj.metadata).toMatchObject({ labels: { sel: "yes" }, resourceVersion: "10" });
  });
});

describe("humanDuration (apimachinery duration.HumanDuration)", () => {
  it.each([
    [0, "0s"],
    [119_000, "119s"],
    [120_000, "2m"],
    [125_000, "2m5s"],
    [600_000, "10m"],
    [3 * 3600_000, "3h"],
    [3 * 3600_000 + 60_000, "3h1m"],
    [47 * 3600_000, "47h"],
    [49 * 3600_000, "2d1h"],
    [30 * 86400_000, "30d"],
    [3 * 365 * 86400_000, "3y"],
  ])("%d ms → %s", (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe("continue tokens", () => {
  it("round-trips and rejects garbage with 400", () => {
    const t = { rv: 42, start: 500, snapshot: "7" };
    expect(decodeContinue(encodeContinue(t))).toEqual(t);
    expect(() => decodeContinue("bm90IGpzb24")).toThrow(/continue key is not valid/);
    expect(() => decodeContinue(Buffer.from('{"v":"x"}').toString("base64url"))).toThrow(
      /continue key is not valid/,
    );
  });
});
