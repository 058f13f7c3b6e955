/**
 * The lab API server driven by the real kubectl (1.32): apply (create, then
 * re-apply a change), get -o yaml, get -w, delete, label, patch (merge, json,
 * strategic), get -l, on core objects and on a custom resource.
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFile, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { SERVERS, startHarness, type Harness } from "./harness.js";
import { requireCommand } from "../support/require.js";

let h: Harness;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "kubectl",
      [
        "--kubeconfig",
        h.kubeconfigPath,
        "--cache-dir",
        join(h.dir, "cache"),
        "--request-timeout=10s",
        ...args,
      ],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        const code =
          err === null
            ? 0
            : typeof (err as { code?: unknown }).code === "number"
              ? (err as { code: number }).code
              : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function file(name: string, text: string): Promise<string> {
  const p = join(h.dir, name);
  await writeFile(p, text);
  return p;
}

/** `kubectl apply -f` of `text` (saved as `name`), which must fail; returns its stderr. */
async function applyFails(name: string, text: string): Promise<string> {
  const r = await kubectl("apply", "-f", await file(name, text));
  expect(r.code).not.toBe(0);
  return r.stderr;
}

const APP = (image: string, cmValue: string): string => `apiVersion: v1
kind: Namespace
metadata:
  name: kc
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: kc
  labels: {app: web}
data:
  mode: "${cmValue}"
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: kc
  labels: {app: web, tier: fe}
spec:
  nodeName: node-1
  containers:
  - name: main
    image: ${image}
    ports:
    - containerPort: 8080
`;

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: pools.lab.example.com
spec:
  group: lab.example.com
  scope: Cluster
  names: {plural: pools, singular: pool, kind: Pool, shortNames: [pl]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: CIDR, type: string, jsonPath: .spec.cidr}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cidr]
            properties:
              cidr: {type: string, pattern: '^[0-9a-f.:]+/[0-9]+$'}
              blockSize: {type: integer, minimum: 20, maximum: 32}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`;

describe.each(SERVERS)("on the %s API server", (kind) => {
  beforeAll(async () => {
    requireCommand(
      "kubectl",
      ["version", "--client"],
      "kubectl (Debian's kubernetes-client, or any recent one)",
    );
    h = await startHarness({}, kind);
  }, 120_000);

  afterAll(async () => {
    await h?.stop(); // unset when a prerequisite failed
  });

  describe("kubectl on core objects", () => {
    it("applies a multi-document file, then re-applies a change", async () => {
      const f = await file("app.yaml", APP("busybox:1.36", "a"));
      const first = await ok("apply", "-f", f);
      expect(first).toContain("namespace/kc created");
      expect(first).toContain("configmap/settings created");
      expect(first).toContain("pod/web created");
      await file("app.yaml", APP("busybox:1.37", "b"));
      const second = await ok("apply", "-f", f);
      expect(second).toContain("namespace/kc unchanged");
      expect(second).toContain("configmap/settings configured");
      expect(second).toContain("pod/web configured");
      const pod = JSON.parse(await ok("get", "pod", "web", "-n", "kc", "-o", "json")) as {
        spec: { containers: { image: string; ports: { containerPort: number; protocol: string }[] }[] };
      };
      expect(pod.spec.containers[0]?.image).toBe("busybox:1.37");
      expect(pod.spec.containers[0]?.ports[0]).toEqual({ containerPort: 8080, protocol: "TCP" });
    });

    it("refuses a typo in a built-in object under kubectl's default strict validation", async () => {
      const stderr = await applyFails(
        "typo.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: typo, namespace: kc}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    prots: [{containerPort: 80}]\n",
      );
      expect(stderr).toContain('unknown field "spec.containers[0].prots"');
    });

    it("prints an object with get -o yaml", async () => {
      const cm = parseYaml(await ok("get", "configmap", "settings", "-n", "kc", "-o", "yaml")) as {
        kind: string;
        data: Record<string, string>;
        metadata: { resourceVersion: string; uid: string };
      };
      expect(cm.kind).toBe("ConfigMap");
      expect(cm.data).toEqual({ mode: "b" });
      expect(cm.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("prints server-side tables for get", async () => {
      const out = await ok("get", "pods", "-n", "kc", "-o", "wide");
      expect(out.split("\n")[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/);
      expect(out).toMatch(/web\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+node-1/);
    });

    it("labels and selects with -l", async () => {
      await ok("label", "pod", "web", "-n", "kc", "env=prod");
      expect((await ok("get", "pods", "-n", "kc", "-l", "env=prod", "-o", "name")).trim()).toBe("pod/web");
      expect((await ok("get", "pods", "-n", "kc", "-l", "env in (dev,test)", "-o", "name")).trim()).toBe("");
      expect(
        (await ok("get", "pods,configmaps", "-n", "kc", "-l", "app=web,!env", "-o", "name")).trim(),
      ).toBe("configmap/settings");
      const bad = await kubectl("get", "pods", "-n", "kc", "-l", "env in (prod");
      expect(bad.code).not.toBe(0);
    });

    it("patches with merge, json and strategic patches", async () => {
      await ok("patch", "configmap", "settings", "-n", "kc", "--type=merge", "-p", '{"data":{"extra":"1"}}');
      await ok(
        "patch",
        "configmap",
        "settings",
        "-n",
        "kc",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/data/mode"}]',
      );
      const cm = JSON.parse(await ok("get", "configmap", "settings", "-n", "kc", "-o", "json")) as {
        data: Record<string, string>;
      };
      expect(cm.data).toEqual({ extra: "1" });
      await ok(
        "patch",
        "pod",
        "web",
        "-n",
        "kc",
        "-p",
        '{"spec":{"containers":[{"name":"main","image":"busybox:1.38"}]}}',
      );
      const pod = JSON.parse(await ok("get", "pod", "web", "-n", "kc", "-o", "json")) as {
        spec: { containers: { name: string; image: string; ports: unknown[] }[] };
      };
      expect(pod.spec.containers).toHaveLength(1);
      expect(pod.spec.containers[0]?.image).toBe("busybox:1.38");
      expect(pod.spec.containers[0]?.ports).toHaveLength(1);
    });

    it("streams changes with get -w", async () => {
      const child = spawn(
        "kubectl",
        [
          "--kubeconfig",
          h.kubeconfigPath,
          "--cache-dir",
          join(h.dir, "cache"),
          "get",
          "configmaps",
          "-n",
          "kc",
          "-w",
          "-o",
          "name",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      try {
        const wait = async (pred: () => boolean): Promise<void> => {
          const end = Date.now() + 15_000;
          while (!pred()) {
            if (Date.now() > end) throw new Error(`timed out; kubectl printed: ${out}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        };
        await wait(() => out.includes("configmap/settings"));
        await ok(
          "apply",
          "-f",
          await file(
            "watched.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched, namespace: kc}\n",
          ),
        );
        await wait(() => out.includes("configmap/watched"));
        await ok("delete", "configmap", "watched", "-n", "kc");
        await wait(() => out.split("\n").filter((l) => l === "configmap/watched").length >= 2);
      } finally {
        child.kill("SIGTERM");
      }
    });

    it("creates namespaces, configmaps, secrets and service accounts with kubectl create (protobuf bodies)", async () => {
      expect(await ok("create", "namespace", "gen")).toContain("namespace/gen created");
      await ok("create", "configmap", "cm", "-n", "gen", "--from-literal=a=1", "--from-literal=b=2");
      await ok("create", "secret", "generic", "s", "-n", "gen", "--from-literal=pw=hunter2");
      await ok("create", "serviceaccount", "robot", "-n", "gen");
      const cm = JSON.parse(await ok("get", "configmap", "cm", "-n", "gen", "-o", "json")) as {
        data: Record<string, string>;
      };
      expect(cm.data).toEqual({ a: "1", b: "2" });
      const secret = JSON.parse(await ok("get", "secret", "s", "-n", "gen", "-o", "json")) as {
        type: string;
        data: Record<string, string>;
      };
      expect(secret.type).toBe("Opaque");
      expect(Buffer.from(secret.data.pw ?? "", "base64").toString()).toBe("hunter2");
      // By name: the real control plane also has the namespace's `default` ServiceAccount.
      expect((await ok("get", "serviceaccount", "robot", "-n", "gen", "-o", "name")).trim()).toBe(
        "serviceaccount/robot",
      );
      const ns = JSON.parse(await ok("get", "namespace", "gen", "-o", "json")) as {
        metadata: { labels: Record<string, string> };
      };
      expect(ns.metadata.labels["kubernetes.io/metadata.name"]).toBe("gen");
    });

    it("deletes objects and namespaces", async () => {
      // --grace-period=0 --force: a pod bound to a node stays Terminating on the real server until
      // its kubelet confirms, and there is none here (the embedded server deletes at once either way).
      expect(await ok("delete", "pod", "web", "-n", "kc", "--grace-period=0", "--force")).toMatch(
        /pod "web" (force )?deleted/,
      );
      const gone = await kubectl("get", "pod", "web", "-n", "kc");
      expect(gone.code).not.toBe(0);
      expect(gone.stderr).toContain('pods "web" not found');
      await ok("delete", "namespace", "kc");
      const ns = await kubectl("get", "configmap", "settings", "-n", "kc");
      expect(ns.code).not.toBe(0);
    });
  });

  describe("kubectl on a custom resource", () => {
    it("applies a CRD and serves its resources to apply, get, label, patch and delete", async () => {
      await ok("apply", "-f", await file("crd.yaml", CRD));
      const cr = await file(
        "pool.yaml",
        "apiVersion: lab.example.com/v1\nkind: Pool\nmetadata:\n  name: p1\nspec:\n  cidr: 10.10.0.0/16\n  blockSize: 26\n",
      );
      expect(await ok("apply", "-f", cr)).toContain("pool.lab.example.com/p1 created");
      await file(
        "pool.yaml",
        "apiVersion: lab.example.com/v1\nkind: Pool\nmetadata:\n  name: p1\nspec:\n  cidr: 10.20.0.0/16\n  blockSize: 26\n",
      );
      expect(await ok("apply", "-f", cr)).toContain("pool.lab.example.com/p1 configured");
      const table = await ok("get", "pools");
      expect(table).toMatch(/NAME\s+CIDR/);
      expect(table).toMatch(/p1\s+10\.20\.0\.0\/16/);
      const y = parseYaml(await ok("get", "pl", "p1", "-o", "yaml")) as {
        spec: { cidr: string };
        metadata: { generation: number };
      };
      expect(y.spec.cidr).toBe("10.20.0.0/16");
      expect(y.metadata.generation).toBe(2);
      await ok("label", "pool", "p1", "tier=gold");
      expect((await ok("get", "pools", "-l", "tier=gold", "-o", "name")).trim()).toBe(
        "pool.lab.example.com/p1",
      );
      await ok("patch", "pool", "p1", "--type=merge", "-p", '{"spec":{"blockSize":28}}');
      await ok(
        "patch",
        "pool",
        "p1",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/blockSize","value":27}]',
      );
      const j = JSON.parse(await ok("get", "pool", "p1", "-o", "json")) as { spec: { blockSize: number } };
      expect(j.spec.blockSize).toBe(27);
      const smp = await kubectl("patch", "pool", "p1", "--type=strategic", "-p", '{"spec":{"blockSize":29}}');
      expect(smp.code).not.toBe(0);
      expect(smp.stderr).toContain("application/strategic-merge-patch+json");
      expect(await ok("delete", "pool", "p1")).toContain("deleted");
    });

    it("explains a custom resource from its schema", async () => {
      const out = await ok("explain", "pools.spec");
      expect(out).toContain("KIND:       Pool");
      expect(out).toMatch(/cidr\s+<string> -required-/);
      expect(out).toMatch(/blockSize\s+<integer>/);
    });

    it("rejects an invalid custom resource with the schema's field path", async () => {
      const stderr = await applyFails(
        "bad.yaml",
        "apiVersion: lab.example.com/v1\nkind: Pool\nmetadata:\n  name: bad\nspec:\n  cidr: nonsense\n  blockSize: 8\n",
      );
      expect(stderr).toContain("is invalid");
      expect(stderr).toContain("spec.cidr");
      expect(stderr).toContain("spec.blockSize");
    });

    it("refuses unknown fields under kubectl's default strict validation", async () => {
      const stderr = await applyFails(
        "unknown.yaml",
        "apiVersion: lab.example.com/v1\nkind: Pool\nmetadata:\n  name: u\nspec:\n  cidr: 10.0.0.0/8\n  colour: red\n",
      );
      expect(stderr).toContain('unknown field "spec.colour"');
    });
  });
});
