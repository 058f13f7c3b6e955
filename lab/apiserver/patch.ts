/**
 * The three PATCH formats the API server accepts for built-in types:
 *   - JSON merge patch, RFC 7386 (application/merge-patch+json)
 *   - JSON patch, RFC 6902 with RFC 6901 pointers (application/json-patch+json)
 *   - strategic merge patch (application/strategic-merge-patch+json), the
 *     Kubernetes extension where some lists merge by a key instead of being
 *     replaced (k8s.io/apimachinery/pkg/util/strategicpatch; the keys come
 *     from the `patchMergeKey`/`patchStrategy` tags of the core types).
 * All pure: they return a new document and never mutate their inputs.
 */

type Json = unknown;
type JsonObject = Record<string, Json>;

export class PatchError extends Error {
  /** 400 when the patch itself is malformed, 422 when it cannot apply to this object. */
  constructor(
    message: string,
    readonly code: 400 | 422,
  ) {
    super(message);
  }
}

function isObject(v: Json): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 7386 §2: MergePatch(Target, Patch). */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- RFC 6902 JSON patch ----

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

/** RFC 6901 §4: "~1" is "/", "~0" is "~" (in that order). */
function parsePointer(p: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw new PatchError(`invalid JSON pointer "${p}": must start with "/"`, 400);
  return p
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function arrayIndex(tok: string, len: number, allowEnd: boolean, path: string): number {
  if (allowEnd && tok === "-") return len;
  if (!/^(0|[1-9][0-9]*)$/.test(tok))
    throw new PatchError(`invalid array index "${tok}" in path "${path}"`, 422);
  const i = Number(tok);
  if (i > len || (!allowEnd && i >= len))
    throw new PatchError(`array index ${i} out of bounds in path "${path}"`, 422);
  return i;
}

function getAt(doc: Json, toks: string[], path: string): Json {
  let cur = doc;
  for (const t of toks) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false, path)];
    else if (isObject(cur) && t in cur) cur = cur[t];
    else throw new PatchError(`path "${path}" does not exist`, 422);
  }
  return cur;
}

/** Returns the container that holds the last token (doc already cloned). */
function parentOf(doc: Json, toks: string[], path: string): Json {
  return getAt(doc, toks.slice(0, -1), path);
}

function addAt(doc: Json, toks: string[], value: Json, path: string): Json {
  if (toks.length === 0) return value;
  const parent = parentOf(doc, toks, path);
  const last = toks[toks.length - 1] as string;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, path), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else throw new PatchError(`path "${path}": parent is not a container`, 422);
  return doc;
}

function removeAt(doc: Json, toks: string[], path: string): { doc: Json; removed: Json } {
  if (toks.length === 0) throw new PatchError("cannot remove the whole document", 422);
  const parent = parentOf(doc, toks, path);
  const last = toks[toks.length - 1] as string;
  if (Array.isArray(parent)) {
    const i = arrayIndex(last, parent.length, false, path);
    const [removed] = parent.splice(i, 1);
    return { doc, removed };
  }
  if (isObject(parent) && last in parent) {
    const removed = parent[last];
    delete parent[last];
    return { doc, removed };
  }
  throw new PatchError(`path "${path}" does not exist`, 422);
}

function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

export function parseJsonPatch(patch: Json): Op[] {
  if (!Array.isArray(patch)) throw new PatchError("json patch must be an array of operations", 400);
  return patch.map((o, i) => {
    if (!isObject(o) || typeof o.op !== "string" || typeof o.path !== "string")
      throw new PatchError(`json patch operation ${i} must have string "op" and "path"`, 400);
    if (!["add", "remove", "replace", "move", "copy", "test"].includes(o.op))
      throw new PatchError(`unexpected json patch operation "${o.op}"`, 400);
    if ((o.op === "move" || o.op === "copy") && typeof o.from !== "string")
      throw new PatchError(`json patch ${o.op} operation ${i} needs "from"`, 400);
    if ((o.op === "add" || o.op === "replace" || o.op === "test") && !("value" in o))
      throw new PatchError(`json patch ${o.op} operation ${i} needs "value"`, 400);
    const op: Op = { op: o.op, path: o.path };
    if (typeof o.from === "string") op.from = o.from;
    if ("value" in o) op.value = o.value;
    return op;
  });
}

/** RFC 6902 §4: operations apply in order; any failure aborts the whole patch. */
export function jsonPatch(target: Json, patch: Json): Json {
  const ops = parseJsonPatch(patch);
  let doc = structuredClone(target);
  for (const o of ops) {
    const toks = parsePointer(o.path);
    switch (o.op) {
      case "add":
        doc = addAt(doc, toks, structuredClone(o.value), o.path);
        break;
      case "remove":
        doc = removeAt(doc, toks, o.path).doc;
        break;
      case "replace":
        getAt(doc, toks, o.path);
        if (toks.length === 0) doc = structuredClone(o.value);
        else {
          const parent = parentOf(doc, toks, o.path);
          const last = toks[toks.length - 1] as string;
          if (Array.isArray(parent))
            parent[arrayIndex(last, parent.length, false, o.path)] = structuredClone(o.value);
          else (parent as JsonObject)[last] = structuredClone(o.value);
        }
        break;
      case "move": {
        const from = parsePointer(o.from as string);
        const r = removeAt(doc, from, o.from as string);
        doc = addAt(r.doc, toks, r.removed, o.path);
        break;
      }
      case "copy": {
        const v = structuredClone(getAt(doc, parsePointer(o.from as string), o.from as string));
        doc = addAt(doc, toks, v, o.path);
        break;
      }
      case "test":
        if (!deepEqual(getAt(doc, toks, o.path), o.value))
          throw new PatchError(`testing value ${o.path} failed`, 422);
        break;
    }
  }
  return doc;
}

// ---- strategic merge patch ----

/** Per-field list strategy, from the Go struct tags of the core types. */
export interface SmpField {
  mergeKey?: string;
  /** `patchStrategy:"merge"` on a list of scalars: union instead of replace. */
  primitiveMerge?: boolean;
  fields?: SmpSchema;
}
export type SmpSchema = Record<string, SmpField>;

const metadata: SmpField = {
  fields: { finalizers: { primitiveMerge: true }, ownerReferences: { mergeKey: "uid" } },
};
const container: SmpSchema = {
  ports: { mergeKey: "containerPort" },
  env: { mergeKey: "name" },
  volumeMounts: { mergeKey: "mountPath" },
  volumeDevices: { mergeKey: "devicePath" },
  resizePolicy: { mergeKey: "resourceName" },
};
const podSpec: SmpSchema = {
  containers: { mergeKey: "name", fields: container },
  initContainers: { mergeKey: "name", fields: container },
  ephemeralContainers: { mergeKey: "name", fields: container },
  volumes: { mergeKey: "name" },
  imagePullSecrets: { mergeKey: "name" },
  hostAliases: { mergeKey: "ip" },
  topologySpreadConstraints: { mergeKey: "topologyKey" },
  resourceClaims: { mergeKey: "name" },
  schedulingGates: { mergeKey: "name" },
};

/** Strategic-merge schemas of the built-in kinds (by Kind). */
export const SMP_SCHEMAS: Record<string, SmpSchema> = {
  Pod: {
    metadata,
    spec: { fields: podSpec },
    status: {
      fields: { conditions: { mergeKey: "type" }, podIPs: { mergeKey: "ip" }, hostIPs: { mergeKey: "ip" } },
    },
  },
  Node: {
    metadata,
    spec: { fields: { podCIDRs: { primitiveMerge: true }, taints: { mergeKey: "key" } } },
    status: { fields: { conditions: { mergeKey: "type" }, addresses: { mergeKey: "type" } } },
  },
  Service: { metadata, spec: { fields: { ports: { mergeKey: "port" } } } },
  ServiceAccount: { metadata, secrets: { mergeKey: "name" }, imagePullSecrets: { mergeKey: "name" } },
  Namespace: { metadata, status: { fields: { conditions: { mergeKey: "type" } } } },
  CustomResourceDefinition: {
    metadata,
    status: { fields: { conditions: { mergeKey: "type" } } },
  },
};

const DIRECTIVE = "$patch";
const SET_ORDER = "$setElementOrder/";
const DELETE_PRIMITIVE = "$deleteFromPrimitiveList/";
const RETAIN_KEYS = "$retainKeys";

/** Applies a strategic merge patch to `target` for a built-in `kind`. */
export function strategicMergePatch(target: Json, patch: Json, kind: string): Json {
  if (!isObject(patch)) throw new PatchError("strategic merge patch must be a JSON object", 400);
  return smpMap(isObject(target) ? target : {}, patch, SMP_SCHEMAS[kind] ?? { metadata });
}

function smpMap(target: JsonObject, patch: JsonObject, schema: SmpSchema): Json {
  const directive = patch[DIRECTIVE];
  if (directive === "replace") {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(patch)) if (k !== DIRECTIVE) out[k] = structuredClone(v);
    return out;
  }
  if (directive === "delete") return undefined;
  if (directive !== undefined) throw new PatchError(`unknown patch type: ${String(directive)}`, 400);
  const out: JsonObject = { ...target };
  const orders: [string, Json][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === RETAIN_KEYS) continue;
    if (k.startsWith(SET_ORDER)) {
      orders.push([k.slice(SET_ORDER.length), v]);
      continue;
    }
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      const cur = out[field];
      if (Array.isArray(v) && Array.isArray(cur))
        out[field] = cur.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const f = schema[k];
    const cur = out[k];
    if (Array.isArray(v)) {
      out[k] = smpList(Array.isArray(cur) ? cur : [], v, f);
    } else if (isObject(v)) {
      const merged = smpMap(isObject(cur) ? cur : {}, v, f?.fields ?? {});
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  for (const [field, order] of orders) {
    const cur = out[field];
    if (Array.isArray(cur) && Array.isArray(order))
      out[field] = applyOrder(cur, order, schema[field]?.mergeKey);
  }
  const retain = patch[RETAIN_KEYS];
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

function smpList(target: Json[], patch: Json[], f: SmpField | undefined): Json[] {
  // A `{"$patch": "replace"}` element replaces the whole list with the rest.
  if (patch.some((p) => isObject(p) && p[DIRECTIVE] === "replace")) {
    return patch.filter((p) => !(isObject(p) && p[DIRECTIVE] === "replace")).map((p) => structuredClone(p));
  }
  if (f?.primitiveMerge === true) {
    const out = [...target];
    for (const p of patch) if (!out.some((x) => deepEqual(x, p))) out.push(structuredClone(p));
    return out;
  }
  const key = f?.mergeKey;
  if (key === undefined) return patch.map((p) => structuredClone(p));
  const out = [...target];
  for (const p of patch) {
    if (!isObject(p))
      throw new PatchError(`list items of a merge list must be objects (merge key ${key})`, 400);
    const kv = p[key];
    const idx = out.findIndex((x) => isObject(x) && deepEqual(x[key], kv));
    if (p[DIRECTIVE] === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) {
      const merged = smpMap(out[idx] as JsonObject, p, f?.fields ?? {});
      if (merged === undefined) out.splice(idx, 1);
      else out[idx] = merged;
    } else {
      out.push(smpMap({}, p, f?.fields ?? {}));
    }
  }
  return out;
}

/** `$setElementOrder`: items named in the order list come first, in that order. */
function applyOrder(list: Json[], order: Json[], key: string | undefined): Json[] {
  const keyOf = (x: Json): string => JSON.stringify(key !== undefined && isObject(x) ? x[key] : x);
  const pos = new Map<string, number>();
  order.forEach((o, i) => pos.set(keyOf(key !== undefined && isObject(o) ? o : o), i));
  const ranked = list.map((x, i) => ({ x, i, p: pos.get(keyOf(x)) ?? Number.MAX_SAFE_INTEGER }));
  ranked.sort((a, b) => a.p - b.p || a.i - b.i);
  return ranked.map((r) => r.x);
}
