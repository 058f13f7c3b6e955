/**
 * The interop suite, the same for every peer implementation: trellis-bgp in
 * one namespace with an eBGP neighbour (4-octet AS, graceful restart) and an
 * iBGP neighbour of the implementation under test, each in its own namespace.
 * One topology is reused across the cases, in order; hold time 3 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  NetLab,
  T_AS,
  TrellisDaemon,
  labSpeakerConfig,
  until,
  untilAsync,
  type Link,
  stopAll,
} from "./netlab.js";
import type { PeerDriver, PeerDriverOptions } from "./driver.js";

export type DriverFactory = (lab: NetLab, link: Link, opts: PeerDriverOptions) => PeerDriver;

const E_AS = 4200000002;
/** The eBGP peer whose session runs over IPv6. */
const S_AS = 65006;

export interface SuiteOptions {
  /** The implementation has a command that makes it send ROUTE-REFRESH (GoBGP has none). */
  canRequestRefresh: boolean;
  /** How the implementation sends IPv4 routes over an IPv6 session. */
  ipv4OverIpv6: "extended-next-hop" | "ipv4-next-hop";
}

export function interopSuite(kind: string, token: string, make: DriverFactory, o: SuiteOptions): void {
  let lab: NetLab;
  let trellis: TrellisDaemon;
  let ebgp: PeerDriver;
  let ibgp: PeerDriver;
  let over6: PeerDriver;

  const eRoutes = [
    { prefix: "10.211.0.0/24", communities: ["65002:200"], largeCommunities: ["4200000002:1:2"] },
    { prefix: "10.211.1.0/24" },
    { prefix: "10.211.2.0/24" },
    { prefix: "2001:db8:211::/48", communities: ["65002:600"] },
  ];
  const iRoutes = [{ prefix: "10.212.0.0/24" }, { prefix: "2001:db8:212::/48" }];
  const origins = [
    { prefix: "10.100.0.0/24", communities: ["65001:100"], largeCommunities: ["65001:1:2"] },
    { prefix: "10.100.1.0/24" },
    { prefix: "2001:db8:100::/48", largeCommunities: ["65001:6:6"] },
  ];

  function trellisConfig(
    extra: { originate?: unknown[]; ibgpMaxPrefixes?: number } = {},
  ): Record<string, unknown> {
    const e = lab.link("e");
    const i = lab.link("i");
    const ibgpPeer: Record<string, unknown> = {
      address: i.p4,
      asn: T_AS,
      families: ["ipv4-unicast", "ipv6-unicast"],
      nextHopSelf: true,
    };
    if (extra.ibgpMaxPrefixes !== undefined) ibgpPeer.maxPrefixes = extra.ibgpMaxPrefixes;
    return labSpeakerConfig({
      holdTime: 3,
      keepaliveTime: 1,
      gracefulRestart: { enabled: true, restartTime: 30 },
      peers: [
        { address: e.p4, asn: E_AS, families: ["ipv4-unicast", "ipv6-unicast"] },
        ibgpPeer,
        { address: lab.link("s").p6, asn: S_AS, families: ["ipv4-unicast", "ipv6-unicast"] },
      ],
      originate: extra.originate ?? origins,
    });
  }

  const established = async (addr: string, ms = 20000): Promise<void> => {
    await untilAsync(
      async () => (await trellis.peer(addr))?.state === "Established",
      ms,
      `session with ${addr}`,
    );
  };

  beforeAll(async () => {
    lab = new NetLab(token, ["e", "i", "s"]);
    ebgp = make(lab, lab.link("e"), {
      name: "e",
      asn: E_AS,
      routerId: "10.255.0.2",
      trellisAsn: T_AS,
      routes: eRoutes,
      gracefulRestart: true,
    });
    ibgp = make(lab, lab.link("i"), {
      name: "i",
      asn: T_AS,
      routerId: "10.255.0.3",
      trellisAsn: T_AS,
      routes: iRoutes,
    });
    over6 = make(lab, lab.link("s"), {
      name: "s",
      asn: S_AS,
      routerId: "10.255.0.6",
      trellisAsn: T_AS,
      routes: [{ prefix: "10.216.0.0/24", communities: ["65006:1"] }, { prefix: "2001:db8:216::/48" }],
      ipv6Transport: true,
    });
    trellis = new TrellisDaemon(lab, trellisConfig());
    await Promise.all([trellis.start(), ebgp.start(), ibgp.start(), over6.start()]);
  }, 30000);

  afterAll(() => stopAll(trellis, lab), 30000);

  describe(`${kind} interop`, () => {
    it("eBGP (4-octet AS) and iBGP sessions establish with IPv4 and IPv6 unicast", async () => {
      const e = lab.link("e");
      const i = lab.link("i");
      for (const addr of [e.p4, i.p4]) {
        await established(addr);
        expect((await trellis.peer(addr))!.capabilities).toEqual(
          expect.arrayContaining(["mp:ipv4-unicast", "mp:ipv6-unicast", "four-octet-as", "route-refresh"]),
        );
      }
      expect((await trellis.peer(e.p4))!).toMatchObject({ asn: E_AS, type: "ebgp", holdTime: 3 });
      expect((await trellis.peer(i.p4))!).toMatchObject({ type: "ibgp" });
      await until(() => ebgp.established() && ibgp.established(), 10000, `${kind} sees Established`);
    });

    it("routes flow both ways with communities and large communities intact", async () => {
      const e = lab.link("e");
      const r = await untilAsync(
        async () => await trellis.route("10.211.0.0/24"),
        10000,
        `${kind} route at Trellis`,
      );
      expect(r.paths[0]).toMatchObject({
        asPath: String(E_AS),
        nextHop: e.p4,
        communities: ["65002:200"],
        largeCommunities: ["4200000002:1:2"],
      });
      const r6 = await untilAsync(
        async () => await trellis.route("2001:db8:211::/48"),
        10000,
        `${kind} v6 route`,
      );
      expect(r6.paths[0]).toMatchObject({ communities: ["65002:600"], nextHop: e.p6 });
      const ri = await untilAsync(
        async () => await trellis.route("10.212.0.0/24"),
        10000,
        "iBGP route at Trellis",
      );
      expect(ri.paths[0]).toMatchObject({ asPath: "", localPref: 100 });

      const b = await until(() => ebgp.route("10.100.0.0/24"), 10000, `Trellis route at ${kind}`);
      expect(b).toMatchObject({
        asPath: "65001",
        communities: ["65001:100"],
        largeCommunities: ["65001:1:2"],
      });
      const b6 = await until(() => ebgp.route("2001:db8:100::/48"), 10000, `Trellis v6 route at ${kind}`);
      expect(b6.largeCommunities).toEqual(["65001:6:6"]);
      const bi = await until(() => ibgp.route("10.100.0.0/24"), 10000, `Trellis route at iBGP ${kind}`);
      expect(bi).toMatchObject({ asPath: "", localPref: 100, communities: ["65001:100"] });
      // eBGP-learnt routes go to the iBGP peer with their AS_PATH, and us as next hop (nextHopSelf).
      const via = await until(() => ibgp.route("10.211.0.0/24"), 10000, "eBGP route passed to iBGP");
      expect(via).toMatchObject({ asPath: String(E_AS), nextHop: lab.link("i").t4 });
    });

    it("kernel routes appear with the Trellis proto number", async () => {
      const e = lab.link("e");
      await until(
        () => {
          const k = lab.kernelRoutes();
          return k.includes(`10.211.0.0/24 via ${e.p4}`) && k.includes(`2001:db8:211::/48 via ${e.p6}`)
            ? k
            : undefined;
        },
        10000,
        "kernel routes",
      );
    });

    it("a session over IPv6 carries IPv4 and IPv6 routes both ways (RFC 4760, RFC 8950)", async () => {
      const s = lab.link("s");
      await established(s.p6);
      expect((await trellis.peer(s.p6))!.capabilities).toEqual(
        expect.arrayContaining(["mp:ipv4-unicast", "mp:ipv6-unicast"]),
      );
      const r4 = await untilAsync(
        async () => await trellis.route("10.216.0.0/24"),
        10000,
        "IPv4 route over IPv6",
      );
      if (o.ipv4OverIpv6 === "extended-next-hop") {
        // RFC 8950: IPv4 NLRI with an IPv6 next hop, installed as `via inet6`.
        expect(r4.paths[0]!.nextHop).toBe(s.p6);
        expect((await trellis.peer(s.p6))!.capabilities).toContain("extended-next-hop");
      } else {
        expect(r4.paths[0]!.nextHop).toBe(s.p4);
      }
      expect(r4.paths[0]!.communities).toEqual(["65006:1"]);
      const r6 = await untilAsync(async () => await trellis.route("2001:db8:216::/48"), 10000, "IPv6 route");
      expect(r6.paths[0]!.nextHop).toBe(s.p6);
      await until(
        () => {
          const k = lab.kernelRoutes();
          return (
            k.includes(
              o.ipv4OverIpv6 === "extended-next-hop"
                ? `10.216.0.0/24 via inet6 ${s.p6}`
                : `10.216.0.0/24 via ${s.p4}`,
            ) && k.includes(`2001:db8:216::/48 via ${s.p6}`)
          );
        },
        10000,
        "kernel routes of the IPv6 session",
      );
      const back = await until(() => over6.route("10.100.0.0/24"), 10000, "our IPv4 route over IPv6");
      expect(back).toMatchObject({ asPath: "65001", communities: ["65001:100"] });
      expect(over6.route("2001:db8:100::/48")).toBeDefined();
    });

    it("withdrawals propagate both ways, and a reload leaves untouched sessions up", async () => {
      const before = (await trellis.peer(lab.link("i").p4))!.uptimeSeconds ?? 0;
      await ebgp.setRoutes(eRoutes.filter((r) => r.prefix !== "10.211.1.0/24"));
      await untilAsync(
        async () => (await trellis.route("10.211.1.0/24")) === undefined,
        10000,
        "withdrawal at Trellis",
      );
      await until(() => !lab.kernelRoutes().includes("10.211.1.0/24"), 10000, "kernel route removed");

      trellis.reload(trellisConfig({ originate: origins.filter((o) => o.prefix !== "10.100.1.0/24") }));
      await until(() => ebgp.route("10.100.1.0/24") === undefined, 10000, `withdrawal at ${kind}`);
      expect(ebgp.route("10.100.0.0/24")).toBeDefined();
      const after = (await trellis.peer(lab.link("i").p4))!;
      expect(after.state).toBe("Established");
      expect(after.uptimeSeconds ?? 0).toBeGreaterThanOrEqual(before);
    });

    (o.canRequestRefresh ? it : it.skip)(
      "route refresh from the peer is answered with the Adj-RIB-Out",
      async () => {
        const e = lab.link("e");
        const sentBefore = (await trellis.peer(e.p4))!.messages.sent;
        ebgp.requestRefresh();
        await until(
          () => trellis.logLines().some((l) => l.msg === "route refresh requested" && l.peer === e.p4),
          10000,
          "ROUTE-REFRESH at Trellis",
        );
        await untilAsync(
          async () => (await trellis.peer(e.p4))!.messages.sent > sentBefore + 1,
          5000,
          "UPDATEs resent",
        );
        expect(ebgp.route("10.100.0.0/24")?.communities).toEqual(["65001:100"]);
      },
    );

    it("a gracefully restarting peer's routes stay (stale, in the kernel) until its End-of-RIB", async () => {
      const e = lab.link("e");
      await ebgp.stopHard();
      const stale = await untilAsync(
        async () => {
          const r = await trellis.route("10.211.0.0/24");
          return r?.paths[0]?.stale ? r : undefined;
        },
        10000,
        "stale route",
      );
      expect(stale.paths[0]!.best).toBe(true);
      expect(lab.kernelRoutes()).toContain(`10.211.0.0/24 via ${e.p4}`);
      // The restarted peer no longer has 10.211.2.0/24: it must go at End-of-RIB, the rest stays.
      ebgp.setRoutesOffline(
        eRoutes.filter((r) => r.prefix !== "10.211.1.0/24" && r.prefix !== "10.211.2.0/24"),
      );
      await ebgp.start(true);
      await established(e.p4, 30000);
      await untilAsync(
        async () => (await trellis.route("10.211.2.0/24")) === undefined,
        15000,
        "stale route swept",
      );
      const fresh = await untilAsync(
        async () => {
          const r = await trellis.route("10.211.0.0/24");
          return r && !r.paths[0]!.stale ? r : undefined;
        },
        10000,
        "route refreshed",
      );
      expect(fresh.paths[0]!.communities).toEqual(["65002:200"]);
      await until(() => lab.kernelRoutes().includes(`10.211.0.0/24 via ${e.p4}`), 5000, "kernel route kept");
      expect(lab.kernelRoutes()).not.toContain("10.211.2.0/24");
    });

    it("hold timer expiry (peer frozen with SIGSTOP) is detected and the peer's routes go", async () => {
      const e = lab.link("e");
      await established(e.p4);
      await untilAsync(
        async () => (await trellis.route("10.211.0.0/24")) !== undefined,
        10000,
        "route present",
      );
      ebgp.signal("SIGSTOP");
      try {
        const p = await untilAsync(
          async () => {
            const s = await trellis.peer(e.p4);
            return s?.lastError?.includes("4/0") ? s : undefined;
          },
          15000,
          "hold timer expired",
        );
        expect(p.lastError).toContain("sent NOTIFICATION 4/0 Hold Timer Expired");
        await untilAsync(
          async () => (await trellis.route("10.211.0.0/24")) === undefined,
          5000,
          "routes removed",
        );
        await until(() => !lab.kernelRoutes().includes("10.211.0.0/24"), 5000, "kernel route removed");
      } finally {
        ebgp.signal("SIGCONT");
      }
      await established(e.p4, 40000);
    });

    it("after a crash, restarted trellis-bgp keeps its kernel routes until End-of-RIB, then sweeps", async () => {
      const e = lab.link("e");
      await established(e.p4);
      await until(() => lab.kernelRoutes().includes("2001:db8:211::/48"), 10000, "v6 kernel route");
      await trellis.crash();
      // RFC 4724 receiving speaker: once the peer has seen the session go, it keeps our routes (stale).
      await until(() => !ebgp.established(), 10000, `${kind} notices the lost session`);
      expect(ebgp.route("10.100.0.0/24")).toBeDefined();
      // While we are down the peer drops a prefix; the kernel still has it from before.
      await ebgp.setRoutes(eRoutes.filter((r) => r.prefix.startsWith("10.211.0.")));
      expect(lab.kernelRoutes()).toContain("2001:db8:211::/48");
      await trellis.start();
      expect(lab.kernelRoutes()).toContain(`10.211.0.0/24 via ${e.p4}`);
      await established(e.p4, 30000);
      await until(
        () =>
          trellis
            .logLines()
            .some(
              (l) =>
                l.msg === "kernel routes of an earlier run kept until End-of-RIB" && l.restarting === true,
            ),
        5000,
        "restart detected",
      );
      await until(
        () => trellis.logLines().some((l) => String(l.msg).startsWith("FIB in sync")),
        30000,
        "FIB sync",
      );
      await until(() => !lab.kernelRoutes().includes("2001:db8:211::/48"), 10000, "leftover swept");
      expect(lab.kernelRoutes()).toContain(`10.211.0.0/24 via ${e.p4}`);
      expect(ebgp.route("10.100.0.0/24")?.communities).toEqual(["65001:100"]);
    });

    it("max-prefix exceeded sends Cease / Maximum Number of Prefixes Reached", async () => {
      const i = lab.link("i");
      trellis.reload(trellisConfig({ ibgpMaxPrefixes: 1 }));
      await ibgp.setRoutes([...iRoutes, { prefix: "10.212.1.0/24" }]);
      await untilAsync(
        async () => (await trellis.peer(i.p4))?.lastError?.includes("sent NOTIFICATION 6/1") === true,
        15000,
        "Cease 6/1",
      );
      await until(
        () => ibgp.sawNotification(/maximum number of prefixes|max.*prefix|6\/1/i),
        10000,
        `${kind} saw the Cease`,
      );
    });

    it("SIGTERM ends every session with Cease / Administrative Shutdown and exits 0", async () => {
      await established(lab.link("e").p4, 40000);
      const code = await trellis.stop();
      expect(code).toBe(0);
      // A clean stop withdraws our kernel routes (a crash would leave them for the restart).
      expect(lab.kernelRoutes().trim()).toBe("");
      await until(
        () => ebgp.sawNotification(/administrative shutdown|6\/2/i),
        10000,
        `${kind} saw the Cease`,
      );
    });
  });
}
