/**
 * The policy manager, felix-style (docs/architecture.md "Principles"): event handlers only record the
 * change and mark the object dirty (no I/O); one sync loop turns the dirty
 * objects into updates of the incremental compiler's state
 * (policy/compiler/incremental.ts) and hands the driver just the commands
 * for what they touched (element adds/deletes, new and gone chains), in one
 * transaction. The full path — compile the whole desired table and let the
 * driver diff it (or replace it) — runs for the first apply, after any
 * failure, on the periodic resync (the kernel read back and repaired), and
 * for Node and Tenant changes; it also rebuilds the incremental state.
 *
 * - Rate bound: at most one apply per `minIntervalMs`; a burst of updates
 *   coalesces into the next apply; when idle, an update applies at once.
 * - Nothing is applied before every required kind has had its first full
 *   list (docs/architecture.md: never sweep kernel state before the first full sync):
 *   until then the kernel keeps whatever the previous agent left, and the
 *   agent is not ready, so no ADD is served (see agent/README.md).
 * - A failed apply keeps the last good rules (the driver's transactions are
 *   all or nothing), asks the driver to read the kernel back, and retries
 *   with capped backoff. A full resync runs on a timer.
 * - `attach()` returns a promise that settles when a table including that
 *   pod has been applied: the CNI ADD awaits it (fail closed on ADD).
 * - After each apply, the established flows of the addresses the change
 *   touched are re-checked against the new rules, and those they deny are
 *   cut off by a conntrack mark (revocation.ts says which and why), so a
 *   flow the new rules deny stops instead of riding its `ct state
 *   established`.
 *   Revocations run one after another, off the apply path: the ADD that
 *   waits for its rules never waits for them.
 */
import type { Logger } from "pino";
import type { NftTable } from "../../policy/compiler/nft-table.js";
import { compile } from "../../policy/compiler/compile.js";
import {
  deltaCommands,
  emptyDelta,
  initialState,
  materialize,
  mergeDeltas,
  updateObject,
  type CompilerState,
} from "../../policy/compiler/incremental.js";
import { PolicyInputError, buildClusterFromObjects, type ParsedObject } from "../../policy/model/load.js";
import type { ApplyResult } from "../nft/driver.js";
import { diffTable } from "../nft/diff.js";
import { observe } from "../nft/kernel-state.js";
import { compilerInputs, objectKey, parseWatched, podInput, type LocalAttachment } from "./policy-inputs.js";
import { PolicyMetrics } from "./policy-metrics.js";
import { type Registry, createRegistry } from "../../net/metrics.js";
import { backoffDelay } from "../../net/backoff.js";
import { POLICY_TABLE } from "../../policy/compiler/nft-table.js";
import { localPodsOfState, localPodsOfTable, recheck, revocationFor } from "./revocation.js";
import type { Revoker } from "./conntrack-revoker.js";

export interface PolicyDriver {
  apply(table: NftTable): Promise<ApplyResult>;
  /** Commands computed by the incremental compiler; without it every sync takes the full path. */
  applyCommands?(cmds: readonly Record<string, unknown>[], desired: () => NftTable): Promise<ApplyResult>;
  requestResync(): void;
}

/** Kinds the incremental compiler updates in place; any other change takes the full path. */
const INCREMENTAL_KINDS = new Set([
  "Pod",
  "Namespace",
  "NetworkPolicy",
  "AdminNetworkPolicy",
  "BaselineAdminNetworkPolicy",
  "ClusterNetworkPolicy",
]);

export interface PolicyManagerOptions {
  node: string;
  driver: PolicyDriver;
  log: Logger;
  /** Kinds that must be listed once before anything is applied. */
  requiredKinds: readonly string[];
  /** Minimum time between the starts of two applies. */
  minIntervalMs: number;
  /** Period of the full resync (kernel read back and diffed). */
  resyncIntervalMs: number;
  /** First retry delay after a failed apply (doubles, capped at 30 s). */
  retryMs: number;
  now?: () => number;
  /** Where the policy families go (the agent's registry); a manager alone gets its own. */
  registry?: Registry;
  /** Lists and marks conntrack entries for revocation (conntrack-revoker.ts); without it established flows are never cut off. */
  revoker?: Revoker;
  /**
   * Least time between the starts of two conntrack walks (0 when left out):
   * revocations queued meanwhile wait and go in the next walk together.
   */
  revocationIntervalMs?: number;
}

export class PolicyAttachTimeout extends Error {
  readonly code = "TRELLIS_EPOLICYTIMEOUT";
  constructor(key: string, ms: number, cause: string | undefined) {
    super(
      `policy for pod ${key} was not applied within ${ms} ms${cause !== undefined ? ` (last error: ${cause})` : ""}`,
    );
    this.name = "PolicyAttachTimeout";
  }
}

interface Waiter {
  gen: number;
  resolve: () => void;
}

export class PolicyManager {
  readonly metrics: PolicyMetrics;
  /** kind -> object key -> parsed object (or the rejection message). */
  private readonly objects = new Map<string, Map<string, ParsedObject | string>>();
  private readonly attachments = new Map<string, LocalAttachment>();
  private readonly synced = new Set<string>();
  private gen = 0;
  private appliedGen = -1;
  private running = false;
  /** The next run, when one is scheduled. */
  private timer: { cancel(): void } | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private lastError: string | undefined;
  private lastAppliedAt: number | undefined;
  private stopped = false;
  private waiters: Waiter[] = [];
  private readonly now: () => number;
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | undefined;
  /** The incremental compiler's state for the last applied table (undefined: full path next). */
  private inc: CompilerState | undefined;
  /** Objects changed since the last apply started: kind + key. */
  private dirty = new Map<string, { kind: string; key: string }>();
  private fullNeeded = true;
  /** Objects valid alone but rejected in context, by object name. */
  private contextRejected = new Set<string>();
  /** The revocation running or queued last, and prefixes still to revoke (a failed one's, retried). */
  private revoking: Promise<void> = Promise.resolve();
  private revokePending = new Set<string>();
  /** When the last conntrack walk started (now()). */
  private lastRevocationAt = Number.NEGATIVE_INFINITY;
  /**
   * The table and local pods of the latest applied transaction: a queued
   * revocation checks against these when it runs, not against the apply that
   * queued it, since one job takes every pending address (a later apply's too).
   */
  private revokeAgainst:
    { local: () => ReadonlyMap<string, readonly string[]>; table: () => NftTable } | undefined;

  constructor(private readonly o: PolicyManagerOptions) {
    this.now = o.now ?? Date.now;
    this.metrics = new PolicyMetrics(
      o.registry ?? createRegistry({ defaultMetrics: false }),
      () => this.ready,
    );
    this.resyncTimer = setInterval(() => this.resync(), o.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  /** True once a table has been applied (and the agent may serve ADDs). */
  get ready(): boolean {
    return this.appliedGen >= 0;
  }

  get inSync(): boolean {
    return this.o.requiredKinds.every((k) => this.synced.has(k));
  }

  notReadyReason(): string {
    const waiting = this.o.requiredKinds.filter((k) => !this.synced.has(k));
    if (waiting.length > 0) return `policy: waiting for the first list of ${waiting.join(", ")}`;
    if (!this.ready)
      return `policy: first table not applied yet${this.lastError !== undefined ? ` (${this.lastError})` : ""}`;
    return "ready";
  }

  /** For the node status: the input generation last applied (0 before the first), when, the last error. */
  syncStatus(): { generation: number; lastApplyMs?: number; lastError?: string } {
    return {
      generation: Math.max(this.appliedGen, 0),
      ...(this.lastAppliedAt !== undefined ? { lastApplyMs: this.lastAppliedAt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  // ------------------------------------------------------------ event handlers (no I/O)

  /** An object was added or changed. */
  upsert(kind: string, apiVersion: string, obj: object): void {
    const key = objectKey(obj as { metadata?: { name?: string; namespace?: string } });
    const byKey = this.kind(kind);
    let parsed: ParsedObject | string;
    try {
      parsed = parseWatched(kind, apiVersion, obj);
    } catch (e) {
      parsed = e instanceof Error ? e.message : String(e);
      this.o.log.error({ kind, object: key, err: parsed }, "policy input rejected; left out of the compile");
    }
    byKey.set(key, parsed);
    this.markDirty(kind, key);
    this.changed();
  }

  remove(kind: string, obj: object): void {
    const meta = (obj as { metadata?: { name?: string; namespace?: string; uid?: string } }).metadata;
    const key = objectKey(obj as { metadata?: { name?: string; namespace?: string } });
    let changed = this.kind(kind).delete(key);
    // A deleted pod's attachment goes with it, even if its DEL never comes:
    // a ghost must never keep its labels on an address another pod may reuse.
    // Unless it is the attachment of a newer pod of the same name (a
    // StatefulSet restart), whose ADD the lagging informer may precede.
    if (kind === "Pod") {
      const a = this.attachments.get(key);
      const newer = a?.podUid !== undefined && meta?.uid !== undefined && a.podUid !== meta.uid;
      if (a !== undefined && !newer) changed = this.attachments.delete(key) || changed;
    }
    if (changed) {
      this.markDirty(kind, key);
      this.changed();
    }
  }

  /** The first full list of a kind (or its absence: an empty list): replaces it and counts as synced. */
  replaceAll(kind: string, apiVersion: string, objs: readonly object[]): void {
    this.objects.set(kind, new Map());
    for (const o of objs) {
      const key = objectKey(o as { metadata?: { name?: string; namespace?: string } });
      try {
        this.kind(kind).set(key, parseWatched(kind, apiVersion, o));
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.kind(kind).set(key, msg);
        this.o.log.error({ kind, object: key, err: msg }, "policy input rejected; left out of the compile");
      }
    }
    this.fullNeeded = true;
    // Replaced wholesale, not object by object: the state is rebuilt from the inputs.
    this.inc = undefined;
    const first = !this.synced.has(kind);
    this.synced.add(kind);
    if (first && this.inSync) this.o.log.info({ kinds: this.o.requiredKinds }, "policy inputs in sync");
    this.changed();
  }

  /**
   * A pod of this node got its veth and addresses (CNI ADD). Resolves once a
   * table with its veth and addresses is in the kernel; rejects with
   * PolicyAttachTimeout after `timeoutMs` (the caller rolls the ADD back).
   */
  attach(a: LocalAttachment, timeoutMs: number): Promise<void> {
    const key = `${a.namespace}/${a.pod}`;
    this.attachments.set(key, a);
    this.markDirty("Pod", key);
    this.changed(true);
    const gen = this.gen;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        gen,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new PolicyAttachTimeout(key, timeoutMs, this.lastError));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /**
   * The pod's attachment is gone (CNI DEL, or a rolled-back ADD). With
   * `owner`, only when that attachment made it: the late DEL of a pod's old
   * sandbox leaves the attachment of its new sandbox alone.
   */
  detach(namespace: string, pod: string, owner?: string): void {
    const key = `${namespace}/${pod}`;
    const a = this.attachments.get(key);
    if (a === undefined) return;
    if (owner !== undefined && a.owner !== undefined && a.owner !== owner) return;
    this.attachments.delete(key);
    this.markDirty("Pod", key);
    this.changed();
  }

  hasPod(namespace: string, pod: string): boolean {
    return this.objects.get("Pod")?.has(`${namespace}/${pod}`) ?? false;
  }

  /** Forces the next apply to read the kernel back and repair drift. */
  resync(): void {
    this.o.driver.requestResync();
    this.fullNeeded = true;
    this.changed();
  }

  private markDirty(kind: string, key: string): void {
    this.dirty.set(`${kind}\0${key}`, { kind, key });
  }

  // ------------------------------------------------------------ the sync loop

  private kind(kind: string): Map<string, ParsedObject | string> {
    let m = this.objects.get(kind);
    if (m === undefined) {
      m = new Map();
      this.objects.set(kind, m);
    }
    return m;
  }

  /**
   * `urgent`: a CNI ADD is waiting (the kubelet's hot path): skip the rate
   * bound. ADDs still coalesce — one apply runs at a time and the next one
   * covers every ADD that arrived meanwhile — so a burst of N ADDs costs
   * about two applies, and a single ADD costs one apply, not the interval.
   */
  private changed(urgent = false): void {
    this.gen++;
    if (urgent) this.urgent = true;
    this.schedule(0);
  }

  private urgent = false;
  private retrying = false;

  private schedule(extraDelayMs: number): void {
    if (this.stopped || !this.inSync || this.running) return;
    const fast = this.urgent && !this.retrying;
    const delay = fast ? 0 : Math.max(extraDelayMs, this.lastStart + this.o.minIntervalMs - this.now(), 0);
    if (this.timer !== undefined) {
      if (!fast) return;
      this.timer.cancel(); // an ADD is waiting: go now
    }
    if (this.idleResolve === undefined) this.idle = new Promise((r) => (this.idleResolve = r));
    const go = (): void => {
      this.timer = undefined;
      void this.run();
    };
    if (delay === 0) {
      // Not setTimeout(…, 0): Node makes that at least 1 ms, and an ADD that
      // waits for this run would wait that long for nothing. An immediate
      // runs once this turn's I/O callbacks are done (the ADD's own and any
      // other arriving at once, which it then covers too).
      const h = setImmediate(go);
      this.timer = { cancel: () => clearImmediate(h) };
    } else {
      const h = setTimeout(go, delay);
      this.timer = { cancel: () => clearTimeout(h) };
    }
  }

  /** Settles when no apply is running or scheduled (tests). */
  settled(): Promise<void> {
    return this.idle;
  }

  /** Settles when no apply is running or scheduled and every revocation queued so far is done (tests). */
  async quiescent(): Promise<void> {
    await this.idle;
    await this.revoking;
  }

  /**
   * Queues the revocation an applied transaction calls for (revocation.ts):
   * the entries of the addresses it touched, re-checked against the table
   * it applied (`table`), marked denied or cleared. `local`: the local
   * pods' veths and addresses in that table.
   */
  private revoke(
    r: ApplyResult,
    local: () => ReadonlyMap<string, readonly string[]>,
    table: () => NftTable,
  ): void {
    const revoker = this.o.revoker;
    if (revoker === undefined) return;
    const pods = r.mode === "noop" ? new Map<string, readonly string[]>() : local();
    const plan = revocationFor(r.mode, r.commands, pods, POLICY_TABLE);
    this.revokeAgainst = { local, table };
    for (const p of plan.prefixes) this.revokePending.add(p);
    if (this.revokePending.size === 0) return;
    this.revoking = this.revoking.then(async () => {
      // Not in this turn: the ADDs this apply was waited for answer first
      // (their continuations are microtasks queued behind this one; the
      // revocation's dumps would otherwise run before them). And not sooner
      // than revocationIntervalMs after the last walk began: every conntrack
      // dump walks the whole hash, which the kernel shares between all
      // namespaces (about 10 ms of a core at 262,144 buckets, even when
      // empty), so a walk per pod event took a core's tenth from the pods
      // being added next; the addresses of the events in between wait and
      // are looked at in one walk.
      const wait = this.lastRevocationAt + (this.o.revocationIntervalMs ?? 0) - this.now();
      await new Promise<void>((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
      const prefixes = [...this.revokePending].sort();
      this.revokePending.clear();
      const against = this.revokeAgainst;
      if (prefixes.length === 0 || against === undefined) return;
      this.lastRevocationAt = this.now();
      try {
        const entries = await revoker.list(prefixes);
        if (entries.length === 0) return;
        const { deny, allow } = recheck(entries, against.table(), against.local());
        for (const e of deny) this.metrics.flowsDenied += await revoker.mark(e, true);
        for (const e of allow) this.metrics.flowsReallowed += await revoker.mark(e, false);
        if (deny.length + allow.length > 0)
          this.o.log.info(
            {
              examined: entries.length,
              denied: deny.length,
              allowedAgain: allow.length,
              reason: plan.reason,
            },
            "established flows re-checked against the new policy",
          );
      } catch (e) {
        for (const p of prefixes) this.revokePending.add(p);
        this.metrics.revocationErrors++;
        this.o.log.error(
          { err: e instanceof Error ? e.message : String(e), prefixes: prefixes.length },
          "revocation of established flows failed; looked at again after the next apply",
        );
      }
    });
  }

  private desiredTable(): { table: NftTable; localPods: number; inputs: ParsedObject[] } {
    const watched: ParsedObject[] = [];
    let rejected = 0;
    for (const m of this.objects.values()) {
      for (const v of m.values()) {
        if (typeof v === "string") rejected++;
        else watched.push(v);
      }
    }
    let inputs = compilerInputs(watched, this.attachments, this.o.node);
    // An object that validates alone can still be rejected in context (e.g.
    // an ipBlock except outside its CIDR): leave it out, name it in the log,
    // and compile the rest, so one bad policy never freezes every update.
    for (let i = 0; ; i++) {
      try {
        const cluster = buildClusterFromObjects(inputs);
        this.metrics.rejectedObjects = rejected;
        const c = compile(cluster, this.o.node);
        return { table: c.table, localPods: c.ir.pods.length, inputs };
      } catch (e) {
        if (!(e instanceof PolicyInputError) || i >= 50) throw e;
        const bad = e.object;
        const before = inputs.length;
        inputs = inputs.filter((x) => x.name !== bad);
        if (inputs.length === before) throw e;
        rejected++;
        this.contextRejected.add(bad);
        this.o.log.error({ object: bad, err: e.message }, "policy input rejected; left out of the compile");
      }
    }
  }

  /** The compiler input of one object now: parsed (pods with their attachment), or undefined when absent or rejected. */
  private inputOf(kind: string, key: string): ParsedObject | undefined {
    const v = this.objects.get(kind)?.get(key);
    const watched = typeof v === "string" ? undefined : v;
    return kind === "Pod" ? podInput(watched, this.attachments.get(key), this.o.node) : watched;
  }

  /**
   * The dirty objects as updates of the incremental state, and the commands
   * for what they touched; undefined when the full path must run instead.
   */
  private incremental(
    dirty: readonly { kind: string; key: string }[],
  ): { state: CompilerState; cmds: Record<string, unknown>[] } | undefined {
    const base = this.inc;
    if (base === undefined || this.o.driver.applyCommands === undefined) return undefined;
    if (dirty.some((d) => !INCREMENTAL_KINDS.has(d.kind))) return undefined;
    let state = base;
    let delta = emptyDelta();
    for (const { kind, key } of dirty) {
      const name = `${kind} ${key}`;
      let u: ReturnType<typeof updateObject>;
      try {
        u = updateObject(state, kind, key, this.inputOf(kind, key));
        this.contextRejected.delete(name);
      } catch (e) {
        if (!(e instanceof PolicyInputError)) throw e;
        this.contextRejected.add(name);
        this.o.log.error({ object: name, err: e.message }, "policy input rejected; left out of the compile");
        u = updateObject(state, kind, key, undefined);
      }
      if (u.delta.full) return undefined;
      state = u.state;
      delta = mergeDeltas(delta, u.delta);
    }
    return { state, cmds: deltaCommands(base, state, delta) };
  }

  private rejectedCount(): number {
    let n = this.contextRejected.size;
    for (const m of this.objects.values()) for (const v of m.values()) if (typeof v === "string") n++;
    return n;
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    this.lastStart = this.now();
    const target = this.gen;
    this.urgent = false;
    const t0 = performance.now();
    let retryIn = 0;
    const dirty = [...this.dirty.values()];
    this.dirty.clear();
    const full = this.fullNeeded;
    this.fullNeeded = false;
    try {
      const inc = full ? undefined : this.incremental(dirty);
      let r: ApplyResult;
      let localPods: number;
      if (inc !== undefined && this.o.driver.applyCommands !== undefined) {
        r = await this.o.driver.applyCommands(inc.cmds, () => materialize(inc.state));
        this.inc = inc.state;
        const applied = inc.state;
        this.revoke(
          r,
          () => localPodsOfState(applied.local),
          () => materialize(applied),
        );
        this.metrics.rejectedObjects = this.rejectedCount();
        localPods = inc.state.local.size;
      } else {
        // The incremental state brought up to date too, if it can be: when it
        // equals the full compile (the oracle) it is kept, which spares
        // building it again; when not, that is a bug, logged, and it is rebuilt.
        let candidate: CompilerState | undefined;
        if (this.inc !== undefined) {
          try {
            candidate = this.incremental(dirty)?.state;
          } catch {
            candidate = undefined;
          }
        }
        this.contextRejected.clear();
        const d = this.desiredTable();
        this.inc = undefined;
        r = await this.o.driver.apply(d.table);
        this.revoke(
          r,
          () => localPodsOfTable(d.table),
          () => d.table,
        );
        localPods = d.localPods;
        if (candidate !== undefined) {
          const diff = diffTable(observe(materialize(candidate)), d.table);
          if (diff !== "rebuild" && diff.length === 0) this.inc = candidate;
          else
            this.o.log.error(
              { commands: diff === "rebuild" ? "rebuild" : diff.length },
              "incremental policy state differed from the full compile; rebuilt from the inputs",
            );
        }
        if (this.inc === undefined && this.o.driver.applyCommands !== undefined) {
          try {
            this.inc = initialState(d.inputs, this.o.node);
          } catch (e) {
            this.o.log.warn(
              { err: String(e) },
              "incremental policy state not built; every sync compiles in full",
            );
          }
        }
      }
      const secs = (performance.now() - t0) / 1000;
      this.metrics.observeApply("ok", r.mode, secs);
      this.metrics.lastTransactionCommands = r.commands.length;
      this.metrics.localPods = localPods;
      if (r.recoveredFrom !== undefined)
        this.o.log.warn({ err: r.recoveredFrom }, "policy table rebuilt after a failed update");
      if (this.appliedGen < 0) this.o.log.info({ localPods, commands: r.commands.length }, "policy applied");
      else if (r.mode !== "noop")
        this.o.log.debug(
          { mode: r.mode, commands: r.commands.length, ms: secs * 1000, ...(r.via ? { via: r.via } : {}) },
          "policy applied",
        );
      this.appliedGen = target;
      this.lastAppliedAt = this.now();
      this.failures = 0;
      this.retrying = false;
      this.lastError = undefined;
      const done = this.waiters.filter((w) => w.gen <= target);
      this.waiters = this.waiters.filter((w) => w.gen > target);
      for (const w of done) w.resolve();
    } catch (e) {
      this.fullNeeded = true;
      // The failed run's changes are not in the state any more: rebuilt from the inputs.
      this.inc = undefined;
      this.failures++;
      this.retrying = true;
      this.lastError = e instanceof Error ? e.message : String(e);
      this.metrics.observeApply("error", "none", (performance.now() - t0) / 1000);
      this.o.driver.requestResync();
      retryIn = backoffDelay(this.failures, { minMs: this.o.retryMs, maxMs: 30_000, jitter: 0 }, Math.random);
      this.o.log.error(
        { err: this.lastError, retryInMs: retryIn },
        "policy apply failed; last good rules kept",
      );
    } finally {
      this.running = false;
    }
    if (this.gen > this.appliedGen) {
      // More changes arrived meanwhile (or the apply failed): go again. ADDs
      // that arrived during a successful apply go at once; after a failure
      // the backoff holds for everyone.
      this.schedule(retryIn);
    }
    if (this.timer === undefined && !this.running) {
      this.idleResolve?.();
      this.idleResolve = undefined;
    }
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    this.timer = undefined;
    this.idleResolve?.();
    this.idleResolve = undefined;
  }
}
