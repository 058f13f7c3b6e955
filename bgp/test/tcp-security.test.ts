// Per-peer `password` (RFC 2385 TCP MD5) and `ttlSecurity` (RFC 5082 GTSM):
// the config fields, the reload diff, and two speakers on loopback.
import { describe, expect, it } from "@jest/globals";
import { diffConfig, parseConfig } from "../config.js";
import { configProblems, speakersStoppedAfterEach, until } from "./support.js";
import { Speaker, type SpeakerPeerOptions } from "../speaker.js";
import { gtsmMinTtl, silentAfterConnectText, tcpSecurity, unansweredText } from "../session/tcp-security.js";

const peer = (extra: string): string =>
  `asn: 65001\nrouterId: 192.0.2.1\npeers:\n  - { address: 192.0.2.2, asn: 65002${extra} }\n`;

const speakers = speakersStoppedAfterEach();

describe("config: password and ttlSecurity", () => {
  it("password: 1..80 bytes of UTF-8", () => {
    expect(parseConfig(peer(", password: s3cret")).peers[0]!.password).toBe("s3cret");
    expect(configProblems(peer(', password: ""'))).toEqual(["peers[0].password: must be 1..80 bytes"]);
    expect(configProblems(peer(`, password: ${"x".repeat(81)}`))).toEqual([
      "peers[0].password: must be 1..80 bytes",
    ]);
    // 27 three-byte characters are 81 bytes
    expect(configProblems(peer(`, password: ${"€".repeat(27)}`))).toEqual([
      "peers[0].password: must be 1..80 bytes",
    ]);
  });

  it("ttlSecurity: a number of hops 1..254", () => {
    expect(parseConfig(peer(", ttlSecurity: 1")).peers[0]!.ttlSecurity).toBe(1);
    for (const bad of ["0", "255", "1.5", "true"])
      expect(configProblems(peer(`, ttlSecurity: ${bad}`))).toEqual([
        "peers[0].ttlSecurity: must be a number of hops 1..254",
      ]);
  });

  it("a reload that changes either is a change of the peer (the speaker resets its session)", () => {
    const a = parseConfig(peer(", password: one"));
    expect(diffConfig(a, parseConfig(peer(", password: two"))).changePeers).toHaveLength(1);
    expect(diffConfig(a, parseConfig(peer(""))).changePeers).toHaveLength(1);
    expect(diffConfig(a, parseConfig(peer(", password: one, ttlSecurity: 1"))).changePeers).toHaveLength(1);
    expect(diffConfig(a, parseConfig(peer(", password: one"))).changePeers).toHaveLength(0);
  });
});

describe("config: bfd", () => {
  it("true, or intervals in ms and a multiplier (defaults 300 / 300 / 3)", () => {
    expect(parseConfig(peer(", bfd: true")).peers[0]!.bfd).toBe(true);
    expect(parseConfig(peer(", bfd: { minTxMs: 100, minRxMs: 100 }")).peers[0]!.bfd).toEqual({
      minTxMs: 100,
      minRxMs: 100,
      multiplier: 3,
    });
    expect(configProblems(peer(", bfd: { minTxMs: 5 }"))).toEqual([
      "peers[0].bfd.minTxMs: must be 10..60000 ms",
    ]);
    expect(configProblems(peer(", bfd: { multiplier: 0 }"))).toEqual([
      "peers[0].bfd.multiplier: must be 1..255",
    ]);
  });
});

describe("RFC 5082 GTSM and RFC 2385 options", () => {
  it("GTSM sends with TTL 255 and accepts 256 - hops and above (§3)", () => {
    expect(gtsmMinTtl(1)).toBe(255);
    expect(gtsmMinTtl(254)).toBe(2);
    expect(tcpSecurity({ ttlSecurity: 2 })).toEqual({ ttl: 255, minTtl: 254 });
    expect(tcpSecurity({ password: "k" })).toEqual({ md5Key: Buffer.from("k") });
    expect(tcpSecurity({})).toEqual({});
  });

  it("a connection where no OPEN ever arrives (GTSM dropping the peer's data) says so", () => {
    expect(silentAfterConnectText(1)).toBe(
      "TCP connected but no OPEN arrives: TTL security suspected: packets arriving with TTL < 255 are dropped",
    );
  });

  it("an unanswered connection names what may have dropped it", () => {
    expect(unansweredText({ password: "k" })).toBe(
      "no TCP connection: MD5 signature mismatch suspected (peer does not answer)",
    );
    expect(unansweredText({ ttlSecurity: 1 })).toBe(
      "no TCP connection: TTL security suspected: packets arriving with TTL < 255 are dropped (peer does not answer)",
    );
  });
});

describe("speakers on loopback with password and ttlSecurity", () => {
  async function pair(
    a: Partial<SpeakerPeerOptions>,
    b: Partial<SpeakerPeerOptions>,
  ): Promise<[Speaker, Speaker]> {
    const mk = (id: string): Speaker =>
      new Speaker({
        asn: 65001,
        routerId: id,
        listen: { address: id === "10.0.0.1" ? "127.0.0.1" : "127.0.0.2", port: 0 },
        holdTime: 9,
        connectRetryTime: 1,
        backoff: { minMs: 200, maxMs: 500, jitter: 0 },
      });
    const sa = mk("10.0.0.1");
    const sb = mk("10.0.0.2");
    speakers.push(sa, sb);
    await sa.start();
    await sb.start();
    const base = (addr: string, local: string, port: number): SpeakerPeerOptions => ({
      address: addr,
      asn: 65001,
      port,
      localAddress: local,
      families: ["ipv4-unicast"],
    });
    sa.addPeer({ ...base("127.0.0.2", "127.0.0.1", sb.listenPort!), ...a });
    sb.addPeer({ ...base("127.0.0.1", "127.0.0.2", sa.listenPort!), ...b });
    return [sa, sb];
  }

  it("the same key on both sides, with GTSM: Established", async () => {
    const [a, b] = await pair({ password: "k1", ttlSecurity: 1 }, { password: "k1", ttlSecurity: 1 });
    await until(
      () => a.peerState("127.0.0.2") === "Established" && b.peerState("127.0.0.1") === "Established",
      10000,
      "Established",
    );
  });

  it("different keys: never Established, the reason in the peer status; a reload to the same key recovers", async () => {
    const [a, b] = await pair({ password: "k1" }, { password: "k2" });
    const err = (s: Speaker): string => s.peerStatus().find((p) => p.address !== "")?.lastError ?? "";
    await until(() => /MD5 signature mismatch suspected/.test(err(a)), 8000, "lastError");
    expect(a.peerState("127.0.0.2")).not.toBe("Established");
    expect(b.peerState("127.0.0.1")).not.toBe("Established");
    // updatePeer with a changed password: the session is reset with the new key
    b.updatePeer({ ...b.peerOptions("127.0.0.1")!, password: "k1" });
    await until(
      () => a.peerState("127.0.0.2") === "Established" && b.peerState("127.0.0.1") === "Established",
      10000,
      "Established after the fix",
    );
  });
});
