/**
 * Every CRD manifest's OpenAPI schema (crds/manifests, crds/upstream) against
 * its zod counterpart, on the same samples: the valid ones are accepted by
 * both, the invalid ones rejected by both. `zodOnly` lists what the zod schema
 * alone refuses: the rules OpenAPI cannot say (a CIDR's host bits, a block
 * size per family, selector syntax) or that an upstream manifest leaves
 * out (its "permissive subset" preserves unknown fields under spec).
 *
 * The OpenAPI side is the lab API server's own structural-schema code, run as
 * the API server runs it with `fieldValidation=Strict` (kubectl's default):
 * prune, default, validate, and an unknown (pruned) field is an error. The
 * zod side accepts when it parses and keeps every field it was given (zod's
 * non-strict objects drop unknown keys silently, the same as pruning).
 * The root `metadata` is ObjectMeta, validated elsewhere on both sides.
 *
 * Lives in test/ because it reads three rooms: crds/, policy/model and
 * lab/apiserver. To add a CRD: one row in `table`, keyed by its manifest.
 */
import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import type { z } from "zod";
import { blockAffinitySchema, ipamBlockSchema, ipPoolSchema } from "../../crds/ipam.js";
import { tenantSchema } from "../../crds/tenant.js";
import { trellisNodeStatusSchema } from "../../crds/node-status.js";
import { bgpConfigurationSchema, bgpFilterSchema, bgpPeerSchema } from "../../crds/bgp.js";
import {
  applyDefaults,
  prune,
  validateCustomResource,
  type JSONSchemaProps,
} from "../../lab/apiserver/structural-schema.js";
import {
  adminNetworkPolicySchema,
  baselineAdminNetworkPolicySchema,
  clusterNetworkPolicySchema,
} from "../../policy/model/objects.js";

const REPO = new URL("../../../", import.meta.url);
const MANIFEST_DIRS = ["crds/manifests", "crds/upstream"];

type Obj = Record<string, unknown>;
/** [what the sample shows, the spec]; the object around it is built from the manifest. */
type Sample = [string, unknown];

interface Row {
  zod: z.ZodType;
  /** Where the samples go: `spec` (the default), or `status` for a kind that has nothing else. */
  field?: "spec" | "status";
  /** An object without that field is valid (a status is absent until its first write). */
  fieldOptional?: true;
  valid: Sample[];
  invalid: Sample[];
  zodOnly: Sample[];
}

// ------------------------------------------------------------------ the two verdicts

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Why the API server (fieldValidation=Strict) refuses `obj`; [] when it accepts. */
function openApiProblems(schema: JSONSchemaProps, obj: Obj): string[] {
  const copy = structuredClone(obj);
  const unknown = prune(schema, copy).map((p) => `${p}: unknown field`);
  applyDefaults(schema, copy);
  return [...unknown, ...validateCustomResource(schema, copy).map((e) => `${e.field}: ${e.message}`)];
}

/** Paths present in `input` but gone from zod's output: fields zod stripped as unknown. */
function dropped(input: unknown, output: unknown, path: string): string[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((v, i) => dropped(v, output[i], `${path}[${i}]`));
  }
  if (isObject(input) && isObject(output)) {
    return Object.keys(input).flatMap((k) => {
      const at = path === "" ? k : `${path}.${k}`;
      return k in output ? dropped(input[k], output[k], at) : [at];
    });
  }
  return [];
}

/** Why the zod schema refuses `obj`; [] when it accepts and keeps every field. */
function zodProblems(schema: z.ZodType, obj: Obj): string[] {
  const r = schema.safeParse(obj);
  if (!r.success) return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  const { metadata: _in, ...input } = obj;
  const { metadata: _out, ...output } = r.data as Obj;
  return dropped(input, output, "").map((p) => `${p}: unknown field (stripped)`);
}

// ------------------------------------------------------------------ samples

const long = (n: number): string => "x".repeat(n);
const selector = {
  matchLabels: { team: "a" },
  matchExpressions: [
    { key: "tier", operator: "In", values: ["web", "db"] },
    { key: "legacy", operator: "DoesNotExist" },
  ],
};

const ipPool: Row = {
  zod: ipPoolSchema,
  valid: [
    ["a minimal IPv4 pool", { cidr: "10.244.0.0/16" }],
    ["an IPv6 pool with its block size", { cidr: "fd00:244::/56", blockSize: 122 }],
    ["the smallest IPv4 block size", { cidr: "10.0.0.0/8", blockSize: 20 }],
    ["a short IPv6 pool", { cidr: "fd00::/8" }],
    ["the largest IPv6 block size", { cidr: "fd00::/64", blockSize: 128 }],
    [
      "every field",
      {
        cidr: "10.0.0.0/8",
        blockSize: 26,
        disabled: false,
        nodeSelector: "zone == a",
        namespaceSelector: "",
        natOutgoing: true,
        strictAffinity: true,
      },
    ],
  ],
  invalid: [
    ["no cidr", {}],
    ["a cidr that is a number", { cidr: 10 }],
    ["a cidr without a prefix length", { cidr: "10.244.0.0" }],
    ["a cidr longer than 43 characters", { cidr: `${long(41)}/16` }],
    ["a block size that is a string", { cidr: "10.0.0.0/8", blockSize: "26" }],
    ["a block size below 20", { cidr: "10.0.0.0/8", blockSize: 19 }],
    ["a block size above 128", { cidr: "fd00::/64", blockSize: 129 }],
    ["a block size that is not an integer", { cidr: "10.0.0.0/8", blockSize: 26.5 }],
    ["disabled as a string", { cidr: "10.0.0.0/8", disabled: "yes" }],
    ["natOutgoing as a string", { cidr: "10.0.0.0/8", natOutgoing: "true" }],
    ["a node selector that is a number", { cidr: "10.0.0.0/8", nodeSelector: 5 }],
    ["an unknown field in spec", { cidr: "10.0.0.0/8", blokSize: 26 }],
  ],
  zodOnly: [
    ["host bits set in the cidr", { cidr: "10.244.0.1/16" }],
    ["an address that is not one", { cidr: "999.0.0.0/8" }],
    ["a prefix longer than the family", { cidr: "10.0.0.0/33" }],
    ["an IPv6 block size for an IPv4 pool", { cidr: "10.0.0.0/8", blockSize: 120 }],
    ["an IPv4 block size for an IPv6 pool", { cidr: "fd00::/64", blockSize: 64 }],
    ["a block larger than the pool", { cidr: "10.0.0.0/28", blockSize: 26 }],
    ["a selector that does not parse", { cidr: "10.0.0.0/8", nodeSelector: "a in b" }],
  ],
};

const allocation = {
  ordinal: 0,
  handle: "c0ffee.eth0",
  attributes: {
    namespace: "default",
    pod: "p",
    containerID: "c0ffee",
    ifname: "eth0",
    node: "n1",
    timestamp: "2026-01-01T00:00:00Z",
  },
};
const block = { cidr: "10.244.0.64/26", pool: "default-v4", allocations: [] };

const ipamBlock: Row = {
  zod: ipamBlockSchema,
  valid: [
    ["an empty block", block],
    ["an IPv6 block", { cidr: "fd00:244::40/122", pool: "default-v6", allocations: [] }],
    [
      "every field, ordinals at both ends",
      {
        ...block,
        affinity: "host:n1",
        strictAffinity: true,
        allocations: [allocation, { ordinal: 4095, handle: "x.eth0" }],
      },
    ],
  ],
  invalid: [
    ["no cidr", { pool: "p", allocations: [] }],
    ["no pool", { cidr: "10.244.0.64/26", allocations: [] }],
    ["no allocations", { cidr: "10.244.0.64/26", pool: "p" }],
    ["allocations that are not a list", { ...block, allocations: {} }],
    [
      "more allocations than a block holds",
      { ...block, allocations: Array(4097).fill({ ordinal: 0, handle: "h" }) },
    ],
    ["a pool name that is a number", { ...block, pool: 1 }],
    ["strictAffinity as a string", { ...block, strictAffinity: "true" }],
    ["a negative ordinal", { ...block, allocations: [{ ordinal: -1, handle: "h" }] }],
    ["an ordinal past 4095", { ...block, allocations: [{ ordinal: 4096, handle: "h" }] }],
    ["an ordinal that is not an integer", { ...block, allocations: [{ ordinal: 1.5, handle: "h" }] }],
    ["an ordinal that is a string", { ...block, allocations: [{ ordinal: "1", handle: "h" }] }],
    ["a handle longer than 320 characters", { ...block, allocations: [{ ordinal: 0, handle: long(321) }] }],
    ["an allocation without a handle", { ...block, allocations: [{ ordinal: 1 }] }],
    ["an allocation without an ordinal", { ...block, allocations: [{ handle: "h" }] }],
    ["an attribute that is a number", { ...block, allocations: [{ ...allocation, attributes: { pod: 1 } }] }],
    ["an unknown field in spec", { ...block, owner: "n1" }],
    ["an unknown field in an allocation", { ...block, allocations: [{ ...allocation, extra: 1 }] }],
    ["an unknown attribute", { ...block, allocations: [{ ...allocation, attributes: { color: "red" } }] }],
  ],
  zodOnly: [
    ["host bits set in the cidr", { ...block, cidr: "10.244.0.65/26" }],
    ["an empty handle", { ...block, allocations: [{ ordinal: 0, handle: "" }] }],
  ],
};

const affinity = { node: "n1", cidr: "10.244.0.64/26", state: "confirmed" };
const blockAffinity: Row = {
  zod: blockAffinitySchema,
  valid: [
    ["a pending affinity", { ...affinity, state: "pending" }],
    ["a confirmed affinity", affinity],
    ["an affinity pending deletion", { ...affinity, state: "pendingDeletion" }],
    ["an IPv6 block", { ...affinity, cidr: "fd00:244::40/122" }],
  ],
  invalid: [
    ["no node", { cidr: affinity.cidr, state: "pending" }],
    ["no cidr", { node: "n1", state: "pending" }],
    ["no state", { node: "n1", cidr: affinity.cidr }],
    ["a state not in the enum", { ...affinity, state: "Confirmed" }],
    ["a node that is a number", { ...affinity, node: 1 }],
    ["a cidr longer than 43 characters", { ...affinity, cidr: `${long(41)}/26` }],
    ["an unknown field in spec", { ...affinity, pool: "p" }],
  ],
  zodOnly: [
    ["an empty node", { ...affinity, node: "" }],
    ["a cidr that is not one", { ...affinity, cidr: "10.244.0.64" }],
  ],
};

const tenant: Row = {
  zod: tenantSchema,
  valid: [
    ["only a namespace selector (isolation defaults)", { namespaceSelector: {} }],
    ["Baseline isolation with a full selector", { namespaceSelector: selector, isolation: "Baseline" }],
    [
      "None isolation with every allow peer",
      {
        namespaceSelector: { matchLabels: { tenant: "a" } },
        isolation: "None",
        allow: { tenants: ["b"], namespaces: ["kube-system"], namespaceSelector: selector },
      },
    ],
    [
      "pools and communities (standard, large, by name)",
      {
        namespaceSelector: {},
        ipPools: ["tenant-a-v4", "tenant-a.v6"],
        bgp: { communities: ["65001:100", "65001:0:7", "tenant-a"] },
      },
    ],
    ["an empty bgp section", { namespaceSelector: {}, bgp: {} }],
  ],
  invalid: [
    ["no namespace selector", { isolation: "Strict" }],
    ["an isolation not in the enum", { namespaceSelector: {}, isolation: "strict" }],
    [
      "a selector operator not in the enum",
      { namespaceSelector: { matchExpressions: [{ key: "a", operator: "Equals" }] } },
    ],
    ["an expression without a key", { namespaceSelector: { matchExpressions: [{ operator: "Exists" }] } }],
    ["an expression without an operator", { namespaceSelector: { matchExpressions: [{ key: "a" }] } }],
    ["a label value that is a number", { namespaceSelector: { matchLabels: { a: 1 } } }],
    [
      "expression values that are not a list",
      { namespaceSelector: { matchExpressions: [{ key: "a", operator: "In", values: "x" }] } },
    ],
    ["allowed tenants that are not a list", { namespaceSelector: {}, allow: { tenants: "b" } }],
    ["an allowed namespace that is a number", { namespaceSelector: {}, allow: { namespaces: [1] } }],
    ["an unknown field in spec", { namespaceSelector: {}, isolate: "None" }],
    ["an unknown field in a selector", { namespaceSelector: { matchFields: {} } }],
    [
      "an unknown field in an expression",
      { namespaceSelector: { matchExpressions: [{ key: "a", operator: "Exists", value: "x" }] } },
    ],
    ["an unknown field in allow", { namespaceSelector: {}, allow: { pods: [] } }],
    ["a pool name that is not an object name", { namespaceSelector: {}, ipPools: ["Pool_A"] }],
    ["a pool listed twice", { namespaceSelector: {}, ipPools: ["a", "a"] }],
    ["pools that are not a list", { namespaceSelector: {}, ipPools: "a" }],
    ["an empty community", { namespaceSelector: {}, bgp: { communities: [""] } }],
    ["a community listed twice", { namespaceSelector: {}, bgp: { communities: ["1:1", "1:1"] } }],
    ["a community that is a number", { namespaceSelector: {}, bgp: { communities: [100] } }],
    ["an unknown field in bgp", { namespaceSelector: {}, bgp: { med: 1 } }],
  ],
  zodOnly: [
    [
      "an empty expression key",
      { namespaceSelector: { matchExpressions: [{ key: "", operator: "Exists" }] } },
    ],
    ["an empty allowed tenant name", { namespaceSelector: {}, allow: { tenants: [""] } }],
    ["an empty allowed namespace name", { namespaceSelector: {}, allow: { namespaces: [""] } }],
    ["a standard community out of range", { namespaceSelector: {}, bgp: { communities: ["65536:1"] } }],
    ["a large community out of range", { namespaceSelector: {}, bgp: { communities: ["1:2:4294967296"] } }],
    ["a community of one number", { namespaceSelector: {}, bgp: { communities: ["100"] } }],
  ],
};

const at = "2026-01-01T00:00:00Z";
const nodeStatus = {
  ready: true,
  reason: "ready",
  agentVersion: "0.1.0",
  startedAt: at,
  lastUpdated: at,
  refreshSeconds: 60,
};
const session = { peer: "10.0.0.2", kind: "mesh", state: "Established" };
const trellisNodeStatus: Row = {
  zod: trellisNodeStatusSchema,
  field: "status",
  fieldOptional: true,
  valid: [
    ["the required fields only", nodeStatus],
    ["a date-time with an offset", { ...nodeStatus, lastUpdated: "2026-01-01T01:00:00.5+01:00" }],
    [
      "every field",
      {
        ...nodeStatus,
        ready: false,
        reason: "waiting for the first sync",
        bgp: {
          address4: "10.0.0.1",
          address6: "fd00::1",
          method: "interface",
          asn: 4294967295,
          sessionsEstablished: 1,
          sessions: [
            {
              ...session,
              uptimeSeconds: 5,
              prefixesReceived: 3,
              prefixesAccepted: 2,
              prefixesAdvertised: 1,
            },
            { peer: "10.0.0.3", kind: "external", state: "Active" },
          ],
        },
        routes: { installed: 3, installed4: 2, installed6: 1, local: 4 },
        ipam: { affineBlocks: 1, addressesInUse: 2, poolsRejected: [{ pool: "p", reason: "overlaps q" }] },
        policy: { generation: 7, lastApplyTime: at, lastError: "nft: boom" },
        informers: { rolledBack: [{ informer: "pods", seen: 10, got: 3 }] },
      },
    ],
    ["no sessions", { ...nodeStatus, bgp: { sessionsEstablished: 0, sessions: [] } }],
  ],
  invalid: [
    ["no ready", { ...nodeStatus, ready: undefined }],
    ["ready as a string", { ...nodeStatus, ready: "true" }],
    ["no lastUpdated", { ...nodeStatus, lastUpdated: undefined }],
    ["a lastUpdated that is not a date-time", { ...nodeStatus, lastUpdated: "yesterday" }],
    ["a refresh interval of 0", { ...nodeStatus, refreshSeconds: 0 }],
    [
      "an IPv6 address4",
      { ...nodeStatus, bgp: { address4: "fd00::1", sessionsEstablished: 0, sessions: [] } },
    ],
    [
      "an IPv4 address6",
      { ...nodeStatus, bgp: { address6: "10.0.0.1", sessionsEstablished: 0, sessions: [] } },
    ],
    [
      "an ASN past 32 bits",
      { ...nodeStatus, bgp: { asn: 4294967296, sessionsEstablished: 0, sessions: [] } },
    ],
    ["bgp without sessions", { ...nodeStatus, bgp: { sessionsEstablished: 0 } }],
    [
      "a session kind not in the enum",
      { ...nodeStatus, bgp: { sessionsEstablished: 0, sessions: [{ ...session, kind: "ibgp" }] } },
    ],
    [
      "a session without a peer",
      { ...nodeStatus, bgp: { sessionsEstablished: 0, sessions: [{ kind: "mesh", state: "Idle" }] } },
    ],
    [
      "a negative prefix count",
      { ...nodeStatus, bgp: { sessionsEstablished: 0, sessions: [{ ...session, prefixesReceived: -1 }] } },
    ],
    ["a route count that is not an integer", { ...nodeStatus, routes: { local: 1.5 } }],
    ["ipam without poolsRejected", { ...nodeStatus, ipam: { affineBlocks: 0, addressesInUse: 0 } }],
    ["a policy without a generation", { ...nodeStatus, policy: { lastError: "x" } }],
    [
      "a rolled-back informer without versions",
      { ...nodeStatus, informers: { rolledBack: [{ informer: "pods" }] } },
    ],
    ["an unknown field in status", { ...nodeStatus, colour: "green" }],
    [
      "an unknown field in a session",
      { ...nodeStatus, bgp: { sessionsEstablished: 0, sessions: [{ ...session, x: 1 }] } },
    ],
  ],
  zodOnly: [],
};

const bgpConfiguration: Row = {
  zod: bgpConfigurationSchema,
  valid: [
    ["an empty override", {}],
    [
      "every field",
      {
        asNumber: 64512,
        nodeToNodeMeshEnabled: false,
        listenPort: 1179,
        holdTime: 9,
        keepaliveTime: 3,
        communities: [
          { name: "pods", value: "64512:100" },
          { name: "big", value: "64512:1:2" },
        ],
        prefixAdvertisements: [{ cidr: "10.244.0.0/16", communities: ["pods", "64512:7"] }],
        serviceClusterIPs: [{ cidr: "10.96.0.0/12" }],
        serviceExternalIPs: [{ cidr: "fd00:96::/112" }],
        serviceLoadBalancerIPs: [{ cidr: "192.0.2.0/24" }],
        gracefulRestart: { enabled: true, restartTime: 120 },
        logSeverity: "Info",
      },
    ],
    ["a four-octet AS", { asNumber: 4200000000 }],
  ],
  invalid: [
    ["AS 0", { asNumber: 0 }],
    ["an AS above 32 bits", { asNumber: 4294967296 }],
    ["mesh as a string", { nodeToNodeMeshEnabled: "true" }],
    ["port 0", { listenPort: 0 }],
    ["a community without a value", { communities: [{ name: "x" }] }],
    ["an advertisement without communities", { prefixAdvertisements: [{ cidr: "10.0.0.0/8" }] }],
    ["a service CIDR entry without cidr", { serviceClusterIPs: [{}] }],
    ["restart time above 4095", { gracefulRestart: { restartTime: 4096 } }],
    ["a log severity not in the enum", { logSeverity: "Verbose" }],
    ["an unknown field in spec", { asn: 64512 }],
  ],
  zodOnly: [
    ["a community value that is not one", { communities: [{ name: "x", value: "70000:1" }] }],
    [
      "an advertisement CIDR with host bits",
      { prefixAdvertisements: [{ cidr: "10.0.0.1/8", communities: [] }] },
    ],
    ["a service CIDR that is not one", { serviceClusterIPs: [{ cidr: "10.96.0.0" }] }],
  ],
};

const bgpPeer: Row = {
  zod: bgpPeerSchema,
  valid: [
    ["a global peer", { peerIP: "192.0.2.1", asNumber: 65000 }],
    ["an IPv4 peer with a port", { peerIP: "192.0.2.1:1179", asNumber: 65000, node: "n1" }],
    ["an IPv6 peer with a port", { peerIP: "[fd00::1]:1179", asNumber: 65000 }],
    ["node-to-node by labels", { nodeSelector: "rack == a", peerSelector: "route-reflector == true" }],
    [
      "every field with peerIP",
      {
        peerIP: "fd00::1",
        asNumber: 65000,
        node: "n1",
        holdTime: 9,
        keepaliveTime: 3,
        maxRestartTime: 120,
        sourceAddress: "None",
        filters: ["a", "b"],
        maxPrefixes: 1000,
        reachableBy: "fd00::fe",
        password: { secretKeyRef: { name: "bgp-password", key: "password" } },
        bfd: true,
        bfdIntervalMs: 100,
        bfdMultiplier: 5,
      },
    ],
  ],
  invalid: [
    ["peerIP that is a number", { peerIP: 1, asNumber: 1 }],
    ["AS 0", { peerIP: "192.0.2.1", asNumber: 0 }],
    ["a source address not in the enum", { peerIP: "192.0.2.1", asNumber: 1, sourceAddress: "Any" }],
    ["filters that are not a list", { peerIP: "192.0.2.1", asNumber: 1, filters: "a" }],
    ["maxPrefixes 0", { peerIP: "192.0.2.1", asNumber: 1, maxPrefixes: 0 }],
    ["a negative hold time", { peerIP: "192.0.2.1", asNumber: 1, holdTime: -1 }],
    ["an unknown field in spec", { peerIP: "192.0.2.1", asNumber: 1, md5: "x" }],
    ["a password that is a string", { peerIP: "192.0.2.1", asNumber: 1, password: "x" }],
    ["a password without secretKeyRef", { peerIP: "192.0.2.1", asNumber: 1, password: {} }],
    [
      "a secretKeyRef without key",
      { peerIP: "192.0.2.1", asNumber: 1, password: { secretKeyRef: { name: "s" } } },
    ],
    [
      "a secretKeyRef with an empty name",
      { peerIP: "192.0.2.1", asNumber: 1, password: { secretKeyRef: { name: "", key: "k" } } },
    ],
    ["bfd as a string", { peerIP: "192.0.2.1", asNumber: 1, bfd: "true" }],
    ["a BFD interval below 10 ms", { peerIP: "192.0.2.1", asNumber: 1, bfdIntervalMs: 9 }],
    ["a BFD multiplier of 0", { peerIP: "192.0.2.1", asNumber: 1, bfdMultiplier: 0 }],
  ],
  zodOnly: [
    ["neither peerIP nor peerSelector", { asNumber: 65000 }],
    ["peerIP without asNumber", { peerIP: "192.0.2.1" }],
    ["peerIP and peerSelector", { peerIP: "192.0.2.1", asNumber: 1, peerSelector: "a == b" }],
    ["node and nodeSelector", { peerIP: "192.0.2.1", asNumber: 1, node: "n", nodeSelector: "a == b" }],
    ["a peerIP that is not an address", { peerIP: "peer.example", asNumber: 1 }],
    ["an IPv6 peerIP with a port but no brackets", { peerIP: "fd00::1:179x", asNumber: 1 }],
    ["a selector that does not parse", { peerSelector: "a in b" }],
    ["reachableBy that is not an address", { peerIP: "192.0.2.1", asNumber: 1, reachableBy: "gw" }],
  ],
};

const bgpFilter: Row = {
  zod: bgpFilterSchema,
  valid: [
    ["no rules", {}],
    [
      "every field",
      {
        exportV4: [
          {
            cidr: "10.244.0.0/16",
            matchOperator: "In",
            prefixLength: { min: 24, max: 32 },
            action: "Accept",
          },
          { action: "Reject" },
        ],
        importV4: [{ cidr: "10.0.0.0/8", matchOperator: "NotIn", source: "RemotePeers", action: "Reject" }],
        exportV6: [{ cidr: "fd00::/8", matchOperator: "Equal", action: "Accept" }],
        importV6: [{ action: "Accept" }],
      },
    ],
  ],
  invalid: [
    ["a rule without action", { exportV4: [{ cidr: "10.0.0.0/8", matchOperator: "In" }] }],
    ["an action not in the enum", { exportV4: [{ action: "accept" }] }],
    [
      "an operator not in the enum",
      { exportV4: [{ cidr: "10.0.0.0/8", matchOperator: "Within", action: "Accept" }] },
    ],
    ["a source not in the enum", { importV6: [{ source: "Local", action: "Accept" }] }],
    ["a prefix length above 128", { importV6: [{ prefixLength: { max: 129 }, action: "Accept" }] }],
    ["rules that are not a list", { exportV4: { action: "Accept" } }],
    ["an unknown field in a rule", { exportV4: [{ action: "Accept", communities: [] }] }],
  ],
  zodOnly: [
    ["cidr without matchOperator", { exportV4: [{ cidr: "10.0.0.0/8", action: "Accept" }] }],
    [
      "an IPv6 cidr in a v4 list",
      { exportV4: [{ cidr: "fd00::/8", matchOperator: "In", action: "Accept" }] },
    ],
    [
      "an IPv4 cidr in a v6 list",
      { importV6: [{ cidr: "10.0.0.0/8", matchOperator: "In", action: "Accept" }] },
    ],
    ["min above max", { importV4: [{ prefixLength: { min: 28, max: 24 }, action: "Accept" }] }],
    ["a cidr with host bits", { importV4: [{ cidr: "10.0.0.1/8", matchOperator: "In", action: "Accept" }] }],
  ],
};

/** AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy share their shape. */
function networkPolicyApi(o: {
  actions: string[];
  badAction: string;
  priority: boolean;
  tier: boolean;
  max: number;
}): Omit<Row, "zod"> {
  const base: Obj = { subject: { namespaces: {} } };
  if (o.priority) base["priority"] = 10;
  if (o.tier) base["tier"] = "Admin";
  const [allow = "", deny = ""] = o.actions;
  const rule = { action: allow, from: [{ namespaces: {} }] };
  return {
    valid: [
      ["a subject and nothing else", base],
      ["a pod subject", { ...base, subject: { pods: { namespaceSelector: {}, podSelector: selector } } }],
      [
        "an ingress and an egress rule",
        {
          ...base,
          ingress: [{ name: "in", ...rule }],
          egress: [{ name: "out", action: deny, to: [{ namespaces: { matchLabels: { a: "b" } } }] }],
        },
      ],
      ...(o.priority
        ? ([
            ["priority 0", { ...base, priority: 0 }],
            ["priority 1000", { ...base, priority: 1000 }],
          ] as Sample[])
        : []),
      ["as many rules as allowed", { ...base, ingress: Array(o.max).fill(rule) }],
    ],
    invalid: [
      ["no subject", { ...base, subject: undefined }],
      ["an empty subject", { ...base, subject: {} }],
      [
        "a subject of two kinds",
        { ...base, subject: { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } } },
      ],
      [
        "more peers than allowed",
        { ...base, ingress: [{ ...rule, from: Array(o.max + 1).fill(rule.from[0]) }] },
      ],
      ["a subject that is not an object", { ...base, subject: "all" }],
      ...(o.priority
        ? ([
            ["no priority", { ...base, priority: undefined }],
            ["a negative priority", { ...base, priority: -1 }],
            ["a priority above 1000", { ...base, priority: 1001 }],
            ["a priority that is a string", { ...base, priority: "10" }],
            ["a priority that is not an integer", { ...base, priority: 1.5 }],
          ] as Sample[])
        : []),
      ...(o.tier
        ? ([
            ["no tier", { ...base, tier: undefined }],
            ["a tier not in the enum", { ...base, tier: "Developer" }],
          ] as Sample[])
        : []),
      ["an action not in the enum", { ...base, ingress: [{ ...rule, action: o.badAction }] }],
      ["a rule without an action", { ...base, ingress: [{ from: rule.from }] }],
      ["an ingress rule without peers", { ...base, ingress: [{ action: allow }] }],
      ["an ingress rule with an empty peer list", { ...base, ingress: [{ action: allow, from: [] }] }],
      ["an egress rule without peers", { ...base, egress: [{ action: allow }] }],
      ["a rule name over 100 characters", { ...base, ingress: [{ ...rule, name: long(101) }] }],
      ["more rules than allowed", { ...base, ingress: Array(o.max + 1).fill(rule) }],
      ["rules that are not a list", { ...base, ingress: rule }],
    ],
    zodOnly: [
      ["an unknown field in spec (preserved by the permissive manifest)", { ...base, extra: 1 }],
      ["an unknown subject kind", { ...base, subject: { nodes: {} } }],
      ["a peer of an unknown kind", { ...base, ingress: [{ ...rule, from: [{ everyone: {} }] }] }],
      ["an unknown field in a rule", { ...base, ingress: [{ ...rule, comment: "x" }] }],
    ],
  };
}

/** One row per manifest, keyed by its path from the repository root. */
const table: Record<string, Row> = {
  "crds/manifests/ippools.trellis.dev.yaml": ipPool,
  "crds/manifests/ipamblocks.trellis.dev.yaml": ipamBlock,
  "crds/manifests/blockaffinities.trellis.dev.yaml": blockAffinity,
  "crds/manifests/tenants.trellis.dev.yaml": tenant,
  "crds/manifests/trellisnodestatuses.trellis.dev.yaml": trellisNodeStatus,
  "crds/manifests/bgpconfigurations.trellis.dev.yaml": bgpConfiguration,
  "crds/manifests/bgppeers.trellis.dev.yaml": bgpPeer,
  "crds/manifests/bgpfilters.trellis.dev.yaml": bgpFilter,
  "crds/upstream/policy.networking.k8s.io_adminnetworkpolicies.yaml": {
    zod: adminNetworkPolicySchema,
    ...networkPolicyApi({
      actions: ["Allow", "Deny", "Pass"],
      badAction: "Accept",
      priority: true,
      tier: false,
      max: 100,
    }),
  },
  "crds/upstream/policy.networking.k8s.io_baselineadminnetworkpolicies.yaml": {
    zod: baselineAdminNetworkPolicySchema,
    ...networkPolicyApi({
      actions: ["Allow", "Deny"],
      badAction: "Pass",
      priority: false,
      tier: false,
      max: 100,
    }),
  },
  "crds/upstream/policy.networking.k8s.io_clusternetworkpolicies.yaml": {
    zod: clusterNetworkPolicySchema,
    ...networkPolicyApi({
      actions: ["Accept", "Deny", "Pass"],
      badAction: "Allow",
      priority: true,
      tier: true,
      max: 25,
    }),
  },
};

// ------------------------------------------------------------------ the tests

interface Crd {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; served: boolean; schema?: { openAPIV3Schema?: JSONSchemaProps } }[];
  };
}

function readManifest(path: string): Crd {
  return parse(readFileSync(new URL(path, REPO), "utf8")) as Crd;
}

/** The whole object around a spec (or status); `undefined` fields are left out, as in JSON. */
function wrap(crd: Crd, version: string, spec: unknown, field: "spec" | "status" = "spec"): Obj {
  const o: Obj = {
    apiVersion: `${crd.spec.group}/${version}`,
    kind: crd.spec.names.kind,
    metadata: { name: "sample" },
    [field]: spec,
  };
  return JSON.parse(JSON.stringify(o)) as Obj;
}

describe("CRD schema equivalence table", () => {
  it("has a row for every manifest in crds/manifests and crds/upstream", () => {
    const manifests = MANIFEST_DIRS.flatMap((dir) =>
      readdirSync(new URL(`${dir}/`, REPO))
        .filter((n) => n.endsWith(".yaml") || n.endsWith(".yml"))
        .map((n) => `${dir}/${n}`),
    );
    expect(manifests.filter((m) => !(m in table))).toEqual([]);
    expect(Object.keys(table).filter((m) => !manifests.includes(m))).toEqual([]);
  });
});

describe.each(Object.entries(table))("%s", (path, row) => {
  const crd = readManifest(path);
  const versions = crd.spec.versions.filter((v) => v.served);

  describe.each(versions.map((v) => [v.name, v] as const))("%s", (version, v) => {
    const schema = v.schema?.openAPIV3Schema as JSONSchemaProps;
    const verdicts = (spec: unknown): { openapi: string[]; zod: string[] } => {
      const obj = wrap(crd, version, spec, row.field);
      return { openapi: openApiProblems(schema, obj), zod: zodProblems(row.zod, obj) };
    };

    it("has an OpenAPI schema", () => {
      expect(schema).toMatchObject({ type: "object" });
    });

    it.each(row.valid)("both accept %s", (_name, spec) => {
      expect(verdicts(spec)).toEqual({ openapi: [], zod: [] });
    });

    it.each(row.invalid)("both reject %s", (_name, spec) => {
      const v = verdicts(spec);
      expect({ openapi: v.openapi.length > 0, zod: v.zod.length > 0 }).toEqual({ openapi: true, zod: true });
    });

    it("both reject an unknown top-level field", () => {
      const obj = { ...wrap(crd, version, row.valid[0]?.[1], row.field), extra: 1 };
      expect(openApiProblems(schema, obj)).toEqual(["extra: unknown field"]);
      expect(zodProblems(row.zod, obj)).toEqual(["extra: unknown field (stripped)"]);
    });

    const field = row.field ?? "spec";
    if (row.fieldOptional === true) {
      it(`both accept an object without ${field}`, () => {
        const { [field]: _s, ...obj } = wrap(crd, version, {}, field);
        expect({ openapi: openApiProblems(schema, obj), zod: zodProblems(row.zod, obj) }).toEqual({
          openapi: [],
          zod: [],
        });
      });
    } else {
      it(`both reject an object without ${field}`, () => {
        const { [field]: _s, ...obj } = wrap(crd, version, {}, field);
        expect(openApiProblems(schema, obj).length).toBeGreaterThan(0);
        expect(zodProblems(row.zod, obj).length).toBeGreaterThan(0);
      });
    }

    if (row.zodOnly.length > 0) {
      it.each(row.zodOnly)("only zod rejects %s", (_name, spec) => {
        const v = verdicts(spec);
        expect({ openapi: v.openapi, zod: v.zod.length > 0 }).toEqual({ openapi: [], zod: true });
      });
    }
  });
});
