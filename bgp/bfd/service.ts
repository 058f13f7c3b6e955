/**
 * The BFD adapter (RFC 5881, single hop): one UDP socket receiving on port
 * 3784 for every session, one sending socket per session (a fixed source port
 * in 49152..65535, TTL 255), the two timers of each session, and the pure
 * state machine of fsm.ts in between. Node's dgram cannot send with TTL 255
 * reliably per socket nor tell the TTL a datagram arrived with, so the sockets
 * are net/sockopt's (recvmsg with IP_RECVTTL / IPV6_RECVHOPLIMIT).
 *
 * Hostile input never reaches the state machine: a datagram whose TTL is not
 * 255 (RFC 5881 §5, no authentication in use), a packet the codec discards
 * (§6.8.6), one for no session of ours, and one the session discards are each
 * counted by reason and dropped.
 */
import { EventEmitter } from "node:events";
import { isIPv6 } from "node:net";
import { sockopt, GTSM_TTL, type WatchHandle } from "../../net/sockopt/sockopt.js";
import { systemClock, type Clock, type TimerHandle } from "../session/clock.js";
import {
  controlPacket,
  detectTime,
  initialSession,
  step,
  txInterval,
  type BfdAction,
  type BfdConfig,
  type BfdEvent,
  type BfdSession,
} from "./fsm.js";
import {
  BFD_PORT,
  DIAG_TEXT,
  SOURCE_PORT_MAX,
  SOURCE_PORT_MIN,
  decodeControl,
  encodeControl,
  type BfdState,
} from "./packet.js";

export interface BfdServiceOptions {
  /** Where control packets are received: "::" (the default) takes IPv4 too. */
  address?: string;
  /** 3784 (RFC 5881 §4); tests use another. */
  port?: number;
  clock?: Clock;
}

export interface BfdPeerOptions {
  /** The peer's address: the key of the session. */
  peer: string;
  /** Our source address (optional: the kernel picks one). */
  local?: string;
  /** Milliseconds; defaults 300 / 300 / 3 (BIRD's and FRR's). */
  minTxMs?: number;
  minRxMs?: number;
  multiplier?: number;
  /** The peer's port (3784; tests use another). */
  port?: number;
}

export interface BfdPeerStatus {
  peer: string;
  state: BfdState;
  remoteState: BfdState;
  diag: string;
  localDiscriminator: number;
  remoteDiscriminator: number;
  /** The periodic transmit interval and the Detection Time in force, ms. */
  txIntervalMs: number;
  detectTimeMs: number;
  packetsIn: number;
  packetsOut: number;
}

export interface BfdEvents {
  /** A session changed state: `diag` is the reason (RFC 5880 §4.1 text). */
  state: [peer: string, from: BfdState, to: BfdState, diag: string];
}

interface Entry {
  opts: BfdPeerOptions;
  cfg: BfdConfig;
  session: BfdSession;
  fd: number;
  txTimer: TimerHandle | undefined;
  detectTimer: TimerHandle | undefined;
  packetsIn: number;
  packetsOut: number;
}

/** Why a datagram was dropped before or by a session, with counts. */
export type DropReason =
  | "ttl"
  | "no-session"
  | "short"
  | "version"
  | "length"
  | "detect-mult-zero"
  | "multipoint"
  | "my-disc-zero"
  | "auth-unsupported"
  | "your-disc-mismatch"
  | "your-disc-zero"
  | "admin-down";

export class BfdService extends EventEmitter<BfdEvents> {
  private readonly byPeer = new Map<string, Entry>();
  private readonly byDisc = new Map<number, Entry>();
  private readonly clock: Clock;
  private readonly buf = Buffer.alloc(512);
  private nextDisc: number;
  readonly dropped: Partial<Record<DropReason, number>> = {};
  received = 0;

  private constructor(
    private readonly rxFd: number,
    private readonly watch: WatchHandle,
    opts: BfdServiceOptions,
  ) {
    super();
    this.clock = opts.clock ?? systemClock;
    // §6.8.1: discriminators unique and nonzero; random start, so a restart rarely reuses one.
    this.nextDisc = 1 + Math.floor(this.clock.random() * 0x7fff0000);
  }

  /** Bind the receiving socket. Throws (EADDRINUSE, TRELLIS_ENOSOCKOPT, …) when it cannot. */
  static open(opts: BfdServiceOptions = {}): BfdService {
    const a = sockopt();
    const address = opts.address ?? "::";
    const fd = a.udpSocket(isIPv6(address) ? 6 : 4);
    let svc: BfdService | undefined;
    try {
      a.bind(fd, address, opts.port ?? BFD_PORT);
      a.setRecvTtl(fd);
      const h = a.watch(fd, () => svc?.drain());
      svc = new BfdService(fd, h, opts);
      return svc;
    } catch (e) {
      a.closeFd(fd);
      throw e;
    }
  }

  get port(): number {
    return sockopt().sockName(this.rxFd).port;
  }

  add(o: BfdPeerOptions): void {
    if (this.byPeer.has(o.peer)) throw new Error(`BFD session for ${o.peer} exists`);
    const a = sockopt();
    const cfg: BfdConfig = {
      desiredMinTx: (o.minTxMs ?? 300) * 1000,
      requiredMinRx: (o.minRxMs ?? 300) * 1000,
      detectMult: o.multiplier ?? 3,
    };
    const fd = a.udpSocket(isIPv6(o.peer) ? 6 : 4);
    try {
      // RFC 5881 §5: TTL / Hop Limit 255 on every control packet.
      a.setTtl(fd, GTSM_TTL);
      bindSourcePort(fd, o.local, this.clock);
    } catch (e) {
      a.closeFd(fd);
      throw e;
    }
    let disc = this.nextDisc++;
    while (this.byDisc.has(disc) || disc === 0) disc = this.nextDisc++;
    const e: Entry = {
      opts: o,
      cfg,
      session: initialSession(disc, cfg),
      fd,
      txTimer: undefined,
      detectTimer: undefined,
      packetsIn: 0,
      packetsOut: 0,
    };
    this.byPeer.set(o.peer, e);
    this.byDisc.set(disc, e);
    this.send(e, false);
    this.scheduleTx(e);
  }

  /** Stop a session: AdminDown is sent once (§6.8.16), so the peer goes Down without a failure diag. */
  remove(peer: string): void {
    const e = this.byPeer.get(peer);
    if (!e) return;
    this.feed(e, { type: "AdminDown" });
    this.drop(e);
  }

  state(peer: string): BfdState | undefined {
    return this.byPeer.get(peer)?.session.state;
  }

  status(): BfdPeerStatus[] {
    return [...this.byPeer.values()].map((e) => ({
      peer: e.opts.peer,
      state: e.session.state,
      remoteState: e.session.remoteState,
      diag: DIAG_TEXT[e.session.diag] ?? String(e.session.diag),
      localDiscriminator: e.session.localDisc,
      remoteDiscriminator: e.session.remoteDisc,
      txIntervalMs: txInterval(e.session) / 1000,
      detectTimeMs: detectTime(e.session) / 1000,
      packetsIn: e.packetsIn,
      packetsOut: e.packetsOut,
    }));
  }

  close(): void {
    for (const e of [...this.byPeer.values()]) this.remove(e.opts.peer);
    const a = sockopt();
    a.unwatch(this.watch);
    a.closeFd(this.rxFd);
  }

  // ---- internals ----------------------------------------------------------

  private count(r: DropReason): void {
    this.dropped[r] = (this.dropped[r] ?? 0) + 1;
  }

  /** Everything waiting on the receiving socket. */
  private drain(): void {
    const a = sockopt();
    for (let n = 0; n < 1000; n++) {
      let d: ReturnType<typeof a.recvFrom>;
      try {
        d = a.recvFrom(this.rxFd, this.buf);
      } catch {
        return; // ICMP errors and the like: nothing to read
      }
      if (!d) return;
      this.received++;
      // RFC 5881 §5: without authentication, only TTL / Hop Limit 255 is single hop.
      if (d.ttl !== 255) {
        this.count("ttl");
        continue;
      }
      const r = decodeControl(this.buf.subarray(0, Math.min(d.length, this.buf.length)));
      if (!r.ok) {
        this.count(r.reason);
        continue;
      }
      // §6.8.6: by Your Discriminator; when zero, by the source address (single hop).
      const e = r.packet.yourDisc !== 0 ? this.byDisc.get(r.packet.yourDisc) : this.byPeer.get(d.address);
      if (!e || e.opts.peer !== d.address) {
        this.count(e ? "your-disc-mismatch" : "no-session");
        continue;
      }
      e.packetsIn++;
      this.feed(e, { type: "Recv", packet: r.packet });
    }
  }

  private feed(e: Entry, ev: BfdEvent): void {
    const before = e.session;
    const r = step(before, ev, e.cfg);
    e.session = r.session;
    for (const act of r.actions) this.perform(e, act, before.state);
  }

  private perform(e: Entry, act: BfdAction, _from: BfdState): void {
    switch (act.type) {
      case "send":
        this.send(e, act.final);
        return;
      case "setTx":
        this.scheduleTx(e);
        return;
      case "restartDetect":
        if (e.detectTimer !== undefined) this.clock.clearTimeout(e.detectTimer);
        e.detectTimer =
          act.us > 0 ? this.clock.setTimeout(() => this.onDetect(e), Math.ceil(act.us / 1000)) : undefined;
        return;
      case "stateChange":
        this.emit("state", e.opts.peer, act.from, act.to, DIAG_TEXT[act.diag] ?? String(act.diag));
        return;
      case "discard":
        this.count(act.reason);
        return;
    }
  }

  private onDetect(e: Entry): void {
    e.detectTimer = undefined;
    if (this.byPeer.get(e.opts.peer) !== e) return;
    this.feed(e, { type: "DetectTimerExpired" });
  }

  private send(e: Entry, final: boolean): void {
    try {
      const n = sockopt().sendTo(
        e.fd,
        encodeControl(controlPacket(e.session, e.cfg, final)),
        e.opts.peer,
        e.opts.port ?? BFD_PORT,
      );
      if (n > 0) e.packetsOut++;
    } catch {
      // Unreachable right now (no route, ICMP): the Detection Time will tell.
    }
  }

  /** §6.8.7: the next periodic packet, 75..100 % of the interval (75..90 % with Detect Mult 1). */
  private scheduleTx(e: Entry): void {
    if (e.txTimer !== undefined) this.clock.clearTimeout(e.txTimer);
    e.txTimer = undefined;
    const us = txInterval(e.session);
    if (us === 0) return;
    const span = e.cfg.detectMult === 1 ? 0.15 : 0.25;
    const ms = (us / 1000) * (1 - span * this.clock.random());
    e.txTimer = this.clock.setTimeout(() => {
      e.txTimer = undefined;
      if (this.byPeer.get(e.opts.peer) !== e) return;
      this.send(e, false);
      this.scheduleTx(e);
    }, ms);
  }

  private drop(e: Entry): void {
    if (e.txTimer !== undefined) this.clock.clearTimeout(e.txTimer);
    if (e.detectTimer !== undefined) this.clock.clearTimeout(e.detectTimer);
    this.byPeer.delete(e.opts.peer);
    this.byDisc.delete(e.session.localDisc);
    sockopt().closeFd(e.fd);
  }
}

/** RFC 5881 §4: a source port in 49152..65535, the same for the whole session. */
function bindSourcePort(fd: number, local: string | undefined, clock: Clock): void {
  const a = sockopt();
  const fam = a.sockName(fd).address.includes(":") ? "::" : "0.0.0.0";
  const span = SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1;
  let port = SOURCE_PORT_MIN + Math.floor(clock.random() * span);
  for (let tries = 0; ; tries++) {
    try {
      a.bind(fd, local ?? fam, port);
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== "EADDRINUSE" || tries > 64) throw e;
      port = port === SOURCE_PORT_MAX ? SOURCE_PORT_MIN : port + 1;
    }
  }
}
