import { describe, it, expect } from "@jest/globals";
import { backoffDelay, type BackoffOptions } from "../backoff.js";

const opts: BackoffOptions = { minMs: 100, maxMs: 1000, jitter: 0 };
const mid = (): number => 0.5;

describe("backoffDelay", () => {
  const cases: [string, number, BackoffOptions, () => number, number][] = [
    ["the first attempt waits minMs", 1, opts, mid, 100],
    ["each attempt doubles", 3, opts, mid, 400],
    ["the delay is capped at maxMs", 10, opts, mid, 1000],
    ["attempt 0 and below count as the first", 0, opts, mid, 100],
    ["a huge attempt number stays capped (no Infinity)", 1e9, opts, mid, 1000],
    ["jitter at r=0 is -jitter/2", 1, { ...opts, jitter: 0.5 }, () => 0, 75],
    ["jitter at r=0.5 is the base", 1, { ...opts, jitter: 0.5 }, mid, 100],
    ["jitter at r→1 is +jitter/2", 1, { ...opts, jitter: 0.5 }, () => 0.999999, 125],
  ];
  it.each(cases)("%s", (_rule, attempt, o, random, want) => {
    expect(backoffDelay(attempt, o, random)).toBe(want);
  });
});
