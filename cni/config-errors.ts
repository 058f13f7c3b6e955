// Turn zod issues on the network config into the spec's error codes:
// an unknown key is "unsupported field" (code 2, the spec asks that the message
// contain the key and value); any other failing value is "invalid network
// config" (code 7), naming the field and the value received.
import type { z } from "zod";
import { CniCode, CniError } from "./error.js";

function show(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    // Too deep or cyclic: the field name is what matters, not the value.
    return "(not printable)";
  }
  if (s === undefined) return String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join(".");
}

function lookup(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Validate `data` with `schema`; throw CniError 2 or 7 naming the field. */
export function validateConfig<T extends z.ZodType>(
  schema: T,
  data: unknown,
  prefix: readonly PropertyKey[] = [],
): z.infer<T> {
  const r = schema.safeParse(data, { reportInput: true });
  if (r.success) return r.data;
  const issues = r.error.issues;
  const unknown = issues.find((i) => i.code === "unrecognized_keys");
  if (unknown !== undefined && unknown.code === "unrecognized_keys") {
    const key = unknown.keys[0] ?? "";
    const path = [...prefix, ...unknown.path, key];
    const value = lookup(data, [...unknown.path, key]);
    throw new CniError(
      CniCode.UnsupportedField,
      `unsupported field "${fieldName(path)}" in network config (value ${show(value)})`,
      unknown.keys.length > 1 ? `unsupported fields: ${unknown.keys.join(", ")}` : "",
    );
  }
  const first = issues[0];
  const path = [...prefix, ...(first?.path ?? [])];
  const value = lookup(data, first?.path ?? []);
  const got = value === undefined ? "missing" : `got ${show(value)}`;
  throw new CniError(
    CniCode.InvalidNetworkConfig,
    `invalid network config: field "${fieldName(path) || "(root)"}": ${first?.message ?? "invalid"} (${got})`,
  );
}
