/**
 * The policy shell of trellis-node: the informers for every policy kind
 * (optional CRDs treated as empty while absent), the nft driver on the real
 * `nft`, and the CNI hooks that make an ADD wait for its pod's rules.
 * The decisions live in policy-manager.ts; this file only does I/O.
 */
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { parseObject, type ParsedObject } from "../../policy/model/load.js";
import type { PolicyAttachment, PolicyHooks } from "../cni-backend.js";
import { httpStatus } from "../k8s/kube-request.js";
import { handleFor } from "../ipam/ipam-service.js";
import type { KubeClient } from "../k8s/kube-client.js";
import { resourcePath } from "../k8s/kube-request.js";
import { OptionalInformer } from "../k8s/optional-informer.js";
import { ResilientInformer } from "../k8s/resilient-informer.js";
import { type NftBackend, ExecNft } from "../nft/backend.js";
import { NftDriver } from "../nft/driver.js";
import { CORE_KINDS, POLICY_KINDS, type WatchedKind } from "./policy-inputs.js";
import { PolicyManager } from "./policy-manager.js";
import { NetlinkConntrackRevoker, type Revoker } from "./conntrack-revoker.js";
import type { ApiGate } from "../k8s/api-gate.js";
import type { Registry } from "../../net/metrics.js";

export interface PolicyServiceOptions {
  node: string;
  client: KubeClient;
  log: Logger;
  minApplyIntervalMs: number;
  resyncIntervalMs: number;
  addTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  onRestart: (informer: string) => void;
  /** The agent's shared API gate (k8s/api-gate.ts). */
  gate?: ApiGate;
  /** The agent's metrics registry (net/metrics.ts). */
  registry?: Registry;
  /** An informer's rollback guard tripped or cleared (k8s/rollback-guard.ts). */
  onRollback?: (informer: string, inf: ResilientInformer<KubernetesObject>) => void;
  /** The nft backend (default: the real `nft` in the agent's namespace). */
  nft?: NftBackend;
  /** The default backend sends element-only transactions by nf_tables netlink (default true). */
  elementsByNetlink?: boolean;
  /** Lists and marks conntrack entries for revocation (default: ctnetlink in the agent's namespace). */
  revoker?: Revoker;
  /** Least time between two conntrack walks of revocation (PolicyManagerOptions). */
  revocationIntervalMs?: number;
}

const CORE_API_VERSION: Record<(typeof CORE_KINDS)[number], string> = {
  Pod: "v1",
  Namespace: "v1",
  Node: "v1",
};

export class PolicyService implements PolicyHooks {
  readonly manager: PolicyManager;
  private readonly informers: ResilientInformer<KubernetesObject>[] = [];
  private readonly optional: OptionalInformer<KubernetesObject>[] = [];
  private readonly nft: NftBackend;

  constructor(private readonly o: PolicyServiceOptions) {
    const log = o.log;
    // One long-lived nft: the ADD's transaction pays no process spawn (nft-session.ts).
    this.nft = o.nft ?? new ExecNft({ persistent: true, netlink: o.elementsByNetlink ?? true });
    this.manager = new PolicyManager({
      node: o.node,
      driver: new NftDriver(this.nft, log),
      log,
      requiredKinds: [...CORE_KINDS, ...POLICY_KINDS.map((k) => k.kind)],
      minIntervalMs: o.minApplyIntervalMs,
      resyncIntervalMs: o.resyncIntervalMs,
      retryMs: 500,
      ...(o.registry ? { registry: o.registry } : {}),
      revoker: o.revoker ?? new NetlinkConntrackRevoker(),
      ...(o.revocationIntervalMs !== undefined ? { revocationIntervalMs: o.revocationIntervalMs } : {}),
    });
  }

  /** The onChange of a core informer (Pods, Namespaces, Nodes) the agent already runs. */
  coreHandler(
    kind: (typeof CORE_KINDS)[number],
  ): (verb: "add" | "update" | "delete", obj: KubernetesObject) => void {
    return (verb, obj) => {
      if (verb === "delete") this.manager.remove(kind, obj);
      else this.manager.upsert(kind, CORE_API_VERSION[kind], obj);
    };
  }

  /** Called once a core informer has listed (its cache is the kind's first full state). */
  coreSynced(kind: (typeof CORE_KINDS)[number], objs: readonly KubernetesObject[]): void {
    this.manager.replaceAll(kind, CORE_API_VERSION[kind], objs);
  }

  private makeInformer(k: WatchedKind, list: () => Promise<KubernetesListObject<KubernetesObject>>) {
    const inf = new ResilientInformer<KubernetesObject>({
      name: k.plural,
      client: this.o.client,
      path: resourcePath(k),
      list,
      log: this.o.log.child({ component: "informer" }),
      backoffMinMs: this.o.backoffMinMs,
      backoffMaxMs: this.o.backoffMaxMs,
      onRestart: this.o.onRestart,
      ...(this.o.gate !== undefined ? { gate: this.o.gate } : {}),
      ...(this.o.onRollback !== undefined ? { onRollback: () => this.o.onRollback?.(k.plural, inf) } : {}),
      onChange: (verb, obj) => {
        if (verb === "delete") this.manager.remove(k.kind, obj);
        else this.manager.upsert(k.kind, k.apiVersion, obj);
      },
    });
    this.informers.push(inf);
    return inf;
  }

  /** Starts the policy kinds' informers. */
  start(): void {
    const absentMarked = new Set<string>();
    for (const k of POLICY_KINDS) {
      // Every kind is listed cluster-wide (NetworkPolicies of all namespaces too).
      const list = (): Promise<KubernetesListObject<KubernetesObject>> => this.o.client.get(resourcePath(k));
      if (!k.optional) {
        const inf = this.makeInformer(k, list);
        inf.start();
        void inf.waitForSync().then(() =>
          // ListWatch fills its cache right after the list resolves: read it a turn later.
          setImmediate(() => this.manager.replaceAll(k.kind, k.apiVersion, inf.list())),
        );
        continue;
      }
      const opt = new OptionalInformer<KubernetesObject>({
        name: k.plural,
        list,
        make: () => this.makeInformer(k, list),
        log: this.o.log.child({ component: "informer" }),
        backoffMinMs: this.o.backoffMinMs,
        backoffMaxMs: this.o.backoffMaxMs,
        onRestart: this.o.onRestart,
        onAbsent: () => {
          // Once is enough: later probes find it still absent and still empty.
          if (!absentMarked.has(k.kind)) this.manager.replaceAll(k.kind, k.apiVersion, []);
          absentMarked.add(k.kind);
        },
        onSynced: (inf) => this.manager.replaceAll(k.kind, k.apiVersion, inf.list()),
      });
      this.optional.push(opt);
      opt.start();
    }
  }

  get ready(): boolean {
    return this.manager.ready;
  }

  notReadyReason(): string {
    return this.manager.notReadyReason();
  }

  // ------------------------------------------------------------ CNI hooks

  /** Pod reads started by `prepare`, by namespace/name. */
  private readonly reads = new Map<string, Promise<ParsedObject | undefined>>();

  /**
   * The informer may lag the kubelet by a moment, and the pod's labels
   * decide which policies select it: read a pod the cache lacks once, while
   * IPAM and the veth are under way.
   */
  prepare(a: Omit<PolicyAttachment, "ips">): void {
    if (a.k8s === undefined) return;
    const { namespace, pod } = a.k8s;
    const key = `${namespace}/${pod}`;
    if (this.manager.hasPod(namespace, pod) || this.reads.has(key)) return;
    const read = this.o.client
      .get(resourcePath({ group: "", version: "v1", plural: "pods", namespace, name: pod }))
      .then(
        (p) => parseObject({ ...(p as object), kind: "Pod", apiVersion: "v1" }),
        (e: unknown) => {
          if (httpStatus(e) === 404) return undefined;
          throw e;
        },
      );
    read.catch(() => undefined); // handled in attached(); never an unhandled rejection
    this.reads.set(key, read);
    // An ADD that failed before `attached` leaves its read behind: drop it later.
    setTimeout(() => {
      if (this.reads.get(key) === read) this.reads.delete(key);
    }, 30_000).unref();
  }

  async attached(a: PolicyAttachment): Promise<void> {
    let namespace: string;
    let pod: string;
    let podObject: ParsedObject | undefined;
    if (a.k8s !== undefined) {
      ({ namespace, pod } = a.k8s);
      const key = `${namespace}/${pod}`;
      if (!this.manager.hasPod(namespace, pod) && !this.reads.has(key)) this.prepare({ ...a });
      const read = this.reads.get(key);
      this.reads.delete(key);
      if (read !== undefined) podObject = await read;
    } else {
      // Without Kubernetes args the host veth is sha1(containerID.ifname):
      // see policy-inputs.ts (syntheticPod).
      namespace = a.containerID;
      pod = a.ifname;
    }
    await this.manager.attach(
      {
        namespace,
        pod,
        ips: a.ips,
        owner: handleFor(a.containerID, a.ifname),
        ...(a.podUid !== undefined ? { podUid: a.podUid } : {}),
        ...(podObject !== undefined ? { podObject } : {}),
      },
      this.o.addTimeoutMs,
    );
  }

  detached(a: Omit<PolicyAttachment, "ips">): void {
    // Only this attachment's own: a pod's new sandbox may have replaced it.
    const owner = handleFor(a.containerID, a.ifname);
    if (a.k8s !== undefined) this.manager.detach(a.k8s.namespace, a.k8s.pod, owner);
    else this.manager.detach(a.containerID, a.ifname, owner);
  }

  async stop(): Promise<void> {
    this.manager.stop();
    this.nft.close?.();
    for (const o of this.optional) await o.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
