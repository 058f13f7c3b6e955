/**
 * The cluster benchmark at its quick size, as root: two labs (Trellis,
 * 3 nodes; the reference ptp, 2 nodes) come up, every measure runs a few
 * times and yields numbers, and the tables print. Timings are reported,
 * never asserted (the machine is shared and noisy). Needs root and BIRD
 * (scripts/bootstrap), and fails without them: lab up says what is missing.
 */
import { describe, expect, it } from "@jest/globals";
import { benchOptions, formatClusterBench, runClusterBench } from "./bench.js";
import { attemptVerdict } from "./probe-verdict.js";
import { missingBlocks, scaleSizes } from "./scale.js";
import { blockName, blockOf } from "./block-claim.js";

describe("cluster benchmark (quick)", () => {
  it("measures every part on real labs and prints the tables", async () => {
    const r = await runClusterBench(benchOptions("quick"), (s) => process.stderr.write(`${s}\n`));
    process.stderr.write(formatClusterBench(r));
    expect(r.podReach.trellis.reachable.n).toBe(3);
    expect(r.podReach.reference.reachable.n).toBe(3);
    expect(r.podReach.trellis.reachable.p50).toBeGreaterThan(0);
    expect(r.podReach.ratio.reachableP50).toBeGreaterThan(0);
    expect(r.blockClaim.claimToTor.n).toBe(2);
    expect(r.policy.allNodes.n).toBe(2);
    expect(Object.keys(r.policy.perNode)).toEqual(["node-1", "node-2", "node-3"]);
    expect(r.nodeLoss.rows).toHaveLength(1);
    // Lost by SIGSTOP: nothing withdraws it before the hold timer (9 s)
    // runs out, which counts from the victim's last KEEPALIVE (every 3 s,
    // so 6-9 s on an idle machine; a CI run under load saw 4.9 s at the ToR
    // against 6.1 s at the nodes: the ToR's last message from the victim was
    // then 4.1 s old, a KEEPALIVE about 1.1 s late). What this
    // separates is the hold timer from a detection that does not wait for
    // it (BFD's is under a second here).
    expect(r.nodeLoss.rows[0]?.tor.p50).toBeGreaterThan(3000);
    const lab = r.scale.labs[0];
    // 3-node mesh: per node the ToR and 2 other nodes, IPv4 and IPv6
    expect(lab?.sessions).toEqual([6, 6, 6]);
    expect(lab?.agentRssMiB.every((m) => m > 10)).toBe(true);
    expect(formatClusterBench(r)).toMatch(/created → reachable from node-2/);
  }, 240_000);
});

it("a probe's verdict: reach is any answer from the pod, open a connection, closed silence or an ICMP error", () => {
  expect(attemptVerdict("reach", "refused")).toBe(true);
  expect(attemptVerdict("reach", "timeout")).toBe(false);
  expect(attemptVerdict("open", "refused")).toBe(false);
  expect(attemptVerdict("closed", "timeout")).toBe(true);
  expect(attemptVerdict("closed", "unreachable")).toBe(true);
  expect(attemptVerdict("closed", "connected")).toBe(false);
});

it("scale: converged when every observer holds every other node's blocks; sizes shrink by a quarter; block names", () => {
  const blocks = new Map([
    ["node-1", ["10.244.1.0/26"]],
    ["node-2", ["10.244.2.0/26"]],
  ]);
  const routes = new Map([
    ["tor", new Set(["10.244.1.0/26", "10.244.2.0/26"])],
    ["node-1", new Set(["10.244.2.0/26"])],
    ["node-2", new Set<string>()],
  ]);
  expect(missingBlocks(blocks, routes)).toEqual([["node-2", "10.244.1.0/26"]]);
  expect(scaleSizes(20)).toEqual([20, 15, 11, 8, 6, 4, 3, 2]);
  expect(blockName("fd00:10:244:1::/122")).toBe("fd00-10-244-1---122");
  expect(blockOf("10.250.0.3", 31)).toBe("10.250.0.2/31");
});
