// End to end, as root. The default lab (Trellis: trellis-node in every node,
// the static shim as the CNI plugin, block IPAM on the lab API server) with 2
// nodes: pods applied with kubectl get addresses from their node's blocks,
// `kubectl get ipamblocks` and `trellisctl ipam show` show them, the
// reachability matrix (same node and across the ToR), CNI DEL on pod
// deletion, agent health in `lab status`, and lab down leaving nothing behind
// (also after a killed `up`). Then a lighter check of `--cni ptp`.
import { beforeAll, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { createHash } from "node:crypto";
import { commandLine, isAlive } from "../../lab/daemon.js";
import { labPrefix, podNetnsName } from "../../lab/lab-names.js";
import { commandInNetns } from "../../lab/netns.js";
import { PTP_CNI_VERSION, trellisConflist } from "../../lab/conflist.js";
import { contains, parseAddress, parsePrefix } from "../../net/address.js";
import { until as waitUntil } from "../support/until.js";
import { restartApiServer } from "./apiserver-restart.js";
import { CLI, type Run, kubectlApply, labUp, run, trellisctl } from "./lab-commands.js";
import { type LabPod, applyPodsRunning, busyboxPod } from "./lab-pods.js";
import { maybe, useSuiteLab } from "./suite-lab.js";

/**
 * The kubelet stand-in, explicitly (the lab's default is real nodes): this
 * suite is about what the stand-in runs exactly as a runtime would (CNI ADD
 * and DEL, its sandboxes under /var/run/netns, its pod watch across an API
 * server restart, a failing ADD marking the pod Failed, the orphaned sandbox
 * of a kubelet restart) and about lab status and lab down, which treat both
 * kinds alike; test/lab/bgp-password.test.ts runs the README's example on
 * the default real nodes, test/lab/real-nodes.test.ts the real kubelet's own
 * behaviour. The interrupted `up` below keeps the default.
 */
const STANDIN = ["--kubelet", "standin"];

const SHIM = fileURLToPath(new URL("../../../cni/shim/trellis", import.meta.url));

async function labNamespaces(prefix: string): Promise<string[]> {
  const r = await run("ip", ["netns", "list"]);
  return r.out
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}

async function labProcesses(dir: string): Promise<string> {
  const r = await run("pgrep", ["-af", `${dir}/`]);
  return r.out.trim();
}

const waitFor = <T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  waitUntil(what, f, timeoutMs, 200);

interface StatusJson {
  cni: string;
  healthy: boolean;
  problems: string[];
  nodes: {
    name: string;
    agentSocket: string;
    logFile: string;
    cniBinDir: string;
    agent?: { pid: number | null; alive: boolean; ready: boolean; readyz: string; logFile: string };
  }[];
}

const PODS = `
apiVersion: v1
kind: Namespace
metadata: {name: e2e}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: e2e, labels: {app: a}}
spec:
  nodeName: node-1
  containers:
  - name: c
    image: busybox
    ports: [{containerPort: 8080}, {containerPort: 5353, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: e2e, labels: {app: b}}
spec:
  nodeName: node-1
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: e2e, labels: {app: c}}
spec:
  nodeName: node-2
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}, {containerPort: 9090}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: e2e}
spec:
  nodeName: node-2
  hostNetwork: true
  containers: [{name: c, image: busybox}]
`;

interface BlockJson {
  metadata: { name: string };
  spec: {
    cidr: string;
    pool: string;
    affinity?: string;
    allocations: { ordinal: number; attributes?: { namespace?: string; pod?: string } }[];
  };
}

/** The block (and ordinal) that records `ip` as allocated, or undefined. */
function blockHolding(blocks: BlockJson[], ip: string): { block: BlockJson; ordinal: number } | undefined {
  const addr = parseAddress(ip);
  if (typeof addr === "string") throw new Error(addr);
  for (const b of blocks) {
    const cidr = parsePrefix(b.spec.cidr);
    if (typeof cidr === "string" || !contains(cidr, addr)) continue;
    const a = b.spec.allocations.find((x) => BigInt(x.ordinal) === addr.value - cidr.base);
    if (a !== undefined) return { block: b, ordinal: a.ordinal };
  }
  return undefined;
}

type PodJson = LabPod;

maybe("lab end to end, default mode: Trellis (root, network namespaces)", () => {
  const { base, dir, prefix, kubectl } = useSuiteLab("trellis-lab-e2e-", {
    // The half-made lab of the interrupted `lab up` test, in case that test failed before its own `lab down`.
    beforeDown: () => trellisctl("lab", "down", "--dir", halfDir),
    downTimeoutMs: 60_000,
  });
  /** `trellisctl lab probe` in this lab from one pod to another. */
  const probe = (from: string, to: string, port: number, ...extra: string[]): Promise<Run> =>
    trellisctl("lab", "probe", "--dir", dir, "--from", from, "--to", to, "--port", String(port), ...extra);
  const halfDir = join(base, "half");
  let pods: PodJson[] = [];
  const podNamed = (name: string): PodJson => {
    const p = pods.find((x) => x.metadata.name === name);
    if (p === undefined) throw new Error(`no pod ${name}`);
    return p;
  };
  const blocks = async (): Promise<BlockJson[]> => {
    const r = await kubectl("get", "ipamblocks", "-o", "json");
    if (r.code !== 0) throw new Error(`kubectl get ipamblocks: ${r.err}`);
    return (JSON.parse(r.out) as { items: BlockJson[] }).items;
  };
  const status = async (): Promise<{ code: number; s: StatusJson }> => {
    const r = await trellisctl("lab", "status", "--dir", dir, "-o", "json");
    return { code: r.code, s: JSON.parse(r.out) as StatusJson };
  };

  beforeAll(async () => {
    const r = await labUp(dir, 2, ...STANDIN);
    if (r.code !== 0) throw new Error(`lab up failed: ${r.err}`);
  }, 180_000);

  it("reports the pinned status shape, healthy, with both nodes Ready", async () => {
    const r = await trellisctl("lab", "status", "--dir", dir, "-o", "json");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as Record<string, unknown> & {
      apiserver: Record<string, unknown>;
      tor: Record<string, unknown> & { protocols: { name: string }[] };
      nodes: (Record<string, unknown> & { ready: boolean; bgp: { state: string }[] })[];
      healthy: boolean;
    };
    expect(s.dir).toBe(dir);
    expect(Object.keys(s.apiserver)).toEqual(expect.arrayContaining(["url", "kubeconfig"]));
    expect(Object.keys(s.tor)).toEqual(expect.arrayContaining(["netns", "address", "asn", "birdSocket"]));
    expect(s.tor["asn"]).toBe(65000);
    expect(s.nodes).toHaveLength(2);
    for (const n of s.nodes) {
      expect(Object.keys(n)).toEqual(
        expect.arrayContaining([
          "name",
          "netns",
          "address",
          "agentSocket",
          "cniConfDir",
          "cniBinDir",
          "logFile",
        ]),
      );
      expect(n.ready).toBe(true);
      // BIRD knows a session per node and family; nobody speaks BGP on the nodes yet.
      expect(n.bgp.map((b) => b.state)).not.toContain("unknown");
    }
    expect(s.healthy).toBe(true);
    expect(await labNamespaces(prefix)).toEqual(
      expect.arrayContaining([`${prefix}tor`, `${prefix}node-1`, `${prefix}node-2`]),
    );
  });

  it("runs Trellis by default: the pinned conflist, the shim, and a ready trellis-node in every node", async () => {
    const { s } = await status();
    expect(s.cni).toBe("trellis");
    for (const n of s.nodes) {
      const nodeDir = join(dir, "nodes", n.name);
      const conflist = JSON.parse(
        readFileSync(join(nodeDir, "cni", "net.d", "10-trellis.conflist"), "utf8"),
      ) as unknown;
      // The chained Debian portmap 1.1.1 refuses cniVersion 1.1.0 (lab/conflist.ts).
      expect(conflist).toEqual(trellisConflist(join(nodeDir, "cni.sock"), PTP_CNI_VERSION));
      expect(realpathSync(join(n.cniBinDir, "trellis"))).toBe(realpathSync(SHIM));
      expect(n.agentSocket).toBe(join(nodeDir, "cni.sock"));
      expect(n.logFile).toBe(join(nodeDir, "trellis-node.log"));
      expect(n.agent).toEqual({
        pid: expect.any(Number),
        alive: true,
        ready: true,
        readyz: "ok",
        logFile: join(nodeDir, "trellis-node.log"),
      });
      // the agent really runs in the node's network namespace
      const ns = (await run("ip", ["netns", "identify", String(n.agent?.pid ?? 0)])).out.trim();
      expect(ns).toBe(`${prefix}${n.name}`);
    }
    const table = await trellisctl("lab", "status", "--dir", dir);
    expect(table.out).toMatch(/^node-1\s.*\sReady\s+\d+\s+running\s+ready\s/m);
  });

  it("refuses a second up on the running lab (exit 1, says so)", async () => {
    const r = await labUp(dir, 2, ...STANDIN);
    expect(r.code).toBe(1);
    expect(r.err).toContain("already running");
  });

  it("runs pods applied with kubectl: Running with IPv4 and IPv6 addresses from their node's CIDR", async () => {
    pods = await applyPodsRunning(dir, PODS, "e2e", 4, 60_000);
    // a host-network pod gets no CNI: it shares the node's addresses
    expect(pods.find((p) => p.metadata.name === "host")?.status.podIPs?.map((x) => x.ip)).toEqual([
      "198.18.0.3",
      "fd00:198:18::3",
    ]);
    pods = pods.filter((p) => p.metadata.name !== "host");
    // status lists every pod namespace, under its node
    const st = JSON.parse((await trellisctl("lab", "status", "--dir", dir, "-o", "json")).out) as {
      nodes: { name: string; pods: { pod: string; netns: string; ips: string[] }[] }[];
    };
    for (const p of pods) {
      const node = st.nodes.find((n) => n.name === p.spec.nodeName);
      expect(node?.pods).toContainEqual(
        expect.objectContaining({
          pod: `e2e/${p.metadata.name}`,
          netns: podNetnsName(prefix, p.metadata.uid),
          ips: p.status.podIPs?.map((x) => x.ip),
        }),
      );
    }
    for (const p of pods) {
      const i = p.spec.nodeName === "node-1" ? 1 : 2;
      expect(p.status.podIP).toMatch(new RegExp(`^10\\.244\\.${i}\\.\\d+$`));
      expect(p.status.podIPs?.map((x) => x.ip)).toEqual([
        p.status.podIP,
        expect.stringMatching(new RegExp(`^fd00:10:244:${i}::`)),
      ]);
    }
    // Every address is an allocation for that pod in a block affine to its node.
    const bs = await blocks();
    for (const p of pods) {
      for (const { ip } of p.status.podIPs ?? []) {
        const held = blockHolding(bs, ip);
        expect([ip, held?.block.spec.affinity]).toEqual([ip, `host:${p.spec.nodeName}`]);
        const a = held?.block.spec.allocations.find((x) => x.ordinal === held.ordinal);
        expect(a?.attributes).toMatchObject({ namespace: "e2e", pod: p.metadata.name });
      }
    }
    // `kubectl get ipamblocks` (the CRD's printer columns) lists them.
    const table = await kubectl("get", "ipamblocks");
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^10-244-1-0-26\s+10\.244\.1\.0\/26\s+host:node-1\s+lab-node-1-v4$/m);
    expect(table.out).toMatch(/^10-244-2-0-26\s+10\.244\.2\.0\/26\s+host:node-2\s+lab-node-2-v4$/m);
    expect(table.out).toMatch(/^fd00-10-244-1---122\s+fd00:10:244:1::\/122\s+host:node-1\s+lab-node-1-v6$/m);
  }, 90_000);

  it("trellisctl ipam show reports the usage of the node pools and blocks", async () => {
    const r = await trellisctl("ipam", "show", "--kubeconfig", join(dir, "kubeconfig"), "-o", "json");
    expect(r.code).toBe(0);
    const u = JSON.parse(r.out) as {
      pools: { name: string; inUse: number; valid: boolean }[];
      blocks: { name: string; node?: string; inUse: number }[];
    };
    // node-1 holds a and b, node-2 holds c (the host-network pod takes no address)
    expect(u.pools.filter((p) => p.name.startsWith("lab-")).map((p) => [p.name, p.inUse, p.valid])).toEqual([
      ["lab-node-1-v4", 2, true],
      ["lab-node-1-v6", 2, true],
      ["lab-node-2-v4", 1, true],
      ["lab-node-2-v6", 1, true],
    ]);
    expect(u.blocks.find((b) => b.name === "10-244-1-0-26")).toMatchObject({ node: "node-1", inUse: 2 });
    const table = await trellisctl("ipam", "show", "--kubeconfig", join(dir, "kubeconfig"));
    // Block, cidr, pool, node, in use, reserved (the free addresses node-1 keeps for its next ADDs), status.
    expect(table.out).toMatch(
      /^10-244-1-0-26\s+10\.244\.1\.0\/26\s+lab-node-1-v4\s+node-1\s+2\/64\s+\d+\s+ok$/m,
    );
  }, 60_000);

  it("matrix: same-node and cross-node pairs reach declared ports, undeclared ports are refused", async () => {
    const r = await trellisctl("lab", "matrix", "--dir", dir, "-o", "json");
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out) as {
      tables: { port: number; protocol: string; values: Record<string, Record<string, boolean>> }[];
      results: {
        from: string;
        to: string;
        port: number;
        protocol: string;
        outcome: string;
        reply?: string;
      }[];
    };
    const names = ["e2e/a", "e2e/b", "e2e/c"];
    const declares: Record<string, number[]> = {
      "e2e/a": [5353, 8080],
      "e2e/b": [8080],
      "e2e/c": [8080, 9090],
    };
    expect(m.tables.map((t) => `${t.protocol}/${t.port}`)).toEqual([
      "TCP/5353",
      "UDP/5353",
      "TCP/8080",
      "UDP/8080",
      "TCP/9090",
      "UDP/9090",
    ]);
    for (const t of m.tables) {
      for (const from of names) {
        for (const to of names) {
          expect([from, to, t.protocol, t.port, t.values[from]?.[to]]).toEqual([
            from,
            to,
            t.protocol,
            t.port,
            declares[to]?.includes(t.port),
          ]);
        }
      }
    }
    for (const res of m.results) {
      if (declares[res.to]?.includes(res.port)) expect(res.reply).toBe(res.to);
      else expect(res.outcome).toBe("refused");
    }
    // the table form is the upstream e2e one
    const table = await trellisctl("lab", "matrix", "--dir", dir, "--port", "9090", "--protocol", "TCP");
    expect(table.out).toBe(
      "TCP/9090:\n-\te2e/a\te2e/b\te2e/c\ne2e/a\tX\tX\t.\ne2e/b\tX\tX\t.\ne2e/c\tX\tX\t.\n",
    );
  }, 90_000);

  it("probe: exit 0 and the target's name when connected, exit 1 when refused", async () => {
    const ok = await probe("e2e/a", "e2e/c", 8080, "-o", "json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ outcome: "connected", reply: "e2e/c", protocol: "TCP" });
    const v6 = await probe("e2e/c", "e2e/a", 5353, "--protocol", "UDP", "--family", "6", "-o", "json");
    expect(JSON.parse(v6.out)).toMatchObject({ outcome: "connected", reply: "e2e/a" });
    const refused = await probe("e2e/a", "e2e/b", 9090);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("refused");
    const missing = await probe("e2e/a", "e2e/zz", 1);
    expect(missing.code).toBe(3);
  }, 60_000);

  it("the kubelets' pod watches survive an API server restart (ListWatch restarted with backoff)", async () => {
    // either control plane: the same arguments and port, so every kubeconfig and relay stays valid
    await restartApiServer(dir, async () => undefined);
    await waitFor("the API server to answer", async () =>
      (await kubectl("get", "nodes")).code === 0 ? true : undefined,
    );
    expect((await kubectlApply(dir, busyboxPod("e2e", "d", "node-1"))).code).toBe(0);
    await waitFor("pod d Running", async () => {
      const r = await kubectl("get", "pod", "-n", "e2e", "d", "-o", "json");
      return r.code === 0 && (JSON.parse(r.out) as PodJson).status.phase === "Running" ? true : undefined;
    });
    expect(readFileSync(join(dir, "nodes", "node-1", "kubelet.log"), "utf8")).toContain("pod watch failed");
    const reached = await probe("e2e/c", "e2e/d", 8080);
    expect(reached.code).toBe(0);
  }, 90_000);

  it("deleting a pod runs CNI DEL: its host veth, route, netns, addresses and listeners go", async () => {
    const b = podNamed("b");
    const nodeNs = `${prefix}node-1`;
    const podNs = podNetnsName(prefix, b.metadata.uid);
    const cacheDir = join(dir, "nodes", "node-1", "cni", "cache", "results");
    const cacheFile = readdirSync(cacheDir)
      .map((f) => join(cacheDir, f))
      .find((f) => (JSON.parse(readFileSync(f, "utf8")) as { netns: string }).netns.endsWith(podNs));
    if (cacheFile === undefined) throw new Error("no CNI cache entry for pod b");
    const result = (
      JSON.parse(readFileSync(cacheFile, "utf8")) as {
        result: { interfaces: { name: string; sandbox?: string }[] };
      }
    ).result;
    const hostVeth = result.interfaces.find((i) => i.sandbox === undefined || i.sandbox === "")?.name ?? "";
    // docs/architecture.md: trl + 11 hex digits of sha1("<namespace>.<podName>")
    const sha = createHash("sha1").update("e2e.b").digest("hex").slice(0, 11);
    expect(hostVeth).toBe(`trl${sha}`);
    expect((await run("ip", ["-n", nodeNs, "link", "show", hostVeth])).code).toBe(0);
    const v4 = b.status.podIP ?? "";
    expect((await run("ip", ["-n", nodeNs, "route", "show", `${v4}/32`])).out).toContain(`dev ${hostVeth}`);
    expect(blockHolding(await blocks(), v4)).toBeDefined();

    expect((await kubectl("delete", "pod", "-n", "e2e", "b")).code).toBe(0);
    await waitFor("pod b's netns to go", async () =>
      (await labNamespaces(prefix)).includes(podNs) ? undefined : true,
    );
    expect((await run("ip", ["-n", nodeNs, "link", "show", hostVeth])).code).not.toBe(0);
    expect((await run("ip", ["-n", nodeNs, "route", "show", `${v4}/32`])).out).toBe("");
    expect(existsSync(cacheFile)).toBe(false);
    const left = await blocks();
    for (const { ip } of b.status.podIPs ?? []) expect([ip, blockHolding(left, ip)]).toEqual([ip, undefined]);
    const gone = await probe("e2e/a", "e2e/b", 8080);
    expect(gone.code).toBe(3);
  }, 60_000);

  it("a kubelet restarted after its pod was deleted tears the orphaned sandbox down", async () => {
    const c = podNamed("c");
    const podNs = podNetnsName(prefix, c.metadata.uid);
    const pidFile = join(dir, "nodes", "node-2", "kubelet.pid");
    const pid = Number(readFileSync(pidFile, "utf8"));
    const argv = commandLine(pid);
    process.kill(pid, "SIGTERM");
    await waitFor("the kubelet to stop", async () => (existsSync(`/proc/${pid}`) ? undefined : true));
    // gone from the API at once (no kubelet runs to finish a graceful deletion): an orphaned sandbox
    expect((await kubectl("delete", "pod", "-n", "e2e", "c", "--grace-period=0", "--force")).code).toBe(0);
    await sleep(500);
    expect(await labNamespaces(prefix)).toContain(podNs);
    const log = openSync(join(dir, "nodes", "node-2", "kubelet.log"), "a");
    const k = spawn(...commandInNetns(`${prefix}node-2`, argv), {
      detached: true,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    k.unref();
    writeFileSync(pidFile, `${k.pid}\n`);
    await waitFor("the orphaned sandbox to go", async () =>
      (await labNamespaces(prefix)).includes(podNs) ? undefined : true,
    );
    // its DEL reached the agent: c's addresses are free again
    const left = await blocks();
    for (const { ip } of c.status.podIPs ?? []) expect([ip, blockHolding(left, ip)]).toEqual([ip, undefined]);
  }, 60_000);

  it("a failing CNI ADD marks the pod Failed with the plugin's error", async () => {
    const conflist = join(dir, "nodes", "node-2", "cni", "net.d", "10-trellis.conflist");
    const good = readFileSync(conflist, "utf8");
    const broken = JSON.parse(good) as { plugins: unknown[] };
    broken.plugins.push({ type: "no-such-plugin" });
    writeFileSync(conflist, JSON.stringify(broken));
    try {
      expect((await kubectlApply(dir, busyboxPod("e2e", "broken", "node-2"))).code).toBe(0);
      const pod = await waitFor("pod broken to fail", async () => {
        const r = await kubectl("get", "pod", "-n", "e2e", "broken", "-o", "json");
        const p = JSON.parse(r.out) as PodJson & { status: { message?: string } };
        return p.status.phase === "Failed" ? p : undefined;
      });
      expect(pod.status.message).toContain('failed to find plugin "no-such-plugin"');
      // the partial ADD was rolled back: no sandbox left, and no address held for it
      expect(await labNamespaces(podNetnsName(prefix, pod.metadata.uid))).toEqual([]);
      const held = (await blocks())
        .flatMap((b) => b.spec.allocations)
        .filter((a) => a.attributes?.pod === "broken");
      expect(held).toEqual([]);
    } finally {
      writeFileSync(conflist, good);
    }
    const check = await trellisctl("ipam", "check", "--kubeconfig", join(dir, "kubeconfig"));
    expect([check.code, check.out]).toEqual([0, "no problems found\n"]);
  }, 60_000);

  it("lab status follows the agent: alive but not answering /readyz is unhealthy, a dead agent too", async () => {
    const { s } = await status();
    const pid = s.nodes.find((n) => n.name === "node-2")?.agent?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGSTOP");
    try {
      const stopped = await status();
      expect(stopped.code).toBe(1);
      expect(stopped.s.healthy).toBe(false);
      expect(stopped.s.nodes.find((n) => n.name === "node-2")?.agent).toMatchObject({
        alive: true,
        ready: false,
      });
      expect(stopped.s.problems).toContainEqual(expect.stringMatching(/^node-2: trellis-node not ready \(/));
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await waitFor("healthy again", async () => ((await status()).s.healthy ? true : undefined), 30_000);
    process.kill(pid, "SIGKILL");
    await waitFor("the agent to die", async () => (isAlive(pid) ? undefined : true));
    const dead = await status();
    expect(dead.s.healthy).toBe(false);
    expect(dead.s.problems).toContain("node-2: trellis-node not running");
    expect((await trellisctl("lab", "status", "--dir", dir)).out).toMatch(/^node-2\s.*\srunning\s+dead\s/m);
  }, 60_000);

  it("an agent establishes with the ToR: status reports it and the ToR routes its blocks by BGP, none statically", async () => {
    // (node-2's agent was killed above.)
    const st = await waitFor("node-1's ToR sessions to establish", async () => {
      const r = await trellisctl("lab", "status", "--dir", dir, "-o", "json");
      const s = JSON.parse(r.out) as {
        nodes: { name: string; bgp: { protocol: string; state: string }[] }[];
      };
      const n1 = s.nodes.find((n) => n.name === "node-1");
      return n1 !== undefined && n1.bgp.length === 2 && n1.bgp.every((b) => b.state === "Established")
        ? s
        : undefined;
    });
    expect(st.nodes.find((n) => n.name === "node-1")?.bgp.map((b) => b.protocol)).toEqual([
      "node_1",
      "node_1_v6",
    ]);
    const tor = await run("ip", ["-n", `${prefix}tor`, "route", "show", "10.244.1.0/24"]);
    expect(tor.out).not.toMatch(/proto static|proto boot/);
    const routes = await run("ip", ["-n", `${prefix}tor`, "route", "show", "root", "10.244.1.0/24"]);
    expect(routes.out).toMatch(/^10\.244\.1\.\d+\/26 via 198\.18\.0\.1 dev to-node-1 proto bird/m);
  }, 60_000);

  it("lab down removes every namespace, process (agents included) and file", async () => {
    const agentPid = Number(readFileSync(join(dir, "nodes", "node-1", "trellis-node.pid"), "utf8"));
    expect(isAlive(agentPid)).toBe(true);
    const r = await trellisctl("lab", "down", "--dir", dir);
    expect(r.code).toBe(0);
    // gone, or an exited zombie that init has not reaped yet
    expect(isAlive(agentPid)).toBe(false);
    expect(await labNamespaces(prefix)).toEqual([]);
    expect(await labProcesses(dir)).toBe("");
    expect(existsSync(dir)).toBe(false);
  }, 60_000);

  it("lab down cleans up after an up killed half-way", async () => {
    const halfPrefix = labPrefix(halfDir);
    const up = spawn(process.execPath, [CLI, "lab", "up", "--nodes", "2", "--dir", halfDir], {
      stdio: "ignore",
    });
    // kill it once it has built namespaces and started processes
    await waitFor("the half lab's ToR", async () =>
      (await labNamespaces(halfPrefix)).includes(`${halfPrefix}tor`) ? true : undefined,
    );
    up.kill("SIGKILL");
    await new Promise((r) => up.once("exit", r));
    expect((await labNamespaces(halfPrefix)).length).toBeGreaterThan(0);
    const again = await labUp(halfDir, 2);
    expect(again.code).toBe(1);
    expect(again.err).toContain("lab down");
    const r = await trellisctl("lab", "down", "--dir", halfDir);
    expect(r.code).toBe(0);
    expect(await labNamespaces(halfPrefix)).toEqual([]);
    expect(await labProcesses(halfDir)).toBe("");
    expect(existsSync(halfDir)).toBe(false);
  }, 90_000);
});

maybe("lab up --cni ptp (the reference plugins, no agent)", () => {
  const { dir, prefix, kubectl } = useSuiteLab("trellis-lab-e2e-ptp-", { downTimeoutMs: 60_000 });

  it("ptp + host-local pods on one node reach each other; DEL frees the lease; down leaves nothing", async () => {
    // The stand-in: these pods are busyboxPod's (the stand-in answers on their declared port).
    const up = await labUp(dir, 1, "--cni", "ptp", "--kubelet", "standin");
    expect([up.code, up.err]).toEqual([0, expect.any(String)]);
    const nodeDir = join(dir, "nodes", "node-1");
    const conflist = JSON.parse(
      readFileSync(join(nodeDir, "cni", "net.d", "10-trellis.conflist"), "utf8"),
    ) as {
      plugins: { type: string }[];
    };
    expect(conflist.plugins.map((p) => p.type)).toEqual(["ptp", "portmap"]);
    const st = JSON.parse((await trellisctl("lab", "status", "--dir", dir, "-o", "json")).out) as StatusJson;
    expect([st.cni, st.healthy, st.nodes[0]?.agent]).toEqual(["ptp", true, undefined]);
    expect(st.nodes[0]?.logFile).toBe(join(nodeDir, "kubelet.log"));

    const pods = ["p1", "p2"].map((n) => busyboxPod("default", n, "node-1")).join("");
    const running = await applyPodsRunning(dir, pods, "default", 2, 60_000);
    for (const p of running) expect(p.status.podIP).toMatch(/^10\.244\.1\.\d+$/);
    const m = await trellisctl("lab", "matrix", "--dir", dir, "--port", "8080", "--protocol", "TCP");
    expect(m.out).toBe("TCP/8080:\n-\tdefault/p1\tdefault/p2\ndefault/p1\t.\t.\ndefault/p2\t.\t.\n");
    const p2 = running.find((p) => p.metadata.name === "p2");
    const lease = join(nodeDir, "cni", "ipam", "k8s-pod-network", p2?.status.podIP ?? "");
    expect(existsSync(lease)).toBe(true);
    expect((await kubectl("delete", "pod", "p2")).code).toBe(0);
    await waitFor("p2's lease to go", async () => (existsSync(lease) ? undefined : true));

    const down = await trellisctl("lab", "down", "--dir", dir);
    expect(down.code).toBe(0);
    expect(await labNamespaces(prefix)).toEqual([]);
    expect(await labProcesses(dir)).toBe("");
  }, 120_000);
});
