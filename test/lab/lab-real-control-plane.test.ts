// End to end, as root: `lab up` on its default control plane, the real one
// (etcd, kube-apiserver, kube-controller-manager built by scripts/build-k8s),
// with 2 Trellis nodes: kubectl through DIR/kubeconfig (TLS, admin
// certificate) reports the pinned release; the CRDs are installed through
// the API; each trellis-node authenticates as the chart's ServiceAccount
// with a token the API server issued, holding exactly the chart's RBAC (no
// 403 while it works; a permission taken away shows as a 403 naming the verb
// and resource in its log); pods in a fresh namespace are admitted once the
// controller manager made its ServiceAccount, get addresses from their
// node's blocks and reach each other across the ToR; deleting the namespace
// deletes its pods (namespace controller); lab down leaves nothing. Without
// the built binaries `lab up` refuses, naming scripts/build-k8s.
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { labPrefix } from "../../lab/lab-names.js";
import { labLayout } from "../../lab/lab-layout.js";
import { runCommand } from "../../lab/run-command.js";
import { chartRbacArgs } from "../../lab/controlplane/agent-identity.js";
import { binaryPaths, readVersions } from "../../lab/controlplane/versions.js";
import { restartApiServer } from "./apiserver-restart.js";
import { type Run, run } from "./lab-commands.js";
import { busyboxPod } from "./lab-pods.js";
import { maybe } from "./suite-lab.js";
import { until } from "../support/until.js";

const CLI = fileURLToPath(new URL("../../cli/trellisctl.js", import.meta.url));

const trellisctl = (args: string[], timeoutMs?: number): Promise<Run> =>
  run(process.execPath, [CLI, ...args], undefined, timeoutMs);

// The shared poll (test/support/until.ts), with this file's longer patience.
const waitFor = <T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> =>
  until(what, f, timeoutMs, 300);

const PODS = busyboxPod("real", "a", "node-1", "a") + busyboxPod("real", "b", "node-2", "b");

const DENY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: real}
spec: {podSelector: {}, policyTypes: [Ingress]}
`;

maybe("lab up on the real control plane, its default (root, network namespaces)", () => {
  const base = mkdtempSync(join(tmpdir(), "trellis-lab-real-"));
  const dir = join(base, "lab");
  const prefix = labPrefix(dir);
  const kubectl = (args: string[], input?: string): Promise<Run> =>
    run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), ...args], input);
  /** kubectl inside a node's namespace, with that node's kubeconfig (trellis-node's, or the kubelet's). */
  const kubectlOnNode = (node: string, kubeconfig: string, args: string[]): Promise<Run> =>
    run("ip", ["netns", "exec", `${prefix}${node}`, "kubectl", "--kubeconfig", kubeconfig, ...args]);
  /** `lab probe` from real/a to real/b on TCP 8080 (exit 0 connected, 1 refused or dropped). */
  const probeAtoB = (): Promise<Run> =>
    trellisctl(["lab", "probe", "--dir", dir, "--from", "real/a", "--to", "real/b", "--port", "8080"]);
  const agentLog = (node: string): string => readFileSync(labLayout(dir).node(node).agentLog, "utf8");

  beforeAll(async () => {
    const t0 = Date.now();
    // No --control-plane: real is the default. scripts/bootstrap built the binaries.
    // The kubelet stand-in: the suite is about the control plane and the agents' identity;
    // its pods are busyboxPod's, answered by the stand-in on their declared port.
    const r = await trellisctl(
      ["lab", "up", "--nodes", "2", "--dir", dir, "--kubelet", "standin"],
      10 * 60_000,
    );
    if (r.code !== 0) throw new Error(`lab up failed: ${r.err}`);
    console.log(`lab up (real control plane): ${Math.round((Date.now() - t0) / 1000)} s`);
  }, 10 * 60_000);

  afterAll(async () => {
    await trellisctl(["lab", "down", "--dir", dir]);
    rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it("without the built binaries lab up refuses before creating anything, naming scripts/build-k8s", async () => {
    const empty = join(base, "no-cache");
    const other = join(base, "unbuilt");
    const r = await runCommand(process.execPath, [CLI, "lab", "up", "--nodes", "1", "--dir", other], {
      env: { ...process.env, TRELLIS_CACHE: empty } as Record<string, string>,
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`missing ${binaryPaths(readVersions(), empty).stamps[0] ?? ""}`);
    expect(r.stderr).toMatch(/build it once with \S*scripts\/build-k8s .*--control-plane embedded/s);
    expect(existsSync(join(other, "lab.json"))).toBe(false);
    expect((await run("ip", ["netns", "list"])).out).not.toContain(labPrefix(other));
  });

  it("lab.json records the real control plane, the default", () => {
    const state = JSON.parse(readFileSync(join(dir, "lab.json"), "utf8")) as { controlPlane?: string };
    expect(state.controlPlane).toBe("real");
  });

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

  it("trellis-node authenticates as the chart's ServiceAccount with an issued token; the kubelet stand-in with its certificate", async () => {
    for (const node of ["node-1", "node-2"]) {
      const N = labLayout(dir).node(node);
      const kc = readFileSync(N.kubeconfig, "utf8");
      // TLS to kube-apiserver itself (the node relay passes bytes through), the lab CA, a bearer token
      expect(kc).toMatch(/server: https:\/\/127\.0\.0\.1:6443/);
      expect(kc).toMatch(/certificate-authority-data:/);
      expect(kc).toMatch(/token: eyJ/);
      expect(kc).not.toMatch(/client-certificate-data/);
      const who = await kubectlOnNode(node, N.kubeconfig, ["auth", "whoami", "-o", "json"]);
      expect(`${who.code} ${who.err}`).toBe("0 ");
      const status = (JSON.parse(who.out) as { status: { userInfo: { username: string; groups: string[] } } })
        .status.userInfo;
      expect(status.username).toBe("system:serviceaccount:kube-system:trellis-node");
      expect(status.groups).not.toContain("system:masters");
      const kubelet = await kubectlOnNode(node, N.kubeletKubeconfig, ["auth", "whoami", "-o", "json"]);
      expect(
        (JSON.parse(kubelet.out) as { status: { userInfo: { username: string } } }).status.userInfo.username,
      ).toBe("trellis-lab-kubelet");
      // exactly the chart's RBAC: the token can list ipamblocks, cannot read secrets
      const can = async (verb: string, what: string): Promise<string> =>
        (await kubectlOnNode(node, N.kubeconfig, ["auth", "can-i", verb, what])).out.trim();
      expect([await can("list", "ipamblocks.trellis.dev"), await can("get", "secrets")]).toEqual([
        "yes",
        "no",
      ]);
    }
    // The RBAC objects are the chart's, as helm renders them.
    const cr = await kubectl([
      "get",
      "clusterrole",
      "trellis-node",
      "-o",
      "jsonpath={.metadata.labels.helm\\.sh/chart}",
    ]);
    expect(cr.out).toMatch(/^trellis-\d+\.\d+\.\d+/);
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
    const p = await probeAtoB();
    expect(`${p.code} ${p.out}`).toMatch(/^0 /);
    // Everything the agents did (claims, status, BGP, policy) was within the chart's RBAC.
    for (const node of ["node-1", "node-2"]) expect(agentLog(node)).not.toMatch(/"status":40[13]|forbidden/i);
  });

  it("a permission the chart's ClusterRole lacks shows in the agent's log as a 403 naming the verb and resource", async () => {
    const cr = JSON.parse((await kubectl(["get", "clusterrole", "trellis-node", "-o", "json"])).out) as {
      metadata: Record<string, unknown>;
      rules: { resources: string[] }[];
    };
    const without = {
      ...cr,
      metadata: { name: "trellis-node" },
      rules: cr.rules.filter((r) => !r.resources.includes("networkpolicies")),
    };
    expect(without.rules.length).toBe(cr.rules.length - 1);
    expect((await kubectl(["replace", "-f", "-"], JSON.stringify(without))).code).toBe(0);
    // Open watches were authorized when they began: an API server restart makes every informer list again.
    await restartApiServer(dir, async () => undefined);
    const line = await waitFor("the refusal in node-1's agent log", async () =>
      agentLog("node-1")
        .split("\n")
        .find((l) => l.includes("informer networkpolicies refused by the API server")),
    );
    // A refused list or watch carries the server's Status message (agent/k8s/kube-request.ts); the
    // line names the verbs and the resource's path too.
    expect(line).toMatch(
      /\(403 Forbidden: the agent's RBAC \(the chart's ClusterRole\) lacks this permission\)/,
    );
    expect(line).toContain("on list/watch /apis/networking.k8s.io/v1/networkpolicies");
    // The chart's RBAC again: the agents recover on their own.
    const helm = binaryPaths(readVersions()).helm;
    const rbac = await run(helm, chartRbacArgs());
    expect((await kubectl(["apply", "-f", "-"], rbac.out)).code).toBe(0);
    // ... and act on NetworkPolicies again: a default-deny ingress in `real` cuts a -> b, deleting it restores it.
    const probe = async (): Promise<number> => (await probeAtoB()).code;
    expect((await kubectl(["apply", "-f", "-"], DENY)).code).toBe(0);
    await waitFor(
      "a -> b refused by the policy",
      async () => ((await probe()) === 1 ? true : undefined),
      150_000,
    );
    expect((await kubectl(["delete", "-f", "-"], DENY)).code).toBe(0);
    await waitFor("a -> b again", async () => ((await probe()) === 0 ? true : undefined), 60_000);
  }, 240_000);

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
