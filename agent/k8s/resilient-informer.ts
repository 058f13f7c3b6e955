/**
 * A client-node ListWatch that never stays down. client-node relists by
 * itself on 410 Gone but, on any other error (API server restart, a refused
 * connection, a 5xx), emits "error" and stops for good (docs/architecture.md "Principles"). Here every
 * error schedules a restart with capped exponential backoff and is counted,
 * and `synced` says whether the first full list has been seen.
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface InformerOptions<T extends KubernetesObject> {
  name: string;
  kc: KubeConfig;
  /** Watch path, e.g. "/api/v1/pods". */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  log: Logger;
  backoffMinMs: number;
  backoffMaxMs: number;
  onRestart?: (name: string) => void;
  onChange?: (verb: "add" | "update" | "delete", obj: T) => void;
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private stopped = false;
  private listed = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  restarts = 0;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(private readonly o: InformerOptions<T>) {
    const listFn = async (): Promise<KubernetesListObject<T>> => {
      const l = await o.list();
      this.listed = true;
      this.failures = 0;
      for (const w of this.syncWaiters.splice(0)) w();
      return l;
    };
    this.lw = new ListWatch<T>(o.path, new Watch(o.kc), listFn, false, undefined, o.fieldSelector);
    this.lw.on("error", (err: unknown) => this.restart(err));
    this.lw.on("connect", () => {
      // A watch connected (or reconnected) without error resets the backoff.
      if (this.listed) this.failures = 0;
    });
    const cb = o.onChange;
    if (cb !== undefined) {
      this.lw.on("add", (obj) => cb("add", obj));
      this.lw.on("update", (obj) => cb("update", obj));
      this.lw.on("delete", (obj) => cb("delete", obj));
    }
  }

  get synced(): boolean {
    return this.listed;
  }

  waitForSync(): Promise<void> {
    if (this.listed) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    this.stopped = false;
    this.lw.start().catch((e: unknown) => this.restart(e));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.lw.stop();
  }

  list(): readonly T[] {
    return this.lw.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  private restart(err: unknown): void {
    if (this.stopped || this.timer !== undefined) return;
    this.failures++;
    this.restarts++;
    this.o.onRestart?.(this.o.name);
    const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(this.failures - 1, 16));
    // Full jitter keeps many agents from reconnecting in lockstep after an API outage.
    const wait = Math.round(delay / 2 + (Math.random() * delay) / 2);
    this.o.log.warn(
      { informer: this.o.name, err: err instanceof Error ? err.message : String(err), retryInMs: wait },
      "informer failed; restarting",
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.lw.start().catch((e: unknown) => this.restart(e));
    }, wait);
  }
}
