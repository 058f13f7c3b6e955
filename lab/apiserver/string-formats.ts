/**
 * The OpenAPI `format`s that the CRD validator checks on strings
 * (apiextensions "supported formats", k8s.io/kube-openapi/pkg/validation/strfmt).
 * Unknown formats are accepted, as upstream. Pure.
 */
import { parseAddressOf, parsePrefixLoose } from "../../net/address.js";

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const HOSTNAME =
  /^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

const CHECKS: Record<string, (s: string) => boolean> = {
  ipv4: (s) => typeof parseAddressOf(4, s) !== "string",
  ipv6: (s) => typeof parseAddressOf(6, s) !== "string",
  // netutils.ParseCIDR: host bits allowed.
  cidr: (s) => typeof parsePrefixLoose(s) !== "string",
  "date-time": (s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)),
  datetime: (s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)),
  uuid: (s) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(s),
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
  hostname: (s) => HOSTNAME.test(s),
  mac: (s) => /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/.test(s),
  duration: (s) => /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$/.test(s),
};

/** True when `s` is valid for `format` (or the format is not one the server checks). */
export function formatValid(format: string, s: string): boolean {
  const check = CHECKS[format];
  return check === undefined || check(s);
}
