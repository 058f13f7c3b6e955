import { describe, expect, it } from "@jest/globals";
import { Speaker } from "../speaker.js";
import { recordingLogger, speakersStoppedAfterEach, until } from "./support.js";

const speakers = speakersStoppedAfterEach();

/**
 * Two speakers on loopback addresses 127.0.0.1 and 127.0.0.2, on ephemeral
 * ports (so that parallel runs never collide); each learns the other's port
 * after listening, and peers are added to running speakers.
 */
async function pair(
  asA: number,
  asB: number,
  extraB: Partial<Parameters<Speaker["addPeer"]>[0]> = {},
): Promise<[Speaker, Speaker]> {
  const a = new Speaker({
    asn: asA,
    routerId: "10.0.0.1",
    listen: { address: "127.0.0.1", port: 0 },
    holdTime: 9,
  });
  const b = new Speaker({
    asn: asB,
    routerId: "10.0.0.2",
    listen: { address: "127.0.0.2", port: 0 },
    holdTime: 9,
  });
  speakers.push(a, b);
  await a.start();
  await b.start();
  a.addPeer({
    address: "127.0.0.2",
    asn: asB,
    port: b.listenPort!,
    localAddress: "127.0.0.1",
    families: ["ipv4-unicast"],
  });
  b.addPeer({
    address: "127.0.0.1",
    asn: asA,
    port: a.listenPort!,
    localAddress: "127.0.0.2",
    families: ["ipv4-unicast"],
    ...extraB,
  });
  await until(
    () => a.peerState("127.0.0.2") === "Established" && b.peerState("127.0.0.1") === "Established",
    15000,
    "Established",
  );
  return [a, b];
}

describe("Speaker over loopback", () => {
  it("establishes eBGP, carries routes with communities both ways, and withdraws them", async () => {
    const [a, b] = await pair(65001, 65002);
    const events: { prefix: string; nexthops: string[] }[] = [];
    b.on("routes", (changes) => events.push(...changes));
    a.originate("10.1.0.0/24", { communities: ["65001:100"], largeCommunities: ["65001:1:2"] });
    b.originate("10.2.0.0/24");
    await until(
      () => b.ribView.route("10.1.0.0/24") !== undefined && a.ribView.route("10.2.0.0/24") !== undefined,
    );
    const r = b.routeStatus().find((x) => x.prefix === "10.1.0.0/24")!;
    expect(r.paths[0]).toMatchObject({
      source: "127.0.0.1",
      asPath: "65001",
      nextHop: "127.0.0.1",
      communities: ["65001:100"],
      largeCommunities: ["65001:1:2"],
    });
    a.withdraw("10.1.0.0/24");
    await until(() => b.ribView.route("10.1.0.0/24") === undefined, 5000, "withdrawal");
    // The route-change events: installed via A, then removed (empty next hops).
    expect(events.filter((e) => e.prefix === "10.1.0.0/24")).toEqual([
      { prefix: "10.1.0.0/24", nexthops: ["127.0.0.1"] },
      { prefix: "10.1.0.0/24", nexthops: [] },
    ]);
    const peer = b.peerStatus()[0]!;
    expect(peer.capabilities).toEqual(
      expect.arrayContaining(["mp:ipv4-unicast", "four-octet-as", "route-refresh"]),
    );
    expect(peer.holdTime).toBe(9);
  });

  it("a stopped peer's routes go and the other side records Cease / Peer De-configured", async () => {
    const [a, b] = await pair(65001, 65002);
    a.originate("10.3.0.0/24");
    await until(() => b.ribView.route("10.3.0.0/24") !== undefined);
    a.removePeer("127.0.0.2");
    await until(() => b.ribView.route("10.3.0.0/24") === undefined, 5000, "routes of the removed peer");
    await until(() => (b.peerStatus()[0]?.lastError ?? "").includes("6/3"), 5000, "Cease 6/3");
    expect(b.peerStatus()[0]!.lastError).toContain("Peer De-configured");
  });

  it("max-prefix exceeded sends Cease / Maximum Number of Prefixes Reached", async () => {
    const [a, b] = await pair(65001, 65002, { maxPrefixes: 2 });
    for (let i = 0; i < 3; i++) a.originate(`10.4.${i}.0/24`);
    await until(() => (a.peerStatus()[0]?.lastError ?? "").includes("6/1"), 10000, "Cease 6/1 at the sender");
    expect(b.peerStatus()[0]!.lastError).toContain("sent NOTIFICATION 6/1");
  });

  it("iBGP with a 4-octet AS", async () => {
    const [a, b] = await pair(4200000001, 4200000001);
    a.originate("10.5.0.0/24");
    await until(() => b.ribView.route("10.5.0.0/24") !== undefined);
    const r = b.routeStatus().find((x) => x.prefix === "10.5.0.0/24")!;
    expect(r.paths[0]).toMatchObject({ asPath: "", localPref: 100 });
    expect(b.peerStatus()[0]).toMatchObject({ type: "ibgp", asn: 4200000001 });
  });

  it("DelayOpen (RFC 4271 §8.1.1) on one side still establishes: the OPEN is answered", async () => {
    const [a, b] = await pair(65001, 65002, { delayOpenTime: 2 });
    a.originate("10.6.0.0/24");
    await until(() => b.ribView.route("10.6.0.0/24") !== undefined);
    expect(b.peerStatus()[0]!.state).toBe("Established");
  });

  it("a peer that refuses connections is retried with growing back-off, not every second", async () => {
    const delays: number[] = [];
    const log = recordingLogger("automatic restart scheduled", "delayMs", delays);
    const sp = new Speaker({
      asn: 65001,
      routerId: "10.0.0.1",
      backoff: { minMs: 50, maxMs: 400, jitter: 0 },
      logger: log,
    });
    speakers.push(sp);
    // Nothing listens on 127.0.0.3:21839: every connect is refused.
    sp.addPeer({ address: "127.0.0.3", asn: 65002, port: 21839, families: ["ipv4-unicast"] });
    await sp.start();
    await until(() => delays.length >= 5, 10000, "five restarts");
    expect(delays.slice(0, 5)).toEqual([50, 100, 200, 400, 400]);
    expect(sp.peerStatus()[0]!.lastError).toContain("ECONNREFUSED");
  });
});
