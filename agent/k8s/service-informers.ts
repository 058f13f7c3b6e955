/**
 * The agent's watches on Services (core v1) and EndpointSlices
 * (discovery.k8s.io/v1), cluster-wide: what BGP needs to advertise Service
 * addresses (agent/bgp/service-routes.ts decides). Two ResilientInformers
 * on the agent's shared ApiGate and backoff, like every other informer, so
 * an API server outage costs one probe per agent, not one per kind. Both
 * are built-in kinds every API server serves, so an error here is an
 * outage (or missing RBAC), retried with backoff, never "absent".
 */
import type { KubernetesListObject, V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ApiGate } from "./api-gate.js";
import type { KubeClient } from "./kube-client.js";
import { ResilientInformer } from "./resilient-informer.js";

export interface ServiceInformersOptions {
  client: KubeClient;
  log: Logger;
  backoffMinMs: number;
  backoffMaxMs: number;
  gate: ApiGate;
  onRestart: (name: string) => void;
  /** Something changed (after the cache has it). */
  onChange: () => void;
}

export class ServiceInformers {
  private readonly services: ResilientInformer<V1Service>;
  private readonly slices: ResilientInformer<V1EndpointSlice>;

  constructor(o: ServiceInformersOptions) {
    const common = {
      client: o.client,
      log: o.log,
      backoffMinMs: o.backoffMinMs,
      backoffMaxMs: o.backoffMaxMs,
      gate: o.gate,
      onRestart: o.onRestart,
      // The ListWatch updates its cache after the handler: read it a turn later.
      onChange: () => setImmediate(o.onChange),
    };
    this.services = new ResilientInformer<V1Service>({
      ...common,
      name: "services",
      path: "/api/v1/services",
      list: (): Promise<KubernetesListObject<V1Service>> => o.client.get("/api/v1/services"),
    });
    this.slices = new ResilientInformer<V1EndpointSlice>({
      ...common,
      name: "endpointslices",
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      list: (): Promise<KubernetesListObject<V1EndpointSlice>> =>
        o.client.get("/apis/discovery.k8s.io/v1/endpointslices"),
    });
    // An empty first list fires no event, yet the caller may be waiting for it (synced).
    void this.services.waitForSync().then(() => setImmediate(o.onChange));
    void this.slices.waitForSync().then(() => setImmediate(o.onChange));
  }

  start(): void {
    this.services.start();
    this.slices.start();
  }

  /** Both kinds listed once. */
  get synced(): boolean {
    return this.services.synced && this.slices.synced;
  }

  serviceList(): readonly V1Service[] {
    return this.services.list();
  }

  sliceList(): readonly V1EndpointSlice[] {
    return this.slices.list();
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.slices.stop()]);
  }
}
