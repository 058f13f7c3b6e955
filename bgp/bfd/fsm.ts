/**
 * The BFD session of RFC 5880 as a pure function: `step(session, event,
 * config) -> { session, actions }`, asynchronous mode only (no Demand mode,
 * no Echo function, no authentication), single hop (RFC 5881). The state
 * machine is §6.2 with the reception rules of §6.8.6; timers are §6.8.2
 * (transmit interval), §6.8.3 (changing intervals, Poll Sequence) and §6.8.4
 * (Detection Time). Times are microseconds, as on the wire.
 *
 * The adapter (session.ts) owns the socket and the two timers: it sends a
 * packet built by `controlPacket()` for every `send` and on every transmit
 * interval (with the §6.8.7 jitter), and feeds the events back here.
 */
import { DIAG, type BfdState, type ControlPacket } from "./packet.js";

export interface BfdConfig {
  /** bfd.DesiredMinTxInterval once Up (µs). */
  desiredMinTx: number;
  /** bfd.RequiredMinRxInterval (µs); 0 would ask the peer to send nothing (§6.8.1). */
  requiredMinRx: number;
  /** bfd.DetectMult. */
  detectMult: number;
}

/** §6.8.3: while not Up, the transmit interval is at least one second. */
export const SLOW_TX = 1_000_000;

export interface BfdSession {
  state: BfdState;
  remoteState: BfdState;
  localDisc: number;
  remoteDisc: number;
  diag: number;
  /** What we advertise (Desired Min TX, Required Min RX). */
  advTx: number;
  advRx: number;
  /** What our timers use: differs from the advertised value during a Poll Sequence (§6.8.3). */
  useTx: number;
  useRx: number;
  /** A Poll Sequence is running: our packets carry P until one with F comes back (§6.5). */
  poll: boolean;
  remoteMinRx: number;
  remoteMinTx: number;
  remoteDetectMult: number;
}

export type BfdEvent =
  | { type: "Recv"; packet: ControlPacket }
  | { type: "DetectTimerExpired" }
  | { type: "AdminDown" }
  | { type: "AdminUp" }
  | { type: "ConfigChange" };

export type BfdAction =
  /** Send one Control packet now (final: the F bit, answering a Poll). */
  | { type: "send"; final: boolean }
  /** The periodic transmit interval before jitter (µs); 0: send nothing periodically (§6.8.7). */
  | { type: "setTx"; us: number }
  /** (Re)start the Detection Time timer (µs). */
  | { type: "restartDetect"; us: number }
  | { type: "stateChange"; from: BfdState; to: BfdState; diag: number }
  /** A received packet the session may not use (§6.8.6): counted, never acted on. */
  | { type: "discard"; reason: "your-disc-mismatch" | "your-disc-zero" | "admin-down" };

export interface StepResult {
  session: BfdSession;
  actions: BfdAction[];
}

/** §6.8.1 initial values; bfd.RemoteMinRxInterval starts at 1 µs. */
export function initialSession(localDisc: number, cfg: BfdConfig): BfdSession {
  const tx = Math.max(cfg.desiredMinTx, SLOW_TX);
  return {
    state: "Down",
    remoteState: "Down",
    localDisc,
    remoteDisc: 0,
    diag: DIAG.none,
    advTx: tx,
    advRx: cfg.requiredMinRx,
    useTx: tx,
    useRx: cfg.requiredMinRx,
    poll: false,
    remoteMinRx: 1,
    remoteMinTx: 0,
    remoteDetectMult: 0,
  };
}

/** §6.8.2: the larger of our Desired Min TX and the peer's Required Min RX; 0 when the peer wants none. */
export function txInterval(s: BfdSession): number {
  // AdminDown keeps telling the peer so, slowly (§6.8.16).
  if (s.state === "AdminDown") return s.useTx;
  if (s.remoteMinRx === 0) return 0;
  return Math.max(s.useTx, s.remoteMinRx);
}

/** §6.8.4 asynchronous mode: the peer's Detect Mult times the agreed interval. */
export function detectTime(s: BfdSession): number {
  return s.remoteDetectMult * Math.max(s.useRx, s.remoteMinTx);
}

/** The packet the session sends now (§6.8.7). */
export function controlPacket(s: BfdSession, cfg: BfdConfig, final = false): ControlPacket {
  return {
    diag: s.diag,
    state: s.state,
    // §6.8.7: a packet with F never carries P.
    poll: s.poll && !final,
    final,
    cpi: false,
    demand: false,
    detectMult: cfg.detectMult,
    myDisc: s.localDisc,
    yourDisc: s.remoteDisc,
    desiredMinTx: s.advTx,
    requiredMinRx: s.advRx,
    requiredMinEchoRx: 0,
  };
}

/** What we advertise in a state: §6.8.3 slows the transmit interval to 1 s outside Up. */
function wantedTx(state: BfdState, cfg: BfdConfig): number {
  return state === "Up" ? cfg.desiredMinTx : Math.max(cfg.desiredMinTx, SLOW_TX);
}

/**
 * Move to new advertised intervals. Outside Up they apply at once; while Up a
 * Poll Sequence starts (§6.8.3) and a slower TX or a faster RX waits for its
 * Final, so the peer never times us out on values it has not seen.
 */
function retime(s: BfdSession, cfg: BfdConfig): BfdSession {
  const advTx = wantedTx(s.state, cfg);
  const advRx = cfg.requiredMinRx;
  if (advTx === s.advTx && advRx === s.advRx) return s;
  if (s.state !== "Up") return { ...s, advTx, advRx, useTx: advTx, useRx: advRx };
  return {
    ...s,
    advTx,
    advRx,
    useTx: advTx < s.useTx ? advTx : s.useTx,
    useRx: advRx > s.useRx ? advRx : s.useRx,
    poll: true,
  };
}

function timers(before: BfdSession, after: BfdSession, actions: BfdAction[]): void {
  const tx = txInterval(after);
  if (tx !== txInterval(before)) actions.push({ type: "setTx", us: tx });
}

function enter(s: BfdSession, to: BfdState, diag: number, cfg: BfdConfig, actions: BfdAction[]): BfdSession {
  const from = s.state;
  let next: BfdSession = { ...s, state: to, diag };
  next = retime(next, cfg);
  if (to !== "Up" && from === "Up") next = { ...next, poll: false, useTx: next.advTx, useRx: next.advRx };
  actions.push({ type: "stateChange", from, to, diag });
  // A state change is news for the peer: tell it now rather than at the next interval.
  actions.push({ type: "send", final: false });
  return next;
}

export function step(s: BfdSession, ev: BfdEvent, cfg: BfdConfig): StepResult {
  const actions: BfdAction[] = [];
  let n = s;
  switch (ev.type) {
    case "AdminDown": {
      // §6.8.16: AdminDown with diag 7; the peer sees AdminDown and goes Down without a failure.
      if (s.state === "AdminDown") return { session: s, actions };
      n = enter(s, "AdminDown", DIAG.adminDown, cfg, actions);
      break;
    }
    case "AdminUp": {
      if (s.state !== "AdminDown") return { session: s, actions };
      n = enter(s, "Down", DIAG.none, cfg, actions);
      break;
    }
    case "ConfigChange": {
      n = retime(s, cfg);
      if (n.poll && !s.poll) actions.push({ type: "send", final: false });
      break;
    }
    case "DetectTimerExpired": {
      // §6.8.4: no valid packet for a Detection Time: Init or Up go Down (diag 1).
      // §6.8.1: bfd.RemoteDiscr is zeroed then, whatever the state.
      n = { ...s, remoteDisc: 0, remoteState: "Down", remoteMinRx: 1, remoteMinTx: 0, remoteDetectMult: 0 };
      if (s.state === "Init" || s.state === "Up")
        n = enter(n, "Down", DIAG.controlDetectionTimeExpired, cfg, actions);
      break;
    }
    case "Recv": {
      const p = ev.packet;
      // §6.8.6: Your Discriminator must name this session; zero only while we are Down.
      if (p.yourDisc !== 0 && p.yourDisc !== s.localDisc)
        return { session: s, actions: [{ type: "discard", reason: "your-disc-mismatch" }] };
      if (p.yourDisc === 0 && s.state !== "Down" && s.state !== "AdminDown")
        return { session: s, actions: [{ type: "discard", reason: "your-disc-zero" }] };
      n = {
        ...s,
        remoteDisc: p.myDisc,
        remoteState: p.state,
        remoteMinRx: p.requiredMinRx,
        remoteMinTx: p.desiredMinTx,
        remoteDetectMult: p.detectMult,
      };
      // §6.8.6: F ends our Poll Sequence; the new intervals now apply fully.
      if (p.final && n.poll) n = { ...n, poll: false, useTx: n.advTx, useRx: n.advRx };
      if (s.state === "AdminDown") {
        timers(s, n, actions);
        actions.push({ type: "discard", reason: "admin-down" });
        return { session: n, actions };
      }
      if (p.state === "AdminDown") {
        if (n.state !== "Down") n = enter(n, "Down", DIAG.neighborSignaledDown, cfg, actions);
      } else if (n.state === "Down") {
        if (p.state === "Down") n = enter(n, "Init", DIAG.none, cfg, actions);
        else if (p.state === "Init") n = enter(n, "Up", DIAG.none, cfg, actions);
      } else if (n.state === "Init") {
        if (p.state === "Init" || p.state === "Up") n = enter(n, "Up", DIAG.none, cfg, actions);
      } else if (n.state === "Up") {
        if (p.state === "Down") n = enter(n, "Down", DIAG.neighborSignaledDown, cfg, actions);
      }
      // §6.8.7: a Poll is answered at once with F (and without P).
      if (p.poll) actions.push({ type: "send", final: true });
      actions.push({ type: "restartDetect", us: detectTime(n) });
      break;
    }
  }
  timers(s, n, actions);
  return { session: n, actions };
}
