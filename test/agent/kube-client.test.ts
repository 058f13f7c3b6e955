/**
 * The agent's Kubernetes client (agent/k8s/kube-client.ts) against the
 * test bed's API server (the real kube-apiserver when built, through its
 * TLS admin kubeconfig): every verb the agent uses, the compare-and-swap
 * conflict, JSON and merge patches, and a watch. (410 Gone: every watch
 * the resilient informer ends is answered as a 410 and relists, so the
 * informer tests and the lab's outage tests go through that path.)
 */
import { describe, expect, it } from "@jest/globals";
import { KubeClient } from "../../agent/k8s/kube-client.js";
import { KubeApiError, resourcePath } from "../../agent/k8s/kube-request.js";
import type { WatchEvent } from "../../agent/k8s/kube-request.js";
import { TestBed } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";

const bed = new TestBed("kc");
useTestBed(bed);

interface ConfigMap {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

const cm = (name?: string): string =>
  resourcePath({
    group: "",
    version: "v1",
    plural: "configmaps",
    namespace: "default",
    ...(name ? { name } : {}),
  });

async function refused(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KubeApiError) return e;
    throw e;
  }
  throw new Error("expected a KubeApiError");
}

describe("KubeClient against the API server", () => {
  it("create, get, replace as a compare-and-swap (409 on a stale resourceVersion), patch, delete", async () => {
    const c = KubeClient.fromFile(bed.kubeconfig);
    try {
      const made = await c.create<ConfigMap>(cm(), { metadata: { name: "kc-a" }, data: { a: "1" } });
      const rv = made.metadata.resourceVersion ?? "";
      expect((await refused(c.create(cm(), { metadata: { name: "kc-a" } }))).code).toBe(409);
      const moved = await c.replace<ConfigMap>(cm("kc-a"), {
        metadata: { name: "kc-a", resourceVersion: rv },
        data: { a: "2" },
      });
      const lost = await refused(
        c.replace(cm("kc-a"), { metadata: { name: "kc-a", resourceVersion: rv }, data: { a: "3" } }),
      );
      expect([lost.code, typeof lost.body === "object" ? lost.body.reason : lost.body]).toEqual([
        409,
        "Conflict",
      ]);
      expect(lost.message).toMatch(/^PUT \/api\/v1\/namespaces\/default\/configmaps\/kc-a: HTTP 409: /);
      await c.patch(cm("kc-a"), "merge", { data: { b: "x" } });
      await c.patch(cm("kc-a"), "json", [{ op: "replace", path: "/data/a", value: "4" }]);
      expect((await c.get<ConfigMap>(cm("kc-a"))).data).toEqual({ a: "4", b: "x" });
      const stale = { preconditions: { resourceVersion: moved.metadata.resourceVersion } };
      expect((await refused(c.delete(cm("kc-a"), stale))).code).toBe(409);
      await c.delete(cm("kc-a"));
      const gone = await refused(c.get(cm("kc-a")));
      expect([gone.code, gone.statusCode]).toEqual([404, 404]);
    } finally {
      c.close();
    }
  });

  it("a watch from a list's resourceVersion delivers what changes after it; an abort ends it without done", async () => {
    const c = KubeClient.fromFile(bed.kubeconfig);
    try {
      const list = await c.get<{ metadata: { resourceVersion: string } }>(cm());
      const seen: WatchEvent[] = [];
      let ended: unknown = "open";
      const h = c.watch(
        cm(),
        { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
        (ev) => seen.push(ev),
        (e) => (ended = e),
      );
      await c.create(cm(), { metadata: { name: "kc-w" } });
      const deadline = Date.now() + 20_000;
      while (!seen.some((e) => e.type === "ADDED") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(seen.find((e) => e.type === "ADDED")?.object).toMatchObject({ metadata: { name: "kc-w" } });
      h.abort();
      // An abort is the caller's own: no done, not even once the aborted
      // request's close and error events have run (a few turns later).
      await new Promise((r) => setTimeout(r, 200));
      expect(ended).toBe("open");
    } finally {
      c.close();
    }
  });
});
