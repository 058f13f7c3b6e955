/**
 * client-node's informer (makeInformer → ListWatch) across an expired watch:
 * with a tiny event history, a watch that resumes from an old
 * resourceVersion gets an ERROR event with a 410 Expired Status; the informer
 * must relist and end up with exactly the server's objects, firing delete
 * for what vanished while it was away.
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { CoreV1Api, makeInformer, type V1ConfigMap } from "@kubernetes/client-node";
import { raw, startHarness, type Harness } from "./harness.js";

let h: Harness;
let core: CoreV1Api;

beforeAll(async () => {
  h = await startHarness({ historySize: 5 });
  core = h.kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "inf" } } });
});

afterAll(async () => {
  await h.stop();
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("watch history", () => {
  it("answers a watch from an evicted resourceVersion with an ERROR event carrying 410 Expired", async () => {
    const rv = (await core.listNamespacedConfigMap({ namespace: "inf" })).metadata?.resourceVersion ?? "";
    for (let i = 0; i < 8; i++)
      await core.createNamespacedConfigMap({ namespace: "inf", body: { metadata: { name: `old-${i}` } } });
    const r = await raw(h.url, `/api/v1/namespaces/inf/configmaps?watch=true&resourceVersion=${rv}`);
    expect(r.status).toBe(200);
    const lines = r.text.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      type: "ERROR",
      object: { kind: "Status", code: 410, reason: "Expired" },
    });
    for (let i = 0; i < 8; i++) await core.deleteNamespacedConfigMap({ namespace: "inf", name: `old-${i}` });
  });
});

describe("informer", () => {
  it("relists after a 410 and converges on the server's state", async () => {
    for (const n of ["keep", "change", "drop"])
      await core.createNamespacedConfigMap({
        namespace: "inf",
        body: { metadata: { name: n }, data: { v: "1" } },
      });
    let lists = 0;
    const informer = makeInformer<V1ConfigMap>(h.kc, "/api/v1/namespaces/inf/configmaps", () => {
      lists++;
      return core.listNamespacedConfigMap({ namespace: "inf" });
    });
    const added: string[] = [];
    const deleted: string[] = [];
    const errors: unknown[] = [];
    informer.on("add", (o) => added.push(o.metadata?.name ?? ""));
    informer.on("delete", (o) => deleted.push(o.metadata?.name ?? ""));
    informer.on("error", (e) => errors.push(e));
    await informer.start();
    await until(() => informer.list().length === 3);
    expect(lists).toBe(1);

    // Disconnect, let the history move far past the informer's resourceVersion, reconnect.
    await informer.stop();
    await core.deleteNamespacedConfigMap({ namespace: "inf", name: "drop" });
    await core.replaceNamespacedConfigMap({
      namespace: "inf",
      name: "change",
      body: { metadata: { name: "change" }, data: { v: "2" } },
    });
    for (let i = 0; i < 10; i++)
      await core.createNamespacedConfigMap({ namespace: "inf", body: { metadata: { name: `new-${i}` } } });
    const errorsBefore = errors.length;
    await informer.start();
    await until(() => lists === 2 && informer.list().length === 12);
    expect(errors.length).toBe(errorsBefore); // a 410 is not an error: it is a relist
    const names = informer
      .list()
      .map((o) => o.metadata?.name)
      .sort();
    expect(names).toEqual(["change", "keep", ...Array.from({ length: 10 }, (_, i) => `new-${i}`)]);
    expect(informer.get("change", "inf")?.data).toEqual({ v: "2" });
    expect(deleted).toContain("drop");
    expect(added).toContain("new-9");

    // And it keeps watching after the relist.
    await core.createNamespacedConfigMap({ namespace: "inf", body: { metadata: { name: "after" } } });
    await until(() => informer.get("after", "inf") !== undefined);
    await informer.stop();
  });
});
