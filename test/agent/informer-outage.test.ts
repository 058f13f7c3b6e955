/**
 * The agent's ResilientInformer against a real (in-process) lab API server
 * that goes away: (1) a relay that accepts connections and closes them (the
 * lab's socat while the server is down) must not keep the backoff at its
 * minimum; (2) a server that comes back EMPTY (rolled back, lower
 * resourceVersion) must not empty the cache: the list is refused, the guard
 * trips, no delete reaches the consumers, until the store catches up.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { createServer, type Server, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import type { V1Namespace } from "@kubernetes/client-node";
import { KubeClient } from "../../agent/k8s/kube-client.js";
import { parseKubeconfig } from "../../agent/k8s/kubeconfig.js";
import { pino } from "pino";
import { labKubeconfig } from "../../lab/apiserver/kubeconfig.js";
import { startApiServer, type RunningApiServer } from "../../lab/apiserver/server.js";
import { ResilientInformer } from "../../agent/k8s/resilient-informer.js";

const silent = pino({ level: "silent" });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function until<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function server(port = 0): Promise<RunningApiServer> {
  const s = await startApiServer({ port, logger: silent, bookmarkIntervalMs: 100 });
  cleanups.push(() => s.close());
  return s;
}

/** Accepts every connection and closes it at once, like socat with nothing behind it. */
async function closingRelay(port: number): Promise<Server> {
  const socks = new Set<Socket>();
  const srv = createServer((s) => {
    socks.add(s);
    s.destroy();
  });
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        srv.close(() => r());
      }),
  );
  return srv;
}

function informer(url: string, extra: { onRollback?: (n: string, rb: boolean) => void } = {}) {
  const client = new KubeClient(parseKubeconfig(labKubeconfig(url), "lab", readFileSync));
  const deleted: string[] = [];
  const inf = new ResilientInformer<V1Namespace>({
    name: "namespaces",
    client,
    path: "/api/v1/namespaces",
    list: () => client.get("/api/v1/namespaces"),
    log: silent,
    backoffMinMs: 50,
    backoffMaxMs: 5_000,
    onChange: (verb, obj) => {
      if (verb === "delete") deleted.push(obj.metadata?.name ?? "");
    },
    ...extra,
  });
  cleanups.push(async () => {
    await inf.stop();
    client.close();
  });
  return { inf, deleted };
}

const post = (url: string, name: string): Promise<Response> =>
  fetch(`${url}/api/v1/namespaces`, {
    method: "POST",
    body: JSON.stringify({ metadata: { name } }),
    headers: { "Content-Type": "application/json" },
  });

describe("ResilientInformer through an API server outage", () => {
  it("a relay that accepts and closes every connection gets exponential backoff, not the minimum", async () => {
    const a = await server();
    const { inf } = informer(a.url);
    inf.start();
    await inf.waitForSync();
    await post(a.url, "something"); // a delivered event: the informer is fully in sync
    await until("in sync", () => (inf.state.phase === "in-sync" ? true : undefined));
    await a.close();
    await closingRelay(a.port);
    const t0 = inf.restarts;
    await new Promise((r) => setTimeout(r, 3_000));
    const made = inf.restarts - t0;
    // min 50 ms, doubling, equal jitter: at least 50+50+100+200+400+800+1600 ms for 7 retries.
    // A backoff reset on every connect makes ~3000/75 ≈ 40.
    expect(made).toBeGreaterThan(0);
    expect(made).toBeLessThanOrEqual(8);
    expect(inf.state.phase).toBe("lost");
  }, 30_000);

  it("a server that comes back empty (resourceVersion lower than seen) is refused: cache kept, nothing deleted", async () => {
    const a = await server();
    const trips: boolean[] = [];
    const { inf, deleted } = informer(a.url, { onRollback: (_n, rb) => trips.push(rb) });
    inf.start();
    await inf.waitForSync();
    for (let i = 0; i < 20; i++) expect((await post(a.url, `a-${i}`)).status).toBe(201);
    await until("20 namespaces cached", () => (inf.list().length >= 24 ? true : undefined));
    const seen = inf.list().length;
    const port = a.port;
    await a.close();
    // Same address, fresh store: rv starts over.
    const b = await server(port);
    await until("guard tripped", () => (inf.rolledBack !== undefined ? true : undefined));
    expect(trips).toEqual([true]);
    // Hold for a while: the informer keeps refusing, the cache keeps its last good state.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(inf.list()).toHaveLength(seen);
    expect(deleted).toEqual([]);
    expect(inf.rolledBack?.seen).toBeGreaterThan(inf.rolledBack?.got ?? Infinity);
    // The store catches up (writes push its resourceVersion past what was seen): accepted again.
    for (let i = 0; i < 30; i++) await post(b.url, `b-${i}`);
    await until("guard cleared", () => (inf.rolledBack === undefined ? true : undefined), 20_000);
    expect(trips).toEqual([true, false]);
    await until("cache follows the server", () =>
      inf.list().some((n) => n.metadata?.name === "b-29") ? true : undefined,
    );
    // Now, and only now, the consumers hear of what the server no longer has.
    expect(deleted).toContain("a-0");
  }, 60_000);
});
