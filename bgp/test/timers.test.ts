// Session timers on an injected clock (bgp/session/fake-clock.ts): keepalives
// at a third of the negotiated hold time, and hold timer expiry with
// NOTIFICATION 4/0, without waiting in real time.
import { afterEach, describe, expect, it } from "@jest/globals";
import { type Socket } from "node:net";
import { encodeMessage, type BgpMessage, type CodecOptions } from "../wire/index.js";
import { Speaker } from "../speaker.js";
import { FakeClock } from "../session/fake-clock.js";
import { connectRawPeer, rawOpen } from "./raw-peer.js";

const OPTS: CodecOptions = { fourOctetAs: true };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function setup(): Promise<{ clock: FakeClock; sp: Speaker; got: BgpMessage[]; sock: Socket }> {
  const clock = new FakeClock(1_000_000);
  const sp = new Speaker({
    asn: 65001,
    routerId: "10.0.0.1",
    listen: { address: "127.0.0.1", port: 0 },
    holdTime: 90,
    clock,
  });
  sp.addPeer({ address: "127.0.0.2", asn: 65002, passive: true, families: ["ipv4-unicast"] });
  await sp.start();
  const { sock, got } = await connectRawPeer(sp.listenPort!, OPTS);
  cleanup.push(async () => {
    sock.destroy();
    await sp.stop();
  });
  // Hold time 9 from our side: negotiated min(90, 9) = 9, keepalive 3.
  sock.write(
    encodeMessage(rawOpen({ holdTime: 9, capabilities: [{ kind: "four-octet-as", asn: 65002 }] }), OPTS),
  );
  sock.write(encodeMessage({ type: "KEEPALIVE" }, OPTS));
  for (let i = 0; i < 100 && sp.peerState("127.0.0.2") !== "Established"; i++) await tick();
  expect(sp.peerState("127.0.0.2")).toBe("Established");
  return { clock, sp, got, sock };
}

const count = (got: BgpMessage[], t: BgpMessage["type"]): number => got.filter((m) => m.type === t).length;

describe("session timers on an injected clock", () => {
  it("sends a KEEPALIVE every third of the negotiated hold time", async () => {
    const { clock, sp, got, sock } = await setup();
    expect(sp.peerStatus()[0]).toMatchObject({ holdTime: 9, keepaliveTime: 3 });
    await tick();
    const base = count(got, "KEEPALIVE");
    for (let i = 1; i <= 3; i++) {
      clock.advance(3000);
      // our traffic keeps its hold timer from expiring
      sock.write(encodeMessage({ type: "KEEPALIVE" }, OPTS));
      await tick();
      expect(count(got, "KEEPALIVE")).toBe(base + i);
    }
    expect(sp.peerState("127.0.0.2")).toBe("Established");
  });

  it("a silent peer hits the hold timer: NOTIFICATION 4/0 and the session goes down", async () => {
    const { clock, sp, got } = await setup();
    clock.advance(8999);
    await tick();
    expect(sp.peerState("127.0.0.2")).toBe("Established");
    clock.advance(2);
    await tick();
    expect(got.find((m) => m.type === "NOTIFICATION")).toMatchObject({ code: 4, subcode: 0 });
    expect(sp.peerState("127.0.0.2")).not.toBe("Established");
    expect(sp.peerStatus()[0]!.lastError).toContain("sent NOTIFICATION 4/0 Hold Timer Expired");
  });
});
