/**
 * CI smoke of the policy benchmark (root): runs it at smoke size and checks
 * what it reports: the table, the JSON, every variant measured, and the
 * update transactions staying small. Timings are not asserted (noisy VMs).
 */
import { describe, it, expect, beforeAll } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { requireRoot } from "../../support/require.js";

const BENCH = fileURLToPath(new URL("./bench.js", import.meta.url));
const EVENTS = fileURLToPath(new URL("./event-latency.js", import.meta.url));

interface Result {
  mode: string;
  controlPlane: {
    fullApply: { mode: string };
    podAdded: { mode: string; commands: number };
    remotePodAdded: { commands: number };
    policyChanged: { mode: string };
  };
  dataplane: { variant: string; throughputGbps: number; connPerSec: number }[];
}

describe("policy benchmark (smoke)", () => {
  beforeAll(() => requireRoot("the policy benchmark (network namespaces, nftables, iperf3)"));
  it("measures every variant and keeps updates incremental", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-"));
    try {
      const out = join(dir, "policy.json");
      const stdout = await new Promise<string>((resolve, reject) => {
        const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_BENCH_OUT: out };
        delete env["TRELLIS_BENCH_FULL"];
        execFile("node", [BENCH], { env, timeout: 110_000 }, (err, so, se) =>
          err ? reject(new Error(`${err.message}\n${se}`)) : resolve(so),
        );
      });
      expect(stdout).toMatch(/dataplane \(client -> node -> server\)/);
      const r = JSON.parse(readFileSync(out, "utf8")) as Result;
      expect(r.mode).toBe("smoke");
      expect(r.controlPlane.fullApply.mode).toBe("full");
      expect(r.controlPlane.podAdded.mode).toBe("diff");
      expect(r.controlPlane.remotePodAdded.commands).toBeLessThanOrEqual(8);
      expect(r.controlPlane.policyChanged.mode).toBe("diff");
      expect(r.dataplane.map((d) => d.variant)).toHaveLength(7);
      for (const d of r.dataplane) {
        expect(d.throughputGbps).toBeGreaterThan(0);
        expect(d.connPerSec).toBeGreaterThan(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("event -> kernel: measures the full and the incremental path, and the kernel ends equal to a full compile", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-"));
    try {
      const out = join(dir, "policy-event.json");
      const stdout = await new Promise<string>((resolve, reject) => {
        const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_BENCH_OUT: out, TRELLIS_BENCH_EVENTS: "5" };
        delete env["TRELLIS_BENCH_FULL"];
        execFile("node", [EVENTS], { env, timeout: 110_000 }, (err, so, se) =>
          err ? reject(new Error(`${err.message}\n${se}`)) : resolve(so),
        );
      });
      expect(stdout).toMatch(/full \/ incremental \(total\)/);
      const r = JSON.parse(readFileSync(out, "utf8")) as {
        mode: string;
        kernelMatchesFullCompile: boolean;
        fullPath: Record<string, { p50: number }>;
        incremental: Record<string, { p50: number; p99: number }>;
        incrementalVia: Record<"netlink" | "nft", { events: number }>;
      };
      expect(r.mode).toBe("smoke");
      expect(r.kernelMatchesFullCompile).toBe(true);
      expect(r.fullPath["total"]?.p50).toBeGreaterThan(0);
      expect(r.incremental["total"]?.p50).toBeGreaterThan(0);
      // One pod: a handful of element commands, never the whole table.
      expect(r.incremental["cmds"]?.p99).toBeLessThanOrEqual(60);
      // Applied as the agent applies them: element-only deltas by netlink, the rest by nft.
      expect(r.incrementalVia.netlink.events).toBeGreaterThan(0);
      expect(r.incrementalVia.nft.events).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
