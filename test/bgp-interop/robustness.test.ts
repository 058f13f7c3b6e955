// Bad input never crashes trellis-bgp: a raw-socket peer on loopback sends
// garbage and malformed messages (each gets its NOTIFICATION, the session
// restarts with growing back-off), and drops the connection in the middle of a
// large table transfer (nothing of it stays in the RIB or the kernel).
// The daemon runs on loopback; its FIB writes into a namespace of this test.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { connect, type Socket } from "node:net";
import {
  encodeMessage,
  packUpdates,
  type BgpMessage,
  type CodecOptions,
  type NotificationMessage,
} from "../../bgp/wire/index.js";
import { messageSplitter } from "../../bgp/test/message-splitter.js";
import { NetLab, TrellisDaemon, sh, sleep, until, untilAsync, stopAll } from "./netlab.js";

/** The daemon's listening port: ephemeral, read from its "started" log line. */
let PORT = 0;
const PEER = "127.0.0.2";
const OPTS: CodecOptions = { fourOctetAs: true };

class RawPeer {
  private readonly queue: BgpMessage[] = [];
  closed = false;

  private constructor(readonly sock: Socket) {
    sock.on(
      "data",
      messageSplitter(OPTS, (m) => this.queue.push(m), 65535),
    );
    sock.on("close", () => (this.closed = true));
    sock.on("error", () => (this.closed = true));
  }

  static async open(): Promise<RawPeer> {
    const sock = connect({ host: "127.0.0.1", port: PORT, localAddress: PEER });
    await new Promise<void>((resolve, reject) => {
      sock.once("connect", resolve);
      sock.once("error", reject);
    });
    return new RawPeer(sock);
  }

  async next(type: BgpMessage["type"], ms = 10000): Promise<BgpMessage> {
    return await until(
      () => {
        const i = this.queue.findIndex((m) => m.type === type);
        return i >= 0 ? this.queue.splice(i, 1)[0] : undefined;
      },
      ms,
      `${type} from trellis-bgp`,
    );
  }

  send(m: BgpMessage): void {
    this.sock.write(encodeMessage(m, OPTS));
  }

  /** OPEN (hold time 0: no keepalives needed) and KEEPALIVE, wait for theirs: Established. */
  async establish(): Promise<void> {
    await this.next("OPEN");
    this.send({
      type: "OPEN",
      version: 4,
      myAs: 65002,
      holdTime: 0,
      bgpId: "10.255.0.2",
      capabilities: [
        { kind: "multiprotocol", afi: 1, safi: 1 },
        { kind: "four-octet-as", asn: 65002 },
      ],
    });
    this.send({ type: "KEEPALIVE" });
    await this.next("KEEPALIVE");
  }
}

let lab: NetLab;
let trellis: TrellisDaemon;

beforeAll(async () => {
  lab = new NetLab("rb", []);
  // An on-link next hop inside the FIB namespace, so that kernel routes install.
  const [v0, v1] = [`${lab.prefix}v0`, `${lab.prefix}v1`];
  sh("ip", ["-n", lab.trellisNs, "link", "add", v0, "type", "veth", "peer", "name", v1]);
  sh("ip", ["-n", lab.trellisNs, "addr", "add", "10.250.0.1/24", "dev", v0]);
  sh("ip", ["-n", lab.trellisNs, "link", "set", v0, "up"]);
  sh("ip", ["-n", lab.trellisNs, "link", "set", v1, "up"]);
  trellis = new TrellisDaemon(
    lab,
    {
      asn: 65001,
      routerId: "10.255.0.1",
      listen: { address: "127.0.0.1", port: 0 },
      holdTime: 30,
      // Long enough that "still Idle" below holds on a loaded machine; grows 1.5 s, 3 s, 3 s.
      restartBackoff: { initialMs: 1500, maxMs: 3000, jitter: 0.2 },
      fib: { enabled: true, netns: lab.trellisNs },
      peers: [{ address: PEER, asn: 65002, passive: true, families: ["ipv4-unicast"] }],
    },
    true,
  );
  await trellis.start();
  PORT = Number(trellis.logLines().find((l) => l.msg === "trellis-bgp started")?.listenPort);
  expect(PORT).toBeGreaterThan(0);
}, 30000);

afterAll(() => stopAll(trellis, lab), 30000);

const state = async (): Promise<string | undefined> => (await trellis.peer(PEER))?.state;

/** A new raw connection once trellis-bgp's session is back in Active (the back-off of the last test over). */
async function connectWhenActive(timeoutMs: number, what: string): Promise<RawPeer> {
  await untilAsync(async () => (await state()) === "Active", timeoutMs, what);
  return RawPeer.open();
}

describe("trellis-bgp under bad input", () => {
  it("garbage gets NOTIFICATION 1/1; the peer's next connection is taken at once; a second failure damps it (Cease 6/5)", async () => {
    const p = await connectWhenActive(10000, "Active");
    await p.next("OPEN");
    p.sock.write(Buffer.alloc(64, 0x5a));
    const n = (await p.next("NOTIFICATION")) as NotificationMessage;
    expect([n.code, n.subcode]).toEqual([1, 1]);
    await until(() => p.closed, 5000, "connection closed by trellis-bgp");
    const s = (await trellis.peer(PEER))!;
    expect(s.lastError).toContain("sent NOTIFICATION 1/1 Message Header Error / Connection Not Synchronized");
    expect(s.connectRetryCounter).toBe(1);

    // After one failure the peer's own reconnection is welcome (it may just have restarted) …
    const q = await RawPeer.open();
    await q.next("OPEN");
    q.sock.write(Buffer.alloc(64, 0x00));
    expect(await q.next("NOTIFICATION")).toMatchObject({ code: 1, subcode: 1 });
    await until(() => q.closed, 5000, "closed again");
    expect((await trellis.peer(PEER))!.connectRetryCounter).toBe(2);

    // … but after two in a row the back-off holds: refused with Cease / Connection Rejected.
    const r = await RawPeer.open();
    const rej = (await r.next("NOTIFICATION")) as NotificationMessage;
    expect([rej.code, rej.subcode]).toEqual([6, 5]);
  });

  it("a malformed UPDATE gets its UPDATE Message Error, and the back-off grows", async () => {
    const p = await connectWhenActive(15000, "Active again after back-off");
    await p.establish();
    await untilAsync(async () => (await state()) === "Established", 5000, "Established");
    // Withdrawn Routes Length beyond the message: RFC 7606 §4 says session reset, 3/1.
    const bad = Buffer.alloc(19 + 4, 0xff);
    bad.writeUInt16BE(bad.length, 16);
    bad.writeUInt8(2, 18);
    bad.writeUInt16BE(200, 19);
    bad.writeUInt16BE(0, 21);
    p.sock.write(bad);
    const n = (await p.next("NOTIFICATION")) as NotificationMessage;
    expect([n.code, n.subcode]).toEqual([3, 1]);
    await until(() => p.closed, 5000, "closed");
    const delays = trellis
      .logLines()
      .filter((l) => l.msg === "automatic restart scheduled")
      .map((l) => [l.attempt, l.delayMs] as [number, number]);
    expect(delays.map((d) => d[0])).toEqual([1, 2, 3]);
    // 1.5 s, then 3 s (the cap) ± 10% jitter: the back-off grew.
    expect(delays[1]![1]).toBeGreaterThan(delays[0]![1]);
  });

  it("an OPEN with the wrong AS gets NOTIFICATION 2/2 (Bad Peer AS)", async () => {
    const p = await connectWhenActive(15000, "Active again");
    await p.next("OPEN");
    p.send({ type: "OPEN", version: 4, myAs: 65099, holdTime: 0, bgpId: "10.255.0.2", capabilities: [] });
    const n = (await p.next("NOTIFICATION")) as NotificationMessage;
    expect([n.code, n.subcode]).toEqual([2, 2]);
  });

  it("a connection lost during a large table transfer leaves no routes in the RIB or the kernel", async () => {
    const p = await connectWhenActive(20000, "Active again");
    await p.establish();
    const prefixes: string[] = [];
    for (let i = 0; i < 20000; i++) prefixes.push(`10.${64 + (i >> 8)}.${i & 255}.0/24`);
    const msgs = packUpdates(
      { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: "10.250.0.2" },
      prefixes,
      [],
      OPTS,
    );
    const half = Math.floor(msgs.length / 2);
    for (const m of msgs.slice(0, half)) p.sock.write(m);
    await untilAsync(
      async () => ((await trellis.peer(PEER))?.prefixes.accepted ?? 0) > 1000,
      20000,
      "part of the table accepted",
    );
    await until(() => lab.kernelRoutes().split("\n").length > 100, 20000, "part of the table in the kernel");
    // Half a message, then the connection is gone.
    const cut = msgs[half]!;
    p.sock.write(cut.subarray(0, cut.length >> 1));
    await sleep(50);
    p.sock.destroy();
    await untilAsync(
      async () => {
        const s = await trellis.peer(PEER);
        return s && s.state !== "Established" && s.prefixes.accepted === 0 && s.prefixes.received === 0
          ? s
          : undefined;
      },
      20000,
      "RIB emptied",
    );
    expect((await trellis.routes()).length).toBe(0);
    await until(() => lab.kernelRoutes().trim() === "", 30000, "kernel routes removed");
  });

  it("the daemon is still alive and answering", async () => {
    expect(trellis.proc?.exitCode).toBeNull();
    expect((await trellis.peers()).length).toBe(1);
  });
});
