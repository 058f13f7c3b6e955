/**
 * What the server knows about each resource: group, versions, kind, plural,
 * scope, subresources and the few per-type strategies that clients can
 * observe (which field selectors work, whether status survives create,
 * whether PUT may create). Built-in types are a table; CRDs add rows at run
 * time (crd.ts).
 */
import type { JSONSchemaProps } from "./structural-schema.js";

export type NameRule = "subdomain" | "label" | "label1035" | "path";

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface ResourceType {
  group: string;
  /** Served versions, in discovery order (preferred first). */
  versions: string[];
  storageVersion: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  statusSubresource: boolean;
  nameRule: NameRule;
  /** Field selector paths beyond metadata.name/metadata.namespace. */
  selectableFields: string[];
  /** Whether create keeps a client-supplied status (nodes do; pods and CRs with a status subresource do not). */
  keepStatusOnCreate: boolean;
  allowCreateOnUpdate: boolean;
  allowUnconditionalUpdate: boolean;
  /** Built-in types accept strategic merge patch; custom resources answer 415. */
  strategicMerge: boolean;
  /**
   * Whether the type's strategy keeps metadata.generation (1 on create, +1 per
   * spec change): pods, NetworkPolicies, CRDs and custom resources upstream
   * (their PrepareForCreate/PrepareForUpdate); Services, ConfigMaps,
   * Namespaces, Nodes, … have none.
   */
  generation: boolean;
  /** Custom resources only: schema per served version and printer columns. */
  schemas?: Map<string, JSONSchemaProps>;
  printerColumns?: Map<string, PrinterColumn[]>;
  /** The CRD name that serves this type, if any. */
  crdName?: string;
}

export function resourceKey(group: string, plural: string): string {
  return `${group}/${plural}`;
}

export function apiVersionOf(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

interface BuiltinRow {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  status?: boolean;
  nameRule?: NameRule;
  fields?: string[];
  keepStatusOnCreate?: boolean;
  allowCreateOnUpdate?: boolean;
  categories?: string[];
  generation?: boolean;
}

/** The built-in resources the lab serves (issue 2 §2). */
const BUILTINS: BuiltinRow[] = [
  {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
    shortNames: ["ns"],
    status: true,
    nameRule: "label",
    fields: ["status.phase"],
    keepStatusOnCreate: false,
  },
  {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    namespaced: true,
    shortNames: ["po"],
    status: true,
    generation: true,
    categories: ["all"],
    fields: [
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.nominatedNodeName",
    ],
  },
  {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    namespaced: false,
    shortNames: ["no"],
    status: true,
    fields: ["spec.unschedulable"],
    keepStatusOnCreate: true,
  },
  {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    namespaced: true,
    shortNames: ["svc"],
    status: true,
    nameRule: "label1035",
    categories: ["all"],
    keepStatusOnCreate: false,
  },
  {
    group: "",
    version: "v1",
    kind: "Endpoints",
    plural: "endpoints",
    namespaced: true,
    shortNames: ["ep"],
    allowCreateOnUpdate: true,
  },
  { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true, fields: ["type"] },
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, shortNames: ["cm"] },
  {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    namespaced: true,
    shortNames: ["sa"],
  },
  {
    group: "networking.k8s.io",
    version: "v1",
    kind: "NetworkPolicy",
    plural: "networkpolicies",
    namespaced: true,
    shortNames: ["netpol"],
    generation: true,
  },
  {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    namespaced: true,
    allowCreateOnUpdate: true,
  },
  {
    // What agents read to learn which nodes host a Service's endpoints (the lab has no endpoints controller: tests write them).
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    namespaced: true,
  },
  {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
    shortNames: ["crd", "crds"],
    status: true,
    categories: ["api-extensions"],
    generation: true,
  },
];

export function builtinTypes(): ResourceType[] {
  return BUILTINS.map((r) => ({
    group: r.group,
    versions: [r.version],
    storageVersion: r.version,
    kind: r.kind,
    listKind: `${r.kind}List`,
    plural: r.plural,
    singular: r.kind.toLowerCase(),
    namespaced: r.namespaced,
    shortNames: r.shortNames ?? [],
    categories: r.categories ?? [],
    statusSubresource: r.status ?? false,
    nameRule: r.nameRule ?? "subdomain",
    selectableFields: r.fields ?? [],
    keepStatusOnCreate: r.keepStatusOnCreate ?? !(r.status ?? false),
    allowCreateOnUpdate: r.allowCreateOnUpdate ?? false,
    allowUnconditionalUpdate: true,
    strategicMerge: true,
    generation: r.generation ?? false,
  }));
}

/** Reads a dotted field path ("spec.nodeName") as the string a field selector compares. */
export function fieldValue(obj: unknown, path: string, absent = ""): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return absent;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return absent;
  if (typeof cur === "string") return cur;
  if (typeof cur === "number" || typeof cur === "boolean") return String(cur);
  return JSON.stringify(cur);
}
