import { describe, it, expect } from "@jest/globals";
import { FibSync, FakeFibDriver, KernelFib, describeOp } from "../index.js";
import type { FibOp, KernelRoute } from "../index.js";

const r = (prefix: string, ...via: string[]): KernelRoute => ({
  prefix,
  nexthops: via.map((v) => ({ via: v })),
});
const show = (ops: FibOp[]): string[] =>
  ops.map((o) =>
    o.op === "delete"
      ? `del ${o.prefix}`
      : `set ${o.route.prefix} ${o.route.nexthops.map((n) => n.via).join(",")}`,
  );

describe("FibSync: desired vs installed", () => {
  const cases: { name: string; kernel: KernelRoute[]; steps: (f: FibSync) => void; ops: string[] }[] = [
    {
      name: "new route is installed",
      kernel: [],
      steps: (f) => f.set("10.0.0.0/24", [{ via: "1.1.1.1" }]),
      ops: ["set 10.0.0.0/24 1.1.1.1"],
    },
    {
      name: "same route already in the kernel: nothing to do",
      kernel: [r("10.0.0.0/24", "1.1.1.1")],
      steps: (f) => f.set("10.0.0.0/24", [{ via: "1.1.1.1" }]),
      ops: [],
    },
    {
      name: "next-hop order does not matter",
      kernel: [r("10.0.0.0/24", "2.2.2.2", "1.1.1.1")],
      steps: (f) => f.set("10.0.0.0/24", [{ via: "1.1.1.1" }, { via: "2.2.2.2" }]),
      ops: [],
    },
    {
      name: "changed next hop is one atomic replace",
      kernel: [r("10.0.0.0/24", "1.1.1.1")],
      steps: (f) => f.set("10.0.0.0/24", [{ via: "1.1.1.1" }, { via: "3.3.3.3" }]),
      ops: ["set 10.0.0.0/24 1.1.1.1,3.3.3.3"],
    },
    {
      name: "set then remove before a flush costs nothing",
      kernel: [],
      steps: (f) => {
        f.set("10.0.0.0/24", [{ via: "1.1.1.1" }]);
        f.remove("10.0.0.0/24");
      },
      ops: [],
    },
    {
      name: "flap coalesces to the last state",
      kernel: [],
      steps: (f) => {
        f.set("10.0.0.0/24", [{ via: "1.1.1.1" }]);
        f.set("10.0.0.0/24", [{ via: "2.2.2.2" }]);
      },
      ops: ["set 10.0.0.0/24 2.2.2.2"],
    },
    {
      name: "an empty next-hop list deletes (never a blackhole)",
      kernel: [],
      steps: (f) => {
        f.set("10.0.0.0/24", [{ via: "1.1.1.1" }]);
        f.takeOps();
        f.set("10.0.0.0/24", []);
      },
      ops: ["del 10.0.0.0/24"],
    },
    {
      name: "leftover kernel route is kept before the first sync",
      kernel: [r("10.9.0.0/24", "1.1.1.1")],
      steps: (f) => f.remove("10.9.0.0/24"),
      ops: [],
    },
    {
      name: "leftover route re-learnt then withdrawn before sync is deleted",
      kernel: [r("10.9.0.0/24", "1.1.1.1")],
      steps: (f) => {
        f.set("10.9.0.0/24", [{ via: "1.1.1.1" }]);
        f.takeOps();
        f.remove("10.9.0.0/24");
      },
      ops: ["del 10.9.0.0/24"],
    },
  ];
  it.each(cases)("$name", ({ kernel, steps, ops }) => {
    const f = new FibSync();
    expect(f.reconcile(kernel)).toEqual([]);
    steps(f);
    expect(show(f.takeOps())).toEqual(ops);
  });

  it("markSynced sweeps exactly the leftovers nobody re-learnt", () => {
    const f = new FibSync();
    f.reconcile([r("10.1.0.0/24", "1.1.1.1"), r("10.2.0.0/24", "1.1.1.1"), r("10.3.0.0/24", "1.1.1.1")]);
    f.set("10.1.0.0/24", [{ via: "1.1.1.1" }]);
    f.set("10.2.0.0/24", [{ via: "2.2.2.2" }]);
    expect(show(f.takeOps())).toEqual(["set 10.2.0.0/24 2.2.2.2"]);
    expect(f.isSynced).toBe(false);
    expect(show(f.markSynced())).toEqual(["del 10.3.0.0/24"]);
    // after the sync, a kernel readback with strays is repaired fully
    expect(show(f.reconcile([r("10.1.0.0/24", "1.1.1.1"), r("10.7.0.0/24", "7.7.7.7")]))).toEqual([
      "set 10.2.0.0/24 2.2.2.2",
      "del 10.7.0.0/24",
    ]);
  });
});

describe("how a FIB operation is named in an error", () => {
  it.each([
    [{ op: "replace", route: r("10.0.0.0/24", "1.1.1.1") }, "replace 10.0.0.0/24 via 1.1.1.1"],
    [
      { op: "replace", route: r("10.0.0.0/24", "1.1.1.1", "1.1.1.2") },
      "replace 10.0.0.0/24 via 1.1.1.1, 1.1.1.2",
    ],
    [
      { op: "replace", route: { prefix: "2001:db8::/32", nexthops: [{ via: "fe80::1", dev: "eth0" }] } },
      "replace 2001:db8::/32 via fe80::1 dev eth0",
    ],
    [{ op: "delete", prefix: "10.0.0.0/24" }, "delete 10.0.0.0/24"],
  ] as [FibOp, string][])("%j", (op, text) => {
    expect(describeOp(op)).toBe(text);
  });
});

describe("KernelFib over the fake driver", () => {
  it("batches many changes into few applies and keeps leftovers until synced", async () => {
    const drv = new FakeFibDriver([r("10.200.0.0/24", "9.9.9.9")]);
    const fib = new KernelFib(drv);
    await fib.start();
    fib.update(
      Array.from({ length: 1000 }, (_, i) => ({
        prefix: `10.${i >> 8}.${i & 255}.0/24`,
        nexthops: ["1.1.1.1"],
      })),
    );
    await fib.idle();
    expect(drv.routes.size).toBe(1001);
    expect(drv.batches.length).toBeLessThanOrEqual(2);
    await fib.markSynced();
    expect(drv.routes.has("10.200.0.0/24")).toBe(false);
    expect(fib.getStats()).toMatchObject({ desired: 1000, installed: 1000, synced: true });
  });

  it("repairs from a readback after a failed apply", async () => {
    const drv = new FakeFibDriver();
    const errors: unknown[] = [];
    const fib = new KernelFib(drv, { onError: (e) => errors.push(e) });
    await fib.start();
    drv.unreachable.add("6.6.6.6");
    fib.update([
      { prefix: "10.1.0.0/24", nexthops: ["1.1.1.1"] },
      { prefix: "10.2.0.0/24", nexthops: ["6.6.6.6"] },
    ]);
    await fib.idle();
    expect(drv.dump()).toEqual(["10.1.0.0/24 1.1.1.1"]);
    expect(drv.listCalls).toBe(2); // start + repair
    expect(errors).toHaveLength(1); // the repair could not install it either
    drv.unreachable.clear();
    fib.update([{ prefix: "10.2.0.0/24", nexthops: ["6.6.6.6"] }]);
    await fib.idle();
    expect(drv.dump()).toEqual(["10.1.0.0/24 1.1.1.1", "10.2.0.0/24 6.6.6.6"]);
  });

  it("without ECMP only the first next hop is installed", async () => {
    const drv = new FakeFibDriver();
    const fib = new KernelFib(drv, { ecmp: false });
    await fib.start();
    fib.update([{ prefix: "10.1.0.0/24", nexthops: ["1.1.1.1", "2.2.2.2"] }]);
    await fib.idle();
    expect(drv.dump()).toEqual(["10.1.0.0/24 1.1.1.1"]);
  });
});
