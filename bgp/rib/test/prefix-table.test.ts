// The RIB's prefix index (prefix-table.ts): packed IPv4 keys in an
// open-addressing hash, IPv6 by text. Checked against a Map as the oracle
// through seeded random inserts and deletes (deletion leaves a tombstone that
// lookups must pass and insertions reuse, the part most likely to lose a key),
// and for the text it gives back.
import { describe, it, expect } from "@jest/globals";
import { formatIpv4Prefix } from "../../../net/ipv4-packed.js";
import { PrefixTable } from "../prefix-table.js";
import { DestTable } from "../dest-table.js";
import { rngU32 as rng } from "../../wire/test/rng.js";

describe("PrefixTable", () => {
  it("gives every prefix one id, and the same text back (v4 packed, v6 by text)", () => {
    const t = new PrefixTable();
    const ps = ["10.0.0.0/8", "10.0.0.0/24", "0.0.0.0/0", "255.255.255.255/32", "2001:db8::/32", "::/0"];
    const ids = ps.map((p) => t.intern(p));
    expect(new Set(ids).size).toBe(ps.length);
    ps.forEach((p, i) => {
      expect(t.intern(p)).toBe(ids[i]);
      expect(t.get(p)).toBe(ids[i]);
      expect(t.prefix(ids[i]!)).toBe(p);
    });
    expect(t.size).toBe(ps.length);
    expect(t.get("10.0.0.0/16")).toBe(-1);
  });

  it("keeps text that would not come back identical by its text (a leading zero is not canonical)", () => {
    const t = new PrefixTable();
    const a = t.intern("10.0.0.0/8");
    const b = t.intern("010.0.0.0/8");
    expect(a).not.toBe(b);
    expect(t.prefix(b)).toBe("010.0.0.0/8");
    expect(t.get("10.0.0.0/08")).toBe(-1);
  });

  it("matches a Map through 200k seeded inserts and deletes, growth included", () => {
    const next = rng(12);
    const t = new PrefixTable();
    const oracle = new Map<string, number>();
    const keys: string[] = [];
    for (let step = 0; step < 200_000; step++) {
      const r = next();
      // a small address space so deletes hit live keys and probe runs collide
      if (r % 3 !== 0 || keys.length === 0) {
        const addr = (next() % 50_000) << 8;
        const p = formatIpv4Prefix(addr, 24 - (r % 2));
        const id = t.intern(p);
        const had = oracle.get(p);
        if (had === undefined) {
          oracle.set(p, id);
          keys.push(p);
        } else expect(id).toBe(had);
      } else {
        const k = next() % keys.length;
        const p = keys[k]!;
        keys[k] = keys[keys.length - 1]!;
        keys.pop();
        t.delete(oracle.get(p)!);
        oracle.delete(p);
        expect(t.get(p)).toBe(-1);
      }
    }
    expect(t.size).toBe(oracle.size);
    for (const [p, id] of oracle) {
      expect(t.get(p)).toBe(id);
      expect(t.prefix(id)).toBe(p);
    }
  });

  it("churn at a constant size reuses tombstones and clears them by rehashing, without growing", () => {
    const t = new PrefixTable();
    const buckets = (): number => (t as unknown as { buckets: Int32Array }).buckets.length / 2;
    const live: number[] = [];
    for (let i = 0; i < 400; i++) live.push(t.internV4((10 << 24) | (i << 8), 24));
    const size = buckets();
    // 100k withdraw-and-announce of ever new prefixes: each delete leaves a
    // tombstone, so without the same-size rehash the table would fill up.
    for (let i = 400; i < 100_400; i++) {
      t.delete(live[i % 400]!);
      live[i % 400] = t.internV4(i << 8, 24);
    }
    expect(buckets()).toBe(size);
    expect(t.size).toBe(400);
    for (let i = 100_000; i < 100_400; i++) expect(t.getV4(i << 8, 24)).toBe(live[i % 400]);
    expect(t.getV4(99_999 << 8, 24)).toBe(-1);
  });

  it("reuses freed ids and reports them not live", () => {
    const t = new PrefixTable();
    const a = t.intern("192.0.2.0/24");
    t.delete(a);
    expect(t.live(a)).toBe(false);
    const b = t.intern("2001:db8:1::/48");
    expect(b).toBe(a);
    expect(t.live(b)).toBe(true);
    expect(t.prefix(b)).toBe("2001:db8:1::/48");
  });
});

describe("DestTable", () => {
  const peer = (index: number) => ({ index, ibgp: false, routerIdNum: index, addrKey: `${index}` });
  it("a destination's one path is held inline; a second makes both objects; removing one goes back", () => {
    const p1 = peer(1);
    const p2 = peer(2);
    const t = new DestTable([undefined, p1, p2]);
    const set = { refs: 1 } as never;
    const d = t.intern("10.1.0.0/16");
    t.add(d, p1, set, set, 5, false);
    expect(t.count(d)).toBe(1);
    expect(t.peerAt(d, 0)).toBe(p1);
    t.add(d, p2, set, null, 6, true);
    expect(t.count(d)).toBe(2);
    expect(t.indexOf(d, p2)).toBe(1);
    expect(t.staleAt(d, 1)).toBe(true);
    t.removeAt(d, 0);
    expect(t.count(d)).toBe(1);
    expect(t.peerAt(d, 0)).toBe(p2);
    expect(t.setAt(d, 0)).toBe(null);
    expect(t.staleAt(d, 0)).toBe(true);
    expect(t.sinceAt(d, 0)).toBe(6);
  });

  it("the change queue holds each destination once, in order of first change", () => {
    const t = new DestTable([undefined]);
    const a = t.intern("10.0.0.0/24");
    const b = t.intern("10.0.1.0/24");
    t.markDirty(b);
    t.markDirty(a);
    t.markDirty(b);
    expect(t.pending).toBe(2);
    const seen: number[] = [];
    t.drainDirty((d) => seen.push(d));
    expect(seen).toEqual([b, a]);
    expect(t.pending).toBe(0);
    expect(t.isDirty(a)).toBe(false);
  });
});
