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
  const name = meta.name ?? "";
  if (name === "") {
    errs.push({
      type: "FieldValueRequired",
      field: "metadata.name",
      message: "Required value: name or generateName is required",
    });
  } else {
    for (const m of nameErrors(name, rule))
      errs.push({
        type: "FieldValueInvalid",
        field: "metadata.name",
        message: `Invalid value: ${JSON.stringify(name)}: ${m}`,
      });
  }
  const labels = meta.labels;
  if (labels !== undefined && labels !== null) {
    if (typeof labels !== "object" || Array.isArray(labels)) {
      errs.push({
        type: "FieldValueTypeInvalid",
        field: "metadata.labels",
        message: "Invalid value: must be a map of strings",
      });
    } else {
      for (const [k, v] of Object.entries(labels)) {
        const ke = qualifiedNameError(k);
        if (ke !== undefined)
          errs.push({
            type: "FieldValueInvalid",
            field: "metadata.labels",
            message: `Invalid value: ${JSON.stringify(k)}: ${ke}`,
          });
        if (typeof v !== "string") {
          errs.push({
            type: "FieldValueTypeInvalid",
            field: `metadata.labels`,
            message: `Invalid value: ${JSON.stringify(v)}: label values must be strings`,
          });
          continue;
        }
        const ve = labelValueError(v);
        if (ve !== undefined)
          errs.push({
            type: "FieldValueInvalid",
            field: "metadata.labels",
            message: `Invalid value: ${JSON.stringify(v)}: ${ve}`,
          });
      }
    }
  }
  const ann = meta.annotations;
  if (ann !== undefined && ann !== null) {
    if (typeof ann !== "object" || Array.isArray(ann)) {
      errs.push({
        type: "FieldValueTypeInvalid",
        field: "metadata.annotations",
        message: "Invalid value: must be a map of strings",
      });
    } else {
      let total = 0;
      for (const [k, v] of Object.entries(ann)) {
        const ke = qualifiedNameError(k.toLowerCase());
        if (ke !== undefined)
          errs.push({
            type: "FieldValueInvalid",
            field: "metadata.annotations",
            message: `Invalid value: ${JSON.stringify(k)}: ${ke}`,
          });
        if (typeof v !== "string")
          errs.push({
            type: "FieldValueTypeInvalid",
            field: "metadata.annotations",
            message: `Invalid value: ${JSON.stringify(v)}: annotation values must be strings`,
          });
        else total += k.length + v.length;
      }
      if (total > 256 * 1024)
        errs.push({
          type: "FieldValueTooLong",
          field: "metadata.annotations",
          message: "Too long: must have at most 262144 bytes",
        });
    }
  }
  if (meta.finalizers !== undefined && !Array.isArray(meta.finalizers))
    errs.push({
      type: "FieldValueTypeInvalid",
      field: "metadata.finalizers",
      message: "Invalid value: must be a list of strings",
    });
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
