/**
 * BFD (RFC 5880/5881) interop in network namespaces: trellis-bgp's sessions
 * come Up with BIRD (`protocol bfd` + `bfd on` in its BGP protocol, over IPv4
 * and over IPv6) and with FRR's bfdd (static IPv4 and IPv6 peers); when BIRD's
 * packets stop (nft drop in its namespace) BFD declares the path down and the
 * BGP session and its kernel routes go at once (RFC 5882), well before the
 * hold timer.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { join } from "node:path";
import {
  NetLab,
  REPO,
  TrellisDaemon,
  labSpeakerConfig,
  sh,
  sleep,
  stopAll,
  until,
  untilAsync,
} from "./netlab.js";
import { birdNeighbour, type BirdPeer } from "./bird.js";
import { BfddPeer } from "./bfdd.js";
import { speakerBfd } from "./driver.js";

const BFD = { intervalMs: 100, multiplier: 3 };
const METRICS_PORT = 19179; // inside the lab's own namespace
const ADDON = join(REPO, "dist/net/sockopt/trellis_sockopt.node");

/** Run a CommonJS snippet with our addon as `a`, inside a namespace. */
function inNs(ns: string, code: string): string {
  return sh("ip", [
    "netns",
    "exec",
    ns,
    process.execPath,
    "-e",
    `const a = require(${JSON.stringify(ADDON)});${code}`,
  ]);
}

/** `name{labels} value` lines of trellis-bgp's /metrics, fetched inside its namespace. */
function metrics(ns: string): string {
  const script = `fetch("http://127.0.0.1:${METRICS_PORT}/metrics").then(r => r.text()).then(t => process.stdout.write(t));`;
  return sh("ip", ["netns", "exec", ns, process.execPath, "-e", script]);
}

describe("BFD interop with BIRD and FRR bfdd", () => {
  let lab: NetLab;
  let trellis: TrellisDaemon;
  let b4: BirdPeer;
  let b6: BirdPeer;
  let f: BfddPeer;

  beforeAll(async () => {
    lab = new NetLab("bfd", ["b", "v", "f"]);
    const fl = lab.link("f");
    const nb = birdNeighbour(lab, {
      name: "b",
      asn: 65102,
      routerId: "10.255.2.2",
      prefix: "10.230.0.0/24",
      bfd: BFD,
    });
    const nv = birdNeighbour(lab, {
      name: "v",
      asn: 65103,
      routerId: "10.255.2.3",
      prefix: "2001:db8:231::/48",
      bfd: BFD,
      ipv6Transport: true,
    });
    b4 = nb.bird;
    b6 = nv.bird;
    f = new BfddPeer(
      lab,
      fl,
      "f",
      [
        [fl.t4, fl.p4],
        [fl.t6, fl.p6],
      ],
      BFD,
    );
    const bfd = speakerBfd(BFD);
    trellis = new TrellisDaemon(
      lab,
      labSpeakerConfig({
        holdTime: 9,
        keepaliveTime: 3,
        restartBackoff: { initialMs: 500, maxMs: 1000, jitter: 0 },
        metricsAddress: `127.0.0.1:${METRICS_PORT}`,
        peers: [
          nb.peer,
          nv.peer,
          // bfdd alone: no BGP there (the sessions stay Active), BFD only
          { address: fl.p4, asn: 65104, localAddress: fl.t4, passive: true, bfd },
          { address: fl.p6, asn: 65104, localAddress: fl.t6, passive: true, bfd },
        ],
      }),
    );
    await Promise.all([trellis.start(), b4.start(), b6.start(), f.start()]);
  }, 60000);

  afterAll(() => stopAll(trellis, lab), 30000);

  const bfdState = async (addr: string): Promise<string | undefined> =>
    (await trellis.peer(addr))?.bfd?.state;

  it("BIRD over IPv4 and IPv6: BFD Up on both sides at 100 ms x 3, BGP Established", async () => {
    for (const addr of [lab.link("b").p4, lab.link("v").p6]) {
      await untilAsync(async () => (await bfdState(addr)) === "Up", 20000, `BFD Up with ${addr}`);
      await untilAsync(async () => (await trellis.peer(addr))?.state === "Established", 20000, `BGP ${addr}`);
      await untilAsync(
        async () => (await trellis.peer(addr))?.bfd?.detectTimeMs === 300,
        10000,
        `${addr}: 300 ms Detection Time after the Poll Sequence`,
      );
    }
    await until(() => b4.bfdSessions().get(lab.link("b").t4) === "Up", 10000, "BIRD sees BFD Up (v4)");
    await until(() => b6.bfdSessions().get(lab.link("v").t6) === "Up", 10000, "BIRD sees BFD Up (v6)");
  }, 60000);

  it("FRR bfdd over IPv4 and IPv6: BFD Up on both sides", async () => {
    const fl = lab.link("f");
    for (const addr of [fl.p4, fl.p6])
      await untilAsync(async () => (await bfdState(addr)) === "Up", 20000, `BFD Up with bfdd ${addr}`);
    await until(
      () => f.sessionsSeen().get(fl.t4) === "up" && f.sessionsSeen().get(fl.t6) === "up",
      10000,
      "bfdd sees Up",
    );
  }, 60000);

  it("hostile datagrams from the peer's side (TTL 64, garbage) are dropped and counted; sessions stay Up", async () => {
    const fl = lab.link("f");
    // A packet that would be valid but for its TTL (RFC 5881 §5), then 100 of garbage at TTL 255.
    inNs(
      fl.ns,
      `const fd = a.udpSocket(4); a.bind(fd, ${JSON.stringify(fl.p4)}, 0); a.setTtl(fd, 64);` +
        `const good = Buffer.from("20c0031800000099000000000f4240000f424000000000", "hex");` +
        `a.sendTo(fd, good, ${JSON.stringify(fl.t4)}, 3784); a.setTtl(fd, 255);` +
        `for (let i = 0; i < 100; i++) { const b = Buffer.alloc(i % 40); b.fill(i); a.sendTo(fd, b, ${JSON.stringify(fl.t4)}, 3784); }` +
        `a.closeFd(fd);`,
    );
    await sleep(500);
    const m = metrics(lab.trellisNs);
    const dropped = (reason: string): number =>
      Number(new RegExp(`trellis_bgp_bfd_dropped_total\\{reason="${reason}"\\} (\\d+)`).exec(m)?.[1] ?? 0);
    expect(dropped("ttl")).toBeGreaterThanOrEqual(1);
    expect(dropped("short") + dropped("version") + dropped("length")).toBeGreaterThanOrEqual(90);
    expect(m).toMatch(new RegExp(`trellis_bgp_bfd_session_up\\{peer="${fl.p4}"\\} 1`));
    for (const addr of [fl.p4, fl.p6, lab.link("b").p4]) expect(await bfdState(addr)).toBe("Up");
  }, 30000);

  it("a silent path: BFD down, BGP session and kernel routes gone in under 1 s (hold time 9 s)", async () => {
    const b = lab.link("b");
    await until(() => lab.kernelRoutes().includes("10.230.0.0/24"), 10000, "BIRD's route in the kernel");
    sh("ip", [
      "netns",
      "exec",
      b.ns,
      "nft",
      "add table inet cut; add chain inet cut out { type filter hook output priority 0; policy drop; }",
    ]);
    const t0 = Date.now();
    try {
      await until(() => !lab.kernelRoutes().includes("10.230.0.0/24"), 5000, "route withdrawn");
      const took = Date.now() - t0;
      expect(took).toBeLessThan(1000);
      const p = await trellis.peer(b.p4);
      expect(p?.state).not.toBe("Established");
      expect(p?.lastError).toBe("BFD session down: Control Detection Time Expired");
    } finally {
      sh("ip", ["netns", "exec", b.ns, "nft", "delete table inet cut"]);
    }
    // and back
    await untilAsync(async () => (await trellis.peer(b.p4))?.state === "Established", 30000, "BGP back");
    await until(() => lab.kernelRoutes().includes("10.230.0.0/24"), 10000, "route back");
  }, 60000);
});
