/**
 * trellis-node's /metrics on prom-client: scraped over the node's uplink from
 * the next namespace (a non-loopback metricsAddress, as the chart's scrape
 * from the pod network does), for IPv4 ("0.0.0.0:PORT") and IPv6
 * ("[::]:PORT"), parsed strictly, with every family the agent exported
 * before the move and the same names, types and labels.
 */
import { describe, expect, it } from "@jest/globals";
import { type AgentProc, TestBed, cniSocket, httpGetIn, k8sArgs, podCall } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";
import { type Family, parseExposition, samples, value } from "../../net/prom-text.js";

const bed = new TestBed("Me");
let n1: { netns: string; index: number };
let n2: { netns: string; index: number };
let a1: AgentProc;
let a2: AgentProc;
const port1 = 29000 + (process.pid % 500);
const port2 = port1 + 500;

useTestBed(bed, async () => {
  await bed.createPool("pool-v4", { cidr: "10.71.0.0/16", blockSize: 26 });
  n1 = await bed.addNode();
  n2 = await bed.addNode();
  a1 = await bed.startAgent("node-1", n1.netns, { metricsAddress: `0.0.0.0:${port1}` });
  a2 = await bed.startAgent("node-2", n2.netns, { metricsAddress: `[::]:${port2}` });
  const pod = bed.netnsName("p1");
  await bed.addNetns([pod]);
  const r = await cniSocket(a1.socket, podCall("ADD", a1, "feed0001", pod, k8sArgs("default", "m-1")));
  expect(r.exitCode).toBe(0);
});

/** GET from inside `netns` (the node's uplink peer: another host as seen from the node). */
async function scrapeFrom(netns: string, url: string): Promise<{ type: string; fams: Map<string, Family> }> {
  const r = await httpGetIn(netns, url);
  expect(r.status).toBe(200);
  return { type: r.type, fams: parseExposition(r.body) };
}

// Every family trellis-node exported before prom-client, with its type: dashboards rely on these.
const FAMILIES: [string, string][] = [
  ["trellis_cni_operations_total", "counter"],
  ["trellis_cni_operation_duration_seconds", "histogram"],
  ["trellis_cni_requests_rejected_total", "counter"],
  ["trellis_cni_in_flight", "gauge"],
  ["trellis_cni_queued", "gauge"],
  ["trellis_policy_enabled", "gauge"],
  ["trellis_policy_ready", "gauge"],
  ["trellis_policy_applies_total", "counter"],
  ["trellis_policy_apply_seconds", "histogram"],
  ["trellis_policy_last_transaction_commands", "gauge"],
  ["trellis_policy_rejected_objects", "gauge"],
  ["trellis_policy_local_pods", "gauge"],
  ["trellis_ipam_blocks", "gauge"],
  ["trellis_ipam_addresses_in_use", "gauge"],
  ["trellis_ipam_api_writes_total", "counter"],
  ["trellis_ipam_leak_releases_total", "counter"],
  ["trellis_ipam_gc_releases_total", "counter"],
  ["trellis_ipam_pools_rejected", "gauge"],
  ["trellis_informer_restarts_total", "counter"],
  ["trellis_agent_ready", "gauge"],
];

describe("trellis-node /metrics", () => {
  it("0.0.0.0:PORT is scraped over the uplink from another namespace; every family is there, parseable", async () => {
    const up = bed.netnsName(`u${n1.index}`);
    const { type, fams } = await scrapeFrom(up, `http://10.250.${n1.index}.2:${port1}/metrics`);
    expect(type).toBe("text/plain; version=0.0.4; charset=utf-8");
    for (const [name, t] of FAMILIES) expect([name, fams.get(name)?.type]).toEqual([name, t]);
    // The ADD above: counted, timed by the library's histogram, its address in use.
    expect(
      value(fams, "trellis_cni_operations_total", { command: "ADD", result: "success", code: "0" }),
    ).toBe(1);
    expect(value(fams, "trellis_cni_operation_duration_seconds_count", { command: "ADD" })).toBe(1);
    expect(value(fams, "trellis_cni_operation_duration_seconds_bucket", { command: "ADD", le: "+Inf" })).toBe(
      1,
    );
    expect(value(fams, "trellis_ipam_addresses_in_use")).toBe(1);
    expect(value(fams, "trellis_ipam_blocks")).toBeGreaterThanOrEqual(1);
    expect(value(fams, "trellis_agent_ready")).toBe(1);
    expect(value(fams, "trellis_policy_ready")).toBe(1);
    expect(value(fams, "trellis_informer_restarts_total", { resource: "pods" })).toBe(0);
    expect(samples(fams, "trellis_ipam_api_writes_total").length).toBeGreaterThan(0);
    expect(value(fams, "trellis_policy_apply_seconds_count")).toBeGreaterThanOrEqual(1);
    // The process metrics of the one registry.
    expect(fams.get("process_resident_memory_bytes")?.type).toBe("gauge");
    expect(fams.get("nodejs_eventloop_lag_seconds")?.type).toBe("gauge");
  });

  it("[::]:PORT is scraped over IPv6 from another namespace, and IPv4 too", async () => {
    const up = bed.netnsName(`u${n2.index}`);
    // Ready (policy table applied) may come a moment after the CNI STATUS answers.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v6 = await scrapeFrom(up, `http://[fd00:250:${n2.index}::2]:${port2}/metrics`);
      expect(v6.fams.get("trellis_cni_operations_total")?.type).toBe("counter");
      if (value(v6.fams, "trellis_agent_ready") === 1) break;
      expect(a2.proc.exitCode).toBeNull();
      if (Date.now() > deadline) throw new Error("node-2 never reported trellis_agent_ready 1");
      await new Promise((r) => setTimeout(r, 200));
    }
    const v4 = await scrapeFrom(up, `http://10.250.${n2.index}.2:${port2}/metrics`);
    expect(value(v4.fams, "trellis_agent_ready")).toBe(1);
  });

  it("pods coming and going in the node's own block do not recompute its BGP configuration", async () => {
    // Each ADD and DEL writes node-1's block; what BGP reads of the block (its
    // CIDR, pool, affinity, borrowed addresses) stays the same, so neither
    // agent recomputes (node-agent.ts, blockBgpFacts). Counting both agents:
    // node-2 sees node-1's block events too.
    const up1 = bed.netnsName(`u${n1.index}`);
    const up2 = bed.netnsName(`u${n2.index}`);
    const computations = async (): Promise<number> => {
      const f1 = (await scrapeFrom(up1, `http://10.250.${n1.index}.2:${port1}/metrics`)).fams;
      const f2 = (await scrapeFrom(up2, `http://10.250.${n2.index}.2:${port2}/metrics`)).fams;
      return (
        (value(f1, "trellis_bgp_config_computations_total") ?? 0) +
        (value(f2, "trellis_bgp_config_computations_total") ?? 0)
      );
    };
    const pods = Array.from({ length: 8 }, (_, i) => bed.netnsName(`c${i}`));
    await bed.addNetns(pods);
    const before = await computations();
    // BGP started on both nodes and computed at least once.
    expect(before).toBeGreaterThanOrEqual(2);
    const t0 = Date.now();
    for (const [i, pod] of pods.entries()) {
      const args = k8sArgs("default", `churn-${i}`);
      expect((await cniSocket(a1.socket, podCall("ADD", a1, `c0ffee0${i}`, pod, args))).exitCode).toBe(0);
      // Long enough for the block's write and its watch event (and, before, the 100 ms coalesced recompute).
      await new Promise((r) => setTimeout(r, 250));
      expect((await cniSocket(a1.socket, podCall("DEL", a1, `c0ffee0${i}`, pod, args))).exitCode).toBe(0);
      await new Promise((r) => setTimeout(r, 250));
    }
    const after = await computations();
    // The 10 s safety recompute may fall inside the loop, once per agent per
    // 10 s, and one more per agent is allowed for a recompute already under
    // way when the count was first read. With the filter removed from the
    // compiled agent, this loop counted 32.
    const allowed = 2 * (Math.ceil((Date.now() - t0) / 10_000) + 1);
    expect(after - before).toBeLessThanOrEqual(allowed);
  });

  it("/healthz and /readyz keep answering beside /metrics", async () => {
    expect((await bed.httpInNode(n1.netns, port1, "/healthz")).status).toBe(200);
    expect((await bed.httpInNode(n1.netns, port1, "/readyz")).body).toBe("ok\n");
  });

  it("a metricsAddress that cannot be bound stops the agent at start with the address named", async () => {
    const a = await bed.startAgent(
      "node-3",
      n1.netns,
      { metricsAddress: `0.0.0.0:${port1}` },
      { wait: false },
    );
    const code = await new Promise<number | null>((r) => a.proc.once("exit", (c) => r(c)));
    expect(code).not.toBe(0);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(a.logFile, "utf8")).toMatch(
      /metricsAddress: \\?"0\.0\.0\.0:\d+\\?": cannot listen: EADDRINUSE/,
    );
  });
});
