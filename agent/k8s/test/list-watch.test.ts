import { describe, expect, it } from "@jest/globals";
import { type ObjectCache, applyEvent, applyList } from "../list-watch.js";

interface O {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}
const o = (name: string, rv: string, namespace?: string): O => ({
  metadata: { name, resourceVersion: rv, ...(namespace !== undefined ? { namespace } : {}) },
});
const verbs = (cs: { verb: string; obj: O }[]): string[] => cs.map((c) => `${c.verb} ${c.obj.metadata.name}`);

describe("applyList: a fresh list replaces the cache", () => {
  it("new objects are added, gone ones deleted, moved ones updated, unchanged ones silent", () => {
    const cache: ObjectCache<O> = new Map();
    expect(verbs(applyList(cache, [o("a", "1"), o("b", "1", "ns")]))).toEqual(["add a", "add b"]);
    expect(verbs(applyList(cache, [o("a", "1"), o("c", "2", "ns")]))).toEqual(["delete b", "add c"]);
    expect(verbs(applyList(cache, [o("a", "3"), o("c", "2", "ns")]))).toEqual(["update a"]);
    expect(cache.get("ns")?.get("c")?.metadata.resourceVersion).toBe("2");
  });

  it("an empty list empties the cache (namespaces included)", () => {
    const cache: ObjectCache<O> = new Map();
    applyList(cache, [o("a", "1", "x")]);
    expect(verbs(applyList(cache, []))).toEqual(["delete a"]);
    expect(cache.size).toBe(0);
  });
});

describe("applyEvent: one watch event", () => {
  it("ADDED/MODIFIED add or update, DELETED deletes once, BOOKMARK and ERROR change nothing", () => {
    const cache: ObjectCache<O> = new Map();
    expect(verbs(applyEvent(cache, "ADDED", o("a", "1", "n")))).toEqual(["add a"]);
    expect(verbs(applyEvent(cache, "MODIFIED", o("a", "1", "n")))).toEqual([]);
    expect(verbs(applyEvent(cache, "MODIFIED", o("a", "2", "n")))).toEqual(["update a"]);
    expect(verbs(applyEvent(cache, "BOOKMARK", o("", "3")))).toEqual([]);
    expect(verbs(applyEvent(cache, "ERROR", o("a", "4", "n")))).toEqual([]);
    expect(verbs(applyEvent(cache, "DELETED", o("a", "5", "n")))).toEqual(["delete a"]);
    expect(verbs(applyEvent(cache, "DELETED", o("a", "5", "n")))).toEqual([]);
    expect(cache.size).toBe(0);
  });

  it("objects of the same name in two namespaces are two objects", () => {
    const cache: ObjectCache<O> = new Map();
    applyEvent(cache, "ADDED", o("a", "1", "x"));
    applyEvent(cache, "ADDED", o("a", "1", "y"));
    expect(verbs(applyEvent(cache, "DELETED", o("a", "2", "x")))).toEqual(["delete a"]);
    expect(cache.get("y")?.get("a")).toBeDefined();
  });
});
