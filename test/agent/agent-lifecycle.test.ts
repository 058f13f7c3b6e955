/**
 * trellis-node over time: the periodic leak check (two observations, grace
 * period), release of empty blocks with their affinity and blackhole route,
 * and informers that survive an API server outage (restarted with backoff,
 * counted in /metrics) while the agent keeps serving.
 */
import { describe, expect, it } from "@jest/globals";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentProc, cniSocket, netconf, podCall, sh } from "./harness.js";
import { addPod, useOneAgent } from "./bed-lifecycle.js";
import { until as waitUntil } from "../support/until.js";

const one = useOneAgent("al", "10.71.0.0/24", "life");
const bed = one.bed;

const until = <T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> =>
  waitUntil(what, f, timeoutMs, 200);

describe("agent over time", () => {
  it("releases the address of a pod that is gone, after two observations and the grace period", async () => {
    const { netns: pod, answer } = await addPod(one, "ephemeral", "leak1", "p1");
    expect(answer.exitCode).toBe(0);
    // The pod exists: several leak checks pass and keep the address.
    await new Promise((res) => setTimeout(res, 2000));
    expect([...(await bed.allocations()).values()].some((a) => a.handle === "leak1.eth0")).toBe(true);
    // The pod object goes away without a DEL (a missed DEL): the leak check frees the address.
    // gracePeriodSeconds 0: gone at once, as after its kubelet finished it (the real server keeps a
    // pod bound to a node Terminating for its grace period, and this bed has no kubelet).
    await bed.core.deleteNamespacedPod({ name: "ephemeral", namespace: "life", gracePeriodSeconds: 0 });
    const t0 = Date.now();
    await until("leak check release", async () =>
      [...(await bed.allocations()).values()].some((a) => a.handle === "leak1.eth0") ? undefined : true,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // not before the grace period
    await bed.delNetns([pod]);
  }, 40_000);

  it("releases the empty block with its affinity and its blackhole route", async () => {
    await until("empty block release", async () =>
      (await bed.list("ipamblocks")).length === 0 ? true : undefined,
    );
    expect(await bed.list("blockaffinities")).toEqual([]);
    await until("blackhole removed", async () => {
      const out = await sh("ip", [
        "-n",
        one.node.netns,
        "route",
        "show",
        "type",
        "blackhole",
        "proto",
        "201",
      ]);
      return out.trim() === "" ? true : undefined;
    });
  }, 30_000);

  it("survives an API server outage: informers restart (counted) and ADD works again", async () => {
    await bed.restartApi(1500);
    await until("informer restarts counted", async () => {
      const m = (await bed.httpInNode(one.node.netns, one.agent.metricsPort, "/metrics")).body;
      const n = [...m.matchAll(/trellis_informer_restarts_total\{resource="[a-z]+"\} (\d+)/g)].reduce(
        (a, x) => a + Number(x[1]),
        0,
      );
      return n > 0 ? n : undefined;
    });
    const pod = bed.netnsName("p2");
    await bed.addNetns([pod]);
    const r = await until("ADD after the outage", async () => {
      const x = await cniSocket(one.agent.socket, podCall("ADD", one.agent, "after1", pod));
      return x.exitCode === 0 ? x : undefined;
    });
    expect(r.exitCode).toBe(0);
    expect(one.agent.proc.exitCode).toBeNull();
    await cniSocket(one.agent.socket, podCall("DEL", one.agent, "after1", pod));
    await bed.delNetns([pod]);
  }, 40_000);

  it("without the API server it serves CNI but answers not ready: STATUS 50, ADD 11, /readyz 503", async () => {
    const dead = join(bed.dir, "dead-kubeconfig");
    writeFileSync(
      dead,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "d", cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true } },
        ],
        users: [{ name: "d", user: {} }],
        contexts: [{ name: "d", context: { cluster: "d", user: "d" } }],
        "current-context": "d",
      }),
    );
    const lonely = await bed.startAgent("lonely-node", one.node.netns, {}, { wait: false, kubeconfig: dead });
    const st = await until("CNI socket up", async () => {
      const r = await cniSocket(lonely.socket, { command: "STATUS", config: netconf(lonely.socket) }).catch(
        () => undefined,
      );
      return r;
    });
    expect(st.exitCode).toBe(1);
    expect(st.json["code"]).toBe(50);
    expect(String(st.json["msg"])).toMatch(/not ready: waiting for the first sync/);
    const add = await cniSocket(lonely.socket, podCall("ADD", lonely, "nope", "none"));
    expect(add.json["code"]).toBe(11);
    const ready = await bed.httpInNode(one.node.netns, lonely.metricsPort, "/readyz");
    expect(ready.status).toBe(503);
    expect((await bed.httpInNode(one.node.netns, lonely.metricsPort, "/healthz")).status).toBe(200);
    expect(lonely.proc.exitCode).toBeNull();
    await bed.stopAgent(lonely);
  }, 30_000);

  it("a graceful stop (SIGTERM) exits 0 and leaves pods wired; the restarted agent serves their DEL", async () => {
    const pod = bed.netnsName("p3");
    await bed.addNetns([pod]);
    const call = (command: "ADD" | "DEL", a: AgentProc) =>
      cniSocket(a.socket, podCall(command, a, "stay1", pod));
    expect((await call("ADD", one.agent)).exitCode).toBe(0);
    const before = await sh("ip", ["-n", one.node.netns, "-o", "route", "show", "proto", "201"]);
    await bed.stopAgent(one.agent, "SIGTERM");
    expect(one.agent.proc.exitCode).toBe(0);
    // The dataplane stays: veth, host route, pod address.
    expect(await sh("ip", ["-n", one.node.netns, "-o", "route", "show", "proto", "201"])).toBe(before);
    expect(await sh("ip", ["-n", pod, "-4", "-o", "addr", "show", "eth0"])).toMatch(/10\.71\.0\.\d+\/32/);
    one.agent = await bed.startAgent("life-node", one.node.netns, { leakCheckIntervalSeconds: 3600 });
    expect(await sh("ip", ["-n", one.node.netns, "-o", "route", "show", "proto", "201"])).toBe(before);
    expect((await call("DEL", one.agent)).exitCode).toBe(0);
    expect([...(await bed.allocations()).values()].some((a) => a.handle === "stay1.eth0")).toBe(false);
    await bed.delNetns([pod]);
  }, 40_000);
});
