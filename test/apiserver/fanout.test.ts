/**
 * 50 concurrent watchers (the scale target, at CI size): every
 * watcher receives every event exactly once, in resourceVersion order, and
 * selector watchers only their share. Correctness only; throughput is the
 * benchmark's business (npm run bench:apiserver).
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { request } from "node:http";
import { createInterface } from "node:readline";
import { startHarness, raw, type Harness } from "./harness.js";

let h: Harness;
const WATCHERS = 50;
const PODS = 200;
const UPDATES = 100;

beforeAll(async () => {
  h = await startHarness({ historySize: 5000 });
  await raw(h.url, "/api/v1/namespaces", {
    method: "POST",
    body: JSON.stringify({ metadata: { name: "fan" } }),
    headers: { "Content-Type": "application/json" },
  });
});

afterAll(async () => {
  await h.stop();
});

function post(
  path: string,
  body: unknown,
  method = "POST",
  contentType = "application/json",
): Promise<number> {
  return raw(h.url, path, {
    method,
    body: JSON.stringify(body),
    headers: { "Content-Type": contentType },
  }).then((r) => r.status);
}

describe("fan-out to 50 watchers", () => {
  it("delivers every event to every watcher once and in order", async () => {
    const rv = (
      (await raw(h.url, "/api/v1/namespaces/fan/pods")).body as {
        metadata: { resourceVersion: string };
      }
    ).metadata.resourceVersion;
    const url = new URL(h.url);
    const seen: string[][] = Array.from({ length: WATCHERS }, () => []);
    const total = PODS + UPDATES;
    const reqs: ReturnType<typeof request>[] = [];
    const done = Promise.all(
      seen.map(
        (list, w) =>
          new Promise<void>((resolve, reject) => {
            // Odd watchers select half the pods by label.
            const sel = w % 2 === 1 ? "&labelSelector=half%3Dyes" : "";
            const r = request(
              {
                host: url.hostname,
                port: url.port,
                path: `/api/v1/namespaces/fan/pods?watch=1&resourceVersion=${rv}${sel}`,
              },
              (res) => {
                res.on("error", () => {});
                const rl = createInterface(res);
                rl.on("error", () => {});
                rl.on("line", (l) => {
                  const ev = JSON.parse(l) as {
                    type: string;
                    object: { metadata: { name: string; resourceVersion: string } };
                  };
                  list.push(`${ev.type} ${ev.object.metadata.name} ${ev.object.metadata.resourceVersion}`);
                  if (list.length === (w % 2 === 1 ? total / 2 : total)) resolve();
                });
              },
            );
            r.on("error", reject);
            r.end();
            reqs.push(r);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < PODS; i++) {
      const status = await post("/api/v1/namespaces/fan/pods", {
        metadata: { name: `p${i}`, labels: { half: i % 2 === 0 ? "yes" : "no" } },
        spec: { containers: [{ name: "c", image: "i" }] },
      });
      expect(status).toBe(201);
    }
    for (let i = 0; i < UPDATES; i++)
      expect(
        await post(
          `/api/v1/namespaces/fan/pods/p${i}`,
          { metadata: { annotations: { n: String(i) } } },
          "PATCH",
          "application/merge-patch+json",
        ),
      ).toBe(200);
    await done;
    for (const r of reqs) r.destroy();
    const all = seen[0] ?? [];
    expect(all).toHaveLength(total);
    for (let w = 2; w < WATCHERS; w += 2) expect(seen[w]).toEqual(all);
    const half = all.filter((e) => Number(e.split(" ")[1]?.slice(1)) % 2 === 0);
    for (let w = 1; w < WATCHERS; w += 2) expect(seen[w]).toEqual(half);
    const rvs = all.map((e) => Number(e.split(" ")[2]));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(new Set(rvs).size).toBe(total);
  });
});
