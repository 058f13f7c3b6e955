/**
 * The IPAM shell: serialises this agent's allocations and releases through
 * one queue, plans each batch with the pure allocator against a cache of the
 * blocks, and writes every touched block once per batch with a
 * compare-and-swap replace (bounded retries, re-reading the block after a
 * 409). A burst of N ADDs on one node therefore costs about one write per
 * block touched, not N. Allocations that lost a race (another agent took the
 * ordinal) are planned again; a request that still fails is rolled back as a
 * whole, so dual-stack stays both-or-neither. Claims follow the protocol in
 * claim-protocol.ts (create pending, fresh LIST, confirm), so blocks of
 * different sizes never overlap.
 */
import type { Logger } from "pino";
import {
  type Allocation,
  type IPAMBlock,
  affinityName,
  affinityNode,
  blockName,
  blockPending,
  hostAffinity,
} from "../../crds/ipam.js";
import { type Family } from "../../net/address.js";
import { CniCode } from "../../cni/error.js";
import { claimVerdict, rvValue, stalePendingBlocks } from "./claim-protocol.js";
import {
  type AllocationRequest,
  type BlockView,
  type FamilyPlan,
  type NodeView,
  type PlanErrorCause,
  type PoolView,
  blockView,
  planRequest,
  spareBlockClaim,
  wantsSpareBlock,
} from "./block-allocator.js";
import type { IpamApi } from "./ipam-api.js";
import { formatAddress, parsePrefix, prefixSize } from "../../net/address.js";
import type { IpamJournal } from "./ipam-journal.js";
import {
  type Take,
  applyTakes,
  freeReservations,
  isReservation,
  reservationHandle,
  reservationsToAdd,
  reservedOnlyView,
  takeState,
} from "./reservations.js";

export interface AllocationAttributes {
  namespace?: string | undefined;
  pod?: string | undefined;
  containerID: string;
  ifname: string;
}

export interface AllocateInput extends Omit<AllocationRequest, "handle"> {
  handle: string;
  attributes: AllocationAttributes;
  /**
   * Called with the planned addresses as their write is sent (again if a
   * conflict makes it plan anew), before the write has landed: the caller
   * may prepare with them (the ADD configures the kernel meanwhile), but
   * only the resolved allocation is granted, and only it may be reported.
   */
  onPlanned?: (planned: Allocated[]) => void;
}

export interface Allocated {
  family: Family;
  address: string;
  prefix: number;
  block: string;
}

/** An allocation held by this node's pods, wherever its block is. */
export interface NodeAllocation {
  block: string;
  ordinal: number;
  /** The address (canonical text); undefined only for a block whose CIDR does not parse. */
  address: string | undefined;
  handle: string;
  namespace: string | undefined;
  pod: string | undefined;
  containerID: string | undefined;
  ifname: string | undefined;
  timestamp: string | undefined;
}

export class IpamError extends Error {
  constructor(
    message: string,
    /** CNI error code: 11 try again later (API trouble), 999 otherwise … callers map. */
    readonly retryable: boolean,
    /** A CNI spec code that fits better than those two (e.g. 7 for a request naming an invalid pool). */
    readonly code?: number,
  ) {
    super(message);
    this.name = "IpamError";
  }
}

/** The IpamError for a request the planner refused. */
export function planError(reason: string, cause: PlanErrorCause): IpamError {
  // SPEC.md "Error" code 7, invalid network config: the request's IPAM
  // parameters (pool annotations, the `ips` capability) name something that
  // cannot be used; a retry will not help until the operator changes it.
  if (cause === "invalid") return new IpamError(reason, false, CniCode.InvalidNetworkConfig);
  if (cause === "busy") return new IpamError(reason, true);
  return new IpamError(reason, false);
}

/** The allocation a pod's request gets at an ordinal: its handle and who it is, where and when. */
function podAllocation(input: AllocateInput, ordinal: number, node: string, stamp: string): Allocation {
  const at = input.attributes;
  return {
    ordinal,
    handle: input.handle,
    attributes: {
      ...(at.namespace !== undefined ? { namespace: at.namespace } : {}),
      ...(at.pod !== undefined ? { pod: at.pod } : {}),
      containerID: at.containerID,
      ifname: at.ifname,
      node,
      timestamp: stamp,
    },
  };
}

export function handleFor(containerID: string, ifname: string): string {
  return `${containerID}.${ifname}`;
}

type Op =
  | {
      kind: "alloc";
      input: AllocateInput;
      tries: number;
      resolve: (a: Allocated[]) => void;
      reject: (e: Error) => void;
    }
  | {
      kind: "release";
      handles: ReadonlySet<string>;
      resolve: (n: number) => void;
      reject: (e: Error) => void;
    }
  | { kind: "releaseBlock"; name: string; resolve: (released: boolean) => void; reject: (e: Error) => void }
  | { kind: "flush" };

type AllocOp = Extract<Op, { kind: "alloc" }>;
type Batched = Extract<Op, { kind: "alloc" } | { kind: "release" }>;

/** Tries of a rollback release (rollBack): 0.5 + 1 + 2 + 4 + 8 × 7 s ≈ 1 minute of API server outage. */
const ROLLBACK_ATTEMPTS = 12;

interface Mutation {
  adds: Map<number, { allocation: Allocation; op: AllocOp }>;
  removes: Set<string>;
}

export interface IpamServiceOptions {
  api: IpamApi;
  node: () => NodeView;
  pools: () => PoolView[];
  log: Logger;
  now?: () => Date;
  /** CAS attempts per block write, and re-plans per request. */
  maxRetries?: number;
  /** Largest batch planned and written together. */
  maxBatch?: number;
  /** Called after this node's set of affine blocks changed (blackhole routes). */
  onAffineBlocksChanged?: () => void;
  /** Counts API writes (metrics, tests). */
  onWrite?: (what: string) => void;
  /**
   * Pre-claim (block-allocator.ts wantsSpareBlock): claim a pool's next
   * block in the background once this node's blocks of it are nearly full,
   * so no ADD waits for a claim in steady state. The fraction of one block
   * kept free; undefined: claim only when an allocation needs it.
   */
  spareFraction?: number;
  /**
   * Reserved addresses (reservations.ts): the journal of takes, and how
   * many free reservations each affine block keeps. Without a journal (or
   * with 0), every allocation waits for its block's write.
   */
  journal?: IpamJournal;
  reservePerBlock?: number;
}

/** After a failed background write of takes and reservations, the next waits this long, doubling. */
const FLUSH_RETRY_MS = 250;
/**
 * The background write after a take waits this long: the ADD that took is
 * still configuring its veth on the same event loop, which the write's
 * serialisation and its answer would delay, and the takes of the ADDs in
 * between join the same write.
 */
const FLUSH_AFTER_TAKE_MS = 50;
const FLUSH_RETRY_MAX_MS = 5000;

/** After a failed pre-claim, the next one waits this long (the API server may be away). */
const PRECLAIM_RETRY_MS = 5000;

export class IpamService {
  /** Every known block by name: written through setBlock/deleteBlock only, which keep blocksByHandle. */
  private readonly blocks = new Map<string, IPAMBlock>();
  /**
   * The blocks whose stored allocations name each handle (a dual-stack pod's
   * handle is in two). findAllocation runs twice in every ADD: scanning
   * every allocation of the cluster cost 0.15 ms at 10,000 and 0.86 ms at
   * 100,000 (measured on this machine class).
   */
  private readonly blocksByHandle = new Map<string, string[]>();
  private readonly queue: Op[] = [];
  private draining = false;
  private readonly maxRetries: number;
  private readonly maxBatch: number;
  private readonly now: () => Date;

  /** Handles whose rollback release is still to land (rollBack). */
  private readonly pendingRollback = new Set<string>();

  /** The background pre-claim in flight, if any: one at a time, and never beside a claim of the queue. */
  private preclaiming: Promise<void> | undefined;
  private preclaimNotBefore = 0;

  /** block -> ordinal -> take: granted reserved ordinals their block does not hold yet (reservations.ts). */
  private readonly takes = new Map<string, Map<number, Take>>();
  /** Blocks being released: no take from them (their reservations go with them). */
  private readonly releasing = new Set<string>();
  private flushQueued = false;
  private stopped = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushRetryMs = FLUSH_RETRY_MS;
  /** A journal rewrite failed: its stale entries name ordinals, so reserve nothing until one succeeds. */
  private journalStale = false;

  constructor(private readonly o: IpamServiceOptions) {
    this.maxRetries = o.maxRetries ?? 8;
    this.maxBatch = o.maxBatch ?? 128;
    this.now = o.now ?? (() => new Date());
  }

  /** Loads every block (the agent also feeds informer events through observeBlock). */
  async load(): Promise<void> {
    this.syncFromList(await this.o.api.ipamBlocks.list());
  }

  /**
   * Takes a fresh LIST into the cache: every listed block (unless the cache
   * holds a newer version), and drops cached blocks the list no longer has,
   * unless they may be newer than the list (a watch event that overtook it).
   */
  private syncFromList(items: readonly IPAMBlock[]): void {
    let listRv: bigint | undefined;
    for (const b of items) {
      const rv = rvValue(b);
      if (rv !== undefined && (listRv === undefined || rv > listRv)) listRv = rv;
    }
    const listed = new Set(items.map((b) => b.metadata.name));
    for (const [name, b] of this.blocks) {
      if (listed.has(name)) continue;
      const rv = rvValue(b);
      if (rv !== undefined && listRv !== undefined && rv <= listRv) this.forgetBlock(name);
    }
    for (const b of items) this.observeBlock(b);
  }

  /** This node's block, claimed and confirmed (what it routes and advertises). */
  private isAffine(b: IPAMBlock | undefined): boolean {
    return b !== undefined && !blockPending(b) && affinityNode(b.spec.affinity) === this.o.node().name;
  }

  /** Reserved addresses on (a journal and a positive reservePerBlock)? */
  private get reserving(): boolean {
    return this.o.journal !== undefined && (this.o.reservePerBlock ?? 0) > 0;
  }

  /** A block's allocations as this agent knows them: the API's, with every owed take in place. */
  private allocationsOf(b: IPAMBlock): Allocation[] {
    return applyTakes(b.spec.allocations, this.takes.get(b.metadata.name), this.o.node().name).allocations;
  }

  /** Does the block hold no pod's address (reservations do not count)? */
  holdsNoPods(name: string): boolean {
    const b = this.blocks.get(name);
    if (b === undefined) return true;
    return this.allocationsOf(b).every((a) => isReservation(a.handle));
  }

  /** Takes a block from a watch event unless the cache already holds a newer version. */
  observeBlock(b: IPAMBlock): void {
    const cur = this.blocks.get(b.metadata.name);
    const a = cur ? rvValue(cur) : undefined;
    const n = rvValue(b);
    if (a !== undefined && n !== undefined && n < a) return;
    const wasMine = this.isAffine(cur);
    this.setBlock(b);
    if (wasMine !== this.isAffine(b)) {
      this.o.onAffineBlocksChanged?.();
      if (this.isAffine(b)) this.scheduleFlush(0);
    }
  }

  forgetBlock(name: string): void {
    const cur = this.blocks.get(name);
    if (cur === undefined) return;
    this.deleteBlock(name);
    if (this.isAffine(cur)) this.o.onAffineBlocksChanged?.();
  }

  /** The cached block of that name: the last version listed, watched or written by this agent. */
  block(name: string): IPAMBlock | undefined {
    return this.blocks.get(name);
  }

  allBlocks(): IPAMBlock[] {
    return [...this.blocks.values()];
  }

  /** Confirmed blocks affine to this node (a pending claim is not ours yet). */
  affineBlocks(): IPAMBlock[] {
    return this.allBlocks()
      .filter((b) => this.isAffine(b))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  /**
   * Deletes pending blocks left by crashed claimers (claim-protocol.ts
   * stalePendingBlocks), each with its resourceVersion as precondition so a
   * block confirmed meanwhile is kept. Reads a fresh LIST. Returns the names deleted.
   */
  async sweepPendingBlocks(nowMs: number, graceMs: number, atStart: boolean): Promise<string[]> {
    const all = await this.o.api.ipamBlocks.list();
    this.syncFromList(all);
    const out: string[] = [];
    for (const b of stalePendingBlocks(all, this.o.node().name, nowMs, graceMs, atStart)) {
      this.o.onWrite?.("block");
      const r = await this.o.api.ipamBlocks.delete(b.metadata.name, b.metadata.resourceVersion);
      if (r === "conflict") continue;
      this.forgetBlock(b.metadata.name);
      if (r === "ok") {
        out.push(b.metadata.name);
        this.o.log.info(
          { block: b.spec.cidr, pool: b.spec.pool, affinity: b.spec.affinity },
          "deleted a pending block its claimer left behind",
        );
      }
    }
    return out;
  }

  /** Allocations whose pods run on this node (including borrowed addresses). */
  nodeAllocations(): NodeAllocation[] {
    const me = this.o.node().name;
    const out: NodeAllocation[] = [];
    for (const b of this.blocks.values()) {
      const affine = affinityNode(b.spec.affinity) === me;
      const cidr = parsePrefix(b.spec.cidr);
      for (const a of this.allocationsOf(b)) {
        if (isReservation(a.handle)) continue;
        const node = a.attributes?.node;
        if (node === me || (node === undefined && affine)) {
          out.push({
            block: b.metadata.name,
            ordinal: a.ordinal,
            address:
              typeof cidr === "string"
                ? undefined
                : formatAddress({ family: cidr.family, value: cidr.base + BigInt(a.ordinal) }),
            handle: a.handle,
            namespace: a.attributes?.namespace,
            pod: a.attributes?.pod,
            containerID: a.attributes?.containerID,
            ifname: a.attributes?.ifname,
            timestamp: a.attributes?.timestamp,
          });
        }
      }
    }
    return out;
  }

  /** The first allocation held by a handle (no array built: on the ADD/DEL path). */
  findAllocation(handle: string): { namespace: string | undefined; pod: string | undefined } | undefined {
    // Where the handle can be: a block whose stored allocations name it, or
    // one with this node's takes (not stored yet: allocationsOf lays them over).
    const names = new Set(this.blocksByHandle.get(handle));
    for (const name of this.takes.keys()) names.add(name);
    for (const name of names) {
      const b = this.blocks.get(name);
      if (b === undefined) continue;
      for (const a of this.allocationsOf(b)) {
        if (a.handle === handle) return { namespace: a.attributes?.namespace, pod: a.attributes?.pod };
      }
    }
    return undefined;
  }

  /** Stores a block under its name, keeping blocksByHandle. */
  private setBlock(b: IPAMBlock): void {
    const name = b.metadata.name;
    this.unindex(name);
    this.blocks.set(name, b);
    for (const a of b.spec.allocations) {
      const names = this.blocksByHandle.get(a.handle);
      if (names === undefined) this.blocksByHandle.set(a.handle, [name]);
      else if (!names.includes(name)) names.push(name);
    }
  }

  private deleteBlock(name: string): void {
    this.unindex(name);
    this.blocks.delete(name);
  }

  /** Drops the stored version of block `name` from blocksByHandle. */
  private unindex(name: string): void {
    const old = this.blocks.get(name);
    if (old === undefined) return;
    for (const a of old.spec.allocations) {
      const names = this.blocksByHandle.get(a.handle);
      if (names === undefined) continue;
      const rest = names.filter((n) => n !== name);
      if (rest.length === 0) this.blocksByHandle.delete(a.handle);
      else this.blocksByHandle.set(a.handle, rest);
    }
  }

  stats(): { affineBlocks: number; addressesInUse: number } {
    return { affineBlocks: this.affineBlocks().length, addressesInUse: this.nodeAllocations().length };
  }

  allocate(input: AllocateInput): Promise<Allocated[]> {
    // A new ADD of this handle takes over whatever a failed one left (allocation is idempotent per handle).
    this.pendingRollback.delete(input.handle);
    const fast = this.reserving ? this.takeReserved(input) : undefined;
    if (fast !== undefined) return fast;
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: "alloc", input, tries: 0, resolve, reject });
    });
  }

  /**
   * The fast path (reservations.ts): plan against this node's free
   * reservations only; when every address of the plan is one, take them,
   * journal the takes and grant once they are on the disk. The block's
   * write follows in the background. Undefined when the plan needs anything
   * else (a claim, a borrowed or a specific address, idempotence): the
   * request then takes the ordinary path.
   */
  private takeReserved(input: AllocateInput): Promise<Allocated[]> | undefined {
    const journal = this.o.journal;
    if (journal === undefined) return undefined;
    // A handle that holds an address already is the ordinary path's (idempotence, wherever it is).
    if (this.findAllocation(input.handle) !== undefined) return undefined;
    const me = this.o.node().name;
    // Only this node's blocks, and only their free reservations: a plan that
    // needs anything else (a claim, another node's block) is not for here.
    // Every affine block is in (one without a free reservation as full), so
    // a preferred pool without one plans a claim and goes the ordinary way.
    const views: BlockView[] = [];
    let free = 0;
    for (const b of this.blocks.values()) {
      if (!this.isAffine(b)) continue;
      const v = blockView(b);
      if (v === undefined) continue;
      const res = this.releasing.has(b.metadata.name)
        ? []
        : freeReservations(b.spec.allocations, this.takes.get(b.metadata.name), me);
      free += res.length;
      views.push(reservedOnlyView(v, res, Number(prefixSize(v.cidr))));
    }
    if (free === 0) return undefined;
    const plans = planRequest(this.o.pools(), views, this.o.node(), input);
    if ("error" in plans) return undefined;
    const taken: Take[] = [];
    const stamp = this.now().toISOString();
    for (const p of plans) {
      if (p.kind !== "assign") return undefined;
      const b = this.blocks.get(p.block);
      const res = b?.spec.allocations.find((a) => a.ordinal === p.ordinal);
      if (
        b === undefined ||
        res === undefined ||
        res.handle !== reservationHandle(me, p.block, p.ordinal) ||
        this.takes.get(p.block)?.has(p.ordinal) === true
      )
        return undefined;
      taken.push({
        block: p.block,
        ordinal: p.ordinal,
        allocation: podAllocation(input, p.ordinal, me, stamp),
      });
    }
    for (const t of taken) {
      let m = this.takes.get(t.block);
      if (m === undefined) this.takes.set(t.block, (m = new Map()));
      m.set(t.ordinal, t);
    }
    try {
      journal.append(taken);
    } catch (e) {
      // Not in the journal: never granted. The reservations are free again.
      for (const t of taken) {
        const m = this.takes.get(t.block);
        if (m?.get(t.ordinal) === t) m.delete(t.ordinal);
      }
      return Promise.reject(
        new IpamError(`IPAM journal write failed: ${e instanceof Error ? e.message : String(e)}`, true),
      );
    }
    this.maybePreclaim(new Set(taken.flatMap((t) => this.blocks.get(t.block)?.spec.pool ?? [])));
    const allocated = plans.flatMap((p) =>
      p.kind === "assign" ? [{ family: p.family, address: p.address, prefix: p.prefix, block: p.block }] : [],
    );
    input.onPlanned?.(allocated);
    this.scheduleFlush(FLUSH_AFTER_TAKE_MS);
    return Promise.resolve(allocated);
  }

  /**
   * Start-up (after the blocks are loaded): the journal's takes that their
   * blocks still owe (reservations.ts takeState) are owed again; the rest
   * leave the journal. Then the owed takes and the reservations are written.
   */
  async replayJournal(): Promise<{ owed: number; dropped: number }> {
    const journal = this.o.journal;
    if (journal === undefined) return { owed: 0, dropped: 0 };
    const me = this.o.node().name;
    const { takes, skipped } = journal.read();
    const latest = new Map<string, Take>();
    for (const t of takes) latest.set(`${t.block}\u0000${t.ordinal}`, t);
    let owed = 0;
    for (const t of latest.values()) {
      const state = takeState(this.blocks.get(t.block)?.spec.allocations, t, me);
      if (state !== "owed") continue;
      let m = this.takes.get(t.block);
      if (m === undefined) this.takes.set(t.block, (m = new Map()));
      m.set(t.ordinal, t);
      owed++;
    }
    await journal.rewrite(() => this.owedTakes());
    const dropped = latest.size - owed + skipped;
    if (owed > 0 || dropped > 0)
      this.o.log.info({ owed, dropped, journal: journal.path }, "IPAM journal replayed");
    this.scheduleFlush(0);
    return { owed, dropped };
  }

  private owedTakes(): Take[] {
    return [...this.takes.values()].flatMap((m) => [...m.values()]);
  }

  /** Owed takes not yet in their block's write (tests, metrics). */
  owedCount(): number {
    let n = 0;
    for (const m of this.takes.values()) n += m.size;
    return n;
  }

  /** Does this block want a background write: owed takes, or fewer free reservations than it keeps? */
  private wantsFlush(b: IPAMBlock): boolean {
    if ((this.takes.get(b.metadata.name)?.size ?? 0) > 0) return true;
    if (!this.reserving || this.journalStale || !this.isAffine(b) || this.releasing.has(b.metadata.name))
      return false;
    const free = freeReservations(b.spec.allocations, undefined, this.o.node().name).length;
    if (free >= (this.o.reservePerBlock ?? 0)) return false;
    return this.topUp(b, this.allocationsOf(b)).length > 0;
  }

  /** The ordinals to reserve in a block whose allocations (takes applied) are `alloc`. */
  private topUp(b: IPAMBlock, alloc: readonly Allocation[]): number[] {
    const target = this.o.reservePerBlock ?? 0;
    if (
      !this.reserving ||
      this.journalStale ||
      target <= 0 ||
      !this.isAffine(b) ||
      this.releasing.has(b.metadata.name)
    )
      return [];
    const v = blockView({ ...b, spec: { ...b.spec, allocations: [...alloc] } });
    if (v === undefined) return [];
    const pools = this.o.pools();
    const pool = pools.find((p) => p.name === b.spec.pool);
    if (pool === undefined || pool.invalid !== undefined || pool.disabled) return [];
    const me = this.o.node().name;
    const takes = this.takes.get(b.metadata.name);
    const free = freeReservations(alloc, takes, me).length;
    return reservationsToAdd(v, pool, this.views(new Set()), free, target, takes);
  }

  /** Queues one background write of every block that wants one (coalesced). */
  private scheduleFlush(delayMs: number): void {
    if (this.stopped || this.flushQueued || this.flushTimer !== undefined) return;
    if (delayMs <= 0) {
      this.flushQueued = true;
      this.enqueue({ kind: "flush" });
      return;
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.scheduleFlush(0);
    }, delayMs);
    this.flushTimer.unref();
  }

  private async runFlush(): Promise<void> {
    this.flushQueued = false;
    const names = [...this.blocks.values()].filter((b) => this.wantsFlush(b)).map((b) => b.metadata.name);
    // Owed takes of blocks no longer cached (deleted under us) are nothing any more.
    for (const name of this.takes.keys()) if (!this.blocks.has(name)) names.push(name);
    if (names.length === 0 && !this.journalStale) return;
    const results = await Promise.allSettled(
      names.map((name) => this.writeBlock(name, { adds: new Map(), removes: new Set() })),
    );
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length > 0 || this.journalStale) {
      const delay = this.flushRetryMs;
      this.flushRetryMs = Math.min(FLUSH_RETRY_MAX_MS, this.flushRetryMs * 2);
      this.o.log.warn(
        {
          owed: this.owedCount(),
          retryMs: delay,
          err: failed.map((r) => String((r as PromiseRejectedResult).reason)).join("; "),
        },
        "background IPAM write failed; will try again",
      );
      this.scheduleFlush(delay);
    } else this.flushRetryMs = FLUSH_RETRY_MS;
  }

  /** Releases every address held by these handles; resolves with the count released. */
  release(handles: Iterable<string>): Promise<number> {
    const set = new Set(handles);
    if (set.size === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: "release", handles: set, resolve, reject });
    });
  }

  /** Releases an empty affine block and its affinity; false when it is not empty or not ours. */
  releaseBlock(name: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: "releaseBlock", name, resolve, reject });
    });
  }

  private enqueue(op: Op, front = false): void {
    if (front) this.queue.unshift(op);
    else this.queue.push(op);
    if (!this.draining) {
      this.draining = true;
      // Let every request that arrives in this tick join the first batch.
      setImmediate(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0];
        if (head?.kind === "releaseBlock") {
          this.queue.shift();
          await this.runReleaseBlock(head);
          continue;
        }
        if (head?.kind === "flush") {
          this.queue.shift();
          await this.runFlush().catch((e: unknown) =>
            this.o.log.warn({ err: String(e) }, "background IPAM write"),
          );
          continue;
        }
        const batch: Batched[] = [];
        while (batch.length < this.maxBatch) {
          const next = this.queue[0];
          if (next === undefined || next.kind === "releaseBlock" || next.kind === "flush") break;
          this.queue.shift();
          batch.push(next);
        }
        await this.runBatch(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  private async runReleaseBlock(op: Extract<Op, { kind: "releaseBlock" }>): Promise<void> {
    try {
      const me = this.o.node().name;
      const b = this.blocks.get(op.name);
      if (b === undefined || !this.isAffine(b) || !this.holdsNoPods(op.name)) {
        op.resolve(false);
        return;
      }
      // No take from it from now on: its reservations are deleted with it.
      this.releasing.add(op.name);
      const affName = affinityName(me, b.spec.cidr);
      const aff = await this.o.api.blockAffinities.get(affName);
      if (aff !== undefined) {
        this.o.onWrite?.("affinity");
        await this.o.api.blockAffinities.replace({ ...aff, spec: { ...aff.spec, state: "pendingDeletion" } });
      }
      this.o.onWrite?.("block");
      const r = await this.o.api.ipamBlocks.delete(op.name, b.metadata.resourceVersion);
      if (r === "conflict") {
        // Someone wrote the block meanwhile (a borrowed address?): keep it, confirm again.
        const fresh = await this.o.api.ipamBlocks.get(op.name);
        if (fresh) this.setBlock(fresh);
        if (aff !== undefined) await this.ensureAffinity(b.spec.cidr);
        op.resolve(false);
        return;
      }
      this.deleteBlock(op.name);
      this.takes.delete(op.name);
      this.o.onWrite?.("affinity");
      await this.o.api.blockAffinities.delete(affName);
      this.o.onAffineBlocksChanged?.();
      op.resolve(true);
    } catch (e) {
      op.reject(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.releasing.delete(op.name);
    }
  }

  /** Creates (or confirms) this node's BlockAffinity for a block it owns. */
  async ensureAffinity(cidr: string): Promise<void> {
    const me = this.o.node().name;
    const name = affinityName(me, cidr);
    this.o.onWrite?.("affinity");
    const r = await this.o.api.blockAffinities.create({
      metadata: { name },
      spec: { node: me, cidr, state: "confirmed" },
    });
    if (r !== "exists") return;
    const cur = await this.o.api.blockAffinities.get(name);
    if (cur !== undefined && cur.spec.state !== "confirmed") {
      this.o.onWrite?.("affinity");
      await this.o.api.blockAffinities.replace({ ...cur, spec: { ...cur.spec, state: "confirmed" } });
    }
  }

  /**
   * Claims a block with the protocol of claim-protocol.ts: create it
   * pending (a block of the same CIDR collides on its name), LIST every
   * block afresh, and confirm it only when no other overlapping block is
   * confirmed or pending since earlier; else delete it again. The confirmed
   * BlockAffinity follows (a crash before it is repaired at start:
   * repairAffinities). Returns why the claim lost, or undefined; either
   * way the caller plans again against the refreshed cache.
   */
  private async claim(pool: string, cidr: string): Promise<string | undefined> {
    const me = this.o.node().name;
    const name = blockName(cidr);
    this.o.onWrite?.("block");
    const created = await this.o.api.ipamBlocks.create({
      metadata: { name },
      spec: { cidr, pool, affinity: hostAffinity(me), state: "pending", allocations: [] },
    });
    if (created === "exists") {
      const fresh = await this.o.api.ipamBlocks.get(name);
      if (fresh !== undefined) this.observeBlock(fresh);
      if (fresh === undefined || !this.isAffine(fresh)) return `block ${cidr} is claimed by someone else`;
      // Ours and confirmed (an earlier claim of this node): make sure its affinity is there.
      await this.ensureAffinity(cidr);
      this.o.onAffineBlocksChanged?.();
      return undefined;
    }
    this.observeBlock(created);
    const all = await this.o.api.ipamBlocks.list();
    this.syncFromList(all);
    const verdict = claimVerdict(created, all);
    if (!verdict.won) {
      this.o.onWrite?.("block");
      await this.o.api.ipamBlocks.delete(name, created.metadata.resourceVersion);
      this.forgetBlock(name);
      this.o.log.info(
        { block: cidr, pool, reason: verdict.reason },
        "block claim lost to an overlapping block",
      );
      return verdict.reason;
    }
    this.o.onWrite?.("block");
    const confirmed = await this.o.api.ipamBlocks.replace({
      ...created,
      spec: { ...created.spec, state: "confirmed" },
    });
    if (confirmed === "conflict" || confirmed === "gone") {
      // Swept as stale while we were slow (or deleted and claimed again): not ours.
      const fresh = await this.o.api.ipamBlocks.get(name);
      if (fresh !== undefined) this.observeBlock(fresh);
      else this.forgetBlock(name);
      return `block ${cidr}: the pending claim was removed before it could be confirmed`;
    }
    this.observeBlock(confirmed);
    this.o.log.info({ block: cidr, pool }, "claimed block");
    await this.ensureAffinity(cidr);
    this.o.onAffineBlocksChanged?.();
    return undefined;
  }

  /** Every affine block has a confirmed BlockAffinity (after a crash between claim steps). */
  async repairAffinities(): Promise<void> {
    const me = this.o.node().name;
    const existing = new Set(
      (await this.o.api.blockAffinities.list())
        .filter((a) => a.spec.node === me && a.spec.state === "confirmed")
        .map((a) => a.metadata.name),
    );
    for (const b of this.affineBlocks()) {
      if (!existing.has(affinityName(me, b.spec.cidr))) await this.ensureAffinity(b.spec.cidr);
    }
  }

  /**
   * The allocator's view of every block, owed takes in place. Reservations
   * count as used (no planned write may take one), unless `reservedFree`:
   * the pre-claim and the spare block count this node's as free addresses.
   */
  private views(removes: ReadonlySet<string>, reservedFree = false): BlockView[] {
    const out: BlockView[] = [];
    const me = this.o.node().name;
    for (const b of this.blocks.values()) {
      const v = blockView(b);
      if (v === undefined) continue;
      v.used = new Map();
      for (const a of this.allocationsOf(b)) {
        if (removes.has(a.handle)) continue;
        if (reservedFree && a.handle === reservationHandle(me, b.metadata.name, a.ordinal)) continue;
        v.used.set(a.ordinal, a.handle);
      }
      out.push(v);
    }
    return out;
  }

  private async runBatch(batch: Batched[]): Promise<void> {
    const removes = new Set<string>();
    for (const op of batch) if (op.kind === "release") for (const h of op.handles) removes.add(h);
    const mutations = new Map<string, Mutation>();
    const mutation = (block: string): Mutation => {
      let m = mutations.get(block);
      if (m === undefined) {
        m = { adds: new Map(), removes: new Set() };
        mutations.set(block, m);
      }
      return m;
    };
    /** handle -> addresses it holds now (each release op answers with its own count). */
    const held = new Map<string, number>();
    for (const b of this.blocks.values()) {
      for (const a of this.allocationsOf(b)) {
        if (removes.has(a.handle)) {
          mutation(b.metadata.name).removes.add(a.handle);
          held.set(a.handle, (held.get(a.handle) ?? 0) + 1);
        }
      }
    }

    const planned = new Map<AllocOp, Extract<FamilyPlan, { kind: "assign" }>[]>();
    let views = this.views(removes);
    const stamp = this.now().toISOString();
    for (const op of batch) {
      if (op.kind !== "alloc") continue;
      try {
        const plans = await this.planWithClaims(op, views, () => {
          views = this.views(removes);
          // Re-apply what this batch already planned onto the fresh views.
          for (const [name, m] of mutations) {
            const v = views.find((x) => x.name === name);
            for (const [ord, add] of m.adds) v?.used.set(ord, add.allocation.handle);
          }
          return views;
        });
        const me = this.o.node().name;
        for (const p of plans) {
          const v = views.find((x) => x.name === p.block);
          const b = this.blocks.get(p.block);
          const already =
            b !== undefined &&
            this.allocationsOf(b).some((a) => a.ordinal === p.ordinal && a.handle === op.input.handle);
          v?.used.set(p.ordinal, op.input.handle);
          if (already === true && !removes.has(op.input.handle)) continue;
          mutation(p.block).adds.set(p.ordinal, {
            op,
            allocation: podAllocation(op.input, p.ordinal, me, stamp),
          });
        }
        planned.set(op, plans);
      } catch (e) {
        op.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }

    for (const [op, plans] of planned) {
      op.input.onPlanned?.(
        plans.map((p) => ({ family: p.family, address: p.address, prefix: p.prefix, block: p.block })),
      );
    }
    // One CAS write per touched block, blocks in parallel.
    const conflicted = new Set<AllocOp>();
    const failed = new Map<AllocOp | "release", Error>();
    /** Blocks whose write failed: it may have landed all the same. */
    const failedBlocks = new Set<string>();
    await Promise.all(
      [...mutations].map(async ([name, m]) => {
        try {
          for (const op of await this.writeBlock(name, m)) conflicted.add(op);
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          for (const { op } of m.adds.values()) {
            failed.set(op, err);
            failedBlocks.add(name);
          }
          if (m.removes.size > 0) failed.set("release", err);
        }
      }),
    );

    const rollback: string[] = [];
    for (const [op, plans] of planned) {
      const err = failed.get(op);
      if (err !== undefined) {
        rollback.push(op.input.handle);
        op.reject(new IpamError(`IPAM write failed: ${err.message}`, true));
      } else if (conflicted.has(op)) {
        op.tries++;
        if (op.tries > this.maxRetries) {
          rollback.push(op.input.handle);
          op.reject(new IpamError(`gave up after ${op.tries} conflicting allocation attempts`, true));
        } else {
          this.queue.unshift(op);
        }
      } else {
        op.resolve(
          plans.map((p) => ({ family: p.family, address: p.address, prefix: p.prefix, block: p.block })),
        );
      }
    }
    const relErr = failed.get("release");
    for (const op of batch) {
      if (op.kind !== "release") continue;
      if (relErr !== undefined) op.reject(new IpamError(`IPAM release failed: ${relErr.message}`, true));
      else op.resolve([...op.handles].reduce((n, h) => n + (held.get(h) ?? 0), 0));
    }
    if (rollback.length > 0) this.rollBack(rollback, [...failedBlocks], 1);
    const used = new Set<string>();
    for (const plans of planned.values())
      for (const p of plans) {
        const pool = this.blocks.get(p.block)?.spec.pool;
        if (pool !== undefined) used.add(pool);
      }
    this.maybePreclaim(used);
  }

  /**
   * Starts a background claim of the next block of one of `poolNames` that
   * this node is about to run out of (block-allocator.ts wantsSpareBlock),
   * through the same claim protocol as any claim. A lost claim is simply
   * not retried until the next allocation asks again.
   */
  private maybePreclaim(poolNames: ReadonlySet<string>): void {
    const fraction = this.o.spareFraction;
    if (fraction === undefined || poolNames.size === 0) return;
    if (this.preclaiming !== undefined || this.now().getTime() < this.preclaimNotBefore) return;
    const pools = this.o.pools();
    const node = this.o.node();
    const views = this.views(new Set(), true);
    for (const name of [...poolNames].sort()) {
      const pool = pools.find((p) => p.name === name);
      if (pool === undefined) continue;
      const cidr = spareBlockClaim(pool, views, pools, node, fraction);
      if (cidr === undefined) continue;
      this.o.log.info({ block: cidr, pool: name }, "pre-claiming the next block");
      this.preclaiming = this.claim(name, cidr)
        .then(
          (lost) => {
            if (lost !== undefined)
              this.o.log.info({ block: cidr, pool: name, reason: lost }, "pre-claim lost");
          },
          (e: unknown) => {
            this.preclaimNotBefore = this.now().getTime() + PRECLAIM_RETRY_MS;
            this.o.log.warn({ block: cidr, pool: name, err: String(e) }, "pre-claim failed; will try again");
          },
        )
        .finally(() => (this.preclaiming = undefined));
      return;
    }
  }

  /**
   * Is this empty affine block the spare that pre-claim keeps (without it,
   * this node would want one at once)? The empty-block release spares it,
   * so a claim is not undone and redone while the pool stays nearly full.
   */
  isSpareBlock(name: string): boolean {
    const fraction = this.o.spareFraction;
    const b = this.blocks.get(name);
    if (fraction === undefined || b === undefined || !this.holdsNoPods(name)) return false;
    const pools = this.o.pools();
    const pool = pools.find((p) => p.name === b.spec.pool);
    if (pool === undefined) return false;
    const others = this.views(new Set(), true).filter((v) => v.name !== name);
    return wantsSpareBlock(pool, others, pools, this.o.node(), fraction);
  }

  /**
   * Stops the background writes of takes and reservations and resolves once
   * no write of this service is in flight (shutdown, tests). Owed takes stay
   * in the journal for the next start.
   */
  async quiesce(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (let i = 0; i < 1000 && (this.draining || this.preclaiming !== undefined); i++) {
      await this.preclaimSettled();
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Resolves once no pre-claim is in flight (tests, shutdown). */
  async preclaimSettled(): Promise<void> {
    while (this.preclaiming !== undefined) await this.preclaiming;
  }

  /**
   * Releases what failed allocations may have left. A write that failed may
   * still have been applied (the API server went away before it answered:
   * killed, or its etcd), so the release must land: it is retried with
   * backoff (0.5 s doubling to 8 s, ROLLBACK_ATTEMPTS times, then logged)
   * until the server takes it, unless a new ADD of the handle took over.
   */
  private rollBack(handles: readonly string[], blocks: readonly string[], attempt: number): void {
    const live = handles.filter((h) => attempt === 1 || this.pendingRollback.has(h));
    if (live.length === 0) return;
    for (const h of live) this.pendingRollback.add(h);
    const retry = (e: Error): void => {
      if (attempt >= ROLLBACK_ATTEMPTS) {
        this.o.log.error(
          { handles: live, err: e.message },
          "cannot release what failed allocations may hold; `trellisctl ipam check` will show it",
        );
        for (const h of live) this.pendingRollback.delete(h);
        return;
      }
      setTimeout(() => this.rollBack(live, blocks, attempt + 1), Math.min(8000, 250 * 2 ** attempt)).unref();
    };
    // The cache holds the blocks as they were before the failed writes: read them again, or the
    // release finds nothing to remove while the write that landed keeps the address.
    Promise.all(
      blocks.map(async (name) => {
        const b = await this.o.api.ipamBlocks.get(name);
        if (b !== undefined) this.observeBlock(b);
      }),
    ).then(
      () => {
        const still = live.filter((h) => this.pendingRollback.has(h));
        if (still.length === 0) return;
        this.enqueue({
          kind: "release",
          handles: new Set(still),
          resolve: () => {
            for (const h of still) this.pendingRollback.delete(h);
          },
          reject: retry,
        });
      },
      (e: unknown) => retry(e instanceof Error ? e : new Error(String(e))),
    );
  }

  /** Plans one request, claiming blocks as the plan asks (bounded). */
  private async planWithClaims(
    op: AllocOp,
    views: BlockView[],
    refresh: () => BlockView[],
  ): Promise<Extract<FamilyPlan, { kind: "assign" }>[]> {
    let v = views;
    let lost: string | undefined;
    for (let i = 0; i <= this.maxRetries; i++) {
      const plans = planRequest(this.o.pools(), v, this.o.node(), op.input);
      if ("error" in plans) {
        // Say why the last claim lost when the planner's own reason does not.
        const why =
          lost !== undefined && !plans.error.includes(lost) ? `${plans.error} (${lost})` : plans.error;
        throw planError(why, plans.cause);
      }
      const claim = plans.find((p) => p.kind === "claim");
      if (claim?.kind === "claim") {
        if (this.preclaiming !== undefined) {
          // A pre-claim is in flight (likely the very block wanted): one
          // claim of this node at a time; plan again once it is decided.
          await this.preclaiming;
          v = refresh();
          continue;
        }
        lost = await this.claim(claim.pool, claim.cidr);
        v = refresh();
        continue;
      }
      return plans.filter((p): p is Extract<FamilyPlan, { kind: "assign" }> => p.kind === "assign");
    }
    throw new IpamError(
      `could not claim a block (every attempt lost a race${lost !== undefined ? `; last: ${lost}` : ""})`,
      true,
    );
  }

  /**
   * After a write of the block (or a read that found nothing to write):
   * the takes it carried, and those the block shows landed or gone
   * (reservations.ts takeState), leave the journal, then the cache of owed
   * takes. In that order (rule C): until the journal no longer names an
   * ordinal, it stays among the takes, and no reservation is made of it.
   */
  private async settleTakes(
    name: string,
    block: IPAMBlock | undefined,
    carried: readonly Take[],
  ): Promise<void> {
    const m = this.takes.get(name);
    const journal = this.o.journal;
    if (m === undefined || m.size === 0 || journal === undefined) {
      if (this.journalStale && journal !== undefined) await this.compact();
      return;
    }
    const me = this.o.node().name;
    const done = new Set<Take>(carried.filter((t) => m.get(t.ordinal) === t));
    for (const t of m.values()) {
      const state = takeState(block?.spec.allocations, t, me);
      if (state === "owed") continue;
      if (state === "gone" && !done.has(t))
        this.o.log.warn(
          { block: name, ordinal: t.ordinal, handle: t.allocation.handle },
          "a granted reserved address is no longer reserved in its block (removed by someone else?)",
        );
      done.add(t);
    }
    if (done.size === 0) return;
    await this.compact(done);
  }

  /** Rewrites the journal without `done` (none: as it stands), then forgets them; on failure keeps them. */
  private async compact(done: ReadonlySet<Take> = new Set()): Promise<void> {
    const journal = this.o.journal;
    if (journal === undefined) return;
    try {
      await journal.rewrite(() => this.owedTakes().filter((t) => !done.has(t)));
      this.journalStale = false;
    } catch (e) {
      this.journalStale = true;
      this.o.log.warn({ err: String(e), journal: journal.path }, "IPAM journal rewrite failed");
      return;
    }
    for (const t of done) {
      const m = this.takes.get(t.block);
      if (m?.get(t.ordinal) === t) m.delete(t.ordinal);
      if (m?.size === 0) this.takes.delete(t.block);
    }
  }

  /**
   * Applies a mutation with compare-and-swap. Returns the requests whose
   * ordinal another writer took meanwhile (they are planned again).
   */
  private async writeBlock(name: string, m: Mutation): Promise<Set<AllocOp>> {
    const me = this.o.node().name;
    let base = this.blocks.get(name);
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      if (attempt > 0 || base === undefined) {
        base = await this.o.api.ipamBlocks.get(name);
        if (base === undefined) {
          this.deleteBlock(name);
          await this.settleTakes(name, undefined, []);
          return new Set([...m.adds.values()].map((a) => a.op));
        }
        this.setBlock(base);
      }
      // Never into a pending block (a claim in progress, perhaps another's
      // under a name this batch planned for before it was deleted).
      if (blockPending(base) && m.adds.size > 0) return new Set([...m.adds.values()].map((a) => a.op));
      const conflicts = new Set<AllocOp>();
      // Every write of the block carries its owed takes (reservations.ts, rule B).
      const { allocations: current, carried } = applyTakes(base.spec.allocations, this.takes.get(name), me);
      const kept = current.filter((a) => !m.removes.has(a.handle));
      const byOrd = new Map(kept.map((a) => [a.ordinal, a]));
      for (const [ord, add] of m.adds) {
        const holder = byOrd.get(ord);
        if (holder === undefined) byOrd.set(ord, add.allocation);
        else if (holder.handle !== add.allocation.handle) conflicts.add(add.op);
      }
      for (const ord of this.topUp(base, [...byOrd.values()]))
        byOrd.set(ord, { ordinal: ord, handle: reservationHandle(me, name, ord), attributes: { node: me } });
      const allocations = [...byOrd.values()].sort((a, b) => a.ordinal - b.ordinal);
      if (
        allocations.length === base.spec.allocations.length &&
        conflicts.size === m.adds.size &&
        m.removes.size === 0 &&
        carried.length === 0
      ) {
        await this.settleTakes(name, base, []);
        return conflicts;
      }
      this.o.onWrite?.("block");
      const r = await this.o.api.ipamBlocks.replace({ ...base, spec: { ...base.spec, allocations } });
      if (r === "gone") {
        this.deleteBlock(name);
        await this.settleTakes(name, undefined, []);
        return new Set([...m.adds.values()].map((a) => a.op));
      }
      if (r !== "conflict") {
        this.setBlock(r);
        await this.settleTakes(name, r, carried);
        return conflicts;
      }
    }
    throw new IpamError(
      `block ${name}: ${this.maxRetries + 1} compare-and-swap attempts lost to other writers`,
      true,
    );
  }
}

/** The CIDR of an allocation, e.g. for routes: "10.244.0.5/32". */
export function allocatedCidr(a: Allocated): string {
  return `${a.address}/${a.prefix}`;
}
