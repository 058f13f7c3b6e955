// End to end, as root: `lab up --kubelet real` with 2 Trellis nodes, each
// running containerd and a real kubelet (lab/nodes/) that start the pods
// through containerd's CNI library, the node's conflist and the Trellis shim.
// A Deployment of localhost/busybox:lab, scheduled by kube-scheduler over
// both nodes, becomes Running with addresses from each node's pools; kubectl
// exec (kube-apiserver -> egress proxy -> the kubelet) works and a pod
// reaches a pod on the other node over the BGP-routed fabric; kubectl delete pod releases the address through the real
// kubelet's CNI DEL; a node's containerd killed and started again leaves its
// pods reachable; lab status reports kubelet and containerd; lab down leaves
// no process, mount, cgroup or namespace.
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { isAlive, readPidFile } from "../../lab/daemon.js";
import { labLayout } from "../../lab/lab-layout.js";
import { labPrefix } from "../../lab/lab-names.js";
import { readLabState } from "../../lab/lab-state.js";
import { listNetns } from "../../lab/netns.js";
import { binaryPaths, nodeBinaryPaths, readVersions } from "../../lab/controlplane/versions.js";
import { runCommand } from "../../lab/run-command.js";
import { cgroupHierarchies } from "../../lab/nodes/cgroups.js";
import { parseMountPoints } from "../../lab/nodes/mounts.js";
import { ctr, startContainerdDaemon } from "../../lab/nodes/real-node.js";
import { CRI_NAMESPACE } from "../../lab/nodes/containerd-config.js";
import { shimSocketPath } from "../../lab/nodes/teardown.js";
import { contains, parseAddress, parsePrefix } from "../../net/address.js";
import { until } from "../support/until.js";
import {
  CLI,
  kubectlApply,
  labUpRealNodes,
  maybe,
  run,
  trellisctl,
  podV4,
  WEB_DEPLOYMENT,
  type Run,
} from "./lab-run.js";

interface PodJson {
  metadata: { name: string; uid: string };
  spec: { nodeName: string };
  status: { phase?: string; podIPs?: { ip: string }[]; containerStatuses?: { containerID?: string }[] };
}

interface BlockJson {
  spec: {
    cidr: string;
    pool: string;
    affinity?: string;
    allocations: { handle: string; attributes?: { pod?: string; namespace?: string } }[];
  };
}

maybe("real nodes: containerd and kubelet start the pods through Trellis (root)", () => {
  const base = mkdtempSync(join(tmpdir(), "trellis-real-nodes-"));
  const dir = join(base, "lab");
  const prefix = labPrefix(dir);
  const L = labLayout(dir);
  const bin = nodeBinaryPaths(readVersions());
  const kubectl = (...args: string[]): Promise<Run> =>
    run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), ...args], undefined, 60_000);
  const webPods = async (): Promise<PodJson[]> => {
    const r = await kubectl("get", "pods", "-l", "app=web", "-o", "json");
    if (r.code !== 0) throw new Error(`kubectl get pods: ${r.err}`);
    return (JSON.parse(r.out) as { items: PodJson[] }).items;
  };
  const runningWebPods = (n: number): Promise<PodJson[]> =>
    until(
      `${n} web pods Running with their addresses`,
      async () => {
        const pods = (await webPods()).filter(
          (p) => p.status.phase === "Running" && (p.status.podIPs?.length ?? 0) === 2,
        );
        return pods.length === n ? pods : undefined;
      },
      180_000,
      1000,
    );
  const blocks = async (): Promise<BlockJson[]> => {
    const r = await kubectl("get", "ipamblocks", "-o", "json");
    if (r.code !== 0) throw new Error(`kubectl get ipamblocks: ${r.err}`);
    return (JSON.parse(r.out) as { items: BlockJson[] }).items;
  };
  /** `printf GET | nc IP 8080` inside pod `from`: the served index is the target pod's hostname (its name). */
  const httpGet = (from: string, ip: string): Promise<Run> =>
    kubectl("exec", from, "--", "sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${ip} 8080`);

  beforeAll(async () => {
    // The kubelet and containerd builds: lab up refuses without them, naming scripts/build-k8s.
    const took = await labUpRealNodes(dir, 2);
    console.log(`lab up --nodes 2 --kubelet real: ${took.toFixed(1)} s`);
    const a = await kubectlApply(dir, WEB_DEPLOYMENT);
    if (a.code !== 0) throw new Error(`kubectl apply: ${a.err}`);
  }, 10 * 60_000);

  afterAll(async () => {
    if (existsSync(dir)) await trellisctl("lab", "down", "--dir", dir);
    rmSync(base, { recursive: true, force: true });
  }, 120_000);

  it("without the node build lab up --kubelet real refuses before creating anything, naming scripts/build-k8s", async () => {
    // A cache holding the control plane's builds but not the nodes'.
    const cache = join(base, "cache-without-nodes");
    mkdirSync(cache);
    const real = dirname(dirname(binaryPaths(readVersions()).etcd));
    for (const d of binaryPaths(readVersions(), real).stamps.map((s) => dirname(s)))
      symlinkSync(d, join(cache, basename(d)));
    const other = join(base, "unbuilt");
    const r = await runCommand(
      process.execPath,
      [CLI, "lab", "up", "--nodes", "1", "--dir", other, "--kubelet", "real"],
      {
        env: { ...process.env, TRELLIS_CACHE: cache } as Record<string, string>,
        timeoutMs: 60_000,
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`missing ${nodeBinaryPaths(readVersions(), cache).stamps[0] ?? ""}`);
    expect(r.stderr).toMatch(/build them once with \S*scripts\/build-k8s .*--kubelet standin/s);
    expect(existsSync(join(other, "lab.json"))).toBe(false);
    // and a real kubelet needs the real control plane
    const e = await trellisctl(
      "lab",
      "up",
      "--nodes",
      "1",
      "--dir",
      other,
      "--kubelet",
      "real",
      "--control-plane",
      "embedded",
    );
    expect(e.code).toBe(2);
    expect(e.err).toContain("--kubelet real needs --control-plane real");
  }, 120_000);

  it("a Deployment of localhost/busybox:lab becomes Running, each pod with addresses from its node's Trellis pools", async () => {
    const pods = await runningWebPods(4);
    const plan = readLabState(L.stateFile)?.plan;
    const all = await blocks();
    for (const p of pods) {
      const node = plan?.nodes.find((n) => n.name === p.spec.nodeName);
      expect(node).toBeDefined();
      if (node === undefined) continue;
      for (const { ip } of p.status.podIPs ?? []) {
        const cidr = parsePrefix(ip.includes(":") ? node.podCidr6 : node.podCidr4);
        const addr = parseAddress(ip);
        if (typeof cidr === "string" || typeof addr === "string") throw new Error(`${ip}: ${String(addr)}`);
        expect({ pod: p.metadata.name, ip, inPool: contains(cidr, addr) }).toEqual({
          pod: p.metadata.name,
          ip,
          inPool: true,
        });
      }
      // The node's blocks record the pod: one allocation per family in pools lab-<node>-v4/v6.
      const held = all.filter(
        (b) =>
          b.spec.affinity === `host:${node.name}` &&
          b.spec.allocations.some((a) => a.attributes?.pod === p.metadata.name),
      );
      expect(held.map((b) => b.spec.pool).sort()).toEqual([`lab-${node.name}-v4`, `lab-${node.name}-v6`]);
    }
    // kube-scheduler spread them: two on each node.
    expect(pods.filter((p) => p.spec.nodeName === "node-1")).toHaveLength(2);
    expect(pods.filter((p) => p.spec.nodeName === "node-2")).toHaveLength(2);
  }, 240_000);

  it("kubectl exec works: ip addr shows the pod's address, its ServiceAccount volume is mounted, and nc reaches a pod on the other node", async () => {
    const pods = await runningWebPods(4);
    const a = pods.find((p) => p.spec.nodeName === "node-1");
    const b = pods.find((p) => p.spec.nodeName === "node-2");
    if (a === undefined || b === undefined) throw new Error("no web pod on each node");
    const ip = await kubectl("exec", a.metadata.name, "--", "ip", "-4", "addr", "show", "eth0");
    expect(ip.code).toBe(0);
    expect(ip.out).toContain(`inet ${podV4(a)}/32`);
    // Across the ToR: node-1's pod to node-2's (routes learned over BGP), and back.
    const ab = await httpGet(a.metadata.name, podV4(b));
    expect({ code: ab.code, out: ab.out.trim().split("\n").pop() }).toEqual({
      code: 0,
      out: b.metadata.name,
    });
    const ba = await httpGet(b.metadata.name, podV4(a));
    expect({ code: ba.code, out: ba.out.trim().split("\n").pop() }).toEqual({
      code: 0,
      out: a.metadata.name,
    });
    // The projected ServiceAccount volume the kubelet mounted (in its own mount
    // namespace, under its shared root dir) is what the container sees.
    const ns = await kubectl(
      "exec",
      a.metadata.name,
      "--",
      "cat",
      "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
    );
    expect({ code: ns.code, out: ns.out }).toEqual({ code: 0, out: "default" });
    // kubectl logs goes the same way (kube-apiserver -> egress proxy -> kubelet -> containerd).
    expect((await kubectl("logs", a.metadata.name)).code).toBe(0);
  }, 240_000);

  it("kubectl delete pod releases the address through the real kubelet's CNI DEL", async () => {
    const pods = await runningWebPods(4);
    const victim = pods.find((p) => p.spec.nodeName === "node-2");
    if (victim === undefined) throw new Error("no web pod on node-2");
    const name = victim.metadata.name;
    expect((await blocks()).some((b) => b.spec.allocations.some((a) => a.attributes?.pod === name))).toBe(
      true,
    );
    const d = await kubectl("delete", "pod", name, "--wait=true", "--timeout=90s");
    expect(d.code).toBe(0);
    // The allocation (handle <sandbox id>.eth0) is gone from every block: the kubelet
    // stopped the sandbox, containerd ran the conflist's DEL, the agent released it.
    await until(
      `${name}'s addresses released`,
      async () =>
        (await blocks()).some((b) => b.spec.allocations.some((a) => a.attributes?.pod === name))
          ? undefined
          : true,
      60_000,
      500,
    );
    for (const { ip } of victim.status.podIPs ?? []) {
      const all = await blocks();
      const addr = parseAddress(ip);
      if (typeof addr === "string") throw new Error(addr);
      const holders = all.filter((b) => {
        const c = parsePrefix(b.spec.cidr);
        return typeof c !== "string" && contains(c, addr);
      });
      // The block stays (the node's affinity) but no allocation names the deleted pod.
      expect(holders.flatMap((b) => b.spec.allocations.filter((a) => a.attributes?.pod === name))).toEqual(
        [],
      );
    }
    // The ReplicaSet replaced it: four Running again.
    await runningWebPods(4);
  }, 240_000);

  it("a node's containerd killed and started again leaves its pods running and reachable", async () => {
    const N = L.node("node-1");
    const before = await runningWebPods(4);
    const onNode1 = before.filter((p) => p.spec.nodeName === "node-1");
    const peer = before.find((p) => p.spec.nodeName === "node-2");
    if (peer === undefined || onNode1.length !== 2)
      throw new Error("expected 2 web pods on node-1 and one on node-2");
    const old = readPidFile(N.containerdPid);
    expect(isAlive(old)).toBe(true);
    process.kill(old ?? 0, "SIGKILL");
    await until("containerd gone", async () => (isAlive(old) ? undefined : true), 10_000, 50);
    // While containerd is down the shims keep the containers: the pods still answer.
    for (const p of onNode1) {
      const r = await httpGet(peer.metadata.name, podV4(p));
      expect({ pod: p.metadata.name, out: r.out.trim().split("\n").pop() }).toEqual({
        pod: p.metadata.name,
        out: p.metadata.name,
      });
    }
    const state = readLabState(L.stateFile);
    const netns = state?.plan.nodes.find((n) => n.name === "node-1")?.netns ?? "";
    startContainerdDaemon(netns, N, bin);
    await until(
      "containerd answers again",
      async () => ((await ctr(bin, N, ["version"], 5000)).code === 0 ? true : undefined),
      30_000,
      200,
    );
    // containerd found its shims again: the same containers, nothing restarted, still reachable and exec-able.
    const after = await runningWebPods(4);
    for (const p of onNode1) {
      const now = after.find((x) => x.metadata.uid === p.metadata.uid);
      expect(now?.status.containerStatuses?.[0]?.containerID).toBe(
        p.status.containerStatuses?.[0]?.containerID,
      );
      const r = await httpGet(peer.metadata.name, podV4(p));
      expect(r.out.trim().split("\n").pop()).toBe(p.metadata.name);
    }
    const first = onNode1[0];
    if (first === undefined) throw new Error("no pod on node-1");
    await until(
      "kubectl exec into a node-1 pod after the restart",
      async () => ((await kubectl("exec", first.metadata.name, "--", "true")).code === 0 ? true : undefined),
      60_000,
      1000,
    );
  }, 240_000);

  it("lab status reports each node's real kubelet and containerd as running", async () => {
    const r = await trellisctl("lab", "status", "--dir", dir, "-o", "json");
    const s = JSON.parse(r.out) as {
      healthy: boolean;
      problems: string[];
      nodes: { kubeletKind: string; kubelet: { alive: boolean }; containerd?: { alive: boolean } }[];
    };
    expect(s.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(s.nodes.map((n) => [n.kubeletKind, n.kubelet.alive, n.containerd?.alive])).toEqual([
      ["real", true, true],
      ["real", true, true],
    ]);
  }, 60_000);

  it("lab down leaves no process, mount, cgroup, namespace or shim socket behind", async () => {
    const containerdPids = ["node-1", "node-2"].map((n) => readPidFile(L.node(n).containerdPid));
    // The shims' sockets in the machine-wide /run/containerd/s: one per pod (a pod's
    // containers share its sandbox's shim), named from the task's id.
    const shims = ["node-1", "node-2"]
      .flatMap((n) => {
        const N = L.node(n);
        const tasks = join(N.containerdState, "io.containerd.runtime.v2.task", CRI_NAMESPACE);
        return readdirSync(tasks).map((id) => shimSocketPath(N.containerdSocket, CRI_NAMESPACE, id));
      })
      .filter((f) => existsSync(f));
    expect(shims.length).toBeGreaterThanOrEqual(4);
    const d = await trellisctl("lab", "down", "--dir", dir);
    expect(d.err).toBe("");
    expect(d.code).toBe(0);
    for (const p of containerdPids) expect(isAlive(p)).toBe(false);
    // No process whose command line names the lab dir (kubelet, containerd, shims, agents, relays).
    const procs: string[] = [];
    for (const e of readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const argv = readFileSync(`/proc/${e}/cmdline`, "utf8");
        if (argv.includes(`${dir}/`)) procs.push(argv.replace(/\0/g, " "));
      } catch {
        // gone
      }
    }
    expect(procs).toEqual([]);
    expect(
      parseMountPoints(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.startsWith(base)),
    ).toEqual([]);
    const cgroups = cgroupHierarchies(readFileSync("/proc/self/mountinfo", "utf8")).flatMap((h) =>
      readdirSync(h)
        .filter((e) => e.startsWith(prefix))
        .map((e) => join(h, e)),
    );
    expect(cgroups).toEqual([]);
    expect((await listNetns()).filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(shims.filter((f) => existsSync(f))).toEqual([]);
  }, 120_000);
});
