import { describe, expect, it } from "@jest/globals";
import {
  backoffDelay,
  informerStep,
  initialHealth,
  type InformerHealth,
  type InformerSignal,
} from "../informer-backoff.js";

const B = { minMs: 200, maxMs: 30_000 };

describe("backoffDelay: exponential with equal jitter, floored at min, capped at max", () => {
  const rows: [string, number, number, number][] = [
    // [rule, attempt, random, delay]
    ["attempt 1 waits the minimum whatever the draw (low)", 1, 0, 200],
    ["attempt 1 waits the minimum whatever the draw (high)", 1, 0.999, 200],
    ["attempt 2: [min, 2·min]", 2, 0, 200],
    ["attempt 2, top of the range", 2, 1, 400],
    ["attempt 3, bottom: half of 4·min", 3, 0, 400],
    ["attempt 3, middle", 3, 0.5, 600],
    ["attempt 6: half to all of 32·min", 6, 0.5, 4800],
    ["attempt 8 is still below the cap (128·min)", 8, 1, 25_600],
    ["attempt 9 reaches the cap: [max/2, max]", 9, 1, 30_000],
    ["attempt 9, bottom", 9, 0, 15_000],
    ["attempt 100 stays at the cap", 100, 1, 30_000],
    ["attempt 10^6 neither overflows nor exceeds the cap", 1e6, 0.5, 22_500],
    ["attempt 0 is read as attempt 1", 0, 0.5, 200],
    ["a random outside [0,1) is clamped", 3, 7, 800],
  ];
  it.each(rows)("%s", (_rule, attempt, random, delay) => {
    expect(backoffDelay(attempt, B, random)).toBe(delay);
  });

  it("the delays of a 10 s outage sum past 10 s within 8 attempts (no retry storm)", () => {
    let total = 0;
    let n = 0;
    while (total < 10_000) total += backoffDelay(++n, B, 1);
    expect(n).toBeLessThanOrEqual(7);
    total = 0;
    n = 0;
    while (total < 10_000) total += backoffDelay(++n, B, 0);
    expect(n).toBeLessThanOrEqual(8);
  });
});

/** Runs signals through the machine; returns the last step and the log lines. */
function run(
  signals: (InformerSignal["type"] | [InformerSignal["type"], number])[],
  from: InformerHealth = initialHealth(),
) {
  let h = from;
  const logs: string[] = [];
  const delays: number[] = [];
  for (const s of signals) {
    const [type, at] = typeof s === "string" ? [s, 0] : s;
    const step = informerStep(h, { type } as InformerSignal, B, at, 1);
    h = step.health;
    if (step.retryInMs !== undefined) delays.push(step.retryInMs);
    if (step.log !== undefined)
      logs.push(
        step.log.what === "lost" ? "lost" : `recovered(${step.log.attempts},${step.log.seconds.toFixed(1)})`,
      );
  }
  return { h, logs, delays };
}

describe("informerStep: the failure count resets only after list AND watch delivery", () => {
  it("a bare connect is not success: connect/fail cycles keep growing the delay", () => {
    const r = run([
      "listed",
      "delivered",
      "failed",
      "connected",
      "failed",
      "connected",
      "failed",
      "connected",
      "failed",
    ]);
    expect(r.delays).toEqual([200, 400, 800, 1600]);
    expect(r.h.failures).toBe(4);
  });

  it("a completed list without a delivery does not reset (the watch died before its first event)", () => {
    const r = run(["listed", "delivered", "failed", "failed", "listed", "failed"]);
    expect(r.delays).toEqual([200, 400, 800]);
  });

  it("a delivery after a relist is owed (410) does not reset until the list completes", () => {
    const r = run(["listed", "delivered", "failed", "failed", "relist", "delivered", "failed"]);
    expect(r.delays).toEqual([200, 400, 800]);
    expect(r.h.listed).toBe(false);
  });

  it("list then delivery resets the count: the next failure waits the minimum again", () => {
    const r = run(["listed", "delivered", "failed", "failed", "failed", "listed", "delivered", "failed"]);
    expect(r.delays).toEqual([200, 400, 800, 200]);
  });

  it("a watch resumed from the cached resourceVersion that delivers counts (its list completed before)", () => {
    const r = run(["listed", "delivered", "failed", "failed", "delivered", "failed"]);
    expect(r.delays).toEqual([200, 400, 200]);
  });

  it("logs once when lost and once when back in sync, with attempts and duration, not per attempt", () => {
    const r = run([
      "listed",
      "delivered",
      ["failed", 1000],
      ["failed", 1200],
      ["failed", 1600],
      ["listed", 12_000],
      ["delivered", 12_500],
      ["delivered", 13_000],
    ]);
    expect(r.logs).toEqual(["lost", "recovered(3,11.5)"]);
    expect(r.h).toEqual({ phase: "in-sync", listed: true, failures: 0 });
  });

  it("a failure before the first list is 'lost' too (one line), and the first sync after it is a recovery", () => {
    const r = run([
      ["failed", 0],
      ["failed", 500],
      ["listed", 2000],
      ["delivered", 2000],
    ]);
    expect(r.logs).toEqual(["lost", "recovered(2,2.0)"]);
  });

  it("a first sync without any failure logs nothing", () => {
    expect(run(["connected", "listed", "delivered"]).logs).toEqual([]);
  });

  it("connect changes nothing at all", () => {
    const h: InformerHealth = { phase: "lost", listed: true, failures: 5, lostAt: 3 };
    expect(informerStep(h, { type: "connected" }, B, 99, 0.5)).toEqual({ health: h });
  });
});
