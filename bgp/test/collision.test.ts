// RFC 4271 §6.8 connection collision, end to end over loopback: trellis's own
// connection and the peer's connection both reach OPEN; the one initiated by
// the side with the higher BGP Identifier survives, the other gets Cease 6/7.
import { afterEach, describe, expect, it } from "@jest/globals";
import { connect, createServer, type Server, type Socket } from "node:net";
import { decodeMessage, encodeMessage, frame, type BgpMessage, type CodecOptions } from "../wire/index.js";
import { Speaker } from "../speaker.js";

const OPTS: CodecOptions = { fourOctetAs: true };

class Wire {
  private buf = Buffer.alloc(0);
  readonly got: BgpMessage[] = [];
  constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const f = frame(this.buf, 0);
        if (!f) break;
        this.got.push(decodeMessage(this.buf.subarray(0, f.length), OPTS));
        this.buf = this.buf.subarray(f.length);
      }
    });
    sock.on("error", () => undefined);
  }
  async next(type: BgpMessage["type"]): Promise<BgpMessage> {
    const end = Date.now() + 5000;
    for (;;) {
      const i = this.got.findIndex((m) => m.type === type);
      if (i >= 0) return this.got.splice(i, 1)[0]!;
      if (Date.now() > end) throw new Error(`no ${type}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  open(bgpId: string): void {
    this.sock.write(
      encodeMessage(
        {
          type: "OPEN",
          version: 4,
          myAs: 65002,
          holdTime: 0,
          bgpId,
          capabilities: [{ kind: "four-octet-as", asn: 65002 }],
        },
        OPTS,
      ),
    );
  }
  keepalive(): void {
    this.sock.write(encodeMessage({ type: "KEEPALIVE" }, OPTS));
  }
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

/**
 * Both connections up and both OPENs sent by trellis. `first`: which connection
 * gets the peer's OPEN first. "outbound-confirmed": trellis's own connection
 * reaches OpenConfirm before the peer's connection even exists (RFC 4271 §6.8
 * proper); "early": the OPEN on trellis's connection arrives while the second
 * connection waits in OpenSent (we know the peer's Identifier from it already).
 */
async function collide(
  remoteId: string,
  order: "outbound-confirmed" | "early",
): Promise<{ out: Wire; inb: Wire; sp: Speaker }> {
  const accepted: Socket[] = [];
  const server: Server = createServer((s) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.2", r));
  const peerPort = (server.address() as { port: number }).port;
  const sp = new Speaker({ asn: 65001, routerId: "10.0.0.5", listen: { address: "127.0.0.1", port: 0 } });
  sp.addPeer({
    address: "127.0.0.2",
    asn: 65002,
    port: peerPort,
    localAddress: "127.0.0.1",
    families: ["ipv4-unicast"],
  });
  cleanup.push(async () => {
    await sp.stop();
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
  });
  await sp.start();
  const t0 = Date.now();
  while (accepted.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  const out = new Wire(accepted[0]!);
  await out.next("OPEN");
  if (order === "outbound-confirmed") {
    out.open(remoteId);
    await out.next("KEEPALIVE"); // trellis's connection is in OpenConfirm
  }
  const s = connect({ host: "127.0.0.1", port: sp.listenPort!, localAddress: "127.0.0.2" });
  cleanup.push(async () => void s.destroy());
  const inb = new Wire(s);
  await inb.next("OPEN");
  if (order === "early") out.open(remoteId);
  else inb.open(remoteId);
  return { out, inb, sp };
}

const established = async (sp: Speaker): Promise<void> => {
  const end = Date.now() + 5000;
  while (sp.peerState("127.0.0.2") !== "Established") {
    if (Date.now() > end) throw new Error(`state ${sp.peerState("127.0.0.2")}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("connection collision (RFC 4271 §6.8)", () => {
  // Per case: which connection loses and gets Cease 6/7 (RFC 4271 §6.8: the one
  // opened by the speaker with the lower BGP Identifier); the other one finishes
  // its handshake and the session is Established on it.
  it.each([
    [
      "trellis's connection in OpenConfirm, the peer has the higher Identifier: trellis's connection gets Cease 6/7",
      "10.0.0.9",
      "outbound-confirmed",
      "out",
    ],
    [
      "trellis's connection in OpenConfirm, trellis has the higher Identifier: the peer's connection gets Cease 6/7",
      "10.0.0.1",
      "outbound-confirmed",
      "inb",
    ],
    [
      "early resolution on the first OPEN, the peer has the higher Identifier: the peer's connection carries on",
      "10.0.0.9",
      "early",
      "out",
    ],
    [
      "early resolution on the first OPEN, trellis has the higher Identifier: trellis's connection carries on",
      "10.0.0.1",
      "early",
      "inb",
    ],
  ] as const)("%s", async (_rule, remoteId, order, loser) => {
    const { out, inb, sp } = await collide(remoteId, order);
    const [lost, won] = loser === "out" ? [out, inb] : [inb, out];
    expect(await lost.next("NOTIFICATION")).toMatchObject({ code: 6, subcode: 7 });
    // The peer's connection got no OPEN from the peer yet when the early resolution closed ours.
    if (order === "early" && won === inb) inb.open(remoteId);
    // Trellis's KEEPALIVE on its own connection came already in OpenConfirm.
    if (!(order === "outbound-confirmed" && won === out)) await won.next("KEEPALIVE");
    won.keepalive();
    await established(sp);
    expect(won.got.some((m) => m.type === "NOTIFICATION")).toBe(false);
  });
});
