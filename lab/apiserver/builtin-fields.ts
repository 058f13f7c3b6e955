/**
 * The field names of the built-in types (k8s.io/api, v1.32), for the parts
 * that users write by hand. The real server decodes built-ins into Go structs,
 * so a field the struct does not have is dropped (fieldValidation Ignore/Warn)
 * or refused with "strict decoding error: unknown field" (Strict, which kubectl
 * sends by default). Where a level is listed here it is listed completely;
 * levels not listed (e.g. probes, affinity, status) are kept as written.
 */

/** A level: each known field maps to `true` (not inspected further), a nested level, or a list of a level. */
export type FieldLevel = { [field: string]: true | { obj: FieldLevel } | { list: FieldLevel } };

const any = true as const;
const names = (...xs: string[]): FieldLevel => Object.fromEntries(xs.map((x) => [x, any]));

export const OBJECT_META = names(
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
);

const LABEL_SELECTOR: FieldLevel = {
  matchLabels: any,
  matchExpressions: { list: names("key", "operator", "values") },
};

const CONTAINER_PORT = names("containerPort", "hostIP", "hostPort", "name", "protocol");
const CONTAINER: FieldLevel = {
  ...names(
    "args",
    "command",
    "env",
    "envFrom",
    "image",
    "imagePullPolicy",
    "lifecycle",
    "livenessProbe",
    "name",
    "readinessProbe",
    "resizePolicy",
    "resources",
    "restartPolicy",
    "securityContext",
    "startupProbe",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "tty",
    "volumeDevices",
    "volumeMounts",
    "workingDir",
  ),
  ports: { list: CONTAINER_PORT },
};
const EPHEMERAL_CONTAINER: FieldLevel = { ...CONTAINER, targetContainerName: any };

const POD_SPEC: FieldLevel = {
  ...names(
    "activeDeadlineSeconds",
    "affinity",
    "automountServiceAccountToken",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "hostAliases",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostUsers",
    "hostname",
    "imagePullSecrets",
    "nodeName",
    "nodeSelector",
    "os",
    "overhead",
    "preemptionPolicy",
    "priority",
    "priorityClassName",
    "readinessGates",
    "resourceClaims",
    "resources",
    "restartPolicy",
    "runtimeClassName",
    "schedulerName",
    "schedulingGates",
    "securityContext",
    "serviceAccount",
    "serviceAccountName",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "subdomain",
    "terminationGracePeriodSeconds",
    "tolerations",
    "topologySpreadConstraints",
    "volumes",
  ),
  containers: { list: CONTAINER },
  initContainers: { list: CONTAINER },
  ephemeralContainers: { list: EPHEMERAL_CONTAINER },
};

const SERVICE_SPEC: FieldLevel = {
  ...names(
    "allocateLoadBalancerNodePorts",
    "clusterIP",
    "clusterIPs",
    "externalIPs",
    "externalName",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "internalTrafficPolicy",
    "ipFamilies",
    "ipFamilyPolicy",
    "loadBalancerClass",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "publishNotReadyAddresses",
    "selector",
    "sessionAffinity",
    "sessionAffinityConfig",
    "trafficDistribution",
    "type",
  ),
  ports: { list: names("appProtocol", "name", "nodePort", "port", "protocol", "targetPort") },
};

const NP_PORT = names("protocol", "port", "endPort");
const NP_PEER: FieldLevel = {
  podSelector: { obj: LABEL_SELECTOR },
  namespaceSelector: { obj: LABEL_SELECTOR },
  ipBlock: { obj: names("cidr", "except") },
};
const NETWORK_POLICY_SPEC: FieldLevel = {
  podSelector: { obj: LABEL_SELECTOR },
  policyTypes: any,
  ingress: { list: { from: { list: NP_PEER }, ports: { list: NP_PORT } } },
  egress: { list: { to: { list: NP_PEER }, ports: { list: NP_PORT } } },
};

const top = (extra: FieldLevel): FieldLevel => ({
  apiVersion: any,
  kind: any,
  metadata: { obj: OBJECT_META },
  ...extra,
});

/** Known fields by built-in Kind. */
export const BUILTIN_FIELDS: Record<string, FieldLevel> = {
  Namespace: top({ spec: { obj: names("finalizers") }, status: any }),
  Pod: top({ spec: { obj: POD_SPEC }, status: any }),
  Node: top({ spec: any, status: any }),
  Service: top({ spec: { obj: SERVICE_SPEC }, status: any }),
  Endpoints: top({ subsets: any }),
  EndpointSlice: top(names("addressType", "endpoints", "ports")),
  Secret: top(names("data", "stringData", "type", "immutable")),
  ConfigMap: top(names("data", "binaryData", "immutable")),
  ServiceAccount: top(names("secrets", "imagePullSecrets", "automountServiceAccountToken")),
  NetworkPolicy: top({ spec: { obj: NETWORK_POLICY_SPEC } }),
  Lease: top({
    spec: {
      obj: names(
        "acquireTime",
        "holderIdentity",
        "leaseDurationSeconds",
        "leaseTransitions",
        "renewTime",
        "preferredHolder",
        "strategy",
      ),
    },
  }),
  CustomResourceDefinition: top({ spec: any, status: any }),
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Removes fields the level does not know, in place; returns their paths (e.g. `spec.containers[0].imag`). */
export function dropUnknownFields(level: FieldLevel, v: unknown, path = ""): string[] {
  const out: string[] = [];
  if (!isObject(v)) return out;
  for (const key of Object.keys(v)) {
    const p = path === "" ? key : `${path}.${key}`;
    const sub = level[key];
    if (sub === undefined) {
      delete v[key];
      out.push(p);
    } else if (sub !== true) {
      const child = v[key];
      if ("obj" in sub) out.push(...dropUnknownFields(sub.obj, child, p));
      else if (Array.isArray(child))
        child.forEach((item, i) => out.push(...dropUnknownFields(sub.list, item, `${p}[${i}]`)));
    }
  }
  return out;
}
