/**
 * An informer for a kind whose CRD may not be installed (the admin policy
 * APIs, Tenant). Absent (404 on list) means empty: the kind counts as synced
 * with no objects, the absence is logged once, and the list is retried with
 * capped backoff until the CRD appears; then a ResilientInformer takes over.
 * Any other error (API unreachable) is not absence: the kind stays unsynced.
 */
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { httpStatus } from "../ipam/ipam-api.js";
import type { ResilientInformer } from "./resilient-informer.js";

export interface OptionalInformerOptions<T extends KubernetesObject> {
  name: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Builds the real informer once the kind is served. */
  make: () => ResilientInformer<T>;
  log: Logger;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** The kind is not served: treat as an empty, synced list. */
  onAbsent: () => void;
  /** The real informer has had its first full list. */
  onSynced: (inf: ResilientInformer<T>) => void;
}

export class OptionalInformer<T extends KubernetesObject> {
  private inf: ResilientInformer<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private loggedAbsent = false;

  constructor(private readonly o: OptionalInformerOptions<T>) {}

  get present(): boolean {
    return this.inf !== undefined;
  }

  start(): void {
    void this.probe();
  }

  private async probe(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.o.list();
    } catch (e) {
      const status = httpStatus(e);
      if (status === 404) {
        if (!this.loggedAbsent) {
          this.loggedAbsent = true;
          this.o.log.info(
            { informer: this.o.name },
            "kind not served (CRD not installed): treated as empty; will look again",
          );
        }
        this.o.onAbsent();
      } else {
        this.o.log.warn(
          { informer: this.o.name, err: e instanceof Error ? e.message : String(e) },
          "listing an optional kind failed; retrying",
        );
      }
      this.failures++;
      const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(this.failures - 1, 16));
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.probe();
      }, delay);
      this.timer.unref();
      return;
    }
    if (this.stopped) return;
    if (this.loggedAbsent) this.o.log.info({ informer: this.o.name }, "kind is served now; watching it");
    const inf = this.o.make();
    this.inf = inf;
    inf.start();
    await inf.waitForSync();
    // ListWatch fills its cache right after the list resolves: read it a turn later.
    setImmediate(() => {
      if (!this.stopped) this.o.onSynced(inf);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.inf?.stop();
  }
}
