/**
 * BGP custom resources (`trellis.dev/v1alpha1`, cluster-scoped): BGPConfiguration,
 * BGPPeer and BGPFilter. The zod schemas mirror
 * crds/manifests/{bgpconfigurations,bgppeers,bgpfilters}.trellis.dev.yaml and add
 * what OpenAPI cannot say (a CIDR's host bits, an address that parses, a
 * community's syntax, a selector that parses). Semantics: agent/bgp/README.md.
 *
 * - `BGPConfiguration` named `default` applies to every node; one named
 *   `node.<nodeName>` overrides it field by field for that node. No field has
 *   a schema default, so that an override says only what it overrides; the
 *   defaults (AS 64512, mesh on, port 179, graceful restart on, 120 s) are
 *   applied by agent/bgp/desired-config.ts.
 * - `BGPPeer`: a peering of the nodes it selects (`node`, `nodeSelector`, or all
 *   when neither) with `peerIP` or with the nodes `peerSelector` selects.
 * - `BGPFilter`: ordered import/export rules per family; a peer lists its filters.
 * Durations are whole seconds.
 */
import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import { parsePrefix } from "../net/address.js";
import { parseLabelSelector } from "../net/label-selector.js";

export const BGP_GROUP = "trellis.dev";
export const BGP_VERSION = "v1alpha1";
export const BGP_API_VERSION = `${BGP_GROUP}/${BGP_VERSION}`;

const asNumber = z.number().int().min(1).max(4294967295);
const seconds = z.number().int().min(0).max(65535);
const cidr = z.string().refine((s) => typeof parsePrefix(s) !== "string", {
  message: "must be a CIDR like 10.0.0.0/24 or fd00::/64 (host bits zero)",
});
const selector = z.string().refine((s) => typeof parseLabelSelector(s) !== "string", {
  message: "must be a label selector (e.g. `rack == r1`)",
});

const STANDARD = /^(\d+):(\d+)$/;
const LARGE = /^(\d+):(\d+):(\d+)$/;
/** `AS:VALUE` (RFC 1997, each 0..65535) or `GLOBAL:LOCAL1:LOCAL2` (RFC 8092, each 0..4294967295). */
export function communityValueOk(s: string): boolean {
  const m = STANDARD.exec(s);
  if (m) return Number(m[1]) <= 65535 && Number(m[2]) <= 65535;
  const l = LARGE.exec(s);
  return !!l && [l[1], l[2], l[3]].every((x) => Number(x) <= 4294967295);
}
export function isLargeCommunity(s: string): boolean {
  return LARGE.test(s);
}

/**
 * `peerIP`: "IP", "IPv4:PORT" or "[IPv6]:PORT". Returns the address and port
 * (undefined = the default 179), or a message.
 */
export function parsePeerIp(s: string): { ip: string; port: number | undefined } | string {
  if (isIPv4(s) || isIPv6(s)) return { ip: s, port: undefined };
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([0-9.]+):(\d{1,5})$/.exec(s);
  const bad = 'must be "IP", "IPv4:PORT" or "[IPv6]:PORT"';
  if (!m) return bad;
  const ip = m[1] ?? "";
  const port = Number(m[2]);
  if (!(isIPv4(ip) || isIPv6(ip)) || port < 1 || port > 65535) return bad;
  if (s.startsWith("[") !== isIPv6(ip)) return bad;
  return { ip, port };
}

const metadata = z.object({
  name: z.string().min(1),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  resourceVersion: z.string().optional(),
});

const cidrList = z.array(z.strictObject({ cidr })).optional();

export const bgpConfigurationSpecSchema = z.strictObject({
  asNumber: asNumber.optional(),
  nodeToNodeMeshEnabled: z.boolean().optional(),
  listenPort: z.number().int().min(1).max(65535).optional(),
  /** Hold and keepalive time of every session (mesh included) unless a BGPPeer says otherwise. */
  holdTime: seconds.optional(),
  keepaliveTime: seconds.optional(),
  /** Named communities, usable by name in prefixAdvertisements. */
  communities: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        value: z.string().refine(communityValueOk, {
          message: "must be AS:VALUE (each 0..65535) or GLOBAL:LOCAL1:LOCAL2 (each 0..4294967295)",
        }),
      }),
    )
    .optional(),
  /** Communities attached to the advertisements of prefixes inside `cidr`. */
  prefixAdvertisements: z.array(z.strictObject({ cidr, communities: z.array(z.string().min(1)) })).optional(),
  serviceClusterIPs: cidrList,
  serviceExternalIPs: cidrList,
  serviceLoadBalancerIPs: cidrList,
  gracefulRestart: z
    .strictObject({
      enabled: z.boolean().optional(),
      restartTime: z.number().int().min(1).max(4095).optional(),
    })
    .optional(),
  /** The level of the agent's BGP logger (the speaker's); absent: the agent's own level. */
  logSeverity: z.enum(["Debug", "Info", "Warning", "Error", "Fatal"]).optional(),
});

export const bgpConfigurationSchema = z.object({
  apiVersion: z.literal(BGP_API_VERSION),
  kind: z.literal("BGPConfiguration"),
  metadata,
  spec: bgpConfigurationSpecSchema,
});

export const bgpPeerSpecSchema = z.strictObject({
  peerIP: z
    .string()
    .refine((s) => typeof parsePeerIp(s) !== "string", {
      message: 'must be "IP", "IPv4:PORT" or "[IPv6]:PORT"',
    })
    .optional(),
  asNumber: asNumber.optional(),
  /** This peering applies to the node of this name only. */
  node: z.string().min(1).optional(),
  /** ... or to the nodes whose labels match (absent with `node` absent: every node). */
  nodeSelector: selector.optional(),
  /** Peer with the nodes whose labels match (node-to-node peerings), instead of peerIP. */
  peerSelector: selector.optional(),
  holdTime: seconds.optional(),
  keepaliveTime: seconds.optional(),
  /** Graceful restart time we advertise to this peer is global; this caps how long we keep its stale routes. */
  maxRestartTime: seconds.optional(),
  /** NodeIP: connect from the node's BGP address; None: let the kernel choose. */
  sourceAddress: z.enum(["NodeIP", "None"]).optional(),
  /** BGPFilter names, applied in order. */
  filters: z.array(z.string().min(1)).optional(),
  maxPrefixes: z.number().int().min(1).optional(),
  /** The gateway through which peerIP is reached: the agent installs peerIP/32 (/128) via it (agent/bgp/peer-routes.ts). */
  reachableBy: z
    .string()
    .refine((s) => isIPv4(s) || isIPv6(s), { message: "must be an IP address" })
    .optional(),
  /**
   * RFC 2385 TCP MD5: the key is in this Secret, in the agent's secret namespace
   * (agent config `bgp.secretNamespace`, default kube-system).
   */
  password: z
    .strictObject({
      secretKeyRef: z.strictObject({ name: z.string().min(1), key: z.string().min(1) }),
    })
    .optional(),
  /** A single-hop BFD session to peerIP; the BGP session goes down when BFD declares the path down. */
  bfd: z.boolean().optional(),
  /** BFD transmit and receive interval (default 300 ms). */
  bfdIntervalMs: z.number().int().min(10).max(60000).optional(),
  /** BFD detection multiplier (default 3). */
  bfdMultiplier: z.number().int().min(1).max(255).optional(),
});

export const bgpPeerSchema = z.object({
  apiVersion: z.literal(BGP_API_VERSION),
  kind: z.literal("BGPPeer"),
  metadata,
  spec: bgpPeerSpecSchema.superRefine((s, ctx) => {
    if (s.peerIP === undefined && s.peerSelector === undefined)
      ctx.addIssue({ code: "custom", path: ["peerIP"], message: "peerIP or peerSelector is required" });
    if (s.peerIP !== undefined && s.peerSelector !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["peerSelector"],
        message: "peerIP and peerSelector exclude each other",
      });
    if (s.node !== undefined && s.nodeSelector !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["nodeSelector"],
        message: "node and nodeSelector exclude each other",
      });
    if (s.peerIP !== undefined && s.asNumber === undefined)
      ctx.addIssue({ code: "custom", path: ["asNumber"], message: "asNumber is required with peerIP" });
  }),
});

export const bgpFilterRuleSchema = z
  .strictObject({
    cidr: cidr.optional(),
    prefixLength: z
      .strictObject({
        min: z.number().int().min(0).max(128).optional(),
        max: z.number().int().min(0).max(128).optional(),
      })
      .optional(),
    matchOperator: z.enum(["Equal", "In", "NotIn"]).optional(),
    /** RemotePeers: the rule matches only routes learned from peers (not this node's own). */
    source: z.enum(["RemotePeers"]).optional(),
    action: z.enum(["Accept", "Reject"]),
  })
  .superRefine((r, ctx) => {
    if ((r.cidr === undefined) !== (r.matchOperator === undefined))
      ctx.addIssue({
        code: "custom",
        path: ["matchOperator"],
        message: "cidr and matchOperator go together",
      });
    const { min, max } = r.prefixLength ?? {};
    if (min !== undefined && max !== undefined && min > max)
      ctx.addIssue({ code: "custom", path: ["prefixLength"], message: "min must be <= max" });
  });

const v4Rule = bgpFilterRuleSchema.refine((r) => r.cidr === undefined || !r.cidr.includes(":"), {
  message: "an IPv4 rule needs an IPv4 cidr",
  path: ["cidr"],
});
const v6Rule = bgpFilterRuleSchema.refine((r) => r.cidr === undefined || r.cidr.includes(":"), {
  message: "an IPv6 rule needs an IPv6 cidr",
  path: ["cidr"],
});

export const bgpFilterSpecSchema = z.strictObject({
  exportV4: z.array(v4Rule).optional(),
  importV4: z.array(v4Rule).optional(),
  exportV6: z.array(v6Rule).optional(),
  importV6: z.array(v6Rule).optional(),
});

export const bgpFilterSchema = z.object({
  apiVersion: z.literal(BGP_API_VERSION),
  kind: z.literal("BGPFilter"),
  metadata,
  spec: bgpFilterSpecSchema,
});

export type BGPConfigurationSpec = z.infer<typeof bgpConfigurationSpecSchema>;
export type BGPConfiguration = z.infer<typeof bgpConfigurationSchema>;
export type BGPPeerSpec = z.infer<typeof bgpPeerSpecSchema>;
export type BGPPeer = z.infer<typeof bgpPeerSchema>;
export type BGPFilterRule = z.infer<typeof bgpFilterRuleSchema>;
export type BGPFilterSpec = z.infer<typeof bgpFilterSpecSchema>;
export type BGPFilter = z.infer<typeof bgpFilterSchema>;
