/**
 * Lab API server benchmark: creates/s, list latency at N pods, and watch
 * events/s delivered to 50 concurrent watchers, measured over real HTTP
 * against `main.js` in its own process. There is no kube-apiserver or etcd on
 * these machines, so the peer, run side by side in the same invocation, is
 * the raw ceiling for the same work in-process: the same objects written to
 * a Map, listed from it and fanned out to 50 listeners (serialise once,
 * parse per listener). Ratios (peer / server) say how much the REST layer,
 * HTTP and JSON cost on top of the bare data structure.
 *
 *   TRELLIS_BENCH_FULL=1 → 10,000 pods, 50 watchers, 2,000 updates
 *   default (CI smoke)    →  1,000 pods, 50 watchers,   200 updates
 *   TRELLIS_BENCH_DURABLE=1 → the server runs with --state-dir (as the lab
 *     runs it: every write fsync'd to the write-ahead log before it is
 *     answered, group-committed); results go to apiserver-durable.json
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { Agent, request } from "node:http";

const root = fileURLToPath(new URL("../../../..", import.meta.url));
const FULL = process.env.TRELLIS_BENCH_FULL === "1";
const PODS = Number(process.env.TRELLIS_BENCH_PODS ?? (FULL ? 10_000 : 1_000));
const WATCHERS = 50;
const UPDATES = Number(process.env.TRELLIS_BENCH_UPDATES ?? (FULL ? 2_000 : 200));
const CONCURRENCY = 16;
const DURABLE = process.env.TRELLIS_BENCH_DURABLE === "1";
const LIST_RUNS = 5;

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY + WATCHERS + 4 });

function call(
  base: URL,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const r = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        agent,
        headers:
          data === undefined
            ? {}
            : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    r.on("error", reject);
    if (data !== undefined) r.write(data);
    r.end();
  });
}

function podManifest(i: number): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `pod-${String(i).padStart(5, "0")}`,
      namespace: "bench",
      labels: { app: `app-${i % 20}`, shard: String(i % 7) },
    },
    spec: {
      nodeName: `node-${i % 10}`,
      containers: [{ name: "main", image: "busybox:1.36", ports: [{ containerPort: 8080, name: "http" }] }],
    },
  };
}

async function pool<T>(n: number, worker: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        await worker(i);
      }
    }),
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

interface Row {
  metric: string;
  server: number;
  peer: number;
  unit: string;
  higherIsBetter: boolean;
}

/** What one side of the comparison measured. */
interface BenchNumbers {
  creates: number;
  listMs: number;
  listSelMs: number;
  pagedMs: number;
  eventsPerSec: number;
  updatesPerSec: number;
}

async function benchServer(): Promise<BenchNumbers> {
  const stateDir = DURABLE ? await mkdtemp(join(tmpdir(), "trellis-bench-apiserver-")) : undefined;
  const child = spawn(
    process.execPath,
    [
      ...(process.env.TRELLIS_BENCH_PROFILE !== undefined
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.TRELLIS_BENCH_PROFILE}`]
        : []),
      join(root, "dist/lab/apiserver/main.js"),
      "--log-level",
      "warn",
      "--history",
      String(UPDATES + PODS + 100),
      ...(stateDir !== undefined ? ["--state-dir", stateDir] : []),
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface(child.stdout).once("line", resolve);
      child.once("exit", (c) => reject(new Error(`apiserver exited ${c}`)));
    });
    const base = new URL((JSON.parse(line) as { url: string }).url);
    await call(base, "POST", "/api/v1/namespaces", { metadata: { name: "bench" } });

    let t0 = performance.now();
    await pool(PODS, async (i) => {
      const r = await call(base, "POST", "/api/v1/namespaces/bench/pods", podManifest(i));
      if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.text}`);
    });
    const creates = PODS / ((performance.now() - t0) / 1000);

    const listTimes: number[] = [];
    for (let k = 0; k < LIST_RUNS; k++) {
      t0 = performance.now();
      const r = await call(base, "GET", "/api/v1/namespaces/bench/pods");
      const n = (JSON.parse(r.text) as { items: unknown[] }).items.length;
      if (n !== PODS) throw new Error(`list returned ${n}`);
      listTimes.push(performance.now() - t0);
    }
    const selTimes: number[] = [];
    for (let k = 0; k < LIST_RUNS; k++) {
      t0 = performance.now();
      const r = await call(
        base,
        "GET",
        `/api/v1/pods?labelSelector=${encodeURIComponent("app=app-3")}&fieldSelector=${encodeURIComponent("spec.nodeName=node-3")}`,
      );
      JSON.parse(r.text);
      selTimes.push(performance.now() - t0);
    }
    const pagedTimes: number[] = [];
    for (let k = 0; k < LIST_RUNS; k++) {
      t0 = performance.now();
      let cont = "";
      let total = 0;
      do {
        const r = await call(
          base,
          "GET",
          `/api/v1/namespaces/bench/pods?limit=500${cont === "" ? "" : `&continue=${cont}`}`,
        );
        const page = JSON.parse(r.text) as { items: unknown[]; metadata: { continue?: string } };
        total += page.items.length;
        cont = page.metadata.continue ?? "";
      } while (cont !== "");
      if (total !== PODS) throw new Error(`paged list returned ${total}`);
      pagedTimes.push(performance.now() - t0);
    }

    // 50 watchers from the current resourceVersion, then UPDATES label patches.
    const rv = (
      JSON.parse((await call(base, "GET", "/api/v1/namespaces/bench/pods?limit=1")).text) as {
        metadata: { resourceVersion: string };
      }
    ).metadata.resourceVersion;
    let received = 0;
    const expected = WATCHERS * UPDATES;
    let allDone: () => void = () => {};
    const done = new Promise<void>((r) => (allDone = r));
    const reqs = await Promise.all(
      Array.from(
        { length: WATCHERS },
        () =>
          new Promise<ReturnType<typeof request>>((resolve, reject) => {
            const r = request(
              {
                host: base.hostname,
                port: base.port,
                path: `/api/v1/namespaces/bench/pods?watch=1&resourceVersion=${rv}`,
                agent,
              },
              (res) => {
                res.on("error", () => {}); // destroyed at the end on purpose
                const rl = createInterface(res);
                rl.on("error", () => {});
                rl.on("line", (l) => {
                  const ev = JSON.parse(l) as { type: string };
                  if (ev.type === "MODIFIED" && ++received === expected) allDone();
                });
                resolve(r);
              },
            );
            r.on("error", (e) => (received >= expected ? undefined : reject(e)));
            r.end();
          }),
      ),
    );
    t0 = performance.now();
    await pool(UPDATES, async (i) => {
      const r = await call(
        base,
        "PATCH",
        `/api/v1/namespaces/bench/pods/${(podManifest(i % PODS).metadata as { name: string }).name}`,
        { metadata: { labels: { gen: String(i) } } },
        "application/merge-patch+json",
      );
      if (r.status !== 200) throw new Error(`patch failed: ${r.status} ${r.text}`);
    });
    const updatesPerSec = UPDATES / ((performance.now() - t0) / 1000);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`only ${received}/${expected} events arrived`)), 120_000);
      }),
    ]);
    clearTimeout(timer);
    const eventsPerSec = expected / ((performance.now() - t0) / 1000);
    for (const r of reqs) r.destroy();
    return {
      creates,
      listMs: median(listTimes),
      listSelMs: median(selTimes),
      pagedMs: median(pagedTimes),
      eventsPerSec,
      updatesPerSec,
    };
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    if (stateDir !== undefined) {
      await exited;
      await rm(stateDir, { recursive: true, force: true });
    }
  }
}

/** The raw ceiling: the same objects and work against an in-process Map. */
function benchPeer(): BenchNumbers {
  const map = new Map<string, { obj: Record<string, unknown>; json: string }>();
  let t0 = performance.now();
  for (let i = 0; i < PODS; i++) {
    const body = JSON.stringify(podManifest(i)); // the request body a client sends
    const obj = JSON.parse(body) as { metadata: { name: string; resourceVersion?: string } };
    obj.metadata.resourceVersion = String(i);
    map.set(`bench/${obj.metadata.name}`, { obj, json: JSON.stringify(obj) });
  }
  const creates = PODS / ((performance.now() - t0) / 1000);
  const listTimes: number[] = [];
  for (let k = 0; k < LIST_RUNS; k++) {
    t0 = performance.now();
    const text = `{"items":[${[...map.values()].map((v) => v.json).join(",")}]}`;
    JSON.parse(text);
    listTimes.push(performance.now() - t0);
  }
  const selTimes: number[] = [];
  for (let k = 0; k < LIST_RUNS; k++) {
    t0 = performance.now();
    const sel = [...map.values()].filter((v) => {
      const m = v.obj.metadata as { labels: Record<string, string> };
      return m.labels.app === "app-3" && (v.obj.spec as { nodeName: string }).nodeName === "node-3";
    });
    JSON.parse(`{"items":[${sel.map((v) => v.json).join(",")}]}`);
    selTimes.push(performance.now() - t0);
  }
  const pagedTimes: number[] = [];
  for (let k = 0; k < LIST_RUNS; k++) {
    t0 = performance.now();
    const all = [...map.values()];
    for (let i = 0; i < all.length; i += 500)
      JSON.parse(
        `{"items":[${all
          .slice(i, i + 500)
          .map((v) => v.json)
          .join(",")}]}`,
      );
    pagedTimes.push(performance.now() - t0);
  }
  const listeners: ((line: string) => void)[] = [];
  let received = 0;
  for (let w = 0; w < WATCHERS; w++) listeners.push((l) => void (JSON.parse(l) && received++));
  t0 = performance.now();
  for (let i = 0; i < UPDATES; i++) {
    const key = `bench/${(podManifest(i % PODS).metadata as { name: string }).name}`;
    const cur = map.get(key);
    if (cur === undefined) throw new Error("missing");
    const obj = structuredClone(cur.obj) as { metadata: { labels: Record<string, string> } };
    obj.metadata.labels.gen = String(i);
    const json = JSON.stringify(obj);
    map.set(key, { obj, json });
    const line = `{"type":"MODIFIED","object":${json}}`;
    for (const l of listeners) l(line);
  }
  const secs = (performance.now() - t0) / 1000;
  return {
    creates,
    listMs: median(listTimes),
    listSelMs: median(selTimes),
    pagedMs: median(pagedTimes),
    eventsPerSec: (WATCHERS * UPDATES) / secs,
    updatesPerSec: UPDATES / secs,
  };
}

async function main(): Promise<void> {
  const peer = benchPeer();
  const server = await benchServer();
  const rows: Row[] = [
    {
      metric: `creates/s (${PODS} pods, ${CONCURRENCY} in flight)`,
      server: server.creates,
      peer: peer.creates,
      unit: "1/s",
      higherIsBetter: true,
    },
    {
      metric: `list ${PODS} pods (median of ${LIST_RUNS})`,
      server: server.listMs,
      peer: peer.listMs,
      unit: "ms",
      higherIsBetter: false,
    },
    {
      metric: `list all ns, label+field selector`,
      server: server.listSelMs,
      peer: peer.listSelMs,
      unit: "ms",
      higherIsBetter: false,
    },
    {
      metric: `list ${PODS} pods in pages of 500`,
      server: server.pagedMs,
      peer: peer.pagedMs,
      unit: "ms",
      higherIsBetter: false,
    },
    {
      metric: `updates/s with ${WATCHERS} watchers`,
      server: server.updatesPerSec,
      peer: peer.updatesPerSec,
      unit: "1/s",
      higherIsBetter: true,
    },
    {
      metric: `events/s delivered to ${WATCHERS} watchers`,
      server: server.eventsPerSec,
      peer: peer.eventsPerSec,
      unit: "1/s",
      higherIsBetter: true,
    },
  ];
  const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  const header = `| metric | lab apiserver (HTTP) | in-process Map (ceiling) | ceiling / server |`;
  const lines = [header, "|---|---:|---:|---:|"];
  for (const r of rows) {
    const ratio = r.higherIsBetter ? r.peer / r.server : r.server / r.peer;
    lines.push(
      `| ${r.metric} | ${fmt(r.server)} ${r.unit} | ${fmt(r.peer)} ${r.unit} | ${ratio.toFixed(1)}× |`,
    );
  }
  process.stdout.write(lines.join("\n") + "\n");
  const out = join(root, "test/bench/results");
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, DURABLE ? "apiserver-durable.json" : "apiserver.json"),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        durable: DURABLE,
        full: FULL,
        pods: PODS,
        watchers: WATCHERS,
        updates: UPDATES,
        concurrency: CONCURRENCY,
        node: process.version,
        rows: rows.map((r) => ({ ...r, ratio: r.higherIsBetter ? r.peer / r.server : r.server / r.peer })),
      },
      null,
      2,
    ) + "\n",
  );
  agent.destroy();
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
