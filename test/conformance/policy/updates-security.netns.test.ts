/**
 * Updates (labels and policies change enforcement with a minimal nft
 * transaction) and the security properties: anti-spoofing, unknown `trl*`
 * interfaces dropped, node-local traffic allowed, counters and logging (root).
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { NetnsCluster } from "./netns-cluster.js";
import { until } from "../../support/until.js";
import { networkPolicy as np, type Doc } from "../../../policy/test/fixtures.js";
import type { ApplyResult } from "../../../agent/nft/driver.js";
import { loadCluster } from "../../../policy/model/load.js";
import { evaluate, resolveEndpoint } from "../../../policy/evaluator/evaluate.js";

const cluster = new NetnsCluster("tPup", 75);
const ip = (k: string) => cluster.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string;
const nodeOf = (k: string) => cluster.pods.find((p) => `${p.ns}/${p.pod}` === k)?.node as "n1" | "n2";

function ops(r: ApplyResult): string[] {
  return r.commands.map((c) => {
    const [verb, body] = Object.entries(c)[0] as [string, Record<string, unknown>];
    return `${verb} ${Object.keys(body)[0]}`;
  });
}

function onlyElementOps(results: Record<string, ApplyResult>): boolean {
  return Object.values(results).every(
    (r) =>
      r.mode === "noop" ||
      (r.mode === "diff" && ops(r).every((o) => o === "add element" || o === "delete element")),
  );
}

const AGENT = fileURLToPath(new URL("../../../../test/conformance/policy/pod-agent.py", import.meta.url));
const sh = (...a: string[]) => execFileSync(a[0] as string, a.slice(1), { encoding: "utf8" });

describe("policy updates and dataplane security in network namespaces", () => {
  beforeAll(async () => {
    await cluster.up();
  }, 120_000);
  afterAll(() => {
    try {
      sh("ip", "netns", "del", "tPup-rogue");
    } catch {
      // not created
    }
    cluster.down();
  });

  const clientPolicy = np("x", "allow-clients", {
    podSelector: { matchLabels: { pod: "a" } },
    ingress: [
      { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: "client" } } }] },
      { from: [{ namespaceSelector: { matchLabels: { team: "blue" } } }], ports: [{ port: 80 }] },
    ],
  });

  it("a pod label change opens a connection with set-element changes only", async () => {
    await cluster.apply([...cluster.baseDocs(), clientPolicy]);
    expect(await cluster.probe("y/b", ip("x/a"), 80, "TCP")).toBe("timeout");
    const r = await cluster.apply([
      ...cluster.baseDocs({}, { "y/b": { pod: "b", role: "client" } }),
      clientPolicy,
    ]);
    expect(onlyElementOps(r)).toBe(true);
    expect(await cluster.probe("y/b", ip("x/a"), 80, "TCP")).toBe("connected");
    expect(await cluster.probe("y/c", ip("x/a"), 80, "TCP")).toBe("timeout");
  });

  it("a namespace label change opens a connection with set-element changes only", async () => {
    const r = await cluster.apply([
      ...cluster.baseDocs({ z: { ns: "z", team: "blue" } }, { "y/b": { pod: "b", role: "client" } }),
      clientPolicy,
    ]);
    expect(onlyElementOps(r)).toBe(true);
    expect(await cluster.probe("z/c", ip("x/a"), 80, "TCP")).toBe("connected");
    expect(await cluster.probe("z/c", ip("x/a"), 81, "TCP")).toBe("timeout");
  });

  it("a changed policy changes enforcement; a deleted policy stops being enforced", async () => {
    const base = cluster.baseDocs({ z: { ns: "z", team: "blue" } }, { "y/b": { pod: "b", role: "client" } });
    const changed = np("x", "allow-clients", {
      podSelector: { matchLabels: { pod: "a" } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "blue" } } }], ports: [{ port: 81 }] }],
    });
    const r = await cluster.apply([...base, changed]);
    const node = nodeOf("x/a");
    expect(r[node].mode).toBe("diff");
    // A rewrite of one chain plus its sets, not of the table.
    expect(ops(r[node])).not.toContain("delete table");
    expect(await cluster.probe("z/c", ip("x/a"), 81, "TCP")).toBe("connected");
    expect(await cluster.probe("z/c", ip("x/a"), 80, "TCP")).toBe("timeout");
    expect(await cluster.probe("y/b", ip("x/a"), 80, "TCP")).toBe("timeout");
    const d = await cluster.apply(base);
    expect(ops(d[node])).toContain("delete chain");
    expect(await cluster.probe("y/c", ip("x/a"), 80, "TCP")).toBe("connected");
  });

  it("a closed port is refused (RST from the listener side); a denied one times out", async () => {
    await cluster.apply([
      ...cluster.baseDocs(),
      np("x", "only-80", {
        podSelector: { matchLabels: { pod: "a" } },
        ingress: [{ ports: [{ port: 80 }, { port: 82 }] }],
      }),
    ]);
    // 82 is allowed but has no listener: the pod's kernel answers with a RST.
    expect(await cluster.probe("y/b", ip("x/a"), 82, "TCP")).toBe("refused");
    // 83 is denied: the SYN is dropped on the node and the probe times out.
    expect(await cluster.probe("y/b", ip("x/a"), 83, "TCP")).toBe("timeout");
    expect(await cluster.probe("y/b", ip("x/a"), 80, "TCP")).toBe("connected");
  });

  it("drops a packet whose source is not the pod's own address (anti-spoofing)", async () => {
    await cluster.apply(cluster.baseDocs());
    const xa = cluster.pods.find((p) => p.ns === "x" && p.pod === "a");
    sh("ip", "-n", xa?.netns as string, "addr", "add", `${ip("y/b")}/32`, "dev", "eth0");
    try {
      expect(await cluster.probe("x/a", ip("z/c"), 80, "TCP")).toBe("connected");
      // Same pod, same destination, forged source: dropped on the pod's node.
      expect(NetnsCluster.connectFrom(xa?.netns as string, ip("z/c"), 80)).toBe("connected");
      const spoofed = execFileSync(
        "nsenter",
        [
          `--net=/var/run/netns/${xa?.netns}`,
          "--",
          "python3",
          "-c",
          `import socket
try:
  socket.create_connection(("${ip("z/c")}", 80), timeout=1, source_address=("${ip("y/b")}", 0)).close(); print("connected")
except (socket.timeout, TimeoutError): print("timeout")
except OSError as e: print("error:" + str(e))`,
        ],
        { encoding: "utf8" },
      ).trim();
      expect(spoofed).toBe("timeout");
    } finally {
      sh("ip", "-n", xa?.netns as string, "addr", "del", `${ip("y/b")}/32`, "dev", "eth0");
    }
  });

  it("drops traffic from a trl* interface that belongs to no known pod", async () => {
    await cluster.apply(cluster.baseDocs());
    const node = cluster.nodes.n1.netns;
    const rogueIp = "10.75.1.99";
    sh("ip", "netns", "add", "tPup-rogue");
    sh(
      "ip",
      "-n",
      node,
      "link",
      "add",
      "trl00000000000",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      "tPup-rogue",
    );
    sh("ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.conf.trl00000000000.proxy_arp=1");
    sh("ip", "-n", node, "link", "set", "trl00000000000", "up");
    sh("ip", "-n", node, "route", "add", `${rogueIp}/32`, "dev", "trl00000000000");
    sh("ip", "-n", "tPup-rogue", "link", "set", "lo", "up");
    sh("ip", "-n", "tPup-rogue", "addr", "add", `${rogueIp}/32`, "dev", "eth0");
    sh("ip", "-n", "tPup-rogue", "link", "set", "eth0", "up");
    sh("ip", "-n", "tPup-rogue", "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
    sh("ip", "-n", "tPup-rogue", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
    expect(NetnsCluster.connectFrom("tPup-rogue", ip("x/a"), 80)).toBe("timeout");
    expect(NetnsCluster.connectFrom("tPup-rogue", ip("x/b"), 80)).toBe("timeout");
  });

  it("always allows the pod's own node, not a remote node, and agrees with the evaluator", async () => {
    const docs: Doc[] = [
      ...cluster.baseDocs(),
      np("x", "deny-all-ingress", { podSelector: {}, policyTypes: ["Ingress"] }),
    ];
    await cluster.apply(docs);
    const local = nodeOf("x/a");
    const remote = local === "n1" ? "n2" : "n1";
    expect(NetnsCluster.connectFrom(cluster.nodes[local].netns, ip("x/a"), 80)).toBe("connected");
    expect(NetnsCluster.connectFrom(cluster.nodes[remote].netns, ip("x/a"), 80)).toBe("timeout");
    const c = loadCluster(docs);
    const to = resolveEndpoint(c, "x/a");
    if (!to) throw new Error("no x/a");
    expect(
      evaluate(c, { from: { kind: "ip", ip: cluster.nodes[local].address }, to, port: 80, protocol: "TCP" })
        .allowed,
    ).toBe(true);
    expect(
      evaluate(c, { from: { kind: "ip", ip: cluster.nodes[remote].address }, to, port: 80, protocol: "TCP" })
        .allowed,
    ).toBe(false);
  });

  it("treats a host-network pod as its node: never isolated, reachable from its own node's pods", async () => {
    const n1 = cluster.nodes.n1;
    const hostPod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "hostnet", namespace: "x", labels: { pod: "a" } },
      spec: {
        nodeName: "n1",
        hostNetwork: true,
        containers: [{ name: "c", ports: [{ containerPort: 80 }] }],
      },
      status: { podIP: n1.address, podIPs: [{ ip: n1.address }] },
    };
    const docs: Doc[] = [
      ...cluster.baseDocs(),
      hostPod,
      np("x", "deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    ];
    await cluster.apply(docs);
    const server = spawn(
      "nsenter",
      [`--net=/var/run/netns/${n1.netns}`, "--", "python3", "-u", AGENT, "80"],
      { stdio: ["pipe", "ignore", "ignore"] },
    );
    try {
      // Until python3 listens (a fixed 400 ms was not enough on a loaded CI
      // machine: the first probe was refused).
      await until(
        "the host-network server listening on :80 in n1",
        () =>
          execFileSync("ip", ["netns", "exec", n1.netns, "ss", "-Hltn", "sport", "=", ":80"], {
            encoding: "utf8",
          }).trim() !== "",
        10_000,
        50,
      );
      const c = loadCluster(docs);
      const to = resolveEndpoint(c, "x/hostnet");
      if (!to) throw new Error("no x/hostnet");
      const check = async (from: string, expectAllowed: boolean) => {
        const f = resolveEndpoint(c, from);
        if (!f) throw new Error(from);
        expect(evaluate(c, { from: f, to, port: 80, protocol: "TCP" }).allowed).toBe(expectAllowed);
        expect(await cluster.probe(from, n1.address, 80, "TCP")).toBe(
          expectAllowed ? "connected" : "timeout",
        );
      };
      // Selected by labels, yet not isolated: a pod on the other node reaches it.
      expect(nodeOf("y/a")).toBe("n2");
      await check("y/a", true);
      // x/a is egress-isolated but on n1: its own node is always allowed.
      expect(nodeOf("x/a")).toBe("n1");
      await check("x/a", true);
      // x/b is egress-isolated and on n2: n1 is just a remote address.
      expect(nodeOf("x/b")).toBe("n2");
      await check("x/b", false);
    } finally {
      server.stdin?.end();
      server.kill();
    }
  });

  it("counts on every rule and logs with the policy's name when annotated", async () => {
    const logged = np(
      "x",
      "audited",
      {
        podSelector: { matchLabels: { pod: "a" } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: "b" } } }] }],
      },
      { "trellis.dev/log": "true" },
    );
    await cluster.apply([...cluster.baseDocs(), logged]);
    expect(await cluster.probe("x/b", ip("x/a"), 80, "TCP")).toBe("connected");
    expect(await cluster.probe("x/c", ip("x/a"), 80, "TCP")).toBe("timeout");
    const listing = JSON.parse(
      sh(
        "ip",
        "netns",
        "exec",
        cluster.nodes[nodeOf("x/a")].netns,
        "nft",
        "-j",
        "list",
        "table",
        "inet",
        "trellis",
      ),
    ) as { nftables: Record<string, Record<string, unknown>>[] };
    const rules = listing.nftables
      .filter((o) => o["rule"])
      .map((o) => o["rule"] as { expr: Record<string, unknown>[] });
    expect(rules.every((r) => r.expr.some((e) => "counter" in e))).toBe(true);
    const withPrefix = (p: RegExp) =>
      rules.filter((r) => r.expr.some((e) => e["log"] && p.test((e["log"] as { prefix: string }).prefix)));
    const allow = withPrefix(/^NetworkPolicy x\/audited ingress\[0\]/);
    const deny = withPrefix(/^NetworkPolicy x\/audited ingress isolation/);
    // The allow rule matches peers: one rule per family (ip / ip6), both logging.
    expect(allow).toHaveLength(2);
    expect(deny).toHaveLength(1);
    const packets = (r: { expr: Record<string, unknown>[] }) =>
      (r.expr.find((e) => "counter" in e)?.["counter"] as { packets: number }).packets;
    const v4 = allow.find((r) => JSON.stringify(r.expr).includes('"protocol":"ip"'));
    expect(packets(v4 as { expr: Record<string, unknown>[] })).toBeGreaterThan(0);
    expect(packets(deny[0] as { expr: Record<string, unknown>[] })).toBeGreaterThan(0);
  });
});
