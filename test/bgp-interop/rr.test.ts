// Trellis as a route reflector (RFC 4456) for a BIRD client and a GoBGP client,
// all iBGP on one bridged segment.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { BirdPeer } from "./bird.js";
import { GobgpPeer } from "./gobgp.js";
import type { PeerDriver, RouteSeen } from "./driver.js";
import { NetLab, PROTO, TrellisDaemon, sh, until, untilAsync, stopAll } from "./netlab.js";

const AS = 65001;
const TRELLIS_ID = "10.255.0.1";
const BIRD_ID = "10.255.0.3";
const GOBGP_ID = "10.255.0.4";

let lab: NetLab;
let trellis: TrellisDaemon;
let bird: BirdPeer;
let gobgp: GobgpPeer;

beforeAll(async () => {
  lab = new NetLab("rr", ["b", "g"], true);
  const b = lab.link("b");
  const g = lab.link("g");
  trellis = new TrellisDaemon(lab, {
    asn: AS,
    routerId: TRELLIS_ID,
    listen: { address: "::", port: 179 },
    holdTime: 3,
    keepaliveTime: 1,
    connectRetryTime: 1,
    fib: { enabled: true, ecmp: true },
    peers: [
      { address: b.p4, asn: AS, routeReflectorClient: true },
      { address: g.p4, asn: AS, routeReflectorClient: true },
    ],
    originate: [{ prefix: "10.100.0.0/24" }],
  });
  bird = new BirdPeer(lab, b, {
    name: "b",
    asn: AS,
    routerId: BIRD_ID,
    trellisAsn: AS,
    routes: [
      { prefix: "10.221.0.0/24", communities: ["65001:21"] },
      { prefix: "2001:db8:221::/48" },
      { prefix: "10.230.0.0/24" },
    ],
  });
  gobgp = new GobgpPeer(lab, g, {
    name: "g",
    asn: AS,
    routerId: GOBGP_ID,
    trellisAsn: AS,
    routes: [
      { prefix: "10.222.0.0/24", largeCommunities: ["65001:22:22"] },
      { prefix: "2001:db8:222::/48" },
      { prefix: "10.230.0.0/24" },
    ],
  });
  await Promise.all([trellis.start(), bird.start(), gobgp.start()]);
  for (const l of [b, g]) {
    await untilAsync(
      async () => (await trellis.peer(l.p4))?.state === "Established",
      20000,
      `session ${l.p4}`,
    );
  }
}, 40000);

afterAll(() => stopAll(trellis, lab), 30000);

/**
 * Waits for `prefix` at the client `at` and checks what reflection adds (RFC
 * 4456 §8): ORIGINATOR_ID is the client it came from, CLUSTER_LIST holds our
 * cluster id alone, and the AS_PATH stays empty (iBGP throughout).
 */
async function reflectedAt(at: PeerDriver, prefix: string, originatorId: string): Promise<RouteSeen> {
  const r = await until(() => at.route(prefix), 10000, `reflected route ${prefix} at ${at.kind}`);
  expect(r).toMatchObject({ asPath: "", originatorId, clusterList: [TRELLIS_ID] });
  return r;
}

describe("Trellis as route reflector", () => {
  it("reflects BIRD's routes to GoBGP with ORIGINATOR_ID = BIRD and CLUSTER_LIST = [our cluster id]", async () => {
    const r = await reflectedAt(gobgp, "10.221.0.0/24", BIRD_ID);
    expect(r).toMatchObject({ communities: ["65001:21"], nextHop: lab.link("b").p4 });
    await reflectedAt(gobgp, "2001:db8:221::/48", BIRD_ID);
  });

  it("reflects GoBGP's routes to BIRD with ORIGINATOR_ID = GoBGP and CLUSTER_LIST = [our cluster id]", async () => {
    const r = await reflectedAt(bird, "10.222.0.0/24", GOBGP_ID);
    expect(r).toMatchObject({ largeCommunities: ["65001:22:22"] });
  });

  it("does not reflect a client's route back to it, and installs both in the kernel", async () => {
    // Loc-RIB: ours (1) + BIRD's (2) + GoBGP's (2) + the shared 10.230/24; BIRD gets ours and
    // GoBGP's (and the shared prefix only if GoBGP's path is the best), never its own.
    const toBird = await untilAsync(
      async () => {
        const p = await trellis.peer(lab.link("b").p4);
        return p && p.prefixes.advertised >= 3 ? p : undefined;
      },
      10000,
      "Adj-RIB-Out to BIRD",
    );
    expect(toBird.prefixes).toMatchObject({ received: 3, accepted: 3 });
    const best230 = (await trellis.route("10.230.0.0/24"))!.paths.find((p) => p.best)!;
    expect(toBird.prefixes.advertised).toBe(best230.source === lab.link("g").p4 ? 4 : 3);
    expect(bird.route("10.221.0.0/24")?.originatorId).toBeUndefined();
    await until(
      () => {
        const k = lab.kernelRoutes();
        return (
          k.includes(`10.221.0.0/24 via ${lab.link("b").p4}`) &&
          k.includes(`10.222.0.0/24 via ${lab.link("g").p4}`)
        );
      },
      10000,
      "kernel routes",
    );
  });

  it("our own route reaches both clients without ORIGINATOR_ID", async () => {
    const b = await until(() => bird.route("10.100.0.0/24"), 10000, "our route at BIRD");
    const g = await until(() => gobgp.route("10.100.0.0/24"), 10000, "our route at GoBGP");
    expect(b.originatorId).toBeUndefined();
    expect(g.originatorId).toBeUndefined();
    expect(g.localPref).toBe(100);
  });

  it("equal paths from both clients become one ECMP kernel route (multipath)", async () => {
    const b = lab.link("b");
    const g = lab.link("g");
    const r = await untilAsync(
      async () => {
        const x = await trellis.route("10.230.0.0/24");
        return x && x.nexthops.length === 2 ? x : undefined;
      },
      10000,
      "two next hops in the Loc-RIB",
    );
    expect([...r.nexthops].sort()).toEqual([b.p4, g.p4].sort());
    expect(r.paths.filter((p) => p.multipath)).toHaveLength(2);
    await until(
      () => {
        const k = sh("ip", ["-n", lab.trellisNs, "route", "show", "10.230.0.0/24", "proto", String(PROTO)]);
        return k.includes(`nexthop via ${b.p4}`) && k.includes(`nexthop via ${g.p4}`);
      },
      10000,
      "multipath kernel route",
    );
  });
});
