/**
 * The node status publisher: every `statusIntervalSeconds` it gathers the
 * sources, builds the TrellisNodeStatus body (node-status-build.ts, pure) and
 * writes it when the rate bound says so; a readiness change is written within
 * a second (polled every 250 ms, coalesced). Writes run on their own timers,
 * one at a time: the CNI path never waits for them, and an API server that is
 * away costs one failed attempt per interval, logged once per outage.
 *
 * The write: create the object if it is missing (owned by the Node when the
 * Node is known), add the owner when the Node shows up later, then replace
 * the status through the subresource at the resourceVersion last seen; a 409
 * or 404 re-reads and tries again (a few times, then waits for the next tick).
 */
import type { NodeStatusBody } from "../../crds/node-status.js";
import {
  type LastWrite,
  READINESS_POLL_MS,
  type StatusSources,
  buildNodeStatus,
  decideWrite,
  statusKey,
} from "./node-status-build.js";
import type { NodeOwner, NodeStatusApi } from "./node-status-api.js";

export interface StatusPublisherLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface StatusPublisherOptions {
  node: string;
  api: NodeStatusApi;
  /** Everything but the local route count, read synchronously (no I/O). */
  sources: () => Omit<StatusSources, "localRoutes">;
  /** Readiness alone, polled every 250 ms. */
  ready: () => boolean;
  /** Counts proto 201 routes; called on the interval only. */
  countLocalRoutes?: () => Promise<number | undefined>;
  /** The Node object's uid, once the agent has seen it. */
  owner: () => NodeOwner | undefined;
  intervalMs: number;
  log: StatusPublisherLog;
  now?: () => number;
  readinessPollMs?: number;
}

const MAX_ATTEMPTS = 4;

export class StatusPublisher {
  private readonly now: () => number;
  private last: LastWrite | undefined;
  private resourceVersion: string | undefined;
  private ownedBy: string | undefined;
  private localRoutes: number | undefined;
  private running: Promise<void> | undefined;
  private again: "tick" | "readiness" | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private polledReady: boolean | undefined;
  private failing = false;
  private stopped = false;
  /** Writes that reached the API server (tests, logs). */
  writes = 0;

  constructor(private readonly o: StatusPublisherOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.polledReady = this.o.ready();
    this.timers.push(setInterval(() => this.kick("tick"), this.o.intervalMs).unref());
    this.timers.push(
      setInterval(() => {
        const r = this.o.ready();
        if (r === this.polledReady) return;
        this.polledReady = r;
        this.kick("readiness");
      }, this.o.readinessPollMs ?? READINESS_POLL_MS).unref(),
    );
    this.kick("tick");
  }

  /** Runs one cycle now, or once more after the one running (coalesced). */
  kick(why: "tick" | "readiness"): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      if (this.again !== "tick") this.again = why;
      return;
    }
    this.running = (async () => {
      let next: "tick" | "readiness" | undefined = why;
      while (next !== undefined && !this.stopped) {
        this.again = undefined;
        await this.cycle(next);
        next = this.again;
      }
      this.running = undefined;
    })();
  }

  /** Waits for the cycle in progress (tests, stop). */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Stops the timers; a write in flight is not waited for (an API server that hangs must not hold shutdown). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
  }

  private async cycle(why: "tick" | "readiness"): Promise<void> {
    try {
      // The kernel is read on the interval only; a readiness write reuses the last count.
      if (why === "tick" && this.o.countLocalRoutes !== undefined)
        this.localRoutes = await this.o.countLocalRoutes().catch(() => undefined);
      const at = this.now();
      const src = this.o.sources();
      const body = buildNodeStatus(
        { ...src, ...(this.localRoutes !== undefined ? { localRoutes: this.localRoutes } : {}) },
        at,
      );
      const key = statusKey(body, at);
      const d = decideWrite(this.last, { atMs: at, key, ready: body.ready }, this.o.intervalMs);
      if (!d.write) return;
      if (await this.write(body)) {
        this.last = { atMs: at, key, ready: body.ready };
        this.writes++;
        if (this.failing) this.o.log.info({ node: this.o.node }, "node status written again");
        this.failing = false;
        this.o.log.debug({ why: d.why, ready: body.ready }, "node status written");
      }
    } catch (e) {
      // The API server is away or refused: keep the last good state, try on the next tick.
      this.resourceVersion = undefined;
      if (!this.failing)
        this.o.log.warn(
          { err: e instanceof Error ? e.message : String(e) },
          "cannot write the node status; retrying every interval",
        );
      this.failing = true;
    }
  }

  /** Create-or-update with compare-and-swap; false when it gave up for now. */
  private async write(status: NodeStatusBody): Promise<boolean> {
    const api = this.o.api;
    const name = this.o.node;
    for (let i = 0; i < MAX_ATTEMPTS && !this.stopped; i++) {
      if (this.resourceVersion === undefined) {
        const got = await api.get(name);
        if (got === undefined) {
          const made = await api.create(name, this.o.owner());
          if (made === "exists") continue;
          this.resourceVersion = made.resourceVersion;
          this.ownedBy = made.ownedBy;
        } else {
          this.resourceVersion = got.resourceVersion;
          this.ownedBy = got.ownedBy;
        }
      }
      const owner = this.o.owner();
      if (owner !== undefined && this.ownedBy !== owner.uid) {
        const r = await api.setOwner(name, this.resourceVersion, owner);
        if (r === "conflict" || r === "gone") {
          this.resourceVersion = undefined;
          continue;
        }
        this.resourceVersion = r;
        this.ownedBy = owner.uid;
      }
      const r = await api.replaceStatus(name, this.resourceVersion, status);
      if (r === "conflict" || r === "gone") {
        this.resourceVersion = undefined;
        continue;
      }
      this.resourceVersion = r;
      return true;
    }
    return false;
  }
}
