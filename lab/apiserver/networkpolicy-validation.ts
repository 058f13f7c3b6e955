/**
 * Server-side validation of networking.k8s.io/v1 NetworkPolicy, after
 * pkg/apis/networking/validation/validation.go (ValidateNetworkPolicySpec):
 * a real API server refuses these objects with 422, so a policy compiler
 * behind it never sees them, and neither may it behind the lab server.
 */
import type { FieldError } from "./status.js";
import { labelValueError, qualifiedNameError } from "../../net/label-selector.js";
import { contains, parsePrefixLoose, type Prefix } from "../../net/address.js";

/** netutils.ParseCIDR: address/length, host bits masked (Kubernetes accepts them in ipBlock). */
export function ipBlockCidr(s: string): Prefix | undefined {
  const p = parsePrefixLoose(s);
  return typeof p === "string" ? undefined : p;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** validation.IsValidPortName (IANA_SVC_NAME, RFC 6335 §5.1). */
function portNameError(s: string): string | undefined {
  if (s.length < 1 || s.length > 15) return "must be no more than 15 characters";
  if (!/^[-a-z0-9]+$/.test(s))
    return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
  if (!/[a-z]/.test(s)) return "must contain at least one letter (a-z)";
  if (s.includes("--")) return "must not contain consecutive hyphens";
  if (s.startsWith("-") || s.endsWith("-")) return "must not begin or end with a hyphen";
  return undefined;
}

const validPort = (n: unknown): boolean =>
  typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;

function strictSubset(inner: Prefix, outer: Prefix): boolean {
  return inner.length > outer.length && contains(outer, inner);
}

/** metav1validation.ValidateLabelSelector. */
export function validateLabelSelector(sel: unknown, path: string, errs: FieldError[]): void {
  const s = obj(sel);
  if (s === undefined) return;
  for (const [k, v] of Object.entries(obj(s.matchLabels) ?? {})) {
    const ke = qualifiedNameError(k);
    if (ke !== undefined)
      errs.push({
        type: "FieldValueInvalid",
        field: `${path}.matchLabels`,
        message: `Invalid value: ${show(k)}: ${ke}`,
      });
    const ve = typeof v === "string" ? labelValueError(v) : "must be a string";
    if (ve !== undefined)
      errs.push({
        type: "FieldValueInvalid",
        field: `${path}.matchLabels`,
        message: `Invalid value: ${show(v)}: ${ve}`,
      });
  }
  arr(s.matchExpressions).forEach((e, i) => {
    const x = obj(e) ?? {};
    const p = `${path}.matchExpressions[${i}]`;
    const values = arr(x.values);
    if (x.operator === "In" || x.operator === "NotIn") {
      if (values.length === 0)
        errs.push({
          type: "FieldValueRequired",
          field: `${p}.values`,
          message: "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        });
    } else if (x.operator === "Exists" || x.operator === "DoesNotExist") {
      if (values.length > 0)
        errs.push({
          type: "FieldValueForbidden",
          field: `${p}.values`,
          message: "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        });
    } else {
      errs.push({
        type: "FieldValueNotSupported",
        field: `${p}.operator`,
        message: `Unsupported value: ${show(x.operator)}: supported values: "In", "NotIn", "Exists", "DoesNotExist"`,
      });
    }
    const ke = typeof x.key === "string" ? qualifiedNameError(x.key) : "Required value";
    if (ke !== undefined)
      errs.push({
        type: "FieldValueInvalid",
        field: `${p}.key`,
        message: `Invalid value: ${show(x.key)}: ${ke}`,
      });
  });
}

function validatePort(port: unknown, path: string, errs: FieldError[]): void {
  const p = obj(port) ?? {};
  if (p.protocol !== undefined && !["TCP", "UDP", "SCTP"].includes(p.protocol as string))
    errs.push({
      type: "FieldValueNotSupported",
      field: `${path}.protocol`,
      message: `Unsupported value: ${show(p.protocol)}: supported values: "SCTP", "TCP", "UDP"`,
    });
  if (p.port !== undefined) {
    if (typeof p.port === "number") {
      if (!validPort(p.port))
        errs.push({
          type: "FieldValueInvalid",
          field: `${path}.port`,
          message: `Invalid value: ${show(p.port)}: must be between 1 and 65535, inclusive`,
        });
      if (p.endPort !== undefined) {
        if (!validPort(p.endPort))
          errs.push({
            type: "FieldValueInvalid",
            field: `${path}.endPort`,
            message: `Invalid value: ${show(p.endPort)}: must be between 1 and 65535, inclusive`,
          });
        else if ((p.endPort as number) < p.port)
          errs.push({
            type: "FieldValueInvalid",
            field: `${path}.endPort`,
            message: `Invalid value: ${show(p.endPort)}: must be greater than or equal to \`port\``,
          });
      }
    } else if (typeof p.port === "string") {
      const e = portNameError(p.port);
      if (e !== undefined)
        errs.push({
          type: "FieldValueInvalid",
          field: `${path}.port`,
          message: `Invalid value: ${show(p.port)}: ${e}`,
        });
      if (p.endPort !== undefined)
        errs.push({
          type: "FieldValueInvalid",
          field: `${path}.endPort`,
          message: `Invalid value: ${show(p.endPort)}: may not be specified when \`port\` is non-numeric`,
        });
    } else {
      errs.push({
        type: "FieldValueTypeInvalid",
        field: `${path}.port`,
        message: `Invalid value: ${show(p.port)}: must be an integer or a string`,
      });
    }
  } else if (p.endPort !== undefined) {
    errs.push({
      type: "FieldValueInvalid",
      field: `${path}.endPort`,
      message: `Invalid value: ${show(p.endPort)}: may not be specified when \`port\` is not specified`,
    });
  }
}

function validatePeer(peer: unknown, path: string, errs: FieldError[]): void {
  const p = obj(peer) ?? {};
  const set = ["podSelector", "namespaceSelector", "ipBlock"].filter(
    (k) => p[k] !== undefined && p[k] !== null,
  );
  if (set.length === 0)
    errs.push({ type: "FieldValueRequired", field: path, message: "Required value: must specify a peer" });
  if (p.ipBlock !== undefined && p.ipBlock !== null && set.length > 1)
    errs.push({
      type: "FieldValueForbidden",
      field: path,
      message: "Forbidden: may not specify more than 1 peer",
    });
  validateLabelSelector(p.podSelector, `${path}.podSelector`, errs);
  validateLabelSelector(p.namespaceSelector, `${path}.namespaceSelector`, errs);
  const ib = obj(p.ipBlock);
  if (ib !== undefined) {
    const cidrStr = ib.cidr;
    if (typeof cidrStr !== "string" || cidrStr === "") {
      errs.push({ type: "FieldValueRequired", field: `${path}.ipBlock.cidr`, message: "Required value" });
      return;
    }
    const cidr = ipBlockCidr(cidrStr);
    if (cidr === undefined) {
      errs.push({
        type: "FieldValueInvalid",
        field: `${path}.ipBlock.cidr`,
        message: `Invalid value: ${show(cidrStr)}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`,
      });
      return;
    }
    arr(ib.except).forEach((e, i) => {
      const ep = `${path}.ipBlock.except[${i}]`;
      const ec = typeof e === "string" ? ipBlockCidr(e) : undefined;
      if (ec === undefined)
        errs.push({
          type: "FieldValueInvalid",
          field: ep,
          message: `Invalid value: ${show(e)}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`,
        });
      else if (!strictSubset(ec, cidr))
        errs.push({
          type: "FieldValueInvalid",
          field: ep,
          message: `Invalid value: ${show(e)}: must be a strict subset of \`cidr\``,
        });
    });
  }
}

export function validateNetworkPolicySpec(spec: unknown): FieldError[] {
  const errs: FieldError[] = [];
  const s = obj(spec);
  if (s === undefined) return [{ type: "FieldValueRequired", field: "spec", message: "Required value" }];
  validateLabelSelector(s.podSelector, "spec.podSelector", errs);
  arr(s.ingress).forEach((rule, i) => {
    const r = obj(rule) ?? {};
    arr(r.ports).forEach((p, j) => validatePort(p, `spec.ingress[${i}].ports[${j}]`, errs));
    arr(r.from).forEach((p, j) => validatePeer(p, `spec.ingress[${i}].from[${j}]`, errs));
  });
  arr(s.egress).forEach((rule, i) => {
    const r = obj(rule) ?? {};
    arr(r.ports).forEach((p, j) => validatePort(p, `spec.egress[${i}].ports[${j}]`, errs));
    arr(r.to).forEach((p, j) => validatePeer(p, `spec.egress[${i}].to[${j}]`, errs));
  });
  const types = arr(s.policyTypes);
  types.forEach((t, i) => {
    if (t !== "Ingress" && t !== "Egress")
      errs.push({
        type: "FieldValueNotSupported",
        field: `spec.policyTypes[${i}]`,
        message: `Unsupported value: ${show(t)}: supported values: "Egress", "Ingress"`,
      });
  });
  if (types.length > 2)
    errs.push({
      type: "FieldValueInvalid",
      field: "spec.policyTypes",
      message: `Invalid value: ${show(types)}: may not specify more than two policyTypes`,
    });
  return errs;
}
