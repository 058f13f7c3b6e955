/**
 * trellis-node when the API server comes back with a store that went
 * backwards (lost its data, an old backup): the agent must not act on it.
 * A pod is wired (address, host route, blackhole route of its block); the API
 * server restarts EMPTY. The agent refuses the lower resourceVersion: not
 * ready with a reason, CNI refuses with "try again", the guard shows in
 * /metrics, and nothing is released or swept (the block's blackhole route
 * stays, the leak check releases nothing) — until the old store is back.
 */
import { describe, expect, it } from "@jest/globals";
import { cniSocket, netconf, sh } from "./harness.js";
import { addPod, useOneAgent } from "./bed-lifecycle.js";
import { until as waitUntil } from "../support/until.js";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

const one = useOneAgent("rb", "10.73.0.0/24", "rb");
const bed = one.bed;

const until = <T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> =>
  waitUntil(what, f, timeoutMs, 200);

const blackholes = async (): Promise<string> =>
  (await sh("ip", ["-n", one.node.netns, "route", "show", "type", "blackhole", "proto", "201"])).trim();

describe("agent and a rolled-back API server", () => {
  it("refuses to act on an empty store: not ready, nothing released or swept, until the store is back", async () => {
    const { answer } = await addPod(one, "keeper", "keep1", "k1");
    expect(answer.exitCode).toBe(0);
    await until("blackhole of the block", async () => ((await blackholes()) !== "" ? true : undefined));
    const routesBefore = await blackholes();

    // The agent sees a resourceVersion well above where an empty store starts (its pod changes).
    await bed.advanceResourceVersion(5000);
    await bed.core.patchNamespacedPod(
      { namespace: "rb", name: "keeper", body: { metadata: { labels: { seen: "yes" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await new Promise((r) => setTimeout(r, 500));
    // The API server comes back with nothing: its resourceVersion starts over.
    await bed.restartApi(200, "empty");
    const ready = await until("agent not ready (rollback)", async () => {
      const r = await bed.httpInNode(one.node.netns, one.agent.metricsPort, "/readyz");
      return r.status === 503 && /went backwards/.test(r.body) ? r : undefined;
    });
    expect(ready.body).toMatch(/restart the agent/);
    const m = (await bed.httpInNode(one.node.netns, one.agent.metricsPort, "/metrics")).body;
    expect(m).toMatch(/^trellis_informer_store_rolled_back\{resource="pods"\} 1$/m);
    expect(m).toMatch(/^trellis_agent_ready 0$/m);
    // CNI answers "try again later" rather than allocating from an empty store.
    const status = await cniSocket(one.agent.socket, {
      command: "STATUS",
      config: netconf(one.agent.socket),
    });
    expect(status.exitCode).not.toBe(0);
    // Several leak checks and empty-block grace periods pass: nothing is released, nothing swept.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await blackholes()).toBe(routesBefore);
    const m2 = (await bed.httpInNode(one.node.netns, one.agent.metricsPort, "/metrics")).body;
    expect(m2).toMatch(/^trellis_ipam_leak_releases_total 0$/m);
    expect(one.agent.proc.exitCode).toBeNull();
    const log = (await sh("cat", [one.agent.logFile])).toString();
    expect(log.match(/store went backwards/g)?.length ?? 0).toBeGreaterThanOrEqual(1);

    // The real store is back (higher resourceVersion): the agent resumes on its own.
    await bed.restartApi(200, "restored");
    await bed.waitReady(one.agent, 30_000);
    const r = await bed.httpInNode(one.node.netns, one.agent.metricsPort, "/readyz");
    expect(r.status).toBe(200);
    expect(await blackholes()).toBe(routesBefore);
    expect([...(await bed.allocations()).values()].some((a) => a.handle === "keep1.eth0")).toBe(true);
  }, 180_000);
});
