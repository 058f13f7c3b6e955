import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { labelsMatch } from "../../net/label-selector.js";
import { blockName, poolSelector, validatePool } from "../ipam.js";

const root = new URL("../../..", import.meta.url);

describe("IPPool validation", () => {
  it.each([
    [
      "host bits set",
      { cidr: "10.244.0.1/16" },
      /spec.cidr: "10.244.0.1\/16" has host bits set \(the network is 10.244.0.0\/16\)/,
    ],
    ["not an address", { cidr: "10.244.0/16" }, /is not an IPv4 address/],
    ["no prefix", { cidr: "10.244.0.0" }, /no "\/length"/],
    ["prefix too long", { cidr: "10.0.0.0/33" }, /the length must be 0..32/],
    [
      "v4 block size out of range",
      { cidr: "10.0.0.0/8", blockSize: 19 },
      /spec.blockSize: block size \/19 is outside 20..32 for an IPv4 pool/,
    ],
    ["v6 block size out of range", { cidr: "fd00::/48", blockSize: 64 }, /outside 116..128 for an IPv6 pool/],
    ["block larger than the pool", { cidr: "10.0.0.0/28", blockSize: 26 }, /larger than the pool/],
    [
      "bad selector",
      { cidr: "10.0.0.0/16", nodeSelector: "a in b" },
      /nodeSelector: unable to parse requirement/,
    ],
    ["unknown field", { cidr: "10.0.0.0/16", blokSize: 26 }, /blokSize/],
  ])("rejects %s with the reason", (_n, spec, re) => {
    const r = validatePool({ metadata: { name: "p" }, spec });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(re);
  });

  it("accepts a dual-stack pair with default block sizes", () => {
    expect(validatePool({ metadata: { name: "v4" }, spec: { cidr: "10.244.0.0/16" } }).ok).toBe(true);
    expect(
      validatePool({ metadata: { name: "v6" }, spec: { cidr: "fd00:244::/56", blockSize: 122 } }).ok,
    ).toBe(true);
  });
});

describe("block names", () => {
  it("names blocks injectively after their CIDR", () => {
    expect(blockName("10.244.0.64/26")).toBe("10-244-0-64-26");
    expect(blockName("fd00::40/122")).toBe("fd00--40-122");
  });
});

describe("pool selectors (Kubernetes label selectors, plus Calico's all())", () => {
  it.each([
    ["", {}, true],
    ["all()", { a: "1" }, true],
    ["zone=z1", { zone: "z1" }, true],
    ["zone==z1", { zone: "z2" }, false],
    ["zone!=z1", {}, true],
    ["zone in (z1, z2)", { zone: "z2" }, true],
    ["zone notin (z1)", { zone: "z1" }, false],
    ["gpu", { gpu: "" }, true],
    ["!gpu", { gpu: "x" }, false],
    ["a=1,b=2", { a: "1", b: "3" }, false],
  ])("%j on %j -> %s", (sel, labels, want) => {
    const t = poolSelector(sel);
    expect(typeof t).not.toBe("string");
    if (typeof t !== "string") expect(labelsMatch(t, labels)).toBe(want);
  });
});

describe("CRD manifests", () => {
  it.each(["ippools", "ipamblocks", "blockaffinities"])(
    "%s.trellis.dev is a v1alpha1 CRD of trellis.dev",
    (plural) => {
      const doc = parse(readFileSync(new URL(`crds/manifests/${plural}.trellis.dev.yaml`, root), "utf8")) as {
        kind: string;
        spec: { group: string; names: { plural: string }; versions: { name: string; schema: unknown }[] };
      };
      expect(doc.kind).toBe("CustomResourceDefinition");
      expect(doc.spec.group).toBe("trellis.dev");
      expect(doc.spec.names.plural).toBe(plural);
      expect(doc.spec.versions[0]?.name).toBe("v1alpha1");
      expect(doc.spec.versions[0]?.schema).toBeDefined();
    },
  );
});
