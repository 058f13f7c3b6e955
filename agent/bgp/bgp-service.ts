/**
 * The BGP shell of trellis-node: the `bgp/` Speaker runs in-process
 * (bgp/speaker-host.ts). Informers for BGPConfiguration, BGPPeer and BGPFilter
 * (optional kinds: absent = none), the agent's Node informer and its IPAM
 * state feed the pure desired-config.ts; every change schedules one
 * recompute (coalesced, COALESCE_MS), and the new config is applied as a diff
 * to the running speaker: unchanged sessions stay up. A change of AS, router
 * ID or listen port restarts the speaker (logged). Learned routes go into the
 * main table with proto 202 and ECMP, next hops resolved recursively through
 * the underlay (next-hop-resolution.ts). Graceful restart is on by default:
 * after a kill -9 the kernel keeps our routes and the peers keep ours as stale;
 * the next agent finds its routes, restarts with the R bit and sweeps only
 * after End-of-RIB. The speaker starts only after the agent's first sync, so
 * its first End-of-RIB already carries every block.
 *
 * TCP MD5: the Secrets named by the `password.secretKeyRef` of the BGPPeers
 * that select this node, and only those, are read by name (GET, never list or
 * watch) from `secretNamespace`, before the first sync, after every BGPPeer
 * change and on every resync. A Secret or key that is missing (or unreadable)
 * is logged, and desired-config.ts leaves that BGPPeer's sessions out.
 *
 * Services: Services and EndpointSlices are watched cluster-wide
 * (k8s/service-informers.ts) and handed to desired-config.ts as facts;
 * service-routes.ts decides which /32 and /128 this node originates. The
 * first speaker waits for their first list (at most SERVICE_SYNC_WAIT_MS, so
 * a cluster that refuses them still gets its pod routes), so that its first
 * End-of-RIB after a graceful restart carries the Service routes too.
 *
 * Tenants (optional kind, watched here so that BGP works with policy off)
 * and the pool of every IPAM block feed the tenant communities; the
 * BGPConfiguration's `logSeverity` sets this logger's level at once (absent:
 * the agent's level again); BGPPeer `reachableBy` host routes are kept by
 * peer-routes.ts before the speaker is told about the peer, and join the
 * underlay, so that routes learned from such a peer resolve through them.
 */
import type { KubernetesListObject, KubernetesObject, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { SpeakerConfigFile } from "../../bgp/config.js";
import type { BgpStatusSnapshot } from "../status/bgp-status-source.js";
import type { BgpSessionStatus } from "../../crds/node-status.js";
import { SpeakerHost } from "../../bgp/speaker-host.js";
import type { FibChangeIn } from "../../bgp/fib/index.js";
import {
  BGP_GROUP,
  BGP_VERSION,
  bgpConfigurationSchema,
  bgpFilterSchema,
  bgpPeerSchema,
  type BGPConfiguration,
  type BGPFilter,
  type BGPPeer,
} from "../../crds/bgp.js";
import { tenantSchema, type Tenant } from "../../crds/tenant.js";
import type { ApiGate } from "../k8s/api-gate.js";
import { OptionalInformer } from "../k8s/optional-informer.js";
import { ResilientInformer } from "../k8s/resilient-informer.js";
import { ServiceInformers } from "../k8s/service-informers.js";
import { endpointSliceFacts, serviceFacts, type ServiceObjects } from "./service-routes.js";
import type { KubeClient } from "../k8s/kube-client.js";
import { resourcePath } from "../k8s/kube-request.js";
import {
  parseDetectionMethod,
  selectBgpAddresses,
  type BgpAddresses,
  type DetectionMethod,
} from "./address-detection.js";
import {
  ANNOTATION_RR_CLUSTER_ID,
  desiredSpeakerConfig,
  peerSelectsNode,
  type BlockPool,
  type NodeFacts,
  type PeerHostRoute,
  type SpeakerLogLevel,
} from "./desired-config.js";
import { PeerRoutes } from "./peer-routes.js";
import { readInterfaces, readUnderlayRoutes, sourceFor } from "./kernel-facts.js";
import { formatAddress, parsePrefix } from "../../net/address.js";
import { Coalesced } from "../../net/coalesced.js";
import { resolveNextHop, underlay, type Underlay, type UnderlayRoute } from "./next-hop-resolution.js";
import { serveBgpControl } from "./control-socket.js";
import type { ControlServer } from "../../bgp/control/server.js";

export const COALESCE_MS = 100;

/** The block fields the BGP service reads (pure helpers below). */
interface BlockSpecForBgp {
  spec: {
    cidr: string;
    pool?: string | undefined;
    affinity?: string | undefined;
    state?: string | undefined;
    allocations: { ordinal: number; attributes?: { node?: string | undefined } | undefined }[];
  };
}

/** The ordinals this node's pods hold in a block that is not its own; none in its own (pure). */
function borrowedOrdinals(b: BlockSpecForBgp, nodeName: string): number[] {
  if (b.spec.affinity === `host:${nodeName}`) return [];
  return b.spec.allocations.filter((a) => a.attributes?.node === nodeName).map((a) => a.ordinal);
}

/** Addresses of allocations this node holds in blocks that are not its own (pure). */
export function borrowedAddresses(blocks: readonly BlockSpecForBgp[], nodeName: string): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    const ordinals = borrowedOrdinals(b, nodeName);
    if (ordinals.length === 0) continue;
    const p = parsePrefix(b.spec.cidr);
    if (typeof p === "string") continue;
    for (const o of ordinals) out.push(formatAddress({ family: p.family, value: p.base + BigInt(o) }));
  }
  return out;
}

/**
 * What the BGP service reads of one IPAM block, as a comparable text: its
 * CIDR and pool (tenant communities), its affinity and claim state (a
 * confirmed block of this node's is advertised, a pending one is not), and
 * the ordinals this node's pods borrow in it. Allocations of pods on other
 * nodes, or on this node inside its own blocks, change nothing BGP
 * advertises, and they are nearly every write a block sees (each ADD and DEL
 * of the cluster): the agent compares this text before and after a block's
 * watch event and recomputes only when it moved.
 */
export function blockBgpFacts(b: BlockSpecForBgp, nodeName: string): string {
  return JSON.stringify([
    b.spec.cidr,
    b.spec.pool ?? "",
    b.spec.affinity ?? "",
    b.spec.state ?? "",
    borrowedOrdinals(b, nodeName),
  ]);
}

/** The first speaker waits this long at most for the first list of Services and EndpointSlices. */
export const SERVICE_SYNC_WAIT_MS = 5000;

/** Safety net: recompute this often even without an event (cheap: a pure function and a no-op diff). */
const RESYNC_MS = 10_000;

export interface BgpServiceOptions {
  nodeName: string;
  client: KubeClient;
  log: Logger;
  addressDetection: string;
  /** Where the Secrets of BGPPeer passwords are (agent config `bgp.secretNamespace`). */
  secretNamespace?: string;
  backoffMinMs: number;
  backoffMaxMs: number;
  gate: ApiGate;
  onRestart: (name: string) => void;
  /** The cluster's Nodes (the agent's informer). */
  nodes: () => NodeFacts[];
  /** CIDRs of this node's confirmed affine blocks. */
  affineBlocks: () => string[];
  /** Addresses this node's pods hold in other nodes' blocks. */
  borrowedAddresses: () => string[];
  /** Where to serve the speaker's control protocol (control-socket.ts); none when absent. */
  controlSocket?: string;
  /** Every known IPAM block's CIDR and pool (tenant communities); absent: none tagged. */
  blockPools?: () => BlockPool[];
}

interface Kind<T> {
  plural: string;
  /**
   * The informer's name (its API gate key, log name and metric label) when
   * not the plural: a kind another part of the agent watches too needs its
   * own, or the gate would take both for one prober.
   */
  informer?: string;
  parse: (o: unknown) => T | undefined;
  items: T[];
}

export class BgpService {
  private readonly method: DetectionMethod;
  private readonly optional: OptionalInformer<KubernetesObject>[] = [];
  private readonly kinds: {
    configurations: Kind<BGPConfiguration>;
    peers: Kind<BGPPeer>;
    filters: Kind<BGPFilter>;
    tenants: Kind<Tenant>;
  };
  private host: SpeakerHost | undefined;
  /** Syncs that read the node's links and computed a desired config (`trellis_bgp_config_computations_total`). */
  private computations = 0;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  /** The syncs: one at a time, one more queued; none repeats once stopped. */
  private readonly syncs = new Coalesced(
    () => this.syncRound(),
    () => !this.stopped,
  );
  private started = false;
  private stopped = false;
  private lastProblems = new Set<string>();
  /** BGP kinds listed once (or found absent): the speaker starts only with all three known. */
  private readonly listed = new Set<string>();
  private underlay: Underlay = { routes: [] };
  /** The underlay as last read from the kernel (not ours), before the reachableBy routes join it. */
  private kernelUnderlay: UnderlayRoute[] = [];
  private peerRouteList: readonly PeerHostRoute[] = [];
  private readonly peerRoutes: PeerRoutes;
  /** The agent's level for this logger, restored when `logSeverity` goes. */
  private readonly baseLogLevel: string;
  private logLevel: SpeakerLogLevel | undefined;
  /** BGPPeer passwords by BGPPeer name, as last read from their Secrets. */
  private passwords: Record<string, string> = {};
  /** Re-read the Secrets before the next sync (a BGPPeer changed, or the resync). */
  private passwordsStale = true;
  private lastSecretProblems = "";
  private control: ControlServer | undefined;
  /** The node's BGP addresses and how they were chosen (status). */
  addresses: BgpAddresses = {};
  /** Services and EndpointSlices (per-Service advertisement). */
  private serviceInformers: ServiceInformers | undefined;
  private startedAt = 0;

  constructor(private readonly o: BgpServiceOptions) {
    const m = parseDetectionMethod(o.addressDetection);
    if (typeof m === "string") throw new Error(`bgp.addressDetection: ${m}`);
    this.method = m;
    this.baseLogLevel = o.log.level;
    this.peerRoutes = new PeerRoutes(o.log);
    const parser =
      <T>(schema: { safeParse: (x: unknown) => { success: boolean; data?: T } }, what: string) =>
      (x: unknown): T | undefined => {
        const r = schema.safeParse(x);
        if (!r.success) {
          const name = (x as { metadata?: { name?: string } }).metadata?.name;
          o.log.warn({ kind: what, name }, "ignoring an invalid object");
        }
        return r.data;
      };
    this.kinds = {
      configurations: {
        plural: "bgpconfigurations",
        parse: parser(bgpConfigurationSchema, "BGPConfiguration"),
        items: [],
      },
      peers: { plural: "bgppeers", parse: parser(bgpPeerSchema, "BGPPeer"), items: [] },
      filters: { plural: "bgpfilters", parse: parser(bgpFilterSchema, "BGPFilter"), items: [] },
      tenants: {
        plural: "tenants",
        // The policy service watches Tenants too (when policy is on).
        informer: "bgp-tenants",
        // List items come without `kind` (the API server puts it on the list only).
        parse: (x) => parser(tenantSchema, "Tenant")({ ...(x as object), kind: "Tenant" }),
        items: [],
      },
    };
  }

  /** Starts the informers; the speaker itself starts at start() after the agent's first sync. */
  watch(): void {
    for (const kind of Object.values(this.kinds) as Kind<unknown>[]) {
      const path = resourcePath({ group: BGP_GROUP, version: BGP_VERSION, plural: kind.plural });
      const list = (): Promise<KubernetesListObject<KubernetesObject>> => this.o.client.get(path);
      let inf: ResilientInformer<KubernetesObject> | undefined;
      const refresh = (): void => {
        if (inf === undefined) return;
        kind.items = inf
          .list()
          .map((x) => kind.parse({ ...x, apiVersion: `${BGP_GROUP}/${BGP_VERSION}` }))
          .filter((x) => x !== undefined);
        if (kind === (this.kinds.peers as Kind<unknown>)) this.passwordsStale = true;
        this.schedule();
      };
      const opt = new OptionalInformer<KubernetesObject>({
        name: kind.informer ?? kind.plural,
        list,
        make: () => {
          inf = new ResilientInformer<KubernetesObject>({
            name: kind.informer ?? kind.plural,
            client: this.o.client,
            path,
            list,
            log: this.o.log.child({ component: "informer" }),
            backoffMinMs: this.o.backoffMinMs,
            backoffMaxMs: this.o.backoffMaxMs,
            onRestart: this.o.onRestart,
            gate: this.o.gate,
            // The cache is updated after the handler: read it a turn later.
            onChange: () => setImmediate(refresh),
          });
          return inf;
        },
        log: this.o.log.child({ component: "informer" }),
        backoffMinMs: this.o.backoffMinMs,
        backoffMaxMs: this.o.backoffMaxMs,
        onRestart: this.o.onRestart,
        onAbsent: () => {
          this.listed.add(kind.plural);
          this.schedule();
        },
        onSynced: () =>
          setImmediate(() => {
            this.listed.add(kind.plural);
            refresh();
          }),
      });
      this.optional.push(opt);
      opt.start();
    }
    this.watchServices();
  }

  private watchServices(): void {
    this.serviceInformers = new ServiceInformers({
      client: this.o.client,
      log: this.o.log.child({ component: "informer" }),
      backoffMinMs: this.o.backoffMinMs,
      backoffMaxMs: this.o.backoffMaxMs,
      gate: this.o.gate,
      onRestart: this.o.onRestart,
      onChange: () => this.schedule(),
    });
    this.serviceInformers.start();
  }

  /** Whether the first speaker may start: Services listed, or waited long enough. */
  private servicesReady(): boolean {
    return this.serviceInformers?.synced !== false || Date.now() - this.startedAt >= SERVICE_SYNC_WAIT_MS;
  }

  /** The watched Services and EndpointSlices as service-routes.ts facts (no informers: none). */
  private serviceObjects(): ServiceObjects {
    const inf = this.serviceInformers;
    if (inf === undefined) return { services: [], slices: [] };
    return {
      services: inf.serviceList().map(serviceFacts),
      slices: inf.sliceList().flatMap((s) => endpointSliceFacts(s) ?? []),
    };
  }

  /** After the agent's first sync: choose addresses, build and start the speaker. */
  async start(): Promise<void> {
    this.started = true;
    this.startedAt = Date.now();
    if (this.o.controlSocket !== undefined) {
      try {
        this.control = await serveBgpControl(this.o.controlSocket, () => this.host);
      } catch (e) {
        // Only the CLI's view is lost: BGP itself runs without the socket.
        this.o.log.error(
          { socket: this.o.controlSocket, err: e instanceof Error ? e.message : String(e) },
          "cannot serve the BGP control socket",
        );
      }
    }
    await this.refreshUnderlay();
    this.resync = setInterval(() => {
      void this.refreshUnderlay();
      this.passwordsStale = true;
      this.peerRoutes.markStale();
      this.schedule();
    }, RESYNC_MS).unref();
    this.schedule(0);
  }

  /** How many times a desired config was computed (each reads the node's links). */
  get configComputations(): number {
    return this.computations;
  }

  /** Something the desired config depends on changed: recompute soon (coalesced). */
  schedule(delayMs = COALESCE_MS): void {
    if (!this.started || this.stopped) return;
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delayMs);
  }

  private kick(): void {
    this.syncs.kick();
  }

  /** One sync; a failure is logged and retried in a second. */
  private async syncRound(): Promise<void> {
    try {
      await this.sync();
    } catch (e) {
      this.o.log.error({ err: e instanceof Error ? e.message : String(e) }, "BGP sync failed; will retry");
      this.schedule(1000);
    }
  }

  private async refreshUnderlay(): Promise<void> {
    try {
      this.kernelUnderlay = await readUnderlayRoutes();
      this.joinUnderlay();
    } catch (e) {
      this.o.log.warn({ err: String(e) }, "reading the underlay routes failed");
    }
  }

  /**
   * The kernel's underlay plus the reachableBy routes: those are proto 201,
   * which readUnderlayRoutes leaves out as ours, yet a route learned from
   * such a peer has the peer as next hop and must resolve through them.
   */
  private joinUnderlay(): void {
    this.underlay = underlay([
      ...this.kernelUnderlay,
      ...this.peerRouteList.map((r) => ({ prefix: r.prefix, via: r.via })),
    ]);
  }

  /** BGPConfiguration `logSeverity` as this logger's level (the speaker logs through it). */
  private applyLogLevel(level: SpeakerLogLevel | undefined): void {
    if (level === this.logLevel) return;
    this.logLevel = level;
    const next = level ?? this.baseLogLevel;
    const say = (): void =>
      this.o.log.info({ bgpLogLevel: next, logSeverity: level !== undefined }, "BGP log level set");
    // Said at info under whichever of the old and the new level lets it through.
    const quieter = (this.o.log.levels.values[next] ?? 30) > 30;
    if (quieter) say();
    this.o.log.level = next;
    if (!quieter) say();
  }

  /** reachableBy host routes first, so that the speaker's connection to such a peer has its route. */
  private async applyPeerRoutes(routes: readonly PeerHostRoute[]): Promise<void> {
    if (JSON.stringify(routes) !== JSON.stringify(this.peerRouteList)) {
      this.peerRouteList = routes;
      this.joinUnderlay();
    }
    await this.peerRoutes.apply(routes);
  }

  private async chooseAddresses(self: NodeFacts | undefined): Promise<BgpAddresses> {
    const interfaces = await readInterfaces();
    const sources: Record<string, string> = {};
    if (this.method.kind === "can-reach") {
      for (const ip of this.method.ips) {
        const s = await sourceFor(ip);
        if (s !== undefined) sources[ip] = s;
      }
    }
    const r = selectBgpAddresses(self?.annotations ?? {}, this.method, { interfaces, sourceFor: sources });
    for (const p of r.problems) this.o.log.warn({}, p);
    return r.addresses;
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    // A speaker started on defaults (mesh on, hold 90 s) and corrected a moment
    // later would open sessions only to reset them; after a restart it would
    // also send End-of-RIB for a partial view.
    if (this.host === undefined && this.listed.size < Object.keys(this.kinds).length) return;
    if (this.host === undefined && !this.servicesReady()) {
      this.schedule(250);
      return;
    }
    this.computations++;
    const nodes = this.o.nodes();
    const self = nodes.find((n) => n.name === this.o.nodeName);
    const addresses = await this.chooseAddresses(self);
    if (JSON.stringify(addresses) !== JSON.stringify(this.addresses))
      this.o.log.info({ addresses }, "BGP addresses chosen");
    this.addresses = addresses;
    if (addresses.ipv4 === undefined && addresses.ipv6 === undefined) {
      this.o.log.warn({ method: this.o.addressDetection }, "no BGP address found; BGP waits");
      this.schedule(5000);
      return;
    }
    if (this.passwordsStale) {
      this.passwordsStale = false;
      this.passwords = await this.readPasswords(self);
    }
    const { config, problems, logLevel, peerRoutes } = desiredSpeakerConfig({
      nodeName: this.o.nodeName,
      nodes,
      configurations: this.kinds.configurations.items,
      peers: this.kinds.peers.items,
      filters: this.kinds.filters.items,
      affineBlocks: this.o.affineBlocks(),
      borrowedAddresses: this.o.borrowedAddresses(),
      addresses,
      passwords: this.passwords,
      serviceObjects: this.serviceObjects(),
      tenants: this.kinds.tenants.items,
      blockPools: this.o.blockPools?.() ?? [],
    });
    // Each problem once while it lasts (a Service outside its CIDRs is not re-logged when another problem comes or goes).
    const now = new Set(problems);
    for (const x of now) if (!this.lastProblems.has(x)) this.o.log.warn({}, `BGP: ${x}`);
    this.lastProblems = now;
    this.applyLogLevel(logLevel);
    await this.applyPeerRoutes(peerRoutes);
    await this.apply(config);
  }

  /**
   * The passwords of the BGPPeers selecting this node, by BGPPeer name: each
   * Secret read once, by name. A missing Secret or key leaves that peer out
   * (desired-config.ts reports it); why is logged here, once per change.
   */
  private async readPasswords(self: NodeFacts | undefined): Promise<Record<string, string>> {
    const namespace = this.o.secretNamespace ?? "kube-system";
    const wanted = this.kinds.peers.items.filter(
      (bp) => bp.spec.password !== undefined && peerSelectsNode(bp, this.o.nodeName, self?.labels ?? {}),
    );
    const out: Record<string, string> = {};
    if (wanted.length === 0) {
      this.lastSecretProblems = "";
      return out;
    }
    const secrets = new Map<string, Promise<Record<string, string> | string>>();
    const read = (name: string): Promise<Record<string, string> | string> =>
      this.o.client
        .get<V1Secret>(resourcePath({ group: "", version: "v1", plural: "secrets", namespace, name }))
        .then(
          (s) => s.data ?? {},
          (e: unknown) => {
            const code = (e as { code?: number }).code;
            return code === 404
              ? "not found"
              : `not readable (${code ?? (e instanceof Error ? e.message : String(e))})`;
          },
        );
    const problems: string[] = [];
    for (const bp of wanted) {
      const ref = bp.spec.password?.secretKeyRef;
      if (ref === undefined) continue;
      let p = secrets.get(ref.name);
      if (p === undefined) {
        p = read(ref.name);
        secrets.set(ref.name, p);
      }
      const data = await p;
      const where = `BGPPeer ${bp.metadata.name}: Secret ${namespace}/${ref.name}`;
      if (typeof data === "string") {
        problems.push(`${where} ${data}`);
        continue;
      }
      const b64 = Object.hasOwn(data, ref.key) ? data[ref.key] : undefined;
      const value = b64 === undefined ? "" : Buffer.from(b64, "base64").toString("utf8");
      if (value === "") {
        problems.push(`${where} has no ${b64 === undefined ? "" : "non-empty "}key ${ref.key}`);
        continue;
      }
      out[bp.metadata.name] = value;
    }
    const joined = problems.join("; ");
    if (joined !== this.lastSecretProblems) {
      this.lastSecretProblems = joined;
      for (const x of problems) this.o.log.warn({}, `BGP password: ${x}; the peer is not configured`);
    }
    return out;
  }

  private async apply(config: SpeakerConfigFile): Promise<void> {
    if (this.host !== undefined) {
      const d = this.host.apply(config);
      if (d.restartNeeded.length === 0) {
        if (
          d.addPeers.length +
            d.removePeers.length +
            d.changePeers.length +
            d.originate.length +
            d.withdraw.length >
          0
        )
          this.o.log.info(
            {
              added: d.addPeers.map((x) => x.address),
              removed: d.removePeers,
              changed: d.changePeers.map((x) => x.address),
              originated: d.originate.map((x) => x.prefix),
              withdrawn: d.withdraw,
            },
            "BGP configuration applied",
          );
        return;
      }
      this.o.log.warn(
        { fields: d.restartNeeded },
        "BGP settings changed that need a new speaker: restarting it",
      );
      const old = this.host;
      this.host = undefined;
      await old.stop();
    }
    if (this.stopped) return;
    const host = await SpeakerHost.create(config, {
      log: this.o.log,
      mapFibChanges: (changes) => this.resolve(changes),
    });
    try {
      await host.start();
    } catch (e) {
      // e.g. the listen port is taken: close the FIB's ip process, retry later.
      await host.stop().catch(() => undefined);
      throw e;
    }
    this.host = host;
    this.o.log.info(
      {
        asn: config.asn,
        routerId: config.routerId,
        peers: config.peers.map((x) => x.address),
        originate: config.originate.map((x) => x.prefix),
        restarting: host.restarting,
      },
      "BGP speaker started",
    );
  }

  private resolve(changes: readonly FibChangeIn[]): FibChangeIn[] {
    return changes.map((c) => ({
      prefix: c.prefix,
      nexthops: [...new Set(c.nexthops.map((nh) => resolveNextHop(this.underlay, nh)))],
    }));
  }

  /** The running speaker (status, tests). */
  get speakerHost(): SpeakerHost | undefined {
    return this.host;
  }

  /**
   * What the node status shows of BGP (agent/status/bgp-status-source.ts):
   * called on the status interval, no I/O. A session's kind comes from the
   * description desired-config.ts gives each peer ("node X" for another
   * node, "BGPPeer Y" for an external one) and its reflector flags.
   */
  status(): BgpStatusSnapshot | undefined {
    const host = this.host;
    if (host === undefined) return undefined;
    const cfg = host.config;
    const byAddress = new Map(cfg.peers.map((p) => [p.address, p]));
    const reflectors = new Set(
      this.o
        .nodes()
        .filter((n) => n.annotations[ANNOTATION_RR_CLUSTER_ID] !== undefined)
        .map((n) => n.name),
    );
    const sessions = host.speaker.peerStatus().map((s) => {
      const p = byAddress.get(s.address);
      const node = p?.description?.startsWith("node ") === true ? p.description.slice(5) : undefined;
      const kind: BgpSessionStatus["kind"] =
        node === undefined
          ? "external"
          : p?.routeReflectorClient === true
            ? "client"
            : reflectors.has(node)
              ? "reflector"
              : "mesh";
      return {
        peer: s.address,
        kind,
        state: s.state,
        ...(s.uptimeSeconds !== undefined ? { uptimeSeconds: Math.floor(s.uptimeSeconds) } : {}),
        prefixesReceived: s.prefixes.received,
        prefixesAccepted: s.prefixes.accepted,
        prefixesAdvertised: s.prefixes.advertised,
      };
    });
    const routes = host.kernel?.installedByFamily() ?? { v4: 0, v6: 0 };
    const method = this.addresses.ipv4?.method ?? this.addresses.ipv6?.method;
    return {
      ...(this.addresses.ipv4 !== undefined ? { address4: this.addresses.ipv4.address } : {}),
      ...(this.addresses.ipv6 !== undefined ? { address6: this.addresses.ipv6.address } : {}),
      ...(method !== undefined ? { method } : {}),
      asn: cfg.asn,
      sessions,
      routesInstalled4: routes.v4,
      routesInstalled6: routes.v6,
    };
  }

  /** `restart`: the agent is restarting, so peers that support it keep our routes (SpeakerHost.stop). */
  async stop(o: { restart?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.resync !== undefined) clearInterval(this.resync);
    await Promise.all(this.optional.map((o) => o.stop()));
    await this.serviceInformers?.stop();
    await this.syncs.settled();
    await this.control?.close();
    await this.host?.stop(o);
    this.host = undefined;
  }
}
