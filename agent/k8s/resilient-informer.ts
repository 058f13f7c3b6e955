/**
 * A ListWatch (list-watch.ts) that never stays down. The ListWatch relists by
 * itself on 410 Gone but, on any other error (API server restart, a refused
 * connection, a 5xx), emits "error" and stops (docs/architecture.md "Principles"). Here every
 * error schedules a restart with jittered exponential backoff and is counted;
 * when the backoff resets and what is logged is decided by the pure
 * informerStep (informer-backoff.ts): one line when the API server is lost,
 * one when the informer is back in sync, debug per attempt.
 *
 * Two more things ride on the watch: every delivered event or bookmark (the
 * proof that the server works end to end) and every resourceVersion, for the
 * rollback guard (rollback-guard.ts): a list or event below what was already
 * seen is refused, the cache keeps its last good state, and `rolledBack`
 * says so until the server serves a resourceVersion at or above it again.
 *
 * When a watch ends (an error, or the server closing it) the informer
 * relists instead of resuming it: the server it reconnects to may hold a
 * store that went backwards, and
 * kube-apiserver accepts a watch from a resourceVersion it has not reached
 * and sends nothing, not even bookmarks, until it gets there
 * (k8s.io/apiserver cacher, cache_watcher.go `process`: only events newer
 * than the watch's resourceVersion). Only a list shows the rollback.
 */
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "./kube-client.js";
import { ListWatch, type WatchFn } from "./list-watch.js";
import type { Logger } from "pino";
import {
  type InformerHealth,
  type InformerSignal,
  type InformerStep,
  informerStep,
  initialHealth,
} from "./informer-backoff.js";
import type { ApiGate } from "./api-gate.js";
import { type RollbackGuard, judgeRv } from "./rollback-guard.js";
import { apiRefusal, refusalText } from "./api-refusal.js";

export interface InformerOptions<T extends KubernetesObject> {
  name: string;
  client: KubeClient;
  /** Watch path, e.g. "/api/v1/pods". */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  log: Logger;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Called once per retry attempt (metrics). */
  onRestart?: (name: string) => void;
  onChange?: (verb: "add" | "update" | "delete", obj: T) => void;
  /** The rollback guard tripped (true) or cleared (false). */
  onRollback?: (name: string, rolledBack: boolean) => void;
  /** The agent's shared view of the API server: one probe per agent during an outage (api-gate.ts). */
  gate?: ApiGate;
  /** Injected for tests. */
  now?: () => number;
  random?: () => number;
}

/** Thrown from the list function when the server's list went backwards: the ListWatch keeps its cache. */
export class StoreRolledBackError extends Error {
  readonly code = "TRELLIS_E_STORE_ROLLED_BACK";
  constructor(
    readonly informer: string,
    readonly seen: number,
    readonly got: number,
  ) {
    super(
      `informer ${informer}: the API server's resourceVersion went backwards (${got} < ${seen} already seen)`,
    );
    this.name = "StoreRolledBackError";
  }
}

/** The ListWatch reads `statusCode` 410 as "relist now". */
function goneError(why: string): Error & { statusCode: number } {
  return Object.assign(new Error(why), { statusCode: 410 });
}

interface WatchObserver {
  /** A watch line arrived; false = refuse it (the watch ends and a relist follows). */
  line(phase: string, obj: unknown): boolean;
}

/**
 * The client's watch with a look at every line before the ListWatch
 * applies it, and a relist after every watch that ended (see the top).
 */
class ObservedWatch {
  /** Set when a watch ends: the next watch is answered 410 here, so the ListWatch relists first. */
  relistNext = false;

  constructor(
    private readonly client: KubeClient,
    private readonly observer: WatchObserver,
  ) {}

  readonly watch: WatchFn = (path, query, onEvent, done) => {
    let finished = false;
    let refused = false;
    const doneOnce = (err: unknown): void => {
      if (finished) return;
      finished = true;
      // However it ended (an error, the server closing it, a restart), the next watch starts with a list.
      this.relistNext = true;
      done(err);
    };
    if (this.relistNext && query["resourceVersion"]) {
      this.relistNext = false;
      // Answered as a server answers 410 Gone, after this call returns (the ListWatch holds the handle first).
      const timer = setImmediate(() =>
        doneOnce(goneError("relist after a failure: the store may have gone backwards")),
      );
      return { abort: () => clearImmediate(timer) };
    }
    const handle = this.client.watch(
      path,
      query,
      (ev) => {
        if (refused) return;
        dropManagedFields(ev.object);
        if (!this.observer.line(ev.type, ev.object)) {
          refused = true;
          handle.abort();
          doneOnce(goneError("watch event below the resourceVersion already seen"));
          return;
        }
        onEvent(ev);
      },
      doneOnce,
    );
    return handle;
  };
}

/**
 * Drops `metadata.managedFields` (server-side apply's field ownership, often
 * the largest part of an object: KEP-555) before an object reaches the cache:
 * nothing in the agent reads it, and every informer would otherwise hold it
 * for each object it caches (Pods on a busy node, policies, namespaces).
 */
export function dropManagedFields(obj: unknown): void {
  const meta = (obj as { metadata?: { managedFields?: unknown } } | null)?.metadata;
  if (meta !== undefined && meta !== null && "managedFields" in meta) delete meta.managedFields;
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private stopped = false;
  private listed = false;
  private health: InformerHealth = initialHealth();
  private guard: RollbackGuard = {};
  /** The last refusal logged (api-refusal.ts), so a retried refusal is one line, not one per attempt. */
  private lastRefusal: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  /** Retry attempts since start (each is one list or watch request that failed). */
  restarts = 0;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(private readonly o: InformerOptions<T>) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    const listFn = async (): Promise<KubernetesListObject<T>> => {
      watch.relistNext = false;
      const l = await o.list();
      // The server answered: reachable, whatever the guard makes of the answer (api-gate.ts).
      o.gate?.succeeded(o.name);
      // Refused before the ListWatch sees it: its cache (and every consumer) keeps the last good state.
      if (!this.judge(l.metadata?.resourceVersion)) {
        const r = this.guard.rolledBack;
        throw new StoreRolledBackError(o.name, r?.seen ?? 0, r?.got ?? 0);
      }
      for (const item of l.items) dropManagedFields(item);
      this.listed = true;
      this.signal({ type: "listed" });
      for (const w of this.syncWaiters.splice(0)) w();
      return l;
    };
    const watch = new ObservedWatch(o.client, {
      line: (phase, obj) => {
        if (phase === "ERROR") {
          // 410 Expired: the ListWatch relists; the old cache is no proof of anything.
          if ((obj as { code?: unknown } | null)?.code === 410) this.signal({ type: "relist" });
          return true;
        }
        const rv = (obj as KubernetesObject | null)?.metadata?.resourceVersion;
        if (!this.judge(rv)) {
          this.signal({ type: "relist" });
          return false;
        }
        this.signal({ type: "delivered" });
        o.gate?.succeeded(o.name);
        return true;
      },
    });
    this.lw = new ListWatch<T>(o.path, watch.watch, listFn, o.fieldSelector);
    this.lw.on("error", (err: unknown) => this.restart(err));
    this.lw.on("connect", () => this.signal({ type: "connected" }));
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

  get name(): string {
    return this.o.name;
  }

  /** Set while the server serves a store older than what this informer has seen. */
  get rolledBack(): { seen: number; got: number } | undefined {
    return this.guard.rolledBack;
  }

  /** Where the backoff state machine stands (status, tests). */
  get state(): Readonly<InformerHealth> {
    return this.health;
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
    this.o.gate?.gone(this.o.name);
    await this.lw.stop();
  }

  list(): readonly T[] {
    return this.lw.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  /** Runs the rollback guard on one resourceVersion; false = refuse. */
  private judge(rv: string | undefined): boolean {
    const v = judgeRv(this.guard, rv);
    this.guard = v.guard;
    if (v.tripped === true) {
      const r = v.guard.rolledBack;
      this.o.log.error(
        { informer: this.o.name, seenResourceVersion: r?.seen, servedResourceVersion: r?.got },
        "the API server's store went backwards (restored or lost state); keeping the last good state " +
          "and acting on nothing from this informer until it catches up (or the agent is restarted)",
      );
      this.o.onRollback?.(this.o.name, true);
    }
    if (v.cleared === true) {
      this.o.log.info(
        { informer: this.o.name, resourceVersion: rv },
        "the API server's store is back at or above what was seen; resuming",
      );
      this.o.onRollback?.(this.o.name, false);
    }
    return v.accept;
  }

  private signal(sig: InformerSignal, err?: unknown): InformerStep {
    const step = informerStep(
      this.health,
      sig,
      { minMs: this.o.backoffMinMs, maxMs: this.o.backoffMaxMs },
      this.now(),
      this.random(),
    );
    this.health = step.health;
    const l = step.log;
    // A refused rollback has its own error line (judge); the server itself is reachable.
    // A refusal has its own error line (restart); the server itself is reachable.
    if (l?.what === "lost" && !(err instanceof StoreRolledBackError) && apiRefusal(err) === undefined) {
      this.o.log.warn(
        { informer: this.o.name, err: errText(err) },
        `informer ${this.o.name} lost the API server; retrying with backoff`,
      );
    } else if (l?.what === "recovered") {
      this.lastRefusal = undefined;
      this.o.log.info(
        { informer: this.o.name, attempts: l.attempts, seconds: Number(l.seconds.toFixed(1)) },
        `informer ${this.o.name} back in sync after ${l.attempts} attempts over ${l.seconds.toFixed(1)} s`,
      );
    }
    return step;
  }

  private restart(err: unknown): void {
    if (this.stopped || this.timer !== undefined) return;
    // A refusal (401/403) is not an outage: say which permission is missing, once per message.
    const refused = apiRefusal(err);
    if (refused !== undefined && refused.message !== this.lastRefusal)
      this.o.log.error(
        { informer: this.o.name, status: refused.status },
        refusalText(this.o.name, refused, `list/watch ${this.o.path}`),
      );
    this.lastRefusal = refused?.message;
    const step = this.signal({ type: "failed" }, err);
    // A refused rollback came from a server that answers: it says nothing about reachability.
    if (!(err instanceof StoreRolledBackError)) this.o.gate?.failed(this.o.name);
    this.restarts++;
    this.o.onRestart?.(this.o.name);
    const wait = step.retryInMs ?? this.o.backoffMinMs;
    this.o.log.debug(
      { informer: this.o.name, err: errText(err), attempt: step.health.failures, retryInMs: wait },
      "informer attempt failed",
    );
    const attempt = (): void => {
      if (this.stopped) return;
      this.lw.start().catch((e: unknown) => this.restart(e));
    };
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      if (this.o.gate === undefined) attempt();
      else this.o.gate.whenMayAttempt(this.o.name, attempt);
    }, wait);
  }
}

function errText(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  return err instanceof Error ? err.message : String(err);
}
