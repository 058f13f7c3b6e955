/**
 * `TrellisNodeStatus` (`trellis.dev/v1alpha1`, cluster-scoped): what one
 * trellis-node agent publishes about itself. One object per node, named after
 * the node, owned by the Node object (garbage collected with it). The agent
 * writes `status` through the status subresource
 * (agent/status/status-publisher.ts); `trellisctl status` reads it. The
 * manifest beside it (`manifests/trellisnodestatuses.trellis.dev.yaml`)
 * carries the same schema as OpenAPI v3 (test/crds/schema-equivalence.test.ts).
 */
import { z } from "zod";
import { parseAddressOf } from "../net/address.js";

export const NODE_STATUS_GROUP = "trellis.dev";
export const NODE_STATUS_VERSION = "v1alpha1";
export const NODE_STATUS_API_VERSION = `${NODE_STATUS_GROUP}/${NODE_STATUS_VERSION}`;
export const NODE_STATUS_KIND = "TrellisNodeStatus";
export const NODE_STATUS_PLURAL = "trellisnodestatuses";

/** RFC 3339, as the API server's `date-time` format checks it (lab/apiserver/string-formats.ts). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const dateTime = z
  .string()
  .regex(RFC3339, "expected an RFC 3339 date-time")
  .refine((s) => !Number.isNaN(Date.parse(s)), "expected an RFC 3339 date-time");
const count = z.number().int().min(0);
const address = (family: 4 | 6) =>
  z.string().refine((s) => typeof parseAddressOf(family, s) !== "string", `expected an IPv${family} address`);

export const BGP_SESSION_KINDS = ["mesh", "reflector", "client", "external"] as const;

export const bgpSessionStatusSchema = z
  .object({
    peer: z.string(),
    kind: z.enum(BGP_SESSION_KINDS),
    /** The RFC 4271 FSM state (Idle, Connect, Active, OpenSent, OpenConfirm, Established). */
    state: z.string(),
    uptimeSeconds: count.optional(),
    prefixesReceived: count.optional(),
    prefixesAccepted: count.optional(),
    prefixesAdvertised: count.optional(),
  })
  .strict();

export const nodeBgpStatusSchema = z
  .object({
    address4: address(4).optional(),
    address6: address(6).optional(),
    /** How the address was chosen (interface, can-reach, node-address, configured, …). */
    method: z.string().optional(),
    asn: z.number().int().min(0).max(4294967295).optional(),
    sessionsEstablished: count,
    sessions: z.array(bgpSessionStatusSchema),
  })
  .strict();

export const nodeRoutesStatusSchema = z
  .object({
    /** Learned from BGP, in the kernel (proto 202): both families. */
    installed: count.optional(),
    installed4: count.optional(),
    installed6: count.optional(),
    /** Pod routes of this agent (proto 201), blackholes not counted. */
    local: count.optional(),
  })
  .strict();

export const nodeIpamStatusSchema = z
  .object({
    affineBlocks: count,
    addressesInUse: count,
    poolsRejected: z.array(z.object({ pool: z.string(), reason: z.string() }).strict()),
  })
  .strict();

export const nodePolicyStatusSchema = z
  .object({
    /** Generation of the policy inputs last applied (0 before the first apply). */
    generation: count,
    lastApplyTime: dateTime.optional(),
    lastError: z.string().optional(),
  })
  .strict();

export const nodeInformersStatusSchema = z
  .object({
    rolledBack: z.array(
      z.object({ informer: z.string(), seen: z.number().int(), got: z.number().int() }).strict(),
    ),
  })
  .strict();

export const nodeStatusBodySchema = z
  .object({
    ready: z.boolean(),
    reason: z.string(),
    agentVersion: z.string(),
    startedAt: dateTime,
    lastUpdated: dateTime,
    /** The longest the agent goes without rewriting lastUpdated: older than 3x this is stale. */
    refreshSeconds: z.number().int().min(1),
    bgp: nodeBgpStatusSchema.optional(),
    routes: nodeRoutesStatusSchema.optional(),
    ipam: nodeIpamStatusSchema.optional(),
    policy: nodePolicyStatusSchema.optional(),
    informers: nodeInformersStatusSchema.optional(),
  })
  .strict();

export const trellisNodeStatusSchema = z.object({
  apiVersion: z.literal(NODE_STATUS_API_VERSION),
  kind: z.literal(NODE_STATUS_KIND),
  metadata: z
    .object({
      name: z.string().min(1),
      resourceVersion: z.string().optional(),
      creationTimestamp: z.string().optional(),
    })
    .passthrough(),
  /** Absent between the create and the first status write (the status subresource drops it on create). */
  status: nodeStatusBodySchema.optional(),
});

export type BgpSessionStatus = z.infer<typeof bgpSessionStatusSchema>;
export type NodeBgpStatus = z.infer<typeof nodeBgpStatusSchema>;
export type NodeStatusBody = z.infer<typeof nodeStatusBodySchema>;
export type TrellisNodeStatus = z.infer<typeof trellisNodeStatusSchema>;
