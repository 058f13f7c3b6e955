// RFC 5880 session state machine, one row per transition of §6.2 and rule of
// §6.8.6 (reception), §6.8.4 (Detection Time), §6.8.3 (Poll Sequence),
// §6.8.16 (administrative control), each named after its rule.
import { describe, expect, it } from "@jest/globals";
import {
  SLOW_TX,
  controlPacket,
  detectTime,
  initialSession,
  step,
  txInterval,
  type BfdAction,
  type BfdConfig,
  type BfdEvent,
  type BfdSession,
} from "../fsm.js";
import { DIAG, type BfdState, type ControlPacket } from "../packet.js";
import { expectActions, type ActionExpectation } from "../../test/fsm-rows.js";

const cfg: BfdConfig = { desiredMinTx: 100_000, requiredMinRx: 100_000, detectMult: 3 };
const LOCAL = 0x1111;
const REMOTE = 0x2222;

function at(state: BfdState, extra: Partial<BfdSession> = {}): BfdSession {
  const s = initialSession(LOCAL, cfg);
  const up = state === "Up";
  return {
    ...s,
    state,
    remoteDisc: state === "Down" ? 0 : REMOTE,
    advTx: up ? cfg.desiredMinTx : SLOW_TX,
    useTx: up ? cfg.desiredMinTx : SLOW_TX,
    remoteMinRx: 100_000,
    remoteMinTx: up ? 100_000 : SLOW_TX,
    remoteDetectMult: 3,
    ...extra,
  };
}

function pkt(state: BfdState, extra: Partial<ControlPacket> = {}): ControlPacket {
  return {
    diag: 0,
    state,
    poll: false,
    final: false,
    cpi: false,
    demand: false,
    detectMult: 3,
    myDisc: REMOTE,
    yourDisc: state === "Down" ? 0 : LOCAL,
    desiredMinTx: SLOW_TX,
    requiredMinRx: 100_000,
    requiredMinEchoRx: 0,
    ...extra,
  };
}

function show(actions: BfdAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case "send":
        return a.final ? "send(F)" : "send";
      case "setTx":
        return `tx(${a.us})`;
      case "restartDetect":
        return `detect(${a.us})`;
      case "stateChange":
        return `${a.from}->${a.to}(${a.diag})`;
      case "discard":
        return `discard(${a.reason})`;
    }
  });
}

interface Row extends ActionExpectation {
  rule: string;
  from: BfdSession;
  event: BfdEvent;
  to: BfdState;
  diag?: number;
}

const recv = (state: BfdState, extra: Partial<ControlPacket> = {}): BfdEvent => ({
  type: "Recv",
  packet: pkt(state, extra),
});

const ROWS: Row[] = [
  // §6.2 / §6.8.6 state machine
  {
    rule: "§6.8.6 Down + remote Down -> Init",
    from: at("Down"),
    event: recv("Down"),
    to: "Init",
    does: ["Down->Init(0)", "send"],
  },
  {
    rule: "§6.8.6 Down + remote Init -> Up",
    from: at("Down"),
    event: recv("Init", { yourDisc: LOCAL }),
    to: "Up",
    does: ["Down->Up(0)", "send"],
  },
  {
    rule: "§6.2 Down + remote Up: stays Down (the peer must see us first)",
    from: at("Down"),
    event: recv("Up", { yourDisc: LOCAL }),
    to: "Down",
    not: ["Down->Up(0)"],
  },
  {
    rule: "§6.8.6 Init + remote Init -> Up",
    from: at("Init"),
    event: recv("Init"),
    to: "Up",
    does: ["Init->Up(0)"],
  },
  {
    rule: "§6.8.6 Init + remote Up -> Up",
    from: at("Init"),
    event: recv("Up"),
    to: "Up",
    does: ["Init->Up(0)"],
  },
  {
    rule: "§6.2 Init + remote Down: stays Init",
    from: at("Init"),
    event: recv("Down", { yourDisc: LOCAL }),
    to: "Init",
    not: ["send"],
  },
  {
    rule: "§6.8.6 Up + remote Down -> Down, diag Neighbor Signaled Session Down",
    from: at("Up"),
    event: recv("Down", { yourDisc: LOCAL }),
    to: "Down",
    diag: DIAG.neighborSignaledDown,
    does: ["Up->Down(3)", "send"],
  },
  {
    rule: "§6.2 Up + remote Init or Up: stays Up",
    from: at("Up"),
    event: recv("Up", { desiredMinTx: 100_000 }),
    to: "Up",
    does: ["detect(300000)"],
    not: ["send"],
  },
  {
    rule: "§6.8.6 remote AdminDown while Up -> Down, diag 3",
    from: at("Up"),
    event: recv("AdminDown"),
    to: "Down",
    diag: 3,
    does: ["Up->Down(3)"],
  },
  {
    rule: "§6.8.6 remote AdminDown while Init -> Down, diag 3",
    from: at("Init"),
    event: recv("AdminDown"),
    to: "Down",
    diag: 3,
  },
  {
    rule: "§6.8.6 remote AdminDown while Down: stays Down",
    from: at("Down"),
    event: recv("AdminDown", { yourDisc: 0 }),
    to: "Down",
    not: ["Down->Down(3)"],
  },
  // §6.8.6 discriminator checks
  {
    rule: "§6.8.6 Your Discriminator not ours: discard",
    from: at("Up"),
    event: recv("Up", { yourDisc: 0x9999 }),
    to: "Up",
    does: ["discard(your-disc-mismatch)"],
    not: ["detect(300000)"],
  },
  {
    rule: "§6.8.6 Your Discriminator zero while Init or Up: discard",
    from: at("Up"),
    event: recv("Down", { yourDisc: 0 }),
    to: "Up",
    does: ["discard(your-disc-zero)"],
  },
  {
    rule: "§6.8.6 Your Discriminator zero while Down: accepted",
    from: at("Down"),
    event: recv("Down", { yourDisc: 0 }),
    to: "Init",
  },
  {
    rule: "§6.8.6 while AdminDown: discard (after noting the peer)",
    from: at("AdminDown", { diag: 7 }),
    event: recv("Up"),
    to: "AdminDown",
    does: ["discard(admin-down)"],
  },
  // §6.8.4 Detection Time
  {
    rule: "§6.8.4 Detection Time expires while Up -> Down, diag Control Detection Time Expired",
    from: at("Up"),
    event: { type: "DetectTimerExpired" },
    to: "Down",
    diag: DIAG.controlDetectionTimeExpired,
    does: ["Up->Down(1)", "send"],
  },
  {
    rule: "§6.8.4 Detection Time expires while Init -> Down, diag 1",
    from: at("Init"),
    event: { type: "DetectTimerExpired" },
    to: "Down",
    diag: 1,
  },
  {
    rule: "§6.8.4 Detection Time expires while Down: stays Down",
    from: at("Down", { remoteDisc: REMOTE }),
    event: { type: "DetectTimerExpired" },
    to: "Down",
    not: ["send"],
  },
  // §6.8.16 administrative control
  {
    rule: "§6.8.16 AdminDown from any state, diag Administratively Down",
    from: at("Up"),
    event: { type: "AdminDown" },
    to: "AdminDown",
    diag: DIAG.adminDown,
    does: ["Up->AdminDown(7)", "send"],
  },
  {
    rule: "§6.8.16 AdminUp -> Down",
    from: at("AdminDown", { diag: 7 }),
    event: { type: "AdminUp" },
    to: "Down",
    diag: 0,
    does: ["AdminDown->Down(0)"],
  },
  {
    rule: "AdminUp when not AdminDown: nothing",
    from: at("Up"),
    event: { type: "AdminUp" },
    to: "Up",
    not: ["send"],
  },
  // §6.8.7 Poll and Final
  {
    rule: "§6.8.7 a Poll is answered at once with Final",
    from: at("Up"),
    event: recv("Up", { poll: true }),
    to: "Up",
    does: ["send(F)"],
  },
];

describe("BFD session state machine (RFC 5880)", () => {
  for (const r of ROWS) {
    it(r.rule, () => {
      const { session, actions } = step(r.from, r.event, cfg);
      expect(session.state).toBe(r.to);
      if (r.diag !== undefined) expect(session.diag).toBe(r.diag);
      expectActions(show(actions), r);
    });
  }

  it("§6.8.1 a new session is Down, sends at 1 s, RemoteMinRxInterval 1 µs", () => {
    const s = initialSession(LOCAL, cfg);
    expect(s).toMatchObject({ state: "Down", remoteDisc: 0, advTx: SLOW_TX, remoteMinRx: 1 });
    expect(txInterval(s)).toBe(SLOW_TX);
  });

  it("§6.8.3 Up starts a Poll Sequence for the fast interval; Final ends it", () => {
    const s1 = step(at("Init"), recv("Up"), cfg).session;
    expect(s1).toMatchObject({ state: "Up", advTx: 100_000, poll: true });
    expect(controlPacket(s1, cfg)).toMatchObject({ poll: true, final: false, desiredMinTx: 100_000 });
    // a faster TX applies at once (§6.8.3 only holds back an increase)
    expect(s1.useTx).toBe(100_000);
    const s2 = step(s1, recv("Up", { final: true, desiredMinTx: 100_000 }), cfg).session;
    expect(s2.poll).toBe(false);
    expect(controlPacket(s2, cfg).poll).toBe(false);
  });

  it("§6.8.3 a slower TX while Up waits for the Final; the Poll goes out at once", () => {
    const slow: BfdConfig = { ...cfg, desiredMinTx: 300_000 };
    const r = step(at("Up"), { type: "ConfigChange" }, slow);
    expect(r.session).toMatchObject({ advTx: 300_000, useTx: 100_000, poll: true });
    expect(show(r.actions)).toContain("send");
    const done = step(r.session, recv("Up", { final: true, desiredMinTx: 100_000 }), slow);
    expect(done.session).toMatchObject({ useTx: 300_000, poll: false });
    expect(show(done.actions)).toContain("tx(300000)");
  });

  it("§6.8.3 a faster RX while Up keeps the old Detection Time until the Final", () => {
    const fast: BfdConfig = { ...cfg, requiredMinRx: 50_000 };
    const s = step(at("Up"), { type: "ConfigChange" }, fast).session;
    expect(s).toMatchObject({ advRx: 50_000, useRx: 100_000, poll: true });
    expect(detectTime({ ...s, remoteMinTx: 50_000 })).toBe(300_000);
    const done = step(s, recv("Up", { final: true, desiredMinTx: 50_000 }), fast).session;
    expect(detectTime(done)).toBe(150_000);
  });

  it("§6.8.3 leaving Up slows TX back to 1 s at once", () => {
    const r = step(at("Up"), { type: "DetectTimerExpired" }, cfg);
    expect(r.session).toMatchObject({ advTx: SLOW_TX, useTx: SLOW_TX, poll: false });
  });

  it("§6.8.2 transmit interval: the larger of our Desired Min TX and the peer's Required Min RX", () => {
    expect(txInterval(at("Up", { remoteMinRx: 300_000 }))).toBe(300_000);
    expect(txInterval(at("Up", { remoteMinRx: 50_000 }))).toBe(100_000);
  });

  it("§6.8.7 a peer asking Required Min RX 0 gets no periodic packets", () => {
    expect(txInterval(at("Up", { remoteMinRx: 0 }))).toBe(0);
  });

  it("§6.8.4 Detection Time: the peer's Detect Mult times max(our Required Min RX, its Desired Min TX)", () => {
    expect(detectTime(at("Up", { remoteDetectMult: 5, remoteMinTx: 200_000 }))).toBe(1_000_000);
    expect(detectTime(at("Up", { remoteDetectMult: 3, remoteMinTx: 10_000 }))).toBe(300_000);
  });

  it("§6.8.1 Detection Time expiry zeroes bfd.RemoteDiscr", () => {
    expect(step(at("Up"), { type: "DetectTimerExpired" }, cfg).session.remoteDisc).toBe(0);
  });

  it("§6.8.6 a received packet sets the remote discriminator and intervals, and restarts the Detection Time", () => {
    const r = step(at("Down"), recv("Down", { desiredMinTx: 2_000_000, detectMult: 4 }), cfg);
    expect(r.session).toMatchObject({ remoteDisc: REMOTE, remoteMinTx: 2_000_000, remoteDetectMult: 4 });
    expect(show(r.actions)).toContain("detect(8000000)");
  });

  it("§6.8.7 a packet with F never carries P", () => {
    expect(controlPacket(at("Up", { poll: true }), cfg, true)).toMatchObject({ poll: false, final: true });
  });

  it("two sessions fed each other's packets come Up, then Down when one goes AdminDown", () => {
    const ca: BfdConfig = cfg;
    let a = initialSession(1, ca);
    let b = initialSession(2, ca);
    for (let i = 0; i < 4; i++) {
      b = step(b, { type: "Recv", packet: controlPacket(a, ca) }, ca).session;
      a = step(a, { type: "Recv", packet: controlPacket(b, ca) }, ca).session;
    }
    expect([a.state, b.state]).toEqual(["Up", "Up"]);
    a = step(a, { type: "AdminDown" }, ca).session;
    b = step(b, { type: "Recv", packet: controlPacket(a, ca) }, ca).session;
    expect([a.state, b.state, b.diag]).toEqual(["AdminDown", "Down", DIAG.neighborSignaledDown]);
  });
});
