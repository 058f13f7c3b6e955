/**
 * trellis-node as a process in a node namespace, against the lab API server
 * through client-node, serving CNI over its socket: the routed veth as
 * pinned, concurrency, crash and restart, GC, namespace deletion before DEL,
 * health and metrics, bad input.
 */
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { hostVethName } from "../../net/veth-name.js";
import { type AgentProc, TestBed, cniShim, cniSocket, netconf, podCall, sh } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";
import { parseExposition, value } from "../../net/prom-text.js";

const bed = new TestBed("ag");
let node1: { netns: string };
let node2: { netns: string };
let a1: AgentProc;
let a2: AgentProc;

useTestBed(bed, async () => {
  await bed.createPool("pool-v4", { cidr: "10.70.0.0/16", blockSize: 26 });
  await bed.createPool("pool-v6", { cidr: "fd00:70::/64", blockSize: 122 });
  await bed.core.createNamespace({ body: { metadata: { name: "team-a" } } }).catch(() => undefined);
  node1 = await bed.addNode();
  node2 = await bed.addNode();
  a1 = await bed.startAgent("node-1", node1.netns);
  a2 = await bed.startAgent("node-2", node2.netns);
});

function ipIn(netns: string, ...args: string[]): Promise<string> {
  return sh("ip", ["-n", netns, ...args]);
}

const addCall = (a: AgentProc, id: string, netns: string, args?: string) =>
  cniSocket(a.socket, podCall("ADD", a, id, netns, args));
const delCall = (a: AgentProc, id: string, netns: string, args?: string) =>
  cniSocket(a.socket, podCall("DEL", a, id, netns, args));

describe("routed veth through the shim", () => {
  const pod = bed.netnsName("p1");
  const id = "c0ffee0001";
  const k8s = "IgnoreUnknown=1;K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=web-1";
  let result: Record<string, unknown>;

  it("ADD wires the pod as docs/architecture.md pins (name, /32 and /128, routes, proxy ARP, MTU)", async () => {
    await bed.addNetns([pod]);
    const r = await cniShim(podCall("ADD", a1, id, pod, k8s));
    expect(r.exitCode).toBe(0);
    result = r.json;
    const hostIf = hostVethName({ namespace: "team-a", pod: "web-1" });
    const ifaces = r.json["interfaces"] as { name: string; sandbox?: string; mtu?: number }[];
    expect(ifaces[0]?.name).toBe(hostIf);
    expect(ifaces[1]).toMatchObject({ name: "eth0", sandbox: `/var/run/netns/${pod}`, mtu: 1400 });
    const ips = r.json["ips"] as { address: string; gateway: string }[];
    expect(ips.map((x) => x.address)).toEqual([
      expect.stringMatching(/^10\.70\.\d+\.\d+\/32$/),
      expect.stringMatching(/^fd00:70::[0-9a-f]+\/128$/),
    ]);
    expect(r.json["routes"]).toEqual([
      { dst: "0.0.0.0/0", gw: "169.254.1.1" },
      { dst: "::/0", gw: "fe80::ecee:eeff:feee:eeee" },
    ]);
    const v4 = ips[0]?.address.split("/")[0] ?? "";
    const v6 = ips[1]?.address.split("/")[0] ?? "";
    // Kernel state, read back.
    expect(await ipIn(node1.netns, "route", "show", v4)).toMatch(
      new RegExp(`dev ${hostIf} proto (201|trellis) scope link`),
    );
    expect(await ipIn(node1.netns, "-6", "route", "show", v6)).toMatch(
      new RegExp(`dev ${hostIf} proto (201|trellis) `),
    );
    expect(await ipIn(pod, "route")).toMatch(/default via 169\.254\.1\.1 dev eth0/);
    expect(await ipIn(pod, "-6", "route")).toMatch(/default via fe80::ecee:eeff:feee:eeee dev eth0/);
    expect(await ipIn(pod, "link", "show", "eth0")).toMatch(/mtu 1400/);
    const proxyArp = await sh("nsenter", [
      `--net=/var/run/netns/${node1.netns}`,
      "cat",
      `/proc/sys/net/ipv4/conf/${hostIf}/proxy_arp`,
    ]);
    expect(proxyArp.trim()).toBe("1");
    // The node's block has a blackhole route (proto 201).
    expect(await ipIn(node1.netns, "route", "show", "type", "blackhole", "proto", "201")).toMatch(
      /10\.70\.\d+\.\d+\/26/,
    );
    // Reachability: pod -> node uplink, over v4 (proxy ARP) and v6 (link-local gateway, no DAD wait).
    await sh("ip", ["netns", "exec", pod, "busybox", "ping", "-c1", "-W2", "10.250.1.2"]);
    await sh("ip", ["netns", "exec", pod, "busybox", "ping", "-c1", "-W2", "fd00:250:1::2"]);
    // And the allocation is in the API, with attributes.
    const stored = await bed.allocations();
    expect(stored.get(v4)).toMatchObject({ handle: `${id}.eth0`, node: "node-1" });
  });

  it("CHECK passes on an intact pod and reports drift when a route is gone", async () => {
    const check = () =>
      cniSocket(a1.socket, {
        command: "CHECK",
        containerID: id,
        netns: `/var/run/netns/${pod}`,
        ifname: "eth0",
        args: k8s,
        config: netconf(a1.socket, { prevResult: { cniVersion: "1.1.0", ...result } }),
      });
    expect((await check()).exitCode).toBe(0);
    await ipIn(pod, "route", "del", "default");
    const r = await check();
    expect(r.exitCode).toBe(1);
    expect(String(r.json["msg"])).toMatch(/default route via 169\.254\.1\.1 is missing/);
  });

  it("ADD on an existing interface is an error and leaves the pod intact", async () => {
    const before = (await bed.allocations()).size;
    const r = await cniSocket(a1.socket, podCall("ADD", a1, id, pod, k8s));
    expect(r.exitCode).toBe(1);
    // A plugin code (101), not the catch-all 999: ADD twice without DEL.
    expect(r.json["code"]).toBe(101);
    expect(String(r.json["msg"])).toMatch(/already exists/);
    // Same handle: IPAM returned the same addresses and must not free them.
    expect((await bed.allocations()).size).toBe(before);
  });

  it("DEL removes veth, routes and allocation; a second DEL succeeds too", async () => {
    const call = () => cniShim(podCall("DEL", a1, id, pod, k8s));
    expect((await call()).exitCode).toBe(0);
    const hostIf = hostVethName({ namespace: "team-a", pod: "web-1" });
    expect(await ipIn(node1.netns, "link")).not.toContain(hostIf);
    expect([...(await bed.allocations()).values()].some((x) => x.handle === `${id}.eth0`)).toBe(false);
    expect((await call()).exitCode).toBe(0);
    await bed.delNetns([pod]);
    expect((await call()).exitCode).toBe(0); // no netns at all: still success
  });
});

describe("concurrency", () => {
  it("100 concurrent ADDs on one node give 100 distinct addresses and 100 veths", async () => {
    const pods = Array.from({ length: 100 }, (_, i) => bed.netnsName(`q${i}`));
    await bed.addNetns(pods);
    const rs = await Promise.all(pods.map((p, i) => addCall(a1, `burst${i}`, p)));
    expect(rs.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    const v4 = rs.map((r) => (r.json["ips"] as { address: string }[])[0]?.address);
    expect(new Set(v4).size).toBe(100);
    const veths = (await ipIn(node1.netns, "-o", "link", "show", "type", "veth"))
      .split("\n")
      .filter((l) => l.includes(": trl"));
    expect(veths.length).toBe(100);
    await Promise.all(pods.map((p, i) => delCall(a1, `burst${i}`, p)));
    await bed.delNetns(pods);
    const left = [...(await bed.allocations()).values()].filter((x) => x.handle.startsWith("burst"));
    expect(left).toEqual([]);
  }, 120_000);

  it("two nodes × 50 concurrent ADDs on one pool give 100 distinct addresses", async () => {
    const p1 = Array.from({ length: 50 }, (_, i) => bed.netnsName(`x${i}`));
    const p2 = Array.from({ length: 50 }, (_, i) => bed.netnsName(`y${i}`));
    await bed.addNetns([...p1, ...p2]);
    const rs = await Promise.all([
      ...p1.map((p, i) => addCall(a1, `two-a${i}`, p)),
      ...p2.map((p, i) => addCall(a2, `two-b${i}`, p)),
    ]);
    expect(rs.filter((r) => r.exitCode !== 0).map((r) => r.json)).toEqual([]);
    const all = rs.flatMap((r) => (r.json["ips"] as { address: string }[]).map((x) => x.address));
    expect(new Set(all).size).toBe(200); // 100 pods × (v4 + v6)
    await Promise.all([
      ...p1.map((p, i) => delCall(a1, `two-a${i}`, p)),
      ...p2.map((p, i) => delCall(a2, `two-b${i}`, p)),
    ]);
    await bed.delNetns([...p1, ...p2]);
  }, 120_000);
});

describe("faults", () => {
  it("killing the agent mid-burst, restarting it and GC leave no allocation without a live attachment", async () => {
    const pods = Array.from({ length: 40 }, (_, i) => bed.netnsName(`k${i}`));
    await bed.addNetns(pods);
    const burst = pods.map((p, i) => addCall(a1, `kill${i}`, p).catch(() => ({ exitCode: -1, json: {} })));
    await new Promise((r) => setTimeout(r, 60));
    await bed.stopAgent(a1, "SIGKILL");
    const rs = await Promise.all(burst);
    a1 = await bed.startAgent("node-1", node1.netns);
    // The runtime's view: only ADDs that answered success are attachments.
    const valid = rs.flatMap((r, i) =>
      r.exitCode === 0 ? [{ containerID: `kill${i}`, ifname: "eth0" }] : [],
    );
    const gc = await cniSocket(a1.socket, {
      command: "GC",
      config: netconf(a1.socket, { "cni.dev/valid-attachments": valid }),
    });
    expect(gc.exitCode).toBe(0);
    const held = [...(await bed.allocations()).values()].filter(
      (x) => x.node === "node-1" && x.handle.startsWith("kill"),
    );
    const validHandles = new Set(valid.map((v) => `${v.containerID}.eth0`));
    expect(held.filter((x) => !validHandles.has(x.handle))).toEqual([]);
    // Every answered ADD still has its address (restart disturbs no running pod) and its veth.
    expect(new Set(held.map((x) => x.handle))).toEqual(validHandles);
    await Promise.all(pods.map((p, i) => delCall(a1, `kill${i}`, p)));
    await bed.delNetns(pods);
  }, 120_000);

  it("a pod whose namespace was deleted before DEL still has its address released", async () => {
    const pod = bed.netnsName("gone");
    await bed.addNetns([pod]);
    const r = await addCall(a2, "gone1", pod);
    expect(r.exitCode).toBe(0);
    await bed.delNetns([pod]);
    const d = await delCall(a2, "gone1", pod);
    expect(d.exitCode).toBe(0);
    expect([...(await bed.allocations()).values()].some((x) => x.handle === "gone1.eth0")).toBe(false);
    expect(await ipIn(node2.netns, "link")).not.toMatch(/trl/);
  });

  it.each([
    ["malformed stdin", "{not json", 6],
    // Unknown top-level keys are accepted (runtimes add their own); inside Trellis's own sections they are errors.
    [
      "an unknown field in ipam",
      JSON.stringify({ ...netconf("/x"), ipam: { type: "trellis-ipam", bogus: 1 } }),
      2,
    ],
    ["an invalid MTU", JSON.stringify({ ...netconf("/x"), mtu: 10 }), 7],
    ["an unsupported version", JSON.stringify({ ...netconf("/x"), cniVersion: "0.1.0" }), 1],
  ])("answers %s with its spec error code and keeps serving", async (_n, stdin, code) => {
    const { connect } = await import("node:net");
    const { encodeRequest, decodeReply } = await import("../../agent/cni-server/frame.js");
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = connect(a2.socket);
      const chunks: Buffer[] = [];
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("end", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
      s.write(
        encodeRequest({
          env: {
            CNI_COMMAND: "ADD",
            CNI_CONTAINERID: "bad",
            CNI_NETNS: "/var/run/netns/none",
            CNI_IFNAME: "eth0",
            CNI_PATH: "/usr/lib/cni",
          },
          stdin: Buffer.from(stdin),
        }),
      );
    });
    const r = decodeReply(reply);
    expect(r?.exitCode).toBe(1);
    expect((JSON.parse(r?.stdout ?? "{}") as { code: number }).code).toBe(code);
    const st = await cniSocket(a2.socket, { command: "STATUS", config: netconf(a2.socket) });
    expect(st.exitCode).toBe(0);
  });

  it("an ADD into a namespace that does not exist fails cleanly and frees its address", async () => {
    const before = (await bed.allocations()).size;
    const r = await addCall(a2, "nons", bed.netnsName("missing"));
    expect(r.exitCode).toBe(1);
    expect((await bed.allocations()).size).toBe(before);
    expect(a2.proc.exitCode).toBeNull();
  });
});

describe("hostile input", () => {
  it("refuses a CNI_NETNS with blanks (code 4) before touching the kernel or IPAM", async () => {
    const before = (await bed.allocations()).size;
    const r = await cniSocket(a2.socket, {
      command: "ADD",
      containerID: "blank1",
      netns: "/var/run/netns/x y",
      ifname: "eth0",
      config: netconf(a2.socket),
    });
    expect(r.json["code"]).toBe(4);
    expect(String(r.json["msg"])).toMatch(/CNI_NETNS/);
    expect((await bed.allocations()).size).toBe(before);
  });
});

describe("pool validation", () => {
  it("logs a pool with a bad CIDR as rejected, with the reason, and keeps serving", async () => {
    await bed.createPool("bad-cidr", { cidr: "10.72.0.9/24" });
    const deadline = Date.now() + 10_000;
    let log = "";
    while (Date.now() < deadline) {
      log = readFileSync(a2.logFile, "utf8");
      if (log.includes("bad-cidr")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const line = log.split("\n").find((l) => l.includes('"pool":"bad-cidr"')) ?? "";
    expect(JSON.parse(line)).toMatchObject({
      msg: "IPPool rejected",
      reason: `spec.cidr: "10.72.0.9/24" has host bits set (the network is 10.72.0.0/24)`,
    });
    expect(a2.proc.exitCode).toBeNull();
  });
});

describe("health and metrics", () => {
  it("/healthz and /readyz answer 200; /metrics has CNI, IPAM and informer families", async () => {
    expect((await bed.httpInNode(node2.netns, a2.metricsPort, "/healthz")).status).toBe(200);
    expect((await bed.httpInNode(node2.netns, a2.metricsPort, "/readyz")).status).toBe(200);
    const m = (await bed.httpInNode(node2.netns, a2.metricsPort, "/metrics")).body;
    expect(m).toMatch(/trellis_cni_operations_total\{command="ADD",result="success",code="0"\} \d+/);
    // Label order is the library's (le first): read it through the parser.
    const fams = parseExposition(m);
    expect(
      value(fams, "trellis_cni_operation_duration_seconds_bucket", { command: "ADD", le: "0.1" }),
    ).toBeGreaterThan(0);
    expect(m).toMatch(/^trellis_ipam_blocks \d+$/m);
    expect(m).toMatch(/^trellis_ipam_addresses_in_use \d+$/m);
    expect(m).toMatch(/trellis_informer_restarts_total\{resource="pods"\} \d+/);
    expect(m.split("\n").filter((l) => l.startsWith("trellis_ipam_pools_rejected"))).toEqual([
      "trellis_ipam_pools_rejected 1",
    ]); // the bad-cidr pool above
  });

  it("a bad configuration value fails at start naming the field (exit 2)", async () => {
    const { spawnSync } = await import("node:child_process");
    const r = spawnSync(
      process.execPath,
      [
        new URL("../../agent/bin/trellis-node.js", import.meta.url).pathname,
        "--node-name",
        "Bad_Name",
        "--kubeconfig",
        bed.kubeconfig,
      ],
      {
        encoding: "utf8",
        env: { ...process.env, TRELLIS_MTU: "12" },
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nodeName \(from --node-name\): must be a DNS-1123 subdomain/);
    expect(r.stderr).toMatch(/mtu \(from env TRELLIS_MTU\)/);
  });

  it("an empty or cluster-less kubeconfig fails at start naming the file (exit 2)", async () => {
    const { spawnSync } = await import("node:child_process");
    const { writeFileSync } = await import("node:fs");
    const bin = new URL("../../agent/bin/trellis-node.js", import.meta.url).pathname;
    const empty = `${bed.dir}/empty-kubeconfig`;
    const noCluster = `${bed.dir}/nocluster-kubeconfig`;
    writeFileSync(empty, "");
    writeFileSync(noCluster, "apiVersion: v1\nkind: Config\nclusters: []\n");
    for (const [file, re] of [
      [empty, /kubeconfig: .*empty-kubeconfig: not a kubeconfig \(empty or not a YAML mapping\)/],
      [noCluster, /kubeconfig: .*nocluster-kubeconfig: no cluster for the current context/],
    ] as const) {
      const r = spawnSync(process.execPath, [bin, "--node-name", "n1", "--kubeconfig", file], {
        encoding: "utf8",
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/TypeError|at .*\.js:\d+/);
    }
  });

  it("a CNI socket path that cannot be used fails at start naming cniSocket (exit 2), and a file there is kept", async () => {
    const { spawnSync } = await import("node:child_process");
    const { readFileSync: read, writeFileSync } = await import("node:fs");
    const bin = new URL("../../agent/bin/trellis-node.js", import.meta.url).pathname;
    const precious = `${bed.dir}/precious`;
    writeFileSync(precious, "keep me\n");
    for (const [socket, re] of [
      [`${precious}/x.sock`, /cniSocket .*precious\/x\.sock: cannot create its directory \(E\w+\)/],
      [precious, /cniSocket .*precious: exists and is not a socket/],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        [bin, "--node-name", "n1", "--kubeconfig", bed.kubeconfig, "--cni-socket", socket],
        { encoding: "utf8", env: { ...process.env, TRELLIS_POLICY_ENABLED: "false" }, timeout: 30_000 },
      );
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(re);
    }
    expect(read(precious, "utf8")).toBe("keep me\n");
  });

  it("logs are JSON lines (never stdout of the CNI path)", () => {
    const first = readFileSync(a2.logFile, "utf8").split("\n")[0] ?? "";
    expect(() => JSON.parse(first) as unknown).not.toThrow();
  });
});
