/**
 * Trellis `Tenant` (`trellis.dev/v1alpha1`, cluster-scoped): a set of
 * namespaces isolated from the rest of the cluster. The manifest beside it
 * (`manifests/tenants.trellis.dev.yaml`) carries the same schema as OpenAPI v3.
 *
 * - `spec.namespaceSelector`: the namespaces that belong to the tenant.
 * - `spec.isolation`:
 *     `Strict`   traffic across the tenant boundary is denied before any
 *                NetworkPolicy is consulted; only an admin-tier policy or the
 *                tenant's own `allow` list opens it.
 *     `Baseline` the same denial, but after NetworkPolicy: a NetworkPolicy
 *                in the tenant may allow it.
 *     `None`     the tenant only groups namespaces; plain Kubernetes.
 * - `spec.allow`: peers across the boundary that are not denied: other
 *   tenants by name, shared-service namespaces by name and/or label selector.
 * - `spec.ipPools`: the IPPools (by name) that belong to the tenant.
 * - `spec.bgp.communities`: BGP communities every node attaches to the routes
 *   it originates from the tenant's pools (its blocks, and the /32 or /128 of
 *   addresses it borrowed from them), in addition to the BGPConfiguration's
 *   `prefixAdvertisements`, so that the fabric can keep tenants apart (e.g. a
 *   VRF import by community on the ToR). Each is a standard community
 *   `AS:VALUE` (RFC 1997), a large community `GLOBAL:LOCAL1:LOCAL2`
 *   (RFC 8092), or the name of one in the BGPConfiguration's `communities`.
 *
 * Why the Tenant lists its pools (rather than a label on the IPPool): a
 * Calico user already keeps IPPools as the operator's address plan (CIDR,
 * block size, node selector) and ties namespaces to pools with the
 * `trellis.dev/ipv4pools` / `ipv6pools` annotations; the Tenant is where
 * everything about one tenant is stated (its namespaces, who it may talk to,
 * and now its pools and communities), so `kubectl get tenant x -o yaml` shows
 * all of it, and pools need no change. It mirrors Calico's own
 * `prefixAdvertisements`, where the BGP object names the addresses, not the
 * other way round. A pool listed by two Tenants belongs to neither's
 * communities but the first by name (the agent reports the conflict), so
 * every node tags a route the same way.
 */
import { z } from "zod";
import { communityValueOk } from "./bgp.js";

export const TENANT_API_VERSION = "trellis.dev/v1alpha1";

const labelSelectorRequirement = z
  .object({
    key: z.string().min(1),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
    values: z.array(z.string()).optional(),
  })
  .strict();

export const tenantLabelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z.array(labelSelectorRequirement).optional(),
  })
  .strict();

export const tenantIsolationSchema = z.enum(["Strict", "Baseline", "None"]);

export const tenantAllowSchema = z
  .object({
    /** Other tenants (by metadata.name) whose pods may talk with this tenant's pods. */
    tenants: z.array(z.string().min(1)).optional(),
    /** Shared-service namespaces by name (e.g. `kube-system`, `monitoring`). */
    namespaces: z.array(z.string().min(1)).optional(),
    /** Shared-service namespaces by label. */
    namespaceSelector: tenantLabelSelectorSchema.optional(),
  })
  .strict();

/** An IPPool's name: a Kubernetes object name (RFC 1123 subdomain). */
export const POOL_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const poolName = z.string().max(253).regex(new RegExp(POOL_NAME_PATTERN), {
  message: "must be an IPPool name (lower-case RFC 1123 subdomain)",
});

/**
 * A community written as digits and colons must be one (each part in range);
 * anything else is the name of one in the BGPConfiguration's `communities`,
 * resolved by the agent (an unknown name is reported there and left out).
 */
export const tenantCommunitySchema = z
  .string()
  .min(1)
  .refine((s) => !/^[\d:]+$/.test(s) || communityValueOk(s), {
    message:
      "must be AS:VALUE (each 0..65535), GLOBAL:LOCAL1:LOCAL2 (each 0..4294967295) or a community name",
  });

const unique = <T>(xs: readonly T[]): boolean => new Set(xs).size === xs.length;

export const tenantBgpSchema = z
  .object({
    communities: z
      .array(tenantCommunitySchema)
      .refine(unique, { message: "must not repeat a community" })
      .optional(),
  })
  .strict();

export const tenantSpecSchema = z
  .object({
    namespaceSelector: tenantLabelSelectorSchema,
    isolation: tenantIsolationSchema.default("Strict"),
    allow: tenantAllowSchema.optional(),
    /** The IPPools that belong to this tenant, by name. */
    ipPools: z.array(poolName).refine(unique, { message: "must not repeat a pool" }).optional(),
    bgp: tenantBgpSchema.optional(),
  })
  .strict();

export const tenantSchema = z.object({
  apiVersion: z.literal(TENANT_API_VERSION),
  kind: z.literal("Tenant"),
  metadata: z.object({
    name: z.string().min(1),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: tenantSpecSchema,
});

export type TenantIsolation = z.infer<typeof tenantIsolationSchema>;
export type TenantSpec = z.infer<typeof tenantSpecSchema>;
export type Tenant = z.infer<typeof tenantSchema>;
export type TenantBgp = z.infer<typeof tenantBgpSchema>;
