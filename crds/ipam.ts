/**
 * IPAM custom resources (`trellis.dev/v1alpha1`): IPPool, IPAMBlock and
 * BlockAffinity. The zod schemas mirror crds/manifests/*.trellis.dev.yaml and
 * add what OpenAPI cannot say (a CIDR's host bits are zero, a block size fits
 * the pool's family, a selector parses). Types are inferred from the schemas.
 */
import { z } from "zod";
import { type Family, parsePrefix } from "../net/address.js";
import { type LabelSelector, parseLabelSelector } from "../net/label-selector.js";

export const IPAM_GROUP = "trellis.dev";
export const IPAM_VERSION = "v1alpha1";
export const IPAM_API_VERSION = `${IPAM_GROUP}/${IPAM_VERSION}`;

/**
 * The IPAMBlock (and BlockAffinity suffix) name for a block CIDR: every
 * character that a DNS-1123 subdomain forbids becomes "-" (10.244.0.64/26 ->
 * 10-244-0-64-26, fd00::40/122 -> fd00--40-122). Injective for canonical
 * CIDR text, so the name is the claim.
 */
export function blockName(cidr: string): string {
  return cidr.toLowerCase().replace(/[^0-9a-z]/g, "-");
}

export function affinityName(node: string, cidr: string): string {
  return `${node}-${blockName(cidr)}`;
}

/**
 * A pool's nodeSelector or namespaceSelector: a Kubernetes label selector
 * (net/label-selector.ts), or Calico's "all()", which selects everything as
 * "" does (kept so Calico pool manifests load).
 */
export function poolSelector(text: string): LabelSelector | string {
  return text.trim() === "all()" ? [] : parseLabelSelector(text);
}

// ---------------------------------------------------------------------------
// Schemas.

const metadataSchema = z
  .object({
    name: z.string().min(1),
    resourceVersion: z.string().optional(),
    uid: z.string().optional(),
    creationTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

const cidrText = z.string().superRefine((s, ctx) => {
  const c = parsePrefix(s);
  if (typeof c === "string") ctx.addIssue({ code: "custom", message: c });
});

const selectorText = z.string().superRefine((s, ctx) => {
  const r = poolSelector(s);
  if (typeof r === "string") ctx.addIssue({ code: "custom", message: r });
});

/** Allowed block sizes per family (a block must hold 1 … 4096 addresses). */
export const BLOCK_SIZE_RANGE: Record<Family, [number, number]> = { 4: [20, 32], 6: [116, 128] };
export const DEFAULT_BLOCK_SIZE: Record<Family, number> = { 4: 26, 6: 122 };

export const ipPoolSpecSchema = z
  .object({
    cidr: cidrText,
    blockSize: z.number().int().optional(),
    disabled: z.boolean().optional(),
    nodeSelector: selectorText.optional(),
    namespaceSelector: selectorText.optional(),
    natOutgoing: z.boolean().optional(),
    strictAffinity: z.boolean().optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const c = parsePrefix(spec.cidr);
    if (typeof c === "string") return;
    const [lo, hi] = BLOCK_SIZE_RANGE[c.family];
    const size = spec.blockSize ?? DEFAULT_BLOCK_SIZE[c.family];
    if (size < lo || size > hi) {
      ctx.addIssue({
        code: "custom",
        path: ["blockSize"],
        message: `block size /${size} is outside ${lo}..${hi} for an IPv${c.family} pool`,
      });
    } else if (size < c.length) {
      ctx.addIssue({
        code: "custom",
        path: ["blockSize"],
        message: `block size /${size} is larger than the pool ${spec.cidr}`,
      });
    }
  });

export const ipPoolSchema = z.object({
  apiVersion: z.literal(IPAM_API_VERSION).optional(),
  kind: z.literal("IPPool").optional(),
  metadata: metadataSchema,
  spec: ipPoolSpecSchema,
});
export type IPPool = z.infer<typeof ipPoolSchema>;

export const allocationSchema = z.object({
  ordinal: z.number().int().min(0).max(4095),
  handle: z.string().min(1).max(320),
  attributes: z
    .object({
      namespace: z.string().optional(),
      pod: z.string().optional(),
      containerID: z.string().optional(),
      ifname: z.string().optional(),
      node: z.string().optional(),
      timestamp: z.string().optional(),
    })
    .optional(),
});
export type Allocation = z.infer<typeof allocationSchema>;

/**
 * A block's claim state. "pending" while its claimer checks that no older
 * claim overlaps it (agent/ipam/claim-protocol.ts); nobody allocates into a
 * pending block. Absent means confirmed: blocks written before the state
 * existed were claimed by name alone and stay valid.
 */
export const BLOCK_STATES = ["pending", "confirmed"] as const;
export type BlockState = (typeof BLOCK_STATES)[number];

export const ipamBlockSchema = z.object({
  apiVersion: z.literal(IPAM_API_VERSION).optional(),
  kind: z.literal("IPAMBlock").optional(),
  metadata: metadataSchema,
  spec: z.object({
    cidr: cidrText,
    pool: z.string(),
    affinity: z.string().optional(),
    strictAffinity: z.boolean().optional(),
    state: z.enum(BLOCK_STATES).optional(),
    allocations: z.array(allocationSchema).max(4096),
  }),
});
export type IPAMBlock = z.infer<typeof ipamBlockSchema>;

export const AFFINITY_STATES = ["pending", "confirmed", "pendingDeletion"] as const;
export const blockAffinitySchema = z.object({
  apiVersion: z.literal(IPAM_API_VERSION).optional(),
  kind: z.literal("BlockAffinity").optional(),
  metadata: metadataSchema,
  spec: z.object({
    node: z.string().min(1),
    cidr: cidrText,
    state: z.enum(AFFINITY_STATES),
  }),
});
export type BlockAffinity = z.infer<typeof blockAffinitySchema>;

/** "host:<node>" affinity marker (Calico's convention, kept so tools read it). */
export function hostAffinity(node: string): string {
  return `host:${node}`;
}

export function affinityNode(affinity: string | undefined): string | undefined {
  return affinity?.startsWith("host:") ? affinity.slice(5) : undefined;
}

/** A block is pending only while its claim is being checked; absent state = confirmed. */
export function blockPending(b: IPAMBlock): boolean {
  return b.spec.state === "pending";
}

/** Formats a zod error as "path: message; path: message" naming every field. */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
}

/** Validates an IPPool and returns it, or the reason it is rejected. */
export function validatePool(obj: unknown): { ok: true; pool: IPPool } | { ok: false; reason: string } {
  const r = ipPoolSchema.safeParse(obj);
  return r.success ? { ok: true, pool: r.data } : { ok: false, reason: describeIssues(r.error) };
}
