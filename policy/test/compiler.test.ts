import { describe, it, expect } from "@jest/globals";
import { createHash } from "node:crypto";
import { loadCluster } from "../model/load.js";
import { compile, compiledDocument } from "../compiler/compile.js";
import { podVethName } from "../../net/veth-name.js";
import { portEntries } from "../compiler/ir.js";
import { namespace, networkPolicy as np, pod, type Doc } from "./fixtures.js";

function cluster(nPods: number, policies: Doc[]): Doc[] {
  const docs: Doc[] = [namespace("x", { team: "x" })];
  for (let i = 0; i < nPods; i++) {
    docs.push(
      pod(
        "x",
        `p${i}`,
        { app: i % 2 === 0 ? "even" : "odd" },
        {
          node: i % 4 === 0 ? "n1" : "n2",
          ip: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
          ports: [{ name: "http", containerPort: 8000 + (i % 3) }],
        },
      ),
    );
  }
  return [...docs, ...policies];
}

const evenPolicy = np("x", "even", {
  podSelector: { matchLabels: { app: "even" } },
  ingress: [{ from: [{ podSelector: { matchLabels: { app: "odd" } } }], ports: [{ port: "http" }] }],
});

describe("compiler", () => {
  it("names host veths trl + sha1(namespace.pod)[:11]", () => {
    const want = "trl" + createHash("sha1").update("x.p0").digest("hex").slice(0, 11);
    expect(podVethName("x", "p0")).toBe(want);
    expect(want).toHaveLength(14);
  });

  it("emits exactly one table, inet trellis, and only touches it", () => {
    const doc = compiledDocument(compile(loadCluster(cluster(8, [evenPolicy])), "n1").table);
    const tables = new Set<string>();
    for (const c of doc.nftables) {
      const body = Object.values(c)[0] as Record<string, Record<string, unknown>>;
      for (const o of Object.values(body)) {
        if (o && typeof o === "object" && "family" in o)
          tables.add(`${String(o["family"])} ${String(o["table"] ?? o["name"])}`);
      }
    }
    expect([...tables]).toEqual(["inet trellis"]);
  });

  it("puts a counter on every rule", () => {
    const t = compile(loadCluster(cluster(8, [evenPolicy])), "n1").table;
    for (const c of t.chains)
      for (const r of c.rules)
        expect(r.expr.some((e) => typeof e === "object" && e !== null && "counter" in e)).toBe(true);
  });

  it("is deterministic: same input, same bytes, whatever the input order", () => {
    const docs = cluster(20, [evenPolicy]);
    const a = JSON.stringify(compiledDocument(compile(loadCluster(docs), "n1").table));
    const b = JSON.stringify(compiledDocument(compile(loadCluster([...docs].reverse()), "n1").table));
    expect(a).toBe(b);
  });

  it("shares one chain among pods with the same policies: chains do not grow with pods", () => {
    const small = compile(loadCluster(cluster(8, [evenPolicy])), "n1").table;
    const big = compile(loadCluster(cluster(400, [evenPolicy])), "n1").table;
    expect(big.chains.map((c) => c.name).sort()).toEqual(small.chains.map((c) => c.name).sort());
    expect(big.maps.find((m) => m.name === "ingress-pods")?.elements.length).toBe(100);
  });

  it("resolves a named port per destination pod into (address . proto . port) elements", () => {
    const c = loadCluster(cluster(3, []));
    const entries = portEntries([{ protocol: "TCP", name: "http" }], c.pods);
    expect(entries.map((e) => [e.dst.start === e.dst.end, e.from])).toEqual([
      [true, 8000],
      [true, 8001],
      [true, 8002],
    ]);
  });

  it("drops named-port entries already covered by a numbered range and merges ranges", () => {
    const c = loadCluster(cluster(3, []));
    const entries = portEntries(
      [
        { protocol: "TCP", port: 7990, endPort: 8001 },
        { protocol: "TCP", port: 8002 },
        { protocol: "TCP", name: "http" },
      ],
      c.pods,
    );
    expect(entries).toEqual([{ dst: { start: 0, end: 0xffffffff }, protocol: "TCP", from: 7990, to: 8002 }]);
  });

  it("computes ipBlock except into disjoint interval elements", () => {
    const t = compile(
      loadCluster(
        cluster(4, [
          np("x", "cidr", {
            podSelector: {},
            ingress: [
              { from: [{ ipBlock: { cidr: "172.16.0.0/16", except: ["172.16.1.0/24", "172.16.0.0/24"] } }] },
            ],
          }),
        ]),
      ),
      "n1",
    ).table;
    const peer = t.sets.find((s) => s.name.startsWith("peer-"));
    expect(peer?.elements).toEqual([{ range: ["172.16.2.0", "172.16.255.255"] }]);
  });

  it("compiles a nodes peer into the selected nodes' addresses", () => {
    const docs = [
      ...cluster(4, []),
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "n1", labels: { role: "worker" } },
        status: { addresses: [{ type: "InternalIP", address: "192.168.9.1" }] },
      },
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "n2", labels: { role: "control" } },
        status: { addresses: [{ type: "InternalIP", address: "192.168.9.2" }] },
      },
      {
        apiVersion: "policy.networking.k8s.io/v1alpha1",
        kind: "AdminNetworkPolicy",
        metadata: { name: "workers" },
        spec: {
          priority: 1,
          subject: { namespaces: {} },
          egress: [{ action: "Deny", to: [{ nodes: { matchLabels: { role: "worker" } } }] }],
        },
      },
    ];
    const t = compile(loadCluster(docs), "n1").table;
    expect(t.sets.find((s) => s.name.startsWith("peer-"))?.elements).toEqual(["192.168.9.1"]);
  });

  it("logs with the policy's name when annotated trellis.dev/log", () => {
    const t = compile(
      loadCluster(
        cluster(4, [np("x", "audited", { podSelector: {}, ingress: [{}] }, { "trellis.dev/log": "true" })]),
      ),
      "n1",
    ).table;
    const prefixes = t.chains.flatMap((c) =>
      c.rules.flatMap((r) => r.expr.filter((e) => typeof e === "object" && e !== null && "log" in e)),
    );
    expect(prefixes).toContainEqual({ log: { prefix: "NetworkPolicy x/audited ingress[0]: " } });
  });
});
