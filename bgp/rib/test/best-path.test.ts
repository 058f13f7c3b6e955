// One case per step of the RFC 4271 §9.1.2 decision process (plus RFC 4456 §9
// and the local-origin rule), each asserting the winner and the recorded reason.
import { describe, it, expect } from "@jest/globals";
import type { RibConfig } from "../index.js";
import type { PathAttributes } from "../../wire/types.js";
import { addUp, announce, attrs, mkRib, seq, LOCAL_AS } from "./helpers.js";

interface Contender {
  peer: string;
  asn: number;
  routerId?: string;
  attrs: PathAttributes;
  /** announce time (ms) */
  at?: number;
}

interface Case {
  name: string;
  config?: Partial<RibConfig>;
  paths: Contender[];
  /** peer id of the winner, or "local" */
  winner: string;
  reason: string;
  originate?: boolean;
}

const P = "10.99.0.0/24";

/**
 * Two neighbour ASes, the lower MED on the higher router id: the winner says
 * whether MED was compared across ASes (RFC 4271 §9.1.2.2 c) or not.
 */
const MED_ACROSS_ASES: Contender[] = [
  { peer: "192.0.2.2", asn: 65002, routerId: "1.1.1.1", attrs: attrs("192.0.2.2", [65002], { med: 50 }) },
  { peer: "192.0.2.3", asn: 65003, routerId: "9.9.9.9", attrs: attrs("192.0.2.3", [65003], { med: 10 }) },
];

/** Two eBGP routes, the older on the higher router id: RFC 5004 (oldest) or the router id decides. */
const OLDER_ON_HIGHER_ID: Contender[] = [
  { peer: "192.0.2.2", asn: 65002, routerId: "1.1.1.1", attrs: attrs("192.0.2.2", [65002]), at: 2000 },
  { peer: "192.0.2.3", asn: 65002, routerId: "9.9.9.9", attrs: attrs("192.0.2.3", [65002]), at: 1000 },
];

const cases: Case[] = [
  {
    name: "only one path",
    paths: [{ peer: "192.0.2.2", asn: 65002, attrs: attrs("192.0.2.2", [65002]) }],
    winner: "192.0.2.2",
    reason: "only-path",
  },
  {
    name: "§9.1.2.1 unreachable next hop loses",
    config: { resolveNextHop: (nh) => (nh === "192.0.2.2" ? undefined : 10) },
    paths: [
      { peer: "192.0.2.2", asn: 65002, attrs: attrs("192.0.2.2", [65002]) },
      { peer: "192.0.2.3", asn: 65003, attrs: attrs("192.0.2.3", [65003, 65004, 65005]) },
    ],
    winner: "192.0.2.3",
    reason: "reachable-next-hop",
  },
  {
    name: "highest LOCAL_PREF",
    paths: [
      { peer: "10.0.0.2", asn: LOCAL_AS, attrs: attrs("10.0.0.2", [65010], { localPref: 100 }) },
      { peer: "10.0.0.3", asn: LOCAL_AS, attrs: attrs("10.0.0.3", [65010, 65011], { localPref: 200 }) },
    ],
    winner: "10.0.0.3",
    reason: "local-pref",
  },
  {
    name: "shortest AS_PATH",
    paths: [
      { peer: "192.0.2.2", asn: 65002, attrs: attrs("192.0.2.2", [65002, 65020]) },
      { peer: "192.0.2.3", asn: 65003, attrs: attrs("192.0.2.3", [65003]) },
    ],
    winner: "192.0.2.3",
    reason: "as-path-length",
  },
  {
    name: "AS_SET counts as one",
    paths: [
      {
        peer: "192.0.2.2",
        asn: 65002,
        attrs: attrs("192.0.2.2", [], { asPath: [...seq(65002), { type: 1, asns: [1, 2, 3, 4] }] }),
      },
      { peer: "192.0.2.3", asn: 65003, attrs: attrs("192.0.2.3", [65003, 65030, 65031]) },
    ],
    winner: "192.0.2.2",
    reason: "as-path-length",
  },
  {
    name: "confederation segments count zero",
    paths: [
      {
        peer: "192.0.2.2",
        asn: 65002,
        attrs: attrs("192.0.2.2", [], { asPath: [{ type: 3, asns: [64512, 64513, 64514] }, ...seq(65002)] }),
      },
      { peer: "192.0.2.3", asn: 65003, attrs: attrs("192.0.2.3", [65003, 65030]) },
    ],
    winner: "192.0.2.2",
    reason: "as-path-length",
  },
  {
    name: "lowest ORIGIN",
    paths: [
      { peer: "192.0.2.2", asn: 65002, attrs: attrs("192.0.2.2", [65002], { origin: 2 }) },
      { peer: "192.0.2.3", asn: 65003, attrs: attrs("192.0.2.3", [65003], { origin: 1 }) },
    ],
    winner: "192.0.2.3",
    reason: "origin",
  },
  {
    name: "lowest MED from the same neighbour AS",
    paths: [
      { peer: "192.0.2.2", asn: 65002, routerId: "1.1.1.1", attrs: attrs("192.0.2.2", [65002], { med: 50 }) },
      { peer: "192.0.2.3", asn: 65002, routerId: "9.9.9.9", attrs: attrs("192.0.2.3", [65002], { med: 10 }) },
    ],
    winner: "192.0.2.3",
    reason: "med",
  },
  {
    name: "missing MED is the lowest (0)",
    paths: [
      { peer: "192.0.2.2", asn: 65002, routerId: "9.9.9.9", attrs: attrs("192.0.2.2", [65002]) },
      { peer: "192.0.2.3", asn: 65002, routerId: "1.1.1.1", attrs: attrs("192.0.2.3", [65002], { med: 10 }) },
    ],
    winner: "192.0.2.2",
    reason: "med",
  },
  {
    name: "MED not compared across neighbour ASes (falls to router id)",
    paths: MED_ACROSS_ASES,
    winner: "192.0.2.2",
    reason: "router-id",
  },
  {
    name: "always-compare-med compares across ASes",
    config: { alwaysCompareMed: true },
    paths: MED_ACROSS_ASES,
    winner: "192.0.2.3",
    reason: "med",
  },
  {
    name: "locally originated beats an equal iBGP route",
    originate: true,
    paths: [{ peer: "10.0.0.2", asn: LOCAL_AS, routerId: "0.0.0.1", attrs: attrs("10.0.0.2", []) }],
    winner: "local",
    reason: "local-origin",
  },
  {
    name: "eBGP over iBGP",
    paths: [
      { peer: "10.0.0.2", asn: LOCAL_AS, routerId: "1.1.1.1", attrs: attrs("10.0.0.2", [65002]) },
      { peer: "192.0.2.3", asn: 65002, routerId: "9.9.9.9", attrs: attrs("192.0.2.3", [65002]) },
    ],
    winner: "192.0.2.3",
    reason: "ebgp-over-ibgp",
  },
  {
    name: "lowest IGP cost to the next hop",
    config: { resolveNextHop: (nh) => (nh === "10.1.0.2" ? 20 : 5) },
    paths: [
      { peer: "10.0.0.2", asn: LOCAL_AS, routerId: "1.1.1.1", attrs: attrs("10.1.0.2", [65002]) },
      { peer: "10.0.0.3", asn: LOCAL_AS, routerId: "9.9.9.9", attrs: attrs("10.1.0.3", [65002]) },
    ],
    winner: "10.0.0.3",
    reason: "igp-cost",
  },
  {
    name: "RFC 5004 oldest eBGP route when enabled",
    config: { preferOldestExternal: true },
    paths: OLDER_ON_HIGHER_ID,
    winner: "192.0.2.3",
    reason: "oldest-ebgp",
  },
  {
    name: "age ignored by default: lowest router id",
    paths: OLDER_ON_HIGHER_ID,
    winner: "192.0.2.2",
    reason: "router-id",
  },
  {
    name: "RFC 4456 §9 ORIGINATOR_ID stands in for the router id",
    paths: [
      {
        peer: "10.0.0.2",
        asn: LOCAL_AS,
        routerId: "1.1.1.1",
        attrs: attrs("10.1.0.2", [65002], { originatorId: "8.8.8.8", clusterList: ["10.0.0.2"] }),
      },
      { peer: "10.0.0.3", asn: LOCAL_AS, routerId: "5.5.5.5", attrs: attrs("10.1.0.3", [65002]) },
    ],
    winner: "10.0.0.3",
    reason: "router-id",
  },
  {
    name: "shortest CLUSTER_LIST",
    paths: [
      {
        peer: "10.0.0.2",
        asn: LOCAL_AS,
        routerId: "1.1.1.1",
        attrs: attrs("10.1.0.2", [65002], { originatorId: "7.7.7.7", clusterList: ["1.0.0.1", "1.0.0.2"] }),
      },
      {
        peer: "10.0.0.3",
        asn: LOCAL_AS,
        routerId: "2.2.2.2",
        attrs: attrs("10.1.0.3", [65002], { originatorId: "7.7.7.7", clusterList: ["1.0.0.3"] }),
      },
    ],
    winner: "10.0.0.3",
    reason: "cluster-list-length",
  },
  {
    name: "lowest peer address",
    paths: [
      {
        peer: "10.0.0.20",
        asn: LOCAL_AS,
        routerId: "1.1.1.1",
        attrs: attrs("10.1.0.2", [65002], { originatorId: "7.7.7.7" }),
      },
      {
        peer: "10.0.0.3",
        asn: LOCAL_AS,
        routerId: "2.2.2.2",
        attrs: attrs("10.1.0.3", [65002], { originatorId: "7.7.7.7" }),
      },
    ],
    winner: "10.0.0.3",
    reason: "peer-address",
  },
];

describe("best path: one case per decision step", () => {
  it.each(cases)("$name", (c) => {
    const rib = mkRib(c.config);
    if (c.originate) rib.originate({ prefix: P }, 0);
    for (const p of c.paths) {
      addUp(rib, { address: p.peer, asn: p.asn, routerId: p.routerId ?? p.peer });
      rib.update(p.peer, announce([P], p.attrs), p.at ?? 1000);
    }
    rib.takeChanges();
    const v = rib.route(P)!;
    const best = v.paths.find((x) => x.best)!;
    expect(best.source).toBe(c.winner);
    expect(v.reason).toBe(c.reason);
    // the result must not depend on arrival order
    const rib2 = mkRib(c.config);
    for (const p of [...c.paths].reverse()) {
      addUp(rib2, { address: p.peer, asn: p.asn, routerId: p.routerId ?? p.peer });
      rib2.update(p.peer, announce([P], p.attrs), p.at ?? 1000);
    }
    if (c.originate) rib2.originate({ prefix: P }, 0);
    rib2.takeChanges();
    expect(rib2.route(P)!.paths.find((x) => x.best)!.source).toBe(c.winner);
    expect(rib2.route(P)!.reason).toBe(c.reason);
  });

  it("MED is compared per neighbour AS across the whole set (not pairwise)", () => {
    // RFC 4271 §9.1.2.2 c: A(AS2, MED 10) removes B(AS2, MED 20); C(AS3) is not
    // compared by MED. Then router id: C (1.1.1.1) over A (5.5.5.5). A pairwise
    // sort could keep B alive and pick differently.
    const rib = mkRib();
    const ps = [
      { peer: "192.0.2.2", asn: 65002, rid: "5.5.5.5", med: 10 },
      { peer: "192.0.2.3", asn: 65002, rid: "0.0.0.9", med: 20 },
      { peer: "192.0.2.4", asn: 65003, rid: "1.1.1.1", med: 99 },
    ];
    for (const p of ps) {
      addUp(rib, { address: p.peer, asn: p.asn, routerId: p.rid });
      rib.update(p.peer, announce([P], attrs(p.peer, [p.asn], { med: p.med })), 0);
    }
    rib.takeChanges();
    const v = rib.route(P)!;
    expect(v.paths.find((x) => x.best)!.source).toBe("192.0.2.4");
  });
});

describe("ECMP multipath", () => {
  function setup(maxPaths: number, relaxAsPath = false) {
    const rib = mkRib({ multipath: { maxPaths, relaxAsPath } });
    const nhs = ["192.0.2.4", "192.0.2.2", "192.0.2.3"];
    for (const [i, nh] of nhs.entries()) {
      addUp(rib, { address: nh, asn: 65002 });
      rib.update(nh, announce([P], attrs(nh, [65002, 65100 + (relaxAsPath ? i : 0)])), 0);
    }
    return rib;
  }

  it("equal paths up to the IGP step form one multipath route, capped by maxPaths", () => {
    const rib = setup(2);
    const { fib } = rib.takeChanges();
    expect(fib).toEqual([{ prefix: P, nexthops: ["192.0.2.2", "192.0.2.3"] }]);
    const v = rib.route(P)!;
    expect(
      v.paths
        .filter((x) => x.multipath)
        .map((x) => x.source)
        .sort(),
    ).toEqual(["192.0.2.2", "192.0.2.3"]);
    expect(v.paths.find((x) => x.best)!.source).toBe("192.0.2.2");
  });

  it("different AS_PATHs of equal length join only with relaxAsPath", () => {
    expect(setup(8, true).takeChanges().fib[0]!.nexthops).toHaveLength(3);
    const strict = mkRib({ multipath: { maxPaths: 8 } });
    for (const [i, nh] of ["192.0.2.2", "192.0.2.3"].entries()) {
      addUp(strict, { address: nh, asn: 65002 });
      strict.update(nh, announce([P], attrs(nh, [65002, 65100 + i])), 0);
    }
    expect(strict.takeChanges().fib).toEqual([{ prefix: P, nexthops: ["192.0.2.2"] }]);
  });

  it("a worse path is not a multipath member", () => {
    const rib = setup(8);
    addUp(rib, { address: "192.0.2.9", asn: 65009 });
    rib.update("192.0.2.9", announce([P], attrs("192.0.2.9", [65009, 1, 2])), 0);
    expect(rib.takeChanges().fib[0]!.nexthops).toEqual(["192.0.2.2", "192.0.2.3", "192.0.2.4"]);
  });

  it("losing a member shrinks the kernel route; losing all removes it", () => {
    const rib = setup(8);
    rib.takeChanges();
    rib.update("192.0.2.3", { type: "UPDATE", withdrawn: [P], attributes: {}, nlri: [] }, 1);
    expect(rib.takeChanges().fib).toEqual([{ prefix: P, nexthops: ["192.0.2.2", "192.0.2.4"] }]);
    rib.peerDown("192.0.2.2", { graceful: false });
    rib.peerDown("192.0.2.4", { graceful: false });
    expect(rib.takeChanges().fib).toEqual([{ prefix: P, nexthops: [] }]);
    expect(rib.size).toBe(0);
  });
});
