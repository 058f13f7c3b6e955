/**
 * The lab under `--cni trellis`: real trellis-node agents in two node
 * namespaces, the lab's kubelet stand-in exec'ing the static shim, block
 * IPAM on the lab API server. Pods applied with kubectl get addresses from
 * their node's blocks, `kubectl get ipamblocks` shows the blocks, pods reach
 * each other across nodes, and deleting a pod frees its address.
 * (The lab names its namespaces itself, "tl" + a hash of the lab dir.)
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../agent/harness.js";

const CLI = join(ROOT, "dist/cli/trellisctl.js");
const base = mkdtempSync(join(tmpdir(), "tAlab-"));
const dir = join(base, "lab");

interface Run {
  code: number;
  out: string;
  err: string;
}

function run(cmd: string, args: readonly string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const c = execFile(cmd, [...args], { timeout: 120_000, maxBuffer: 32 << 20 }, (e, out, err) =>
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : 1, out, err }),
    );
    if (input !== undefined) c.stdin?.end(input);
  });
}

const trellisctl = (...args: string[]): Promise<Run> => run(process.execPath, [CLI, ...args]);
const kubectl = (...args: string[]): Promise<Run> =>
  run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), ...args]);

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const PODS = ["a", "b"]
  .map(
    (x, i) => `---
apiVersion: v1
kind: Pod
metadata: {name: web-${x}, namespace: tatrellis}
spec:
  nodeName: node-${i + 1}
  containers: [{name: web, image: busybox, ports: [{containerPort: 8080}]}]
`,
  )
  .join("");

interface PodList {
  items: { metadata: { name: string }; status?: { phase?: string; podIPs?: { ip: string }[] } }[];
}

beforeAll(async () => {
  const up = await trellisctl("lab", "up", "--nodes", "2", "--cni", "trellis", "--dir", dir);
  if (up.code !== 0) throw new Error(`lab up failed: ${up.err}`);
}, 120_000);

afterAll(async () => {
  await trellisctl("lab", "down", "--dir", dir);
  rmSync(base, { recursive: true, force: true });
}, 120_000);

describe("lab --cni trellis", () => {
  let ips: Map<string, string[]>;

  it("pods get addresses from their node's blocks; kubectl get ipamblocks shows them", async () => {
    expect(
      (
        await run(
          "kubectl",
          ["--kubeconfig", join(dir, "kubeconfig"), "apply", "-f", "-"],
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: tatrellis}\n",
        )
      ).code,
    ).toBe(0);
    expect(
      (await run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), "apply", "-f", "-"], PODS)).code,
    ).toBe(0);
    ips = await until("pods Running with addresses", async () => {
      const r = await kubectl("get", "pods", "-n", "tatrellis", "-o", "json");
      const l = JSON.parse(r.out) as PodList;
      const running = l.items.filter(
        (p) => p.status?.phase === "Running" && (p.status.podIPs?.length ?? 0) === 2,
      );
      return running.length === 2
        ? new Map(running.map((p) => [p.metadata.name, (p.status?.podIPs ?? []).map((x) => x.ip)]))
        : undefined;
    });
    expect(ips.get("web-a")).toEqual([
      expect.stringMatching(/^10\.244\.1\.\d+$/),
      expect.stringMatching(/^fd00:10:244:1::/),
    ]);
    expect(ips.get("web-b")).toEqual([
      expect.stringMatching(/^10\.244\.2\.\d+$/),
      expect.stringMatching(/^fd00:10:244:2::/),
    ]);
    const blocks = await kubectl("get", "ipamblocks");
    expect(blocks.code).toBe(0);
    expect(blocks.out).toMatch(/10-244-1-0-26\s+10\.244\.1\.0\/26\s+host:node-1\s+lab-node-1-v4/);
    expect(blocks.out).toMatch(/10-244-2-0-26\s+10\.244\.2\.0\/26\s+host:node-2\s+lab-node-2-v4/);
  }, 90_000);

  it("pods reach each other across nodes", async () => {
    const r = await trellisctl(
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "tatrellis/web-a",
      "--to",
      "tatrellis/web-b",
      "--port",
      "8080",
      "-o",
      "json",
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/connected/);
  }, 60_000);

  it("deleting a pod releases its addresses", async () => {
    expect((await kubectl("delete", "pod", "-n", "tatrellis", "web-a")).code).toBe(0);
    const [v4] = ips.get("web-a") ?? [];
    await until("address released", async () => {
      const r = await kubectl("get", "ipamblocks", "10-244-1-0-26", "-o", "json");
      const b = JSON.parse(r.out) as { spec: { allocations: { ordinal: number }[] } };
      const ord = Number((v4 ?? "").split(".")[3]);
      return b.spec.allocations.some((a) => a.ordinal === ord) ? undefined : true;
    });
    const check = await trellisctl("ipam", "check", "--kubeconfig", join(dir, "kubeconfig"));
    expect([check.code, check.out]).toEqual([0, "no problems found\n"]);
  }, 60_000);
});
