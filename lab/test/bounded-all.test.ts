import { describe, expect, it } from "@jest/globals";
import { boundedAll } from "../bounded-all.js";

describe("bounded parallelism", () => {
  it("never runs more than the limit at once and keeps job order", async () => {
    let inFlight = 0;
    let peak = 0;
    const jobs = Array.from({ length: 20 }, (_, i) => async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return i;
    });
    expect(await boundedAll(jobs, 3)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBeLessThanOrEqual(3);
  });
});
