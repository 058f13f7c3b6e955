// End to end, as root: `lab up --control-plane real` (etcd, kube-apiserver,
// kube-controller-manager built by scripts/build-k8s) with 2 Trellis nodes:
// kubectl through DIR/kubeconfig (TLS, admin certificate) reports the pinned
// release; the CRDs are installed through the API; the nodes and agents come
// up through the relays; pods in a fresh namespace are admitted once the
// controller manager made its ServiceAccount, get addresses from their
// node's blocks and reach each other across the ToR; deleting the namespace
// deletes its pods (namespace controller); lab down leaves nothing.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { labPrefix } from "../../lab/lab-names.js";
import { readVersions } from "../../lab/controlplane/versions.js";
import { type Run, run } from "./lab-run.js";

const CLI = fileURLToPath(new URL("../../cli/trellisctl.js", import.meta.url));
const isRoot = process.getuid?.() === 0;
const maybe = isRoot && existsSync("/usr/sbin/bird") ? describe : describe.skip;

const trellisctl = (args: string[], timeoutMs?: number): Promise<Run> =>
  run(process.execPath, [CLI, ...args], undefined, timeoutMs);

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

const PODS = `
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: real, labels: {app: a}}
spec:
  nodeName: node-1
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: real, labels: {app: b}}
spec:
  nodeName: node-2
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
`;

maybe("lab up --control-plane real (root, network namespaces)", () => {
  const base = mkdtempSync(join(tmpdir(), "trellis-lab-real-"));
  const dir = join(base, "lab");
  const kubectl = (args: string[], input?: string): Promise<Run> =>
    run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), ...args], input);

  beforeAll(async () => {
    const t0 = Date.now();
    // Builds the binaries first when scripts/bootstrap has not (minutes, once).
    const r = await trellisctl(
      ["lab", "up", "--nodes", "2", "--dir", dir, "--control-plane", "real"],
      60 * 60_000,
    );
    if (r.code !== 0) throw new Error(`lab up failed: ${r.err}`);
    console.log(`lab up --control-plane real: ${Math.round((Date.now() - t0) / 1000)} s`);
  }, 60 * 60_000);

  afterAll(async () => {
    await trellisctl(["lab", "down", "--dir", dir]);
    rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it("DIR/kubeconfig is https with a client certificate, and kubectl version reports the pinned release", async () => {
    const kc = readFileSync(join(dir, "kubeconfig"), "utf8");
    expect(kc).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/);
    expect(kc).toMatch(/client-certificate-data:/);
    const r = await kubectl(["version", "-o", "json"]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion).toBe(
      readVersions().kubernetes,
    );
  });

  it("the lab is healthy: both nodes Ready, both agents ready, the CRDs served", async () => {
    const s = await trellisctl(["lab", "status", "--dir", dir, "-o", "json"]);
    expect(s.code).toBe(0);
    const r = await kubectl(["get", "crd", "-o", "name"]);
    for (const crd of [
      "ippools.trellis.dev",
      "ipamblocks.trellis.dev",
      "adminnetworkpolicies.policy.networking.k8s.io",
    ])
      expect(r.out).toContain(`customresourcedefinition.apiextensions.k8s.io/${crd}`);
  });

  it("pods in a new namespace are admitted, get addresses from their node's pod CIDR and reach each other", async () => {
    expect((await kubectl(["create", "namespace", "real"])).code).toBe(0);
    // the serviceaccount controller makes `default`; the ServiceAccount admission plugin needs it
    await waitFor("the ServiceAccount real/default", async () =>
      (await kubectl(["get", "serviceaccount", "default", "-n", "real"])).code === 0 ? true : undefined,
    );
    const apply = await kubectl(["apply", "-f", "-"], PODS);
    expect(`${apply.code} ${apply.err}`).toBe("0 ");
    const ips = await waitFor("both pods Running with an address", async () => {
      const r = await kubectl(["get", "pods", "-n", "real", "-o", "json"]);
      const items = (
        JSON.parse(r.out) as {
          items: { metadata: { name: string }; status: { phase?: string; podIP?: string } }[];
        }
      ).items;
      if (
        items.length !== 2 ||
        items.some((p) => p.status.phase !== "Running" || p.status.podIP === undefined)
      )
        return undefined;
      return Object.fromEntries(items.map((p) => [p.metadata.name, p.status.podIP ?? ""]));
    });
    expect(ips["a"]).toMatch(/^10\.244\.1\./);
    expect(ips["b"]).toMatch(/^10\.244\.2\./);
    const p = await trellisctl([
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "real/a",
      "--to",
      "real/b",
      "--port",
      "8080",
    ]);
    expect(`${p.code} ${p.out}`).toMatch(/^0 /);
  });

  it("deleting the namespace deletes its pods, then the namespace (the namespace controller)", async () => {
    expect((await kubectl(["delete", "namespace", "real", "--wait=false"])).code).toBe(0);
    // Graceful pod deletion (30 s) and the controller's requeue make this take a minute or two.
    await waitFor(
      "the pods of namespace real gone",
      async () => {
        const r = await kubectl(["get", "pods", "-n", "real", "-o", "name"]);
        return r.code === 0 && r.out.trim() === "" ? true : undefined;
      },
      170_000,
    );
    await waitFor(
      "namespace real gone",
      async () => ((await kubectl(["get", "namespace", "real"])).code !== 0 ? true : undefined),
      170_000,
    );
  }, 360_000);

  it("lab down stops the control plane and removes DIR/controlplane", async () => {
    const r = await trellisctl(["lab", "down", "--dir", dir]);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "controlplane"))).toBe(false);
    const left = await run("pgrep", ["-af", `${dir}/`]);
    expect(left.out.trim()).toBe("");
    const ns = await run("ip", ["netns", "list"]);
    expect(ns.out).not.toContain(labPrefix(dir));
  });
});
