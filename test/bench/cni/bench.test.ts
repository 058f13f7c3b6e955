/**
 * The CNI benchmark at smoke size, in CI: both sides run, every ADD and DEL
 * succeeds, and the numbers are sane. (Ratios are reported, never asserted:
 * the machine is shared and noisy.)
 */
import { describe, expect, it } from "@jest/globals";
import {
  agentBreakdown,
  benchToken,
  cpuMs,
  execBreakdown,
  formatCniBench,
  runCniBench,
  stats,
} from "./bench.js";

describe("CNI benchmark (smoke)", () => {
  it("measures Trellis and the reference ptp+host-local side by side", async () => {
    const r = await runCniBench(false);
    expect(r.trellis.add.n).toBe(30);
    expect(r.reference.add.n).toBe(30);
    expect(r.trellis.del.n).toBe(30);
    expect(r.trellis.burstWallMs.n).toBe(3);
    expect(r.trellis.add.p50).toBeGreaterThan(0);
    expect(r.reference.del.p50).toBeGreaterThan(0);
    expect(formatCniBench(r)).toMatch(/ADD {2}trellis/);
    // The load the ratios were taken under, at both ends of the run.
    expect([r.loadavg.start.length, r.loadavg.end.length]).toEqual([3, 3]);
    expect(formatCniBench(r)).toContain(`loadavg ${r.loadavg.start.join(" ")} at the start`);
    // The agent's CPU per pod: its threads together spend at least what its main thread does.
    const cpu = r.agentCpu?.sequentialPerPod;
    expect(cpu?.main).toBeGreaterThan(0);
    expect(cpu?.all).toBeGreaterThanOrEqual(cpu?.main ?? Infinity);
    expect(r.agentCpu?.burstPerPod.main).toBeGreaterThan(0);
    expect(formatCniBench(r)).toContain("agent CPU per pod");
  }, 120_000);

  it("reads a process's CPU time from /proc, its main thread apart from all its threads", () => {
    const a = cpuMs(process.pid);
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += i % 7; // about 20-60 ms of this thread's CPU
    const b = cpuMs(process.pid);
    expect(x).toBeGreaterThan(0);
    expect(b.main - a.main).toBeGreaterThanOrEqual(10);
    expect(b.all).toBeGreaterThanOrEqual(b.main);
  });

  it("breaks the sequential pods' time down from the agent's debug log, leaving out warm-up and bursts", () => {
    const j = (o: Record<string, unknown>): string => JSON.stringify(o);
    const log = [
      j({ msg: "CNI request", command: "STATUS", handleMs: 99 }),
      j({ msg: "CNI request", command: "ADD", receiveMs: 9, handleMs: 99, replyMs: 9 }), // warm-up
      j({ msg: "ADD", containerID: "warm-t", ipamMs: 99, linkMs: 99, configureMs: 99 }),
      j({ msg: "CNI request", command: "ADD", receiveMs: 0.1, handleMs: 5, replyMs: 0.2 }),
      j({ msg: "ADD", containerID: "seq-trellis-0", ipamMs: 4, linkMs: 2, configureMs: 0 }),
      "not json {",
      j({ msg: "CNI request", command: "ADD", receiveMs: 0.1, handleMs: 50, replyMs: 0.2 }), // a burst's
      j({ msg: "ADD", containerID: "burst-trellis-0-0", ipamMs: 40, linkMs: 20, configureMs: 9 }),
      j({ msg: "DEL", containerID: "seq-trellis-0", linkMs: 1, ipamMs: 3 }),
    ].join("\n");
    const b = agentBreakdown(log, 1);
    expect(b["ADD: IPAM plan + API write (from start)"]).toEqual({ n: 1, p50: 4, p99: 4, mean: 4 });
    expect(b["ADD: veth created (from start)"]?.p50).toBe(2);
    expect(b["DEL: veth detached (from start)"]?.p50).toBe(1);
    expect(b["ADD server: handleMs"]).toEqual({ n: 1, p50: 5, p99: 5, mean: 5 });
    expect(b["DEL server: handleMs"]?.n).toBe(0);
  });

  it("lays each sequential ADD's exec beside the agent's accept and reply, matching by time", () => {
    const j = (o: Record<string, unknown>): string => JSON.stringify(o);
    const log = [
      j({ msg: "CNI request", command: "ADD", acceptedAt: 1004, answeredAt: 1014 }),
      j({ msg: "CNI request", command: "DEL", acceptedAt: 1104, answeredAt: 1106 }), // not an ADD
      j({ msg: "CNI request", command: "ADD", acceptedAt: 2003, answeredAt: 2009 }),
      j({ msg: "CNI request", command: "ADD", handleMs: 3 }), // an older agent's line: no times
    ].join("\n");
    const b = execBreakdown(log, [
      { start: 1000, spawned: 1002, exited: 1015 },
      { start: 2000, spawned: 2001, exited: 2010 },
      { start: 3000, spawned: 3001, exited: 3009 }, // no request inside it: left out
    ]);
    expect(b["ADD exec: runtime's spawn of the plugin"]).toEqual({ n: 2, p50: 1, p99: 2, mean: 1.5 });
    expect(b["ADD exec: spawned → agent accepts"]).toEqual({ n: 2, p50: 2, p99: 2, mean: 2 });
    expect(b["ADD exec: agent accept → handler's answer"]).toEqual({ n: 2, p50: 6, p99: 10, mean: 8 });
    expect(b["ADD exec: answer → plugin exit seen"]).toEqual({ n: 2, p50: 1, p99: 1, mean: 1 });
  });

  it("names each run by its pid unless a token is given, and refuses a token no interface name can carry", () => {
    expect(benchToken(undefined, 4242)).toBe(`b${(4242 % 1296).toString(36)}`);
    expect(benchToken(undefined, 4242)).not.toBe(benchToken(undefined, 4243));
    expect(benchToken("", 7)).toBe("b7");
    expect(benchToken("bq1", 7)).toBe("bq1");
    expect(() => benchToken("toolong", 7)).toThrow(/TRELLIS_BENCH_TOKEN="toolong": 1 to 4/);
    expect(() => benchToken("b-1", 7)).toThrow(/1 to 4 of a-z and 0-9/);
  });

  it("computes percentiles by nearest rank", () => {
    expect(stats([5, 1, 3, 2, 4])).toEqual({ n: 5, p50: 3, p99: 5, mean: 3 });
  });
});
