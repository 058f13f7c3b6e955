// Results on the wire, per version, and conversion to and from the canonical
// (1.1.0-shaped) result. SPEC.md section 5 and the libcni types packages:
// - 0.3.0, 0.3.1, 0.4.0: `ips[].version` ("4" | "6") is required.
// - 1.0.0: `ips[].version` is removed (the family follows from the address).
// - 1.1.0: interfaces gain `mtu`, `socketPath`, `pciID`; routes gain `mtu`,
//   `advmss`, `priority`, `table`, `scope`.
// Older formats simply drop the newer fields; parsing is lenient about extra
// keys (chained plugins may add their own), strict about the values we use.
import { z } from "zod";
import { cidrSchema, ipAddressSchema } from "./addresses.js";
import { CniCode, CniError } from "./error.js";
import type { CniDns, CniInterface, CniIpConfig, CniResult, CniRoute } from "./result.js";
import { versionAtLeast } from "./versions.js";

const ipAddress = ipAddressSchema;
const cidr = cidrSchema;
const u32 = z.number().int().min(0).max(0xffffffff);

const wireInterface = z.looseObject({
  name: z.string().min(1),
  mac: z.string().optional(),
  mtu: z.number().int().min(0).optional(),
  sandbox: z.string().optional(),
  socketPath: z.string().optional(),
  pciID: z.string().optional(),
});

const wireIp = z.looseObject({
  version: z.enum(["4", "6"]).optional(),
  address: cidr,
  gateway: ipAddress.optional(),
  interface: z.number().int().min(0).optional(),
});

const wireRoute = z.looseObject({
  dst: cidr,
  gw: ipAddress.optional(),
  mtu: u32.optional(),
  advmss: u32.optional(),
  priority: u32.optional(),
  table: u32.optional(),
  scope: z.number().int().min(0).max(255).optional(),
});

const wireDns = z.looseObject({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});

const wireResult = z.looseObject({
  cniVersion: z.string().optional(),
  interfaces: z.array(wireInterface).nullish(),
  ips: z.array(wireIp).nullish(),
  routes: z.array(wireRoute).nullish(),
  dns: wireDns.nullish(),
});

/** The JSON object of a result in one version (what goes to stdout). */
export type WireResult = Record<string, unknown> & { cniVersion: string };

function family(address: string): "4" | "6" {
  return address.includes(":") ? "6" : "4";
}

/**
 * Parse a result (e.g. `prevResult`) given in `version` into canonical form.
 * `where` prefixes field names in errors (e.g. "prevResult").
 * Errors: CniError 7 naming the field.
 */
export function parseResult(raw: unknown, version: string, where = "result"): CniResult {
  const r = wireResult.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = [where, ...(issue?.path ?? [])].map(String).join(".");
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `invalid ${path}: ${issue?.message ?? "does not validate"}`,
    );
  }
  const w = r.data;
  const interfaces: CniInterface[] = (w.interfaces ?? []).map((i) => {
    const out: CniInterface = { name: i.name };
    if (i.mac !== undefined && i.mac !== "") out.mac = i.mac;
    if (i.mtu !== undefined && i.mtu !== 0) out.mtu = i.mtu;
    if (i.sandbox !== undefined && i.sandbox !== "") out.sandbox = i.sandbox;
    if (i.socketPath !== undefined && i.socketPath !== "") out.socketPath = i.socketPath;
    if (i.pciID !== undefined && i.pciID !== "") out.pciID = i.pciID;
    return out;
  });
  const legacy = !versionAtLeast(version, "1.0.0");
  const ips: CniIpConfig[] = (w.ips ?? []).map((ip, idx) => {
    // Before 1.0.0 the family is stated and must agree with the address.
    if (legacy && ip.version === undefined) {
      throw new CniError(
        CniCode.InvalidNetworkConfig,
        `invalid ${where}.ips.${idx}.version: required in a ${version} result`,
      );
    }
    if (ip.version !== undefined && ip.version !== family(ip.address)) {
      throw new CniError(
        CniCode.InvalidNetworkConfig,
        `invalid ${where}.ips.${idx}.version: "${ip.version}" does not match address ${ip.address}`,
      );
    }
    if (ip.interface !== undefined && ip.interface >= interfaces.length) {
      throw new CniError(
        CniCode.InvalidNetworkConfig,
        `invalid ${where}.ips.${idx}.interface: index ${ip.interface} but ${interfaces.length} interface(s)`,
      );
    }
    const out: CniIpConfig = { address: ip.address };
    if (ip.gateway !== undefined) out.gateway = ip.gateway;
    if (ip.interface !== undefined) out.interface = ip.interface;
    return out;
  });
  const routes: CniRoute[] = (w.routes ?? []).map((rt) => {
    const out: CniRoute = { dst: rt.dst };
    if (rt.gw !== undefined) out.gw = rt.gw;
    for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) {
      const v = rt[k];
      if (v !== undefined) out[k] = v;
    }
    return out;
  });
  const dns: CniDns = {};
  if (w.dns) {
    if (w.dns.nameservers?.length) dns.nameservers = w.dns.nameservers;
    if (w.dns.domain) dns.domain = w.dns.domain;
    if (w.dns.search?.length) dns.search = w.dns.search;
    if (w.dns.options?.length) dns.options = w.dns.options;
  }
  return { interfaces, ips, routes, dns };
}

/**
 * Render a canonical result in `version`. Empty lists and an empty `dns` are
 * omitted, as libcni does (`omitempty`).
 */
export function formatResult(result: CniResult, version: string): WireResult {
  const v11 = versionAtLeast(version, "1.1.0");
  const legacy = !versionAtLeast(version, "1.0.0");
  const out: WireResult = { cniVersion: version };
  if (result.interfaces.length > 0) {
    out.interfaces = result.interfaces.map((i) => {
      const o: Record<string, unknown> = { name: i.name };
      if (i.mac !== undefined) o.mac = i.mac;
      if (v11 && i.mtu !== undefined) o.mtu = i.mtu;
      if (i.sandbox !== undefined) o.sandbox = i.sandbox;
      if (v11 && i.socketPath !== undefined) o.socketPath = i.socketPath;
      if (v11 && i.pciID !== undefined) o.pciID = i.pciID;
      return o;
    });
  }
  if (result.ips.length > 0) {
    out.ips = result.ips.map((ip) => {
      const o: Record<string, unknown> = {};
      if (legacy) o.version = family(ip.address);
      if (ip.interface !== undefined) o.interface = ip.interface;
      o.address = ip.address;
      if (ip.gateway !== undefined) o.gateway = ip.gateway;
      return o;
    });
  }
  if (result.routes.length > 0) {
    out.routes = result.routes.map((rt) => {
      const o: Record<string, unknown> = { dst: rt.dst };
      if (rt.gw !== undefined) o.gw = rt.gw;
      if (v11) {
        for (const k of ["mtu", "advmss", "priority", "table", "scope"] as const) {
          const v = rt[k];
          if (v !== undefined) o[k] = v;
        }
      }
      return o;
    });
  }
  const d = result.dns;
  if (d.nameservers?.length || d.domain || d.search?.length || d.options?.length) {
    const o: Record<string, unknown> = {};
    if (d.nameservers?.length) o.nameservers = d.nameservers;
    if (d.domain) o.domain = d.domain;
    if (d.search?.length) o.search = d.search;
    if (d.options?.length) o.options = d.options;
    out.dns = o;
  }
  return out;
}

/** Convert a wire result from one version to another (parse, then format). */
export function convertResult(raw: unknown, from: string, to: string): WireResult {
  return formatResult(parseResult(raw, from), to);
}
