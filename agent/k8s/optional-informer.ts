/**
 * An informer for a kind whose CRD may not be installed (the admin policy
 * APIs, Tenant). Absent (404 on list) means empty: the kind counts as synced
 * with no objects, the absence is logged once, and the list is retried with
 * capped backoff until the CRD appears; then a ResilientInformer takes over.
 * Any other error (API unreachable) is not absence: the kind stays unsynced.
 * Retries follow the informers' backoff (informer-backoff.ts): jittered,
 * exponential, one warning when the API server is lost (not one per attempt).
 * A probe is a list only; the failure count resets when the real informer
 * takes over, which then applies the full list-and-watch rule itself.
 */
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { httpStatus } from "./kube-request.js";
import { type InformerHealth, informerStep, initialHealth } from "./informer-backoff.js";
import { apiRefusal, refusalText } from "./api-refusal.js";
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
  /** Called once per failed probe that was not a 404 (metrics). */
  onRestart?: (name: string) => void;
  /** Injected for tests. */
  random?: () => number;
}

export class OptionalInformer<T extends KubernetesObject> {
  private inf: ResilientInformer<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private health: InformerHealth = initialHealth();
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
      const step = informerStep(
        this.health,
        { type: "failed" },
        { minMs: this.o.backoffMinMs, maxMs: this.o.backoffMaxMs },
        Date.now(),
        (this.o.random ?? Math.random)(),
      );
      this.health = step.health;
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
        this.o.onRestart?.(this.o.name);
        const err = e instanceof Error ? e.message : String(e);
        // A refusal (401/403) is not an outage: say which permission is missing (each failed probe is already backed off).
        const refused = apiRefusal(e);
        if (refused !== undefined && step.log?.what === "lost")
          this.o.log.error(
            { informer: this.o.name, status: refused.status },
            refusalText(this.o.name, refused),
          );
        else if (step.log?.what === "lost")
          this.o.log.warn(
            { informer: this.o.name, err },
            `informer ${this.o.name} lost the API server; retrying with backoff`,
          );
        else this.o.log.debug({ informer: this.o.name, err, attempt: step.health.failures }, "probe failed");
      }
      const delay = step.retryInMs ?? this.o.backoffMaxMs;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.probe();
      }, delay);
      this.timer.unref();
      return;
    }
    if (this.stopped) return;
    if (this.loggedAbsent) this.o.log.info({ informer: this.o.name }, "kind is served now; watching it");
    else if (this.health.phase === "lost")
      this.o.log.info(
        { informer: this.o.name, attempts: this.health.failures },
        `informer ${this.o.name} reached the API server again after ${this.health.failures} attempts`,
      );
    this.health = initialHealth();
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
