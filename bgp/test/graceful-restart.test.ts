// RFC 4724 receiving speaker, in-process against a raw peer on loopback:
// routes of a peer that drops the TCP session are kept as stale until its
// End-of-RIB (which sweeps what it did not re-send) or its Restart Time.
import { afterEach, describe, expect, it } from "@jest/globals";
import { type Socket } from "node:net";
import { encodeMessage, endOfRib, packUpdates, type BgpMessage, type CodecOptions } from "../wire/index.js";
import { Speaker } from "../speaker.js";
import { connectRawPeer, rawOpen, until } from "./raw-peer.js";

const OPTS: CodecOptions = { fourOctetAs: true, families: [{ afi: 1, safi: 1 }] };
const speakers: Speaker[] = [];
const socks: Socket[] = [];
afterEach(async () => {
  for (const s of socks.splice(0)) s.destroy();
  for (const s of speakers.splice(0)) await s.stop();
});

/** A peer with the graceful restart capability (restart time `rt`), Established. */
async function grPeer(
  port: number,
  rt: number,
  restarting: boolean,
): Promise<{ sock: Socket; got: BgpMessage[] }> {
  const { sock, got } = await connectRawPeer(port, OPTS);
  socks.push(sock);
  sock.write(
    encodeMessage(
      rawOpen({
        capabilities: [
          { kind: "multiprotocol", afi: 1, safi: 1 },
          { kind: "four-octet-as", asn: 65002 },
          {
            kind: "graceful-restart",
            restarting,
            notification: false,
            restartTime: rt,
            families: [{ afi: 1, safi: 1, forwarding: true }],
          },
        ],
      }),
      OPTS,
    ),
  );
  sock.write(encodeMessage({ type: "KEEPALIVE" }, OPTS));
  await until(() => got.some((m) => m.type === "KEEPALIVE"), "KEEPALIVE");
  return { sock, got };
}

function announce(sock: Socket, prefixes: string[]): void {
  for (const m of packUpdates(
    { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: "127.0.0.2" },
    prefixes,
    [],
    OPTS,
  )) {
    sock.write(m);
  }
}

async function speaker(maxRestartTime?: number): Promise<Speaker> {
  const sp = new Speaker({
    asn: 65001,
    routerId: "10.0.0.1",
    listen: { address: "127.0.0.1", port: 0 },
    gracefulRestart: { enabled: true, restartTime: 60 },
  });
  sp.addPeer({
    address: "127.0.0.2",
    asn: 65002,
    passive: true,
    families: ["ipv4-unicast"],
    ...(maxRestartTime !== undefined ? { maxRestartTime } : {}),
  });
  speakers.push(sp);
  await sp.start();
  return sp;
}

const stale = (sp: Speaker, p: string): boolean | undefined => sp.ribView.route(p)?.paths[0]?.stale;

describe("graceful restart, receiving speaker (RFC 4724 §4.2)", () => {
  it("a lost TCP session keeps the routes stale; End-of-RIB after the restart sweeps what was not re-sent", async () => {
    const sp = await speaker();
    const a = await grPeer(sp.listenPort!, 30, false);
    announce(a.sock, ["10.9.0.0/24", "10.9.1.0/24"]);
    await until(() => sp.ribView.route("10.9.1.0/24") !== undefined, "routes");
    a.sock.destroy();
    await until(() => stale(sp, "10.9.0.0/24") === true && stale(sp, "10.9.1.0/24") === true, "stale routes");
    expect(sp.peerStatus()[0]!.prefixes.stale).toBe(2);

    await until(() => sp.peerState("127.0.0.2") === "Active", "Active again");
    const b = await grPeer(sp.listenPort!, 30, true);
    announce(b.sock, ["10.9.0.0/24"]);
    await until(() => stale(sp, "10.9.0.0/24") === false, "re-sent route no longer stale");
    expect(stale(sp, "10.9.1.0/24")).toBe(true);
    b.sock.write(encodeMessage(endOfRib({ afi: 1, safi: 1 }), OPTS));
    await until(() => sp.ribView.route("10.9.1.0/24") === undefined, "End-of-RIB sweep");
    expect(sp.ribView.route("10.9.0.0/24")).toBeDefined();
    // We send End-of-RIB after our initial table too.
    await until(
      () => b.got.some((m) => m.type === "UPDATE" && m.nlri.length === 0 && m.withdrawn.length === 0),
      "our EoR",
    );
  });

  it("a peer that does not come back within its Restart Time loses its stale routes", async () => {
    const sp = await speaker();
    const a = await grPeer(sp.listenPort!, 1, false);
    announce(a.sock, ["10.9.2.0/24"]);
    await until(() => sp.ribView.route("10.9.2.0/24") !== undefined, "route");
    a.sock.destroy();
    await until(() => stale(sp, "10.9.2.0/24") === true, "stale");
    await until(() => sp.ribView.route("10.9.2.0/24") === undefined, "restart timer sweep", 5000);
  });

  it("maxRestartTime caps the Restart Time the peer advertised: its stale routes go after the cap", async () => {
    const sp = await speaker(1);
    const a = await grPeer(sp.listenPort!, 300, false);
    announce(a.sock, ["10.9.6.0/24"]);
    await until(() => sp.ribView.route("10.9.6.0/24") !== undefined, "route");
    a.sock.destroy();
    await until(() => stale(sp, "10.9.6.0/24") === true, "stale");
    const t0 = Date.now();
    await until(
      () => sp.ribView.route("10.9.6.0/24") === undefined,
      "swept at the cap, not after 300 s",
      5000,
    );
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("a NOTIFICATION is not a graceful restart: the routes go at once", async () => {
    const sp = await speaker();
    const a = await grPeer(sp.listenPort!, 30, false);
    announce(a.sock, ["10.9.3.0/24"]);
    await until(() => sp.ribView.route("10.9.3.0/24") !== undefined, "route");
    a.sock.end(encodeMessage({ type: "NOTIFICATION", code: 6, subcode: 2, data: Buffer.alloc(0) }, OPTS));
    await until(() => sp.ribView.route("10.9.3.0/24") === undefined, "routes withdrawn");
  });

  it("a new connection from the peer while its old session is still Established is its restart: old session closed, routes stale until EoR", async () => {
    const sp = await speaker();
    const a = await grPeer(sp.listenPort!, 30, false);
    announce(a.sock, ["10.9.4.0/24", "10.9.5.0/24"]);
    await until(() => sp.ribView.route("10.9.5.0/24") !== undefined, "routes");
    let oldClosed = false;
    a.sock.on("close", () => (oldClosed = true));
    // The old socket stays open from our side: trellis cannot see the restart on it.
    const b = await grPeer(sp.listenPort!, 30, true);
    await until(() => oldClosed, "old session closed by trellis");
    expect(stale(sp, "10.9.4.0/24")).toBe(true);
    expect(sp.peerState("127.0.0.2")).toBe("Established");
    announce(b.sock, ["10.9.4.0/24"]);
    b.sock.write(encodeMessage(endOfRib({ afi: 1, safi: 1 }), OPTS));
    await until(() => sp.ribView.route("10.9.5.0/24") === undefined, "EoR sweep");
    expect(stale(sp, "10.9.4.0/24")).toBe(false);
  });
});

describe("graceful restart, restarting speaker (RFC 4724 §4.2, our side)", () => {
  /** The peer's view of our stop: the NOTIFICATIONs it got, once its socket closed. */
  async function stopSeenBy(restart: boolean, peerHasGr: boolean): Promise<BgpMessage[]> {
    const sp = await speaker();
    const a = peerHasGr
      ? await grPeer(sp.listenPort!, 30, false)
      : await (async () => {
          const p = await connectRawPeer(sp.listenPort!, OPTS);
          socks.push(p.sock);
          p.sock.write(encodeMessage(rawOpen({}), OPTS));
          p.sock.write(encodeMessage({ type: "KEEPALIVE" }, OPTS));
          await until(() => p.got.some((m) => m.type === "KEEPALIVE"), "KEEPALIVE");
          return p;
        })();
    const closed = new Promise<void>((r) => a.sock.once("close", () => r()));
    speakers.splice(speakers.indexOf(sp), 1);
    await sp.stop(undefined, { restart });
    await closed;
    return a.got.filter((m) => m.type === "NOTIFICATION");
  }

  it("a stop for restart closes a graceful-restart session without a NOTIFICATION, so the peer keeps our routes", async () => {
    expect(await stopSeenBy(true, true)).toEqual([]);
  });

  it("a plain stop sends Cease / Administrative Shutdown (RFC 4486 subcode 2)", async () => {
    expect(await stopSeenBy(false, true)).toEqual([expect.objectContaining({ code: 6, subcode: 2 })]);
  });

  it("a peer without the capability gets the Cease even on a stop for restart: it would not keep the routes", async () => {
    expect(await stopSeenBy(true, false)).toEqual([expect.objectContaining({ code: 6, subcode: 2 })]);
  });
});
