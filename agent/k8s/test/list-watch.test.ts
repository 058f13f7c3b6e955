import { describe, expect, it } from "@jest/globals";
import {
  ListWatch,
  type ObjectCache,
  QUICK_RELIST_MS,
  applyEvent,
  applyList,
  relistWait,
} from "../list-watch.js";

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

describe("relisting after watches that end at once", () => {
  it("relistWait: no wait for the first list or after a watch that lived; growing waits for quick ones in a row", () => {
    const mid = () => 0.5;
    expect(relistWait(undefined, 0, mid)).toEqual({ waitMs: 0, quick: 0 });
    expect(relistWait(QUICK_RELIST_MS, 3, mid)).toEqual({ waitMs: 0, quick: 0 });
    const waits: number[] = [];
    let quick = 0;
    for (let i = 0; i < 10; i++) {
      const w = relistWait(5, quick, mid);
      waits.push(w.waitMs);
      quick = w.quick;
    }
    expect(waits[0]).toBeGreaterThan(0);
    for (let i = 1; i < waits.length; i++) expect(waits[i]).toBeGreaterThanOrEqual(waits[i - 1] ?? 0);
    expect(waits[9]).toBeLessThanOrEqual(30_000);
    expect(waits[9]).toBeGreaterThanOrEqual(15_000);
  });

  it("a server that ends every watch at once (410) gets a few lists a second, not a tight loop", async () => {
    let lists = 0;
    const lw = new ListWatch<O>(
      "/api/v1/pods",
      (_path, _query, _onEvent, done) => {
        const t = setImmediate(() => done(Object.assign(new Error("Gone"), { code: 410 })));
        return { abort: () => clearImmediate(t) };
      },
      () => {
        lists++;
        return Promise.resolve({ items: [], metadata: { resourceVersion: String(lists) } });
      },
    );
    await lw.start();
    await new Promise((r) => setTimeout(r, 1500));
    await lw.stop();
    // Waits of about 0.25, 0.5 and 1 s: at most four lists in 1.5 s (without them: thousands).
    expect(lists).toBeGreaterThanOrEqual(2);
    expect(lists).toBeLessThanOrEqual(5);
  });
});

describe("stop then start while a list is in flight", () => {
  it("the older cycle ends without emitting or watching: one list/watch loop runs", async () => {
    const pending: ((l: { items: O[]; metadata: { resourceVersion: string } }) => void)[] = [];
    const watched: string[] = [];
    const lw = new ListWatch<O>(
      "/api/v1/pods",
      (_path, query) => {
        watched.push(String(query["resourceVersion"]));
        return { abort: () => undefined };
      },
      () => new Promise((resolve) => pending.push(resolve)),
    );
    const added: string[] = [];
    lw.on("add", (obj) => added.push(`${obj.metadata.name}@${obj.metadata.resourceVersion}`));

    const first = lw.start();
    await lw.stop();
    const second = lw.start();
    expect(pending).toHaveLength(2);
    // The older list answers last-but-one and with other contents: neither may reach the cache.
    pending[0]?.({ items: [o("old", "1")], metadata: { resourceVersion: "1" } });
    pending[1]?.({ items: [o("new", "2")], metadata: { resourceVersion: "2" } });
    await Promise.all([first, second]);
    await lw.stop();

    expect(added).toEqual(["new@2"]);
    expect(watched).toEqual(["2"]);
  });
});
