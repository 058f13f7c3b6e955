/**
 * The storage layer: objects indexed by resource → namespace → name, one
 * global monotonically increasing resourceVersion (like etcd's revision), a
 * bounded per-resource event history for watches, and list snapshots for
 * `limit`/`continue`. It knows nothing of HTTP or of API semantics (defaults,
 * validation): api.ts decides what to write, this file records it and fans
 * events out. Objects are immutable once stored; each carries its JSON text
 * so that lists and watch events serialise every object once, not once per
 * reader (10k pods × 50 watchers must stay linear).
 */

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  managedFields?: unknown[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export interface StoredObject {
  readonly obj: KubeObject;
  readonly json: string;
  readonly rv: number;
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  rv: number;
  namespace: string;
  object: StoredObject;
  /** The object before this event (MODIFIED, DELETED): selectors need it. */
  prev?: StoredObject;
}

export interface StoreWatcher {
  /** Only events in this namespace ("" = all namespaces of a namespaced type, or cluster-scoped). */
  namespace: string | undefined;
  onEvent(ev: StoreEvent): void;
  /** The resource stopped being served (CRD deleted): end the stream. */
  onClose(): void;
}

/**
 * One change as the write-ahead log records it (persistence.ts): a put
 * carries the object's stored JSON (already serialised for watchers, so
 * journaling costs no second stringify), a delete names the object.
 */
export type JournalRecord =
  | { op: "put"; rv: number; key: string; json: string }
  | { op: "del"; rv: number; key: string; namespace: string; name: string };

/** Fixed-capacity ring of events in increasing rv order. */
class EventRing {
  private buf: (StoreEvent | undefined)[];
  private start = 0;
  private len = 0;
  constructor(private capacity: number) {
    this.buf = new Array<StoreEvent | undefined>(Math.max(1, capacity));
  }
  /** Appends; returns the evicted event, if any. */
  push(ev: StoreEvent): StoreEvent | undefined {
    if (this.capacity <= 0) return ev;
    if (this.len < this.capacity) {
      this.buf[(this.start + this.len) % this.capacity] = ev;
      this.len++;
      return undefined;
    }
    const old = this.buf[this.start];
    this.buf[this.start] = ev;
    this.start = (this.start + 1) % this.capacity;
    return old;
  }
  at(i: number): StoreEvent {
    return this.buf[(this.start + i) % this.capacity] as StoreEvent;
  }
  get size(): number {
    return this.len;
  }
  /** Index of the first event with rv > after (binary search). */
  firstAfter(after: number): number {
    let lo = 0;
    let hi = this.len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).rv <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class ResourceTable {
  readonly byNamespace = new Map<string, Map<string, StoredObject>>();
  count = 0;
  readonly history: EventRing;
  /** Every event with rv > compactedRv is still in `history`. */
  compactedRv: number;
  readonly watchers = new Set<StoreWatcher>();

  constructor(historySize: number, startRv: number) {
    this.history = new EventRing(historySize);
    this.compactedRv = startRv;
  }

  get(namespace: string, name: string): StoredObject | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  /** All objects, or one namespace's, in key order (namespace, then name), as etcd lists them. */
  sorted(namespace: string | undefined, match?: (o: KubeObject) => boolean): StoredObject[] {
    const out: StoredObject[] = [];
    const nss = namespace === undefined ? [...this.byNamespace.keys()].sort() : [namespace];
    for (const ns of nss) {
      const m = this.byNamespace.get(ns);
      if (m === undefined) continue;
      // Filter before sorting: a selective list sorts only what it returns.
      const hits = match === undefined ? [...m.values()] : [...m.values()].filter((s) => match(s.obj));
      hits.sort((a, b) => {
        const x = a.obj.metadata.name ?? "";
        const y = b.obj.metadata.name ?? "";
        return x < y ? -1 : x > y ? 1 : 0;
      });
      for (const s of hits) out.push(s);
    }
    return out;
  }

  all(): IterableIterator<StoredObject> {
    const maps = this.byNamespace.values();
    return (function* () {
      for (const m of maps) yield* m.values();
    })();
  }
}

export interface ListSnapshot {
  rv: number;
  items: StoredObject[];
  expires: number;
}

/** Where an object lives: resource key, namespace, name. */
export interface ObjectRef {
  key: string;
  namespace: string;
  name: string;
}

function ownerUids(o: KubeObject | undefined): string[] {
  const refs = o?.metadata.ownerReferences;
  if (!Array.isArray(refs)) return [];
  const out: string[] = [];
  for (const r of refs) {
    const uid = (r as { uid?: unknown } | null)?.uid;
    if (typeof uid === "string") out.push(uid);
  }
  return out;
}

const refId = (r: ObjectRef): string => `${r.key}\u0000${r.namespace}\u0000${r.name}`;

export class ObjectStore {
  private rv: number;
  /** uid → where the object lives (ownerReferences name owners by uid). */
  private readonly byUid = new Map<string, ObjectRef>();
  /** owner uid → its dependents, for garbage collection without scanning. */
  private readonly dependents = new Map<string, Map<string, ObjectRef>>();
  private readonly tables = new Map<string, ResourceTable>();
  private readonly snapshots = new Map<string, ListSnapshot>();
  private snapshotSeq = 0;
  /** Sees every change as it is made (the write-ahead log); undefined = not durable. */
  journal: ((r: JournalRecord) => void) | undefined;

  constructor(
    readonly historySize: number,
    startRv = 1,
    private readonly now: () => number = Date.now,
    private readonly maxSnapshots = 64,
    private readonly snapshotTtlMs = 5 * 60_000,
  ) {
    this.rv = startRv;
  }

  currentRv(): number {
    return this.rv;
  }

  table(key: string): ResourceTable {
    let t = this.tables.get(key);
    if (t === undefined) {
      t = new ResourceTable(this.historySize, this.rv);
      this.tables.set(key, t);
    }
    return t;
  }

  hasTable(key: string): boolean {
    return this.tables.has(key);
  }

  tableKeys(): string[] {
    return [...this.tables.keys()];
  }

  /** Drops a resource's table (CRD deleted), ending its watches. */
  dropTable(key: string): void {
    const t = this.tables.get(key);
    if (t === undefined) return;
    for (const w of t.watchers) w.onClose();
    this.tables.delete(key);
  }

  private serialise(obj: KubeObject, rv: number): StoredObject {
    obj.metadata.resourceVersion = String(rv);
    return { obj, json: JSON.stringify(obj), rv };
  }

  private record(t: ResourceTable, ev: StoreEvent): void {
    const evicted = t.history.push(ev);
    if (evicted !== undefined) t.compactedRv = evicted.rv;
    for (const w of t.watchers) {
      if (w.namespace !== undefined && w.namespace !== "" && w.namespace !== ev.namespace) continue;
      w.onEvent(ev);
    }
  }

  /** Stores a new object (caller checked it does not exist). Sets its resourceVersion. */
  put(key: string, obj: KubeObject): StoredObject {
    const t = this.table(key);
    const ns = obj.metadata.namespace ?? "";
    const name = obj.metadata.name ?? "";
    const rv = ++this.rv;
    const stored = this.serialise(obj, rv);
    this.journal?.({ op: "put", rv, key, json: stored.json });
    let m = t.byNamespace.get(ns);
    if (m === undefined) {
      m = new Map();
      t.byNamespace.set(ns, m);
    }
    const prev = m.get(name);
    m.set(name, stored);
    if (prev === undefined) t.count++;
    this.index({ key, namespace: ns, name }, prev?.obj, stored.obj);
    const ev: StoreEvent = {
      type: prev === undefined ? "ADDED" : "MODIFIED",
      rv,
      namespace: ns,
      object: stored,
    };
    if (prev !== undefined) ev.prev = prev;
    this.record(t, ev);
    return stored;
  }

  /** Removes an object; the DELETED event carries it with a fresh resourceVersion (as upstream). */
  remove(key: string, namespace: string, name: string): StoredObject | undefined {
    const t = this.tables.get(key);
    const m = t?.byNamespace.get(namespace);
    const prev = m?.get(name);
    if (t === undefined || m === undefined || prev === undefined) return undefined;
    m.delete(name);
    if (m.size === 0) t.byNamespace.delete(namespace);
    t.count--;
    this.index({ key, namespace, name }, prev.obj, undefined);
    const rv = ++this.rv;
    this.journal?.({ op: "del", rv, key, namespace, name });
    const gone = this.serialise(structuredClone(prev.obj), rv);
    this.record(t, { type: "DELETED", rv, namespace, object: gone, prev });
    return gone;
  }

  /**
   * Events of `key` after `rv`, or undefined if some of them were already
   * evicted from the bounded history (the caller answers 410 Gone).
   */
  eventsSince(key: string, rv: number): StoreEvent[] | undefined {
    const t = this.table(key);
    if (rv < t.compactedRv) return undefined;
    const out: StoreEvent[] = [];
    for (let i = t.history.firstAfter(rv); i < t.history.size; i++) out.push(t.history.at(i));
    return out;
  }

  /** Restores an object with its recorded resourceVersion, without an event (state file). */
  restore(key: string, obj: KubeObject): void {
    const t = this.table(key);
    const ns = obj.metadata.namespace ?? "";
    const rv = Number(obj.metadata.resourceVersion ?? "0") || 0;
    let m = t.byNamespace.get(ns);
    if (m === undefined) {
      m = new Map();
      t.byNamespace.set(ns, m);
    }
    const prev = m.get(obj.metadata.name ?? "");
    if (prev === undefined) t.count++;
    m.set(obj.metadata.name ?? "", { obj, json: JSON.stringify(obj), rv });
    this.index({ key, namespace: ns, name: obj.metadata.name ?? "" }, prev?.obj, obj);
  }

  /** Removes an object without an event (replaying a logged delete). */
  erase(key: string, namespace: string, name: string): void {
    const t = this.tables.get(key);
    const m = t?.byNamespace.get(namespace);
    const prev = m?.get(name);
    if (t === undefined || m === undefined || prev === undefined) return;
    m.delete(name);
    if (m.size === 0) t.byNamespace.delete(namespace);
    t.count--;
    this.index({ key, namespace, name }, prev.obj, undefined);
  }

  /** Continues numbering after a restore; history (and so watch resumption) starts at `rv`. */
  resetRv(rv: number): void {
    this.rv = Math.max(this.rv, rv);
    for (const t of this.tables.values()) t.compactedRv = this.rv;
  }

  private index(ref: ObjectRef, prev: KubeObject | undefined, next: KubeObject | undefined): void {
    const id = refId(ref);
    const prevUid = prev?.metadata.uid;
    if (prevUid !== undefined && prevUid !== next?.metadata.uid) this.byUid.delete(prevUid);
    const uid = next?.metadata.uid;
    if (uid !== undefined) this.byUid.set(uid, ref);
    for (const o of ownerUids(prev)) {
      const d = this.dependents.get(o);
      d?.delete(id);
      if (d !== undefined && d.size === 0) this.dependents.delete(o);
    }
    for (const o of ownerUids(next)) {
      let d = this.dependents.get(o);
      if (d === undefined) {
        d = new Map();
        this.dependents.set(o, d);
      }
      d.set(id, ref);
    }
  }

  /** Where the object with this uid lives, if it exists. */
  locate(uid: string): ObjectRef | undefined {
    return this.byUid.get(uid);
  }

  /** Objects whose ownerReferences name `uid`. */
  dependentsOf(uid: string): ObjectRef[] {
    return [...(this.dependents.get(uid)?.values() ?? [])];
  }

  /** Saves a consistent list for later `continue` pages; returns its id. */
  saveSnapshot(items: StoredObject[]): string {
    const now = this.now();
    for (const [id, s] of this.snapshots) if (s.expires < now) this.snapshots.delete(id);
    while (this.snapshots.size >= this.maxSnapshots) {
      const oldest = this.snapshots.keys().next().value;
      if (oldest === undefined) break;
      this.snapshots.delete(oldest);
    }
    const id = String(++this.snapshotSeq);
    this.snapshots.set(id, { rv: this.rv, items, expires: now + this.snapshotTtlMs });
    return id;
  }

  snapshot(id: string): ListSnapshot | undefined {
    const s = this.snapshots.get(id);
    if (s === undefined || s.expires < this.now()) return undefined;
    return s;
  }
}
