/**
 * trellis-node wired together: informers -> caches -> IPAM service and
 * backend -> CNI server; health, readiness and metrics on the side. Nothing
 * touches the kernel before the first full sync of every informer; after it,
 * blackhole routes are swept to the affine blocks. Stopping the agent leaves
 * every pod's veth, address and route in place: the next agent re-learns
 * them from the IPAM blocks (the API) and the kernel.
 */
import type { Server } from "node:http";
import type {
  KubernetesListObject,
  KubernetesObject,
  V1Namespace,
  V1Node,
  V1Pod,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  IPAM_GROUP,
  IPAM_VERSION,
  type BlockAffinity,
  type IPAMBlock,
  type IPPool,
  ipamBlockSchema,
} from "../crds/ipam.js";
import { CniServer } from "./cni-server/server.js";
import { CniMetrics } from "./cni-server/metrics.js";
import { type ClusterView, TrellisBackend } from "./cni-backend.js";
import type { AgentConfig } from "./config.js";
import { RoutedVethDataplane, enableForwarding } from "./dataplane/dataplane.js";
import { startHealthServer } from "./http-server.js";
import { type PoolView, SPARE_FRACTION, blockUnusable, blockView } from "./ipam/block-allocator.js";
import { stalePendingBlocks } from "./ipam/claim-protocol.js";
import { poolViewsWithValidity } from "./ipam/pool-validity.js";
import { KubeIpamApi } from "./ipam/ipam-api.js";
import { httpStatus } from "./k8s/kube-request.js";
import { IpamService } from "./ipam/ipam-service.js";
import { IpamJournal, ipamJournalPath } from "./ipam/ipam-journal.js";
import { RESERVE_PER_BLOCK } from "./ipam/reservations.js";
import { emptyBlocksToRelease, leakCheck } from "./ipam/leak-check.js";
import { KubeClient } from "./k8s/kube-client.js";
import { resourcePath } from "./k8s/kube-request.js";
import { ApiGate } from "./k8s/api-gate.js";
import { canonicalAddress } from "../net/address.js";
import { ResilientInformer } from "./k8s/resilient-informer.js";
import { type AgentGauges, registerAgentMetrics } from "./metrics.js";
import { createRegistry } from "../net/metrics.js";
import { Coalesced } from "../net/coalesced.js";
import { writeRtProtos } from "../net/route-ownership.js";
import { mayActOnCaches } from "./k8s/rollback-guard.js";
import { PolicyService } from "./policy/policy-service.js";
import { removePolicyTable } from "./policy/policy-off.js";
import { POLICY_KINDS } from "./policy/policy-inputs.js";
import { ExecNft } from "./nft/backend.js";
import { NatManager } from "./nat/nat-manager.js";
import { NAT_TABLE } from "./nat/nat-table.js";
// ---- node status (agent/status/) ----
import { StatusPublisher } from "./status/status-publisher.js";
import type { BgpStatusSource } from "./status/bgp-status-source.js";
import { KubeNodeStatusApi } from "./status/node-status-api.js";
import { countLocalRoutes } from "./status/local-routes.js";
import { agentVersion } from "./status/agent-version.js";
import { BgpService, blockBgpFacts, borrowedAddresses } from "./bgp/bgp-service.js";
import { controlSocketPath } from "./bgp/control-socket.js";

/**
 * A pending block older than this is a claim whose claimer died or hangs
 * (a claim takes one create, one LIST and one replace): anyone deletes it.
 */
export const PENDING_CLAIM_GRACE_MS = 60_000;

export interface NodeAgentDeps {
  /** Injected clock (leak check). */
  now?: () => number;
  /** Skip node-wide kernel state: sysctls, the natOutgoing table (tests that share a namespace). */
  skipForwarding?: boolean;
  /** Where iproute2 reads protocol names (net/route-ownership.ts; default /etc/iproute2/rt_protos.d). */
  rtProtosDir?: string;
}

export class NodeAgent {
  /** The agent's one API client (one keep-alive agent for every request and watch). */
  private readonly client: KubeClient;
  /** One probe per agent while the API server is away, not one per informer (k8s/api-gate.ts). */
  private readonly apiGate: ApiGate;
  private readonly informers: ResilientInformer<KubernetesObject>[] = [];
  private nodeInf!: ResilientInformer<V1Node>;
  private podInf!: ResilientInformer<V1Pod>;
  private nsInf!: ResilientInformer<V1Namespace>;
  private poolInf!: ResilientInformer<IPPool & KubernetesObject>;
  private blockInf!: ResilientInformer<IPAMBlock & KubernetesObject>;
  readonly ipam: IpamService;
  readonly dataplane = new RoutedVethDataplane();
  /** The process's one metrics registry (served on metricsAddress). */
  readonly registry = createRegistry();
  readonly cniMetrics = new CniMetrics(this.registry);
  private cniServer: CniServer | undefined;
  private health: { server: Server; port: number } | undefined;
  private synced = false;
  private cniUp = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly restarts = new Map<string, number>();
  /** Informers refusing a store that went backwards (rollback-guard.ts), with what they saw. */
  private readonly rolledBack = new Map<string, { seen: number; got: number }>();
  private readonly writes = new Map<string, number>();
  private leakReleases = 0;
  private gcReleases = 0;
  private missingSince = new Map<string, number>();
  private emptySince = new Map<string, number>();
  /** Each block's blockBgpFacts as the BGP service was last told of them (block events). */
  private readonly blockFacts = new Map<string, string>();
  /** Coalesced blackhole syncs (scheduleBlackholes). */
  private readonly blackholes = new Coalesced(() => this.syncBlackholes());
  private readonly badPools = new Map<string, string>();
  private readonly now: () => number;
  /** Policy enforcement (undefined when `policy.enabled` is false). */
  readonly policy: PolicyService | undefined;
  /** natOutgoing: table inet trellis-nat, with policy on or off (agent/nat/). */
  readonly nat: NatManager | undefined;
  /** The node's BGP speaker (undefined when `bgp.enabled` is false). */
  readonly bgp: BgpService | undefined;

  constructor(
    readonly cfg: AgentConfig,
    private readonly log: Logger,
    private readonly deps: NodeAgentDeps = {},
  ) {
    this.now = deps.now ?? Date.now;
    this.apiGate = new ApiGate(cfg.informerBackoffMaxMs);
    // A bad kubeconfig throws a KubeconfigError naming the file (k8s/kubeconfig.ts).
    this.client = cfg.kubeconfig !== undefined ? KubeClient.fromFile(cfg.kubeconfig) : KubeClient.inCluster();
    log.info({ outcome: writeRtProtos(deps.rtProtosDir) }, "rt_protos.d: names for proto 201 and 202");
    this.ipam = new IpamService({
      api: new KubeIpamApi(this.client),
      node: () => ({
        name: cfg.nodeName,
        labels: this.nodeInf.get(cfg.nodeName)?.metadata?.labels ?? {},
        strictAffinity: cfg.strictAffinity,
      }),
      pools: () => this.poolViews(),
      log: log.child({ component: "ipam" }),
      onAffineBlocksChanged: () => {
        this.scheduleBlackholes();
        this.bgp?.schedule();
      },
      onWrite: (w) => this.writes.set(w, (this.writes.get(w) ?? 0) + 1),
      spareFraction: SPARE_FRACTION,
      journal: new IpamJournal(ipamJournalPath(cfg.cniSocket, cfg.nodeName)),
      reservePerBlock: RESERVE_PER_BLOCK,
    });
    this.policy = cfg.policy.enabled
      ? new PolicyService({
          node: cfg.nodeName,
          ...this.watcher("policy"),
          minApplyIntervalMs: cfg.policy.minApplyIntervalMs,
          resyncIntervalMs: cfg.policy.resyncIntervalSeconds * 1000,
          revocationIntervalMs: cfg.policy.revocationIntervalMs,
          addTimeoutMs: cfg.policy.addTimeoutMs,
          elementsByNetlink: cfg.policy.elementsByNetlink,
          registry: this.registry,
          onRollback: (n, inf) => this.onRollback(n, inf),
        })
      : undefined;
    this.nat =
      deps.skipForwarding === true
        ? undefined
        : new NatManager({
            // One `nft -j -f` per apply, no long-lived session: pool changes are
            // rare, and the node keeps a single persistent nft (policy's).
            backend: new ExecNft({ table: NAT_TABLE }),
            serviceCidrs: cfg.serviceClusterIPRanges,
            log: log.child({ component: "nat" }),
            resyncIntervalMs: cfg.policy.resyncIntervalSeconds * 1000,
          });
    // BGP (agent/bgp/bgp-service.ts): all Nodes, this node's blocks and borrowed addresses.
    this.bgp = cfg.bgp.enabled
      ? new BgpService({
          nodeName: cfg.nodeName,
          ...this.watcher("bgp"),
          addressDetection: cfg.bgp.addressDetection,
          secretNamespace: cfg.bgp.secretNamespace,
          controlSocket: controlSocketPath(cfg.cniSocket, cfg.bgp.controlSocket),
          nodes: () =>
            this.nodeInf.list().map((n) => ({
              name: n.metadata?.name ?? "",
              labels: n.metadata?.labels ?? {},
              annotations: n.metadata?.annotations ?? {},
              internalIPs: (n.status?.addresses ?? [])
                .filter((a) => a.type === "InternalIP")
                .map((a) => a.address),
            })),
          affineBlocks: () => this.ipam.affineBlocks().map((b) => b.spec.cidr),
          borrowedAddresses: () => borrowedAddresses(this.ipam.allBlocks(), cfg.nodeName),
          // Tenant communities: which pool each block is from.
          blockPools: () => this.ipam.allBlocks().map((b) => ({ cidr: b.spec.cidr, pool: b.spec.pool })),
        })
      : undefined;
    registerAgentMetrics(this.registry, () => this.agentGauges());
  }

  get metricsPort(): number | undefined {
    return this.health?.port;
  }

  /** /readyz: in sync, CNI up, and (with policy on) the first policy table applied. */
  ready(): boolean {
    return this.coreReady() && (this.policy?.ready ?? true);
  }

  private coreReady(): boolean {
    return this.synced && this.cniUp && mayActOnCaches(this.rolledBack).ok;
  }

  private onRollback(name: string, inf: { rolledBack: { seen: number; got: number } | undefined }): void {
    const r = inf.rolledBack;
    if (r !== undefined) this.rolledBack.set(name, r);
    else {
      this.rolledBack.delete(name);
      // Caught up: sweep what changed while the guard held.
      if (this.rolledBack.size === 0) this.scheduleBlackholes();
    }
  }

  notReadyReason(): string {
    if (!this.synced) {
      const waiting = this.informers.filter((i) => !i.synced).length;
      return `waiting for the first sync with the API server (${waiting} informer(s) not listed yet)`;
    }
    if (!this.cniUp) return "the CNI server is not listening";
    const act = mayActOnCaches(this.rolledBack);
    if (!act.ok) return act.reason;
    if (this.policy !== undefined && !this.policy.ready) return this.policy.notReadyReason();
    return "ready";
  }

  /**
   * Pools with their validity (pool-validity.ts: the same verdict in every
   * agent and in trellisctl). Invalid pools are marked, not dropped, so a
   * request naming one is refused with the reason; each change of a pool's
   * verdict is logged once.
   */
  /** The last pool views and the pools' names and resourceVersions they were made from. */
  private poolCache: { key: string; views: PoolView[] } | undefined;

  private poolViews(): PoolView[] {
    // IPAM asks for the pools on every allocation; validating them (a zod
    // parse of every pool, then the overlap verdicts) is only needed when one
    // changed, which their resourceVersions say (issue 12: 11 ms of the
    // agent's CPU over 30 sequential ADDs went to revalidating unchanged pools).
    const pools = this.poolInf.list();
    const key = pools.map((p) => `${p.metadata?.name}@${p.metadata?.resourceVersion}`).join(" ");
    if (this.poolCache !== undefined && this.poolCache.key === key) return this.poolCache.views;
    const { views, invalid } = poolViewsWithValidity(pools);
    this.poolCache = { key, views };
    for (const [name, reason] of invalid) {
      if (this.badPools.get(name) === reason) continue;
      this.badPools.set(name, reason);
      this.log.error({ pool: name, reason }, "IPPool rejected");
    }
    for (const name of [...this.badPools.keys()]) {
      if (invalid.has(name)) continue;
      this.badPools.delete(name);
      if (views.some((v) => v.name === name)) this.log.info({ pool: name }, "IPPool is valid again");
    }
    return views;
  }

  private informer<T extends KubernetesObject>(
    name: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    fieldSelector?: string,
    onChange?: (verb: "add" | "update" | "delete", obj: T) => void,
  ): ResilientInformer<T> {
    const inf = new ResilientInformer<T>({
      name,
      ...this.watcher("informer"),
      path,
      list,
      ...(fieldSelector !== undefined ? { fieldSelector } : {}),
      ...(onChange !== undefined ? { onChange } : {}),
      onRollback: (n) => this.onRollback(n, inf),
    });
    this.informers.push(inf as unknown as ResilientInformer<KubernetesObject>);
    return inf;
  }

  /**
   * What every part that watches the API server gets, the agent's own informers
   * and its services': the client, the component's logger, and how informers
   * retry (the configured backoff, the shared API gate, restarts counted for /metrics).
   */
  private watcher(component: string): {
    client: KubeClient;
    log: Logger;
    backoffMinMs: number;
    backoffMaxMs: number;
    gate: ApiGate;
    onRestart: (informer: string) => void;
  } {
    return {
      client: this.client,
      log: this.log.child({ component }),
      backoffMinMs: this.cfg.informerBackoffMinMs,
      backoffMaxMs: this.cfg.informerBackoffMaxMs,
      gate: this.apiGate,
      onRestart: (n) => this.restarts.set(n, (this.restarts.get(n) ?? 0) + 1),
    };
  }

  /** The LIST of a kind (core v1 when `group` is ""), with a field selector when given. */
  private lister<T extends KubernetesObject>(
    group: string,
    version: string,
    plural: string,
    fieldSelector?: string,
  ) {
    const path = resourcePath({ group, version, plural });
    return (): Promise<KubernetesListObject<T>> =>
      this.client.get(path, fieldSelector !== undefined ? { fieldSelector } : undefined);
  }

  async start(): Promise<void> {
    // No netlink addon, no pods: say so now rather than fail every ADD (dataplane.ts).
    this.dataplane.requireNative();
    const cfg = this.cfg;
    const policy = this.policy;
    // Policy peers live on every node (pods, nodes): with policy on, watch them all.
    // BGP peers with the other nodes: with BGP on, watch them all too.
    const nodeSel = policy || this.bgp ? undefined : `metadata.name=${cfg.nodeName}`;
    const podSel = policy ? undefined : `spec.nodeName=${cfg.nodeName}`;
    const nodeHandler = policy?.coreHandler("Node");
    this.nodeInf = this.informer(
      "nodes",
      "/api/v1/nodes",
      this.lister("", "v1", "nodes", nodeSel),
      nodeSel,
      (verb, obj) => {
        nodeHandler?.(verb, obj);
        this.bgp?.schedule();
      },
    );
    this.podInf = this.informer(
      "pods",
      "/api/v1/pods",
      this.lister("", "v1", "pods", podSel),
      podSel,
      policy?.coreHandler("Pod"),
    );
    this.nsInf = this.informer(
      "namespaces",
      "/api/v1/namespaces",
      this.lister("", "v1", "namespaces"),
      undefined,
      policy?.coreHandler("Namespace"),
    );
    this.poolInf = this.informer(
      "ippools",
      `/apis/${IPAM_GROUP}/${IPAM_VERSION}/ippools`,
      this.lister(IPAM_GROUP, IPAM_VERSION, "ippools"),
      undefined,
      // Validate on every change so a rejected pool is reported at once, with its reason.
      () => {
        if (!this.synced) return;
        this.poolViews();
        // A relist fires its callbacks while the cache is still being filled: read it a turn later.
        setImmediate(() => this.nat?.setPools(this.poolInf.list()));
      },
    );
    this.blockInf = this.informer(
      "ipamblocks",
      `/apis/${IPAM_GROUP}/${IPAM_VERSION}/ipamblocks`,
      this.lister(IPAM_GROUP, IPAM_VERSION, "ipamblocks"),
      undefined,
      (verb, obj) => {
        if (!this.synced) return;
        const name = obj.metadata.name;
        if (verb === "delete") this.ipam.forgetBlock(name);
        // This agent's own writes come back as events of the version its
        // cache already holds (IPAM keeps each write's answer): nothing new to validate.
        else if (this.ipam.block(name)?.metadata.resourceVersion !== obj.metadata.resourceVersion) {
          const b = ipamBlockSchema.safeParse(obj);
          if (b.success) this.ipam.observeBlock(b.data);
        }
        // BGP reads blocks' CIDRs, affinities and borrowed addresses; most events
        // only move other pods' allocations (bgp-service.ts blockBgpFacts).
        const cached = this.ipam.block(name);
        const facts = cached === undefined ? undefined : blockBgpFacts(cached, cfg.nodeName);
        if (facts === this.blockFacts.get(name)) return;
        if (facts === undefined) this.blockFacts.delete(name);
        else this.blockFacts.set(name, facts);
        this.bgp?.schedule();
      },
    );
    this.informer<BlockAffinity & KubernetesObject>(
      "blockaffinities",
      `/apis/${IPAM_GROUP}/${IPAM_VERSION}/blockaffinities`,
      this.lister(IPAM_GROUP, IPAM_VERSION, "blockaffinities"),
    );

    if (cfg.metricsAddress !== "") {
      this.health = await startHealthServer(cfg.metricsAddress, {
        ready: () => this.ready(),
        notReadyReason: () => this.notReadyReason(),
        registry: this.registry,
      });
    }
    const cluster: ClusterView = {
      // CNI serves once IPAM is in sync; with policy on, an ADD then waits
      // (up to policy.addTimeoutMs) for the first table that includes its pod
      // instead of failing: runtimes that do not retry a sandbox still start
      // the pod, and it is never returned before its rules are in.
      ready: () => this.coreReady(),
      notReadyReason: () => this.notReadyReason(),
      podAnnotations: (ns, pod) => this.podAnnotations(ns, pod),
      namespace: (name) => {
        const n = this.nsInf.get(name);
        return { labels: n?.metadata?.labels ?? {}, annotations: n?.metadata?.annotations ?? {} };
      },
    };
    const backend = new TrellisBackend({
      ipam: this.ipam,
      dataplane: this.dataplane,
      cluster,
      log: this.log.child({ component: "cni" }),
      defaultMtu: cfg.mtu,
      onGcReleased: (n) => (this.gcReleases += n),
      ...(policy ? { policy } : {}),
    });
    this.cniServer = new CniServer({
      socketPath: cfg.cniSocket,
      backend,
      metrics: this.cniMetrics,
      maxConcurrent: cfg.cniMaxConcurrent,
      log: this.log.child({ component: "cni-server" }),
    });
    // The socket comes up first: until the first sync, ADD/DEL answer code 11
    // ("try again later") instead of the shim's "agent unreachable".
    await this.cniServer.listen();
    this.cniUp = true;
    this.startStatusPublisher();
    for (const i of this.informers) i.start();
    this.bgp?.watch();
    if (policy) {
      const core3 = [
        ["Node", this.nodeInf],
        ["Pod", this.podInf],
        ["Namespace", this.nsInf],
      ] as const;
      for (const [kind, inf] of core3) {
        void inf.waitForSync().then(() =>
          // ListWatch fills its cache right after the list resolves: read it a turn later.
          setImmediate(() => policy.coreSynced(kind, inf.list())),
        );
      }
      policy.start();
    }
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    await this.firstSync();
  }

  private async firstSync(): Promise<void> {
    for (const b of this.blockInf.list()) {
      const v = ipamBlockSchema.safeParse(b);
      if (v.success) this.ipam.observeBlock(v.data);
      else this.log.warn({ block: b.metadata?.name }, "ignoring malformed IPAMBlock");
    }
    // Addresses granted from reservations before a crash (ipam/reservations.ts): owed again, before any ADD.
    await this.ipam.replayJournal();
    this.poolViews();
    // Claims of ours that a crash left pending (claim-protocol.ts): no claim
    // of this process is in flight yet, so they are all stale.
    await this.ipam
      .sweepPendingBlocks(this.now(), PENDING_CLAIM_GRACE_MS, true)
      .catch((e: unknown) => this.log.warn({ err: String(e) }, "pending block sweep"));
    if (this.deps.skipForwarding !== true)
      await enableForwarding().catch((e: unknown) => this.log.warn({ err: String(e) }, "forwarding sysctls"));
    // Host veths an earlier run detached and had not deleted yet (dataplane.ts detach).
    await this.dataplane
      .reapDetached()
      .then((n) => {
        if (n > 0) this.log.info({ count: n }, "deleting host veths an earlier run detached");
      })
      .catch((e: unknown) => this.log.warn({ err: String(e) }, "detached veth sweep"));
    await this.ipam
      .repairAffinities()
      .catch((e: unknown) => this.log.warn({ err: String(e) }, "affinity repair"));
    if (this.policy === undefined && this.deps.skipForwarding !== true) {
      await removePolicyTable(new ExecNft())
        .then((had) => {
          if (had)
            this.log.info({}, "policy.enabled is false: removed table inet trellis left by an earlier run");
        })
        .catch((e: unknown) => this.log.warn({ err: String(e) }, "removing table inet trellis failed"));
    }
    this.synced = true;
    this.nat?.setPools(this.poolInf.list());
    this.log.info(
      { node: this.cfg.nodeName, blocks: this.ipam.affineBlocks().length },
      "first sync done; ready",
    );
    this.scheduleBlackholes();
    await this.bgp?.start();
    const every = this.cfg.leakCheckIntervalSeconds * 1000;
    this.timers.push(setInterval(() => void this.housekeeping(), every).unref());
  }

  private async podAnnotations(namespace: string, pod: string): Promise<Record<string, string>> {
    const cached = this.podInf.get(pod, namespace);
    if (cached !== undefined) return cached.metadata?.annotations ?? {};
    // The informer may lag the kubelet by a moment: ask the API once.
    try {
      const p = await this.client.get<V1Pod>(
        resourcePath({ group: "", version: "v1", plural: "pods", namespace, name: pod }),
      );
      return p.metadata?.annotations ?? {};
    } catch (e) {
      if (httpStatus(e) === 404) return {};
      throw e;
    }
  }

  /** Leak check and empty-block release (only ever after the first sync). */
  async housekeeping(): Promise<void> {
    if (!this.synced) return;
    // A rolled-back store: pods and blocks may look gone that are not (rollback-guard.ts).
    if (!mayActOnCaches(this.rolledBack).ok) return;
    try {
      const now = this.now();
      const lookup = (ns: string, pod: string): { podIPs: string[] } | undefined => {
        const p = this.podInf.get(pod, ns);
        if (p === undefined) return undefined;
        const ips = (p.status?.podIPs ?? []).map((x) => x.ip);
        // The API server keeps whatever text the kubelet wrote; compare canonical forms.
        return { podIPs: ips.map((ip) => canonicalIp(ip)) };
      };
      const lc = leakCheck(
        this.missingSince,
        this.ipam.nodeAllocations(),
        lookup,
        now,
        this.cfg.leakGraceSeconds * 1000,
      );
      this.missingSince = lc.missingSince;
      if (lc.release.length > 0) {
        const n = await this.ipam.release(lc.release);
        this.leakReleases += n;
        this.log.info({ handles: lc.release }, "leak check released addresses of pods that are gone");
      }
      if (
        stalePendingBlocks(this.ipam.allBlocks(), this.cfg.nodeName, now, PENDING_CLAIM_GRACE_MS, false)
          .length > 0
      )
        await this.ipam.sweepPendingBlocks(now, PENDING_CLAIM_GRACE_MS, false);
      const pools = this.poolViews();
      const emptyBlocks = this.ipam.affineBlocks().filter((b) => this.ipam.holdsNoPods(b.metadata.name));
      // An empty block of a deleted or invalid pool (or lying outside its
      // pool) can never be allocated from again: release it now, no grace.
      const dead = emptyBlocks.filter((b) => {
        const v = blockView(b);
        return v !== undefined && blockUnusable(v, pools) !== undefined;
      });
      const deadNames = new Set(dead.map((b) => b.metadata.name));
      const empty = emptyBlocks
        .map((b) => b.metadata.name)
        .filter((n) => !deadNames.has(n) && !this.ipam.isSpareBlock(n));
      const eb = emptyBlocksToRelease(this.emptySince, empty, now, this.cfg.emptyBlockGraceSeconds * 1000);
      this.emptySince = eb.emptySince;
      for (const b of dead) {
        if (await this.ipam.releaseBlock(b.metadata.name))
          this.log.info(
            { block: b.spec.cidr, pool: b.spec.pool },
            "released empty block of a deleted or invalid pool",
          );
      }
      for (const name of eb.release) {
        if (await this.ipam.releaseBlock(name)) this.log.info({ block: name }, "released empty block");
      }
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "housekeeping failed; will retry");
    }
  }

  /** Coalesced: at most one blackhole sync runs, one more queued. */
  private scheduleBlackholes(): void {
    if (!this.synced) return;
    // Sweeping to a rolled-back view could drop the blackhole of a block still in use.
    if (!mayActOnCaches(this.rolledBack).ok) return;
    this.blackholes.kick();
  }

  /** One blackhole sync: a route for every block affine to this node. */
  private async syncBlackholes(): Promise<void> {
    const cidrs = this.ipam.affineBlocks().map((b) => b.spec.cidr);
    await this.dataplane
      .syncBlackholes(cidrs, true)
      .catch((e: unknown) => this.log.warn({ err: String(e) }, "blackhole route sync failed"));
  }

  /** Waits for pending kernel syncs (tests). */
  async settled(): Promise<void> {
    await this.blackholes.settled();
  }

  private agentGauges(): AgentGauges {
    const s = this.ipam.stats();
    const restarts = new Map(this.restarts);
    const policyInformers = this.policy ? POLICY_KINDS.map((k) => k.plural) : [];
    for (const i of [
      "nodes",
      "pods",
      "namespaces",
      "ippools",
      "ipamblocks",
      "blockaffinities",
      ...policyInformers,
    ]) {
      if (!restarts.has(i)) restarts.set(i, 0);
    }
    return {
      ipamAffineBlocks: s.affineBlocks,
      ipamAddressesInUse: s.addressesInUse,
      ready: this.ready(),
      informerRestarts: restarts,
      informersRolledBack: new Set(this.rolledBack.keys()),
      ipamWrites: this.writes,
      leakReleases: this.leakReleases,
      gcReleases: this.gcReleases,
      bgpConfigComputations: this.bgp?.configComputations ?? 0,
      poolsRejected: this.badPools,
    };
  }

  // ---- node status (agent/status/): the TrellisNodeStatus this agent publishes ----

  /** The BGP speaker's side of the node status (agent/bgp/bgp-service.ts); none with `bgp.enabled: false`. */
  get bgpStatusSource(): BgpStatusSource | undefined {
    return this.bgp;
  }
  private statusPublisher: StatusPublisher | undefined;
  private readonly startedAt = Date.now();

  /** Starts after the CNI socket: its writes run on their own timers, never on the CNI path. */
  private startStatusPublisher(): void {
    const version = agentVersion();
    const node = this.cfg.nodeName;
    this.statusPublisher = new StatusPublisher({
      node,
      api: new KubeNodeStatusApi(this.client),
      intervalMs: this.cfg.statusIntervalSeconds * 1000,
      ready: () => this.ready(),
      countLocalRoutes,
      owner: () => {
        const uid = this.nodeInf.get(node)?.metadata?.uid;
        return uid !== undefined && uid !== "" ? { name: node, uid } : undefined;
      },
      sources: () => {
        const ready = this.ready();
        const bgp = this.bgpStatusSource?.status();
        return {
          ready,
          reason: ready ? "ready" : this.notReadyReason(),
          agentVersion: version,
          startedAtMs: this.startedAt,
          intervalMs: this.cfg.statusIntervalSeconds * 1000,
          ipam: { ...this.ipam.stats(), poolsRejected: this.badPools },
          ...(this.policy !== undefined ? { policy: this.policy.manager.syncStatus() } : {}),
          rolledBack: this.rolledBack,
          ...(bgp !== undefined ? { bgp } : {}),
        };
      },
      log: this.log.child({ component: "node-status" }),
    });
    this.statusPublisher.start();
  }

  // ---- end node status ----

  /**
   * Stops serving; pods keep their veths, addresses and routes. With
   * `restart` (the process's SIGTERM: a rolling update, a node reboot), BGP
   * peers that negotiated graceful restart keep this node's routes as well,
   * so traffic to its pods does not stop while the agent is away (RFC 4724).
   */
  async stop(o: { restart?: boolean } = {}): Promise<void> {
    this.statusPublisher?.stop();
    for (const t of this.timers) clearInterval(t);
    this.cniUp = false;
    await this.cniServer?.close();
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.policy?.stop();
    await this.nat?.stop();
    await this.bgp?.stop(o);
    if (this.health) await new Promise<void>((r) => this.health?.server.close(() => r()));
    await this.settled();
    this.dataplane.close();
    this.client.close();
  }
}

/** An address in canonical text, or the text as given when it does not parse. */
function canonicalIp(text: string): string {
  const c = canonicalAddress(text);
  return typeof c === "string" ? c : text;
}
