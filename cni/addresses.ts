// Address checks shared by the config and result schemas, with messages that
// say what was expected (zod's union errors only say "Invalid input").
import { isIP } from "node:net";
import { z } from "zod";

/** "10.0.0.1" or "fd00::1". */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/** "10.0.0.0/8" or "fd00::/64": an address and a prefix length within its family. */
export function isCidr(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return false;
  const fam = isIP(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (fam === 0 || !/^(0|[1-9]\d{0,2})$/.test(len)) return false;
  return Number(len) <= (fam === 4 ? 32 : 128);
}

export const ipAddressSchema = z.string().refine(isIpAddress, "expected an IPv4 or IPv6 address");
export const cidrSchema = z.string().refine(isCidr, "expected an address/prefix (CIDR)");
export const ipOrCidrSchema = z
  .string()
  .refine((s) => isIpAddress(s) || isCidr(s), "expected an IP address or address/prefix");
