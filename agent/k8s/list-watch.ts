/**
 * LIST then WATCH from the list's resourceVersion, into a cache of
 * objects by namespace and name (api-concepts "Efficient detection of
 * changes"; client-go's Reflector, client-node's ListWatch, whose contract
 * this keeps: `connect` before each list, add/update/delete as the cache
 * changes, `error` and a stop on any failure but 410 Gone, which relists,
 * as an HTTP status or as an ERROR event on an open watch).
 * The resilient informer (resilient-informer.ts) restarts it after an error.
 *
 * The cache updates are pure functions over the map (applyList,
 * applyEvent), unit-tested; the loop around them owns the watch.
 */
import { type BackoffOptions, backoffDelay } from "../../net/backoff.js";
import { KubeApiError, type ApiStatus, type Query, type WatchEvent, httpStatus } from "./kube-request.js";
import type { WatchHandle } from "./kube-client.js";

export interface ObjectMeta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** namespace ("" for cluster-scoped) → name → object. */
export type ObjectCache<T> = Map<string, Map<string, T>>;

export interface CacheChange<T> {
  verb: "add" | "update" | "delete";
  obj: T;
}

function keyOf(obj: ObjectMeta): [string, string] {
  return [obj.metadata?.namespace ?? "", obj.metadata?.name ?? ""];
}

/**
 * A fresh list replaces the cache: objects gone from it are deleted, new
 * ones added, ones whose resourceVersion moved updated (an unchanged
 * resourceVersion is the same object: no event).
 */
export function applyList<T extends ObjectMeta>(
  cache: ObjectCache<T>,
  items: readonly T[],
): CacheChange<T>[] {
  const fresh = new Map<string, Set<string>>();
  for (const it of items) {
    const [ns, name] = keyOf(it);
    let names = fresh.get(ns);
    if (names === undefined) fresh.set(ns, (names = new Set()));
    names.add(name);
  }
  const out: CacheChange<T>[] = [];
  for (const [ns, objs] of cache) {
    const keep = fresh.get(ns);
    for (const [name, obj] of objs) {
      if (keep?.has(name) === true) continue;
      objs.delete(name);
      out.push({ verb: "delete", obj });
    }
    if (objs.size === 0) cache.delete(ns);
  }
  for (const it of items) out.push(...addOrUpdate(cache, it));
  return out;
}

function addOrUpdate<T extends ObjectMeta>(cache: ObjectCache<T>, obj: T): CacheChange<T>[] {
  const [ns, name] = keyOf(obj);
  let objs = cache.get(ns);
  if (objs === undefined) cache.set(ns, (objs = new Map()));
  const found = objs.get(name);
  if (found === undefined) {
    objs.set(name, obj);
    return [{ verb: "add", obj }];
  }
  const rv = found.metadata?.resourceVersion;
  if (rv !== undefined && rv === obj.metadata?.resourceVersion) return [];
  objs.set(name, obj);
  return [{ verb: "update", obj }];
}

/** One watch event into the cache (ADDED/MODIFIED/DELETED; BOOKMARK and ERROR leave it). */
export function applyEvent<T extends ObjectMeta>(
  cache: ObjectCache<T>,
  type: string,
  obj: T,
): CacheChange<T>[] {
  if (type === "ADDED" || type === "MODIFIED") return addOrUpdate(cache, obj);
  if (type !== "DELETED") return [];
  const [ns, name] = keyOf(obj);
  const objs = cache.get(ns);
  if (objs?.delete(name) !== true) return [];
  if (objs.size === 0) cache.delete(ns);
  return [{ verb: "delete", obj }];
}

export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

/**
 * A list this soon after the last one means the watch between them lived
 * no time (a server or a proxy closing every watch at once): without a
 * wait, every informer would LIST and WATCH in a tight loop. client-go's
 * Reflector backs off its ListAndWatch loop likewise (k8s.io/client-go
 * tools/cache/reflector.go, backoffManager).
 */
export const QUICK_RELIST_MS = 1000;
const RELIST_BACKOFF: BackoffOptions = { minMs: 250, maxMs: 30_000, jitter: 0.5, mode: "equal" };

/**
 * Pure: the wait before a list, given how long ago the last list came back
 * (undefined: none yet) and how many quick relists came in a row before.
 */
export function relistWait(
  sinceLastListMs: number | undefined,
  quick: number,
  random: () => number,
): { waitMs: number; quick: number } {
  if (sinceLastListMs === undefined || sinceLastListMs >= QUICK_RELIST_MS) return { waitMs: 0, quick: 0 };
  return { waitMs: backoffDelay(quick + 1, RELIST_BACKOFF, random), quick: quick + 1 };
}

/** What the list-watch watches with: a KubeClient's `watch`, or a wrapper around it. */
export type WatchFn = (
  path: string,
  query: Query,
  onEvent: (ev: WatchEvent) => void,
  done: (err: unknown) => void,
) => WatchHandle;

type Listener<T> = (obj: T) => void;

export class ListWatch<T extends ObjectMeta> {
  private cache: ObjectCache<T> = new Map();
  private resourceVersion = "";
  private handle: WatchHandle | undefined;
  /**
   * Bumped by every start and stop: a cycle (its list, its wait, its watch's
   * callbacks) of an older generation ends without emitting, so a stop then
   * a start while a list is in flight leaves one list/watch loop, not two.
   */
  private generation = 0;
  /** When the last list came back, and the quick relists in a row (relistWait). */
  private listedAt: number | undefined;
  private quickRelists = 0;
  /** Ends a relist wait early (stop). */
  private wake: (() => void) | undefined;
  private readonly listeners = {
    add: [] as Listener<T>[],
    update: [] as Listener<T>[],
    delete: [] as Listener<T>[],
    error: [] as ((err: unknown) => void)[],
    connect: [] as (() => void)[],
  };

  constructor(
    private readonly path: string,
    private readonly watchFn: WatchFn,
    private readonly listFn: () => Promise<ListResult<T>>,
    private readonly fieldSelector?: string,
  ) {}

  on(verb: "add" | "update" | "delete", cb: Listener<T>): void;
  on(verb: "error", cb: (err: unknown) => void): void;
  on(verb: "connect", cb: () => void): void;
  on(verb: keyof ListWatch<T>["listeners"], cb: never): void {
    (this.listeners[verb] as unknown[]).push(cb);
  }

  /** Lists (unless a watch may resume) and watches; errors go to `error` listeners, not to the caller. */
  async start(): Promise<void> {
    await this.cycle(null, this.halt());
  }

  stop(): Promise<void> {
    this.halt();
    return Promise.resolve();
  }

  /** Ends the running cycle (its watch, its relist wait); returns the new generation. */
  private halt(): number {
    this.generation++;
    this.handle?.abort();
    this.handle = undefined;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
    return this.generation;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ?? "")?.get(name);
  }

  list(): T[] {
    const all: T[] = [];
    for (const objs of this.cache.values()) for (const o of objs.values()) all.push(o);
    return all;
  }

  private emit(changes: CacheChange<T>[]): void {
    for (const c of changes) for (const cb of this.listeners[c.verb].slice()) cb(c.obj);
  }

  private async cycle(err: unknown, gen: number): Promise<void> {
    if (gen !== this.generation) return;
    this.handle?.abort();
    this.handle = undefined;
    if (err !== null && err !== undefined && httpStatus(err) === 410) this.resourceVersion = "";
    else if (err !== null && err !== undefined) {
      for (const cb of this.listeners.error.slice()) cb(err);
      return;
    }
    for (const cb of this.listeners.connect.slice()) cb();
    if (this.resourceVersion === "") {
      const w = relistWait(
        this.listedAt === undefined ? undefined : Date.now() - this.listedAt,
        this.quickRelists,
        Math.random,
      );
      this.quickRelists = w.quick;
      if (w.waitMs > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, w.waitMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        if (gen !== this.generation) return;
        this.wake = undefined;
      }
      let l: ListResult<T>;
      try {
        l = await this.listFn();
      } catch (e) {
        if (gen === this.generation) for (const cb of this.listeners.error.slice()) cb(e);
        return;
      }
      if (gen !== this.generation) return;
      this.listedAt = Date.now();
      this.emit(applyList(this.cache, l.items));
      this.resourceVersion = l.metadata?.resourceVersion ?? "";
    }
    const query: Query = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true };
    if (this.fieldSelector !== undefined) query["fieldSelector"] = this.fieldSelector;
    this.handle = this.watchFn(
      this.path,
      query,
      (ev) => this.onEvent(ev, gen),
      (e) => void this.cycle(e, gen),
    );
  }

  private onEvent(ev: WatchEvent, gen: number): void {
    if (gen !== this.generation) return;
    const obj = ev.object as T & { code?: unknown };
    if (ev.type === "ERROR") {
      // The server ends a watch with an ERROR event whose object is a Status
      // (api-concepts "Efficient detection of changes"); either way this
      // watch is over, as client-go's Reflector treats it. 410 Expired: the
      // resourceVersion fell out of the server's window, so list from
      // scratch now. Any other code: the watch failed, reported as an error
      // like a failed watch request, so the informer that owns this
      // ListWatch logs it, counts it and restarts it with its backoff.
      if (obj?.code === 410) {
        this.resourceVersion = "";
        void this.cycle(undefined, gen);
      } else {
        const code = typeof obj?.code === "number" ? obj.code : 500;
        void this.cycle(new KubeApiError(code, "GET", this.path, obj as ApiStatus), gen);
      }
      return;
    }
    this.emit(applyEvent(this.cache, ev.type, obj));
    this.resourceVersion = obj?.metadata?.resourceVersion ?? "";
  }
}
