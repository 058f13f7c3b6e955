/**
 * zod schemas for the cluster objects the policy compiler reads, as the
 * Kubernetes API serves them (only the fields that matter for policy).
 * Unknown fields are ignored (real objects carry many); fields we read are
 * validated so bad input fails with the object and field named.
 */
import { z } from "zod";
import { labelSelectorSchema } from "./label-selector.js";

const metadata = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
});

const cluster = z.object({
  name: z.string().min(1),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
});

export const protocolSchema = z.enum(["TCP", "UDP", "SCTP"]);
export type Protocol = z.infer<typeof protocolSchema>;

const portNumber = z.number().int().min(1).max(65535);
// IANA_SVC_NAME: at most 15 lowercase alphanumerics or '-', with a letter.
const portName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, "must be an IANA service name (1-15 of a-z, 0-9, -)")
  .refine((s) => /[a-z]/.test(s) && !s.includes("--"), "must contain a letter and no '--'");

export const namespaceSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Namespace"),
  metadata: cluster,
});

export const nodeSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Node"),
  metadata: cluster,
  status: z
    .object({
      addresses: z.array(z.object({ type: z.string(), address: z.string() })).nullish(),
    })
    .nullish(),
});

const containerPort = z.object({
  name: portName.optional(),
  containerPort: portNumber,
  protocol: protocolSchema.default("TCP"),
});

export const podSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Pod"),
  metadata: metadata,
  spec: z.object({
    nodeName: z.string().min(1).optional(),
    hostNetwork: z.boolean().optional(),
    containers: z.array(z.object({ name: z.string(), ports: z.array(containerPort).nullish() })).default([]),
  }),
  status: z
    .object({
      podIP: z.string().optional(),
      podIPs: z.array(z.object({ ip: z.string() })).nullish(),
      hostIP: z.string().optional(),
    })
    .nullish(),
});

// ---------------------------------------------------------------- NetworkPolicy v1

const ipBlock = z.object({ cidr: z.string(), except: z.array(z.string()).nullish() }).strict();

const npPeer = z
  .object({
    podSelector: labelSelectorSchema.nullish(),
    namespaceSelector: labelSelectorSchema.nullish(),
    ipBlock: ipBlock.nullish(),
  })
  .strict();

const npPort = z
  .object({
    protocol: protocolSchema.default("TCP"),
    port: z.union([portNumber, portName]).optional(),
    endPort: portNumber.optional(),
  })
  .strict();

export const networkPolicySchema = z.object({
  apiVersion: z.literal("networking.k8s.io/v1"),
  kind: z.literal("NetworkPolicy"),
  metadata: metadata,
  spec: z.object({
    podSelector: labelSelectorSchema,
    policyTypes: z.array(z.enum(["Ingress", "Egress"])).nullish(),
    ingress: z
      .array(z.object({ from: z.array(npPeer).nullish(), ports: z.array(npPort).nullish() }).strict())
      .nullish(),
    egress: z
      .array(z.object({ to: z.array(npPeer).nullish(), ports: z.array(npPort).nullish() }).strict())
      .nullish(),
  }),
});

// -------------------------------------------- AdminNetworkPolicy / Baseline (v1alpha1)

const namespacedPod = z
  .object({ namespaceSelector: labelSelectorSchema, podSelector: labelSelectorSchema })
  .strict();
// The manifests say it as minProperties/maxProperties 1 (upstream: a union).
const subject = z
  .object({ namespaces: labelSelectorSchema.optional(), pods: namespacedPod.optional() })
  .strict()
  .refine((s) => (s.namespaces === undefined) !== (s.pods === undefined), {
    message: "exactly one of namespaces or pods must be set",
  });

const anpPort = z
  .object({
    portNumber: z
      .object({ protocol: protocolSchema.default("TCP"), port: portNumber })
      .strict()
      .optional(),
    namedPort: portName.optional(),
    portRange: z
      .object({ protocol: protocolSchema.default("TCP"), start: portNumber, end: portNumber })
      .strict()
      .optional(),
  })
  .strict();

const anpIngressPeer = z
  .object({ namespaces: labelSelectorSchema.optional(), pods: namespacedPod.optional() })
  .strict();
const anpEgressPeer = z
  .object({
    namespaces: labelSelectorSchema.optional(),
    pods: namespacedPod.optional(),
    nodes: labelSelectorSchema.optional(),
    networks: z.array(z.string()).optional(),
  })
  .strict();

/** A rule list of an admin policy: at most 100 named rules, each with its peers and ports. */
function anpRuleList<S extends z.ZodRawShape>(peers: S) {
  return z
    .array(
      z
        .object({
          name: z.string().max(100).optional(),
          ...peers,
          ports: z.array(anpPort).optional(),
        })
        .strict(),
    )
    .max(100)
    .optional();
}

function anpRules<A extends z.ZodType>(action: A) {
  return {
    ingress: anpRuleList({ action, from: z.array(anpIngressPeer).min(1).max(100) }),
    egress: anpRuleList({ action, to: z.array(anpEgressPeer).min(1).max(100) }),
  };
}

export const adminNetworkPolicySchema = z.object({
  apiVersion: z.literal("policy.networking.k8s.io/v1alpha1"),
  kind: z.literal("AdminNetworkPolicy"),
  metadata: cluster,
  spec: z.object({
    priority: z.number().int().min(0).max(1000),
    subject,
    ...anpRules(z.enum(["Allow", "Deny", "Pass"])),
  }),
});

export const baselineAdminNetworkPolicySchema = z.object({
  apiVersion: z.literal("policy.networking.k8s.io/v1alpha1"),
  kind: z.literal("BaselineAdminNetworkPolicy"),
  metadata: cluster,
  spec: z.object({ subject, ...anpRules(z.enum(["Allow", "Deny"])) }),
});

// ------------------------------------------- ClusterNetworkPolicy v1beta1 / v1alpha2

const cnpPort = z
  .object({
    number: portNumber.optional(),
    range: z.object({ start: portNumber, end: portNumber }).strict().optional(),
  })
  .strict();
const cnpL4 = z.object({ destinationPort: cnpPort.optional() }).strict();
const cnpProtocol = z
  .object({
    tcp: cnpL4.optional(),
    udp: cnpL4.optional(),
    sctp: cnpL4.optional(),
    destinationNamedPort: portName.optional(),
  })
  .strict();

export const clusterNetworkPolicySchema = z.object({
  apiVersion: z.enum(["policy.networking.k8s.io/v1beta1", "policy.networking.k8s.io/v1alpha2"]),
  kind: z.literal("ClusterNetworkPolicy"),
  metadata: cluster,
  spec: z.object({
    tier: z.enum(["Admin", "Baseline"]),
    priority: z.number().int().min(0).max(1000),
    subject,
    ingress: z
      .array(
        z
          .object({
            name: z.string().max(100).optional(),
            action: z.enum(["Accept", "Deny", "Pass"]),
            from: z.array(anpIngressPeer).min(1).max(25),
            protocols: z.array(cnpProtocol).optional(),
          })
          .strict(),
      )
      .max(25)
      .optional(),
    egress: z
      .array(
        z
          .object({
            name: z.string().max(100).optional(),
            action: z.enum(["Accept", "Deny", "Pass"]),
            to: z
              .array(anpEgressPeer.extend({ domainNames: z.array(z.string()).optional() }).strict())
              .min(1)
              .max(25),
            protocols: z.array(cnpProtocol).optional(),
          })
          .strict(),
      )
      .max(25)
      .optional(),
  }),
});

export type NamespaceObj = z.infer<typeof namespaceSchema>;
export type NodeObj = z.infer<typeof nodeSchema>;
export type PodObj = z.infer<typeof podSchema>;
export type NetworkPolicyObj = z.infer<typeof networkPolicySchema>;
export type AdminNetworkPolicyObj = z.infer<typeof adminNetworkPolicySchema>;
export type BaselineAdminNetworkPolicyObj = z.infer<typeof baselineAdminNetworkPolicySchema>;
export type ClusterNetworkPolicyObj = z.infer<typeof clusterNetworkPolicySchema>;
