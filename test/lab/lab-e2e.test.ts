// End to end, as root: a 2-node lab with the reference ptp plugin, pods
// applied with kubectl, the reachability matrix, CNI DEL on pod deletion,
// and lab down leaving nothing behind (also after a killed `up`).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { labPrefix, podNetnsName } from "../../lab/lab-names.js";
import { trellisConflist } from "../../lab/conflist.js";

const CLI = fileURLToPath(new URL("../../cli/trellisctl.js", import.meta.url));
const isRoot = process.getuid?.() === 0;
const maybe =
  isRoot && existsSync("/usr/sbin/bird") && existsSync("/usr/lib/cni/ptp") ? describe : describe.skip;

interface Run {
  code: number;
  out: string;
  err: string;
}

function run(cmd: string, args: string[], input?: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 << 20 }, (e, out, err) =>
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : 1, out, err }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

const trellisctl = (...args: string[]): Promise<Run> => run(process.execPath, [CLI, ...args]);

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

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
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

interface PodJson {
  metadata: { name: string; namespace: string; uid: string };
  spec: { nodeName: string; hostNetwork?: boolean };
  status: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}

maybe("lab end to end (root, network namespaces)", () => {
  const base = mkdtempSync(join(tmpdir(), "trellis-lab-e2e-"));
  const dir = join(base, "lab");
  const halfDir = join(base, "half");
  const prefix = labPrefix(dir);
  const kubectl = (...args: string[]): Promise<Run> =>
    run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), ...args]);
  let pods: PodJson[] = [];

  beforeAll(async () => {
    const r = await trellisctl("lab", "up", "--nodes", "2", "--dir", dir);
    if (r.code !== 0) throw new Error(`lab up failed: ${r.err}`);
  }, 180_000);

  afterAll(async () => {
    await trellisctl("lab", "down", "--dir", dir);
    await trellisctl("lab", "down", "--dir", halfDir);
    rmSync(base, { recursive: true, force: true });
  }, 60_000);

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

  it("refuses a second up on the running lab (exit 1, says so)", async () => {
    const r = await trellisctl("lab", "up", "--nodes", "2", "--dir", dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("already running");
  });

  it("runs pods applied with kubectl: Running with IPv4 and IPv6 addresses from their node's CIDR", async () => {
    const applied = await run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), "apply", "-f", "-"], PODS);
    // kubectl's stderr rides along so a failure shows why
    expect([applied.code, applied.err]).toEqual([0, expect.any(String)]);
    pods = await waitFor("pods Running", async () => {
      const r = await kubectl("get", "pods", "-n", "e2e", "-o", "json");
      const items = (JSON.parse(r.out) as { items: PodJson[] }).items;
      return items.length === 4 && items.every((p) => p.status.phase === "Running") ? items : undefined;
    });
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
  }, 90_000);

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
    const ok = await trellisctl(
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "e2e/a",
      "--to",
      "e2e/c",
      "--port",
      "8080",
      "-o",
      "json",
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ outcome: "connected", reply: "e2e/c", protocol: "TCP" });
    const v6 = await trellisctl(
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "e2e/c",
      "--to",
      "e2e/a",
      "--port",
      "5353",
      "--protocol",
      "UDP",
      "--family",
      "6",
      "-o",
      "json",
    );
    expect(JSON.parse(v6.out)).toMatchObject({ outcome: "connected", reply: "e2e/a" });
    const refused = await trellisctl(
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "e2e/a",
      "--to",
      "e2e/b",
      "--port",
      "9090",
    );
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("refused");
    const missing = await trellisctl(
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "e2e/a",
      "--to",
      "e2e/zz",
      "--port",
      "1",
    );
    expect(missing.code).toBe(3);
  }, 60_000);

  it("the kubelets' pod watches survive an API server restart (ListWatch restarted with backoff)", async () => {
    const pidFile = join(dir, "apiserver.pid");
    const pid = Number(readFileSync(pidFile, "utf8"));
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((a) => a !== "");
    const url = (JSON.parse(readFileSync(join(dir, "lab.json"), "utf8")) as { apiserverUrl: string })
      .apiserverUrl;
    const port = new URL(url).port;
    process.kill(pid, "SIGTERM");
    await waitFor("the API server to stop", async () => (existsSync(`/proc/${pid}`) ? undefined : true));
    // same port, so DIR/kubeconfig stays valid; the kubelets use the unix socket through their relay
    const i = argv.indexOf("--port");
    argv[i + 1] = port;
    const out = openSync(join(dir, "apiserver.out"), "a");
    const log = openSync(join(dir, "apiserver.log"), "a");
    const [cmd, ...rest] = argv;
    const s = spawn(cmd ?? process.execPath, rest, { detached: true, stdio: ["ignore", out, log] });
    closeSync(out);
    closeSync(log);
    s.unref();
    writeFileSync(pidFile, `${s.pid}\n`);
    await waitFor("the API server to answer", async () =>
      (await kubectl("get", "nodes")).code === 0 ? true : undefined,
    );
    const d = `apiVersion: v1
kind: Pod
metadata: {name: d, namespace: e2e}
spec:
  nodeName: node-1
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
`;
    expect(
      (await run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), "apply", "-f", "-"], d)).code,
    ).toBe(0);
    await waitFor("pod d Running", async () => {
      const r = await kubectl("get", "pod", "-n", "e2e", "d", "-o", "json");
      return r.code === 0 && (JSON.parse(r.out) as PodJson).status.phase === "Running" ? true : undefined;
    });
    expect(readFileSync(join(dir, "nodes", "node-1", "kubelet.log"), "utf8")).toContain("pod watch failed");
    const probe = await trellisctl(
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "e2e/c",
      "--to",
      "e2e/d",
      "--port",
      "8080",
    );
    expect(probe.code).toBe(0);
  }, 90_000);

  it("deleting a pod runs CNI DEL: its host veth, netns, lease and listeners go", async () => {
    const b = pods.find((p) => p.metadata.name === "b");
    if (b === undefined) throw new Error("no pod b");
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
    expect(hostVeth).toMatch(/^veth/);
    expect((await run("ip", ["-n", nodeNs, "link", "show", hostVeth])).code).toBe(0);
    const lease = join(dir, "nodes", "node-1", "cni", "ipam", "k8s-pod-network", b.status.podIP ?? "");
    expect(existsSync(lease)).toBe(true);

    expect((await kubectl("delete", "pod", "-n", "e2e", "b")).code).toBe(0);
    await waitFor("pod b's netns to go", async () =>
      (await labNamespaces(prefix)).includes(podNs) ? undefined : true,
    );
    expect((await run("ip", ["-n", nodeNs, "link", "show", hostVeth])).code).not.toBe(0);
    expect(existsSync(cacheFile)).toBe(false);
    expect(existsSync(lease)).toBe(false);
    const probe = await trellisctl(
      "lab",
      "probe",
      "--dir",
      dir,
      "--from",
      "e2e/a",
      "--to",
      "e2e/b",
      "--port",
      "8080",
    );
    expect(probe.code).toBe(3);
  }, 60_000);

  it("a kubelet restarted after its pod was deleted tears the orphaned sandbox down", async () => {
    const c = pods.find((p) => p.metadata.name === "c");
    if (c === undefined) throw new Error("no pod c");
    const podNs = podNetnsName(prefix, c.metadata.uid);
    const pidFile = join(dir, "nodes", "node-2", "kubelet.pid");
    const pid = Number(readFileSync(pidFile, "utf8"));
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((a) => a !== "");
    process.kill(pid, "SIGTERM");
    await waitFor("the kubelet to stop", async () => (existsSync(`/proc/${pid}`) ? undefined : true));
    expect((await kubectl("delete", "pod", "-n", "e2e", "c")).code).toBe(0);
    await sleep(500);
    expect(await labNamespaces(prefix)).toContain(podNs);
    const log = openSync(join(dir, "nodes", "node-2", "kubelet.log"), "a");
    const k = spawn("nsenter", [`--net=/var/run/netns/${prefix}node-2`, ...argv], {
      detached: true,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    k.unref();
    writeFileSync(pidFile, `${k.pid}\n`);
    await waitFor("the orphaned sandbox to go", async () =>
      (await labNamespaces(prefix)).includes(podNs) ? undefined : true,
    );
  }, 60_000);

  it("a failing CNI ADD marks the pod Failed with the plugin's error", async () => {
    const conflist = join(dir, "nodes", "node-2", "cni", "net.d", "10-trellis.conflist");
    const good = readFileSync(conflist, "utf8");
    const broken = JSON.parse(good) as { plugins: unknown[] };
    broken.plugins.push({ type: "no-such-plugin" });
    writeFileSync(conflist, JSON.stringify(broken));
    try {
      const bad = `apiVersion: v1
kind: Pod
metadata: {name: broken, namespace: e2e}
spec:
  nodeName: node-2
  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]
`;
      expect(
        (await run("kubectl", ["--kubeconfig", join(dir, "kubeconfig"), "apply", "-f", "-"], bad)).code,
      ).toBe(0);
      const pod = await waitFor("pod broken to fail", async () => {
        const r = await kubectl("get", "pod", "-n", "e2e", "broken", "-o", "json");
        const p = JSON.parse(r.out) as PodJson & { status: { message?: string } };
        return p.status.phase === "Failed" ? p : undefined;
      });
      expect(pod.status.message).toContain('failed to find plugin "no-such-plugin"');
      // the partial ADD was rolled back: no sandbox left
      expect(await labNamespaces(podNetnsName(prefix, pod.metadata.uid))).toEqual([]);
    } finally {
      writeFileSync(conflist, good);
    }
  }, 60_000);

  it("a BGP speaker on a node establishes with the ToR: status reports it and the ToR routes its prefix", async () => {
    // BIRD stands in for the Trellis agent, which speaks BGP in a later issue.
    const nodeDir = join(dir, "nodes", "node-1");
    const conf = join(nodeDir, "test-bird.conf");
    writeFileSync(
      conf,
      [
        "router id 198.18.0.1;",
        "protocol device {}",
        "protocol static { ipv4; route 10.99.1.0/24 blackhole; }",
        "protocol bgp tor { local 198.18.0.1 as 64512; neighbor 198.18.0.0 as 65000; ipv4 { import all; export all; }; }",
        "",
      ].join("\n"),
    );
    const pidFile = join(nodeDir, "test-bird.pid");
    const started = await run("nsenter", [
      `--net=/var/run/netns/${prefix}node-1`,
      "bird",
      "-c",
      conf,
      "-s",
      join(nodeDir, "test-bird.ctl"),
      "-P",
      pidFile,
    ]);
    expect([started.code, started.err]).toEqual([0, ""]);
    try {
      const st = await waitFor("the node_1 session to establish", async () => {
        const r = await trellisctl("lab", "status", "--dir", dir, "-o", "json");
        const s = JSON.parse(r.out) as {
          nodes: { name: string; bgp: { protocol: string; state: string }[] }[];
        };
        const n1 = s.nodes.find((n) => n.name === "node-1");
        return n1?.bgp.find((b) => b.protocol === "node_1")?.state === "Established" ? s : undefined;
      });
      expect(st.nodes.find((n) => n.name === "node-2")?.bgp.map((b) => b.state)).not.toContain("Established");
      const routes = await run("ip", ["-n", `${prefix}tor`, "route", "show", "10.99.1.0/24"]);
      expect(routes.out).toContain("via 198.18.0.1 dev to-node-1 proto bird");
    } finally {
      const pid = Number(readFileSync(pidFile, "utf8"));
      process.kill(pid, "SIGTERM");
    }
  }, 60_000);

  it("lab down removes every namespace, process and file", async () => {
    const r = await trellisctl("lab", "down", "--dir", dir);
    expect(r.code).toBe(0);
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
    const again = await trellisctl("lab", "up", "--nodes", "2", "--dir", halfDir);
    expect(again.code).toBe(1);
    expect(again.err).toContain("lab down");
    const r = await trellisctl("lab", "down", "--dir", halfDir);
    expect(r.code).toBe(0);
    expect(await labNamespaces(halfPrefix)).toEqual([]);
    expect(await labProcesses(halfDir)).toBe("");
    expect(existsSync(halfDir)).toBe(false);
  }, 90_000);
});

maybe("lab up --cni trellis (the agent comes in a later issue)", () => {
  const base = mkdtempSync(join(tmpdir(), "trellis-lab-e2e-trellis-"));
  const dir = join(base, "lab");
  afterAll(async () => {
    await trellisctl("lab", "down", "--dir", dir);
    rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it("writes the pinned conflist, links the shim when built, and starts trellis-node with its flags", async () => {
    const up = await trellisctl("lab", "up", "--nodes", "1", "--cni", "trellis", "--dir", dir);
    expect([up.code, up.err]).toEqual([0, expect.any(String)]);
    const nodeDir = join(dir, "nodes", "node-1");
    const conflist = JSON.parse(
      readFileSync(join(nodeDir, "cni", "net.d", "10-trellis.conflist"), "utf8"),
    ) as unknown;
    expect(conflist).toEqual(trellisConflist(join(nodeDir, "cni.sock")));
    const shim = fileURLToPath(new URL("../../../cni/shim/trellis", import.meta.url));
    expect(existsSync(join(nodeDir, "cni", "bin", "trellis"))).toBe(existsSync(shim));
    const st = JSON.parse((await trellisctl("lab", "status", "--dir", dir, "-o", "json")).out) as {
      cni: string;
      nodes: { agentSocket: string; logFile: string; agent?: { pid: number | null; logFile: string } }[];
    };
    expect(st.cni).toBe("trellis");
    expect(st.nodes[0]?.agentSocket).toBe(join(nodeDir, "cni.sock"));
    expect(st.nodes[0]?.logFile).toBe(join(nodeDir, "trellis-node.log"));
    expect(st.nodes[0]?.agent?.logFile).toBe(join(nodeDir, "trellis-node.log"));
    if (existsSync(fileURLToPath(new URL("../../agent/bin/trellis-node.js", import.meta.url)))) {
      expect(st.nodes[0]?.agent?.pid).toEqual(expect.any(Number));
    }
    const down = await trellisctl("lab", "down", "--dir", dir);
    expect(down.code).toBe(0);
    expect(await labNamespaces(labPrefix(dir))).toEqual([]);
    expect(await labProcesses(dir)).toBe("");
  }, 90_000);
});
