import { describe, it, expect } from "@jest/globals";
import { SelectorParseError, labelsMatch, parseLabelSelector } from "../label-selector.js";
import { parseFieldSelector, fieldsMatch } from "../field-selector.js";

describe("label selector grammar (labels/selector.go)", () => {
  it.each([
    ["", []],
    ["a=b", [{ key: "a", op: "=", values: ["b"] }]],
    ["a==b", [{ key: "a", op: "=", values: ["b"] }]],
    ["a!=b", [{ key: "a", op: "!=", values: ["b"] }]],
    ["a", [{ key: "a", op: "exists", values: [] }]],
    ["!a", [{ key: "a", op: "!", values: [] }]],
    ["a in (x, y)", [{ key: "a", op: "in", values: ["x", "y"] }]],
    ["a notin (x)", [{ key: "a", op: "notin", values: ["x"] }]],
    ["a=", [{ key: "a", op: "=", values: [""] }]],
    ["a>3", [{ key: "a", op: "gt", values: ["3"] }]],
    [
      "example.com/app=web , tier",
      [
        { key: "example.com/app", op: "=", values: ["web"] },
        { key: "tier", op: "exists", values: [] },
      ],
    ],
  ])("parses %j", (input, want) => {
    expect(parseLabelSelector(input)).toEqual(want);
  });

  it.each([
    ["a in (x"],
    ["a in x"],
    ["a in ()"],
    ["a=b,"],
    ["=b"],
    ["a b"],
    ["-a=b"],
    ["a=b c"],
    ["a/b/c=d"],
    ["a=-x-"],
    ["a>x"],
    [`k=${"v".repeat(64)}`],
  ])("rejects %j", (input) => {
    expect(() => parseLabelSelector(input)).toThrow(SelectorParseError);
  });

  const labels = { app: "web", tier: "fe", n: "5" };
  it.each([
    ["app=web", true],
    ["app=db", false],
    ["app!=db", true],
    ["missing!=x", true],
    ["app in (db,web)", true],
    ["app notin (web)", false],
    ["missing notin (web)", true],
    ["missing in (web)", false],
    ["tier", true],
    ["!tier", false],
    ["n>4", true],
    ["n<5", false],
    ["missing<9", false],
    ["app=web,tier=be", false],
  ])("%s on app=web,tier=fe,n=5 → %s", (sel, want) => {
    expect(labelsMatch(parseLabelSelector(sel), labels)).toBe(want);
  });
});

describe("field selectors (fields/selector.go)", () => {
  const supported = (f: string): boolean => ["metadata.name", "spec.nodeName", "status.phase"].includes(f);
  it("parses =, == and != with escapes", () => {
    expect(
      parseFieldSelector("spec.nodeName==n1,status.phase!=Running,metadata.name=a\\,b", supported),
    ).toEqual([
      { field: "spec.nodeName", op: "=", value: "n1" },
      { field: "status.phase", op: "!=", value: "Running" },
      { field: "metadata.name", op: "=", value: "a,b" },
    ]);
  });
  it("rejects unsupported fields and terms without an operator", () => {
    expect(() => parseFieldSelector("spec.other=1", supported)).toThrow(
      "field label not supported: spec.other",
    );
    expect(() => parseFieldSelector("spec.nodeName", supported)).toThrow(SelectorParseError);
  });
  it("matches, treating an absent field as empty", () => {
    const get = (f: string): string => (f === "spec.nodeName" ? "n1" : "");
    expect(fieldsMatch(parseFieldSelector("spec.nodeName=n1", supported), get)).toBe(true);
    expect(fieldsMatch(parseFieldSelector("status.phase=", supported), get)).toBe(true);
    expect(fieldsMatch(parseFieldSelector("status.phase!=", supported), get)).toBe(false);
  });
});
