/**
 * Turns cluster objects (parsed YAML/JSON documents) into the normalized
 * `Cluster`. Every rejection names the object and the field; a named port that
 * matches no container port is a warning, never a rejection (docs/architecture.md
 * clarification: it is valid Kubernetes and simply matches nothing).
 */
import { parseAllDocuments } from "yaml";
import type { z } from "zod";
import {
  adminNetworkPolicySchema,
  baselineAdminNetworkPolicySchema,
  clusterNetworkPolicySchema,
  namespaceSchema,
  networkPolicySchema,
  nodeSchema,
  podSchema,
  type AdminNetworkPolicyObj,
  type BaselineAdminNetworkPolicyObj,
  type ClusterNetworkPolicyObj,
  type NetworkPolicyObj,
  type Protocol,
} from "./objects.js";
import { tenantSchema } from "../../crds/tenant.js";
import type { LabelSelector } from "./label-selector.js";
import { v4Range, rangeWithin, subtractRanges, isIPv6, v4Value, type Range } from "./ipv4.js";
import { v6Text, v6Range, v6Value, rangeWithin6, subtractRanges6, type Range6 } from "./ipv6.js";
import type {
  Action,
  Cluster,
  NamespaceInfo,
  NamespaceMatch,
  NodeInfo,
  Peer,
  PodInfo,
  Policy,
  PortMatch,
  Rule,
  TenantInfo,
  Warning,
} from "./cluster.js";
import { peerPods, subjectPods } from "./select.js";
import { selectorObjectMatches } from "../../net/label-selector.js";

export const LOG_ANNOTATION = "trellis.dev/log";

/** Bad input: names the object (`Kind ns/name`, or document index) and the field path. */
export class PolicyInputError extends Error {
  readonly code = "TRELLIS_EPOLICYINPUT";
  constructor(
    readonly object: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${object}: ${field === "" ? "" : `${field}: `}${detail}`);
    this.name = "PolicyInputError";
  }
}

/** Each kind the model reads: its schema, and where its objects go in Parsed. */
const kinds: Record<string, { schema: z.ZodType; into: keyof Parsed }> = {
  Namespace: { schema: namespaceSchema, into: "namespaces" },
  Node: { schema: nodeSchema, into: "nodes" },
  Pod: { schema: podSchema, into: "pods" },
  NetworkPolicy: { schema: networkPolicySchema, into: "nps" },
  AdminNetworkPolicy: { schema: adminNetworkPolicySchema, into: "anps" },
  BaselineAdminNetworkPolicy: { schema: baselineAdminNetworkPolicySchema, into: "banps" },
  ClusterNetworkPolicy: { schema: clusterNetworkPolicySchema, into: "cnps" },
  Tenant: { schema: tenantSchema, into: "tenants" },
};

function pathText(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? String(p) : `.${String(p)}`;
  return s;
}

function objectName(doc: Record<string, unknown>, index: number): string {
  const kind = typeof doc["kind"] === "string" ? doc["kind"] : "object";
  const md = (doc["metadata"] ?? {}) as Record<string, unknown>;
  const name = typeof md["name"] === "string" ? md["name"] : `#${index}`;
  const ns = typeof md["namespace"] === "string" ? `${md["namespace"]}/` : "";
  return `${kind} ${ns}${name}`;
}

/** Parses a multi-document YAML (or JSON) text; `kind: List` items are flattened. */
export function parseDocuments(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((d, i) => {
    if (d.errors.length > 0)
      throw new PolicyInputError(`document #${i}`, "", `invalid YAML: ${d.errors[0]?.message}`);
    let v: unknown;
    try {
      // toJS expands aliases; the yaml library refuses an alias bomb here.
      v = d.toJS();
    } catch (e) {
      throw new PolicyInputError(`document #${i}`, "", `invalid YAML: ${(e as Error).message}`);
    }
    if (v === null || v === undefined) return;
    if (typeof v !== "object" || Array.isArray(v))
      throw new PolicyInputError(`document #${i}`, "", "not an object");
    const o = v as Record<string, unknown>;
    if (o["kind"] === "List" && Array.isArray(o["items"])) {
      for (const it of o["items"] as unknown[]) out.push(it as Record<string, unknown>);
    } else out.push(o);
  });
  return out;
}

export function loadClusterFromText(text: string): Cluster {
  return loadCluster(parseDocuments(text));
}

interface Parsed {
  namespaces: z.infer<typeof namespaceSchema>[];
  nodes: z.infer<typeof nodeSchema>[];
  pods: z.infer<typeof podSchema>[];
  nps: NetworkPolicyObj[];
  anps: AdminNetworkPolicyObj[];
  banps: BaselineAdminNetworkPolicyObj[];
  cnps: ClusterNetworkPolicyObj[];
  tenants: z.infer<typeof tenantSchema>[];
}

/** One validated object: its kind, its display name (`Kind ns/name`) and the parsed data. */
export interface ParsedObject {
  readonly kind: string;
  readonly name: string;
  readonly data: unknown;
}

/**
 * Validates one document (zod). An agent parses each watched object once
 * and keeps the result; `buildCluster` then needs no re-validation.
 */
export function parseObject(doc: Record<string, unknown>, index = 0): ParsedObject {
  const kind = doc["kind"];
  const name = objectName(doc, index);
  if (typeof kind !== "string") throw new PolicyInputError(name, "kind", "missing");
  const schema = kinds[kind]?.schema;
  if (!schema) {
    throw new PolicyInputError(
      name,
      "kind",
      `unknown kind "${kind}" (expected one of ${Object.keys(kinds).join(", ")})`,
    );
  }
  const r = schema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new PolicyInputError(name, pathText(issue?.path ?? []), issue?.message ?? "invalid");
  }
  return { kind, name, data: r.data };
}

/** Validates every document and builds the normalized model. Throws PolicyInputError. */
export function loadCluster(docs: readonly Record<string, unknown>[]): Cluster {
  return buildClusterFromObjects(docs.map((d, i) => parseObject(d, i)));
}

/** The normalized model from already validated objects. Throws PolicyInputError. */
export function buildClusterFromObjects(objects: readonly ParsedObject[]): Cluster {
  const p: Parsed = {
    namespaces: [],
    nodes: [],
    pods: [],
    nps: [],
    anps: [],
    banps: [],
    cnps: [],
    tenants: [],
  };
  const seen = new Set<string>();
  for (const o of objects) {
    if (seen.has(o.name)) throw new PolicyInputError(o.name, "metadata.name", "duplicate object");
    seen.add(o.name);
    const into = kinds[o.kind]?.into;
    if (into !== undefined) (p[into] as unknown[]).push(o.data);
  }
  return buildCluster(p);
}

function buildCluster(p: Parsed): Cluster {
  const warnings: Warning[] = [];
  const namespaces = new Map<string, NamespaceInfo>();
  for (const n of p.namespaces) {
    namespaces.set(n.metadata.name, {
      name: n.metadata.name,
      labels: { ...(n.metadata.labels ?? {}), "kubernetes.io/metadata.name": n.metadata.name },
    });
  }
  const nodes: NodeInfo[] = p.nodes.map((n) => ({
    name: n.metadata.name,
    labels: n.metadata.labels ?? {},
    addresses: (n.status?.addresses ?? []).map((a) => a.address),
  }));
  const pods: PodInfo[] = p.pods.map((o) => {
    const namespace = o.metadata.namespace ?? "default";
    const obj = `Pod ${namespace}/${o.metadata.name}`;
    const ips = [
      ...new Set([
        ...(o.status?.podIPs ?? []).map((x) => x.ip),
        ...(o.status?.podIP ? [o.status.podIP] : []),
      ]),
    ];
    ips.forEach((ip, i) => {
      if (isIPv6(ip) ? v6Value(ip) === undefined : v4Value(ip) === undefined)
        throw new PolicyInputError(obj, `status.podIPs[${i}]`, `invalid IP "${ip}"`);
    });
    const ipv4 = ips.find((ip) => !isIPv6(ip));
    // One canonical text per address, so sets, maps and lookups agree.
    const v6 = ips.find((ip) => isIPv6(ip));
    const ipv6 = v6 === undefined ? undefined : v6Text(v6Value(v6) as bigint);
    if (!namespaces.has(namespace)) {
      namespaces.set(namespace, { name: namespace, labels: { "kubernetes.io/metadata.name": namespace } });
    }
    return {
      namespace,
      name: o.metadata.name,
      key: `${namespace}/${o.metadata.name}`,
      labels: o.metadata.labels ?? {},
      ...(o.spec.nodeName ? { node: o.spec.nodeName } : {}),
      hostNetwork: o.spec.hostNetwork === true,
      ...(ipv4 ? { ipv4 } : {}),
      ...(ipv6 ? { ipv6 } : {}),
      ips,
      ports: o.spec.containers.flatMap((ct) =>
        (ct.ports ?? []).map((cp) => ({
          ...(cp.name ? { name: cp.name } : {}),
          port: cp.containerPort,
          protocol: cp.protocol,
        })),
      ),
    };
  });

  // Input order must not change the output (deterministic compiles).
  pods.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const policies: Policy[] = [
    ...p.anps.map((o) => fromAdmin(o)),
    ...p.cnps.filter((o) => o.spec.tier === "Admin").map((o) => fromCnp(o)),
  ].sort(byPriority);
  policies.push(
    ...p.nps.map((o) => fromNetworkPolicy(o)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  );
  const baseline: Policy[] = [
    ...p.banps.map((o) => fromBaseline(o)),
    ...p.cnps.filter((o) => o.spec.tier === "Baseline").map((o) => fromCnp(o)),
  ].sort(byPriority);
  policies.push(...baseline);
  if (p.banps.some((b) => b.metadata.name !== "default")) {
    const b = p.banps.find((x) => x.metadata.name !== "default");
    warnings.push({
      object: `BaselineAdminNetworkPolicy ${b?.metadata.name}`,
      field: "metadata.name",
      message: 'the API admits only the singleton "default"; enforced anyway',
    });
  }

  const tenants: TenantInfo[] = p.tenants
    .map((t) => ({
      name: t.metadata.name,
      isolation: t.spec.isolation,
      namespaceSelector: t.spec.namespaceSelector,
      allowTenants: t.spec.allow?.tenants ?? [],
      allowNamespaces: t.spec.allow?.namespaces ?? [],
      ...(t.spec.allow?.namespaceSelector ? { allowNamespaceSelector: t.spec.allow.namespaceSelector } : {}),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const tenantOf = new Map<string, TenantInfo>();
  for (const ns of [...namespaces.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const owners = tenants.filter((t) => selectorObjectMatches(t.namespaceSelector, ns.labels));
    if (owners[0]) tenantOf.set(ns.name, owners[0]);
    if (owners.length > 1) {
      warnings.push({
        object: `Namespace ${ns.name}`,
        field: "metadata.labels",
        message: `selected by several tenants (${owners.map((t) => t.name).join(", ")}); it belongs to ${owners[0]?.name}`,
      });
    }
  }
  for (const t of tenants) {
    for (const other of t.allowTenants) {
      if (!tenants.some((x) => x.name === other)) {
        warnings.push({
          object: `Tenant ${t.name}`,
          field: "spec.allow.tenants",
          message: `no tenant named "${other}"`,
        });
      }
    }
  }
  const c: Cluster = { namespaces, pods, nodes, policies, tenants, tenantOf, warnings };
  warnings.push(...namedPortWarnings(c));
  return c;
}

function byPriority(a: Policy, b: Policy): number {
  return a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function logFlag(annotations: Record<string, string> | null | undefined): boolean {
  return annotations?.[LOG_ANNOTATION] === "true";
}

// ------------------------------------------------------------------ NetworkPolicy

function ipBlockPeer(obj: string, field: string, cidr: string, except: readonly string[]): Peer {
  if (!cidr.includes("/")) throw new PolicyInputError(obj, `${field}.cidr`, `invalid CIDR "${cidr}"`);
  // "Except values will be rejected if they are outside the cidr range"
  // (NetworkPolicy IPBlock docs); an except of the other family is outside.
  if (isIPv6(cidr)) {
    const base = v6Range(cidr);
    if (!base) throw new PolicyInputError(obj, `${field}.cidr`, `invalid CIDR "${cidr}"`);
    const holes = except.map((e, i) => {
      const r = isIPv6(e) ? v6Range(e) : undefined;
      if (isIPv6(e) && (!r || !e.includes("/")))
        throw new PolicyInputError(obj, `${field}.except[${i}]`, `invalid CIDR "${e}"`);
      if (!r || !rangeWithin6(r, base))
        throw new PolicyInputError(obj, `${field}.except[${i}]`, `"${e}" is outside cidr "${cidr}"`);
      return r;
    });
    return { kind: "ipBlock", cidr, except, ranges: [], ranges6: subtractRanges6(base, holes) };
  }
  const base = v4Range(cidr);
  if (!base) throw new PolicyInputError(obj, `${field}.cidr`, `invalid CIDR "${cidr}"`);
  const holes = except.map((e, i) => {
    const r = isIPv6(e) ? undefined : v4Range(e);
    if (!isIPv6(e) && (!r || !e.includes("/")))
      throw new PolicyInputError(obj, `${field}.except[${i}]`, `invalid CIDR "${e}"`);
    if (!r || !rangeWithin(r, base))
      throw new PolicyInputError(obj, `${field}.except[${i}]`, `"${e}" is outside cidr "${cidr}"`);
    return r;
  });
  return { kind: "ipBlock", cidr, except, ranges: subtractRanges(base, holes), ranges6: [] };
}

/** One ingress rule of a NetworkPolicy (an egress rule has the same peers and ports, under `to`). */
type NpRule = NonNullable<NetworkPolicyObj["spec"]["ingress"]>[number];

function npPeers(obj: string, field: string, namespace: string, peers: NonNullable<NpRule["from"]>): Peer[] {
  return peers.map((peer, i): Peer => {
    const f = `${field}[${i}]`;
    const hasSel = peer.podSelector != null || peer.namespaceSelector != null;
    if (peer.ipBlock != null) {
      // "Exactly one of the fields must be specified" when ipBlock is used.
      if (hasSel)
        throw new PolicyInputError(
          obj,
          f,
          "ipBlock may not be combined with podSelector or namespaceSelector",
        );
      return ipBlockPeer(obj, `${f}.ipBlock`, peer.ipBlock.cidr, peer.ipBlock.except ?? []);
    }
    if (!hasSel) throw new PolicyInputError(obj, f, "a peer needs podSelector, namespaceSelector or ipBlock");
    // "If NamespaceSelector is also set, then the NetworkPolicyPeer as a whole
    // selects the Pods matching PodSelector in the Namespaces selected by
    // NamespaceSelector. Otherwise it selects the Pods matching PodSelector in
    // the policy's own Namespace." / "If PodSelector is also set, ... Otherwise
    // it selects all Pods in the Namespaces selected by NamespaceSelector."
    const namespaces: NamespaceMatch =
      peer.namespaceSelector != null
        ? { kind: "selector", selector: peer.namespaceSelector }
        : { kind: "same", namespace };
    return { kind: "pods", namespaces, pods: peer.podSelector ?? {} };
  });
}

function npPorts(obj: string, field: string, ports: NonNullable<NpRule["ports"]>): PortMatch[] {
  return ports.map((p, i): PortMatch => {
    const f = `${field}[${i}]`;
    if (p.endPort !== undefined) {
      // "endPort ... cannot be defined if the port field is not defined or if
      // the port field is defined as a named (string) port" and "must be equal
      // or greater than port".
      if (typeof p.port !== "number") throw new PolicyInputError(obj, `${f}.endPort`, "needs a numeric port");
      if (p.endPort < p.port)
        throw new PolicyInputError(obj, `${f}.endPort`, `${p.endPort} is less than port ${p.port}`);
    }
    if (typeof p.port === "string") return { protocol: p.protocol, name: p.port };
    if (typeof p.port === "number") {
      return {
        protocol: p.protocol,
        port: p.port,
        ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
      };
    }
    // "If this field is not provided, this matches all port names and numbers."
    return { protocol: p.protocol };
  });
}

export function fromNetworkPolicy(o: NetworkPolicyObj): Policy {
  const namespace = o.metadata.namespace ?? "default";
  const id = `NetworkPolicy ${namespace}/${o.metadata.name}`;
  const s = o.spec;
  // "If this field is not specified, it will default based on the existence of
  // ingress or egress rules; policies that contain an egress section are
  // assumed to affect egress, and all policies (whether or not they contain an
  // ingress section) are assumed to affect ingress."
  const types = s.policyTypes ?? ["Ingress", ...(s.egress != null ? (["Egress"] as const) : [])];
  const rules = (dir: "ingress" | "egress"): Rule[] => {
    const list = s[dir] ?? [];
    return list.map((r, i): Rule => {
      const peerList = dir === "ingress" ? (r as { from?: unknown }).from : (r as { to?: unknown }).to;
      const peerField = `spec.${dir}[${i}].${dir === "ingress" ? "from" : "to"}`;
      // "If this field is empty or missing, this rule matches all sources/destinations."
      const peers =
        Array.isArray(peerList) && peerList.length > 0
          ? npPeers(id, peerField, namespace, peerList as never)
          : null;
      // "If this field is empty or missing, this rule matches all ports."
      const ports =
        r.ports != null && r.ports.length > 0 ? npPorts(id, `spec.${dir}[${i}].ports`, r.ports) : null;
      return { index: i, action: "Allow", peers, ports };
    });
  };
  return {
    tier: "networkpolicy",
    kind: "NetworkPolicy",
    id,
    name: o.metadata.name,
    namespace,
    priority: 0,
    subject: { namespaces: { kind: "same", namespace }, pods: s.podSelector },
    ingress: types.includes("Ingress") ? rules("ingress") : null,
    egress: types.includes("Egress") ? rules("egress") : null,
    log: logFlag(o.metadata.annotations),
  };
}

// ------------------------------------------------------------ admin policy APIs

type AnyAdminSubject = AdminNetworkPolicyObj["spec"]["subject"];
type AnyAdminPeer = {
  namespaces?: LabelSelector | undefined;
  pods?: { namespaceSelector: LabelSelector; podSelector: LabelSelector } | undefined;
  nodes?: LabelSelector | undefined;
  networks?: string[] | undefined;
  domainNames?: string[] | undefined;
};

function adminSubject(obj: string, s: AnyAdminSubject): Policy["subject"] {
  if (s.namespaces && !s.pods) return { namespaces: { kind: "selector", selector: s.namespaces }, pods: {} };
  if (s.pods && !s.namespaces) {
    return { namespaces: { kind: "selector", selector: s.pods.namespaceSelector }, pods: s.pods.podSelector };
  }
  throw new PolicyInputError(obj, "spec.subject", "exactly one of namespaces or pods must be set");
}

function adminPeers(obj: string, field: string, peers: readonly AnyAdminPeer[]): Peer[] {
  return peers.map((peer, i): Peer => {
    const f = `${field}[${i}]`;
    const set = (["namespaces", "pods", "nodes", "networks", "domainNames"] as const).filter(
      (k) => peer[k] !== undefined,
    );
    if (set.length !== 1)
      throw new PolicyInputError(obj, f, "exactly one of namespaces, pods, nodes, networks must be set");
    if (peer.namespaces)
      return { kind: "pods", namespaces: { kind: "selector", selector: peer.namespaces }, pods: {} };
    if (peer.pods) {
      return {
        kind: "pods",
        namespaces: { kind: "selector", selector: peer.pods.namespaceSelector },
        pods: peer.pods.podSelector,
      };
    }
    if (peer.nodes) return { kind: "nodes", selector: peer.nodes };
    if (peer.networks) {
      const parsed = peer.networks.map((n, j) => {
        const r = isIPv6(n) ? v6Range(n) : v4Range(n);
        if (!r || !n.includes("/"))
          throw new PolicyInputError(obj, `${f}.networks[${j}]`, `invalid CIDR "${n}"`);
        return r;
      });
      const ranges = parsed.filter((r): r is Range => typeof r.start === "number");
      const ranges6 = parsed.filter((r): r is Range6 => typeof r.start === "bigint");
      return { kind: "networks", cidrs: peer.networks, ranges, ranges6 };
    }
    throw new PolicyInputError(obj, `${f}.domainNames`, "domainNames peers are not supported by Trellis");
  });
}

type AnpPort = NonNullable<NonNullable<AdminNetworkPolicyObj["spec"]["ingress"]>[number]["ports"]>[number];

function anpPorts(obj: string, field: string, ports: readonly AnpPort[] | undefined): PortMatch[] | null {
  if (ports === undefined) return null;
  return ports.map((p, i): PortMatch => {
    const f = `${field}[${i}]`;
    const set = [p.portNumber, p.namedPort, p.portRange].filter((x) => x !== undefined).length;
    if (set !== 1)
      throw new PolicyInputError(obj, f, "exactly one of portNumber, namedPort, portRange must be set");
    if (p.portNumber) return { protocol: p.portNumber.protocol, port: p.portNumber.port };
    if (p.portRange) {
      if (p.portRange.end < p.portRange.start) {
        throw new PolicyInputError(
          obj,
          `${f}.portRange.end`,
          `${p.portRange.end} is less than start ${p.portRange.start}`,
        );
      }
      return { protocol: p.portRange.protocol, port: p.portRange.start, endPort: p.portRange.end };
    }
    return { name: p.namedPort as string };
  });
}

type CnpProto = NonNullable<
  NonNullable<ClusterNetworkPolicyObj["spec"]["ingress"]>[number]["protocols"]
>[number];

function cnpPorts(obj: string, field: string, protos: readonly CnpProto[] | undefined): PortMatch[] | null {
  if (protos === undefined) return null;
  return protos.map((p, i): PortMatch => {
    const f = `${field}[${i}]`;
    const keys = (["tcp", "udp", "sctp", "destinationNamedPort"] as const).filter((k) => p[k] !== undefined);
    if (keys.length !== 1)
      throw new PolicyInputError(obj, f, "exactly one of tcp, udp, sctp, destinationNamedPort must be set");
    if (p.destinationNamedPort !== undefined) return { name: p.destinationNamedPort };
    const key = keys[0] as "tcp" | "udp" | "sctp";
    const protocol = key.toUpperCase() as Protocol;
    const dp = p[key]?.destinationPort;
    if (!dp) return { protocol };
    if ((dp.number === undefined) === (dp.range === undefined)) {
      throw new PolicyInputError(
        obj,
        `${f}.${key}.destinationPort`,
        "exactly one of number or range must be set",
      );
    }
    if (dp.number !== undefined) return { protocol, port: dp.number };
    const r = dp.range as { start: number; end: number };
    if (r.end < r.start)
      throw new PolicyInputError(
        obj,
        `${f}.${key}.destinationPort.range.end`,
        `${r.end} is less than start ${r.start}`,
      );
    return { protocol, port: r.start, endPort: r.end };
  });
}

interface AdminRuleIn {
  name?: string | undefined;
  action: string;
  peers: readonly AnyAdminPeer[];
}

function adminRules(
  obj: string,
  dir: "ingress" | "egress",
  rules: readonly AdminRuleIn[] | undefined,
  ports: (i: number) => PortMatch[] | null,
): Rule[] | null {
  // "CNPs with no ingress rules do not affect ingress traffic."
  if (rules === undefined || rules.length === 0) return null;
  return rules.map((r, i): Rule => {
    const action: Action =
      r.action === "Accept" || r.action === "Allow" ? "Allow" : r.action === "Deny" ? "Deny" : "Pass";
    const peers = adminPeers(obj, `spec.${dir}[${i}].${dir === "ingress" ? "from" : "to"}`, r.peers);
    return { index: i, ...(r.name ? { name: r.name } : {}), action, peers, ports: ports(i) };
  });
}

/** The Policy of an admin kind; they differ in tier, priority and the port field of their rules. */
function adminPolicy(
  o: AdminNetworkPolicyObj | BaselineAdminNetworkPolicyObj | ClusterNetworkPolicyObj,
  tier: Policy["tier"],
  priority: number,
  directions: (id: string) => Pick<Policy, "ingress" | "egress">,
): Policy {
  const id = `${o.kind} ${o.metadata.name}`;
  return {
    tier,
    kind: o.kind,
    id,
    name: o.metadata.name,
    priority,
    subject: adminSubject(id, o.spec.subject),
    ...directions(id),
    log: logFlag(o.metadata.annotations),
  };
}

function fromAdmin(o: AdminNetworkPolicyObj): Policy {
  return adminPolicy(o, "admin", o.spec.priority, (id) => anpDirections(id, o.spec));
}

/** The rule lists of the admin kinds as they come in: peers under `from` / `to`. */
interface AdminSpecIn {
  ingress?:
    readonly { name?: string | undefined; action: string; from: readonly AnyAdminPeer[] }[] | undefined;
  egress?: readonly { name?: string | undefined; action: string; to: readonly AnyAdminPeer[] }[] | undefined;
}

/**
 * Ingress and egress of every admin kind: they differ only in the port field
 * (ANP and BANP `ports`, CNP `protocols`), which `ports` reads for rule i of a direction.
 */
function adminDirections(
  id: string,
  s: AdminSpecIn,
  ports: (dir: "ingress" | "egress", i: number) => PortMatch[] | null,
): Pick<Policy, "ingress" | "egress"> {
  return {
    ingress: adminRules(
      id,
      "ingress",
      s.ingress?.map((r) => ({ name: r.name, action: r.action, peers: r.from })),
      (i) => ports("ingress", i),
    ),
    egress: adminRules(
      id,
      "egress",
      s.egress?.map((r) => ({ name: r.name, action: r.action, peers: r.to })),
      (i) => ports("egress", i),
    ),
  };
}

/** AdminNetworkPolicy and BaselineAdminNetworkPolicy share their rule shapes (from/to, ports). */
function anpDirections(
  id: string,
  s: AdminNetworkPolicyObj["spec"] | BaselineAdminNetworkPolicyObj["spec"],
): Pick<Policy, "ingress" | "egress"> {
  return adminDirections(id, s, (dir, i) => anpPorts(id, `spec.${dir}[${i}].ports`, s[dir]?.[i]?.ports));
}

function fromBaseline(o: BaselineAdminNetworkPolicyObj): Policy {
  // The singleton BANP sorts after every baseline-tier CNP of equal standing.
  return adminPolicy(o, "baseline", 1001, (id) => anpDirections(id, o.spec));
}

function fromCnp(o: ClusterNetworkPolicyObj): Policy {
  const s = o.spec;
  return adminPolicy(o, s.tier === "Admin" ? "admin" : "baseline", s.priority, (id) =>
    adminDirections(id, s, (dir, i) => cnpPorts(id, `spec.${dir}[${i}].protocols`, s[dir]?.[i]?.protocols)),
  );
}

// -------------------------------------------------------------- named ports

/** Named ports that no possible destination pod declares: warned, never rejected. */
function namedPortWarnings(c: Cluster): Warning[] {
  const out: Warning[] = [];
  for (const p of c.policies) {
    for (const dir of ["ingress", "egress"] as const) {
      for (const r of p[dir] ?? []) {
        for (const [i, pm] of (r.ports ?? []).entries()) {
          if (pm.name === undefined) continue;
          const dests =
            dir === "ingress"
              ? subjectPods(c, p)
              : r.peers === null
                ? c.pods
                : r.peers.flatMap((peer) => peerPods(c, peer));
          const found = dests.some((pod) =>
            pod.ports.some(
              (cp) => cp.name === pm.name && (pm.protocol === undefined || cp.protocol === pm.protocol),
            ),
          );
          if (!found) {
            out.push({
              object: p.id,
              field: `spec.${dir}[${r.index}].${p.kind === "ClusterNetworkPolicy" ? "protocols" : "ports"}[${i}]`,
              message: `named port "${pm.name}" matches no container port on the ${dir === "ingress" ? "selected" : "destination"} pods; it matches nothing`,
            });
          }
        }
      }
    }
  }
  return out;
}
