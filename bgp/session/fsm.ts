/**
 * The BGP finite state machine of RFC 4271 §8, as a pure function.
 *
 *   step(session, event, config) -> { session, actions }
 *
 * `session` holds the §8 mandatory attributes that change (state,
 * ConnectRetryCounter, which optional timers run) and the parameters
 * negotiated from the peer's OPEN. The adapter (`peer.ts`) owns the socket and
 * the timers: it turns socket and timer happenings into events and carries out
 * the returned actions in order. Nothing here reads a clock or does I/O, so
 * every §8.2.2 transition is a row in a table-driven test.
 *
 * Optional behaviour we implement (§8.1.1): DelayOpen, passive TCP
 * establishment, and automatic restart after an error (IdleHoldTimer, Event 13,
 * used as the back-off timer; see backoff.ts). Damping of peer oscillations
 * beyond that and SendNOTIFICATIONwithoutOPEN are off, as the RFC's defaults.
 */
import {
  CEASE_ADMIN_RESET,
  CEASE_ADMIN_SHUTDOWN,
  CEASE_CONNECTION_COLLISION,
  CEASE_CONNECTION_REJECTED,
  ERR_CEASE,
  ERR_FSM,
  ERR_HOLD_TIMER_EXPIRED,
  ERR_OPEN,
  ERR_UPDATE,
  FSM_UNEXPECTED_IN_ESTABLISHED,
  FSM_UNEXPECTED_IN_OPENCONFIRM,
  FSM_UNEXPECTED_IN_OPENSENT,
} from "../wire/errors.js";
import { negotiateHoldTime } from "./hold-time.js";
import { checkOpen, type PeerOpen } from "./open-check.js";

export type FsmState = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

/** RFC 4271 §8.1.2–§8.1.5 events (numbers in the comments are the RFC's). */
export type FsmEvent =
  | { type: "ManualStart" } // 1
  | { type: "ManualStop"; subcode?: number; data?: Uint8Array } // 2 (Cease subcode: admin shutdown by default)
  | { type: "AutomaticStart" } // 3
  | { type: "ManualStartPassive" } // 4
  | { type: "AutomaticStartPassive" } // 5
  | { type: "AutomaticStop"; subcode?: number; data?: Uint8Array } // 8 (Cease subcode, e.g. max-prefix reached)
  | { type: "ConnectRetryTimerExpires" } // 9
  | { type: "HoldTimerExpires" } // 10
  | { type: "KeepaliveTimerExpires" } // 11
  | { type: "DelayOpenTimerExpires" } // 12
  | { type: "IdleHoldTimerExpires" } // 13
  | { type: "TcpConnectionValid" } // 14
  | { type: "TcpCrInvalid" } // 15
  | { type: "TcpCrAcked" } // 16 (our outgoing connection completed)
  | { type: "TcpConnectionConfirmed" } // 17 (an incoming connection was accepted)
  | { type: "TcpConnectionFails" } // 18
  | { type: "BGPOpen"; open: PeerOpen } // 19 and 20 (20 when DelayOpenTimer runs)
  | { type: "BGPHeaderErr"; code: number; subcode: number; data?: Uint8Array } // 21
  | { type: "BGPOpenMsgErr"; subcode: number; data?: Uint8Array } // 22
  | { type: "OpenCollisionDump" } // 23
  | { type: "NotifMsgVerErr" } // 24
  | { type: "NotifMsg"; code: number; subcode: number } // 25
  | { type: "KeepAliveMsg" } // 26
  | { type: "UpdateMsg" } // 27
  | { type: "UpdateMsgErr"; subcode: number; data?: Uint8Array }; // 28

export type FsmTimer = "connectRetry" | "hold" | "keepalive" | "delayOpen" | "idleHold";

/** What the adapter must do, in order. */
export type FsmAction =
  | { type: "connect" } // initiate the TCP connection to the peer
  | { type: "dropConnection" }
  | { type: "releaseResources" } // forget per-connection state (read buffer, negotiated caps)
  | { type: "deleteRoutes" } // withdraw everything learned from this peer (or mark stale, see GR)
  | { type: "sendOpen" }
  | { type: "sendKeepalive" }
  | { type: "sendNotification"; code: number; subcode: number; data?: Uint8Array }
  | { type: "startTimer"; timer: FsmTimer; seconds: number }
  | { type: "stopTimer"; timer: FsmTimer }
  | { type: "processUpdate" }
  | { type: "sessionEstablished" }
  /** Start the IdleHoldTimer (Event 13) for automatic restart; the delay is backoff(attempt). */
  | { type: "scheduleRestart"; attempt: number };

/** Fixed per peer; from configuration. */
export interface FsmConfig {
  localAs: number;
  /** BGP Identifier as an unsigned 32-bit number. */
  localId: number;
  /** The AS the peer must announce. */
  peerAs: number;
  /** Our proposed hold time (0, or 3..65535). */
  holdTime: number;
  /** Keepalive interval when hold time is non-zero; default one third of the negotiated hold time. */
  keepaliveTime?: number;
  connectRetryTime: number;
  /** §8.1.1 DelayOpen, seconds; 0 or absent = off. */
  delayOpenTime?: number;
  /**
   * §8.1.1 PassiveTcpEstablishment: the session may only come up on a
   * connection the peer opens; an expiring ConnectRetryTimer does not connect.
   */
  passive?: boolean;
  /** §8.2.2: "a large value" for the hold timer while waiting for OPEN; 4 minutes suggested. */
  largeHoldTime?: number;
}

/** Parameters learned from the peer's OPEN (§8.2.2 Event 19). */
export interface Negotiated {
  peerAs: number;
  peerId: number;
  holdTime: number;
  keepaliveTime: number;
  /** The OPEN as received, for capability negotiation by the adapter. */
  open: PeerOpen;
}

export interface Session {
  state: FsmState;
  connectRetryCounter: number;
  delayOpenRunning: boolean;
  /** Set when we sent our OPEN on this connection (OpenSent and later). */
  negotiated?: Negotiated;
}

export interface StepResult {
  session: Session;
  actions: FsmAction[];
}

const DEFAULT_LARGE_HOLD = 240;

export function initialSession(): Session {
  return { state: "Idle", connectRetryCounter: 0, delayOpenRunning: false };
}

/** One FSM step. Never throws; an event that does not apply is handled as §8.2.2 says. */
export function step(s: Session, ev: FsmEvent, cfg: FsmConfig): StepResult {
  return BY_STATE[s.state](s, ev, cfg);
}

/** The event handler of each state (RFC 4271 §8.2.2 has one subsection per state). */
const BY_STATE: Record<FsmState, (s: Session, ev: FsmEvent, cfg: FsmConfig) => StepResult> = {
  Idle: idle,
  Connect: connect,
  Active: active,
  OpenSent: openSent,
  OpenConfirm: openConfirm,
  Established: established,
};

const stay = (s: Session, actions: FsmAction[] = []): StepResult => ({ session: s, actions });
const to = (s: Session, state: FsmState, patch: Partial<Session>, actions: FsmAction[]): StepResult => {
  const next: Session = { ...s, ...patch, state };
  if (state === "Idle" || state === "Connect" || state === "Active") delete next.negotiated;
  return { session: next, actions };
};
const isStart = (t: FsmEvent["type"]): boolean =>
  t === "ManualStart" ||
  t === "AutomaticStart" ||
  t === "ManualStartPassive" ||
  t === "AutomaticStartPassive";
const stopTimer = (timer: FsmTimer): FsmAction => ({ type: "stopTimer", timer });
const startTimer = (timer: FsmTimer, seconds: number): FsmAction => ({ type: "startTimer", timer, seconds });
const cease = (subcode: number, data?: Uint8Array): FsmAction =>
  data
    ? { type: "sendNotification", code: ERR_CEASE, subcode, data }
    : { type: "sendNotification", code: ERR_CEASE, subcode };

/**
 * What every way to Idle from a connection does: the given lead (a
 * NOTIFICATION), ConnectRetryTimer, HoldTimer and KeepaliveTimer (and a running
 * DelayOpenTimer) stopped, the routes deleted when asked, resources released,
 * TCP dropped.
 */
function idleTeardown(s: Session, lead: FsmAction[], deleteRoutes: boolean): FsmAction[] {
  const actions: FsmAction[] = [
    ...lead,
    stopTimer("connectRetry"),
    stopTimer("hold"),
    stopTimer("keepalive"),
  ];
  if (s.delayOpenRunning) actions.push(stopTimer("delayOpen"));
  if (deleteRoutes) actions.push({ type: "deleteRoutes" });
  actions.push({ type: "releaseResources" }, { type: "dropConnection" });
  return actions;
}

/**
 * The common "go to Idle after an error" tail of §8.2.2: ConnectRetryTimer to
 * zero, release resources, drop TCP, ConnectRetryCounter + 1; the IdleHoldTimer
 * then brings the session back (automatic restart with back-off from the counter).
 */
function toIdleAfterError(s: Session, lead: FsmAction[], deleteRoutes = false): StepResult {
  const actions = idleTeardown(s, lead, deleteRoutes);
  const counter = s.connectRetryCounter + 1;
  actions.push({ type: "scheduleRestart", attempt: counter });
  return to(s, "Idle", { connectRetryCounter: counter, delayOpenRunning: false }, actions);
}

/** ManualStop: the counter resets and no automatic restart follows. */
function toIdleManualStop(s: Session, lead: FsmAction[], deleteRoutes = false): StepResult {
  return to(
    s,
    "Idle",
    { connectRetryCounter: 0, delayOpenRunning: false },
    idleTeardown(s, lead, deleteRoutes),
  );
}

// §8.2.2 Idle state.
function idle(s: Session, ev: FsmEvent, cfg: FsmConfig): StepResult {
  switch (ev.type) {
    case "ManualStart":
    case "AutomaticStart":
    case "IdleHoldTimerExpires":
      // Event 13 restarts a peer that went Idle after an error: an AutomaticStart.
      return to(s, "Connect", ev.type === "ManualStart" ? { connectRetryCounter: 0 } : {}, [
        stopTimer("idleHold"),
        startTimer("connectRetry", cfg.connectRetryTime),
        { type: "connect" },
      ]);
    case "ManualStartPassive":
    case "AutomaticStartPassive":
      return to(s, "Active", ev.type === "ManualStartPassive" ? { connectRetryCounter: 0 } : {}, [
        stopTimer("idleHold"),
        startTimer("connectRetry", cfg.connectRetryTime),
      ]);
    case "ManualStop":
      // Not in the RFC's Idle list, but a stop must also cancel a pending automatic restart.
      return stay({ ...s, connectRetryCounter: 0 }, [stopTimer("idleHold")]);
    case "TcpConnectionConfirmed":
    case "TcpCrAcked":
      // An incoming connection while Idle is refused ("any other event": ignored, connection rejected).
      return stay(s, [cease(CEASE_CONNECTION_REJECTED), { type: "dropConnection" }]);
    default:
      return stay(s);
  }
}

/** Events 16/17 in Connect and Active: the connection is up. */
function tcpUp(s: Session, cfg: FsmConfig): StepResult {
  if (cfg.delayOpenTime) {
    return to(s, s.state, { delayOpenRunning: true }, [
      stopTimer("connectRetry"),
      startTimer("delayOpen", cfg.delayOpenTime),
    ]);
  }
  return to(s, "OpenSent", {}, [
    stopTimer("connectRetry"),
    { type: "sendOpen" },
    startTimer("hold", cfg.largeHoldTime ?? DEFAULT_LARGE_HOLD),
  ]);
}

/**
 * Event 20 (an OPEN while DelayOpenTimer runs) and Event 19 in OpenSent: check
 * the OPEN (§6.2), then answer with KEEPALIVE and arm the negotiated timers.
 */
function openReceived(s: Session, open: PeerOpen, cfg: FsmConfig, sendOpenFirst: boolean): StepResult {
  const err = checkOpen(open, cfg);
  if (err) {
    // §6.2 errors are BGPOpenMsgErr (Event 22).
    return toIdleAfterError(s, [
      ...(sendOpenFirst ? [{ type: "sendOpen" } as FsmAction] : []),
      notification(ERR_OPEN, err.subcode, err.data),
    ]);
  }
  const hold = negotiateHoldTime(cfg.holdTime, open.holdTime, cfg.keepaliveTime);
  const negotiated: Negotiated = {
    peerAs: open.as4 ?? open.myAs,
    peerId: open.bgpId,
    holdTime: hold.holdTime,
    keepaliveTime: hold.keepaliveTime,
    open,
  };
  const actions: FsmAction[] = [stopTimer("connectRetry")];
  if (s.delayOpenRunning) actions.push(stopTimer("delayOpen"));
  if (sendOpenFirst) actions.push({ type: "sendOpen" });
  actions.push({ type: "sendKeepalive" });
  if (hold.holdTime > 0) {
    actions.push(startTimer("keepalive", hold.keepaliveTime), startTimer("hold", hold.holdTime));
  } else {
    actions.push(stopTimer("keepalive"), stopTimer("hold"));
  }
  return to(s, "OpenConfirm", { delayOpenRunning: false, negotiated }, actions);
}

/**
 * §8.2.2, the events Connect and Active handle alike: start events are
 * ignored, ManualStop, the connection coming up (Events 16/17), an OPEN while
 * DelayOpenTimer runs (Event 20), a version error (Event 24), and any other
 * event is an FSM error.
 */
function connectOrActive(s: Session, ev: FsmEvent, cfg: FsmConfig): StepResult {
  if (isStart(ev.type)) return stay(s);
  switch (ev.type) {
    case "ManualStop":
      return toIdleManualStop(s, []);
    case "TcpConnectionValid":
    case "TcpCrInvalid":
      return stay(s);
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
      return tcpUp(s, cfg);
    case "BGPOpen":
      if (s.delayOpenRunning) return openReceived(s, ev.open, cfg, true);
      return toIdleAfterError(s, []);
    case "BGPHeaderErr":
    case "BGPOpenMsgErr":
      return toIdleAfterError(s, []);
    case "NotifMsgVerErr":
      if (s.delayOpenRunning) return toIdleManualStopLike(s);
      return toIdleAfterError(s, []);
    default:
      return toIdleAfterError(s, []);
  }
}

// §8.2.2 Connect state.
function connect(s: Session, ev: FsmEvent, cfg: FsmConfig): StepResult {
  switch (ev.type) {
    case "ConnectRetryTimerExpires": {
      const actions: FsmAction[] = [
        { type: "dropConnection" },
        startTimer("connectRetry", cfg.connectRetryTime),
      ];
      if (s.delayOpenRunning) actions.push(stopTimer("delayOpen"));
      actions.push({ type: "connect" });
      return to(s, "Connect", { delayOpenRunning: false }, actions);
    }
    case "DelayOpenTimerExpires":
      return to(s, "OpenSent", { delayOpenRunning: false }, [
        { type: "sendOpen" },
        startTimer("hold", cfg.largeHoldTime ?? DEFAULT_LARGE_HOLD),
      ]);
    case "TcpConnectionFails":
      if (s.delayOpenRunning) {
        return to(s, "Active", { delayOpenRunning: false }, [
          startTimer("connectRetry", cfg.connectRetryTime),
          stopTimer("delayOpen"),
        ]);
      }
      // §8.2.2: stop ConnectRetryTimer, drop, release, to Idle (counter unchanged),
      // and we come back through the IdleHoldTimer.
      return to(s, "Idle", {}, [
        stopTimer("connectRetry"),
        { type: "dropConnection" },
        { type: "releaseResources" },
        { type: "scheduleRestart", attempt: s.connectRetryCounter + 1 },
      ]);
    default:
      return connectOrActive(s, ev, cfg);
  }
}

/** NotifMsgVerErr with DelayOpenTimer running: to Idle without counting it as a failure. */
function toIdleManualStopLike(s: Session): StepResult {
  return to(s, "Idle", { delayOpenRunning: false }, [
    stopTimer("connectRetry"),
    stopTimer("delayOpen"),
    { type: "releaseResources" },
    { type: "dropConnection" },
    { type: "scheduleRestart", attempt: s.connectRetryCounter + 1 },
  ]);
}

// §8.2.2 Active state.
function active(s: Session, ev: FsmEvent, cfg: FsmConfig): StepResult {
  switch (ev.type) {
    case "ConnectRetryTimerExpires":
      if (cfg.passive) return stay(s, [startTimer("connectRetry", cfg.connectRetryTime)]);
      return to(s, "Connect", {}, [startTimer("connectRetry", cfg.connectRetryTime), { type: "connect" }]);
    case "DelayOpenTimerExpires":
      return to(s, "OpenSent", { delayOpenRunning: false }, [
        stopTimer("connectRetry"),
        { type: "sendOpen" },
        startTimer("hold", cfg.largeHoldTime ?? DEFAULT_LARGE_HOLD),
      ]);
    case "TcpConnectionFails": {
      const actions: FsmAction[] = [startTimer("connectRetry", cfg.connectRetryTime)];
      if (s.delayOpenRunning) actions.push(stopTimer("delayOpen"));
      actions.push({ type: "releaseResources" });
      const counter = s.connectRetryCounter + 1;
      actions.push({ type: "scheduleRestart", attempt: counter });
      return to(s, "Idle", { connectRetryCounter: counter, delayOpenRunning: false }, actions);
    }
    default:
      return connectOrActive(s, ev, cfg);
  }
}

const notification = (code: number, subcode: number, data?: Uint8Array): FsmAction =>
  data ? { type: "sendNotification", code, subcode, data } : { type: "sendNotification", code, subcode };

/**
 * §8.2.2, the events OpenSent and OpenConfirm handle alike: start events are
 * ignored; ManualStop, AutomaticStop and the hold timer go to Idle with their
 * NOTIFICATION; a second connection is left to collision detection (§6.8);
 * header and OPEN errors, a collision dump and a version error go to Idle; any
 * other event is an FSM error with the state's subcode.
 */
function openSentOrConfirm(s: Session, ev: FsmEvent, unexpectedSubcode: number): StepResult {
  if (isStart(ev.type)) return stay(s);
  switch (ev.type) {
    case "ManualStop":
      return toIdleManualStop(s, [cease(ev.subcode ?? CEASE_ADMIN_SHUTDOWN, ev.data)]);
    case "AutomaticStop":
      return toIdleAfterError(s, [cease(ev.subcode ?? CEASE_ADMIN_RESET, ev.data)]);
    case "HoldTimerExpires":
      return toIdleAfterError(s, [notification(ERR_HOLD_TIMER_EXPIRED, 0)]);
    case "TcpConnectionValid":
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
    case "TcpCrInvalid":
      // A second connection is tracked by the adapter (collision detection, §6.8).
      return stay(s);
    case "BGPHeaderErr":
      return toIdleAfterError(s, [notification(ev.code, ev.subcode, ev.data)]);
    case "BGPOpenMsgErr":
      return toIdleAfterError(s, [notification(ERR_OPEN, ev.subcode, ev.data)]);
    case "OpenCollisionDump":
      return toIdleAfterError(s, [cease(CEASE_CONNECTION_COLLISION)]);
    case "NotifMsgVerErr":
      return toIdleManualStopLike(s);
    default:
      return toIdleAfterError(s, [notification(ERR_FSM, unexpectedSubcode)]);
  }
}

// §8.2.2 OpenSent state.
function openSent(s: Session, ev: FsmEvent, cfg: FsmConfig): StepResult {
  switch (ev.type) {
    case "TcpConnectionFails":
      return to(s, "Active", {}, [
        { type: "dropConnection" },
        stopTimer("hold"),
        startTimer("connectRetry", cfg.connectRetryTime),
      ]);
    case "BGPOpen":
      return openReceived(s, ev.open, cfg, false);
    default:
      // Events 9, 11, 12, 13, 20, 25-28 are unexpected.
      return openSentOrConfirm(s, ev, FSM_UNEXPECTED_IN_OPENSENT);
  }
}

// §8.2.2 OpenConfirm state.
function openConfirm(s: Session, ev: FsmEvent, _cfg: FsmConfig): StepResult {
  switch (ev.type) {
    case "KeepaliveTimerExpires": {
      const ka = s.negotiated?.keepaliveTime ?? 0;
      return stay(s, ka > 0 ? [{ type: "sendKeepalive" }, startTimer("keepalive", ka)] : []);
    }
    case "TcpConnectionFails":
    case "NotifMsg":
      return toIdleAfterError(s, []);
    case "KeepAliveMsg": {
      const hold = s.negotiated?.holdTime ?? 0;
      return to(s, "Established", {}, [
        ...(hold > 0 ? [startTimer("hold", hold)] : []),
        { type: "sessionEstablished" } as FsmAction,
      ]);
    }
    default:
      // Events 9, 12, 13, 19 (a second OPEN on this connection), 20, 27, 28 are unexpected.
      return openSentOrConfirm(s, ev, FSM_UNEXPECTED_IN_OPENCONFIRM);
  }
}

// §8.2.2 Established state.
function established(s: Session, ev: FsmEvent, _cfg: FsmConfig): StepResult {
  if (isStart(ev.type)) return stay(s);
  const hold = s.negotiated?.holdTime ?? 0;
  const restartHold: FsmAction[] = hold > 0 ? [startTimer("hold", hold)] : [];
  switch (ev.type) {
    case "ManualStop":
      return toIdleManualStop(s, [cease(ev.subcode ?? CEASE_ADMIN_SHUTDOWN, ev.data)], true);
    case "AutomaticStop":
      return toIdleAfterError(s, [cease(ev.subcode ?? CEASE_ADMIN_RESET, ev.data)], true);
    case "HoldTimerExpires":
      return toIdleAfterError(s, [notification(ERR_HOLD_TIMER_EXPIRED, 0)], true);
    case "KeepaliveTimerExpires": {
      const ka = s.negotiated?.keepaliveTime ?? 0;
      return stay(s, ka > 0 ? [{ type: "sendKeepalive" }, startTimer("keepalive", ka)] : []);
    }
    case "TcpConnectionValid":
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
    case "TcpCrInvalid":
      return stay(s);
    case "BGPOpen":
      // CollisionDetectEstablishedState is off: an OPEN here is an FSM error on
      // this connection (a second connection's OPEN goes to its own FSM).
      return toIdleAfterError(s, [notification(ERR_FSM, FSM_UNEXPECTED_IN_ESTABLISHED)], true);
    case "OpenCollisionDump":
      return toIdleAfterError(s, [cease(CEASE_CONNECTION_COLLISION)], true);
    case "NotifMsgVerErr":
    case "NotifMsg":
    case "TcpConnectionFails":
      return toIdleAfterError(s, [], true);
    case "KeepAliveMsg":
      return stay(s, restartHold);
    case "UpdateMsg":
      return stay(s, [{ type: "processUpdate" }, ...restartHold]);
    case "UpdateMsgErr":
      return toIdleAfterError(s, [notification(ERR_UPDATE, ev.subcode, ev.data)], true);
    case "BGPHeaderErr":
      return toIdleAfterError(s, [notification(ev.code, ev.subcode, ev.data)], true);
    case "BGPOpenMsgErr":
      return toIdleAfterError(s, [notification(ERR_OPEN, ev.subcode, ev.data)], true);
    default:
      // Events 9, 12, 13.
      return toIdleAfterError(s, [notification(ERR_FSM, FSM_UNEXPECTED_IN_ESTABLISHED)], true);
  }
}
