import { describe, expect, it } from "@jest/globals";
import {
  initialSession,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmState,
  type Session,
} from "../fsm.js";
import type { PeerOpen } from "../open-check.js";
import { expectActions, type ActionExpectation } from "../../test/fsm-rows.js";

const cfg: FsmConfig = {
  localAs: 65001,
  localId: 0x0a000001,
  peerAs: 65002,
  holdTime: 90,
  connectRetryTime: 5,
};
const cfgDelay: FsmConfig = { ...cfg, delayOpenTime: 2 };
const cfgPassive: FsmConfig = { ...cfg, passive: true };
const goodOpen: PeerOpen = { version: 4, myAs: 65002, holdTime: 30, bgpId: 0x0a000002 };
const negotiated = { peerAs: 65002, peerId: 0x0a000002, holdTime: 30, keepaliveTime: 10, open: goodOpen };

function at(state: FsmState, extra: Partial<Session> = {}): Session {
  const s: Session = { ...initialSession(), state, connectRetryCounter: 3, ...extra };
  if (state === "OpenConfirm" || state === "Established") s.negotiated = negotiated;
  return s;
}

/** A compact rendering of an action list: "sendNotification(6/2)", "startTimer(hold=240)", … */
function show(actions: FsmAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case "sendNotification":
        return `notify(${a.code}/${a.subcode})`;
      case "startTimer":
        return `start(${a.timer}=${a.seconds})`;
      case "stopTimer":
        return `stop(${a.timer})`;
      case "scheduleRestart":
        return `restart(${a.attempt})`;
      default:
        return a.type;
    }
  });
}

interface Row extends ActionExpectation {
  rule: string;
  from: Session;
  event: FsmEvent;
  config?: FsmConfig;
  to: FsmState;
  counter?: number;
}

const E = (type: FsmEvent["type"]): FsmEvent => ({ type }) as FsmEvent;
const TO_IDLE_ERR = ["stop(connectRetry)", "releaseResources", "dropConnection", "restart(4)"];

// One row per RFC 4271 §8.2.2 transition (state, event) that applies.
const table: Row[] = [
  // Idle
  {
    rule: "Idle + ManualStart -> Connect, start ConnectRetryTimer, connect",
    from: at("Idle"),
    event: E("ManualStart"),
    to: "Connect",
    does: ["start(connectRetry=5)", "connect"],
    counter: 0,
  },
  {
    rule: "Idle + AutomaticStart -> Connect",
    from: at("Idle"),
    event: E("AutomaticStart"),
    to: "Connect",
    does: ["start(connectRetry=5)", "connect"],
    counter: 3,
  },
  {
    rule: "Idle + ManualStart passive -> Active, no connect",
    from: at("Idle"),
    event: E("ManualStartPassive"),
    to: "Active",
    does: ["start(connectRetry=5)"],
    not: ["connect"],
    counter: 0,
  },
  {
    rule: "Idle + AutomaticStart passive -> Active",
    from: at("Idle"),
    event: E("AutomaticStartPassive"),
    to: "Active",
    not: ["connect"],
  },
  {
    rule: "Idle + IdleHoldTimer expires -> Connect (automatic restart)",
    from: at("Idle"),
    event: E("IdleHoldTimerExpires"),
    to: "Connect",
    does: ["connect"],
  },
  {
    rule: "Idle + ManualStop is ignored (and cancels a pending restart)",
    from: at("Idle"),
    event: E("ManualStop"),
    to: "Idle",
    does: ["stop(idleHold)"],
    counter: 0,
  },
  {
    rule: "Idle + AutomaticStop is ignored",
    from: at("Idle"),
    event: E("AutomaticStop"),
    to: "Idle",
    not: ["connect"],
  },
  {
    rule: "Idle + any other event is ignored",
    from: at("Idle"),
    event: E("KeepAliveMsg"),
    to: "Idle",
    not: ["sendKeepalive"],
  },
  {
    rule: "Idle + incoming connection is rejected with Cease/connection rejected",
    from: at("Idle"),
    event: E("TcpConnectionConfirmed"),
    to: "Idle",
    does: ["notify(6/5)", "dropConnection"],
  },
  // Connect
  {
    rule: "Connect + start events are ignored",
    from: at("Connect"),
    event: E("ManualStart"),
    to: "Connect",
    not: ["connect"],
  },
  {
    rule: "Connect + ManualStop -> Idle, counter to zero",
    from: at("Connect"),
    event: E("ManualStop"),
    to: "Idle",
    does: ["stop(connectRetry)", "releaseResources", "dropConnection"],
    not: ["restart(4)"],
    counter: 0,
  },
  {
    rule: "Connect + ConnectRetryTimer expires -> Connect, drop, restart timer, reconnect",
    from: at("Connect"),
    event: E("ConnectRetryTimerExpires"),
    to: "Connect",
    does: ["dropConnection", "start(connectRetry=5)", "connect"],
  },
  {
    rule: "Connect + DelayOpenTimer expires -> OpenSent, send OPEN, large hold timer",
    from: at("Connect", { delayOpenRunning: true }),
    event: E("DelayOpenTimerExpires"),
    to: "OpenSent",
    does: ["sendOpen", "start(hold=240)"],
  },
  {
    rule: "Connect + TcpConnection_Valid stays",
    from: at("Connect"),
    event: E("TcpConnectionValid"),
    to: "Connect",
  },
  { rule: "Connect + Tcp_CR_Invalid stays", from: at("Connect"), event: E("TcpCrInvalid"), to: "Connect" },
  {
    rule: "Connect + Tcp_CR_Acked -> OpenSent, stop ConnectRetryTimer, send OPEN",
    from: at("Connect"),
    event: E("TcpCrAcked"),
    to: "OpenSent",
    does: ["stop(connectRetry)", "sendOpen", "start(hold=240)"],
  },
  {
    rule: "Connect + TcpConnectionConfirmed -> OpenSent",
    from: at("Connect"),
    event: E("TcpConnectionConfirmed"),
    to: "OpenSent",
    does: ["sendOpen"],
  },
  {
    rule: "Connect + Tcp_CR_Acked with DelayOpen -> Connect, start DelayOpenTimer",
    config: cfgDelay,
    from: at("Connect"),
    event: E("TcpCrAcked"),
    to: "Connect",
    does: ["stop(connectRetry)", "start(delayOpen=2)"],
    not: ["sendOpen"],
  },
  {
    rule: "Connect + TcpConnectionFails with DelayOpenTimer -> Active",
    from: at("Connect", { delayOpenRunning: true }),
    event: E("TcpConnectionFails"),
    to: "Active",
    does: ["start(connectRetry=5)", "stop(delayOpen)"],
  },
  {
    rule: "Connect + TcpConnectionFails -> Idle",
    from: at("Connect"),
    event: E("TcpConnectionFails"),
    to: "Idle",
    does: ["stop(connectRetry)", "dropConnection", "releaseResources"],
    counter: 3,
  },
  {
    rule: "Connect + BGPOpen with DelayOpenTimer -> OpenConfirm, send OPEN and KEEPALIVE",
    from: at("Connect", { delayOpenRunning: true }),
    event: { type: "BGPOpen", open: goodOpen },
    to: "OpenConfirm",
    does: [
      "stop(connectRetry)",
      "stop(delayOpen)",
      "sendOpen",
      "sendKeepalive",
      "start(keepalive=10)",
      "start(hold=30)",
    ],
  },
  {
    rule: "Connect + BGPHeaderErr -> Idle, counter + 1",
    from: at("Connect"),
    event: { type: "BGPHeaderErr", code: 1, subcode: 2 },
    to: "Idle",
    does: TO_IDLE_ERR,
    counter: 4,
  },
  {
    rule: "Connect + BGPOpenMsgErr -> Idle",
    from: at("Connect"),
    event: { type: "BGPOpenMsgErr", subcode: 2 },
    to: "Idle",
    counter: 4,
  },
  {
    rule: "Connect + NotifMsgVerErr with DelayOpenTimer -> Idle, counter unchanged",
    from: at("Connect", { delayOpenRunning: true }),
    event: E("NotifMsgVerErr"),
    to: "Idle",
    does: ["stop(delayOpen)", "dropConnection"],
    counter: 3,
  },
  {
    rule: "Connect + NotifMsgVerErr -> Idle, counter + 1",
    from: at("Connect"),
    event: E("NotifMsgVerErr"),
    to: "Idle",
    counter: 4,
  },
  {
    rule: "Connect + other events (HoldTimer) -> Idle",
    from: at("Connect"),
    event: E("HoldTimerExpires"),
    to: "Idle",
    does: TO_IDLE_ERR,
    counter: 4,
  },
  // Active
  { rule: "Active + start events are ignored", from: at("Active"), event: E("AutomaticStart"), to: "Active" },
  {
    rule: "Active + ManualStop -> Idle, counter to zero",
    from: at("Active"),
    event: E("ManualStop"),
    to: "Idle",
    does: ["releaseResources", "dropConnection"],
    counter: 0,
  },
  {
    rule: "Active + ConnectRetryTimer expires -> Connect, connect",
    from: at("Active"),
    event: E("ConnectRetryTimerExpires"),
    to: "Connect",
    does: ["start(connectRetry=5)", "connect"],
  },
  {
    rule: "Active + ConnectRetryTimer expires on a passive peer -> stays Active, no connect (§8.1.1)",
    config: cfgPassive,
    from: at("Active"),
    event: E("ConnectRetryTimerExpires"),
    to: "Active",
    does: ["start(connectRetry=5)"],
    not: ["connect"],
  },
  {
    rule: "Active + DelayOpenTimer expires -> OpenSent",
    from: at("Active", { delayOpenRunning: true }),
    event: E("DelayOpenTimerExpires"),
    to: "OpenSent",
    does: ["stop(connectRetry)", "sendOpen", "start(hold=240)"],
  },
  {
    rule: "Active + TcpConnection_Valid stays",
    from: at("Active"),
    event: E("TcpConnectionValid"),
    to: "Active",
  },
  { rule: "Active + Tcp_CR_Invalid stays", from: at("Active"), event: E("TcpCrInvalid"), to: "Active" },
  {
    rule: "Active + TcpConnectionConfirmed -> OpenSent, send OPEN",
    from: at("Active"),
    event: E("TcpConnectionConfirmed"),
    to: "OpenSent",
    does: ["stop(connectRetry)", "sendOpen", "start(hold=240)"],
  },
  {
    rule: "Active + TcpConnectionConfirmed with DelayOpen -> Active, DelayOpenTimer",
    config: cfgDelay,
    from: at("Active"),
    event: E("TcpConnectionConfirmed"),
    to: "Active",
    does: ["start(delayOpen=2)"],
    not: ["sendOpen"],
  },
  {
    rule: "Active + TcpConnectionFails -> Idle, counter + 1",
    from: at("Active"),
    event: E("TcpConnectionFails"),
    to: "Idle",
    does: ["start(connectRetry=5)", "releaseResources", "restart(4)"],
    counter: 4,
  },
  {
    rule: "Active + BGPOpen with DelayOpenTimer -> OpenConfirm",
    from: at("Active", { delayOpenRunning: true }),
    event: { type: "BGPOpen", open: goodOpen },
    to: "OpenConfirm",
    does: ["sendOpen", "sendKeepalive"],
  },
  {
    rule: "Active + BGPHeaderErr -> Idle",
    from: at("Active"),
    event: { type: "BGPHeaderErr", code: 1, subcode: 1 },
    to: "Idle",
    counter: 4,
  },
  {
    rule: "Active + BGPOpenMsgErr -> Idle",
    from: at("Active"),
    event: { type: "BGPOpenMsgErr", subcode: 1 },
    to: "Idle",
    counter: 4,
  },
  {
    rule: "Active + NotifMsgVerErr with DelayOpenTimer -> Idle, counter unchanged",
    from: at("Active", { delayOpenRunning: true }),
    event: E("NotifMsgVerErr"),
    to: "Idle",
    counter: 3,
  },
  {
    rule: "Active + NotifMsgVerErr -> Idle, counter + 1",
    from: at("Active"),
    event: E("NotifMsgVerErr"),
    to: "Idle",
    counter: 4,
  },
  {
    rule: "Active + other events (UpdateMsg) -> Idle",
    from: at("Active"),
    event: E("UpdateMsg"),
    to: "Idle",
    does: TO_IDLE_ERR,
    counter: 4,
  },
  // OpenSent
  {
    rule: "OpenSent + start events are ignored",
    from: at("OpenSent"),
    event: E("ManualStart"),
    to: "OpenSent",
  },
  {
    rule: "OpenSent + ManualStop -> Idle, Cease admin shutdown, counter zero",
    from: at("OpenSent"),
    event: E("ManualStop"),
    to: "Idle",
    does: ["notify(6/2)", "releaseResources", "dropConnection"],
    counter: 0,
  },
  {
    rule: "OpenSent + AutomaticStop -> Idle, Cease, counter + 1",
    from: at("OpenSent"),
    event: { type: "AutomaticStop", subcode: 1 },
    to: "Idle",
    does: ["notify(6/1)"],
    counter: 4,
  },
  {
    rule: "OpenSent + HoldTimer expires -> Idle, NOTIFICATION hold timer expired",
    from: at("OpenSent"),
    event: E("HoldTimerExpires"),
    to: "Idle",
    does: ["notify(4/0)", ...TO_IDLE_ERR],
    counter: 4,
  },
  {
    rule: "OpenSent + second connection (Tcp_CR_Acked) is tracked, state stays",
    from: at("OpenSent"),
    event: E("TcpCrAcked"),
    to: "OpenSent",
    not: ["dropConnection"],
  },
  {
    rule: "OpenSent + TcpConnectionConfirmed stays",
    from: at("OpenSent"),
    event: E("TcpConnectionConfirmed"),
    to: "OpenSent",
  },
  {
    rule: "OpenSent + Tcp_CR_Invalid is ignored",
    from: at("OpenSent"),
    event: E("TcpCrInvalid"),
    to: "OpenSent",
  },
  {
    rule: "OpenSent + TcpConnectionFails -> Active, restart ConnectRetryTimer",
    from: at("OpenSent"),
    event: E("TcpConnectionFails"),
    to: "Active",
    does: ["dropConnection", "start(connectRetry=5)"],
  },
  {
    rule: "OpenSent + BGPOpen -> OpenConfirm, KEEPALIVE, negotiated timers",
    from: at("OpenSent"),
    event: { type: "BGPOpen", open: goodOpen },
    to: "OpenConfirm",
    does: ["stop(connectRetry)", "sendKeepalive", "start(keepalive=10)", "start(hold=30)"],
    not: ["sendOpen"],
  },
  {
    rule: "OpenSent + BGPOpen with hold time 0 -> no keepalive or hold timer",
    from: at("OpenSent"),
    event: { type: "BGPOpen", open: { ...goodOpen, holdTime: 0 } },
    to: "OpenConfirm",
    does: ["sendKeepalive", "stop(keepalive)", "stop(hold)"],
    not: ["start(hold=0)"],
  },
  {
    rule: "OpenSent + BGPOpen with bad peer AS -> Idle, OPEN error 2/2",
    from: at("OpenSent"),
    event: { type: "BGPOpen", open: { ...goodOpen, myAs: 65099 } },
    to: "Idle",
    does: ["notify(2/2)", ...TO_IDLE_ERR],
    counter: 4,
  },
  {
    rule: "OpenSent + BGPOpen with version 3 -> OPEN error 2/1",
    from: at("OpenSent"),
    event: { type: "BGPOpen", open: { ...goodOpen, version: 3 } },
    to: "Idle",
    does: ["notify(2/1)"],
  },
  {
    rule: "OpenSent + BGPOpen with hold time 2 -> OPEN error 2/6",
    from: at("OpenSent"),
    event: { type: "BGPOpen", open: { ...goodOpen, holdTime: 2 } },
    to: "Idle",
    does: ["notify(2/6)"],
  },
  {
    rule: "OpenSent + BGPOpen with BGP Identifier 0 -> OPEN error 2/3",
    from: at("OpenSent"),
    event: { type: "BGPOpen", open: { ...goodOpen, bgpId: 0 } },
    to: "Idle",
    does: ["notify(2/3)"],
  },
  {
    rule: "OpenSent + BGPHeaderErr -> Idle with that NOTIFICATION",
    from: at("OpenSent"),
    event: { type: "BGPHeaderErr", code: 1, subcode: 2 },
    to: "Idle",
    does: ["notify(1/2)", ...TO_IDLE_ERR],
    counter: 4,
  },
  {
    rule: "OpenSent + BGPOpenMsgErr -> Idle with OPEN error",
    from: at("OpenSent"),
    event: { type: "BGPOpenMsgErr", subcode: 4 },
    to: "Idle",
    does: ["notify(2/4)"],
    counter: 4,
  },
  {
    rule: "OpenSent + OpenCollisionDump -> Idle, Cease collision",
    from: at("OpenSent"),
    event: E("OpenCollisionDump"),
    to: "Idle",
    does: ["notify(6/7)"],
    counter: 4,
  },
  {
    rule: "OpenSent + NotifMsgVerErr -> Idle, counter unchanged",
    from: at("OpenSent"),
    event: E("NotifMsgVerErr"),
    to: "Idle",
    does: ["dropConnection"],
    not: ["notify(5/1)"],
    counter: 3,
  },
  {
    rule: "OpenSent + other events (KeepAliveMsg) -> Idle, FSM error 5/1",
    from: at("OpenSent"),
    event: E("KeepAliveMsg"),
    to: "Idle",
    does: ["notify(5/1)", ...TO_IDLE_ERR],
    counter: 4,
  },
  {
    rule: "OpenSent + other events (ConnectRetryTimer) -> Idle, FSM error",
    from: at("OpenSent"),
    event: E("ConnectRetryTimerExpires"),
    to: "Idle",
    does: ["notify(5/1)"],
  },
  // OpenConfirm
  {
    rule: "OpenConfirm + start events are ignored",
    from: at("OpenConfirm"),
    event: E("AutomaticStart"),
    to: "OpenConfirm",
  },
  {
    rule: "OpenConfirm + ManualStop -> Idle, Cease, counter zero",
    from: at("OpenConfirm"),
    event: E("ManualStop"),
    to: "Idle",
    does: ["notify(6/2)", "dropConnection"],
    counter: 0,
  },
  {
    rule: "OpenConfirm + AutomaticStop -> Idle, Cease, counter + 1",
    from: at("OpenConfirm"),
    event: E("AutomaticStop"),
    to: "Idle",
    does: ["notify(6/4)"],
    counter: 4,
  },
  {
    rule: "OpenConfirm + HoldTimer expires -> Idle, NOTIFICATION 4",
    from: at("OpenConfirm"),
    event: E("HoldTimerExpires"),
    to: "Idle",
    does: ["notify(4/0)"],
    counter: 4,
  },
  {
    rule: "OpenConfirm + KeepaliveTimer expires -> send KEEPALIVE, restart timer",
    from: at("OpenConfirm"),
    event: E("KeepaliveTimerExpires"),
    to: "OpenConfirm",
    does: ["sendKeepalive", "start(keepalive=10)"],
  },
  {
    rule: "OpenConfirm + second connection is tracked",
    from: at("OpenConfirm"),
    event: E("TcpConnectionConfirmed"),
    to: "OpenConfirm",
  },
  {
    rule: "OpenConfirm + Tcp_CR_Invalid is ignored",
    from: at("OpenConfirm"),
    event: E("TcpCrInvalid"),
    to: "OpenConfirm",
  },
  {
    rule: "OpenConfirm + TcpConnectionFails -> Idle",
    from: at("OpenConfirm"),
    event: E("TcpConnectionFails"),
    to: "Idle",
    does: TO_IDLE_ERR,
    counter: 4,
  },
  {
    rule: "OpenConfirm + NotifMsg -> Idle",
    from: at("OpenConfirm"),
    event: { type: "NotifMsg", code: 6, subcode: 2 },
    to: "Idle",
    not: ["notify(5/2)"],
    counter: 4,
  },
  {
    rule: "OpenConfirm + NotifMsgVerErr -> Idle, counter unchanged",
    from: at("OpenConfirm"),
    event: E("NotifMsgVerErr"),
    to: "Idle",
    counter: 3,
  },
  {
    rule: "OpenConfirm + BGPHeaderErr -> Idle with NOTIFICATION",
    from: at("OpenConfirm"),
    event: { type: "BGPHeaderErr", code: 1, subcode: 3 },
    to: "Idle",
    does: ["notify(1/3)"],
    counter: 4,
  },
  {
    rule: "OpenConfirm + BGPOpenMsgErr -> Idle with NOTIFICATION",
    from: at("OpenConfirm"),
    event: { type: "BGPOpenMsgErr", subcode: 7 },
    to: "Idle",
    does: ["notify(2/7)"],
    counter: 4,
  },
  {
    rule: "OpenConfirm + OpenCollisionDump -> Idle, Cease collision",
    from: at("OpenConfirm"),
    event: E("OpenCollisionDump"),
    to: "Idle",
    does: ["notify(6/7)"],
    counter: 4,
  },
  {
    rule: "OpenConfirm + KeepAliveMsg -> Established, restart hold timer",
    from: at("OpenConfirm"),
    event: E("KeepAliveMsg"),
    to: "Established",
    does: ["start(hold=30)", "sessionEstablished"],
  },
  {
    rule: "OpenConfirm + other events (UpdateMsg) -> Idle, FSM error 5/2",
    from: at("OpenConfirm"),
    event: E("UpdateMsg"),
    to: "Idle",
    does: ["notify(5/2)", ...TO_IDLE_ERR],
    counter: 4,
  },
  // Established
  {
    rule: "Established + start events are ignored",
    from: at("Established"),
    event: E("ManualStart"),
    to: "Established",
  },
  {
    rule: "Established + ManualStop -> Idle, Cease, delete routes, counter zero",
    from: at("Established"),
    event: { type: "ManualStop", subcode: 3 },
    to: "Idle",
    does: ["notify(6/3)", "deleteRoutes", "releaseResources", "dropConnection"],
    counter: 0,
  },
  {
    rule: "Established + AutomaticStop -> Idle, Cease, delete routes",
    from: at("Established"),
    event: { type: "AutomaticStop", subcode: 1 },
    to: "Idle",
    does: ["notify(6/1)", "deleteRoutes"],
    counter: 4,
  },
  {
    rule: "Established + HoldTimer expires -> Idle, NOTIFICATION 4, delete routes",
    from: at("Established"),
    event: E("HoldTimerExpires"),
    to: "Idle",
    does: ["notify(4/0)", "deleteRoutes", "dropConnection"],
    counter: 4,
  },
  {
    rule: "Established + KeepaliveTimer expires -> send KEEPALIVE, restart timer",
    from: at("Established"),
    event: E("KeepaliveTimerExpires"),
    to: "Established",
    does: ["sendKeepalive", "start(keepalive=10)"],
  },
  {
    rule: "Established + second connection is tracked",
    from: at("Established"),
    event: E("TcpConnectionConfirmed"),
    to: "Established",
    not: ["dropConnection"],
  },
  {
    rule: "Established + Tcp_CR_Invalid is ignored",
    from: at("Established"),
    event: E("TcpCrInvalid"),
    to: "Established",
  },
  {
    rule: "Established + OpenCollisionDump -> Idle, Cease collision, delete routes",
    from: at("Established"),
    event: E("OpenCollisionDump"),
    to: "Idle",
    does: ["notify(6/7)", "deleteRoutes"],
    counter: 4,
  },
  {
    rule: "Established + NotifMsg -> Idle, delete routes",
    from: at("Established"),
    event: { type: "NotifMsg", code: 6, subcode: 2 },
    to: "Idle",
    does: ["deleteRoutes", "dropConnection"],
    counter: 4,
  },
  {
    rule: "Established + NotifMsgVerErr -> Idle",
    from: at("Established"),
    event: E("NotifMsgVerErr"),
    to: "Idle",
    does: ["deleteRoutes"],
  },
  {
    rule: "Established + TcpConnectionFails -> Idle, delete routes",
    from: at("Established"),
    event: E("TcpConnectionFails"),
    to: "Idle",
    does: ["deleteRoutes", ...TO_IDLE_ERR.slice(1)],
    counter: 4,
  },
  {
    rule: "Established + KeepAliveMsg -> restart hold timer",
    from: at("Established"),
    event: E("KeepAliveMsg"),
    to: "Established",
    does: ["start(hold=30)"],
  },
  {
    rule: "Established + UpdateMsg -> process update, restart hold timer",
    from: at("Established"),
    event: E("UpdateMsg"),
    to: "Established",
    does: ["processUpdate", "start(hold=30)"],
  },
  {
    rule: "Established + UpdateMsgErr -> Idle, UPDATE error NOTIFICATION",
    from: at("Established"),
    event: { type: "UpdateMsgErr", subcode: 3 },
    to: "Idle",
    does: ["notify(3/3)", "deleteRoutes"],
    counter: 4,
  },
  {
    rule: "Established + other events (ConnectRetryTimer) -> Idle, FSM error 5/3",
    from: at("Established"),
    event: E("ConnectRetryTimerExpires"),
    to: "Idle",
    does: ["notify(5/3)", "deleteRoutes"],
    counter: 4,
  },
  {
    rule: "Established + BGPOpen on the same connection -> FSM error 5/3",
    from: at("Established"),
    event: { type: "BGPOpen", open: goodOpen },
    to: "Idle",
    does: ["notify(5/3)"],
  },
];

describe("RFC 4271 §8.2.2 transitions", () => {
  it.each(table.map((r) => [r.rule, r] as const))("%s", (_rule, r) => {
    const { session, actions } = step(r.from, r.event, r.config ?? cfg);
    const got = show(actions);
    expect(session.state).toBe(r.to);
    expectActions(got, r);
    if (r.counter !== undefined) expect(session.connectRetryCounter).toBe(r.counter);
    // Leaving the OPEN states forgets what was negotiated.
    if (r.to === "Idle") expect(session.negotiated).toBeUndefined();
  });
});

describe("a full session", () => {
  it("Idle -> Connect -> OpenSent -> OpenConfirm -> Established, then stop", () => {
    let s = initialSession();
    const trace: FsmState[] = [];
    for (const ev of [
      E("ManualStart"),
      E("TcpCrAcked"),
      { type: "BGPOpen", open: goodOpen } as FsmEvent,
      E("KeepAliveMsg"),
      E("UpdateMsg"),
      E("ManualStop"),
    ]) {
      s = step(s, ev, cfg).session;
      trace.push(s.state);
    }
    expect(trace).toEqual(["Connect", "OpenSent", "OpenConfirm", "Established", "Established", "Idle"]);
  });
  it("negotiates the smaller hold time and a keepalive of a third", () => {
    const r = step(at("OpenSent"), { type: "BGPOpen", open: { ...goodOpen, holdTime: 9 } }, cfg);
    expect(r.session.negotiated).toMatchObject({ holdTime: 9, keepaliveTime: 3, peerAs: 65002 });
  });
  it("takes the peer AS from the 4-octet capability behind AS_TRANS", () => {
    const c4 = { ...cfg, peerAs: 4200000001 };
    const r = step(
      at("OpenSent"),
      { type: "BGPOpen", open: { ...goodOpen, myAs: 23456, as4: 4200000001 } },
      c4,
    );
    expect(r.session.state).toBe("OpenConfirm");
    expect(r.session.negotiated?.peerAs).toBe(4200000001);
  });
});
