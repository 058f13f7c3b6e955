/**
 * One watch: replays history (or synthesises ADDED events for the current
 * state), then streams live events, filtered by namespace and selectors.
 * Semantics from "API Concepts → Efficient detection of changes" and the
 * watch cache (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go):
 *   - resourceVersion absent or "0": synthetic ADDED for every matching
 *     object, then changes;
 *   - resourceVersion N: every change after N, or, when N is older than the
 *     bounded history, one ERROR event carrying a 410 Expired Status, after
 *     which the stream ends (clients relist); when N is ahead of the store
 *     (a store that went backwards), the watch is accepted and stays silent
 *     until the store passes N: only events and bookmarks above N are sent
 *     (cache_watcher.go `process`: "only send events newer than
 *     resourceVersion"), as kube-apiserver does;
 *   - with a selector, an object that starts matching arrives as ADDED and
 *     one that stops matching as DELETED (its last matching state, at the
 *     new resourceVersion);
 *   - `allowWatchBookmarks`: periodic BOOKMARK events that carry only the
 *     current resourceVersion; with `sendInitialEvents=true` a bookmark
 *     annotated `k8s.io/initial-events-end` closes the initial state.
 */
import type { Logger } from "pino";
import type { KubeObject, ObjectStore, StoreEvent, StoredObject, StoreWatcher } from "./object-store.js";
import { gone } from "./status.js";

export interface WatchSink {
  /** Writes one chunk; returns the bytes still buffered (for slow-client cut-off). */
  write(chunk: string): number;
  end(): void;
}

export interface WatchParams {
  store: ObjectStore;
  key: string;
  namespace: string | undefined;
  kind: string;
  apiVersion: string;
  match: ((o: KubeObject) => boolean) | undefined;
  resourceVersion: string;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  bookmarkIntervalMs: number;
  timeoutMs: number;
  /** Object JSON for this client (version conversion, Table); used when !sameVersion. */
  render: (s: StoredObject) => string;
  /** When true the stored JSON is what the client wants: serialise each event once for all watchers. */
  sameVersion: boolean;
  log: Logger;
}

/** A client that lets this much pile up unread is cut off (upstream drops slow watchers too). */
const MAX_BUFFERED = 64 * 1024 * 1024;

/** Per-event cache of serialised lines, shared by every watcher that sends the same thing. */
const lineCache = new WeakMap<StoredObject, Map<string, string>>();

function line(type: string, s: StoredObject, p: WatchParams): string {
  if (!p.sameVersion) return `{"type":"${type}","object":${p.render(s)}}\n`;
  let m = lineCache.get(s);
  if (m === undefined) {
    m = new Map();
    lineCache.set(s, m);
  }
  let l = m.get(type);
  if (l === undefined) {
    l = `{"type":"${type}","object":${s.json}}\n`;
    m.set(type, l);
  }
  return l;
}

/** The previous object as it left the selector: its last state, stamped with the event's resourceVersion. */
const leftCache = new WeakMap<StoreEvent, StoredObject>();
function leftObject(ev: StoreEvent): StoredObject {
  const prev = ev.prev as StoredObject;
  let s = leftCache.get(ev);
  if (s === undefined) {
    const obj = structuredClone(prev.obj);
    obj.metadata.resourceVersion = String(ev.rv);
    s = { obj, json: JSON.stringify(obj), rv: ev.rv };
    leftCache.set(ev, s);
  }
  return s;
}

/** Maps a store event to what this watcher sees, or nothing (pure). */
export function filterEvent(
  ev: StoreEvent,
  match: ((o: KubeObject) => boolean) | undefined,
): { type: "ADDED" | "MODIFIED" | "DELETED"; object: StoredObject } | undefined {
  if (match === undefined) return { type: ev.type, object: ev.object };
  const cur = ev.type === "DELETED" ? false : match(ev.object.obj);
  const before = ev.prev === undefined ? false : match(ev.prev.obj);
  if (ev.type === "DELETED") return before ? { type: "DELETED", object: ev.object } : undefined;
  if (cur && before) return { type: "MODIFIED", object: ev.object };
  if (cur) return { type: "ADDED", object: ev.object };
  if (before) return { type: "DELETED", object: leftObject(ev) };
  return undefined;
}

export function startWatch(p: WatchParams, sink: WatchSink): () => void {
  const table = p.store.table(p.key);
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  let bookmarkTimer: NodeJS.Timeout | undefined;
  /** Nothing at or below this resourceVersion is sent (a watch from ahead of the store). */
  let floor = 0;
  const watcher: StoreWatcher = {
    namespace: p.namespace,
    onEvent: (ev) => deliver(ev),
    onClose: () => stop(),
  };

  function stop(): void {
    if (stopped) return;
    stopped = true;
    table.watchers.delete(watcher);
    for (const t of timers) clearTimeout(t);
    if (bookmarkTimer !== undefined) clearTimeout(bookmarkTimer);
    sink.end();
  }

  function send(chunk: string): void {
    if (stopped) return;
    const buffered = sink.write(chunk);
    if (buffered > MAX_BUFFERED) {
      p.log.warn({ resource: p.key, buffered }, "watch client too slow, closing");
      stop();
    }
  }

  function deliver(ev: StoreEvent): void {
    if (ev.rv <= floor) return;
    const out = filterEvent(ev, p.match);
    if (out !== undefined) send(line(out.type, out.object, p));
  }

  function bookmark(annotations?: Record<string, string>): string {
    // Events are delivered synchronously with every write, so this watcher
    // has seen everything up to the store's current resourceVersion.
    const metadata: Record<string, unknown> = { resourceVersion: String(p.store.currentRv()) };
    if (annotations !== undefined) metadata.annotations = annotations;
    return (
      JSON.stringify({ type: "BOOKMARK", object: { kind: p.kind, apiVersion: p.apiVersion, metadata } }) +
      "\n"
    );
  }

  const rvStr = p.resourceVersion;
  if (rvStr === "" || rvStr === "0" || p.sendInitialEvents) {
    for (const s of table.all()) {
      if (p.namespace !== undefined && (s.obj.metadata.namespace ?? "") !== p.namespace) continue;
      if (p.match !== undefined && !p.match(s.obj)) continue;
      send(line("ADDED", s, p));
    }
    if (p.sendInitialEvents && p.allowBookmarks) send(bookmark({ "k8s.io/initial-events-end": "true" }));
  } else {
    const rv = Number(rvStr);
    const current = p.store.currentRv();
    if (rv > current) floor = rv;
    const events = rv > current ? [] : p.store.eventsSince(p.key, rv);
    if (events === undefined) {
      const why = `too old resource version: ${rv} (${table.compactedRv + 1})`;
      send(JSON.stringify({ type: "ERROR", object: gone(why).toStatus() }) + "\n");
      stop();
      return stop;
    }
    for (const ev of events) {
      if (p.namespace !== undefined && ev.namespace !== p.namespace) continue;
      deliver(ev);
    }
  }
  if (stopped) return stop;
  table.watchers.add(watcher);
  timers.push(setTimeout(stop, p.timeoutMs));
  if (p.allowBookmarks) {
    const tick = (): void => {
      if (stopped) return;
      if (p.store.currentRv() > floor) send(bookmark());
      bookmarkTimer = setTimeout(tick, p.bookmarkIntervalMs);
    };
    bookmarkTimer = setTimeout(tick, p.bookmarkIntervalMs);
  }
  return stop;
}
