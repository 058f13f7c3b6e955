import { describe, it, expect } from "@jest/globals";
import { ipBlockCidr, validateNetworkPolicySpec } from "../networkpolicy-validation.js";

const ok = { podSelector: {} };

describe("NetworkPolicy validation (networking/validation.go)", () => {
  it.each([
    ["empty policy", ok, []],
    ["named port", { ...ok, ingress: [{ ports: [{ port: "http" }] }] }, []],
    ["port range", { ...ok, egress: [{ ports: [{ protocol: "UDP", port: 1000, endPort: 2000 }] }] }, []],
    [
      "ipBlock with except",
      { ...ok, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }] }] },
      [],
    ],
    [
      "v6 ipBlock",
      { ...ok, egress: [{ to: [{ ipBlock: { cidr: "fd00::/8", except: ["fd00:1::/32"] } }] }] },
      [],
    ],
    [
      "bad protocol",
      { ...ok, ingress: [{ ports: [{ protocol: "ICMP" }] }] },
      ["spec.ingress[0].ports[0].protocol"],
    ],
    ["port 0", { ...ok, ingress: [{ ports: [{ port: 0 }] }] }, ["spec.ingress[0].ports[0].port"]],
    [
      "bad port name",
      { ...ok, ingress: [{ ports: [{ port: "HTTP--x" }] }] },
      ["spec.ingress[0].ports[0].port"],
    ],
    [
      "endPort below port",
      { ...ok, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] },
      ["spec.ingress[0].ports[0].endPort"],
    ],
    [
      "endPort with named port",
      { ...ok, ingress: [{ ports: [{ port: "http", endPort: 80 }] }] },
      ["spec.ingress[0].ports[0].endPort"],
    ],
    [
      "endPort without port",
      { ...ok, ingress: [{ ports: [{ endPort: 80 }] }] },
      ["spec.ingress[0].ports[0].endPort"],
    ],
    ["empty peer", { ...ok, ingress: [{ from: [{}] }] }, ["spec.ingress[0].from[0]"]],
    [
      "ipBlock and selector",
      { ...ok, ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }] },
      ["spec.ingress[0].from[0]"],
    ],
    [
      "bad cidr",
      { ...ok, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/33" } }] }] },
      ["spec.egress[0].to[0].ipBlock.cidr"],
    ],
    [
      "except outside cidr",
      { ...ok, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.1.0.0/24"] } }] }] },
      ["spec.egress[0].to[0].ipBlock.except[0]"],
    ],
    [
      "except equal to cidr",
      { ...ok, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.0.0.0/16"] } }] }] },
      ["spec.egress[0].to[0].ipBlock.except[0]"],
    ],
    [
      "In without values",
      { podSelector: { matchExpressions: [{ key: "a", operator: "In" }] } },
      ["spec.podSelector.matchExpressions[0].values"],
    ],
    [
      "Exists with values",
      { podSelector: { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] } },
      ["spec.podSelector.matchExpressions[0].values"],
    ],
    [
      "bad operator",
      { podSelector: { matchExpressions: [{ key: "a", operator: "Has" }] } },
      ["spec.podSelector.matchExpressions[0].operator"],
    ],
    [
      "bad matchLabels value",
      { ...ok, ingress: [{ from: [{ namespaceSelector: { matchLabels: { a: "-x" } } }] }] },
      ["spec.ingress[0].from[0].namespaceSelector.matchLabels"],
    ],
    ["bad policyType", { ...ok, policyTypes: ["Sideways"] }, ["spec.policyTypes[0]"]],
  ])("%s", (_n, spec, fields) => {
    expect(validateNetworkPolicySpec(spec).map((e) => e.field)).toEqual(fields);
  });

  it("parses CIDRs like netutils.ParseCIDR, masking host bits", () => {
    expect(ipBlockCidr("10.1.2.3/8")).toEqual({ family: 4, base: 10n << 24n, length: 8 });
    expect(ipBlockCidr("::ffff:10.0.0.1/128")?.family).toBe(6);
    expect(ipBlockCidr("10.0.0.0")).toBeUndefined();
    expect(ipBlockCidr("fd00::/129")).toBeUndefined();
  });
});
