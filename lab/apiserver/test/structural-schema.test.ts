import { describe, it, expect } from "@jest/globals";
import { applyDefaults, prune, validateCustomResource, type JSONSchemaProps } from "../structural-schema.js";

const schema: JSONSchemaProps = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      required: ["cidr"],
      properties: {
        cidr: { type: "string", pattern: "^[0-9./]+$", maxLength: 18 },
        size: { type: "integer", minimum: 20, maximum: 32, default: 26 },
        ratio: { type: "number", exclusiveMaximum: true, maximum: 1 },
        mode: { type: "string", enum: ["A", "B"] },
        port: { "x-kubernetes-int-or-string": true },
        opt: { type: "string", nullable: true },
        nodes: { type: "array", minItems: 1, maxItems: 2, items: { type: "string", minLength: 2 } },
        labels: { type: "object", additionalProperties: { type: "string" } },
        free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        nested: { type: "object", properties: { keep: { type: "boolean" } } },
      },
    },
  },
};

function check(spec: unknown): string[] {
  const obj = { apiVersion: "x/v1", kind: "X", metadata: { name: "n" }, spec } as Record<string, unknown>;
  prune(schema, obj);
  applyDefaults(schema, obj);
  return validateCustomResource(schema, obj).map((e) => `${e.field} ${e.type}`);
}

describe("pruning (structural schema)", () => {
  it("drops unknown fields, keeps preserved and additionalProperties ones, and reports the paths", () => {
    const obj = {
      apiVersion: "x/v1",
      kind: "X",
      metadata: { name: "n", anything: 1 },
      spec: {
        cidr: "1.0.0.0/8",
        bogus: 1,
        free: { any: { thing: 1 } },
        labels: { k: "v" },
        nested: { keep: true, drop: 2 },
      },
      other: 3,
    };
    const removed = prune(schema, obj);
    expect(removed.sort()).toEqual(["other", "spec.bogus", "spec.nested.drop"]);
    expect(obj).toEqual({
      apiVersion: "x/v1",
      kind: "X",
      metadata: { name: "n", anything: 1 },
      spec: { cidr: "1.0.0.0/8", free: { any: { thing: 1 } }, labels: { k: "v" }, nested: { keep: true } },
    });
  });

  it("drops nulls of non-nullable fields and then defaults them", () => {
    const obj = { spec: { cidr: "1.0.0.0/8", size: null, opt: null } } as Record<string, unknown>;
    prune(schema, obj);
    applyDefaults(schema, obj);
    expect(obj).toEqual({ spec: { cidr: "1.0.0.0/8", size: 26, opt: null } });
  });
});

describe("validation", () => {
  it.each([
    [{ cidr: "1.0.0.0/8" }, []],
    [{}, ["spec.cidr FieldValueRequired"]],
    [{ cidr: "x" }, ["spec.cidr FieldValueInvalid"]],
    [{ cidr: "1.0.0.0/8000000000000" }, ["spec.cidr FieldValueTooLong"]],
    [{ cidr: 5 }, ["spec.cidr FieldValueTypeInvalid"]],
    [{ cidr: "1.0.0.0/8", size: 19 }, ["spec.size FieldValueInvalid"]],
    [{ cidr: "1.0.0.0/8", size: 33 }, ["spec.size FieldValueInvalid"]],
    [{ cidr: "1.0.0.0/8", size: 24.5 }, ["spec.size FieldValueTypeInvalid"]],
    [{ cidr: "1.0.0.0/8", ratio: 1 }, ["spec.ratio FieldValueInvalid"]],
    [{ cidr: "1.0.0.0/8", ratio: 0.5 }, []],
    [{ cidr: "1.0.0.0/8", mode: "C" }, ["spec.mode FieldValueNotSupported"]],
    [{ cidr: "1.0.0.0/8", port: "http" }, []],
    [{ cidr: "1.0.0.0/8", port: 80 }, []],
    [{ cidr: "1.0.0.0/8", port: true }, ["spec.port FieldValueTypeInvalid"]],
    [{ cidr: "1.0.0.0/8", nodes: [] }, ["spec.nodes FieldValueInvalid"]],
    [{ cidr: "1.0.0.0/8", nodes: ["aa", "bb", "cc"] }, ["spec.nodes FieldValueTooMany"]],
    [{ cidr: "1.0.0.0/8", nodes: ["a"] }, ["spec.nodes[0] FieldValueInvalid"]],
    [{ cidr: "1.0.0.0/8", labels: { k: 1 } }, ["spec.labels.k FieldValueTypeInvalid"]],
    ["not-an-object", ["spec FieldValueTypeInvalid"]],
  ])("spec %j → %j", (spec, want) => {
    expect(check(spec)).toEqual(want);
  });
});

describe("string formats", () => {
  const fmt = (format: string): JSONSchemaProps => ({
    type: "object",
    properties: { spec: { type: "object", properties: { v: { type: "string", format } } } },
  });
  it.each([
    ["cidr", "10.0.0.0/8", true],
    ["cidr", "fd00::/64", true],
    ["cidr", "10.0.0.0/40", false],
    ["cidr", "10.0.0.0", false],
    ["ipv4", "192.0.2.1", true],
    ["ipv4", "fd00::1", false],
    ["ipv6", "fd00::1", true],
    ["date-time", "2024-01-02T03:04:05Z", true],
    ["date-time", "yesterday", false],
    ["uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", true],
    ["uuid", "nope", false],
    ["hostname", "node-1.example.com", true],
    ["hostname", "-bad", false],
    ["whatever-format", "anything", true],
  ])("%s %j valid=%s", (format, value, valid) => {
    const errs = validateCustomResource(fmt(format), {
      apiVersion: "x/v1",
      kind: "X",
      metadata: {},
      spec: { v: value },
    });
    expect(errs.length === 0).toBe(valid);
    if (!valid) expect(errs[0]?.field).toBe("spec.v");
  });
});

describe("patterns", () => {
  it("accepts RE2 escapes that JavaScript's unicode mode refuses", () => {
    const s: JSONSchemaProps = {
      type: "object",
      properties: { spec: { type: "object", properties: { v: { type: "string", pattern: "^a\\-b$" } } } },
    };
    expect(validateCustomResource(s, { metadata: {}, spec: { v: "a-b" } })).toEqual([]);
    expect(validateCustomResource(s, { metadata: {}, spec: { v: "ab" } }).map((e) => e.field)).toEqual([
      "spec.v",
    ]);
  });
});
