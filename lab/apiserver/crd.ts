/**
 * CustomResourceDefinitions (apiextensions.k8s.io/v1): validation of the CRD
 * object itself (the parts clients can get wrong and the server must refuse),
 * the ResourceType it serves, and the status the server writes back
 * (acceptedNames, Established/NamesAccepted conditions, storedVersions).
 */
import type { FieldError } from "./status.js";
import type { KubeObject } from "./object-store.js";
import type { PrinterColumn, ResourceType } from "./resource-types.js";
import type { JSONSchemaProps } from "./structural-schema.js";

interface CrdVersion {
  name?: unknown;
  served?: unknown;
  storage?: unknown;
  schema?: { openAPIV3Schema?: JSONSchemaProps };
  subresources?: { status?: unknown; scale?: unknown };
  additionalPrinterColumns?: PrinterColumn[];
  selectableFields?: { jsonPath: string }[];
}

interface CrdSpec {
  group?: unknown;
  scope?: unknown;
  names?: {
    plural?: unknown;
    singular?: unknown;
    kind?: unknown;
    listKind?: unknown;
    shortNames?: unknown;
    categories?: unknown;
  };
  versions?: CrdVersion[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[A-Za-z][A-Za-z0-9]*$/;

function spec(crd: KubeObject): CrdSpec {
  const s = crd.spec;
  return typeof s === "object" && s !== null ? (s as CrdSpec) : {};
}

/** The checks of apiextensions validation.ValidateCustomResourceDefinition that matter here. */
export function validateCrd(crd: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const s = spec(crd);
  const req = (field: string): void =>
    void errs.push({ type: "FieldValueRequired", field, message: "Required value" });
  const bad = (field: string, value: unknown, why: string): void =>
    void errs.push({
      type: "FieldValueInvalid",
      field,
      message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
    });
  if (typeof s.group !== "string" || s.group === "") req("spec.group");
  else if (!DNS_SUBDOMAIN.test(s.group) || !s.group.includes("."))
    bad("spec.group", s.group, "should be a domain with at least one dot");
  const n = s.names ?? {};
  if (typeof n.plural !== "string" || n.plural === "") req("spec.names.plural");
  else if (!DNS_LABEL.test(n.plural)) bad("spec.names.plural", n.plural, "a lowercase RFC 1123 label");
  if (n.singular !== undefined && (typeof n.singular !== "string" || !DNS_LABEL.test(n.singular)))
    bad("spec.names.singular", n.singular, "a lowercase RFC 1123 label");
  if (typeof n.kind !== "string" || n.kind === "") req("spec.names.kind");
  else if (!KIND.test(n.kind)) bad("spec.names.kind", n.kind, "must be a valid Kind name");
  if (s.scope !== "Namespaced" && s.scope !== "Cluster") {
    errs.push({
      type: "FieldValueNotSupported",
      field: "spec.scope",
      message: `Unsupported value: ${JSON.stringify(s.scope ?? "")}: supported values: "Cluster", "Namespaced"`,
    });
  }
  const expected = `${String(n.plural)}.${String(s.group)}`;
  if (crd.metadata.name !== expected)
    bad("metadata.name", crd.metadata.name, `must be spec.names.plural+"."+spec.group`);
  const versions = Array.isArray(s.versions) ? s.versions : [];
  if (versions.length === 0) req("spec.versions");
  let storage = 0;
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    if (typeof v.name !== "string" || !DNS_LABEL.test(v.name))
      bad(`spec.versions[${i}].name`, v.name, "must be a DNS label");
    else if (seen.has(v.name))
      errs.push({
        type: "FieldValueDuplicate",
        field: `spec.versions[${i}].name`,
        message: `Duplicate value: "${v.name}"`,
      });
    else seen.add(v.name);
    if (v.storage === true) storage++;
    const schema = v.schema?.openAPIV3Schema;
    if (schema === undefined) req(`spec.versions[${i}].schema.openAPIV3Schema`);
    else if (schema.type !== undefined && schema.type !== "object")
      bad(`spec.versions[${i}].schema.openAPIV3Schema.type`, schema.type, "must be object at the root");
  });
  if (versions.length > 0 && storage !== 1)
    bad("spec.versions", storage, "must have exactly one version marked as storage version");
  if (versions.length > 0 && !versions.some((v) => v.served === true))
    bad("spec.versions", "", "must have at least one version marked as served");
  return errs;
}

/** The resource a valid CRD serves. */
export function resourceTypeOf(crd: KubeObject): ResourceType {
  const s = spec(crd);
  const n = s.names ?? {};
  const served = (s.versions ?? []).filter((v) => v.served === true);
  const storage = (s.versions ?? []).find((v) => v.storage === true);
  const kind = String(n.kind);
  const schemas = new Map<string, JSONSchemaProps>();
  const printerColumns = new Map<string, PrinterColumn[]>();
  const selectable = new Set<string>();
  for (const v of served) {
    schemas.set(
      String(v.name),
      v.schema?.openAPIV3Schema ?? { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    );
    printerColumns.set(String(v.name), v.additionalPrinterColumns ?? []);
    for (const f of v.selectableFields ?? []) selectable.add(f.jsonPath.replace(/^\./, ""));
  }
  const strs = (x: unknown): string[] =>
    Array.isArray(x) ? x.filter((e): e is string => typeof e === "string") : [];
  return {
    group: String(s.group),
    versions: sortVersions(served.map((v) => String(v.name))),
    storageVersion: String(storage?.name),
    kind,
    listKind: typeof n.listKind === "string" ? n.listKind : `${kind}List`,
    plural: String(n.plural),
    singular: typeof n.singular === "string" && n.singular !== "" ? n.singular : kind.toLowerCase(),
    namespaced: s.scope === "Namespaced",
    shortNames: strs(n.shortNames),
    categories: strs(n.categories),
    // Upstream serves the status subresource per version; the lab's CRDs
    // declare it on every version, so one flag (any version) is enough.
    statusSubresource: served.some((v) => v.subresources?.status !== undefined),
    // apiextensions customResourceStrategy validates names as DNS subdomains.
    nameRule: "subdomain",
    selectableFields: [...selectable],
    keepStatusOnCreate: !served.some((v) => v.subresources?.status !== undefined),
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: false,
    strategicMerge: false,
    generation: true,
    schemas,
    printerColumns,
    crdName: crd.metadata.name ?? "",
  };
}

/**
 * Kubernetes version priority (apimachinery version.CompareKubeAwareVersionStrings):
 * GA > beta > alpha, higher major first, then higher minor; others alphabetical.
 */
export function sortVersions(vs: string[]): string[] {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (m === null) return [3, 0, 0, v];
    const stage = m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  return [...vs].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
    return ra[3] < rb[3] ? -1 : ra[3] > rb[3] ? 1 : 0;
  });
}

/** The status the server maintains on an accepted CRD. */
export function crdStatus(crd: KubeObject, now: string, previousStored: string[]): Record<string, unknown> {
  const s = spec(crd);
  const n = s.names ?? {};
  const storage = (s.versions ?? []).find((v) => v.storage === true);
  const stored = [...previousStored];
  if (storage !== undefined && !stored.includes(String(storage.name))) stored.push(String(storage.name));
  const kind = String(n.kind);
  const accepted: Record<string, unknown> = {
    plural: n.plural,
    singular: typeof n.singular === "string" && n.singular !== "" ? n.singular : kind.toLowerCase(),
    kind,
    listKind: typeof n.listKind === "string" ? n.listKind : `${kind}List`,
  };
  if (Array.isArray(n.shortNames)) accepted.shortNames = n.shortNames;
  if (Array.isArray(n.categories)) accepted.categories = n.categories;
  const cond = (type: string, reason: string, message: string): Record<string, unknown> => ({
    type,
    status: "True",
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    acceptedNames: accepted,
    conditions: [
      cond("NamesAccepted", "NoConflicts", "no conflicts found"),
      cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ],
    storedVersions: stored,
  };
}
