/**
 * The lab API server keeps every answered write across a crash: `main.js
 * --state-dir` is killed with SIGKILL right after (and during) a burst of
 * writes, started again with the same arguments, and must hold every write
 * it answered, continue its resourceVersion (never backwards), and start
 * after a crash that tore the last log record.
 */
import { afterAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { startApiServer } from "../../lab/apiserver/server.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const main = join(root, "dist/lab/apiserver/main.js");
const crdDir = join(root, "crds/manifests");
const LOG = "apiserver-wal.log";

const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; url: string }> {
  const child = spawn(process.execPath, [main, "--log-level", "warn", ...args]);
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface(child.stdout).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

function kill9(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

async function call(
  url: string,
  path: string,
  method = "GET",
  body?: unknown,
): Promise<{ status: number; body: { metadata?: { resourceVersion?: string }; items?: unknown[] } }> {
  const res = await fetch(url + path, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }
      : {}),
  });
  return { status: res.status, body: (await res.json()) as never };
}

const rvOf = (b: { metadata?: { resourceVersion?: string } }): number => Number(b.metadata?.resourceVersion);

const pod = (name: string, n: number) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "burst", labels: { n: String(n) } },
  spec: { nodeName: "node-1", containers: [{ name: "c", image: "busybox" }] },
});

const pool = (name: string, i: number) => ({
  apiVersion: "trellis.dev/v1alpha1",
  kind: "IPPool",
  metadata: { name },
  spec: { cidr: `10.${100 + i}.0.0/16`, blockSize: 26 },
});

async function tmp(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

describe("the lab API server survives kill -9", () => {
  it("keeps every write it answered, across creates, updates and deletes, and continues the resourceVersion", async () => {
    const dir = await tmp("trellis-apiserver-crash-");
    const args = ["--state-dir", dir, "--crd-dir", crdDir];
    const first = await start(args);
    expect(
      (await call(first.url, "/api/v1/namespaces", "POST", { metadata: { name: "burst" } })).status,
    ).toBe(201);
    // A burst of concurrent creates: pods and custom objects.
    const N = 120;
    const created = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        call(first.url, "/api/v1/namespaces/burst/pods", "POST", pod(`p${i}`, i)),
      ),
    );
    const pools = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(first.url, "/apis/trellis.dev/v1alpha1/ippools", "POST", pool(`pool-${i}`, i)),
      ),
    );
    for (const r of [...created, ...pools]) expect(r.status).toBe(201);
    // Updates and deletes, answered.
    const patch = await fetch(first.url + "/api/v1/namespaces/burst/pods/p1", {
      method: "PATCH",
      body: JSON.stringify({ metadata: { labels: { patched: "yes" } } }),
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(patch.status).toBe(200);
    const deleted = await Promise.all(
      [2, 3, 4].map((i) => call(first.url, `/api/v1/namespaces/burst/pods/p${i}`, "DELETE")),
    );
    for (const d of deleted) expect(d.status).toBe(200);
    const delPool = await call(first.url, "/apis/trellis.dev/v1alpha1/ippools/pool-9", "DELETE");
    expect(delPool.status).toBe(200);
    const lastAnswered = (await call(first.url, "/api/v1/namespaces/burst/pods")).body;
    const rvBefore = rvOf(lastAnswered);

    // Writes still in flight when the process dies: whatever was answered must be kept.
    const inflight = Array.from({ length: 60 }, (_, i) =>
      call(first.url, "/api/v1/namespaces/burst/pods", "POST", pod(`late${i}`, i)).then(
        (r) => (r.status === 201 ? `late${i}` : undefined),
        () => undefined,
      ),
    );
    await new Promise((r) => setTimeout(r, 15));
    await kill9(first.child);
    const answeredLate = (await Promise.all(inflight)).filter((x): x is string => x !== undefined);

    const second = await start(args);
    const pods = await call(second.url, "/api/v1/namespaces/burst/pods");
    const names = new Set(
      (pods.body.items as { metadata: { name: string; labels?: Record<string, string> } }[]).map(
        (p) => p.metadata.name,
      ),
    );
    for (let i = 0; i < N; i++) expect(names.has(`p${i}`)).toBe(![2, 3, 4].includes(i));
    for (const n of answeredLate) expect(names.has(n)).toBe(true);
    const p1 = await call(second.url, "/api/v1/namespaces/burst/pods/p1");
    expect((p1.body.metadata as { labels?: Record<string, string> }).labels?.patched).toBe("yes");
    const poolList = await call(second.url, "/apis/trellis.dev/v1alpha1/ippools");
    expect(
      (poolList.body.items as { metadata: { name: string } }[]).map((p) => p.metadata.name).sort(),
    ).toEqual(Array.from({ length: 9 }, (_, i) => `pool-${i}`).sort());
    // The resourceVersion continues: never below what any client was shown.
    expect(rvOf(pods.body)).toBeGreaterThanOrEqual(rvBefore + answeredLate.length);
    const after = await call(second.url, "/api/v1/namespaces", "POST", { metadata: { name: "after" } });
    expect(rvOf(after.body)).toBeGreaterThan(rvOf(pods.body));
    // A watch from before the crash is expired (relist), not silently resumed.
    const w = await fetch(
      `${second.url}/api/v1/namespaces/burst/pods?watch=1&resourceVersion=${rvBefore - 5}`,
    );
    expect(await w.text()).toContain('"code":410');
    await kill9(second.child);
  }, 60_000);

  it("a crash with a torn last log record starts, keeps the good records and cuts the tail off", async () => {
    const dir = await tmp("trellis-apiserver-torn-");
    const args = ["--state-dir", dir];
    const first = await start(args);
    const ns = await call(first.url, "/api/v1/namespaces", "POST", { metadata: { name: "kept" } });
    expect(ns.status).toBe(201);
    await kill9(first.child);
    const good = (await stat(join(dir, LOG))).size;
    expect(good).toBeGreaterThan(0);
    // Half of a record (no newline), as a crash mid-write leaves it.
    const torn = `0badc0de {"op":"put","rv":999999,"key":"/namespaces","obj":{"metadata":{"name":"ghost"`;
    await appendFile(join(dir, LOG), torn);

    const second = await start(args);
    const list = await call(second.url, "/api/v1/namespaces");
    const names = (list.body.items as { metadata: { name: string } }[]).map((n) => n.metadata.name);
    expect(names).toContain("kept");
    expect(names).not.toContain("ghost");
    expect(rvOf(list.body)).toBeGreaterThanOrEqual(rvOf(ns.body));
    expect(rvOf(list.body)).toBeLessThan(999999);
    expect((await stat(join(dir, LOG))).size).toBe(good);
    // Writes after the repair land after the good records and survive the next crash too.
    expect(
      (await call(second.url, "/api/v1/namespaces", "POST", { metadata: { name: "next" } })).status,
    ).toBe(201);
    await kill9(second.child);
    const third = await start(args);
    const again = (await call(third.url, "/api/v1/namespaces")).body.items as {
      metadata: { name: string };
    }[];
    expect(again.map((n) => n.metadata.name)).toEqual(expect.arrayContaining(["kept", "next"]));
    await kill9(third.child);
  }, 60_000);

  it("after compaction (snapshot + short log) a crash still loses nothing", async () => {
    const dir = await tmp("trellis-apiserver-compact-");
    const args = ["--state-dir", dir, "--compact-bytes", "4096"];
    const first = await start(args);
    await call(first.url, "/api/v1/namespaces", "POST", { metadata: { name: "burst" } });
    for (let round = 0; round < 4; round++) {
      const rs = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(first.url, "/api/v1/namespaces/burst/pods", "POST", pod(`r${round}-${i}`, i)),
        ),
      );
      for (const r of rs) expect(r.status).toBe(201);
    }
    const rvBefore = rvOf((await call(first.url, "/api/v1/namespaces/burst/pods")).body);
    await kill9(first.child);
    // The snapshot exists (compaction ran) and the log holds less than everything.
    const snap = JSON.parse(await readFile(join(dir, "apiserver-state.json"), "utf8")) as {
      resourceVersion: number;
    };
    expect(snap.resourceVersion).toBeGreaterThan(1);
    const second = await start(args);
    const pods = (await call(second.url, "/api/v1/namespaces/burst/pods")).body;
    expect(pods.items).toHaveLength(80);
    expect(rvOf(pods)).toBeGreaterThanOrEqual(rvBefore);
    await kill9(second.child);
  }, 60_000);

  it("a burst is group-committed: far fewer fsyncs than writes, each write answered only once durable", async () => {
    const dir = await tmp("trellis-apiserver-group-");
    const s = await startApiServer({ stateDir: dir, logger: pino({ level: "silent" }) });
    try {
      await call(s.url, "/api/v1/namespaces", "POST", { metadata: { name: "burst" } });
      const before = s.persistence?.stats.commits ?? 0;
      const rs = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          call(s.url, "/api/v1/namespaces/burst/pods", "POST", pod(`g${i}`, i)),
        ),
      );
      for (const r of rs) expect(r.status).toBe(201);
      const commits = (s.persistence?.stats.commits ?? 0) - before;
      expect(commits).toBeGreaterThan(0);
      expect(commits).toBeLessThan(50);
      // Answered means on disk: the log already holds every one of them.
      const log = await readFile(join(dir, LOG), "utf8");
      for (let i = 0; i < 100; i++) expect(log).toContain(`"name":"g${i}"`);
    } finally {
      await s.close();
    }
  }, 60_000);
});
