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
 */
import { z } from "zod";

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

export const tenantSpecSchema = z
  .object({
    namespaceSelector: tenantLabelSelectorSchema,
    isolation: tenantIsolationSchema.default("Strict"),
    allow: tenantAllowSchema.optional(),
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
