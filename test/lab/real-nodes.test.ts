// End to end, as root: `lab up --kubelet real` with 2 Trellis nodes, each
// running containerd and a real kubelet (lab/nodes/) that start the pods
// through containerd's CNI library, the node's conflist and the Trellis shim.
// A Deployment of localhost/busybox:lab, scheduled by kube-scheduler over
// both nodes, becomes Running with addresses from each node's pools; kubectl
// exec (kube-apiserver -> egress proxy -> the kubelet) works and a pod
// reaches a pod on the other node over the BGP-routed fabric; kubectl delete pod releases the address through the real
// kubelet's CNI DEL; a node's containerd killed and started again leaves its
// pods' containers running (the same tasks, processes and container IDs, no
// restart counted) and reachable; lab status reports kubelet and containerd;
// lab down leaves no process, mount, cgroup or namespace. Between the pod
// DEL and the containerd restart, the same lab runs every upstream
// NetworkPolicy conformance case (test/lab/policy-real-nodes.ts).
import { beforeAll, expect, it } from "@jest/globals";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { commandLine, commandLineMentions, isAlive, readPidFile } from "../../lab/daemon.js";
import { labLayout } from "../../lab/lab-layout.js";
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
import { describePolicyConformance } from "./policy-real-nodes.js";
import { CLI, kubectlApply, kubectlJson, labUp, must, trellisctl } from "./lab-commands.js";
import { addressesOutsideNodePools, podV4, type LabPod } from "./lab-pods.js";
import { httpGet } from "./pod-http.js";
import { labUpRealNodes, runningWebPods, WEB_DEPLOYMENT } from "./real-nodes-lab.js";
import { maybe, useSuiteLab } from "./suite-lab.js";

interface BlockJson {
  spec: {
    cidr: string;
    pool: string;
    affinity?: string;
    allocations: { ordinal: number; handle: string; attributes?: { pod?: string; namespace?: string } }[];
  };
}

/** containerd's task of each container (`ctr tasks ls`: TASK PID STATUS): its init process and status. */
function parseTasks(out: string): Map<string, { pid: number; status: string }> {
  const m = new Map<string, { pid: number; status: string }>();
  for (const line of out.split("\n").slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id !== undefined && id !== "" && pid !== undefined && status !== undefined)
      m.set(id, { pid: Number(pid), status });
  }
  return m;
}

/** The pod's containers as the kubelet reports them: container ID (without its runtime scheme) and restart count. */
const containersOf = (p: LabPod): { id: string; restarts: number }[] =>
  (p.status.containerStatuses ?? []).map((c) => ({
    id: (c.containerID ?? "").replace(/^containerd:\/\//, ""),
    restarts: c.restartCount,
  }));

maybe("real nodes: containerd and kubelet start the pods through Trellis (root)", () => {
  const lab = useSuiteLab("trellis-real-nodes-");
  const { base, dir, prefix } = lab;
  const L = labLayout(dir);
  const bin = nodeBinaryPaths(readVersions());
  const blocks = async (): Promise<BlockJson[]> =>
    (await kubectlJson<{ items: BlockJson[] }>(dir, "get", "ipamblocks")).items;
  /** The tasks of node `node`'s containerd (the CRI namespace), by container ID. */
  const tasks = async (node: string) => {
    const r = await ctr(bin, L.node(node), ["-n", CRI_NAMESPACE, "tasks", "ls"]);
    if (r.code !== 0) throw new Error(`ctr tasks ls on ${node}: ${r.stderr}`);
    return parseTasks(r.stdout);
  };

  beforeAll(async () => {
    // The kubelet and containerd builds: lab up refuses without them, naming scripts/build-k8s.
    const took = await labUpRealNodes(dir, 2);
    console.log(`lab up --nodes 2 --kubelet real: ${took.toFixed(1)} s`);
    await must("kubectl apply", kubectlApply(dir, WEB_DEPLOYMENT));
  }, 10 * 60_000);

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
    const e = await labUp(other, 1, "--kubelet", "real", "--control-plane", "embedded");
    expect(e.code).toBe(2);
    expect(e.err).toContain("--kubelet real needs --control-plane real");
  }, 120_000);

  it("a Deployment of localhost/busybox:lab becomes Running, each pod with addresses from its node's Trellis pools", async () => {
    const pods = await runningWebPods(dir);
    const all = await blocks();
    for (const p of pods) {
      expect({ pod: p.metadata.name, outside: addressesOutsideNodePools(dir, p) }).toEqual({
        pod: p.metadata.name,
        outside: [],
      });
      // The node's blocks record the pod: one allocation per family in pools lab-<node>-v4/v6.
      const held = all.filter(
        (b) =>
          b.spec.affinity === `host:${p.spec.nodeName}` &&
          b.spec.allocations.some((a) => a.attributes?.pod === p.metadata.name),
      );
      expect(held.map((b) => b.spec.pool).sort()).toEqual([
        `lab-${p.spec.nodeName}-v4`,
        `lab-${p.spec.nodeName}-v6`,
      ]);
    }
    // kube-scheduler spread them: two on each node.
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(["node-1", "node-1", "node-2", "node-2"]);
  }, 240_000);

  it("kubectl exec works: ip addr shows the pod's address, its ServiceAccount volume is mounted, and nc reaches a pod on the other node", async () => {
    const pods = await runningWebPods(dir);
    const a = pods.find((p) => p.spec.nodeName === "node-1");
    const b = pods.find((p) => p.spec.nodeName === "node-2");
    if (a === undefined || b === undefined) throw new Error("no web pod on each node");
    const ip = await lab.kubectl("exec", a.metadata.name, "--", "ip", "-4", "addr", "show", "eth0");
    expect(ip.code).toBe(0);
    expect(ip.out).toContain(`inet ${podV4(a)}/32`);
    // Across the ToR: node-1's pod to node-2's (routes learned over BGP), and back.
    expect(await httpGet(dir, a.metadata.name, podV4(b))).toEqual({ code: 0, served: b.metadata.name });
    expect(await httpGet(dir, b.metadata.name, podV4(a))).toEqual({ code: 0, served: a.metadata.name });
    // The projected ServiceAccount volume the kubelet mounted (in its own mount
    // namespace, under its shared root dir) is what the container sees.
    const ns = await lab.kubectl(
      "exec",
      a.metadata.name,
      "--",
      "cat",
      "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
    );
    expect({ code: ns.code, out: ns.out }).toEqual({ code: 0, out: "default" });
    // kubectl logs goes the same way (kube-apiserver -> egress proxy -> kubelet -> containerd).
    expect((await lab.kubectl("logs", a.metadata.name)).code).toBe(0);
  }, 240_000);

  it("kubectl delete pod releases the address through the real kubelet's CNI DEL", async () => {
    const pods = await runningWebPods(dir);
    const victim = pods.find((p) => p.spec.nodeName === "node-2");
    if (victim === undefined) throw new Error("no web pod on node-2");
    const name = victim.metadata.name;
    // Its allocations (handle <sandbox id>.eth0), one per address.
    const held = (await blocks()).flatMap((b) =>
      b.spec.allocations.filter((a) => a.attributes?.pod === name),
    );
    expect(held).toHaveLength(2);
    const handles = new Set(held.map((a) => a.handle));
    await must(
      `kubectl delete pod ${name}`,
      lab.kubectl("delete", "pod", name, "--wait=true", "--timeout=90s"),
    );
    // The kubelet stopped the sandbox, containerd ran the conflist's DEL, the agent released them.
    const after = await until(
      `${name}'s allocations released`,
      async () => {
        const all = await blocks();
        return all.some((b) => b.spec.allocations.some((a) => handles.has(a.handle))) ? undefined : all;
      },
      60_000,
      500,
    );
    // Each of its addresses is free again, or already given to another pod (the replacement
    // may get the lowest free ordinal): no allocation names the deleted pod.
    for (const { ip } of victim.status.podIPs ?? []) {
      const addr = parseAddress(ip);
      if (typeof addr === "string") throw new Error(addr);
      const block = after.find((b) => {
        const c = parsePrefix(b.spec.cidr);
        return typeof c !== "string" && contains(c, addr);
      });
      const cidr = parsePrefix(block?.spec.cidr ?? "");
      if (block === undefined || typeof cidr === "string") throw new Error(`no block holds ${ip}`);
      const ordinal = Number(addr.value - cidr.base);
      const holder = block.spec.allocations.find((a) => a.ordinal === ordinal);
      expect({ ip, heldBy: holder?.attributes?.pod === name ? name : "another pod or none" }).toEqual({
        ip,
        heldBy: "another pod or none",
      });
    }
    // The ReplicaSet replaced it: four Running again.
    await runningWebPods(dir);
  }, 240_000);

  // On the same lab (one lab up for both): every upstream NetworkPolicy
  // conformance case, on its own pods in namespaces x, y, z
  // (test/lab/policy-real-nodes.ts); before the containerd restart and lab
  // down below, which it must not see.
  describePolicyConformance(lab);

  it("a node's containerd killed and started again leaves its pods' containers running, not restarted, and reachable", async () => {
    const N = L.node("node-1");
    const before = await runningWebPods(dir);
    const onNode1 = before.filter((p) => p.spec.nodeName === "node-1");
    const peer = before.find((p) => p.spec.nodeName === "node-2");
    if (peer === undefined || onNode1.length !== 2)
      throw new Error("expected 2 web pods on node-1 and one on node-2");
    // The containers as the kubelet and as containerd see them: IDs, restart counts, init processes.
    const containers = onNode1.flatMap(containersOf);
    expect(containers).toHaveLength(2);
    const tasksBefore = await tasks("node-1");
    const procs = containers.map((c) => ({ id: c.id, task: tasksBefore.get(c.id) }));
    for (const p of procs) expect(p.task?.status).toBe("RUNNING");

    const old = readPidFile(N.containerdPid);
    expect(isAlive(old)).toBe(true);
    process.kill(old ?? 0, "SIGKILL");
    await until("containerd gone", async () => (isAlive(old) ? undefined : true), 10_000, 50);
    // While containerd is down the shims keep the containers: the pods still answer.
    for (const p of onNode1)
      expect(await httpGet(dir, peer.metadata.name, podV4(p))).toEqual({ code: 0, served: p.metadata.name });
    const netns = readLabState(L.stateFile)?.plan.nodes.find((n) => n.name === "node-1")?.netns ?? "";
    startContainerdDaemon(netns, N, bin);
    await until(
      "containerd answers again",
      async () => ((await ctr(bin, N, ["version"], 5000)).code === 0 ? true : undefined),
      30_000,
      200,
    );
    // containerd found its shims again: the same tasks, with the same init processes, still running.
    const tasksAfter = await tasks("node-1");
    expect(containers.map((c) => ({ id: c.id, task: tasksAfter.get(c.id) }))).toEqual(procs);
    for (const p of procs) expect(isAlive(p.task?.pid)).toBe(true);
    // The kubelet reaches them through containerd again (exec goes kubelet -> CRI -> containerd) ...
    const first = onNode1[0];
    if (first === undefined) throw new Error("no pod on node-1");
    await until(
      "kubectl exec into a node-1 pod after the restart",
      async () =>
        (await lab.kubectl("exec", first.metadata.name, "--", "true")).code === 0 ? true : undefined,
      60_000,
      1000,
    );
    // ... and reports the same containers, none restarted, the pods still reachable.
    const after = await runningWebPods(dir);
    for (const p of onNode1) {
      const now = after.find((x) => x.metadata.uid === p.metadata.uid);
      expect({ pod: p.metadata.name, containers: now === undefined ? [] : containersOf(now) }).toEqual({
        pod: p.metadata.name,
        containers: containersOf(p),
      });
      expect(await httpGet(dir, peer.metadata.name, podV4(p))).toEqual({ code: 0, served: p.metadata.name });
    }
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
      if (commandLineMentions(Number(e), dir)) procs.push(commandLine(Number(e)).join(" "));
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
