/**
 * **Pure**: the speaker configuration (bgp/config.ts `SpeakerConfigFile`) a
 * node wants, from the cluster's BGP objects and the node's own IPAM state.
 * Recomputed on every change; bgp/reload.ts applies the difference to the
 * running speaker, so an unchanged peer keeps its session.
 *
 * Rules (one test row each in test/desired-config.test.ts):
 * - Settings: BGPConfiguration `default`, overridden field by field by
 *   `node.<name>`; defaults AS 64512, mesh on, port 179, graceful restart on
 *   with 120 s, hold time 90 s. A Node annotation `trellis.dev/bgp-asn` beats
 *   both for that node's AS.
 * - Router ID: the node's IPv4 BGP address (an IPv6-only node: a stable
 *   hash of its name in 240.0.0.0/4).
 * - Mesh on: one session per family to every other node that has an address
 *   of that family (the IPv4 session carries ipv4-unicast, the IPv6 session
 *   ipv6-unicast). Route reflector annotations are ignored. Of two nodes, the
 *   one with the higher address is passive (passiveSide).
 * - Mesh off: route reflectors from the annotation
 *   `trellis.dev/route-reflector-cluster-id` (an IPv4 dotted quad): a
 *   reflector peers with every other node and marks the non-reflectors
 *   route-reflector clients; a non-reflector peers with the reflectors only.
 * - BGPPeers that select this node (`node`, `nodeSelector`, neither = all):
 *   `peerIP` is one session of that address's family; `peerSelector` peers
 *   with each selected other node (both families). An explicit BGPPeer
 *   replaces a mesh session to the same address.
 * - A BGPPeer's `password.secretKeyRef` takes the key from `passwords` (the
 *   caller resolved the Secret, by BGPPeer name); without a non-empty key
 *   there, the BGPPeer's sessions are not configured at all (a problem), never
 *   configured with no or an empty password. `bfd` turns on BFD (300 ms x 3,
 *   or `bfdIntervalMs` x `bfdMultiplier`).
 * - Originate each confirmed affine block as its own prefix (never a pool
 *   aggregate), each borrowed address outside them as a /32 or /128, and the
 *   service CIDRs; communities from `prefixAdvertisements` whose CIDR holds
 *   the prefix (by name from `communities`, or a literal value).
 * - Service host routes (`serviceObjects`): the /32 and /128 of Services
 *   with a Local traffic policy that have a ready endpoint on this node,
 *   inside the service CIDRs (service-routes.ts has the rules); communities
 *   from `prefixAdvertisements` as for any prefix.
 * - Import on every peer starts with a term rejecting exactly this node's
 *   blocks and borrowed addresses (net/README.md: a BGP route for a prefix the
 *   agent blackholes would replace the blackhole), then the peer's
 *   BGPFilters; default accept.
 * - Export: to node peers, the BGPFilters then accept; to `peerIP` peers, the
 *   BGPFilters then only this node's own prefixes (`local`), default reject:
 *   a ToR must not learn node B's block from node A (nor A relay what it
 *   learned over iBGP with itself as next hop).
 */
import { configSchema, type SpeakerConfigFile } from "../../bgp/config.js";
import type { Term } from "../../bgp/policy/schema.js";
import {
  contains,
  formatAddress,
  formatPrefix,
  hostPrefix,
  parseAddress,
  parsePrefix,
  type Prefix,
} from "../../net/address.js";
import { labelsMatch, parseLabelSelector } from "../../net/label-selector.js";
import { PROTO_TRELLIS_BGP, TABLE_MAIN } from "../../net/route-ownership.js";
import {
  isLargeCommunity,
  parsePeerIp,
  type BGPConfiguration,
  type BGPConfigurationSpec,
  type BGPFilter,
  type BGPPeer,
} from "../../crds/bgp.js";
import { filterTerms } from "./filter-compile.js";
import { serviceCidrs, serviceRoutes, type ServiceObjects } from "./service-routes.js";
import { ANNOTATION_BGP_IPV4, ANNOTATION_BGP_IPV6, type BgpAddresses } from "./address-detection.js";

export const ANNOTATION_BGP_ASN = "trellis.dev/bgp-asn";
export const ANNOTATION_RR_CLUSTER_ID = "trellis.dev/route-reflector-cluster-id";
export const DEFAULT_ASN = 64512;
export const DEFAULT_HOLD_TIME = 90;
export const DEFAULT_RESTART_TIME = 120;
/** How often a peer that is down is tried again (BIRD's default is 120 s; a cluster wants minutes less). */
export const CONNECT_RETRY_SECONDS = 5;

export interface NodeFacts {
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** status.addresses InternalIP (the fallback for another node's BGP addresses) */
  internalIPs: readonly string[];
}

export interface DesiredInput {
  nodeName: string;
  nodes: readonly NodeFacts[];
  configurations: readonly BGPConfiguration[];
  peers: readonly BGPPeer[];
  filters: readonly BGPFilter[];
  /** CIDRs of this node's confirmed affine blocks */
  affineBlocks: readonly string[];
  /** addresses this node's pods hold inside other nodes' blocks */
  borrowedAddresses: readonly string[];
  /** this node's chosen BGP addresses (address-detection.ts) */
  addresses: BgpAddresses;
  /** TCP MD5 keys of the BGPPeers with `password`, by BGPPeer name (resolved from their Secrets) */
  passwords?: Readonly<Record<string, string>>;
  /** run `ip` for the FIB in this namespace (tests) */
  fibNetns?: string;
  /** the cluster's Services and EndpointSlices (service-routes.ts); absent = none */
  serviceObjects?: ServiceObjects;
}

export interface DesiredOutput {
  config: SpeakerConfigFile;
  /** things skipped, each with its reason (logged once per change) */
  problems: string[];
}

/** `default` overlaid with `node.<name>`, field by field. */
export function effectiveSettings(
  configurations: readonly BGPConfiguration[],
  nodeName: string,
): BGPConfigurationSpec {
  const def = configurations.find((c) => c.metadata.name === "default")?.spec ?? {};
  const own = configurations.find((c) => c.metadata.name === `node.${nodeName}`)?.spec ?? {};
  const out: Record<string, unknown> = { ...def };
  for (const [k, v] of Object.entries(own)) if (v !== undefined) out[k] = v;
  return out as BGPConfigurationSpec;
}

function nodeAsn(n: NodeFacts | undefined, s: BGPConfigurationSpec, problems: string[]): number {
  const a = n?.annotations[ANNOTATION_BGP_ASN];
  if (a !== undefined) {
    const v = Number(a);
    if (/^\d+$/.test(a) && v >= 1 && v <= 4294967295) return v;
    problems.push(`node ${n?.name ?? "?"}: annotation ${ANNOTATION_BGP_ASN} "${a}" is not an AS number`);
  }
  return s.asNumber ?? DEFAULT_ASN;
}

/** Another node's BGP addresses: its annotations, else its InternalIPs. */
export function nodeAddresses(n: NodeFacts): { ipv4?: string; ipv6?: string } {
  const out: { ipv4?: string; ipv6?: string } = {};
  const fam = (a: string): 4 | 6 | undefined => {
    const p = parseAddress(a);
    return typeof p === "string" ? undefined : p.family;
  };
  const v4 = n.annotations[ANNOTATION_BGP_IPV4];
  const v6 = n.annotations[ANNOTATION_BGP_IPV6];
  if (v4 !== undefined && fam(v4) === 4) out.ipv4 = v4;
  else {
    const i = n.internalIPs.find((a) => fam(a) === 4);
    if (i !== undefined) out.ipv4 = i;
  }
  if (v6 !== undefined && fam(v6) === 6) out.ipv6 = v6;
  else {
    const i = n.internalIPs.find((a) => fam(a) === 6);
    if (i !== undefined) out.ipv6 = i;
  }
  return out;
}

function isReflector(n: NodeFacts): boolean {
  return (n.annotations[ANNOTATION_RR_CLUSTER_ID] ?? "") !== "";
}

/**
 * Between two nodes, the one with the higher address waits for the other to
 * connect. Both sides of a node session are our speaker, which (RFC 4271 §8.2.2,
 * Idle) refuses connections while it backs off after repeated failures: two
 * active sides that both failed (a hold timer expiry after a restart) take
 * turns refusing each other's connections, each retry landing in the other's
 * Idle time, and never meet. With one side passive, that side waits in Active
 * once its backoff ends, and the other's next attempt gets through.
 */
export function passiveSide(local: string, remote: string): boolean {
  const a = parseAddress(local);
  const b = parseAddress(remote);
  if (typeof a === "string" || typeof b === "string") return false;
  return a.value > b.value;
}

function hashRouterId(name: string): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  const v = (0xf0000000 | (h & 0x0fffffff)) >>> 0;
  return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join(".");
}

type RawPeer = Record<string, unknown> & { address: string };

export function desiredSpeakerConfig(input: DesiredInput): DesiredOutput {
  const problems: string[] = [];
  const me = input.nodeName;
  const settings = effectiveSettings(input.configurations, me);
  const self = input.nodes.find((n) => n.name === me);
  const asn = nodeAsn(self, settings, problems);
  const myV4 = input.addresses.ipv4?.address;
  const myV6 = input.addresses.ipv6?.address;
  const routerId = myV4 ?? hashRouterId(me);
  const holdTime = settings.holdTime ?? DEFAULT_HOLD_TIME;

  // ---- what this node originates, and what it must never import
  const own: Prefix[] = [];
  for (const c of input.affineBlocks) {
    const p = parsePrefix(c);
    if (typeof p === "string") problems.push(`affine block ${c}: ${p}`);
    else own.push(p);
  }
  const borrowed: Prefix[] = [];
  for (const a of input.borrowedAddresses) {
    const p = parseAddress(a);
    if (typeof p === "string") continue;
    if (own.some((b) => contains(b, p))) continue;
    borrowed.push(hostPrefix(p));
  }
  const ownAndBorrowed = [...own, ...borrowed].sort((a, b) =>
    a.family !== b.family
      ? a.family - b.family
      : a.base < b.base
        ? -1
        : a.base > b.base
          ? 1
          : a.length - b.length,
  );
  const services = [
    ...(settings.serviceClusterIPs ?? []),
    ...(settings.serviceExternalIPs ?? []),
    ...(settings.serviceLoadBalancerIPs ?? []),
  ].map((s) => s.cidr);
  const serviceHosts = serviceHostRoutes(input, settings, problems);
  const named = new Map((settings.communities ?? []).map((c) => [c.name, c.value]));
  const originPrefixes = [...new Set([...ownAndBorrowed.map(formatPrefix), ...services, ...serviceHosts])];
  const originate = originPrefixes.map((prefix) => {
    const p = parsePrefix(prefix);
    const communities: string[] = [];
    const large: string[] = [];
    for (const adv of settings.prefixAdvertisements ?? []) {
      const c = parsePrefix(adv.cidr);
      if (typeof c === "string" || typeof p === "string" || !contains(c, p)) continue;
      for (const ref of adv.communities) {
        const v = named.get(ref) ?? ref;
        if (!/^\d+:\d+(:\d+)?$/.test(v)) {
          problems.push(`prefixAdvertisements ${adv.cidr}: unknown community "${ref}"`);
          continue;
        }
        (isLargeCommunity(v) ? large : communities).push(v);
      }
    }
    return {
      prefix,
      ...(communities.length ? { communities: [...new Set(communities)] } : {}),
      ...(large.length ? { largeCommunities: [...new Set(large)] } : {}),
    };
  });

  const rejectOwn: Term[] =
    ownAndBorrowed.length === 0
      ? []
      : [
          {
            name: "never-import-own-prefixes",
            match: {
              prefixes: ownAndBorrowed.map((p) => ({ prefix: formatPrefix(p), ge: p.length, le: p.length })),
            },
            action: "reject",
          },
        ];
  const importFor = (filters: readonly string[], who: string): unknown => {
    const f = filterTerms(filters, input.filters, "import");
    for (const m of f.missing) problems.push(`peer ${who}: BGPFilter ${m} not found`);
    const terms = [...rejectOwn, ...f.terms];
    return terms.length === 0 ? "accept" : { terms, default: "accept" };
  };
  const exportFor = (filters: readonly string[], who: string, external: boolean): unknown => {
    const f = filterTerms(filters, input.filters, "export");
    for (const m of f.missing) problems.push(`peer ${who}: BGPFilter ${m} not found`);
    if (!external) return f.terms.length === 0 ? undefined : { terms: f.terms, default: "accept" };
    return {
      terms: [...f.terms, { name: "own-prefixes", match: { local: true }, action: "accept" }],
      default: "reject",
    };
  };

  // ---- node-to-node sessions
  const peers = new Map<string, RawPeer>();
  const nodePeer = (
    n: NodeFacts,
    opts: { rrClient?: boolean; filters?: string[]; extra?: Record<string, unknown> },
  ): void => {
    const their = nodeAddresses(n);
    const theirSettings = effectiveSettings(input.configurations, n.name);
    const theirAsn = nodeAsn(n, theirSettings, problems);
    const port = theirSettings.listenPort ?? 179;
    for (const [addr, local, family] of [
      [their.ipv4, myV4, "ipv4-unicast"],
      [their.ipv6, myV6, "ipv6-unicast"],
    ] as const) {
      if (addr === undefined || local === undefined || addr === local) continue;
      const p: RawPeer = {
        address: addr,
        asn: theirAsn,
        port,
        localAddress: local,
        families: [family],
        // Of two agents, the one with the higher address only listens (see passiveSide).
        ...(passiveSide(local, addr) ? { passive: true } : {}),
        description: `node ${n.name}`,
        import: importFor(opts.filters ?? [], addr),
        ...(opts.rrClient === true ? { routeReflectorClient: true } : {}),
        ...(opts.extra ?? {}),
      };
      const exp = exportFor(opts.filters ?? [], addr, false);
      if (exp !== undefined) p["export"] = exp;
      peers.set(addr, p);
    }
  };
  const others = input.nodes.filter((n) => n.name !== me).sort((a, b) => (a.name < b.name ? -1 : 1));
  let clusterId: string | undefined;
  if (settings.nodeToNodeMeshEnabled ?? true) {
    for (const n of others) nodePeer(n, {});
  } else if (self !== undefined && isReflector(self)) {
    const id = self.annotations[ANNOTATION_RR_CLUSTER_ID] ?? "";
    const p = parseAddress(id);
    if (typeof p === "string" || p.family !== 4)
      problems.push(
        `annotation ${ANNOTATION_RR_CLUSTER_ID} "${id}": must be an IPv4 dotted quad; not a reflector`,
      );
    else {
      clusterId = id;
      for (const n of others) nodePeer(n, { rrClient: !isReflector(n) });
    }
  } else {
    for (const n of others.filter(isReflector)) nodePeer(n, {});
  }

  // ---- BGPPeers selecting this node
  const myLabels = self?.labels ?? {};
  for (const bp of [...input.peers].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    const s = bp.spec;
    if (!peerSelectsNode(bp, me, myLabels)) continue;
    const timers = {
      ...(s.holdTime !== undefined ? { holdTime: s.holdTime } : {}),
      ...(s.keepaliveTime !== undefined ? { keepaliveTime: s.keepaliveTime } : {}),
      ...(s.maxPrefixes !== undefined ? { maxPrefixes: s.maxPrefixes } : {}),
    };
    const security = peerSecurity(bp, input.passwords ?? {});
    if (typeof security === "string") {
      problems.push(`BGPPeer ${bp.metadata.name}: ${security}; its sessions are not configured`);
      continue;
    }
    if (s.peerSelector !== undefined) {
      const sel = parseLabelSelector(s.peerSelector);
      if (typeof sel === "string") continue;
      for (const n of others.filter((o) => labelsMatch(sel, o.labels)))
        nodePeer(n, { filters: s.filters ?? [], extra: { ...timers, ...security } });
      continue;
    }
    if (s.peerIP === undefined || s.asNumber === undefined) continue;
    const ip = parsePeerIp(s.peerIP);
    if (typeof ip === "string") {
      problems.push(`BGPPeer ${bp.metadata.name}: peerIP ${ip}`);
      continue;
    }
    const v6 = ip.ip.includes(":");
    const local = v6 ? myV6 : myV4;
    if (local === undefined) {
      problems.push(`BGPPeer ${bp.metadata.name}: this node has no IPv${v6 ? 6 : 4} BGP address`);
      continue;
    }
    const addr = formatAddressText(ip.ip);
    if (addr === local) continue;
    peers.set(addr, {
      address: addr,
      asn: s.asNumber,
      port: ip.port ?? 179,
      ...((s.sourceAddress ?? "NodeIP") === "NodeIP" ? { localAddress: local } : {}),
      families: [v6 ? "ipv6-unicast" : "ipv4-unicast"],
      description: `BGPPeer ${bp.metadata.name}`,
      import: importFor(s.filters ?? [], addr),
      export: exportFor(s.filters ?? [], addr, true),
      ...timers,
      ...security,
    });
  }

  const gr = settings.gracefulRestart ?? {};
  const raw = {
    asn,
    routerId,
    ...(clusterId !== undefined ? { clusterId } : {}),
    listen: { address: "::", port: settings.listenPort ?? 179 },
    holdTime,
    ...(settings.keepaliveTime !== undefined ? { keepaliveTime: settings.keepaliveTime } : {}),
    connectRetryTime: CONNECT_RETRY_SECONDS,
    // Cluster sessions are cheap to retry: at most 10 s between attempts.
    restartBackoff: { initialMs: 1000, maxMs: 10_000, jitter: 0.25 },
    gracefulRestart: {
      enabled: gr.enabled ?? true,
      restartTime: gr.restartTime ?? DEFAULT_RESTART_TIME,
    },
    fib: {
      enabled: true,
      table: TABLE_MAIN,
      ecmp: true,
      protocol: PROTO_TRELLIS_BGP,
      ...(input.fibNetns !== undefined ? { netns: input.fibNetns } : {}),
    },
    peers: [...peers.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)),
    originate,
  };
  const r = configSchema.safeParse(raw);
  if (r.success) return { config: r.data, problems };
  // Never expected (inputs are validated CRDs); keep the speaker alive with what parses.
  problems.push(...r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  const fallback = configSchema.parse({ ...raw, peers: [], originate: [] });
  return { config: fallback, problems };
}

/** The Service /32s and /128s this node originates (service-routes.ts); its problems added to `problems`. */
function serviceHostRoutes(
  input: DesiredInput,
  settings: BGPConfigurationSpec,
  problems: string[],
): string[] {
  if (input.serviceObjects === undefined) return [];
  const r = serviceRoutes({
    nodeName: input.nodeName,
    cidrs: serviceCidrs(settings),
    ...input.serviceObjects,
  });
  problems.push(...r.problems);
  return r.prefixes;
}

/** Whether a BGPPeer applies to the node of this name and labels (`node`, `nodeSelector`, neither = all). */
export function peerSelectsNode(
  bp: BGPPeer,
  nodeName: string,
  labels: Readonly<Record<string, string>>,
): boolean {
  const s = bp.spec;
  if (s.node !== undefined && s.node !== nodeName) return false;
  if (s.nodeSelector !== undefined) {
    const sel = parseLabelSelector(s.nodeSelector);
    if (typeof sel === "string" || !labelsMatch(sel, labels)) return false;
  }
  return true;
}

/** A BGPPeer's `password` and `bfd` speaker fields, or why it cannot be configured. */
function peerSecurity(
  bp: BGPPeer,
  passwords: Readonly<Record<string, string>>,
): Record<string, unknown> | string {
  const s = bp.spec;
  const out: Record<string, unknown> = {};
  if (s.password !== undefined) {
    const ref = s.password.secretKeyRef;
    const pw = Object.hasOwn(passwords, bp.metadata.name) ? passwords[bp.metadata.name] : undefined;
    if (pw === undefined || pw === "")
      return `no password (key ${ref.key} of Secret ${ref.name} is missing or empty)`;
    if (Buffer.byteLength(pw, "utf8") > 80)
      return `the password in key ${ref.key} of Secret ${ref.name} is longer than 80 bytes`;
    out["password"] = pw;
  }
  if (s.bfd === true) {
    const ms = s.bfdIntervalMs;
    const mult = s.bfdMultiplier;
    out["bfd"] =
      ms === undefined && mult === undefined
        ? true
        : { minTxMs: ms ?? 300, minRxMs: ms ?? 300, multiplier: mult ?? 3 };
  }
  return out;
}

function formatAddressText(ip: string): string {
  const p = parseAddress(ip);
  return typeof p === "string" ? ip : formatAddress(p);
}
