import { describe, it, expect } from "@jest/globals";
import { loadCluster } from "../model/load.js";
import { evaluate, resolveEndpoint } from "../evaluator/evaluate.js";
import { anp, banp, namespace, networkPolicy as np, pod, tenant, type Doc } from "./fixtures.js";
import type { Protocol } from "../model/objects.js";

const world: Doc[] = [
  namespace("x", { team: "x" }),
  namespace("y", { team: "y" }),
  {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "n1" },
    status: { addresses: [{ type: "InternalIP", address: "192.168.0.1" }] },
  },
  pod(
    "x",
    "web",
    { app: "web" },
    {
      node: "n1",
      ip: "10.0.1.1",
      ports: [
        { name: "http", containerPort: 8080 },
        { name: "dns", containerPort: 53, protocol: "UDP" },
      ],
    },
  ),
  pod(
    "x",
    "api",
    { app: "api" },
    { node: "n1", ip: "10.0.1.2", ports: [{ name: "http", containerPort: 9090 }] },
  ),
  pod("y", "client", { app: "client", tier: "fe" }, { node: "n2", ip: "10.0.2.1" }),
  pod("y", "other", { app: "other" }, { node: "n2", ip: "10.0.2.2" }),
  pod("kube-system", "hostnet", { app: "agent" }, { node: "n1", ip: "192.168.0.1", hostNetwork: true }),
];

function verdict(policies: Doc[], from: string, to: string, port: number, protocol: Protocol = "TCP") {
  const c = loadCluster([...world, ...policies]);
  const f = resolveEndpoint(c, from);
  const t = resolveEndpoint(c, to);
  if (!f || !t) throw new Error("endpoint");
  return evaluate(c, { from: f, to: t, port, protocol });
}

const allowHttpFromClient = np("x", "allow-http", {
  podSelector: {},
  ingress: [
    {
      from: [
        {
          namespaceSelector: { matchLabels: { team: "y" } },
          podSelector: { matchLabels: { app: "client" } },
        },
      ],
      ports: [{ port: "http" }],
    },
  ],
});

describe("NetworkPolicy semantics (spec)", () => {
  const table: [string, Doc[], string, string, number, Protocol, boolean][] = [
    ["no policy: default allow", [], "y/client", "x/web", 80, "TCP", true],
    [
      "an empty podSelector with no rules isolates every pod in the namespace",
      [np("x", "deny", { podSelector: {} })],
      "y/client",
      "x/web",
      80,
      "TCP",
      false,
    ],
    [
      "isolation is per namespace",
      [np("x", "deny", { podSelector: {} })],
      "x/web",
      "y/client",
      80,
      "TCP",
      true,
    ],
    [
      "an empty ingress rule allows everything",
      [np("x", "all", { podSelector: {}, ingress: [{}] })],
      "y/client",
      "x/web",
      1,
      "UDP",
      true,
    ],
    [
      "namespaceSelector AND podSelector in one peer: both must match",
      [allowHttpFromClient],
      "y/other",
      "x/web",
      8080,
      "TCP",
      false,
    ],
    [
      "both in one peer: the matching pod passes",
      [allowHttpFromClient],
      "y/client",
      "x/web",
      8080,
      "TCP",
      true,
    ],
    [
      "a named port resolves per destination pod (web: 8080)",
      [allowHttpFromClient],
      "y/client",
      "x/web",
      9090,
      "TCP",
      false,
    ],
    [
      "a named port resolves per destination pod (api: 9090)",
      [allowHttpFromClient],
      "y/client",
      "x/api",
      9090,
      "TCP",
      true,
    ],
    [
      "a named port with the wrong protocol matches nothing",
      [np("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: "dns", protocol: "TCP" }] }] })],
      "y/client",
      "x/web",
      53,
      "TCP",
      false,
    ],
    [
      "a named UDP port",
      [np("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: "dns", protocol: "UDP" }] }] })],
      "y/client",
      "x/web",
      53,
      "UDP",
      true,
    ],
    [
      "separate peers are ORed",
      [
        np("x", "p", {
          podSelector: {},
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { app: "nope" } } },
                { namespaceSelector: { matchLabels: { team: "y" } } },
              ],
            },
          ],
        }),
      ],
      "y/other",
      "x/web",
      80,
      "TCP",
      true,
    ],
    [
      "ipBlock allows the CIDR",
      [
        np("x", "p", {
          podSelector: {},
          ingress: [{ from: [{ ipBlock: { cidr: "10.0.2.0/24", except: ["10.0.2.2/32"] } }] }],
        }),
      ],
      "y/client",
      "x/web",
      80,
      "TCP",
      true,
    ],
    [
      "ipBlock except carves out",
      [
        np("x", "p", {
          podSelector: {},
          ingress: [{ from: [{ ipBlock: { cidr: "10.0.2.0/24", except: ["10.0.2.2/32"] } }] }],
        }),
      ],
      "y/other",
      "x/web",
      80,
      "TCP",
      false,
    ],
    [
      "endPort is inclusive",
      [np("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: 8000, endPort: 8080 }] }] })],
      "y/client",
      "x/web",
      8080,
      "TCP",
      true,
    ],
    [
      "endPort bounds the range",
      [np("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: 8000, endPort: 8080 }] }] })],
      "y/client",
      "x/web",
      8081,
      "TCP",
      false,
    ],
    [
      "an SCTP-only policy never allows TCP",
      [np("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: 80, protocol: "SCTP" }] }] })],
      "y/client",
      "x/web",
      80,
      "TCP",
      false,
    ],
    [
      "an SCTP-only policy allows SCTP",
      [np("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: 80, protocol: "SCTP" }] }] })],
      "y/client",
      "x/web",
      80,
      "SCTP",
      true,
    ],
    [
      "egress isolation of the source denies",
      [np("y", "deny-out", { podSelector: {}, policyTypes: ["Egress"] })],
      "y/client",
      "x/web",
      80,
      "TCP",
      false,
    ],
    [
      "the node is always allowed in",
      [np("x", "deny", { podSelector: {} })],
      "192.168.0.1",
      "x/web",
      80,
      "TCP",
      true,
    ],
    [
      "another address is not",
      [np("x", "deny", { podSelector: {} })],
      "192.168.0.9",
      "x/web",
      80,
      "TCP",
      false,
    ],
    [
      "a host-network pod on the same node is its node",
      [np("x", "deny", { podSelector: {} })],
      "kube-system/hostnet",
      "x/web",
      80,
      "TCP",
      true,
    ],
    [
      "host-network pods are never isolated",
      [np("kube-system", "deny", { podSelector: {} })],
      "x/web",
      "kube-system/hostnet",
      80,
      "TCP",
      true,
    ],
  ];
  it.each(table)("%s", (_n, policies, from, to, port, proto, allowed) => {
    expect(verdict(policies, from, to, port, proto).allowed).toBe(allowed);
  });

  it("reports the deciding policy and rule", () => {
    const v = verdict([allowHttpFromClient], "y/client", "x/api", 9090);
    expect(v.ingress).toMatchObject({
      allowed: true,
      tier: "networkpolicy",
      policy: "NetworkPolicy x/allow-http",
      rule: "ingress[0]",
    });
    expect(v.egress).toMatchObject({ allowed: true, tier: "default" });
    const d = verdict([allowHttpFromClient], "y/other", "x/api", 9090);
    expect(d.decidedBy).toMatchObject({
      direction: "ingress",
      allowed: false,
      tier: "networkpolicy",
      policy: "NetworkPolicy x/allow-http",
    });
  });
});

describe("tiers", () => {
  const nsSel = (ns: string) => ({ namespaces: { matchLabels: { "kubernetes.io/metadata.name": ns } } });
  it("an admin Deny beats a NetworkPolicy allow, naming the ANP rule", () => {
    const v = verdict(
      [
        np("x", "all", { podSelector: {}, ingress: [{}] }),
        anp("deny", {
          priority: 3,
          subject: nsSel("x"),
          ingress: [{ name: "no-y", action: "Deny", from: [nsSel("y")] }],
        }),
      ],
      "y/client",
      "x/web",
      80,
    );
    expect(v.decidedBy).toMatchObject({
      allowed: false,
      tier: "admin",
      policy: "AdminNetworkPolicy deny",
      rule: "ingress[0] (no-y)",
    });
  });
  // A Tenant over namespace x beside a NetworkPolicy in x that admits everyone.
  it.each([
    [
      "Tenant Strict is decided before NetworkPolicy",
      "Strict",
      { decidedBy: { allowed: false, tier: "tenant-strict", policy: "Tenant t" } },
    ],
    ["Tenant Baseline yields to a NetworkPolicy", "Baseline", { allowed: true }],
  ] as const)("%s", (_rule, isolation, want) => {
    const v = verdict(
      [
        tenant("t", { namespaceSelector: { matchLabels: { team: "x" } }, isolation }),
        np("x", "all", { podSelector: {}, ingress: [{}] }),
      ],
      "y/client",
      "x/web",
      80,
    );
    expect(v).toMatchObject(want);
  });
  it("a BANP decides only for pods no NetworkPolicy selects", () => {
    const b = banp({ subject: nsSel("x"), ingress: [{ action: "Deny", from: [nsSel("y")] }] });
    expect(verdict([b], "y/client", "x/web", 80).decidedBy).toMatchObject({
      tier: "baseline",
      allowed: false,
    });
    expect(
      verdict(
        [b, np("x", "web", { podSelector: { matchLabels: { app: "web" } }, ingress: [{}] })],
        "y/client",
        "x/web",
        80,
      ).allowed,
    ).toBe(true);
  });
  it("an egress nodes peer matches the nodes' addresses, not pods; the pod's own node stays allowed", () => {
    const n2 = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n2" },
      status: { addresses: [{ type: "InternalIP", address: "192.168.0.2" }] },
    };
    const deny = anp("no-nodes", {
      priority: 1,
      subject: nsSel("x"),
      egress: [{ action: "Deny", to: [{ nodes: {} }] }],
    });
    expect(verdict([n2, deny], "x/web", "192.168.0.2", 10250).decidedBy).toMatchObject({
      tier: "admin",
      allowed: false,
    });
    expect(verdict([n2, deny], "x/web", "192.168.0.1", 10250).decidedBy).toMatchObject({
      tier: "node-local",
      allowed: true,
    });
    expect(verdict([n2, deny], "x/web", "y/client", 10250).allowed).toBe(true);
  });
  it("an egress networks peer matches addresses, pods included", () => {
    const deny = anp("no-net", {
      priority: 1,
      subject: nsSel("x"),
      egress: [{ action: "Deny", to: [{ networks: ["10.0.2.0/31"] }] }],
    });
    expect(verdict([deny], "x/web", "y/client", 80).allowed).toBe(false);
    expect(verdict([deny], "x/web", "y/other", 80).allowed).toBe(true);
  });
  it("a pod reaching itself is loopback", () => {
    expect(verdict([np("x", "deny", { podSelector: {} })], "x/web", "x/web", 80).decidedBy?.tier).toBe(
      "loopback",
    );
  });
});
