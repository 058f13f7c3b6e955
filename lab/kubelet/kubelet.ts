/**
 * The kubelet stand-in of one lab node: watches the Pods bound to its node
 * and keeps one sandbox per pod, reporting pod status through the status
 * subresource, as the real kubelet does. Operations on one pod are
 * serialized; different pods proceed in parallel.
 */
import {
  CoreV1Api,
  KubeConfig,
  ListWatch,
  Watch,
  type V1Pod,
  type V1PodCondition,
  type V1PodStatus,
} from "@kubernetes/client-node";
import { availableParallelism, release, totalmem } from "node:os";
import type { Logger } from "pino";
import { CniPluginError } from "./cni-runtime.js";
import { setupSandbox, teardownSandbox, type SandboxContext } from "./sandbox.js";
import type { PodState } from "./pod-state.js";
import { backoffDelay } from "../../net/backoff.js";
import { KUBELET_BACKOFF } from "./backoff.js";

export interface KubeletOptions {
  nodeName: string;
  nodeAddresses: string[];
  kubeconfig: string;
  sandbox: SandboxContext;
  log: Logger;
}

export class Kubelet {
  private readonly kc = new KubeConfig();
  private readonly core: CoreV1Api;
  private readonly sandboxes = new Map<string, PodState>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly hostNetworkPods = new Set<string>();
  private informer: ListWatch<V1Pod> | undefined;
  private stopped = false;
  private restarts = 0;
  /** Consecutive watch failures since the last successful start. */
  private watchFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: KubeletOptions) {
    this.kc.loadFromFile(o.kubeconfig);
    this.core = this.kc.makeApiClient(CoreV1Api);
  }

  get fieldSelector(): string {
    return `spec.nodeName=${this.o.nodeName}`;
  }

  async start(): Promise<void> {
    for (const s of this.o.sandbox.store.all()) this.sandboxes.set(s.uid, s);
    await this.retry("register node status", () => this.reportNodeReady());
    await this.retry("initial pod sync", () => this.sweepOrphans());
    const lw = new ListWatch<V1Pod>(
      "/api/v1/pods",
      new Watch(this.kc),
      () => this.core.listPodForAllNamespaces({ fieldSelector: this.fieldSelector }),
      false,
      undefined,
      this.fieldSelector,
    );
    lw.on("add", (p) => this.onPod(p));
    lw.on("update", (p) => this.onPod(p));
    lw.on("delete", (p) => this.onPodGone(p));
    lw.on("error", (e) => this.onInformerError(e));
    lw.on("connect", () => this.o.log.debug("pod watch (re)connecting"));
    this.informer = lw;
    await this.startInformer();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    await this.informer?.stop();
    await Promise.allSettled([...this.queues.values()]);
  }

  private async startInformer(): Promise<void> {
    try {
      await this.informer?.start();
      this.watchFailures = 0;
    } catch (e) {
      this.onInformerError(e);
    }
  }

  /**
   * client-node's ListWatch relists by itself on 410 Gone but stops on any
   * other error (docs/architecture.md "Principles"): restart it with capped exponential backoff.
   */
  private onInformerError(e: unknown): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    this.restarts++;
    const backoffMs = backoffDelay(++this.watchFailures, KUBELET_BACKOFF, Math.random);
    this.o.log.warn({ err: errText(e), restarts: this.restarts, backoffMs }, "pod watch failed");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.startInformer();
    }, backoffMs);
  }

  /** Sandboxes on disk whose pod is gone from the API (deleted while we were down). */
  private async sweepOrphans(): Promise<void> {
    const list = await this.core.listPodForAllNamespaces({ fieldSelector: this.fieldSelector });
    const live = new Set(list.items.map((p) => p.metadata?.uid ?? ""));
    for (const s of [...this.sandboxes.values()]) {
      if (!live.has(s.uid)) this.enqueue(s.uid, () => this.teardown(s, "pod gone from the API"));
    }
  }

  private onPod(p: V1Pod): void {
    const uid = p.metadata?.uid;
    if (uid === undefined || p.spec?.nodeName !== this.o.nodeName) return;
    if (p.metadata?.deletionTimestamp !== undefined) {
      this.enqueue(uid, async () => {
        const s = this.sandboxes.get(uid);
        if (s !== undefined) await this.teardown(s, "pod terminating");
        // Graceful deletion: the kubelet confirms with a zero-grace delete.
        await ignore404(
          this.core.deleteNamespacedPod({
            name: p.metadata?.name ?? "",
            namespace: p.metadata?.namespace ?? "",
            gracePeriodSeconds: 0,
          }),
        );
      });
      return;
    }
    const phase = p.status?.phase;
    if (phase === "Failed" || phase === "Succeeded") return;
    this.enqueue(uid, async () => {
      if (this.sandboxes.has(uid)) return;
      await this.setup(p, uid);
    });
  }

  private onPodGone(p: V1Pod): void {
    const uid = p.metadata?.uid;
    if (uid === undefined) return;
    this.hostNetworkPods.delete(uid);
    this.enqueue(uid, async () => {
      const s = this.sandboxes.get(uid);
      if (s !== undefined) await this.teardown(s, "pod deleted");
    });
  }

  private enqueue(uid: string, op: () => Promise<void>): void {
    const prev = this.queues.get(uid) ?? Promise.resolve();
    const next = prev
      .then(op)
      .catch((e: unknown) => this.o.log.error({ uid, err: errText(e) }, "pod operation failed"))
      .finally(() => {
        if (this.queues.get(uid) === next) this.queues.delete(uid);
      });
    this.queues.set(uid, next);
  }

  private async setup(p: V1Pod, uid: string): Promise<void> {
    const namespace = p.metadata?.namespace ?? "default";
    const name = p.metadata?.name ?? "";
    const log = this.o.log.child({ pod: `${namespace}/${name}`, uid });
    if (p.spec?.hostNetwork === true) {
      // No sandbox and no CNI for host-network pods (the agent's DaemonSet
      // pod is one): they share the node's namespace and addresses.
      if (this.hostNetworkPods.has(uid) || p.status?.phase === "Running") return;
      this.hostNetworkPods.add(uid);
      log.info("host-network pod: no CNI");
      await this.writePodStatus(namespace, name, uid, this.runningStatus(p, this.o.nodeAddresses, "host"));
      return;
    }
    const t0 = Date.now();
    let state: PodState;
    try {
      state = await setupSandbox(this.o.sandbox, {
        uid,
        namespace,
        name,
        containers: p.spec?.containers ?? [],
      });
    } catch (e) {
      log.error({ err: errText(e) }, "sandbox setup failed");
      await this.writePodStatus(namespace, name, uid, failedStatus(e));
      return;
    }
    this.sandboxes.set(uid, state);
    log.info({ ips: state.ips, ports: state.ports, ms: Date.now() - t0 }, "pod sandbox ready");
    await this.writePodStatus(namespace, name, uid, this.runningStatus(p, state.ips, state.containerId));
  }

  private async teardown(s: PodState, why: string): Promise<void> {
    const log = this.o.log.child({ pod: `${s.namespace}/${s.name}`, uid: s.uid });
    try {
      await teardownSandbox(this.o.sandbox, s);
      log.info({ why }, "pod sandbox removed");
    } catch (e) {
      // The netns and state are gone even when a plugin's DEL failed.
      log.error({ why, err: errText(e) }, "CNI DEL failed; sandbox removed anyway");
    }
    this.sandboxes.delete(s.uid);
  }

  private runningStatus(p: V1Pod, ips: readonly string[], containerId: string): V1PodStatus {
    const now = new Date();
    const cond = (type: string): V1PodCondition => ({ type, status: "True", lastTransitionTime: now });
    return {
      phase: "Running",
      hostIP: this.o.nodeAddresses[0] ?? "",
      hostIPs: this.o.nodeAddresses.map((ip) => ({ ip })),
      podIP: ips[0] ?? "",
      podIPs: ips.map((ip) => ({ ip })),
      startTime: now,
      conditions: [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
      ].map(cond),
      containerStatuses: (p.spec?.containers ?? []).map((c) => ({
        name: c.name,
        image: c.image ?? "",
        imageID: "",
        containerID: `lab://${containerId}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } },
      })),
    };
  }

  /** Read-modify-write of the status subresource, retried on 409 Conflict; a vanished pod is fine. */
  private async writePodStatus(
    namespace: string,
    name: string,
    uid: string,
    status: V1PodStatus,
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      let pod: V1Pod;
      try {
        pod = await this.core.readNamespacedPod({ name, namespace });
      } catch (e) {
        if (httpCode(e) === 404) return;
        throw e;
      }
      if (pod.metadata?.uid !== uid) return;
      pod.status = status;
      try {
        await this.core.replaceNamespacedPodStatus({ name, namespace, body: pod });
        return;
      } catch (e) {
        if (httpCode(e) === 404) return;
        if (httpCode(e) !== 409) throw e;
      }
    }
    throw new Error(`status of ${namespace}/${name}: conflicts on every attempt`);
  }

  private async reportNodeReady(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const node = await this.core.readNode({ name: this.o.nodeName });
      const now = new Date();
      node.status = {
        ...(node.status ?? {}),
        addresses: [
          ...this.o.nodeAddresses.map((address) => ({ type: "InternalIP", address })),
          { type: "Hostname", address: this.o.nodeName },
        ],
        // What a kubelet reports (kubelet's default maxPods is 110): kube-scheduler's
        // NodeResourcesFit filter refuses a node without allocatable pods.
        capacity: nodeCapacity(),
        allocatable: nodeCapacity(),
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "lab kubelet stand-in is posting ready status",
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        nodeInfo: {
          architecture: process.arch,
          bootID: "",
          containerRuntimeVersion: "trellis-lab://1",
          kernelVersion: release(),
          kubeProxyVersion: "",
          kubeletVersion: "trellis-lab",
          machineID: "",
          operatingSystem: "linux",
          osImage: "trellis lab",
          systemUUID: "",
        },
      };
      try {
        await this.core.replaceNodeStatus({ name: this.o.nodeName, body: node });
        return;
      } catch (e) {
        if (httpCode(e) !== 409) throw e;
      }
    }
    throw new Error(`status of node ${this.o.nodeName}: conflicts on every attempt`);
  }

  private async retry(what: string, f: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopped) return;
      try {
        await f();
        return;
      } catch (e) {
        const backoff = backoffDelay(attempt, KUBELET_BACKOFF, Math.random);
        this.o.log.warn({ err: errText(e), backoffMs: backoff }, `${what} failed; retrying`);
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  }
}

function nodeCapacity(): Record<string, string> {
  return {
    cpu: String(availableParallelism()),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: "110",
  };
}

function failedStatus(e: unknown): V1PodStatus {
  const message = errText(e);
  const now = new Date();
  return {
    phase: "Failed",
    reason: "FailedCreatePodSandBox",
    message,
    conditions: [
      {
        type: "PodReadyToStartContainers",
        status: "False",
        reason: "FailedCreatePodSandBox",
        message,
        lastTransitionTime: now,
      },
      { type: "Ready", status: "False", reason: "FailedCreatePodSandBox", message, lastTransitionTime: now },
    ],
  };
}

function errText(e: unknown): string {
  if (e instanceof CniPluginError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

function httpCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "number" ? c : undefined;
}

async function ignore404(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (httpCode(e) !== 404) throw e;
  }
}
