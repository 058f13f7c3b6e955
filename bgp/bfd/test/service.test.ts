// The BFD adapter on loopback: two services (127.0.0.1 and 127.0.0.2 on one
// test port) bring a session Up, detect a silent peer within the Detection
// Time, and drop hostile datagrams (TTL < 255, malformed, unknown session)
// with a count, never a crash.
import { afterEach, describe, expect, it } from "@jest/globals";
import { BfdService } from "../service.js";
import { sockopt } from "../../../net/sockopt/sockopt.js";
import { encodeControl } from "../packet.js";

const open: BfdService[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function until(f: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Two services on one free port, 127.0.0.1 and 127.0.0.2. */
function pair(): [BfdService, BfdService, number] {
  const a = BfdService.open({ address: "127.0.0.1", port: 0 });
  open.push(a);
  const port = a.port;
  const b = BfdService.open({ address: "127.0.0.2", port });
  open.push(b);
  return [a, b, port];
}

describe("BFD service (RFC 5881) on loopback", () => {
  it("a session comes Up on both sides with 50 ms x 3", async () => {
    const [a, b, port] = pair();
    const t = { minTxMs: 50, minRxMs: 50, multiplier: 3, port };
    a.add({ peer: "127.0.0.2", local: "127.0.0.1", ...t });
    b.add({ peer: "127.0.0.1", local: "127.0.0.2", ...t });
    await until(() => a.state("127.0.0.2") === "Up" && b.state("127.0.0.1") === "Up", 5000, "Up");
    // the Poll Sequence brings the fast interval into force (§6.8.3)
    await until(
      () => a.status()[0]!.txIntervalMs === 50 && a.status()[0]!.detectTimeMs === 150,
      3000,
      "50 ms",
    );
    expect(a.dropped).toEqual({});
  });

  it("a silent peer is declared down after the Detection Time (diag Control Detection Time Expired)", async () => {
    const [a, b, port] = pair();
    const t = { minTxMs: 50, minRxMs: 50, multiplier: 3, port };
    a.add({ peer: "127.0.0.2", local: "127.0.0.1", ...t });
    b.add({ peer: "127.0.0.1", local: "127.0.0.2", ...t });
    await until(
      () => a.state("127.0.0.2") === "Up" && a.status()[0]!.detectTimeMs === 150,
      5000,
      "Up at 50 ms",
    );
    const downs: string[] = [];
    a.on("state", (_p, from, to, diag) => downs.push(`${from}->${to}: ${diag}`));
    // b stops without a word: close its sockets under it (no AdminDown)
    const t0 = Date.now();
    open.splice(open.indexOf(b), 1);
    silence(b);
    await until(() => downs.length > 0, 2000, "Down");
    const took = Date.now() - t0;
    expect(downs[0]).toBe("Up->Down: Control Detection Time Expired");
    expect(took).toBeLessThan(600);
  });

  it("an AdminDown peer takes the session Down with Neighbor Signaled Session Down", async () => {
    const [a, b, port] = pair();
    const t = { minTxMs: 50, minRxMs: 50, multiplier: 3, port };
    a.add({ peer: "127.0.0.2", local: "127.0.0.1", ...t });
    b.add({ peer: "127.0.0.1", local: "127.0.0.2", ...t });
    await until(() => a.state("127.0.0.2") === "Up", 5000, "Up");
    const downs: string[] = [];
    a.on("state", (_p, from, to, diag) => downs.push(`${from}->${to}: ${diag}`));
    b.remove("127.0.0.1");
    await until(() => downs.length > 0, 2000, "Down");
    expect(downs[0]).toBe("Up->Down: Neighbor Signaled Session Down");
  });

  it("hostile input: TTL < 255, malformed packets and unknown sessions are dropped and counted", async () => {
    const a = BfdService.open({ address: "127.0.0.1", port: 0 });
    open.push(a);
    a.add({ peer: "127.0.0.2", local: "127.0.0.1", port: a.port + 1 });
    const x = sockopt();
    const fd = x.udpSocket(4);
    try {
      x.bind(fd, "127.0.0.2", 0);
      const good = encodeControl({
        diag: 0,
        state: "Down",
        poll: false,
        final: false,
        cpi: false,
        demand: false,
        detectMult: 3,
        myDisc: 7,
        yourDisc: 0,
        desiredMinTx: 1_000_000,
        requiredMinRx: 1_000_000,
        requiredMinEchoRx: 0,
      });
      x.setTtl(fd, 64);
      x.sendTo(fd, good, "127.0.0.1", a.port); // TTL 64: dropped (RFC 5881 §5)
      x.setTtl(fd, 255);
      x.sendTo(fd, Buffer.from("garbage"), "127.0.0.1", a.port); // short
      x.sendTo(fd, Buffer.alloc(24), "127.0.0.1", a.port); // version 0
      const noSession = Buffer.from(good);
      noSession.writeUInt32BE(0x4242, 8); // Your Discriminator of no session
      x.sendTo(fd, noSession, "127.0.0.1", a.port);
      for (let i = 0; i < 200; i++) {
        const junk = Buffer.alloc(24 + (i % 40));
        for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 7) & 0xff;
        junk[0] = 0x20; // version 1, so most reach the deeper checks
        x.sendTo(fd, junk, "127.0.0.1", a.port);
      }
      await until(() => a.received >= 204, 3000, "all datagrams read");
      expect(a.dropped.ttl).toBe(1);
      expect(a.dropped.short).toBe(1);
      expect(a.dropped.version).toBe(1);
      expect(a.dropped["no-session"] ?? 0).toBeGreaterThanOrEqual(1);
      // the session never moved on hostile input (the TTL-64 packet would have made it Init)
      expect(a.state("127.0.0.2")).toBe("Down");
      // then a well-formed packet with TTL 255 is taken
      x.sendTo(fd, good, "127.0.0.1", a.port);
      await until(() => a.state("127.0.0.2") === "Init", 2000, "Init");
    } finally {
      x.closeFd(fd);
    }
  });
});

/** Stop a service's timers and sockets without sending AdminDown: the peer just goes silent. */
function silence(s: BfdService): void {
  const inner = s as unknown as {
    byPeer: Map<string, { txTimer?: NodeJS.Timeout | undefined; detectTimer?: NodeJS.Timeout | undefined }>;
  };
  for (const e of inner.byPeer.values()) {
    if (e.txTimer) clearTimeout(e.txTimer);
    if (e.detectTimer) clearTimeout(e.detectTimer);
    e.txTimer = undefined;
    e.detectTimer = undefined;
  }
  inner.byPeer.clear();
  s.close();
}
