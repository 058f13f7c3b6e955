/**
 * Per-kind behaviour of the built-in types that clients observe: defaults
 * the server fills in on create (pkg/apis/core/v1/defaults.go), fields it
 * allocates (a Service's clusterIP), fields it forbids changing
 * (pod spec after create), and the namespace's own label
 * `kubernetes.io/metadata.name` that NetworkPolicy namespaceSelectors rely on.
 * Pure functions of (object, old object, context).
 */
import type { FieldError } from "./status.js";
import type { KubeObject } from "./object-store.js";
import { validateNetworkPolicySpec } from "./networkpolicy-validation.js";

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export interface StrategyContext {
  /** Allocates the next free Service cluster IP. */
  allocateClusterIP(): string;
}

function defaultPorts(ports: unknown): void {
  for (const p of arr(ports)) {
    const o = obj(p);
    if (o !== undefined && o.protocol === undefined) o.protocol = "TCP";
  }
}

/**
 * Defaults the server applies on every write, create or update, since
 * upstream defaults while decoding (pkg/apis/core/v1/defaults.go,
 * pkg/apis/networking/v1/defaults.go). Mutates `o`.
 */
export function applyKindDefaults(o: KubeObject): void {
  switch (o.kind) {
    case "Pod": {
      const spec = obj(o.spec) ?? {};
      o.spec = spec;
      spec.restartPolicy ??= "Always";
      spec.dnsPolicy ??= "ClusterFirst";
      spec.schedulerName ??= "default-scheduler";
      spec.terminationGracePeriodSeconds ??= 30;
      spec.serviceAccountName ??= "default";
      for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
        const co = obj(c);
        if (co === undefined) continue;
        defaultPorts(co.ports);
        co.terminationMessagePath ??= "/dev/termination-log";
        co.terminationMessagePolicy ??= "File";
        if (co.imagePullPolicy === undefined && typeof co.image === "string")
          co.imagePullPolicy = /:latest$|^[^:]*$/.test(co.image.split("/").pop() ?? "")
            ? "Always"
            : "IfNotPresent";
      }
      break;
    }
    case "Service": {
      const spec = obj(o.spec) ?? {};
      o.spec = spec;
      spec.type ??= "ClusterIP";
      spec.sessionAffinity ??= "None";
      for (const p of arr(spec.ports)) {
        const po = obj(p);
        if (po === undefined) continue;
        po.protocol ??= "TCP";
        if (po.targetPort === undefined && po.port !== undefined) po.targetPort = po.port;
      }
      spec.ipFamilies ??= ["IPv4"];
      spec.ipFamilyPolicy ??= "SingleStack";
      break;
    }
    case "Secret":
      o.type ??= "Opaque";
      break;
    case "NetworkPolicy": {
      const spec = obj(o.spec) ?? {};
      o.spec = spec;
      // policyTypes from the presence of egress rules.
      if (spec.policyTypes === undefined)
        spec.policyTypes = spec.egress !== undefined ? ["Ingress", "Egress"] : ["Ingress"];
      for (const dir of ["ingress", "egress"]) {
        for (const rule of arr(spec[dir])) defaultPorts(obj(rule)?.ports);
      }
      break;
    }
  }
  normaliseSecret(o);
}

/** Defaults, allocations and initial status on create, by kind. Mutates `o`. */
export function prepareForCreate(o: KubeObject, ctx: StrategyContext): void {
  applyKindDefaults(o);
  switch (o.kind) {
    case "Namespace": {
      o.metadata.labels = {
        ...(o.metadata.labels ?? {}),
        "kubernetes.io/metadata.name": o.metadata.name ?? "",
      };
      const spec = obj(o.spec) ?? {};
      if (spec.finalizers === undefined) spec.finalizers = ["kubernetes"];
      o.spec = spec;
      o.status = { phase: "Active" };
      break;
    }
    case "Pod":
      o.status = { phase: "Pending", qosClass: "BestEffort" };
      break;
    case "Service": {
      const spec = obj(o.spec) ?? {};
      if (spec.type !== "ExternalName" && spec.clusterIP === undefined)
        spec.clusterIP = ctx.allocateClusterIP();
      if (typeof spec.clusterIP === "string" && spec.clusterIPs === undefined)
        spec.clusterIPs = [spec.clusterIP];
      o.status = { loadBalancer: {} };
      break;
    }
  }
}

/** Secret `stringData` is write-only: merged into `data` (base64) on every write. */
export function normaliseSecret(o: KubeObject): void {
  if (o.kind !== "Secret") return;
  const sd = obj(o.stringData);
  if (sd !== undefined) {
    const data = { ...(obj(o.data) ?? {}) };
    for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(String(v)).toString("base64");
    o.data = data;
  }
  delete o.stringData;
}

/** Update rules, by kind (old and new are full objects; new may be mutated to restore fields). */
export function prepareForUpdate(n: KubeObject, old: KubeObject): FieldError[] {
  applyKindDefaults(n);
  switch (n.kind) {
    case "Namespace":
      n.metadata.labels = {
        ...(n.metadata.labels ?? {}),
        "kubernetes.io/metadata.name": n.metadata.name ?? "",
      };
      return [];
    case "Pod":
      return podSpecUpdateErrors(obj(n.spec) ?? {}, obj(old.spec) ?? {});
    case "Service": {
      const ns = obj(n.spec);
      const os = obj(old.spec);
      if (ns !== undefined && os !== undefined) {
        if (ns.clusterIP === undefined || ns.clusterIP === "") ns.clusterIP = os.clusterIP;
        if (ns.clusterIPs === undefined) ns.clusterIPs = os.clusterIPs;
        if (ns.clusterIP !== os.clusterIP && os.clusterIP !== undefined)
          return [
            {
              type: "FieldValueInvalid",
              field: "spec.clusterIPs[0]",
              message: `Invalid value: ${JSON.stringify(ns.clusterIP)}: may not change once set`,
            },
          ];
      }
      return [];
    }
    default:
      return [];
  }
}

/**
 * pkg/apis/core/validation ValidatePodUpdate: after create a pod's spec may
 * only change container images, activeDeadlineSeconds, tolerations
 * (additions) and terminationGracePeriodSeconds; and spec.nodeName may be set
 * once (binding) but never changed.
 */
function podSpecUpdateErrors(n: Obj, o: Obj): FieldError[] {
  const mask = (s: Obj): Obj => {
    const c = structuredClone(s);
    for (const list of ["containers", "initContainers"]) {
      for (const ct of arr(c[list])) {
        const co = obj(ct);
        if (co !== undefined) delete co.image;
      }
    }
    delete c.activeDeadlineSeconds;
    delete c.tolerations;
    delete c.terminationGracePeriodSeconds;
    if (o.nodeName === undefined) delete c.nodeName;
    return c;
  };
  if (JSON.stringify(canonical(mask(n))) !== JSON.stringify(canonical(mask(o)))) {
    return [
      {
        type: "FieldValueForbidden",
        field: "spec",
        message:
          "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
      },
    ];
  }
  return [];
}

/** Key-sorted copy, so that two objects compare equal regardless of key order. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  const o = obj(v);
  if (o === undefined) return v;
  const out: Obj = {};
  for (const k of Object.keys(o).sort()) out[k] = canonical(o[k]);
  return out;
}

/** Minimal create-time validation of the built-in kinds clients most often get wrong. */
/**
 * ConfigMap `data`/`binaryData` and Secret `data` are maps of strings keyed
 * by a config key (`[-._a-zA-Z0-9]+`), as the real API server decodes them
 * into Go `map[string]string`/`map[string][]byte`; readers (kubectl, the
 * agent) rely on that and must never see a number or an object there.
 */
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
function validateDataMaps(o: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  for (const field of o.kind === "ConfigMap" ? ["data", "binaryData"] : ["data"]) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== "object" || Array.isArray(v)) {
      errs.push({ type: "FieldValueTypeInvalid", field, message: "Invalid value: must be a map of strings" });
      continue;
    }
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (typeof val !== "string")
        errs.push({
          type: "FieldValueTypeInvalid",
          field: `${field}[${k}]`,
          message: `Invalid value: ${typeof val}: must be a string`,
        });
      if (!CONFIG_KEY.test(k) || k.length > 253)
        errs.push({
          type: "FieldValueInvalid",
          field: field,
          message: `Invalid value: ${JSON.stringify(k.slice(0, 64))}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
        });
    }
  }
  return errs;
}

export function validateBuiltin(o: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (o.kind === "Pod") {
    const spec = obj(o.spec);
    const containers = arr(spec?.containers);
    if (containers.length === 0)
      errs.push({ type: "FieldValueRequired", field: "spec.containers", message: "Required value" });
    containers.forEach((c, i) => {
      const co = obj(c) ?? {};
      if (typeof co.name !== "string" || co.name === "")
        errs.push({
          type: "FieldValueRequired",
          field: `spec.containers[${i}].name`,
          message: "Required value",
        });
      if (typeof co.image !== "string" || co.image === "")
        errs.push({
          type: "FieldValueRequired",
          field: `spec.containers[${i}].image`,
          message: "Required value",
        });
      arr(co.ports).forEach((p, j) => {
        const port = obj(p)?.containerPort;
        if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
          errs.push({
            type: "FieldValueInvalid",
            field: `spec.containers[${i}].ports[${j}].containerPort`,
            message: `Invalid value: ${JSON.stringify(port ?? 0)}: must be between 1 and 65535, inclusive`,
          });
      });
    });
  }
  if (o.kind === "ConfigMap" || o.kind === "Secret") errs.push(...validateDataMaps(o));
  if (o.kind === "NetworkPolicy") errs.push(...validateNetworkPolicySpec(o.spec));
  if (o.kind === "Service") {
    arr(obj(o.spec)?.ports).forEach((p, j) => {
      const port = obj(p)?.port;
      if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
        errs.push({
          type: "FieldValueInvalid",
          field: `spec.ports[${j}].port`,
          message: `Invalid value: ${JSON.stringify(port ?? 0)}: must be between 1 and 65535, inclusive`,
        });
    });
  }
  return errs;
}
