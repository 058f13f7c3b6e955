/**
 * The API server as the lab runs it: `node dist/lab/apiserver/main.js`,
 * one JSON line on stdout, CRDs registered from --crd-dir (the upstream
 * policy CRDs among them), plain HTTP on a unix socket too, state saved on
 * SIGTERM and restored at the next start, usage errors exit 2.
 */
import { describe, it, expect, afterAll } from "@jest/globals";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { request } from "node:http";
import { mkdtemp, rm, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const root = fileURLToPath(new URL("../../..", import.meta.url)); // dist/test/apiserver → repo root
const main = join(root, "dist/lab/apiserver/main.js");
const upstream = join(root, "crds/upstream");
const fixtures = join(root, "test/apiserver/fixtures/crds");

const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(
  args: string[],
): Promise<{ child: ChildProcessWithoutNullStreams; url: string; port: number }> {
  const child = spawn(process.execPath, [main, "--log-level", "warn", ...args]);
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface(child.stdout);
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`exited ${code}`)));
  });
  const parsed = JSON.parse(line) as { url: string; port: number };
  return { child, ...parsed };
}

function exit(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

async function req(
  url: string,
  path: string,
  method = "GET",
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url + path, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }
      : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function overUnixSocket(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ socketPath, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on("error", reject);
    r.end();
  });
}

const ANP = {
  apiVersion: "policy.networking.k8s.io/v1alpha1",
  kind: "AdminNetworkPolicy",
  metadata: { name: "deny-db" },
  spec: {
    priority: 10,
    subject: { namespaces: { matchLabels: { tier: "db" } } },
    ingress: [{ name: "deny-all", action: "Deny", from: [{ namespaces: {} }] }],
  },
};

describe("main.js", () => {
  it("prints one JSON line, serves the upstream policy CRDs and the unix socket, and restores its state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trellis-apiserver-main-"));
    dirs.push(dir);
    const sock = join(dir, "api.sock");
    const state = join(dir, "state");
    const args = [
      "--address",
      "127.0.0.1",
      "--port",
      "0",
      "--unix-socket",
      sock,
      "--state-dir",
      state,
      "--crd-dir",
      upstream,
      "--crd-dir",
      fixtures,
      "--history",
      "100",
    ];
    const s = await start(args);
    expect(s.url).toBe(`http://127.0.0.1:${s.port}`);

    const groups = await req(s.url, "/apis/policy.networking.k8s.io");
    expect(groups.body).toMatchObject({
      name: "policy.networking.k8s.io",
      preferredVersion: { version: "v1beta1" },
    });
    const v1a1 = JSON.stringify((await req(s.url, "/apis/policy.networking.k8s.io/v1alpha1")).body);
    expect(v1a1).toContain(
      '"name":"adminnetworkpolicies","singularName":"adminnetworkpolicy","namespaced":false,"kind":"AdminNetworkPolicy"',
    );
    expect(v1a1).toContain('"name":"baselineadminnetworkpolicies"');
    expect(v1a1).toContain('"name":"adminnetworkpolicies/status"');
    for (const v of ["v1beta1", "v1alpha2"]) {
      const doc = JSON.stringify((await req(s.url, `/apis/policy.networking.k8s.io/${v}`)).body);
      expect(doc).toContain(
        '"name":"clusternetworkpolicies","singularName":"clusternetworkpolicy","namespaced":false,"kind":"ClusterNetworkPolicy"',
      );
    }
    expect((await req(s.url, "/apis/fixture.example.com/v1")).status).toBe(200);
    expect((await req(s.url, "/api/v1/namespaces/default/configmaps/not-a-crd")).status).toBe(404);

    const created = await req(
      s.url,
      "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies",
      "POST",
      ANP,
    );
    expect(created.status).toBe(201);
    const bad = await req(s.url, "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies", "POST", {
      ...ANP,
      metadata: { name: "bad" },
      spec: { ...ANP.spec, priority: 5000, ingress: [{ action: "Maybe", from: [{}] }] },
    });
    expect(bad.status).toBe(422);
    const fields = (bad.body.details as { causes: { field: string }[] }).causes.map((c) => c.field);
    expect(fields).toEqual(expect.arrayContaining(["spec.priority", "spec.ingress[0].action"]));
    const cnp = await req(s.url, "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies", "POST", {
      apiVersion: "policy.networking.k8s.io/v1alpha2",
      kind: "ClusterNetworkPolicy",
      metadata: { name: "cnp" },
      spec: { tier: "Admin", priority: 1, subject: { namespaces: {} } },
    });
    expect(cnp.status).toBe(201);
    expect(
      (await req(s.url, "/apis/policy.networking.k8s.io/v1beta1/clusternetworkpolicies/cnp")).body.apiVersion,
    ).toBe("policy.networking.k8s.io/v1beta1");

    const viaSocket = await overUnixSocket(
      sock,
      "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies/deny-db",
    );
    expect(viaSocket.status).toBe(200);
    expect(JSON.parse(viaSocket.body)).toMatchObject({ metadata: { name: "deny-db" } });

    const list = await req(s.url, "/api/v1/namespaces");
    const rvBefore = Number((list.body.metadata as { resourceVersion: string }).resourceVersion);
    s.child.kill("SIGTERM");
    expect(await exit(s.child)).toBe(0);
    const saved = JSON.parse(await readFile(join(state, "apiserver-state.json"), "utf8")) as {
      resourceVersion: number;
    };
    expect(saved.resourceVersion).toBe(rvBefore);

    const again = await start(args);
    const anp = await req(again.url, "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies/deny-db");
    expect(anp.status).toBe(200);
    expect(anp.body.spec).toEqual(ANP.spec);
    const ns = await req(again.url, "/api/v1/namespaces", "POST", { metadata: { name: "after-restart" } });
    expect(Number((ns.body.metadata as { resourceVersion: string }).resourceVersion)).toBeGreaterThan(
      rvBefore,
    );
    // A watch from before the restart cannot be resumed: 410, and clients relist.
    const w = await fetch(`${again.url}/api/v1/namespaces?watch=1&resourceVersion=2`);
    expect(await w.text()).toContain('"code":410');
    again.child.kill("SIGTERM");
    expect(await exit(again.child)).toBe(0);
  });

  it("saves state periodically, so a killed server loses at most the last interval", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trellis-apiserver-save-"));
    dirs.push(dir);
    const { startApiServer } = await import("../../lab/apiserver/server.js");
    const { pino } = await import("pino");
    const s = await startApiServer({
      stateDir: dir,
      stateSaveIntervalMs: 100,
      logger: pino({ level: "silent" }),
    });
    try {
      await req(s.url, "/api/v1/namespaces", "POST", { metadata: { name: "saved" } });
      const end = Date.now() + 10_000;
      let text = "";
      while (!text.includes('"saved"') && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        text = await readFile(join(dir, "apiserver-state.json"), "utf8").catch(() => "");
      }
      expect(text).toContain('"saved"');
    } finally {
      await s.close();
    }
  });

  it.each([[["--port", "nope"]], [["--bogus"]], [["--history", "0"]], [["stray"]]])(
    "exits 2 with usage on bad flags %j",
    async (args) => {
      const child = spawn(process.execPath, [main, ...args]);
      children.push(child);
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      expect(await exit(child)).toBe(2);
      expect(stderr).toContain("usage:");
    },
  );
});
