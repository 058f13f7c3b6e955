// FibSync's storage (issue 12): prefixes interned to ids in a PrefixTable,
// next-hop sets to small ids, desired/installed/flags as columns, the pending
// prefixes as an id queue. What that layout could get wrong and the public
// behaviour would show late or never: an id kept forever, or reused while
// still needed; a next-hop set freed while a route uses it; the UNKNOWN
// state after failed(); the order of pending prefixes; IPv6 and other text
// keys. And, against a model that is the Map/Set implementation this one
// replaced (kept here verbatim but for names), 200k seeded random operations.
import { describe, it, expect } from "@jest/globals";
import { FibSync, nextHopKey, gatewayKey } from "../index.js";
import type { FibOp, KernelRoute, NextHop } from "../index.js";
import { rngU32 as rng } from "../../wire/test/rng.js";

const show = (ops: FibOp[]): string[] =>
  ops.map((o) =>
    o.op === "delete"
      ? `del ${o.prefix}`
      : `set ${o.route.prefix} ${o.route.nexthops.map((n) => (n.dev === undefined ? n.via : `${n.via}%${n.dev}`)).join(",")}`,
  );
const sorted = (xs: string[]): string[] => [...xs].sort();
const p24 = (i: number): string => `10.${(i >> 8) & 255}.${i & 255}.0/24`;

/** the private storage, read for the assertions on ids */
interface Storage {
  prefixes: { size: number; end: number };
  setIds: Map<string, number>;
  queue: Int32Array;
}
const storage = (f: FibSync): Storage => f as unknown as Storage;

describe("FibSync storage", () => {
  it("frees a prefix id once the prefix is neither desired, installed nor pending, and reuses it", () => {
    const f = new FibSync();
    f.reconcile([]);
    for (let i = 0; i < 1000; i++) f.setGateways(p24(i), ["1.1.1.1"]);
    expect(f.takeOps()).toHaveLength(1000);
    expect(storage(f).prefixes.size).toBe(1000);
    for (let i = 0; i < 1000; i++) f.remove(p24(i));
    // still installed: kept until the delete is taken
    expect(storage(f).prefixes.size).toBe(1000);
    expect(f.takeOps(400)).toHaveLength(400);
    expect(storage(f).prefixes.size).toBe(600);
    expect(f.takeOps()).toHaveLength(600);
    expect(storage(f).prefixes.size).toBe(0);
    expect(f).toMatchObject({ desiredCount: 0, installedCount: 0, pendingCount: 0 });
    // another 1000 prefixes take the freed ids: the id space does not grow
    for (let i = 1000; i < 2000; i++) f.setGateways(p24(i), ["2.2.2.2"]);
    expect(storage(f).prefixes.end).toBe(1000);
    expect(show(f.takeOps(1))).toEqual(["set 10.3.232.0/24 2.2.2.2"]);
  });

  it("keeps a pending id until it is taken, and a set-then-removed prefix costs nothing after", () => {
    const f = new FibSync();
    f.reconcile([]);
    f.setGateways("10.0.0.0/24", ["1.1.1.1"]);
    f.remove("10.0.0.0/24");
    expect(f.pendingCount).toBe(1);
    expect(storage(f).prefixes.size).toBe(1);
    expect(f.takeOps()).toEqual([]);
    expect(storage(f).prefixes.size).toBe(0);
    // removing what was never there allocates nothing and queues nothing
    f.remove("10.9.0.0/24");
    expect(f.pendingCount).toBe(0);
    expect(storage(f).prefixes.size).toBe(0);
  });

  it("forgets a next-hop set nobody uses any more, and shares one NextHop array per set", () => {
    const f = new FibSync();
    f.reconcile([]);
    for (let i = 0; i < 100; i++) f.setGateways(p24(i), [`192.0.2.${i}`]);
    f.takeOps();
    expect(storage(f).setIds.size).toBe(100);
    for (let i = 0; i < 100; i++) f.setGateways(p24(i), ["192.0.2.200"]);
    // the old sets are still installed until the replaces are taken
    expect(storage(f).setIds.size).toBe(101);
    const ops = f.takeOps();
    expect(storage(f).setIds.size).toBe(1);
    const hops = ops.map((o) => (o.op === "replace" ? o.route.nexthops : undefined));
    expect(new Set(hops).size).toBe(1);
    expect(Object.isFrozen(hops[0])).toBe(true);
  });

  it("a next-hop set freed and then wanted again is interned afresh", () => {
    const f = new FibSync();
    f.reconcile([]);
    f.setGateways("10.1.0.0/24", ["192.0.2.9"]);
    f.remove("10.1.0.0/24"); // the set's last reference, and the last set looked up
    expect(storage(f).setIds.size).toBe(0);
    f.setGateways("10.3.0.0/24", ["192.0.2.9"]);
    f.setGateways("10.2.0.0/24", ["192.0.2.7"]);
    expect(show(f.takeOps())).toEqual(["set 10.3.0.0/24 192.0.2.9", "set 10.2.0.0/24 192.0.2.7"]);
    expect(storage(f).setIds.size).toBe(2);
  });

  it("after failed() the kernel state is unknown: the same route is replaced again, a delete is retried", () => {
    const f = new FibSync();
    f.reconcile([]);
    f.setGateways("10.1.0.0/24", ["1.1.1.1"]);
    f.setGateways("10.2.0.0/24", ["1.1.1.1"]);
    const ops = f.takeOps();
    f.failed(ops.slice(0, 1));
    expect(f.installedCount).toBe(2);
    expect(f.installedRoutes()).toEqual([
      { prefix: "10.1.0.0/24", nexthops: [] },
      { prefix: "10.2.0.0/24", nexthops: [{ via: "1.1.1.1" }] },
    ]);
    // unchanged desired state, but UNKNOWN never equals it
    f.setGateways("10.1.0.0/24", ["1.1.1.1"]);
    f.setGateways("10.2.0.0/24", ["1.1.1.1"]);
    expect(show(f.takeOps())).toEqual(["set 10.1.0.0/24 1.1.1.1"]);
    // a failed delete: its id was freed when the delete was taken, and comes back as installed, unknown
    f.remove("10.2.0.0/24");
    const del = f.takeOps();
    expect(show(del)).toEqual(["del 10.2.0.0/24"]);
    expect(f.installedCount).toBe(1);
    f.failed(del);
    expect(f.installedCount).toBe(2);
    expect(f.pendingCount).toBe(0);
    f.remove("10.2.0.0/24");
    expect(show(f.takeOps())).toEqual(["del 10.2.0.0/24"]);
    expect(f.installedCount).toBe(1);
  });

  it("takes pending prefixes once each, in order of first change, across bounded batches", () => {
    const f = new FibSync();
    f.reconcile([]);
    for (const p of ["10.3.0.0/24", "10.1.0.0/24", "10.2.0.0/24"]) f.setGateways(p, ["1.1.1.1"]);
    f.setGateways("10.1.0.0/24", ["2.2.2.2"]); // already pending: keeps its place
    f.setGateways("10.4.0.0/24", ["1.1.1.1"]);
    expect(f.pendingCount).toBe(4);
    expect(show(f.takeOps(2))).toEqual(["set 10.3.0.0/24 1.1.1.1", "set 10.1.0.0/24 2.2.2.2"]);
    f.setGateways("10.3.0.0/24", ["3.3.3.3"]); // taken: queued again, last
    expect(f.takeOps(0)).toEqual([]);
    expect(show(f.takeOps())).toEqual([
      "set 10.2.0.0/24 1.1.1.1",
      "set 10.4.0.0/24 1.1.1.1",
      "set 10.3.0.0/24 3.3.3.3",
    ]);
  });

  it("keeps the order through the queue's compaction and growth", () => {
    const f = new FibSync();
    f.reconcile([]);
    const want: string[] = [];
    let next = 0;
    // push 3000, take 2000, push 3000 more (compaction, then growth), take all
    for (; next < 3000; next++) f.setGateways(p24(next), ["1.1.1.1"]);
    const first = show(f.takeOps(2000));
    for (; next < 6000; next++) f.setGateways(p24(next), ["1.1.1.1"]);
    const rest = show(f.takeOps());
    for (let i = 0; i < 6000; i++) want.push(`set ${p24(i)} 1.1.1.1`);
    expect([...first, ...rest]).toEqual(want);
    expect(storage(f).queue.length).toBeLessThanOrEqual(8192);
  });

  it("keeps IPv6 and non-canonical text by text, and counts families", () => {
    const f = new FibSync();
    f.reconcile([
      { prefix: "2001:db8:9::/48", nexthops: [{ via: "fe80::9", dev: "eth0" }] },
      { prefix: "10.9.0.0/24", nexthops: [{ via: "1.1.1.1" }] },
    ]);
    f.set("2001:db8:1::/48", [{ via: "fe80::1", dev: "eth0" }]);
    f.set("2001:db8:2::/48", [{ via: "2001:db8::2" }, { via: "2001:db8::1" }]);
    f.set("010.0.0.0/8", [{ via: "1.1.1.1" }]); // not canonical: kept by its text
    f.set("10.1.0.0/24", [{ via: "2001:db8::1" }]); // RFC 8950: IPv4 over an IPv6 next hop
    expect(show(f.takeOps())).toEqual([
      "set 2001:db8:1::/48 fe80::1%eth0",
      "set 2001:db8:2::/48 2001:db8::1,2001:db8::2",
      "set 010.0.0.0/8 1.1.1.1",
      "set 10.1.0.0/24 2001:db8::1",
    ]);
    expect(f.installedByFamily()).toEqual({ v4: 3, v6: 3 });
    expect(f.desiredRoute("2001:db8:1::/48")).toEqual({
      prefix: "2001:db8:1::/48",
      nexthops: [{ via: "fe80::1", dev: "eth0" }],
    });
    expect(show(f.markSynced())).toEqual(["del 2001:db8:9::/48", "del 10.9.0.0/24"]);
    expect(f.installedByFamily()).toEqual({ v4: 2, v6: 2 });
    f.remove("2001:db8:1::/48");
    f.remove("010.0.0.0/8");
    expect(show(f.takeOps())).toEqual(["del 2001:db8:1::/48", "del 010.0.0.0/8"]);
    expect(f.installedByFamily()).toEqual({ v4: 1, v6: 1 });
    expect(f.desiredRoute("2001:db8:1::/48")).toBeUndefined();
  });
});

// ---------------------------------------------------------------- the model

type NhKey = string;
const UNKNOWN: NhKey = "";

function decodeKey(k: NhKey): NextHop[] {
  return k.split(" ").map((h) => {
    const i = h.indexOf("%");
    return i < 0 ? { via: h } : { via: h.slice(0, i), dev: h.slice(i + 1) };
  });
}

/** The FibSync this one replaced (Maps and Sets keyed by prefix text), as the oracle. */
class MapFibSync {
  readonly desired = new Map<string, NhKey>();
  readonly installed = new Map<string, NhKey>();
  readonly dirty = new Set<string>();
  readonly foundAtStart = new Set<string>();
  synced = false;

  get pendingCount(): number {
    return this.dirty.size;
  }
  installedByFamily(): { v4: number; v6: number } {
    let v6 = 0;
    for (const p of this.installed.keys()) if (p.includes(":")) v6++;
    return { v4: this.installed.size - v6, v6 };
  }
  set(prefix: string, nexthops: readonly NextHop[]): void {
    if (nexthops.length === 0) this.remove(prefix);
    else this.setKey(prefix, nextHopKey(nexthops));
  }
  setGateways(prefix: string, gateways: readonly string[]): void {
    if (gateways.length === 0) this.remove(prefix);
    else this.setKey(prefix, gatewayKey(gateways));
  }
  private setKey(prefix: string, key: NhKey): void {
    this.desired.set(prefix, key);
    this.foundAtStart.delete(prefix);
    this.dirty.add(prefix);
  }
  remove(prefix: string): void {
    if (this.desired.delete(prefix) || this.installed.has(prefix)) this.dirty.add(prefix);
  }
  desiredRoute(prefix: string): KernelRoute | undefined {
    const k = this.desired.get(prefix);
    return k === undefined ? undefined : { prefix, nexthops: decodeKey(k) };
  }
  installedRoutes(): KernelRoute[] {
    return [...this.installed].map(([prefix, k]) => ({
      prefix,
      nexthops: k === UNKNOWN ? [] : decodeKey(k),
    }));
  }
  takeOps(max = Infinity): FibOp[] {
    const ops: FibOp[] = [];
    let taken = 0;
    for (const prefix of this.dirty) {
      if (taken++ >= max) break;
      this.dirty.delete(prefix);
      const want = this.desired.get(prefix);
      const have = this.installed.get(prefix);
      if (want !== undefined) {
        if (have !== want) {
          ops.push({ op: "replace", route: { prefix, nexthops: decodeKey(want) } });
          this.installed.set(prefix, want);
        }
      } else if (have !== undefined) {
        if (this.synced || !this.foundAtStart.has(prefix)) {
          ops.push({ op: "delete", prefix });
          this.installed.delete(prefix);
        }
      }
    }
    return ops;
  }
  failed(ops: readonly FibOp[]): void {
    for (const op of ops) this.installed.set(op.op === "replace" ? op.route.prefix : op.prefix, UNKNOWN);
  }
  reconcile(kernel: readonly KernelRoute[]): FibOp[] {
    this.installed.clear();
    for (const r of kernel) {
      this.installed.set(r.prefix, r.nexthops.length === 0 ? UNKNOWN : nextHopKey(r.nexthops));
      if (!this.synced && !this.desired.has(r.prefix)) this.foundAtStart.add(r.prefix);
    }
    for (const p of this.desired.keys()) this.dirty.add(p);
    for (const p of this.installed.keys()) this.dirty.add(p);
    return this.takeOps();
  }
  markSynced(): FibOp[] {
    this.synced = true;
    for (const p of this.foundAtStart) this.dirty.add(p);
    this.foundAtStart.clear();
    return this.takeOps();
  }
}

describe("FibSync against the Map/Set implementation it replaced", () => {
  const byPrefix = (a: KernelRoute, b: KernelRoute): number =>
    a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;

  it.each([1, 2, 3, 4])(
    "seed %i: 50k random operations, the same operations and state at every step",
    (seed) => {
      const r = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[r() % xs.length]!;
      // a small pool, so that prefixes and next-hop sets come back often
      const prefixes: string[] = [];
      for (let i = 0; i < 300; i++) prefixes.push(`10.${i >> 4}.${(i & 15) << 4}.0/${20 + (i % 9)}`);
      for (let i = 0; i < 60; i++) prefixes.push(`2001:db8:${i.toString(16)}::/48`);
      prefixes.push("0.0.0.0/0", "::/0", "010.0.0.0/8");
      const gateways = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1", "2001:db8::2"];
      const hop = (): NextHop =>
        r() % 6 === 0 ? { via: "fe80::1", dev: pick(["eth0", "eth1"]) } : { via: pick(gateways) };
      const hops = (): NextHop[] => Array.from({ length: r() % 8 === 0 ? 2 + (r() % 2) : 1 }, hop);

      const f = new FibSync();
      const m = new MapFibSync();
      const kernel0: KernelRoute[] = Array.from({ length: 40 }, () => ({
        prefix: pick(prefixes),
        nexthops: hops(),
      }));
      expect(sorted(show(f.reconcile(kernel0)))).toEqual(sorted(show(m.reconcile(kernel0))));
      let last: FibOp[] = [];
      // the first full sync comes somewhere in the middle: leftovers are kept before it, swept after
      const syncAt = 10_000 + (r() % 30_000);
      /** expect() is slow enough to dominate 200k steps: compare first, assert on a difference */
      const same = (step: number, what: string, got: unknown, want: unknown): void => {
        if (JSON.stringify(got) !== JSON.stringify(want))
          expect({ step, [what]: got }).toEqual({ step, [what]: want });
      };
      for (let step = 0; step < 50_000; step++) {
        const x = r() % 1000;
        if (x < 420) {
          const p = pick(prefixes);
          const nh = r() % 2 === 0 ? hops() : [];
          f.set(p, nh);
          m.set(p, nh);
        } else if (x < 700) {
          const p = pick(prefixes);
          const gw =
            r() % 7 === 0
              ? []
              : r() % 5 === 0
                ? [pick(gateways), pick(gateways), pick(gateways)]
                : [pick(gateways)];
          f.setGateways(p, gw);
          m.setGateways(p, gw);
        } else if (x < 850) {
          const p = pick(prefixes);
          f.remove(p);
          m.remove(p);
        } else if (x < 990) {
          const max = r() % 3 === 0 ? Infinity : r() % 40;
          last = f.takeOps(max);
          same(step, "takeOps", show(last), show(m.takeOps(max)));
        } else if (x < 995) {
          const some = last.filter(() => r() % 3 === 0);
          f.failed(some);
          m.failed(some);
        } else {
          // a readback: what the model believes installed, with drift (lost, strays, changed)
          const readback: KernelRoute[] = [];
          for (const route of m.installedRoutes()) {
            const y = r() % 10;
            if (y === 0) continue;
            readback.push(y === 1 ? { prefix: route.prefix, nexthops: hops() } : route);
          }
          for (let i = r() % 5; i > 0; i--)
            readback.push({ prefix: pick(prefixes), nexthops: r() % 9 === 0 ? [] : hops() });
          // the order of a reconcile's operations differs: prefix ids against Map insertion order
          same(step, "reconcile", sorted(show(f.reconcile(readback))), sorted(show(m.reconcile(readback))));
        }
        if (step === syncAt)
          same(step, "markSynced", sorted(show(f.markSynced())), sorted(show(m.markSynced())));
        same(
          step,
          "counts",
          [f.pendingCount, f.desiredCount, f.installedCount, f.isSynced],
          [m.pendingCount, m.desired.size, m.installed.size, m.synced],
        );
        if (step % 97 === 0) {
          same(step, "installedByFamily", f.installedByFamily(), m.installedByFamily());
          const p = pick(prefixes);
          same(step, "desiredRoute", f.desiredRoute(p), m.desiredRoute(p));
        }
        if (step % 997 === 0) {
          expect(f.installedRoutes().sort(byPrefix)).toEqual(m.installedRoutes().sort(byPrefix));
          // an id for exactly the prefixes desired, installed or pending (found at start alone holds none)
          const held = new Set([...m.desired.keys(), ...m.installed.keys(), ...m.dirty]);
          expect(storage(f).prefixes.size).toBe(held.size);
        }
      }
      expect(sorted(show(f.markSynced()))).toEqual(sorted(show(m.markSynced())));
      expect(f.pendingCount).toBe(0);
    },
  );
});
