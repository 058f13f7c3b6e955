import { describe, it, expect } from "@jest/globals";
import { loadCluster, loadClusterFromText, PolicyInputError } from "../model/load.js";
import { namespace, networkPolicy, pod, anp, cnp, tenant, type Doc } from "./fixtures.js";

function err(docs: Doc[]): PolicyInputError {
  try {
    loadCluster(docs);
  } catch (e) {
    if (e instanceof PolicyInputError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("input validation names the object and the field", () => {
  const cases: [string, Doc, RegExp, string][] = [
    [
      "an unknown kind",
      { apiVersion: "v1", kind: "Service", metadata: { name: "s", namespace: "x" } },
      /unknown kind "Service"/,
      "kind",
    ],
    [
      "an invalid selector operator",
      networkPolicy("x", "p", {
        podSelector: { matchExpressions: [{ key: "a", operator: "Equals", values: ["b"] }] },
      }),
      /invalid selector operator "Equals"/,
      "spec.podSelector.matchExpressions[0].operator",
    ],
    [
      "In without values",
      networkPolicy("x", "p", { podSelector: { matchExpressions: [{ key: "a", operator: "In" }] } }),
      /needs values/,
      "spec.podSelector.matchExpressions[0].values",
    ],
    [
      "an except outside its CIDR",
      networkPolicy("x", "p", {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/24", except: ["10.0.1.0/28"] } }] }],
      }),
      /outside cidr/,
      "spec.ingress[0].from[0].ipBlock.except[0]",
    ],
    [
      "an invalid CIDR",
      networkPolicy("x", "p", {
        podSelector: {},
        egress: [{ to: [{ ipBlock: { cidr: "10.0.0.300/24" } }] }],
      }),
      /invalid CIDR/,
      "spec.egress[0].to[0].ipBlock.cidr",
    ],
    [
      "a port out of range",
      networkPolicy("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: 70000 }] }] }),
      /.+/,
      "spec.ingress[0].ports[0].port",
    ],
    [
      "endPort below port",
      networkPolicy("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }),
      /less than port/,
      "spec.ingress[0].ports[0].endPort",
    ],
    [
      "endPort with a named port",
      networkPolicy("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: "http", endPort: 80 }] }] }),
      /numeric port/,
      "spec.ingress[0].ports[0].endPort",
    ],
    [
      "ipBlock together with a selector",
      networkPolicy("x", "p", {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }],
      }),
      /may not be combined/,
      "spec.ingress[0].from[0]",
    ],
    [
      "an empty peer",
      networkPolicy("x", "p", { podSelector: {}, ingress: [{ from: [{}] }] }),
      /needs podSelector/,
      "spec.ingress[0].from[0]",
    ],
    [
      "a bad protocol",
      networkPolicy("x", "p", { podSelector: {}, ingress: [{ ports: [{ protocol: "ICMP", port: 1 }] }] }),
      /.+/,
      "spec.ingress[0].ports[0].protocol",
    ],
    [
      "an ANP subject with both fields",
      anp("a", {
        priority: 1,
        subject: { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } },
      }),
      /exactly one/,
      "spec.subject",
    ],
    [
      "an ANP priority out of range",
      anp("a", { priority: 1001, subject: { namespaces: {} } }),
      /.+/,
      "spec.priority",
    ],
    [
      "a CNP protocol with two fields",
      cnp("c", {
        tier: "Admin",
        priority: 1,
        subject: { namespaces: {} },
        ingress: [{ action: "Deny", from: [{ namespaces: {} }], protocols: [{ tcp: {}, udp: {} }] }],
      }),
      /exactly one/,
      "spec.ingress[0].protocols[0]",
    ],
    [
      "a Tenant with a bad isolation",
      tenant("t", { namespaceSelector: {}, isolation: "Partial" }),
      /.+/,
      "spec.isolation",
    ],
  ];
  it.each(cases)("rejects %s", (_n, doc, message, field) => {
    const e = err([doc]);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(message);
    expect(e.object).toMatch(/^[A-Za-z]+ /);
    expect(e.code).toBe("TRELLIS_EPOLICYINPUT");
  });

  it("names the object as Kind namespace/name", () => {
    expect(
      err([networkPolicy("x", "web", { podSelector: { matchExpressions: [{ key: "a", operator: "Bad" }] } })])
        .object,
    ).toBe("NetworkPolicy x/web");
  });

  it("warns about a named port that matches nothing, and keeps the policy", () => {
    const c = loadCluster([
      namespace("x"),
      pod("x", "a", { app: "a" }, { ip: "10.0.0.1", ports: [{ name: "http", containerPort: 8080 }] }),
      networkPolicy("x", "p", { podSelector: {}, ingress: [{ ports: [{ port: "grpc" }] }] }),
    ]);
    expect(c.policies).toHaveLength(1);
    expect(c.warnings).toEqual([
      expect.objectContaining({
        object: "NetworkPolicy x/p",
        field: "spec.ingress[0].ports[0]",
        message: expect.stringMatching(/"grpc" matches no container port/),
      }),
    ]);
  });

  it("reads multi-document YAML and List objects", () => {
    const c = loadClusterFromText(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: y}\n",
    );
    expect([...c.namespaces.keys()].sort()).toEqual(["x", "y"]);
    expect(c.namespaces.get("y")?.labels).toEqual({ "kubernetes.io/metadata.name": "y" });
  });

  it("reports YAML syntax errors as input errors", () => {
    expect(() => loadClusterFromText("kind: [")).toThrow(PolicyInputError);
  });

  it("reports an alias bomb (billion laughs) as an input error naming the document", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    expect(() => loadClusterFromText(levels.join("\n"))).toThrow(
      /document #0.*invalid YAML: Excessive alias count/,
    );
  });
});

describe("NetworkPolicy normalization", () => {
  const load = (spec: Doc) => loadCluster([networkPolicy("x", "p", spec)]).policies[0];
  it("policyTypes defaults to Ingress, plus Egress when egress rules exist", () => {
    expect(load({ podSelector: {} })?.ingress).toEqual([]);
    expect(load({ podSelector: {} })?.egress).toBeNull();
    expect(load({ podSelector: {}, egress: [] })?.egress).toEqual([]);
    expect(load({ podSelector: {}, policyTypes: ["Egress"] })?.ingress).toBeNull();
  });
  it("missing and empty from/ports mean every peer and every port", () => {
    const p = load({ podSelector: {}, ingress: [{}, { from: [], ports: [] }] });
    expect(p?.ingress?.map((r) => [r.peers, r.ports])).toEqual([
      [null, null],
      [null, null],
    ]);
  });
  it("a podSelector-only peer means the policy's own namespace; namespaceSelector-only means every pod there", () => {
    const p = load({
      podSelector: {},
      ingress: [{ from: [{ podSelector: { matchLabels: { a: "b" } } }, { namespaceSelector: {} }] }],
    });
    expect(p?.ingress?.[0]?.peers).toEqual([
      { kind: "pods", namespaces: { kind: "same", namespace: "x" }, pods: { matchLabels: { a: "b" } } },
      { kind: "pods", namespaces: { kind: "selector", selector: {} }, pods: {} },
    ]);
  });
});
