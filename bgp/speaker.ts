/**
 * The BGP speaker as a library (no Kubernetes): sessions (bgp/session) feed
 * the RIB (bgp/rib); after each burst of input the RIB's coalesced changes go
 * to the peers' send queues and to the FIB. Peers and originated prefixes can
 * be added, changed and removed at runtime.
 *
 *   const sp = new Speaker({ asn: 65001, routerId: "192.0.2.1", listen: { address: "::", port: 179 } });
 *   sp.addPeer({ address: "192.0.2.2", asn: 65002 });
 *   sp.originate("10.1.0.0/24", { communities: ["65001:100"] });
 *   sp.on("routes", (changes) => ...);  await sp.start();
 */
import { EventEmitter } from "node:events";
import { networkInterfaces } from "node:os";
import { isIPv4, isIPv6, type Socket } from "node:net";
import { pino, type Logger } from "pino";
import {
  AFI_IPV4,
  AFI_IPV6,
  CEASE_ADMIN_SHUTDOWN,
  CEASE_BFD_DOWN,
  CEASE_MAX_PREFIXES,
  CEASE_OTHER_CONFIG_CHANGE,
  CEASE_PEER_DECONFIGURED,
  SAFI_UNICAST,
  canonicalPrefix,
  formatCommunity,
  formatLargeCommunity,
  parseCommunity,
  parseLargeCommunity,
  type AsPathSegment,
  type Family,
  type LargeCommunity,
  type PathAttributes,
} from "./wire/index.js";
import { Rib, type FibChange, type PeerConfig, type RouteView } from "./rib/index.js";
import type { CompiledPolicy } from "./policy/types.js";
import { Peer, familyName, type PeerHooks, type PeerSettings, type SessionInfo } from "./session/peer.js";
import { Listener } from "./session/listener.js";
import { restoreDefaultTtl } from "./session/tcp-security.js";
import { BfdService, type BfdPeerOptions, type BfdPeerStatus, type DropReason } from "./bfd/service.js";
import { systemClock, type Clock, type TimerHandle } from "./session/clock.js";
import type { BackoffOptions } from "../net/backoff.js";
import type { FsmState } from "./session/fsm.js";
import type { PeerStatus, RouteStatus } from "./control/protocol.js";

export type FamilyName = "ipv4-unicast" | "ipv6-unicast";

export interface SpeakerPeerOptions {
  address: string;
  asn: number;
  port?: number;
  localAddress?: string;
  passive?: boolean;
  families?: FamilyName[];
  holdTime?: number;
  keepaliveTime?: number;
  connectRetryTime?: number;
  delayOpenTime?: number;
  routeReflectorClient?: boolean;
  nextHopSelf?: boolean;
  maxPrefixes?: number;
  /** RFC 2385 TCP MD5 key; on the listener too. */
  password?: string;
  /** RFC 5082 GTSM: the peer is at most this many hops away. */
  ttlSecurity?: number;
  /** RFC 5882: a BFD session to the peer; the BGP session goes down the moment BFD says the path is. */
  bfd?: { minTxMs: number; minRxMs: number; multiplier: number };
  /**
   * RFC 4724 §4.2: a restarting peer's routes are kept as stale for the
   * Restart Time it advertised; this caps that time locally (seconds), so a
   * peer advertising 4095 s cannot keep dead routes that long.
   */
  maxRestartTime?: number;
  import?: CompiledPolicy;
  export?: CompiledPolicy;
}

export interface OriginOptions {
  communities?: string[];
  largeCommunities?: string[];
  localPref?: number;
  med?: number;
}

/** Where Loc-RIB changes go in the kernel (bgp/fib); optional. */
export interface FibSink {
  /** Apply changes (coalesced); errors are the sink's to log and retry. */
  apply(changes: readonly FibChange[]): void;
  /** All peers have sent End-of-RIB (or the deferral timer ran out): stale kernel routes may go. */
  markSynced(): void;
  close(): Promise<void>;
}

export interface SpeakerOptions {
  asn: number;
  routerId: string;
  clusterId?: string;
  listen?: { address: string; port: number };
  holdTime?: number;
  keepaliveTime?: number;
  connectRetryTime?: number;
  /** RFC 4724. `restarting`: we are coming back from a restart (R bit), kernel routes were kept. */
  gracefulRestart?: {
    enabled: boolean;
    restartTime: number;
    restarting?: boolean;
    selectionDeferralTime?: number;
  };
  /** ECMP: up to this many equal paths per prefix (1 = off). */
  maxPaths?: number;
  fib?: FibSink;
  logger?: Logger;
  clock?: Clock;
  backoff?: BackoffOptions;
  /** Where BFD listens (RFC 5881: UDP 3784 on every address); tests move it. */
  bfd?: { address?: string; port?: number };
}

interface PeerEntry {
  opts: SpeakerPeerOptions;
  peer: Peer;
  staleTimer: TimerHandle | undefined;
  /** Families still stale after a graceful restart of the peer, waiting for End-of-RIB. */
  staleFamilies: Set<string>;
  eorReceived: Set<string>;
}

const FAMILY: Record<FamilyName, Family> = {
  "ipv4-unicast": { afi: AFI_IPV4, safi: SAFI_UNICAST },
  "ipv6-unicast": { afi: AFI_IPV6, safi: SAFI_UNICAST },
};

const nullLogger: Logger = pino({ level: "silent" });

/**
 * Destinations that trigger a flush in the middle of a read turn (issue 12):
 * one turn of the event loop can read megabytes of UPDATEs, and the RIB's
 * change lists and the FIB's batch grow with the flush.
 */
const FLUSH_BATCH = 16_384;

export interface SpeakerEvents {
  /** Loc-RIB best-path changes (the FIB view): an empty nexthops list = gone. */
  routes: [changes: FibChange[]];
  /** A session changed state. */
  peer: [address: string, from: FsmState, to: FsmState];
}

export class Speaker extends EventEmitter<SpeakerEvents> {
  private readonly rib: Rib;
  private readonly peers = new Map<string, PeerEntry>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private listener: Listener | undefined;
  private bfd: BfdService | undefined;
  private flushScheduled = false;
  private started = false;
  private fibSynced = false;
  private deferralTimer: TimerHandle | undefined;

  constructor(private readonly opts: SpeakerOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? nullLogger;
    const ribCfg: ConstructorParameters<typeof Rib>[0] = { asn: opts.asn, routerId: opts.routerId };
    if (opts.clusterId) ribCfg.clusterId = opts.clusterId;
    if (opts.maxPaths && opts.maxPaths > 1)
      ribCfg.multipath = { maxPaths: opts.maxPaths, relaxAsPath: false };
    this.rib = new Rib(ribCfg);
  }

  get listenPort(): number | undefined {
    return this.listener?.port;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.opts.listen) {
      this.listener = await Listener.listen({
        address: this.opts.listen.address,
        port: this.opts.listen.port,
        route: (remote, sock) => this.routeIncoming(remote, sock),
      });
      for (const e of this.peers.values()) this.setListenerKey(e.opts.address, e.opts.password);
      this.updateListenerGtsm();
    }
    for (const e of this.peers.values()) {
      e.peer.start();
      this.startBfd(e.opts);
    }
    // RFC 4724 §4.1: after our own restart, defer the FIB sweep until peers sent End-of-RIB.
    const deferral = this.opts.gracefulRestart?.selectionDeferralTime ?? 360;
    this.deferralTimer = this.clock.setTimeout(() => this.syncFib("deferral timer expired"), deferral * 1000);
    this.maybeSyncFib();
  }

  /**
   * Graceful stop: every session gets Cease / Administrative Shutdown (RFC
   * 4486). With `restart`, a session that negotiated graceful restart ends
   * without one instead, so its peer keeps our routes while we restart (RFC
   * 4724 §4.2; Peer.stopForRestart).
   */
  async stop(subcode = CEASE_ADMIN_SHUTDOWN, o: { restart?: boolean } = {}): Promise<void> {
    for (const e of this.peers.values()) {
      this.clearStale(e);
      if (o.restart === true) e.peer.stopForRestart(subcode);
      else e.peer.stop(subcode);
    }
    if (this.deferralTimer) this.clock.clearTimeout(this.deferralTimer);
    this.bfd?.close();
    this.bfd = undefined;
    await this.listener?.close();
    this.listener = undefined;
    this.flush();
    // Let the NOTIFICATIONs reach the wire before the process may exit.
    await new Promise((r) => setTimeout(r, 100));
    await this.opts.fib?.close();
  }

  // ---- peers --------------------------------------------------------------

  addPeer(o: SpeakerPeerOptions): void {
    if (this.peers.has(o.address)) throw new Error(`peer ${o.address} already exists`);
    this.rib.addPeer(this.ribPeerConfig(o));
    const entry: PeerEntry = {
      opts: o,
      peer: undefined as unknown as Peer,
      staleFamilies: new Set(),
      eorReceived: new Set(),
      staleTimer: undefined,
    };
    entry.peer = new Peer(this.peerSettings(o), this.clock, this.hooksFor(entry));
    this.peers.set(o.address, entry);
    if (o.password !== undefined) this.setListenerKey(o.address, o.password);
    if (o.ttlSecurity !== undefined) this.updateListenerGtsm();
    if (this.started) {
      entry.peer.start();
      this.startBfd(o);
    }
  }

  /** The peer is de-configured: Cease / Peer De-configured, its routes go. */
  removePeer(address: string, subcode = CEASE_PEER_DECONFIGURED): void {
    const e = this.peers.get(address);
    if (!e) return;
    this.clearStale(e);
    e.peer.stop(subcode);
    this.peers.delete(address);
    if (e.opts.password !== undefined) this.setListenerKey(address, undefined);
    if (e.opts.ttlSecurity !== undefined) this.updateListenerGtsm();
    this.bfd?.remove(address);
    this.rib.removePeer(address);
    this.schedule();
    this.maybeSyncFib();
  }

  /**
   * Change a peer. Session parameters (AS, port, addresses, families, timers,
   * passive, password, ttlSecurity, bfd) need a new session: Cease / Other Configuration Change, then a
   * fresh start. Policy, max-prefix, RR client and next-hop-self apply in place.
   */
  updatePeer(o: SpeakerPeerOptions): void {
    const e = this.peers.get(o.address);
    if (!e) {
      this.addPeer(o);
      return;
    }
    const sessionKey = (x: SpeakerPeerOptions): string =>
      JSON.stringify([
        x.asn,
        x.port,
        x.localAddress,
        x.passive,
        x.families,
        x.holdTime,
        x.keepaliveTime,
        x.connectRetryTime,
        x.delayOpenTime,
        x.password,
        x.ttlSecurity,
        x.bfd,
      ]);
    if (sessionKey(e.opts) !== sessionKey(o)) {
      this.removePeer(o.address, CEASE_OTHER_CONFIG_CHANGE);
      this.addPeer(o);
      return;
    }
    e.opts = o;
    e.peer.updateSettings(this.peerSettings(o));
    this.rib.setPeerConfig(this.ribPeerConfig(o));
    this.schedule();
  }

  peerAddresses(): string[] {
    return [...this.peers.keys()];
  }

  peerOptions(address: string): SpeakerPeerOptions | undefined {
    return this.peers.get(address)?.opts;
  }

  peerState(address: string): FsmState | undefined {
    return this.peers.get(address)?.peer.state;
  }

  // ---- origination --------------------------------------------------------

  originate(prefix: string, o: OriginOptions = {}): void {
    const origin: Parameters<Rib["originate"]>[0] = { prefix: canonicalPrefixOrThrow(prefix) };
    if (o.communities?.length) origin.communities = o.communities.map(communityValue);
    if (o.largeCommunities?.length) origin.largeCommunities = o.largeCommunities.map(largeValue);
    if (o.localPref !== undefined) origin.localPref = o.localPref;
    if (o.med !== undefined) origin.med = o.med;
    this.rib.originate(origin, this.clock.now());
    this.schedule();
  }

  withdraw(prefix: string): void {
    this.rib.withdrawOrigin(canonicalPrefixOrThrow(prefix));
    this.schedule();
  }

  originated(): string[] {
    return this.rib.origination().map((o) => o.prefix);
  }

  // ---- views --------------------------------------------------------------

  peerStatus(): PeerStatus[] {
    const now = this.clock.now();
    const bfd = new Map(this.bfdStatus().map((b) => [b.peer, b]));
    return [...this.peers.values()].map(({ opts, peer }) => {
      const info = peer.info;
      const stats = this.rib.peerStats(opts.address);
      const s: PeerStatus = {
        address: opts.address,
        asn: opts.asn,
        localAsn: this.opts.asn,
        type: opts.asn === this.opts.asn ? "ibgp" : "ebgp",
        state: peer.state,
        capabilities: info?.capabilities ?? [],
        families: (
          info?.families ?? (opts.families ?? ["ipv4-unicast", "ipv6-unicast"]).map((f) => FAMILY[f])
        ).map((f) => (typeof f === "string" ? f : familyName(f))),
        prefixes: {
          received: stats.received,
          accepted: stats.accepted,
          advertised: stats.advertised,
          stale: stats.stale,
        },
        messages: { received: peer.messagesIn, sent: peer.messagesOut },
        updates: { received: peer.updatesIn, sent: peer.updatesOut },
        sendQueue: peer.sendQueue,
        connectRetryCounter: peer.connectRetryCounter,
      };
      if (peer.establishedAt !== undefined) s.uptimeSeconds = Math.floor((now - peer.establishedAt) / 1000);
      if (info) {
        s.routerId = info.peerRouterId;
        s.holdTime = info.holdTime;
        s.keepaliveTime = info.keepaliveTime;
      }
      if (peer.lastError) s.lastError = peer.lastError;
      const b = bfd.get(opts.address);
      if (b) {
        const { state, remoteState, diag, txIntervalMs, detectTimeMs } = b;
        s.bfd = { state, remoteState, diag, txIntervalMs, detectTimeMs };
      }
      return s;
    });
  }

  routeStatus(): RouteStatus[] {
    const out: RouteStatus[] = [];
    for (const r of this.rib.routes()) out.push(routeStatus(r));
    out.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
    return out;
  }

  /** The RIB, for tests and the agent (read-only use). */
  get ribView(): Pick<Rib, "route" | "routes" | "bestCount" | "adjRibOut" | "peerStats"> {
    return this.rib;
  }

  // ---- internals ----------------------------------------------------------

  /** The peer's MD5 key on the listener (RFC 2385); a failure is logged and shown in the peer's status. */
  private setListenerKey(address: string, password: string | undefined): void {
    if (!this.listener) return;
    try {
      this.listener.setPeerKey(address, password);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.log.error({ peer: address, error }, "cannot set the peer's TCP MD5 key on the listener");
      const peer = this.peers.get(address)?.peer;
      if (peer && password !== undefined)
        peer.lastError = `cannot set the TCP MD5 key on the listener: ${error}`;
    }
  }

  /** BFD status per peer (RFC 5880 state, diag, intervals, packets), for the control socket and tests. */
  bfdStatus(): BfdPeerStatus[] {
    return this.bfd?.status() ?? [];
  }

  /** Datagrams BFD dropped, by reason (TTL != 255, malformed, no session, …). */
  bfdDropped(): Partial<Record<DropReason, number>> {
    return { ...(this.bfd?.dropped ?? {}) };
  }

  /** A BFD session for a peer that asks for one; the service opens with the first. */
  private startBfd(o: SpeakerPeerOptions): void {
    if (!o.bfd) return;
    try {
      if (!this.bfd) {
        this.bfd = BfdService.open(this.opts.bfd ?? {});
        this.bfd.on("state", (peer, from, to, diag) => this.onBfdState(peer, from, to, diag));
      }
      const b: BfdPeerOptions = { peer: o.address, ...o.bfd };
      if (o.localAddress) b.local = o.localAddress;
      if (this.opts.bfd?.port !== undefined) b.port = this.opts.bfd.port;
      this.bfd.add(b);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.log.error({ peer: o.address, error }, "cannot start BFD for the peer");
      const peer = this.peers.get(o.address)?.peer;
      if (peer) peer.lastError = `cannot start BFD: ${error}`;
    }
  }

  /**
   * RFC 5882 §4.3: BFD Down after Up means the path is gone: the BGP session
   * goes down now (Cease / BFD Down, RFC 9384 subcode 10), its routes with it,
   * instead of waiting for the hold timer.
   */
  private onBfdState(address: string, from: string, to: string, diag: string): void {
    this.log.info({ peer: address, from, to, diag }, "BFD session state");
    if (from !== "Up" || to === "Up") return;
    const e = this.peers.get(address);
    if (!e) return;
    if (e.peer.state !== "Idle") e.peer.reset(CEASE_BFD_DOWN);
    e.peer.lastError = `BFD session down: ${diag}`;
  }

  /** RFC 5082: the listener sends with TTL 255 while any peer uses GTSM. */
  private updateListenerGtsm(): void {
    if (!this.listener) return;
    const on = [...this.peers.values()].some((e) => e.opts.ttlSecurity !== undefined);
    try {
      this.listener.setGtsm(on);
    } catch (e) {
      this.log.error(
        { error: e instanceof Error ? e.message : String(e) },
        "cannot set TTL security on the listener",
      );
    }
  }

  private routeIncoming(remote: string, sock: Socket): boolean {
    const e = this.peers.get(remote);
    if (!e) {
      this.log.info({ remote }, "connection from an unconfigured address rejected");
      return false;
    }
    // The listener sends with TTL 255 for GTSM peers; the others get the default back.
    if (this.listener?.gtsm && e.opts.ttlSecurity === undefined) restoreDefaultTtl(sock);
    e.peer.incoming(sock);
    return true;
  }

  private peerSettings(o: SpeakerPeerOptions): PeerSettings {
    const gr = this.opts.gracefulRestart;
    const s: PeerSettings = {
      address: o.address,
      port: o.port ?? 179,
      passive: o.passive ?? false,
      localAs: this.opts.asn,
      routerId: this.opts.routerId,
      peerAs: o.asn,
      holdTime: o.holdTime ?? this.opts.holdTime ?? 90,
      connectRetryTime: o.connectRetryTime ?? this.opts.connectRetryTime ?? 30,
      families: (o.families ?? ["ipv4-unicast", "ipv6-unicast"]).map((f) => FAMILY[f]),
    };
    if (o.localAddress) s.localAddress = o.localAddress;
    if (o.delayOpenTime) s.delayOpenTime = o.delayOpenTime;
    if (o.password !== undefined) s.password = o.password;
    if (o.ttlSecurity !== undefined) s.ttlSecurity = o.ttlSecurity;
    const ka = o.keepaliveTime ?? this.opts.keepaliveTime;
    if (ka !== undefined) s.keepaliveTime = ka;
    if (gr?.enabled) {
      s.gracefulRestart = {
        restartTime: gr.restartTime,
        restarting: gr.restarting === true,
        // F bit: we keep kernel routes across our own restart only when we install them.
        forwarding: this.opts.fib !== undefined,
      };
    }
    if (this.opts.backoff) s.backoff = this.opts.backoff;
    return s;
  }

  private ribPeerConfig(o: SpeakerPeerOptions): PeerConfig {
    const c: PeerConfig = { id: o.address, address: o.address, asn: o.asn };
    if (o.routeReflectorClient) c.routeReflectorClient = true;
    if (o.nextHopSelf) c.nextHopSelf = true;
    if (o.maxPrefixes !== undefined) c.maxPrefixes = o.maxPrefixes;
    if (o.import) c.import = o.import;
    if (o.export) c.export = o.export;
    return c;
  }

  private hooksFor(e: PeerEntry): PeerHooks {
    const id = e.opts.address;
    const log = (lvl: "debug" | "info" | "warn", msg: string, extra?: Record<string, unknown>): void =>
      this.log[lvl]({ peer: id, ...extra }, msg);
    return {
      log,
      stateChange: (from, to) => {
        log("info", "session state", { from, to });
        this.emit("peer", id, from, to);
      },
      established: (info) => this.onEstablished(e, info),
      update: (msg) => {
        if (!this.peers.has(id)) return;
        const r = this.rib.update(id, msg, this.clock.now());
        if (r.maxPrefixExceeded) {
          const m = r.maxPrefixExceeded;
          log("warn", "maximum number of prefixes reached", { ...m });
          // RFC 4486 §4: AFI (2), SAFI (1), upper bound (4).
          const data = Buffer.alloc(7);
          data.writeUInt16BE(m.afi, 0);
          data.writeUInt8(m.safi, 2);
          data.writeUInt32BE(m.limit, 3);
          // Not from inside the FSM step that is delivering this UPDATE.
          setImmediate(() => {
            if (this.peers.get(id) === e && e.peer.state === "Established")
              e.peer.reset(CEASE_MAX_PREFIXES, data);
          });
        }
        // Bound the work (and the change lists) of one flush: a socket read
        // turn can deliver hundreds of thousands of prefixes.
        if (this.rib.pending >= FLUSH_BATCH) this.flush();
        this.schedule();
      },
      endOfRib: (family) => {
        log("debug", "End-of-RIB received", { family: familyName(family) });
        e.eorReceived.add(familyName(family));
        if (e.staleFamilies.delete(familyName(family))) {
          this.rib.endOfRib(id, family);
          if (e.staleFamilies.size === 0) this.clearStale(e);
        }
        this.schedule();
        this.maybeSyncFib();
      },
      routeRefresh: (family) => {
        log("info", "route refresh requested", { family: familyName(family) });
        this.rib.routeRefresh(id);
        this.schedule();
      },
      down: (d) => {
        e.eorReceived.clear();
        if (!this.peers.has(id)) return;
        if (d.graceful && d.peerGracefulRestart) {
          // RFC 4724 §4.2: keep the peer's routes, marked stale, for its Restart Time.
          const gr = d.peerGracefulRestart;
          const keepFor = Math.min(gr.restartTime, e.opts.maxRestartTime ?? gr.restartTime);
          e.staleFamilies = new Set(gr.families.map((f) => familyName(f)));
          log("info", "peer restarting gracefully: routes kept as stale", {
            restartTime: gr.restartTime,
            keepFor,
          });
          this.rib.peerDown(id, { graceful: true });
          this.clearStaleTimer(e);
          e.staleTimer = this.clock.setTimeout(() => {
            e.staleTimer = undefined;
            log("info", "restart timer expired: stale routes removed");
            e.staleFamilies.clear();
            if (this.peers.has(id)) this.rib.staleTimerExpired(id);
            this.schedule();
          }, keepFor * 1000);
        } else {
          this.clearStale(e);
          this.rib.peerDown(id, { graceful: false });
        }
        this.schedule();
      },
    };
  }

  private onEstablished(e: PeerEntry, info: SessionInfo): void {
    const id = e.opts.address;
    const local = localAddresses(info.localAddress);
    this.rib.peerUp(id, { routerId: info.peerRouterId, localAddress: local, families: info.families });
    // RFC 4724 §4.2: families the restarted peer no longer preserves forwarding for go now.
    if (e.staleFamilies.size) {
      const keep = new Set(
        (info.peerGracefulRestart?.families ?? []).filter((f) => f.forwarding).map((f) => familyName(f)),
      );
      for (const name of [...e.staleFamilies]) {
        if (!keep.has(name)) {
          e.staleFamilies.delete(name);
          this.rib.endOfRib(id, name === "ipv4-unicast" ? FAMILY["ipv4-unicast"] : FAMILY["ipv6-unicast"]);
        }
      }
      if (e.staleFamilies.size === 0) this.clearStale(e);
    }
    this.log.info(
      { peer: id, capabilities: info.capabilities, holdTime: info.holdTime },
      "session established",
    );
    this.schedule();
    // Let this turn's UPDATEs in before deciding the FIB is complete.
    setImmediate(() => this.maybeSyncFib());
  }

  private clearStaleTimer(e: PeerEntry): void {
    if (e.staleTimer !== undefined) this.clock.clearTimeout(e.staleTimer);
    e.staleTimer = undefined;
  }

  private clearStale(e: PeerEntry): void {
    this.clearStaleTimer(e);
    e.staleFamilies.clear();
  }

  /** Coalesce: one flush per turn of the event loop, after all socket reads of that turn. */
  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    // FIB changes are built only for a consumer (the kernel FIB, a "routes" listener).
    const wantFib = this.opts.fib !== undefined || this.listenerCount("routes") > 0;
    const { fib, out } = this.rib.takeChanges({ fib: wantFib });
    for (const o of out) {
      const e = this.peers.get(o.peer);
      if (e) e.peer.enqueue(o.announce, o.withdraw, o.endOfRib);
    }
    if (fib.length) {
      try {
        this.opts.fib?.apply(fib);
      } catch (e) {
        // The FIB is downstream of the RIB: a route it cannot take must not stop BGP.
        this.log.error({ error: e instanceof Error ? e.message : String(e) }, "FIB rejected a change");
      }
      this.emit("routes", fib);
    }
  }

  /** The FIB may sweep stale routes once every peer is up with End-of-RIB, or nobody is configured. */
  private maybeSyncFib(): void {
    if (this.fibSynced || !this.started) return;
    for (const e of this.peers.values()) {
      const info = e.peer.info;
      if (e.peer.state !== "Established" || !info) return;
      // RFC 4724 §4.1: wait for End-of-RIB from peers that can send it (they
      // advertised graceful restart); others count as done once Established.
      if (!info.peerGracefulRestart) continue;
      if (!info.families.every((f) => e.eorReceived.has(familyName(f)))) return;
    }
    this.syncFib("End-of-RIB from every peer");
  }

  private syncFib(why: string): void {
    if (this.fibSynced) return;
    this.fibSynced = true;
    if (this.deferralTimer) this.clock.clearTimeout(this.deferralTimer);
    // Everything received so far must be in the FIB before stale routes are swept.
    this.flush();
    this.log.info({ why }, "FIB in sync: stale kernel routes may be swept");
    this.opts.fib?.markSynced();
  }
}

/** Our addresses for NEXT_HOP: the session's local address and one of the other family on the same interface. */
export function localAddresses(local: string): { ipv4?: string; ipv6?: string } {
  const r: { ipv4?: string; ipv6?: string } = {};
  if (isIPv4(local)) r.ipv4 = local;
  else if (isIPv6(local)) r.ipv6 = local;
  for (const addrs of Object.values(networkInterfaces())) {
    if (!addrs?.some((a) => a.address === local)) continue;
    for (const a of addrs) {
      if (a.family === "IPv4" && !r.ipv4) r.ipv4 = a.address;
      if (a.family === "IPv6" && !r.ipv6 && !a.address.startsWith("fe80")) r.ipv6 = a.address;
    }
  }
  return r;
}

function canonicalPrefixOrThrow(p: string): string {
  const c = canonicalPrefix(p);
  if (c === null) throw new Error(`invalid prefix ${p}`);
  return c;
}

function communityValue(s: string): number {
  const v = parseCommunity(s);
  if (v === null) throw new Error(`invalid community ${s}`);
  return v;
}

function largeValue(s: string): LargeCommunity {
  const v = parseLargeCommunity(s);
  if (v === null) throw new Error(`invalid large community ${s}`);
  return v;
}

const ORIGIN_NAMES = ["igp", "egp", "incomplete"];

export function formatAsPath(segs: readonly AsPathSegment[] | undefined): string {
  return (segs ?? [])
    .map((s) => (s.type === 1 || s.type === 4 ? `{${s.asns.join(",")}}` : s.asns.join(" ")))
    .join(" ");
}

function routeStatus(r: RouteView): RouteStatus {
  return {
    prefix: r.prefix,
    reason: r.reason,
    nexthops: r.nexthops,
    paths: r.paths.map((p) => {
      const a: PathAttributes = p.attributes;
      const v: RouteStatus["paths"][number] = {
        source: p.source,
        best: p.best,
        multipath: p.multipath,
        stale: p.stale,
        asPath: formatAsPath(a.asPath),
        communities: (a.communities ?? []).map(formatCommunity),
        largeCommunities: (a.largeCommunities ?? []).map(formatLargeCommunity),
      };
      if (a.nextHop !== undefined) v.nextHop = a.nextHop;
      if (a.origin !== undefined) v.origin = ORIGIN_NAMES[a.origin] ?? String(a.origin);
      if (a.localPref !== undefined) v.localPref = a.localPref;
      if (a.med !== undefined) v.med = a.med;
      return v;
    }),
  };
}
