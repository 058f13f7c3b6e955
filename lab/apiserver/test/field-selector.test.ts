import { describe, it, expect } from "@jest/globals";
import { SelectorParseError, parseFieldSelector, fieldsMatch } from "../field-selector.js";

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
