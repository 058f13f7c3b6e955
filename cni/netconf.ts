// Network configuration: the plugin config the runtime writes to our stdin
// (SPEC.md section 1 "Network configuration format" and section 3 "Execution of
// network configurations": the runtime injects `name`, `cniVersion`,
// `runtimeConfig` and `prevResult` into each plugin's config), and the conflist
// (`.conflist`) that the chart, the lab and the tests write.
import { z } from "zod";
import { ipAddressSchema, ipOrCidrSchema } from "./addresses.js";

export const DEFAULT_AGENT_SOCKET = "/var/run/trellis/cni.sock";
export const TRELLIS_IPAM_TYPE = "trellis-ipam";

/** SPEC.md: network and container names match this (libcni ValidateNetworkName). */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const ipAddress = ipAddressSchema;

export const dnsSchema = z.strictObject({
  nameservers: z.array(ipAddress).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});

/** `ipam` when served by the agent (`type: trellis-ipam`): no unknown keys. */
export const trellisIpamSchema = z.strictObject({
  type: z.literal(TRELLIS_IPAM_TYPE),
  /** IPPool names to draw IPv4 addresses from (else the pod/namespace annotations, else any). */
  ipv4Pools: z.array(z.string().min(1)).optional(),
  ipv6Pools: z.array(z.string().min(1)).optional(),
  /** Whether to assign an address of this family (default: every family a pool exists for). */
  assignIpv4: z.boolean().optional(),
  assignIpv6: z.boolean().optional(),
});
export type TrellisIpamConfig = z.infer<typeof trellisIpamSchema>;

/** `ipam` delegated to another plugin: its own config, passed through untouched. */
export const delegatedIpamSchema = z.looseObject({
  type: z
    .string()
    .min(1)
    .regex(/^[^/\\]+$/, "must be a plugin file name, not a path"),
});

/**
 * `ipam` at the top level is checked loosely (any plugin's config); when its
 * type is `trellis-ipam` the handler validates it again with trellisIpamSchema
 * so an unknown key there is named (code 2).
 */
export const ipamSchema = delegatedIpamSchema;
export type IpamConfig = z.infer<typeof ipamSchema>;

export function isTrellisIpam(ipam: IpamConfig | undefined): ipam is IpamConfig & TrellisIpamConfig {
  return ipam?.type === TRELLIS_IPAM_TYPE;
}

/** Conventions: runtimeConfig.portMappings (CONVENTIONS.md, capability `portMappings`). */
export const portMappingSchema = z.looseObject({
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.string().optional(),
  hostIP: z.string().optional(),
});
export type PortMapping = z.infer<typeof portMappingSchema>;

const macPattern = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

/**
 * runtimeConfig: only the capabilities a plugin declares reach it. We declare
 * `ips` and `mac`, and accept `portMappings` so a runtime that sends it to every
 * plugin does not fail (it is passed through for portmap). Other keys are kept.
 */
export const runtimeConfigSchema = z.looseObject({
  ips: z.array(ipOrCidrSchema).optional(),
  mac: z.string().regex(macPattern, "expected a MAC address like 0a:58:0a:f4:00:01").optional(),
  portMappings: z.array(portMappingSchema).optional(),
});
export type RuntimeConfig = z.infer<typeof runtimeConfigSchema>;

export const validAttachmentSchema = z.strictObject({
  containerID: z.string().min(1),
  ifname: z.string().min(1),
});
export type Attachment = z.infer<typeof validAttachmentSchema>;

/**
 * The plugin configuration for `"type": "trellis"` as it arrives on stdin.
 * Unknown top-level keys are accepted and dropped from the parsed value (the
 * raw stdin still carries them, e.g. to a delegated IPAM plugin): runtimes and
 * meta-plugins add their own (`cni.dev/…`, Multus), and every Go plugin
 * ignores them (libcni decodes into a struct). The handler reports them once
 * so the agent can log them at debug (`unknownTopLevelKeys`). Unknown keys
 * inside the sections Trellis owns (`ipam` when it is `trellis-ipam`, `dns`,
 * GC's attachments) stay errors (code 2). Everything the runtime injects is
 * listed here.
 */
export const trellisNetConfSchema = z.object({
  cniVersion: z.string().optional(),
  cniVersions: z.array(z.string()).optional(),
  name: z.string().regex(NAME_PATTERN, "must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"),
  type: z.string().min(1),
  agentSocket: z.string().startsWith("/", "must be an absolute path").optional(),
  mtu: z.number().int().min(68).max(65535).optional(),
  ipam: ipamSchema.optional(),
  dns: dnsSchema.optional(),
  capabilities: z.record(z.string(), z.boolean()).optional(),
  runtimeConfig: runtimeConfigSchema.optional(),
  args: z.record(z.string(), z.unknown()).optional(),
  prevResult: z.record(z.string(), z.unknown()).optional(),
  /** GC (1.1.0): the attachments the runtime still knows about. */
  "cni.dev/valid-attachments": z.array(validAttachmentSchema).optional(),
  /** Conflist-level switches; tolerated when a runtime copies them down. */
  disableCheck: z.boolean().optional(),
  disableGC: z.boolean().optional(),
});
export type TrellisNetConf = z.infer<typeof trellisNetConfSchema>;

/** Top-level keys of a plugin config that trellisNetConfSchema does not know (sorted). */
export function unknownTopLevelKeys(conf: Record<string, unknown>): string[] {
  const known = trellisNetConfSchema.shape;
  return Object.keys(conf)
    .filter((k) => !Object.hasOwn(known, k))
    .sort();
}

/** A plugin entry inside a conflist: only `type` is required of other plugins. */
export const pluginConfSchema = z.looseObject({ type: z.string().min(1) });

/** The `.conflist` file (SPEC.md section 1). */
export const confListSchema = z.strictObject({
  cniVersion: z.string().optional(),
  cniVersions: z.array(z.string()).optional(),
  name: z.string().regex(NAME_PATTERN, "must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"),
  disableCheck: z.boolean().optional(),
  disableGC: z.boolean().optional(),
  plugins: z.array(pluginConfSchema).min(1),
});
export type ConfList = z.infer<typeof confListSchema>;

/** The conflist docs/architecture.md pins, for the chart, the lab and tests. */
export function defaultConfList(agentSocket = DEFAULT_AGENT_SOCKET, mtu = 1500): ConfList {
  return {
    cniVersion: "1.1.0",
    name: "k8s-pod-network",
    plugins: [
      { type: "trellis", agentSocket, mtu, ipam: { type: TRELLIS_IPAM_TYPE } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}
