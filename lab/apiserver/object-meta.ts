/**
 * Generic ObjectMeta rules shared by every resource
 * (apimachinery/pkg/api/validation/objectmeta.go): name formats, label and
 * annotation syntax, and `generateName` expansion.
 */
import type { FieldError } from "./status.js";
import type { NameRule } from "./resource-types.js";
import type { ObjectMeta } from "./object-store.js";
import { labelValueError, qualifiedNameError } from "../../net/label-selector.js";

/** The DNS name formats: apimachinery's IsDNS1123Subdomain, IsDNS1123Label, IsDNS1035Label, with their messages. */
const DNS_NAMES: Record<"subdomain" | "label" | "label1035", { max: number; re: RegExp; format: string }> = {
  subdomain: {
    max: 253,
    re: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    format:
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  },
  label: {
    max: 63,
    re: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    format:
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  },
  label1035: {
    max: 63,
    re: /^[a-z]([-a-z0-9]*[a-z0-9])?$/,
    format:
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  },
};

export function nameErrors(name: string, rule: NameRule): string[] {
  switch (rule) {
    case "subdomain":
    case "label":
    case "label1035": {
      const { max, re, format } = DNS_NAMES[rule];
      const out: string[] = [];
      if (name.length > max) out.push(`must be no more than ${max} characters`);
      if (!re.test(name)) out.push(format);
      return out;
    }
    case "path": {
      if (name === "." || name === "..") return [`may not be '${name}'`];
      if (name.includes("/")) return [`may not contain '/'`];
      if (name.includes("%")) return [`may not contain '%'`];
      return [];
    }
  }
}

export function validateObjectMeta(meta: ObjectMeta, rule: NameRule): FieldError[] {
  const errs: FieldError[] = [];
  const add = (type: FieldError["type"], field: string, message: string) =>
    errs.push({ type, field, message });
  const invalid = (field: string, value: unknown, why: string) =>
    add("FieldValueInvalid", field, `Invalid value: ${JSON.stringify(value)}: ${why}`);
  const name = meta.name ?? "";
  if (name === "")
    add("FieldValueRequired", "metadata.name", "Required value: name or generateName is required");
  else for (const m of nameErrors(name, rule)) invalid("metadata.name", name, m);

  // Labels and annotations are maps of strings; their keys are qualified names (annotation keys in any case).
  const entries = (field: string, map: unknown): [string, unknown][] => {
    if (map === undefined || map === null) return [];
    if (typeof map !== "object" || Array.isArray(map)) {
      add("FieldValueTypeInvalid", field, "Invalid value: must be a map of strings");
      return [];
    }
    return Object.entries(map);
  };
  for (const [k, v] of entries("metadata.labels", meta.labels)) {
    const ke = qualifiedNameError(k);
    if (ke !== undefined) invalid("metadata.labels", k, ke);
    if (typeof v !== "string") {
      add(
        "FieldValueTypeInvalid",
        "metadata.labels",
        `Invalid value: ${JSON.stringify(v)}: label values must be strings`,
      );
      continue;
    }
    const ve = labelValueError(v);
    if (ve !== undefined) invalid("metadata.labels", v, ve);
  }
  const annotations = entries("metadata.annotations", meta.annotations);
  let total = 0;
  for (const [k, v] of annotations) {
    const ke = qualifiedNameError(k.toLowerCase());
    if (ke !== undefined) invalid("metadata.annotations", k, ke);
    if (typeof v !== "string") {
      const why = `Invalid value: ${JSON.stringify(v)}: annotation values must be strings`;
      add("FieldValueTypeInvalid", "metadata.annotations", why);
    } else total += k.length + v.length;
  }
  if (total > 256 * 1024)
    add("FieldValueTooLong", "metadata.annotations", "Too long: must have at most 262144 bytes");

  if (meta.finalizers !== undefined && !Array.isArray(meta.finalizers))
    add("FieldValueTypeInvalid", "metadata.finalizers", "Invalid value: must be a list of strings");
  return errs;
}

// names.SimpleNameGenerator: 5 random characters from an alphabet without vowels
// (no accidental words) and without lookalikes.
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function generateName(prefix: string, random: () => number = Math.random): string {
  const base = prefix.length > 58 ? prefix.slice(0, 58) : prefix;
  let s = "";
  for (let i = 0; i < 5; i++) s += ALPHABET[Math.floor(random() * ALPHABET.length)] ?? "x";
  return base + s;
}
