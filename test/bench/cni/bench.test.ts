/**
 * The CNI benchmark at smoke size, in CI: both sides run, every ADD and DEL
 * succeeds, and the numbers are sane. (Ratios are reported, never asserted:
 * the machine is shared and noisy.)
 */
import { describe, expect, it } from "@jest/globals";
import { formatCniBench, runCniBench, stats } from "./bench.js";

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
  }, 120_000);

  it("computes percentiles by nearest rank", () => {
    expect(stats([5, 1, 3, 2, 4])).toEqual({ n: 5, p50: 3, p99: 5, mean: 3 });
  });
});
