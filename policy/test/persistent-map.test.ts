import { describe, it, expect } from "@jest/globals";
import { PersistentMap } from "../compiler/persistent-map.js";

describe("PersistentMap", () => {
  it("set and delete return a new map and leave the old one as it was", () => {
    const a = PersistentMap.of([["x", 1]]);
    const b = a.set("y", 2).delete("x");
    expect([...a.entries()]).toEqual([["x", 1]]);
    expect([...b.entries()]).toEqual([["y", 2]]);
    expect([a.size, b.size]).toEqual([1, 1]);
    expect(b.has("x")).toBe(false);
    expect(a.delete("nope")).toBe(a);
  });

  it("agrees with a Map over many writes (the overlay folds into the base)", () => {
    let p = PersistentMap.of<number, number>();
    const m = new Map<number, number>();
    const versions: [PersistentMap<number, number>, string][] = [];
    for (let i = 0; i < 3000; i++) {
      const k = (i * 7919) % 997;
      if (i % 3 === 0) {
        p = p.delete(k);
        m.delete(k);
      } else {
        p = p.set(k, i);
        m.set(k, i);
      }
      if (i % 500 === 0) versions.push([p, JSON.stringify([...m].sort((x, y) => x[0] - y[0]))]);
    }
    expect(p.size).toBe(m.size);
    expect([...p.entries()].sort((x, y) => x[0] - y[0])).toEqual([...m].sort((x, y) => x[0] - y[0]));
    for (const [v, want] of versions)
      expect(JSON.stringify([...v.entries()].sort((x, y) => x[0] - y[0]))).toBe(want);
  });
});
