/**
 * The session adapter: one BGP peer. It owns the TCP connection(s) and the
 * timers, turns socket bytes and timer expiries into FSM events (fsm.ts), and
 * carries out the actions the FSM returns. The codec (bgp/wire) frames and
 * decodes; the speaker gets decoded UPDATEs and session changes through hooks.
 *
 * Connection collisions (RFC 4271 §6.8): while our connection is in OpenSent
 * or OpenConfirm, a second (incoming) connection runs its own FSM; when an
 * OPEN tells us the peer's BGP Identifier, collision.ts picks the survivor and
 * the other gets OpenCollisionDump (Cease / Connection Collision Resolution).
 *
 * Backpressure: routes to send are kept per prefix, coalesced, and encoded
 * only while the socket's write buffer is below a high-water mark; the rest
 * waits for 'drain'. A slow peer costs at most one entry per prefix.
 */
import { connect, isIPv6, type Socket } from "node:net";
import {
  AFI_IPV4,
  AFI_IPV6,
  AS_TRANS,
  BgpError,
  CEASE_ADMIN_RESET,
  CEASE_CONNECTION_COLLISION,
  CEASE_CONNECTION_REJECTED,
  ERR_CEASE,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  SAFI_UNICAST,
  parseIpv4,
  decodeMessage,
  encodeMessage,
  frame,
  negotiate,
  endOfRib,
  isEndOfRib,
  packUpdates,
  type BgpMessage,
  type Capability,
  type CodecOptions,
  type Family,
  type GracefulRestartCapability,
  type OpenMessage,
  type PathAttributes,
  type Prefix,
  type UpdateMessage,
} from "../wire/index.js";
import { backoffDelay, type BackoffOptions } from "../../net/backoff.js";
import { applyTcpSecurity, connectSecure, fdOf, sockopt } from "../../net/sockopt/sockopt.js";
import {
  gtsmMinTtl,
  hasSecurity,
  silentAfterConnectText,
  tcpSecurity,
  unansweredText,
  type SessionSecurity,
} from "./tcp-security.js";
import type { Clock, TimerHandle } from "./clock.js";
import { collisionWinner, type Direction } from "./collision.js";
import {
  initialSession,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmState,
  type FsmTimer,
  type Session,
} from "./fsm.js";
import type { PeerOpen } from "./open-check.js";
import { describeNotification } from "./notification-text.js";

/**
 * How long a peer stays Idle before an automatic restart (the IdleHoldTimer of
 * RFC 4271 §8.1.1, "DampPeerOscillations"): exponential in the number of
 * consecutive failures, capped, with jitter so that many peers that fail
 * together do not come back in lockstep. trellis-bgp's `restartBackoff` default.
 */
export const DEFAULT_RESTART_BACKOFF: BackoffOptions = { minMs: 1000, maxMs: 120_000, jitter: 0.25 };

export interface PeerSettings extends SessionSecurity {
  address: string;
  port: number;
  localAddress?: string;
  passive: boolean;
  localAs: number;
  routerId: string;
  peerAs: number;
  holdTime: number;
  keepaliveTime?: number;
  connectRetryTime: number;
  delayOpenTime?: number;
  families: readonly Family[];
  /** RFC 4724: advertise the capability; `restarting` sets the R bit, `forwarding` the F bits. */
  gracefulRestart?: { restartTime: number; restarting: boolean; forwarding: boolean };
  backoff?: BackoffOptions;
}

/** What the session negotiated, handed to the speaker on Established. */
export interface SessionInfo {
  peerRouterId: string;
  holdTime: number;
  keepaliveTime: number;
  families: Family[];
  fourOctetAs: boolean;
  routeRefresh: boolean;
  extendedNextHop: { afi: number; safi: number; nextHopAfi: number }[];
  /** The peer's graceful restart capability, if it sent one (RFC 4724 §3). */
  peerGracefulRestart?: GracefulRestartCapability;
  /** Names of the capabilities both sides advertised. */
  capabilities: string[];
  localAddress: string;
  remoteAddress: string;
  codec: CodecOptions;
}

export interface DownInfo {
  /** RFC 4724 §4.2: the TCP session ended without a NOTIFICATION and the peer can restart gracefully. */
  graceful: boolean;
  peerGracefulRestart?: GracefulRestartCapability;
  reason: string;
}

export interface PeerHooks {
  stateChange(from: FsmState, to: FsmState): void;
  established(info: SessionInfo): void;
  update(msg: UpdateMessage): void;
  endOfRib(family: Family): void;
  routeRefresh(family: Family): void;
  down(info: DownInfo): void;
  log(level: "debug" | "info" | "warn", msg: string, extra?: Record<string, unknown>): void;
}

interface Conn {
  dir: Direction;
  sock: Socket | undefined;
  session: Session;
  timers: Map<FsmTimer, TimerHandle>;
  rbuf: Buffer;
  /** No longer the peer's connection (lost a collision, or replaced): its FSM may not restart anything. */
  retired: boolean;
  info?: SessionInfo;
  peerOpen?: OpenMessage;
  /** The UPDATE being handed to the FSM (processUpdate action). */
  current?: UpdateMessage;
}

/** Encoded bytes we let the socket hold before waiting for 'drain'. */
export const HIGH_WATER = 256 * 1024;
/** Prefixes encoded per pump step (bounds one synchronous slice of work). */
const PUMP_BATCH = 2000;
/** Established this long, a session's earlier failures stop counting toward back-off. */
const STABLE_MS = 60_000;
/** Distinct attribute sets per pump step. */
const PUMP_MAX_GROUPS = 64;

const TIMER_EVENT: Record<Exclude<FsmTimer, "idleHold">, FsmEvent["type"]> = {
  connectRetry: "ConnectRetryTimerExpires",
  hold: "HoldTimerExpires",
  keepalive: "KeepaliveTimerExpires",
  delayOpen: "DelayOpenTimerExpires",
};

const BASE_CODEC: CodecOptions = { fourOctetAs: false };

export class Peer {
  private conn: Conn;
  private second: Conn | undefined;
  private fsmCfg: FsmConfig;
  private idleHold: TimerHandle | undefined;
  private stopped = true;
  /** Routes waiting to be sent: prefix -> attributes, or null for a withdrawal. */
  private pending = new Map<Prefix, PathAttributes | null>();
  /**
   * The generation being sent: swapped out of `pending` whole and walked with
   * one live iterator, so consumed entries are never re-scanned (deleting from
   * the head of a big Map and iterating again from the start is quadratic).
   */
  private draining: Map<Prefix, PathAttributes | null> | undefined;
  private drainIter: Iterator<[Prefix, PathAttributes | null]> | undefined;
  private drained = 0;
  private pendingEor: Family[] = [];
  private pumping = false;
  /** Consecutive outgoing connection attempts that failed (back-off input). */
  private connectFailures = 0;
  private stableTimer: TimerHandle | undefined;

  establishedAt: number | undefined;
  lastError: string | undefined;
  messagesIn = 0;
  messagesOut = 0;
  /** UPDATE messages (End-of-RIB included) on the session's connection, for metrics. */
  updatesIn = 0;
  updatesOut = 0;
  advertised = new Set<Prefix>();

  constructor(
    private settings: PeerSettings,
    private readonly clock: Clock,
    private readonly hooks: PeerHooks,
  ) {
    this.conn = newConn("outbound", initialSession());
    this.fsmCfg = fsmConfig(settings);
  }

  get address(): string {
    return this.settings.address;
  }
  get state(): FsmState {
    return this.conn.session.state;
  }
  get info(): SessionInfo | undefined {
    return this.conn.info;
  }
  get connectRetryCounter(): number {
    return this.conn.session.connectRetryCounter;
  }
  /** Backpressure state: prefixes not yet encoded, bytes written but not yet taken by the kernel. */
  get sendQueue(): { pendingPrefixes: number; bufferedBytes: number } {
    const inDrain = this.draining ? Math.max(0, this.draining.size - this.drained) : 0;
    return {
      pendingPrefixes: this.pending.size + inDrain,
      bufferedBytes: this.conn.sock?.writableLength ?? 0,
    };
  }
  get config(): PeerSettings {
    return this.settings;
  }

  /** Settings that do not need a session reset (timers apply from the next session). */
  updateSettings(s: PeerSettings): void {
    this.settings = s;
    this.fsmCfg = fsmConfig(s);
  }

  start(): void {
    this.stopped = false;
    this.connectFailures = 0;
    this.feed(this.conn, { type: this.settings.passive ? "ManualStartPassive" : "ManualStart" });
  }

  /** ManualStop: Cease with `subcode` (admin shutdown, peer de-configured, …), no automatic restart. */
  stop(subcode: number, data?: Uint8Array): void {
    this.stopped = true;
    const second = this.second;
    if (second) {
      second.retired = true;
      this.feed(second, data ? { type: "ManualStop", subcode, data } : { type: "ManualStop", subcode });
      this.second = undefined;
    }
    this.feed(this.conn, data ? { type: "ManualStop", subcode, data } : { type: "ManualStop", subcode });
    this.clearIdleHold();
    if (this.stableTimer !== undefined) this.clock.clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
  }

  /**
   * Stop for a restart of this speaker (the agent's SIGTERM in a rolling
   * update). When the established session negotiated graceful restart (both
   * sides sent the capability), its TCP connection is closed without a
   * NOTIFICATION, so the peer keeps our routes, marked stale, until we are
   * back and send End-of-RIB (RFC 4724 §4.2). A NOTIFICATION would make it
   * drop them: RFC 8538 changes that only when both sides set the N bit, and
   * we do not. Any other session gets the normal stop with `subcode`.
   * Returns whether the peer was left to keep our routes.
   */
  stopForRestart(subcode: number): boolean {
    const c = this.conn;
    const sock = c.sock;
    const graceful = sock !== undefined && c.info?.capabilities.includes("graceful-restart") === true;
    if (graceful) {
      // Take the socket away first (attach() ignores events of a socket that is
      // no longer c.sock): the ordinary stop below then has nowhere to write its
      // NOTIFICATION, and the session still goes Idle through the FSM.
      c.sock = undefined;
      sock.removeAllListeners("data");
      sock.on("error", () => undefined);
      sock.destroy();
    }
    this.stop(subcode);
    return graceful;
  }

  /** AutomaticStop (e.g. max-prefix reached): Cease, then restart with back-off. */
  reset(subcode: number, data?: Uint8Array): void {
    this.feed(
      this.conn,
      data ? { type: "AutomaticStop", subcode, data } : { type: "AutomaticStop", subcode },
    );
  }

  /** An accepted TCP connection from this peer's address (listener.ts). */
  incoming(sock: Socket): void {
    if (this.settings.ttlSecurity !== undefined) {
      // GTSM per accepted connection (the listener is shared by every peer):
      // from here on nothing below 256 - hops reaches this socket (RFC 5082 §3).
      try {
        const fd = fdOf(sock);
        // The listener saved the SYN (listener.ts setGtsm): judge the connection by its TTL.
        const min = gtsmMinTtl(this.settings.ttlSecurity);
        const ttl = sockopt().synTtl(fd);
        if (ttl >= 0 && ttl < min) {
          this.lastError = `TTL security: a connection from the peer arrived with TTL ${ttl} (< ${min}): dropped`;
          sock.destroy();
          return;
        }
        applyTcpSecurity(fd, this.settings.address, tcpSecurity({ ttlSecurity: this.settings.ttlSecurity }));
      } catch (e) {
        this.lastError = `cannot set TTL security on an incoming connection: ${errText(e)}`;
        rejectSocket(sock, CEASE_CONNECTION_REJECTED);
        return;
      }
    }
    let st = this.conn.session.state;
    if (!this.stopped && st === "Idle" && this.conn.session.connectRetryCounter <= 1) {
      // Waiting out the back-off after a single failure (often just the peer
      // restarting): its own new connection brings the session back at once.
      // Damping (§8.1.1) holds from the second consecutive failure on.
      this.clearIdleHold();
      this.feed(this.conn, { type: "AutomaticStartPassive" });
      st = this.conn.session.state;
    }
    if (this.stopped || st === "Idle") {
      rejectSocket(sock, CEASE_CONNECTION_REJECTED);
      return;
    }
    if (st === "Active" || (st === "Connect" && !this.conn.sock)) {
      // No connection of our own: the peer's becomes the session's.
      this.conn.dir = "inbound";
      this.attach(this.conn, sock);
      this.feed(this.conn, { type: "TcpConnectionConfirmed" });
      return;
    }
    const gracefulPeer = st === "Established" && this.conn.info?.peerGracefulRestart !== undefined;
    if (this.second || (st === "Established" && !gracefulPeer)) {
      // CollisionDetectEstablishedState is off (§8.1.1): the established connection stays.
      rejectSocket(sock, st === "Established" ? CEASE_CONNECTION_COLLISION : CEASE_CONNECTION_REJECTED);
      return;
    }
    // Established with a graceful-restart peer: a new connection may be the peer
    // back from a restart we did not notice (RFC 4724 §4.2); its OPEN decides.
    // Connect (our attempt in flight: the peer may already have accepted it),
    // OpenSent, OpenConfirm: track the second connection until an OPEN tells
    // which one stays (§6.8).
    const c = newConn("inbound", { ...initialSession(), state: "Active" });
    this.second = c;
    this.attach(c, sock);
    this.feed(c, { type: "TcpConnectionConfirmed" });
  }

  /** Queue routes for this peer; encoded and written as the socket drains. */
  enqueue(
    announce: { attributes: PathAttributes; prefixes: Prefix[] }[],
    withdraw: Prefix[],
    eor: Family[],
  ): void {
    if (this.state !== "Established") return;
    for (const p of withdraw) this.pending.set(p, null);
    for (const g of announce) for (const p of g.prefixes) this.pending.set(p, g.attributes);
    this.pendingEor.push(...eor);
    this.pump();
  }

  /** Send a ROUTE-REFRESH request (RFC 2918) for a family. */
  requestRefresh(family: Family): void {
    if (this.state !== "Established" || !this.conn.info?.routeRefresh) return;
    this.write(this.conn, { type: "ROUTE-REFRESH", afi: family.afi, safi: family.safi, subtype: 0 });
  }

  // ---- FSM plumbing -------------------------------------------------------

  private feed(c: Conn, ev: FsmEvent): void {
    const from = c.session.state;
    const { session, actions } = step(c.session, ev, this.fsmCfg);
    c.session = session;
    if (from !== session.state) {
      this.hooks.log("debug", "fsm transition", { from, to: session.state, event: ev.type, dir: c.dir });
    }
    for (const a of actions) this.perform(c, a, ev, from);
    if (c === this.conn && from !== session.state) this.hooks.stateChange(from, session.state);
  }

  private perform(c: Conn, a: FsmAction, ev: FsmEvent, from: FsmState): void {
    switch (a.type) {
      case "connect":
        if (!c.retired && c === this.conn) this.connectOut(c);
        return;
      case "dropConnection":
        if (
          ev.type === "ConnectRetryTimerExpires" &&
          c === this.conn &&
          c.sock?.connecting &&
          hasSecurity(this.settings)
        )
          this.lastError = unansweredText(this.settings);
        this.detach(c);
        return;
      case "releaseResources":
        delete c.info;
        delete c.peerOpen;
        if (c === this.conn) {
          this.pending.clear();
          this.draining = undefined;
          this.drainIter = undefined;
          this.pendingEor = [];
          this.advertised.clear();
          this.establishedAt = undefined;
        }
        return;
      case "deleteRoutes":
        if (c === this.conn && from === "Established") {
          const gr = c.info?.peerGracefulRestart;
          const graceful = ev.type === "TcpConnectionFails" && gr !== undefined && gr.restartTime > 0;
          this.hooks.down({
            graceful,
            ...(gr ? { peerGracefulRestart: gr } : {}),
            reason: this.lastError ?? ev.type,
          });
        }
        return;
      case "sendOpen":
        this.write(c, this.openMessage());
        return;
      case "sendKeepalive":
        this.write(c, { type: "KEEPALIVE" });
        return;
      case "sendNotification": {
        const data = Buffer.from(a.data ?? new Uint8Array());
        this.write(c, { type: "NOTIFICATION", code: a.code, subcode: a.subcode, data });
        if (c === this.conn) this.lastError = `sent ${describeNotification(a.code, a.subcode, data)}`;
        this.hooks.log("info", "sent NOTIFICATION", { code: a.code, subcode: a.subcode, dir: c.dir });
        return;
      }
      case "startTimer":
        if (c.retired && a.timer === "connectRetry") return;
        this.startTimer(c, a.timer, a.seconds * 1000);
        return;
      case "stopTimer":
        this.stopTimer(c, a.timer);
        return;
      case "processUpdate":
        if (c.current) this.hooks.update(c.current);
        return;
      case "sessionEstablished":
        this.connectFailures = 0;
        this.armStableTimer(c);
        this.establishedAt = this.clock.now();
        this.lastError = undefined;
        if (c.info) this.hooks.established(c.info);
        return;
      case "scheduleRestart": {
        if (c.retired || c !== this.conn || this.stopped) return;
        this.clearIdleHold();
        // A peer that refuses connections does not count in ConnectRetryCounter
        // (§8.2.2 Connect, Event 18), but it must not be retried every second forever.
        const attempt = Math.max(a.attempt, this.connectFailures);
        const delayMs = backoffDelay(attempt, this.settings.backoff ?? DEFAULT_RESTART_BACKOFF, () =>
          this.clock.random(),
        );
        this.hooks.log("info", "automatic restart scheduled", { attempt, delayMs });
        this.idleHold = this.clock.setTimeout(() => {
          this.idleHold = undefined;
          if (this.stopped || this.conn.session.state !== "Idle") return;
          this.feed(this.conn, {
            type: this.settings.passive ? "AutomaticStartPassive" : "IdleHoldTimerExpires",
          });
        }, delayMs);
        return;
      }
    }
  }

  /**
   * A session that stays Established for STABLE_MS forgives earlier failures:
   * ConnectRetryCounter (the damping input) goes back to zero, so that errors
   * days apart do not add up to the longest back-off.
   */
  private armStableTimer(c: Conn): void {
    if (this.stableTimer !== undefined) this.clock.clearTimeout(this.stableTimer);
    this.stableTimer = this.clock.setTimeout(() => {
      this.stableTimer = undefined;
      if (c === this.conn && c.session.state === "Established") {
        c.session = { ...c.session, connectRetryCounter: 0 };
      }
    }, STABLE_MS);
  }

  private startTimer(c: Conn, timer: FsmTimer, ms: number): void {
    this.stopTimer(c, timer);
    if (timer === "idleHold") return;
    const type = TIMER_EVENT[timer];
    c.timers.set(
      timer,
      this.clock.setTimeout(() => {
        c.timers.delete(timer);
        this.feed(c, { type } as FsmEvent);
      }, ms),
    );
  }

  private stopTimer(c: Conn, timer: FsmTimer): void {
    if (timer === "idleHold") {
      if (c === this.conn) this.clearIdleHold();
      return;
    }
    const h = c.timers.get(timer);
    if (h !== undefined) this.clock.clearTimeout(h);
    c.timers.delete(timer);
  }

  private clearIdleHold(): void {
    if (this.idleHold !== undefined) this.clock.clearTimeout(this.idleHold);
    this.idleHold = undefined;
  }

  // ---- sockets --------------------------------------------------------------

  private connectOut(c: Conn): void {
    if (c.sock) this.detach(c);
    c.dir = "outbound";
    const opts: { host: string; port: number; localAddress?: string } = {
      host: this.settings.address,
      port: this.settings.port,
    };
    if (this.settings.localAddress) opts.localAddress = this.settings.localAddress;
    let sock: Socket;
    if (hasSecurity(this.settings)) {
      // MD5 key and TTLs must be on the socket before its SYN (net/sockopt).
      try {
        sock = connectSecure({ ...opts, ...tcpSecurity(this.settings) });
      } catch (e) {
        this.lastError = `cannot set up the TCP connection: ${errText(e)}`;
        this.hooks.log("warn", "cannot set TCP MD5 / TTL security", { error: errText(e) });
        // As a connection that failed at once (§8.2.2 Event 18), after this action completes.
        queueMicrotask(() => {
          if (c.sock !== undefined || c !== this.conn || c.session.state !== "Connect") return;
          this.connectFailures++;
          this.feed(c, { type: "TcpConnectionFails" });
        });
        return;
      }
    } else {
      sock = connect(opts);
    }
    this.attach(c, sock);
    sock.once("connect", () => {
      if (c.sock !== sock) return;
      this.feed(c, { type: "TcpCrAcked" });
      const hops = this.settings.ttlSecurity;
      if (hops === undefined) return;
      // GTSM: a peer whose listener answers at TTL 255 but sends with a lower TTL
      // once connected (BIRD without `ttl security`) leaves us in OpenSent with
      // nothing arriving: say why rather than wait out the 4-minute hold timer.
      this.clock.setTimeout(
        () => {
          if (c.sock === sock && c === this.conn && c.session.state === "OpenSent" && !c.peerOpen)
            this.lastError = silentAfterConnectText(hops);
        },
        Math.max(3, this.settings.connectRetryTime) * 1000,
      );
    });
  }

  /** Bind a socket to a connection; events of a socket that is no longer c.sock are ignored. */
  private attach(c: Conn, sock: Socket): void {
    c.sock = sock;
    c.rbuf = Buffer.alloc(0);
    sock.setNoDelay(true);
    let failed = false;
    const fail = (why: string): void => {
      if (failed || c.sock !== sock) return;
      failed = true;
      c.sock = undefined;
      sock.destroy();
      if (c !== this.conn) {
        // The tracked second connection (§6.8) went away: forget it entirely.
        for (const h of c.timers.values()) this.clock.clearTimeout(h);
        c.timers.clear();
        c.retired = true;
        if (c === this.second) this.second = undefined;
        return;
      }
      this.lastError ??= why;
      if (c.session.state === "Connect") this.connectFailures++;
      // §8.2.2 Event 18 (for an outgoing attempt in Connect: the connect failed).
      this.feed(c, { type: "TcpConnectionFails" });
      // The peer's connection, tracked beside ours, carries on as the session's.
      const second = this.second;
      if (second?.sock && (c.session.state === "Idle" || c.session.state === "Active")) {
        this.clearIdleHold();
        this.promote(second);
      }
    };
    sock.on("data", (chunk: Buffer) => {
      if (c.sock !== sock) return;
      try {
        this.onData(c, sock, chunk);
      } catch (e) {
        // A bug of ours while handling this peer's input must cost this session, not the daemon.
        this.hooks.log("warn", "internal error while handling input: session reset", {
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
        if (c === this.conn) this.lastError = `internal error: ${e instanceof Error ? e.message : String(e)}`;
        if (c.sock === sock) this.feed(c, { type: "AutomaticStop", subcode: CEASE_ADMIN_RESET });
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => fail(`connection error: ${e.code ?? e.message}`));
    sock.on("close", () => fail("connection closed by peer"));
    sock.on("end", () => fail("connection closed by peer"));
    sock.on("drain", () => {
      if (c.sock === sock && c === this.conn) this.pump();
    });
  }

  /** Drop a connection: flush what was written (a NOTIFICATION), then close. */
  private detach(c: Conn): void {
    const sock = c.sock;
    c.sock = undefined;
    c.rbuf = Buffer.alloc(0);
    for (const t of [...c.timers.keys()]) if (t !== "connectRetry") this.stopTimer(c, t);
    if (!sock) return;
    sock.removeAllListeners("data");
    sock.on("error", () => sock.destroy());
    sock.end();
    // A peer that never reads must not keep the socket (and its buffer) forever.
    const t = setTimeout(() => sock.destroy(), 2000);
    t.unref();
    sock.once("close", () => clearTimeout(t));
    if (c === this.second) this.second = undefined;
  }

  private write(c: Conn, msg: BgpMessage): void {
    const sock = c.sock;
    if (!sock || sock.destroyed) return;
    try {
      sock.write(encodeMessage(msg, c.info?.codec ?? BASE_CODEC));
      if (c === this.conn) {
        this.messagesOut++;
        if (msg.type === "UPDATE") this.updatesOut++;
      }
    } catch (e) {
      this.hooks.log("warn", "cannot encode message", { type: msg.type, error: String(e) });
    }
  }

  // ---- receiving ------------------------------------------------------------

  private onData(c: Conn, sock: Socket, chunk: Buffer): void {
    c.rbuf = c.rbuf.length === 0 ? chunk : Buffer.concat([c.rbuf, chunk]);
    const max = c.info?.codec.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
    let off = 0;
    while (c.sock === sock) {
      let f: { length: number; type: number } | null;
      try {
        // RFC 4271 §6.1: marker, length and type are checked before any parsing.
        f = frame(c.rbuf, off, max);
      } catch (e) {
        if (!(e instanceof BgpError)) throw e;
        if (c === this.conn) this.lastError = `received a bad message header: ${e.message}`;
        this.hooks.log("warn", "bad message header", { code: e.code, subcode: e.subcode, error: e.message });
        this.feed(c, { type: "BGPHeaderErr", code: e.code, subcode: e.subcode, data: e.data });
        return;
      }
      if (!f) break;
      const msg = c.rbuf.subarray(off, off + f.length);
      off += f.length;
      if (c === this.conn) this.messagesIn++;
      this.onFrame(c, msg);
    }
    // Keep only the unconsumed tail: the buffer stays below one message plus one chunk.
    if (c.sock === sock) c.rbuf = off >= c.rbuf.length ? Buffer.alloc(0) : Buffer.from(c.rbuf.subarray(off));
  }

  private onFrame(c: Conn, frame: Buffer): void {
    let msg: BgpMessage;
    try {
      msg = decodeMessage(frame, c.info?.codec ?? BASE_CODEC);
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      if (c === this.conn) this.lastError = `received a malformed message: ${e.message}`;
      this.hooks.log("warn", "malformed message", { code: e.code, subcode: e.subcode, error: e.message });
      if (e.code === 2) this.feed(c, { type: "BGPOpenMsgErr", subcode: e.subcode, data: e.data });
      else if (e.code === 3) this.feed(c, { type: "UpdateMsgErr", subcode: e.subcode, data: e.data });
      else this.feed(c, { type: "BGPHeaderErr", code: e.code, subcode: e.subcode, data: e.data });
      return;
    }
    switch (msg.type) {
      case "OPEN":
        this.onOpen(c, msg);
        return;
      case "KEEPALIVE":
        this.feed(c, { type: "KeepAliveMsg" });
        return;
      case "NOTIFICATION": {
        const text = describeNotification(msg.code, msg.subcode, msg.data);
        if (c === this.conn) this.lastError = `received ${text}`;
        this.hooks.log("info", "received NOTIFICATION", { code: msg.code, subcode: msg.subcode, text });
        if (msg.code === 2 && msg.subcode === 1) this.feed(c, { type: "NotifMsgVerErr" });
        else this.feed(c, { type: "NotifMsg", code: msg.code, subcode: msg.subcode });
        return;
      }
      case "UPDATE": {
        if (c === this.conn) this.updatesIn++;
        c.current = msg;
        this.feed(c, { type: "UpdateMsg" });
        delete c.current;
        if (c.session.state === "Established") {
          const eor = isEndOfRib(msg);
          if (eor) this.hooks.endOfRib(eor);
        }
        return;
      }
      case "ROUTE-REFRESH":
        // RFC 2918 §4: only meaningful once Established; the hold timer counts it as traffic.
        if (c.session.state === "Established") {
          this.feed(c, { type: "KeepAliveMsg" });
          if (msg.subtype === 0) this.hooks.routeRefresh({ afi: msg.afi, safi: msg.safi });
        }
        return;
    }
  }

  private onOpen(c: Conn, open: OpenMessage): void {
    const peerOpen = toPeerOpen(open);
    // §6.8: an OPEN on one connection while the other waits in OpenSent/OpenConfirm.
    let other = c === this.conn ? this.second : this.conn;
    if (c === this.second && other && !other.sock) {
      // Our own attempt is gone: no collision, the peer's connection is the session's.
      this.clearIdleHold();
      this.promote(c);
      other = undefined;
    } else if (c === this.second && other && other.session.state === "Connect" && other.sock?.connecting) {
      // Our attempt is still a SYN without answer (a lost or dropped one: MD5
      // or GTSM drop silently) while the peer's connection already carries an
      // OPEN: no collision yet (§6.8 compares OpenSent/OpenConfirm), so the
      // peer's connection becomes the session's and our attempt is dropped.
      // Kept, it would complete later and be refused by the peer as a
      // collision with the session this connection is about to establish.
      this.detach(other);
      this.clearIdleHold();
      this.promote(c);
      other = undefined;
    }
    if (c === this.second && other && other.session.state === "Established") {
      this.gracefulTakeover(other, c);
    } else if (
      other &&
      other.sock &&
      (other.session.state === "OpenConfirm" || other.session.state === "OpenSent")
    ) {
      const winner = collisionWinner({
        localId: ipv4ToU32(this.settings.routerId),
        remoteId: peerOpen.bgpId,
        localAs: this.settings.localAs,
        remoteAs: peerOpen.as4 ?? peerOpen.myAs,
      });
      const loser = c.dir === winner ? other : c;
      this.hooks.log("info", "connection collision", { keep: winner });
      const survivor = loser === c ? other : c;
      const primaryLost = loser === this.conn;
      this.retire(loser);
      if (primaryLost) this.promote(survivor);
      if (loser === c) return;
    }
    c.peerOpen = open;
    this.feed(c, { type: "BGPOpen", open: peerOpen });
    if (c.session.state === "OpenConfirm") c.info = this.negotiate(c, open);
  }

  /**
   * RFC 4724 §4.2: an OPEN on a new connection from a peer whose session we
   * still hold Established means the peer restarted: the old session ends as
   * if its TCP connection had failed (routes kept as stale), the new one goes on.
   */
  private gracefulTakeover(old: Conn, fresh: Conn): void {
    this.hooks.log(
      "info",
      "new connection from a graceful-restart peer: old session closed, routes kept stale",
    );
    old.retired = true;
    this.lastError = "peer restarted (new connection while Established)";
    this.feed(old, { type: "TcpConnectionFails" });
    this.promote(fresh);
  }

  /** Take a connection out of service with OpenCollisionDump (Cease). */
  private retire(c: Conn): void {
    c.retired = true;
    if (c.session.state === "Idle" || !c.sock) {
      this.detach(c);
    } else {
      this.feed(c, { type: "OpenCollisionDump" });
    }
    if (c === this.second) this.second = undefined;
  }

  /** The second connection won the collision: it becomes the peer's connection. */
  private promote(c: Conn): void {
    const old = this.conn;
    for (const [t, h] of old.timers) {
      this.clock.clearTimeout(h);
      old.timers.delete(t);
    }
    old.retired = true;
    c.session = { ...c.session, connectRetryCounter: old.session.connectRetryCounter };
    this.conn = c;
    this.second = undefined;
    if (old.session.state !== c.session.state) this.hooks.stateChange(old.session.state, c.session.state);
  }

  // ---- OPEN and capabilities -----------------------------------------------

  private openMessage(): OpenMessage {
    const s = this.settings;
    const caps: Capability[] = s.families.map((f) => ({ kind: "multiprotocol", afi: f.afi, safi: f.safi }));
    caps.push({ kind: "route-refresh" }, { kind: "four-octet-as", asn: s.localAs });
    // RFC 8950: offer IPv4 NLRI with an IPv6 next hop on sessions over IPv6.
    if (isIPv6(s.address) && s.families.some((f) => f.afi === AFI_IPV4)) {
      caps.push({
        kind: "extended-next-hop",
        entries: [{ afi: AFI_IPV4, safi: SAFI_UNICAST, nextHopAfi: AFI_IPV6 }],
      });
    }
    if (s.gracefulRestart) {
      caps.push({
        kind: "graceful-restart",
        restarting: s.gracefulRestart.restarting,
        notification: false,
        restartTime: s.gracefulRestart.restartTime,
        families: s.families.map((f) => ({
          afi: f.afi,
          safi: f.safi,
          forwarding: s.gracefulRestart!.forwarding,
        })),
      });
    }
    return {
      type: "OPEN",
      version: 4,
      myAs: s.localAs > 0xffff ? AS_TRANS : s.localAs,
      holdTime: s.holdTime,
      bgpId: s.routerId,
      capabilities: caps,
    };
  }

  /** RFC 5492: a capability is in use when both sides advertised it (wire `negotiate`). */
  private negotiate(c: Conn, open: OpenMessage): SessionInfo {
    const n = c.session.negotiated!;
    const ours = this.openMessage();
    const neg = negotiate(ours, open, { external: n.peerAs !== this.settings.localAs });
    const capabilities: string[] = [];
    for (const f of neg.families) capabilities.push(`mp:${familyName(f)}`);
    if (neg.fourOctetAs) capabilities.push("four-octet-as");
    if (neg.routeRefresh) capabilities.push("route-refresh");
    if (neg.enhancedRouteRefresh) capabilities.push("enhanced-route-refresh");
    if (neg.extendedMessage) capabilities.push("extended-message");
    if (neg.extendedNextHop.length) capabilities.push("extended-next-hop");
    if (neg.gracefulRestart && this.settings.gracefulRestart) capabilities.push("graceful-restart");
    const sock = c.sock;
    return {
      peerRouterId: open.bgpId,
      holdTime: n.holdTime,
      keepaliveTime: n.keepaliveTime,
      families: neg.families,
      fourOctetAs: neg.fourOctetAs,
      routeRefresh: neg.routeRefresh,
      extendedNextHop: neg.extendedNextHop,
      ...(neg.gracefulRestart ? { peerGracefulRestart: neg.gracefulRestart } : {}),
      capabilities,
      localAddress: stripV4Mapped(sock?.localAddress ?? ""),
      remoteAddress: stripV4Mapped(sock?.remoteAddress ?? this.settings.address),
      codec: neg.options,
    };
  }

  // ---- sending routes with backpressure ------------------------------------

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const c = this.conn;
      const info = c.info;
      while (c.sock && info && this.state === "Established" && c.sock.writableLength < HIGH_WATER) {
        if (!this.draining) {
          if (this.pending.size === 0) {
            const eor = this.pendingEor.shift();
            if (!eor) break;
            this.write(c, endOfRib(eor));
            continue;
          }
          this.draining = this.pending;
          this.pending = new Map();
          this.drainIter = this.draining.entries();
          this.drained = 0;
        }
        // Take a slice of the generation, grouped by attribute object (the RIB shares them).
        const withdraw: Prefix[] = [];
        const groups = new Map<PathAttributes, Prefix[]>();
        // Bounded in prefixes and in attribute sets (each set is at least one UPDATE),
        // so one slice never overshoots the high-water mark by much.
        for (let n = 0; n < PUMP_BATCH && groups.size < PUMP_MAX_GROUPS; n++) {
          const next = this.drainIter!.next();
          if (next.done) {
            this.draining = undefined;
            this.drainIter = undefined;
            break;
          }
          this.drained++;
          const [p, attrs] = next.value;
          // A newer state for this prefix is already queued: send only that one, later.
          if (this.pending.has(p)) continue;
          if (attrs === null) {
            withdraw.push(p);
            this.advertised.delete(p);
          } else {
            let g = groups.get(attrs);
            if (!g) groups.set(attrs, (g = []));
            g.push(p);
            this.advertised.add(p);
          }
        }
        const msgs = withdraw.length ? packUpdates({}, [], withdraw, info.codec) : [];
        for (const [attributes, prefixes] of groups)
          msgs.push(...packUpdates(attributes, prefixes, [], info.codec));
        // One write per slice: far fewer stream operations than one per UPDATE.
        if (msgs.length) c.sock.write(msgs.length === 1 ? msgs[0]! : Buffer.concat(msgs));
        this.messagesOut += msgs.length;
        this.updatesOut += msgs.length;
        // RFC 4271 §8.2.2 Established: sending an UPDATE restarts the KeepaliveTimer.
        if (msgs.length && info.keepaliveTime > 0) this.startTimer(c, "keepalive", info.keepaliveTime * 1000);
      }
    } finally {
      this.pumping = false;
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function newConn(dir: Direction, session: Session): Conn {
  return { dir, sock: undefined, session, timers: new Map(), rbuf: Buffer.alloc(0), retired: false };
}

function fsmConfig(s: PeerSettings): FsmConfig {
  const c: FsmConfig = {
    localAs: s.localAs,
    localId: ipv4ToU32(s.routerId),
    peerAs: s.peerAs,
    holdTime: s.holdTime,
    connectRetryTime: s.connectRetryTime,
  };
  if (s.keepaliveTime !== undefined) c.keepaliveTime = s.keepaliveTime;
  if (s.delayOpenTime !== undefined) c.delayOpenTime = s.delayOpenTime;
  if (s.passive) c.passive = true;
  return c;
}

function toPeerOpen(o: OpenMessage): PeerOpen {
  const as4 = o.capabilities.find((c) => c.kind === "four-octet-as");
  const p: PeerOpen = { version: o.version, myAs: o.myAs, holdTime: o.holdTime, bgpId: ipv4ToU32(o.bgpId) };
  if (as4 && as4.kind === "four-octet-as") p.as4 = as4.asn;
  return p;
}

/** A BGP Identifier (our router ID, the peer's) as the number the FSM compares (RFC 6286 §2.2, RFC 4271 §6.8). */
export function ipv4ToU32(a: string): number {
  const v = parseIpv4(a);
  if (v < 0) throw new TypeError(`invalid BGP Identifier: ${a} (want a dotted quad without leading zeros)`);
  return v;
}

export function familyName(f: Family): string {
  const afi = f.afi === AFI_IPV4 ? "ipv4" : f.afi === AFI_IPV6 ? "ipv6" : `afi${f.afi}`;
  return f.safi === SAFI_UNICAST ? `${afi}-unicast` : `${afi}-safi${f.safi}`;
}

function stripV4Mapped(a: string): string {
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/** Refuse a connection we cannot use: NOTIFICATION Cease, then close (RFC 4486). */
export function rejectSocket(sock: Socket, subcode: number): void {
  sock.on("error", () => sock.destroy());
  try {
    sock.end(
      encodeMessage({ type: "NOTIFICATION", code: ERR_CEASE, subcode, data: Buffer.alloc(0) }, BASE_CODEC),
    );
  } catch {
    sock.destroy();
  }
  const t = setTimeout(() => sock.destroy(), 2000);
  t.unref();
}
