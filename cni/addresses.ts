// Address checks shared by the config and result schemas, with messages that
// say what was expected (zod's union errors only say "Invalid input").
import { z } from "zod";
import { parseAddress, parsePrefixLoose } from "../net/address.js";

/** "10.0.0.1" or "fd00::1". */
export function isIpAddress(s: string): boolean {
  return typeof parseAddress(s) !== "string";
}

/**
 * "10.0.0.0/8" or "fd00::/64": an address and a prefix length within its
 * family. Host bits are allowed: a CNI result's `address` is "10.0.0.5/24".
 */
export function isCidr(s: string): boolean {
  return typeof parsePrefixLoose(s) !== "string";
}

export const ipAddressSchema = z.string().refine(isIpAddress, "expected an IPv4 or IPv6 address");
export const cidrSchema = z.string().refine(isCidr, "expected an address/prefix (CIDR)");
export const ipOrCidrSchema = z
  .string()
  .refine((s) => isIpAddress(s) || isCidr(s), "expected an IP address or address/prefix");
