/**
 * Pure: the node status built from its sources, and when to write it. The
 * shell (status-publisher.ts) gathers the sources on its timers and does the
 * writes; everything it decides comes from here, with the clock injected.
 */
import type { BgpSessionStatus, NodeStatusBody } from "../../crds/node-status.js";
import type { BgpStatusSnapshot } from "./bgp-status-source.js";

/** Whatever changes or not, lastUpdated is rewritten at least this often. */
export const MIN_REFRESH_MS = 60_000;
/** A readiness change is written within this (coalesced), whatever the interval. */
export const READINESS_POLL_MS = 250;
/** Timers fire a little late against the wall clock: a tick an interval after a write may see 9.99 s. */
export const RATE_SLACK_MS = 50;
/** Stale: lastUpdated older than this many refresh intervals. */
export const STALE_FACTOR = 3;

export interface StatusSources {
  ready: boolean;
  reason: string;
  agentVersion: string;
  startedAtMs: number;
  /** statusIntervalSeconds: at most one write per this (readiness changes excepted). */
  intervalMs: number;
  ipam: { affineBlocks: number; addressesInUse: number; poolsRejected: ReadonlyMap<string, string> };
  /** Absent with policy off. */
  policy?: { generation: number; lastApplyMs?: number; lastError?: string };
  rolledBack: ReadonlyMap<string, { seen: number; got: number }>;
  /** Absent while the agent runs no BGP speaker. */
  bgp?: BgpStatusSnapshot;
  /** Pod routes (proto 201) last counted; absent when the count failed or has not run. */
  localRoutes?: number;
}

/** The longest the agent goes without writing: max(interval, 60 s). */
export function refreshMs(intervalMs: number): number {
  return Math.max(intervalMs, MIN_REFRESH_MS);
}

const iso = (ms: number): string => new Date(ms).toISOString();

function session(s: BgpSessionStatus): BgpSessionStatus {
  const out: BgpSessionStatus = { peer: s.peer, kind: s.kind, state: s.state };
  if (s.uptimeSeconds !== undefined) out.uptimeSeconds = Math.max(0, Math.floor(s.uptimeSeconds));
  if (s.prefixesReceived !== undefined) out.prefixesReceived = s.prefixesReceived;
  if (s.prefixesAccepted !== undefined) out.prefixesAccepted = s.prefixesAccepted;
  if (s.prefixesAdvertised !== undefined) out.prefixesAdvertised = s.prefixesAdvertised;
  return out;
}

/** The status body at `nowMs` (sorted lists, so equal sources give equal bodies). */
export function buildNodeStatus(src: StatusSources, nowMs: number): NodeStatusBody {
  const body: NodeStatusBody = {
    ready: src.ready,
    reason: src.ready ? "ready" : src.reason,
    agentVersion: src.agentVersion,
    startedAt: iso(src.startedAtMs),
    lastUpdated: iso(nowMs),
    refreshSeconds: Math.ceil(refreshMs(src.intervalMs) / 1000),
  };
  const b = src.bgp;
  if (b !== undefined) {
    const sessions = [...b.sessions].map(session).sort((x, y) => x.peer.localeCompare(y.peer));
    body.bgp = {
      ...(b.address4 !== undefined ? { address4: b.address4 } : {}),
      ...(b.address6 !== undefined ? { address6: b.address6 } : {}),
      ...(b.method !== undefined ? { method: b.method } : {}),
      ...(b.asn !== undefined ? { asn: b.asn } : {}),
      sessionsEstablished: sessions.filter((s) => s.state === "Established").length,
      sessions,
    };
  }
  const routes: NonNullable<NodeStatusBody["routes"]> = {};
  if (b !== undefined) {
    routes.installed = b.routesInstalled4 + b.routesInstalled6;
    routes.installed4 = b.routesInstalled4;
    routes.installed6 = b.routesInstalled6;
  }
  if (src.localRoutes !== undefined) routes.local = src.localRoutes;
  if (Object.keys(routes).length > 0) body.routes = routes;
  body.ipam = {
    affineBlocks: src.ipam.affineBlocks,
    addressesInUse: src.ipam.addressesInUse,
    poolsRejected: [...src.ipam.poolsRejected]
      .map(([pool, reason]) => ({ pool, reason }))
      .sort((x, y) => x.pool.localeCompare(y.pool)),
  };
  if (src.policy !== undefined) {
    body.policy = {
      generation: src.policy.generation,
      ...(src.policy.lastApplyMs !== undefined ? { lastApplyTime: iso(src.policy.lastApplyMs) } : {}),
      ...(src.policy.lastError !== undefined ? { lastError: src.policy.lastError } : {}),
    };
  }
  body.informers = {
    rolledBack: [...src.rolledBack]
      .map(([informer, v]) => ({ informer, seen: v.seen, got: v.got }))
      .sort((x, y) => x.informer.localeCompare(y.informer)),
  };
  return body;
}

/**
 * What counts as a change: everything but lastUpdated, and a session's
 * uptime only as the 10 s bucket it started in (uptime grows every second;
 * a session that restarted starts in another bucket or changed state).
 */
export function statusKey(body: NodeStatusBody, nowMs: number): string {
  const { lastUpdated: _lu, ...rest } = body;
  const bgp =
    rest.bgp === undefined
      ? undefined
      : {
          ...rest.bgp,
          sessions: rest.bgp.sessions.map(({ uptimeSeconds, ...s }) => ({
            ...s,
            since: uptimeSeconds === undefined ? null : Math.round((nowMs / 1000 - uptimeSeconds) / 10),
          })),
        };
  return JSON.stringify({ ...rest, bgp });
}

export interface LastWrite {
  atMs: number;
  key: string;
  ready: boolean;
}

export type WriteDecision =
  | { write: true; why: "first" | "readiness" | "changed" | "refresh" }
  | { write: false; why: "rate" | "unchanged" };

/**
 * The rate bound: a readiness change is written at once; otherwise at most
 * one write per interval, and only when something changed, or when
 * lastUpdated is a refresh interval old (max(interval, 60 s)).
 */
export function decideWrite(
  last: LastWrite | undefined,
  now: { atMs: number; key: string; ready: boolean },
  intervalMs: number,
): WriteDecision {
  if (last === undefined) return { write: true, why: "first" };
  if (now.ready !== last.ready) return { write: true, why: "readiness" };
  const age = now.atMs - last.atMs;
  if (age < intervalMs - RATE_SLACK_MS) return { write: false, why: "rate" };
  if (now.key !== last.key) return { write: true, why: "changed" };
  if (age >= refreshMs(intervalMs)) return { write: true, why: "refresh" };
  return { write: false, why: "unchanged" };
}

/** Whether a published status is stale: lastUpdated older than 3 refresh intervals (or unreadable). */
export function isStale(s: Pick<NodeStatusBody, "lastUpdated" | "refreshSeconds">, nowMs: number): boolean {
  const t = Date.parse(s.lastUpdated);
  return Number.isNaN(t) || nowMs - t > STALE_FACTOR * s.refreshSeconds * 1000;
}
