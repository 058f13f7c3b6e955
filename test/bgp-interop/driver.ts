import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { signalAndWait, signalChild, type Link, type NetLab } from "./netlab.js";

/** What the interop suite needs from a peer implementation (BIRD, FRR, GoBGP). */
export interface PeerRoute {
  prefix: string;
  communities?: string[];
  largeCommunities?: string[];
}

/** A route as the peer sees it, normalised across implementations. */
export interface RouteSeen {
  asPath: string;
  communities: string[];
  largeCommunities: string[];
  localPref?: number;
  nextHop?: string;
  originatorId?: string;
  clusterList?: string[];
}

export interface PeerDriverOptions {
  name: string;
  asn: number;
  routerId: string;
  trellisAsn: number;
  routes: PeerRoute[];
  gracefulRestart?: boolean;
  /** The session runs over IPv6 (IPv4 NLRI then use RFC 8950 next hops where the peer does). */
  ipv6Transport?: boolean;
  /** RFC 2385 TCP MD5 key on the session. */
  password?: string;
  /** RFC 5082 GTSM, one hop (BIRD `ttl security on`, FRR `ttl-security hops 1`; GoBGP: not wired). */
  ttlSecurity?: boolean;
  /** BFD on the session (BIRD: `protocol bfd` + `bfd on`). */
  bfd?: { intervalMs: number; multiplier: number };
}

/** The addresses the session runs between. */
export function sessionAddresses(
  link: { t4: string; p4: string; t6: string; p6: string },
  o: PeerDriverOptions,
): { local: string; neighbor: string } {
  return o.ipv6Transport ? { local: link.p6, neighbor: link.t6 } : { local: link.p4, neighbor: link.t4 };
}

/** trellis-bgp's `bfd` settings for a peer's `PeerDriverOptions.bfd`: the same timers both ways. */
export function speakerBfd(b: NonNullable<PeerDriverOptions["bfd"]>): {
  minTxMs: number;
  minRxMs: number;
  multiplier: number;
} {
  return { minTxMs: b.intervalMs, minRxMs: b.intervalMs, multiplier: b.multiplier };
}

export interface PeerDriver {
  readonly kind: string;
  start(recovery?: boolean): Promise<void>;
  /** Replace the announced routes on the running peer. */
  setRoutes(routes: PeerRoute[]): Promise<void>;
  /** Replace the routes announced at the next start (peer stopped). */
  setRoutesOffline(routes: PeerRoute[]): void;
  route(prefix: string): RouteSeen | undefined;
  established(): boolean;
  /** Ask the peer to send ROUTE-REFRESH to Trellis. */
  requestRefresh(): void;
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL and wait for the exit. */
  stopHard(): Promise<void>;
  /** The peer reports that it received a NOTIFICATION matching `re` (e.g. /Administrative shutdown/i). */
  sawNotification(re: RegExp): boolean;
}

/**
 * What the drivers of a spawned peer daemon share: the lab, the link, the
 * options, the process, and signalling it; each driver (bird.ts, frr.ts,
 * gobgp.ts) fills in the rest of PeerDriver for its daemon.
 */
export abstract class SpawnedPeer<O extends PeerDriverOptions = PeerDriverOptions> implements PeerDriver {
  protected proc: ChildProcess | undefined;
  abstract readonly kind: string;
  abstract start(recovery?: boolean): Promise<void>;
  abstract setRoutes(routes: PeerRoute[]): Promise<void>;
  abstract route(prefix: string): RouteSeen | undefined;
  abstract established(): boolean;
  abstract requestRefresh(): void;
  abstract sawNotification(re: RegExp): boolean;

  constructor(
    protected readonly lab: NetLab,
    protected readonly link: Link,
    protected opts: O,
  ) {}

  /** Every driver writes its configuration from `opts.routes` at start. */
  setRoutesOffline(routes: PeerRoute[]): void {
    this.opts = { ...this.opts, routes };
  }

  signal(sig: NodeJS.Signals): void {
    signalChild(this.proc, sig);
  }

  async stopHard(): Promise<void> {
    await signalAndWait(this.proc, "SIGKILL");
  }

  /** A log file's text, or undefined when it does not exist yet. */
  protected readLog(path: string): string | undefined {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  }
}

/** "(65001,100)" and "65001:100" both become "65001:100". */
export function normCommunity(s: string): string {
  return s.replace(/[()\s]/g, "").replace(/,/g, ":");
}
