// The real driver (rtnetlink through net/netlink) against a real kernel
// table, in a throwaway network namespace (root only, like CI): 10k routes
// with ECMP, withdrawals, and the restart rule (leftovers swept only after
// the first full sync); a batch with one refused route installs the others
// and names that one; no process is started (none alive after, none reaped in between).
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { NetlinkFibDriver, KernelFib } from "../index.js";
import type { FibChangeIn, FibOpFailure } from "../index.js";
import { PROTO_TRELLIS_BGP } from "../../../net/route-ownership.js";
import { addUplink, recreateNetns } from "../../../net/test/netns.js";

const NS = `tRfib${process.pid % 100000}`;
const TABLE = 100;
const PROTO = PROTO_TRELLIS_BGP;

function ip(...args: string[]): string {
  return execFileSync("ip", ["-n", NS, ...args], { encoding: "utf8" });
}

function countRoutes(fam: "-4" | "-6", proto = String(PROTO)): number {
  let out: string;
  try {
    out = execFileSync("ip", ["-n", NS, fam, "route", "show", "table", String(TABLE), "proto", proto], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch {
    return 0; // the kernel drops an emptied IPv6 table: "FIB table does not exist"
  }
  return out.split("\n").filter((l) => /^\S/.test(l)).length;
}

const fibs: KernelFib[] = [];
const fibErrors: (FibOpFailure[] | Error)[] = [];
function newFib(): KernelFib {
  const f = new KernelFib(new NetlinkFibDriver({ table: TABLE, proto: PROTO, netns: NS }), {
    onError: (e) => fibErrors.push(e),
  });
  fibs.push(f);
  return f;
}

const v4 = (i: number): string => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;

beforeAll(() => {
  recreateNetns(NS);
  addUplink({ netns: NS, dev: "tRfiba", peer: "tRfibb", v4: "10.77.0.1/24", v6: "2001:db8:77::1/64" });
  // a leftover of an earlier run, and a route that is not ours
  ip("route", "add", "10.250.0.0/24", "via", "10.77.0.9", "proto", String(PROTO), "table", String(TABLE));
  ip("route", "add", "10.251.0.0/24", "via", "10.77.0.9", "proto", "static", "table", String(TABLE));
});

afterAll(async () => {
  for (const f of fibs) await f.close().catch(() => undefined);
  execFileSync("ip", ["netns", "del", NS]);
});

describe("NetlinkFibDriver + KernelFib in a network namespace", () => {
  it("installs 10k routes with ECMP and v6, withdraws, and sweeps leftovers only after the first sync", async () => {
    const fib = newFib();
    await fib.start();
    expect(countRoutes("-4")).toBe(1); // the leftover is kept for now

    const N = 10_000;
    const changes: FibChangeIn[] = [];
    for (let i = 0; i < N; i++)
      changes.push({ prefix: v4(i), nexthops: i % 10 === 0 ? ["10.77.0.2", "10.77.0.3"] : ["10.77.0.2"] });
    for (let i = 0; i < 100; i++)
      changes.push({
        prefix: `2001:db8:${(0x100 + i).toString(16)}::/48`,
        nexthops: ["2001:db8:77::2", "2001:db8:77::3"],
      });
    const t0 = Date.now();
    fib.update(changes);
    await fib.idle();
    const ms = Date.now() - t0;
    process.stderr.write(`fib: ${N + 100} routes installed in ${ms} ms\n`);
    expect(countRoutes("-4")).toBe(N + 1);
    expect(countRoutes("-6")).toBe(100);
    const ecmp = ip("route", "show", "table", String(TABLE), "10.100.0.10/32");
    expect(ecmp).toMatch(/nexthop via 10\.77\.0\.2/);
    expect(ecmp).toMatch(/nexthop via 10\.77\.0\.3/);
    expect(ip("-6", "route", "show", "table", String(TABLE), "2001:db8:100::/48")).toMatch(
      /nexthop via 2001:db8:77::3/,
    );
    expect(ecmp).not.toMatch(/blackhole/);

    // withdraw half, change ECMP into single path for one
    fib.update(Array.from({ length: N / 2 }, (_, i) => ({ prefix: v4(i), nexthops: [] })));
    fib.update([{ prefix: v4(N - 10), nexthops: ["10.77.0.4"] }]);
    await fib.idle();
    expect(countRoutes("-4")).toBe(N / 2 + 1);
    expect(ip("route", "show", "table", String(TABLE), v4(N - 10))).toMatch(/via 10\.77\.0\.4/);

    await fib.markSynced();
    expect(countRoutes("-4")).toBe(N / 2);
    expect(ip("route", "show", "table", String(TABLE), "10.250.0.0/24")).toBe("");
    expect(countRoutes("-4", "static")).toBe(1); // never touched

    // A restart of the speaker: the new process finds our routes and keeps
    // them until its own first sync; only what it does not re-learn goes.
    await fib.close();
    const again = newFib();
    await again.start();
    expect(countRoutes("-4")).toBe(N / 2);
    again.update(
      Array.from({ length: 1000 }, (_, i) => ({ prefix: v4(N / 2 + i), nexthops: ["10.77.0.2"] })),
    );
    await again.idle();
    expect(countRoutes("-4")).toBe(N / 2);
    await again.markSynced();
    expect(countRoutes("-4")).toBe(1000);
    expect(countRoutes("-6")).toBe(0);
    expect(fibErrors).toEqual([]);
  });

  it("reports a route the kernel refuses and keeps the rest of the batch", async () => {
    const drv = new NetlinkFibDriver({ table: TABLE, proto: PROTO, netns: `/var/run/netns/${NS}` });
    try {
      const failures = await drv.apply([
        { op: "replace", route: { prefix: "10.240.0.0/24", nexthops: [{ via: "10.77.0.2" }] } },
        { op: "replace", route: { prefix: "10.241.0.0/24", nexthops: [{ via: "192.0.2.99" }] } }, // not on-link
        { op: "delete", prefix: "10.242.0.0/24" }, // absent: fine
        { op: "replace", route: { prefix: "10.243.0.0/24", nexthops: [{ via: "10.77.0.3" }] } },
      ]);
      expect(failures.map((f) => f.op.op === "replace" && f.op.route.prefix)).toEqual(["10.241.0.0/24"]);
      expect(failures[0]!.error).toMatch(
        /^replace 10\.241\.0\.0\/24 via 192\.0\.2\.99: .*(gateway|unreachable)/i,
      );
      const listed = (await drv.list()).map((r) => r.prefix);
      expect(listed).toEqual(expect.arrayContaining(["10.240.0.0/24", "10.243.0.0/24"]));
      expect(listed).not.toContain("10.241.0.0/24");
    } finally {
      await drv.close();
    }
  });

  it("a batch of 20k routes with one unreachable next hop installs every other and names that one", async () => {
    const bad = v4(150_000 + 12_345);
    const errors: (FibOpFailure[] | Error)[] = [];
    const fib = new KernelFib(new NetlinkFibDriver({ table: TABLE + 1, proto: PROTO, netns: NS }), {
      batchSize: 20_000,
      onError: (e) => errors.push(e),
    });
    fibs.push(fib);
    await fib.start();
    const changes: FibChangeIn[] = Array.from({ length: 20_000 }, (_, i) => ({
      prefix: v4(150_000 + i),
      nexthops: [v4(150_000 + i) === bad ? "192.0.2.77" : "10.77.0.2"],
    }));
    fib.update(changes);
    await fib.idle();
    const out = execFileSync("ip", ["-n", NS, "route", "show", "table", String(TABLE + 1)], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    const installed = out.split("\n").filter((l) => /^\S/.test(l));
    expect(installed).toHaveLength(19_999);
    expect(out).not.toContain(bad.replace("/32", " "));
    // Reported once, after the repair from a readback could not install it either (KernelFib).
    expect(errors).toHaveLength(1);
    const failures = errors[0] as FibOpFailure[];
    expect(failures.map((f) => f.error)).toEqual([
      expect.stringMatching(
        new RegExp(`^replace ${bad.replace(/\./g, "\\.")} via 192\\.0\\.2\\.77: Network is unreachable`),
      ),
    ]);
    expect(fib.getStats()).toMatchObject({ desired: 20_000 });
  });

  it("a link-local next hop goes with its interface and is read back with it; batches apply in call order", async () => {
    const drv = new NetlinkFibDriver({ table: TABLE + 3, proto: PROTO, netns: NS });
    const route = { prefix: "2001:db8:200::/48", nexthops: [{ via: "fe80::2", dev: "tRfiba" }] };
    // Two batches handed in at once: the first must look the interface up, the
    // second (a delete of the same route) must still reach the kernel after it.
    const both = await Promise.all([
      drv.apply([{ op: "replace", route }]),
      drv.apply([{ op: "delete", prefix: route.prefix }]),
    ]);
    expect(both).toEqual([[], []]);
    expect(await drv.list()).toEqual([]);
    expect(await drv.apply([{ op: "replace", route }])).toEqual([]);
    expect(await drv.list()).toEqual([route]);
    expect(ip("-6", "route", "show", "table", String(TABLE + 3))).toMatch(
      /^2001:db8:200::\/48 via fe80::2 dev tRfiba /m,
    );
  });

  it("starts no process: the kernel is reached from inside the test's own process", async () => {
    // The observer first shows it sees a child that came and went.
    const probe = childActivity();
    execFileSync("true");
    expect(childActivity().reaped).toBeGreaterThan(probe.reaped);
    const before = childActivity();
    const drv = new NetlinkFibDriver({ table: TABLE + 2, proto: PROTO, netns: NS });
    expect(
      await drv.apply([
        { op: "replace", route: { prefix: "10.230.0.0/24", nexthops: [{ via: "10.77.0.2" }] } },
      ]),
    ).toEqual([]);
    expect((await drv.list()).map((r) => r.prefix)).toEqual(["10.230.0.0/24"]);
    expect(childActivity()).toEqual(before);
  });
});

/**
 * What this process's children did: the ones alive now
 * (/proc/<pid>/task/<tid>/children), and `reaped`, the minor page faults of
 * the children it has waited for (cminflt, field 11 of /proc/<pid>/stat,
 * proc(5)). Any process started and exited in between, like an `ip` run,
 * faults pages in and moves `reaped`; one still running is in `alive`.
 */
function childActivity(): { alive: string[]; reaped: number } {
  const alive: string[] = [];
  for (const t of readdirSync(`/proc/${process.pid}/task`))
    alive.push(
      ...readFileSync(`/proc/${process.pid}/task/${t}/children`, "utf8")
        .split(" ")
        .filter((x) => x !== ""),
    );
  const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
  // after "(comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt
  const reaped = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[8]);
  return { alive: alive.sort(), reaped };
}
