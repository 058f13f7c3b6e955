/**
 * CRD structural schemas (apiextensions.k8s.io/v1 `openAPIV3Schema`): pruning,
 * defaulting and validation of custom resources, in the order the real API
 * server applies them (apiextensions-apiserver, "Specifying a structural
 * schema", "Pruning versus preserving unknown fields", "Defaulting"):
 *   1. prune fields the schema does not specify (unless
 *      `x-kubernetes-preserve-unknown-fields` or `additionalProperties`),
 *      and nulls of non-nullable fields;
 *   2. apply `default`s to absent fields;
 *   3. validate (type, required, enum, pattern, bounds, lengths, counts, ...).
 * Every function here is pure; error messages and cause types copy the
 * upstream validator (k8s.io/kube-openapi/pkg/validation) so that clients
 * see the same `details.causes[].field` paths, e.g. `spec.cidr`.
 */
import type { FieldError } from "./status.js";
import { formatValid } from "./string-formats.js";

export interface JSONSchemaProps {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: boolean | JSONSchemaProps;
  items?: JSONSchemaProps;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  nullable?: boolean;
  default?: unknown;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function preserves(s: JSONSchemaProps): boolean {
  return s["x-kubernetes-preserve-unknown-fields"] === true;
}

/**
 * Removes unknown fields in place and returns the paths it removed (used for
 * `fieldValidation=Strict|Warn`). `root` keeps apiVersion/kind/metadata, as
 * the server does for the object itself and for embedded resources.
 */
export function prune(schema: JSONSchemaProps, value: Json, path = "", root = true): string[] {
  const removed: string[] = [];
  pruneInto(schema, value, path, root, removed);
  return removed;
}

function pruneInto(s: JSONSchemaProps, v: Json, path: string, root: boolean, removed: string[]): void {
  if (isObject(v)) {
    const embedded = root || s["x-kubernetes-embedded-resource"] === true;
    const props = s.properties ?? {};
    const addl = s.additionalProperties;
    for (const key of Object.keys(v)) {
      const child = v[key];
      if (embedded && (key === "apiVersion" || key === "kind" || key === "metadata")) continue;
      const ps = props[key];
      if (ps !== undefined) {
        if (child === null && ps.nullable !== true) {
          delete v[key];
          continue;
        }
        pruneInto(ps, child, join(path, key), false, removed);
      } else if (isObject(addl)) {
        if (child === null && addl.nullable !== true) {
          delete v[key];
          continue;
        }
        pruneInto(addl, child, join(path, key), false, removed);
      } else if (addl === true || preserves(s)) {
        // unknown but preserved: keep as is
      } else {
        delete v[key];
        removed.push(join(path, key));
      }
    }
  } else if (Array.isArray(v) && s.items !== undefined) {
    v.forEach((item, i) => pruneInto(s.items as JSONSchemaProps, item, `${path}[${i}]`, false, removed));
  }
}

/** Applies `default` to absent properties, recursively, in place. */
export function applyDefaults(s: JSONSchemaProps, v: Json): void {
  if (isObject(v)) {
    for (const [key, ps] of Object.entries(s.properties ?? {})) {
      if (!(key in v) && ps.default !== undefined) v[key] = structuredClone(ps.default);
      if (key in v) applyDefaults(ps, v[key]);
    }
    const addl = s.additionalProperties;
    if (isObject(addl)) {
      for (const key of Object.keys(v)) if (!(key in (s.properties ?? {}))) applyDefaults(addl, v[key]);
    }
  } else if (Array.isArray(v) && s.items !== undefined) {
    for (const item of v) applyDefaults(s.items, item);
  }
}

function show(v: Json): string {
  return typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

function typeOf(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeMatches(type: string, v: Json): boolean {
  switch (type) {
    case "object":
      return isObject(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "number":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    default:
      return true;
  }
}

const patternCache = new Map<string, RegExp | null>();
function compilePattern(p: string): RegExp | null {
  let re = patternCache.get(p);
  if (re === undefined) {
    // Patterns are RE2 (Go); JS's unicode mode is closest but refuses some
    // escapes RE2 accepts (e.g. `\-` outside a class), so fall back to plain mode.
    try {
      re = new RegExp(p, "u");
    } catch {
      try {
        re = new RegExp(p);
      } catch {
        re = null;
      }
    }
    patternCache.set(p, re);
  }
  return re;
}

/** Validates `v` against `s`, appending errors with upstream messages. */
export function validate(s: JSONSchemaProps, v: Json, path: string, errors: FieldError[]): void {
  const at = path === "" ? "<root>" : path;
  if (v === null) {
    if (s.nullable === true) return;
    if (s.type !== undefined) {
      errors.push({
        type: "FieldValueTypeInvalid",
        field: at,
        message: `Invalid value: "null": ${at} in body must be of type ${s.type}: "null"`,
      });
    }
    return;
  }
  if (s["x-kubernetes-int-or-string"] === true) {
    if (!(typeof v === "string" || (typeof v === "number" && Number.isInteger(v)))) {
      errors.push({
        type: "FieldValueTypeInvalid",
        field: at,
        message: `Invalid value: "${typeOf(v)}": ${at} in body must be of type integer,string: "${typeOf(v)}"`,
      });
      return;
    }
  } else if (s.type !== undefined && !typeMatches(s.type, v)) {
    errors.push({
      type: "FieldValueTypeInvalid",
      field: at,
      message: `Invalid value: "${typeOf(v)}": ${at} in body must be of type ${s.type}: "${typeOf(v)}"`,
    });
    return;
  }
  if (s.enum !== undefined && s.enum.length > 0) {
    const sv = JSON.stringify(v);
    if (!s.enum.some((e) => JSON.stringify(e) === sv)) {
      errors.push({
        type: "FieldValueNotSupported",
        field: at,
        message: `Unsupported value: ${show(v)}: supported values: ${s.enum.map(show).join(", ")}`,
      });
    }
  }
  if (typeof v === "string") {
    if (s.maxLength !== undefined && [...v].length > s.maxLength) {
      errors.push({
        type: "FieldValueTooLong",
        field: at,
        message: `Too long: may not be more than ${s.maxLength} bytes`,
      });
    }
    if (s.minLength !== undefined && [...v].length < s.minLength) {
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${show(v)}: ${at} in body should be at least ${s.minLength} chars long`,
      });
    }
    if (s.format !== undefined && !formatValid(s.format, v)) {
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${show(v)}: ${at} in body must be of type ${s.format}: ${show(v)}`,
      });
    }
    if (s.pattern !== undefined) {
      const re = compilePattern(s.pattern);
      if (re !== null && !re.test(v)) {
        errors.push({
          type: "FieldValueInvalid",
          field: at,
          message: `Invalid value: ${show(v)}: ${at} in body should match '${s.pattern}'`,
        });
      }
    }
  }
  if (typeof v === "number") {
    if (s.minimum !== undefined && (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum)) {
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${v}: ${at} in body should be greater than ${s.exclusiveMinimum === true ? "" : "or equal to "}${s.minimum}`,
      });
    }
    if (s.maximum !== undefined && (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum)) {
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${v}: ${at} in body should be less than ${s.exclusiveMaximum === true ? "" : "or equal to "}${s.maximum}`,
      });
    }
    if (s.multipleOf !== undefined && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf)) {
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${v}: ${at} in body should be a multiple of ${s.multipleOf}`,
      });
    }
  }
  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems) {
      errors.push({
        type: "FieldValueTooMany",
        field: at,
        message: `Too many: ${v.length}: must have at most ${s.maxItems} items`,
      });
    }
    if (s.minItems !== undefined && v.length < s.minItems) {
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${v.length}: ${at} in body should have at least ${s.minItems} items`,
      });
    }
    if (s.uniqueItems === true || s["x-kubernetes-list-type"] === "set") {
      const seen = new Set<string>();
      v.forEach((item, i) => {
        const k = JSON.stringify(item);
        if (seen.has(k)) {
          errors.push({
            type: "FieldValueDuplicate",
            field: `${path}[${i}]`,
            message: `Duplicate value: ${k}`,
          });
        }
        seen.add(k);
      });
    }
    if (s.items !== undefined) {
      const items = s.items;
      v.forEach((item, i) => validate(items, item, `${path}[${i}]`, errors));
    }
  }
  if (isObject(v)) {
    const props = s.properties ?? {};
    for (const req of s.required ?? []) {
      if (!(req in v))
        errors.push({ type: "FieldValueRequired", field: join(path, req), message: "Required value" });
    }
    const n = Object.keys(v).length;
    if (s.maxProperties !== undefined && n > s.maxProperties) {
      errors.push({
        type: "FieldValueTooMany",
        field: at,
        message: `Too many: ${n}: must have at most ${s.maxProperties} items`,
      });
    }
    if (s.minProperties !== undefined && n < s.minProperties) {
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${n}: ${at} in body should have at least ${s.minProperties} properties`,
      });
    }
    for (const [key, child] of Object.entries(v)) {
      const ps = props[key];
      if (ps !== undefined) validate(ps, child, join(path, key), errors);
      else if (isObject(s.additionalProperties))
        validate(s.additionalProperties, child, join(path, key), errors);
    }
  }
  // Value validations that combine schemas (no structural effect; see
  // "structural schema" rule 3 upstream).
  for (const sub of s.allOf ?? []) validate(sub, v, path, errors);
  if (s.anyOf !== undefined && s.anyOf.length > 0) {
    const ok = s.anyOf.some((sub) => {
      const e: FieldError[] = [];
      validate(sub, v, path, e);
      return e.length === 0;
    });
    if (!ok)
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${show(v)}: ${at} in body must match at least one schema (anyOf)`,
      });
  }
  if (s.oneOf !== undefined && s.oneOf.length > 0) {
    const matches = s.oneOf.filter((sub) => {
      const e: FieldError[] = [];
      validate(sub, v, path, e);
      return e.length === 0;
    }).length;
    if (matches !== 1)
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${show(v)}: ${at} in body must match exactly one schema (oneOf)`,
      });
  }
  if (s.not !== undefined) {
    const e: FieldError[] = [];
    validate(s.not, v, path, e);
    if (e.length === 0)
      errors.push({
        type: "FieldValueInvalid",
        field: at,
        message: `Invalid value: ${show(v)}: ${at} in body should not validate the given schema`,
      });
  }
}

/**
 * Validates a whole custom resource against its version's schema. The root
 * `metadata` is validated by the generic ObjectMeta rules elsewhere, so it is
 * skipped here like upstream does.
 */
export function validateCustomResource(s: JSONSchemaProps, obj: Record<string, Json>): FieldError[] {
  const errors: FieldError[] = [];
  const props = s.properties ?? {};
  for (const req of s.required ?? []) {
    if (!(req in obj)) errors.push({ type: "FieldValueRequired", field: req, message: "Required value" });
  }
  for (const [key, child] of Object.entries(obj)) {
    if (key === "metadata" || key === "apiVersion" || key === "kind") continue;
    const ps = props[key];
    if (ps !== undefined) validate(ps, child, key, errors);
    else if (isObject(s.additionalProperties)) validate(s.additionalProperties, child, key, errors);
  }
  return errors;
}
