// Adj-RIB-In / Adj-RIB-Out behaviour: split horizon, route reflection, eBGP
// attribute rules, well-known communities, loop checks, graceful restart,
// max-prefix, route refresh, policy changes and UPDATE batching.
import { describe, it, expect } from "@jest/globals";
import type { PeerConfig, PeerOut, Rib } from "../index.js";
import { parseFilter } from "../../policy/index.js";
import type { PathAttributes, UpdateMessage } from "../../wire/types.js";
import { decodeMessage, packUpdates } from "../../wire/index.js";
import { addUp, announce, attrs, mkRib, withdraw, LOCAL_AS, ROUTER_ID, V4, V6 } from "./helpers.js";

const P = "10.99.0.0/24";
const NO_EXPORT = 0xffffff01;
const NO_ADVERTISE = 0xffffff02;
const NO_EXPORT_SUBCONFED = 0xffffff03;

function outFor(outs: PeerOut[], peer: string): PeerOut | undefined {
  return outs.find((o) => o.peer === peer);
}

function announced(outs: PeerOut[], peer: string, prefix = P): PathAttributes | undefined {
  for (const g of outFor(outs, peer)?.announce ?? []) if (g.prefixes.includes(prefix)) return g.attributes;
  return undefined;
}

// Peers: E1, E2 external; I1, I2 internal non-clients; C1, C2 route-reflector clients.
const E1 = "192.0.2.2";
const E2 = "192.0.2.3";
const I1 = "10.0.0.11";
const I2 = "10.0.0.12";
const C1 = "10.0.0.21";
const C2 = "10.0.0.22";

/** A filter of ours (AS LOCAL_AS) from its configuration form. */
const policy = (spec: Parameters<typeof parseFilter>[0]): ReturnType<typeof parseFilter> =>
  parseFilter(spec, { localAs: LOCAL_AS });

/** A RIB with two external peers up: E1 (AS 65002) and E2 (AS 65003, with `e2`'s settings). */
function twoExternal(e2: Partial<PeerConfig> = {}): Rib {
  const rib = mkRib();
  addUp(rib, { address: E1, asn: 65002 });
  addUp(rib, { address: E2, asn: 65003, extra: e2 });
  return rib;
}

function fabric(): Rib {
  const rib = mkRib({ clusterId: "10.255.255.1" });
  addUp(rib, { address: E1, asn: 65002 });
  addUp(rib, { address: E2, asn: 65003 });
  addUp(rib, { address: I1, asn: LOCAL_AS });
  addUp(rib, { address: I2, asn: LOCAL_AS });
  addUp(rib, { address: C1, asn: LOCAL_AS, rrClient: true });
  addUp(rib, { address: C2, asn: LOCAL_AS, rrClient: true });
  rib.takeChanges(); // initial (empty) dumps and End-of-RIB
  return rib;
}

describe("iBGP split horizon and route reflection (RFC 4271 §9.2.1, RFC 4456 §6, §8)", () => {
  const cases: { name: string; from: string; to: Record<string, boolean> }[] = [
    {
      name: "eBGP-learned goes to every other peer",
      from: E1,
      to: { [E1]: false, [E2]: true, [I1]: true, [I2]: true, [C1]: true, [C2]: true },
    },
    {
      name: "non-client iBGP-learned goes to eBGP and clients only",
      from: I1,
      to: { [E1]: true, [I1]: false, [I2]: false, [C1]: true, [C2]: true },
    },
    {
      name: "client-learned is reflected to every peer but the source",
      from: C1,
      to: { [E1]: true, [I1]: true, [I2]: true, [C1]: false, [C2]: true },
    },
  ];
  it.each(cases)("$name", ({ from, to }) => {
    const rib = fabric();
    const a = attrs(from, from === E1 ? [65002] : [65010], from === E1 ? {} : { localPref: 150 });
    rib.update(from, announce([P], a), 1);
    const { out } = rib.takeChanges();
    for (const [peer, yes] of Object.entries(to))
      expect([peer, announced(out, peer) !== undefined]).toEqual([peer, yes]);
  });

  it("reflection sets ORIGINATOR_ID to the source's router id and prepends our CLUSTER_ID", () => {
    const rib = fabric();
    rib.update(C1, announce([P], attrs("10.1.1.1", [65010], { clusterList: ["10.9.9.9"] })), 1);
    const { out } = rib.takeChanges();
    const a = announced(out, I1)!;
    expect(a.originatorId).toBe(C1);
    expect(a.clusterList).toEqual(["10.255.255.1", "10.9.9.9"]);
    expect(a.nextHop).toBe("10.1.1.1"); // reflection keeps the next hop
    expect(a.localPref).toBe(100);
  });

  it("an existing ORIGINATOR_ID is kept on reflection", () => {
    const rib = fabric();
    rib.update(C1, announce([P], attrs("10.1.1.1", [], { originatorId: "10.7.7.7" })), 1);
    expect(announced(rib.takeChanges().out, C2)!.originatorId).toBe("10.7.7.7");
  });

  it("ORIGINATOR_ID and CLUSTER_LIST never leave the AS", () => {
    const rib = fabric();
    rib.update(
      C1,
      announce([P], attrs("10.1.1.1", [65010], { originatorId: "10.7.7.7", clusterList: ["1.1.1.1"] })),
      1,
    );
    const a = announced(rib.takeChanges().out, E1)!;
    expect(a.originatorId).toBeUndefined();
    expect(a.clusterList).toBeUndefined();
  });

  const loops: { name: string; a: PathAttributes }[] = [
    { name: "ORIGINATOR_ID equal to our router id", a: attrs("10.1.1.1", [], { originatorId: ROUTER_ID }) },
    {
      name: "CLUSTER_LIST holding our cluster id",
      a: attrs("10.1.1.1", [], { clusterList: ["1.2.3.4", "10.255.255.1"] }),
    },
  ];
  it.each(loops)("reflected route with $name is rejected", ({ a }) => {
    const rib = fabric();
    const r = rib.update(C1, announce([P], a), 1);
    expect(r).toMatchObject({ accepted: 0, rejected: 1 });
    const { fib, out } = rib.takeChanges();
    expect(fib).toEqual([]);
    expect(out).toEqual([]);
    expect(rib.route(P)!.paths[0]!.rejected).toBe(true);
  });
});

describe("AS loop detection on import", () => {
  it("a path holding our own AS is rejected (allowas-in 0)", () => {
    const rib = fabric();
    expect(rib.update(E1, announce([P], attrs(E1, [65002, LOCAL_AS, 65020])), 1)).toMatchObject({
      accepted: 0,
      rejected: 1,
    });
    expect(rib.takeChanges().fib).toEqual([]);
    expect(rib.bestCount()).toBe(0);
  });

  it("our AS inside an AS_SET also loops", () => {
    const rib = fabric();
    const a: PathAttributes = {
      origin: 0,
      nextHop: E1,
      asPath: [
        { type: 2, asns: [65002] },
        { type: 1, asns: [7, LOCAL_AS] },
      ],
    };
    expect(rib.update(E1, announce([P], a), 1).rejected).toBe(1);
  });
});

describe("4-octet AS (RFC 6793 §4.2.3)", () => {
  it("AS_PATH from a 2-octet peer is rebuilt from AS4_PATH before loop checks and selection", () => {
    const rib = mkRib({ asn: 4200000001 });
    addUp(rib, { address: E1, asn: 65002 });
    addUp(rib, { address: E2, asn: 65003 });
    const a: PathAttributes = {
      origin: 0,
      nextHop: E1,
      asPath: [{ type: 2, asns: [65002, 23456, 23456] }],
      as4Path: [{ type: 2, asns: [4200000002, 4200000003] }],
    };
    rib.update(E1, announce([P], a), 1);
    rib.takeChanges();
    expect(rib.route(P)!.paths[0]!.attributes.asPath).toEqual([
      { type: 2, asns: [65002, 4200000002, 4200000003] },
    ]);
    const loop: PathAttributes = { ...a, as4Path: [{ type: 2, asns: [4200000001, 4200000003] }] };
    expect(rib.update(E2, announce([P], { ...loop, nextHop: E2 }), 1).rejected).toBe(1);
  });
});

describe("eBGP export rules (RFC 4271 §5.1)", () => {
  it("prepends our AS, strips LOCAL_PREF and a received MED, sets next hop self", () => {
    const rib = fabric();
    rib.update(I1, announce([P], attrs("10.1.1.1", [65010], { localPref: 300, med: 42 })), 1);
    const a = announced(rib.takeChanges().out, E1)!;
    expect(a.asPath).toEqual([{ type: 2, asns: [LOCAL_AS, 65010] }]);
    expect(a.localPref).toBeUndefined();
    expect(a.med).toBeUndefined();
    expect(a.nextHop).toBe("192.0.2.1");
  });

  it("third-party next hop (§5.1.3): kept when on a subnet shared with the peer, unless next-hop-self", () => {
    const rib = mkRib();
    addUp(rib, { address: E1, asn: 65002 });
    const session = (sharedSubnets: string[]) => ({
      routerId: E2,
      localAddress: { ipv4: "192.0.2.1" },
      families: [V4],
      sharedSubnets,
    });
    rib.addPeer({ id: E2, address: E2, asn: 65003 });
    rib.peerUp(E2, session(["192.0.2.0/24"]));
    rib.addPeer({ id: "192.0.2.4", address: "192.0.2.4", asn: 65004, nextHopSelf: true });
    rib.peerUp("192.0.2.4", session(["192.0.2.0/24"]));
    rib.addPeer({ id: "198.51.100.5", address: "198.51.100.5", asn: 65005 });
    rib.peerUp("198.51.100.5", session(["198.51.100.0/24"]));
    rib.update(E1, announce([P], attrs(E1, [65002])), 1);
    rib.update(E1, announce(["10.98.0.0/24"], attrs(E2, [65002])), 1); // next hop is E2 itself
    const { out } = rib.takeChanges();
    expect(announced(out, E2)!.nextHop).toBe(E1); // E1 is on E2's subnet: passed on
    expect(announced(out, "192.0.2.4")!.nextHop).toBe("192.0.2.1"); // next-hop-self wins
    expect(announced(out, "198.51.100.5")!.nextHop).toBe("192.0.2.1"); // not a shared subnet
    expect(announced(out, E2, "10.98.0.0/24")!.nextHop).toBe("192.0.2.1"); // never the peer's own address
  });

  it("a MED set by our export filter is sent", () => {
    const rib = twoExternal({ export: policy({ terms: [{ set: { med: 5 } }] }) });
    rib.update(E1, announce([P], attrs(E1, [65002], { med: 42 })), 1);
    expect(announced(rib.takeChanges().out, E2)!.med).toBe(5);
  });

  it("to iBGP: next hop and MED kept, LOCAL_PREF defaulted; next-hop-self when configured", () => {
    const rib = mkRib();
    addUp(rib, { address: E1, asn: 65002 });
    addUp(rib, { address: I1, asn: LOCAL_AS });
    addUp(rib, { address: I2, asn: LOCAL_AS, nextHopSelf: true });
    rib.update(E1, announce([P], attrs(E1, [65002], { med: 42 })), 1);
    const { out } = rib.takeChanges();
    expect(announced(out, I1)).toMatchObject({
      nextHop: E1,
      med: 42,
      localPref: 100,
      asPath: [{ type: 2, asns: [65002] }],
    });
    expect(announced(out, I2)!.nextHop).toBe("192.0.2.1");
  });

  it("IPv6 routes go with our IPv6 session address as next hop", () => {
    const rib = fabric();
    rib.update(E1, announce(["2001:db8:99::/48"], attrs("2001:db8::2", [65002])), 1);
    expect(announced(rib.takeChanges().out, E2, "2001:db8:99::/48")!.nextHop).toBe("2001:db8::1");
  });

  it("originated routes: empty path becomes our AS toward eBGP, next hop self to everyone", () => {
    const rib = fabric();
    rib.originate({ prefix: "10.1.0.0/24", communities: [65001 * 65536 + 100], med: 7 }, 0);
    const { out, fib } = rib.takeChanges();
    expect(fib).toEqual([]); // local routes are not FIB material
    expect(announced(out, E1, "10.1.0.0/24")).toMatchObject({
      asPath: [{ type: 2, asns: [LOCAL_AS] }],
      nextHop: "192.0.2.1",
      med: 7,
      communities: [65001 * 65536 + 100],
    });
    expect(announced(out, I1, "10.1.0.0/24")).toMatchObject({
      asPath: [],
      nextHop: "192.0.2.1",
      localPref: 100,
    });
    rib.withdrawOrigin("10.1.0.0/24");
    const w = rib.takeChanges().out;
    expect(outFor(w, E1)!.withdraw).toEqual(["10.1.0.0/24"]);
    expect(outFor(w, I1)!.withdraw).toEqual(["10.1.0.0/24"]);
  });
});

describe("well-known communities (RFC 1997)", () => {
  const cases: { name: string; c: number; ebgp: boolean; ibgp: boolean }[] = [
    { name: "NO_EXPORT: internal peers only", c: NO_EXPORT, ebgp: false, ibgp: true },
    { name: "NO_ADVERTISE: nobody", c: NO_ADVERTISE, ebgp: false, ibgp: false },
    { name: "NO_EXPORT_SUBCONFED: internal peers only", c: NO_EXPORT_SUBCONFED, ebgp: false, ibgp: true },
    { name: "ordinary community: everybody", c: 65002 * 65536 + 1, ebgp: true, ibgp: true },
  ];
  it.each(cases)("$name", ({ c, ebgp, ibgp }) => {
    const rib = fabric();
    rib.update(E1, announce([P], attrs(E1, [65002], { communities: [c] })), 1);
    const { out } = rib.takeChanges();
    expect(announced(out, E2) !== undefined).toBe(ebgp);
    expect(announced(out, I1) !== undefined).toBe(ibgp);
    expect(rib.bestCount()).toBe(1); // still used locally
  });
});

describe("withdrawals and peer down", () => {
  it("a withdrawn best path is withdrawn from peers and the FIB; the next best takes over", () => {
    const rib = fabric();
    rib.update(E1, announce([P], attrs(E1, [65002])), 1);
    rib.update(E2, announce([P], attrs(E2, [65003, 65030])), 1);
    let ch = rib.takeChanges();
    expect(ch.fib).toEqual([{ prefix: P, nexthops: [E1] }]);
    rib.update(E1, withdraw([P]), 2);
    ch = rib.takeChanges();
    expect(ch.fib).toEqual([{ prefix: P, nexthops: [E2] }]);
    expect(announced(ch.out, E1)).toBeDefined(); // E2's route now goes to E1
    expect(outFor(ch.out, E2)!.withdraw).toEqual([P]); // and is withdrawn from its source
    rib.update(E2, withdraw([P]), 3);
    ch = rib.takeChanges();
    expect(ch.fib).toEqual([{ prefix: P, nexthops: [] }]);
    expect(outFor(ch.out, I1)!.withdraw).toEqual([P]);
    expect(rib.size).toBe(0);
  });

  it("peer down without graceful restart withdraws all its paths", () => {
    const rib = fabric();
    const prefixes = Array.from({ length: 50 }, (_, i) => `10.50.${i}.0/24`);
    rib.update(E1, announce(prefixes, attrs(E1, [65002])), 1);
    rib.takeChanges();
    rib.peerDown(E1, { graceful: false });
    const ch = rib.takeChanges();
    expect(ch.fib).toHaveLength(50);
    expect(ch.fib.every((f) => f.nexthops.length === 0)).toBe(true);
    expect(outFor(ch.out, I1)!.withdraw.sort()).toEqual([...prefixes].sort());
    expect(rib.peerStats(E1)).toEqual({ received: 0, accepted: 0, advertised: 0, stale: 0 });
  });

  it("a re-announcement with new attributes (implicit withdraw) reaches the other peers", () => {
    const rib = fabric();
    rib.update(E1, announce([P], attrs(E1, [65002], { communities: [1] })), 1);
    rib.takeChanges();
    rib.update(E1, announce([P], attrs(E1, [65002], { communities: [2] })), 2);
    const { out, fib } = rib.takeChanges();
    expect(announced(out, I1)!.communities).toEqual([2]);
    expect(announced(out, E2)!.communities).toEqual([2]);
    expect(fib).toEqual([]); // same next hop: the kernel route stays as it is
    expect(rib.peerStats(E1)).toMatchObject({ received: 1, accepted: 1 });
  });

  it("a changed origination and a changed import filter both reach the peers", () => {
    const rib = fabric();
    rib.originate({ prefix: "10.1.0.0/24", communities: [1] }, 0);
    rib.update(E1, announce([P], attrs(E1, [65002])), 1);
    rib.takeChanges();
    rib.originate({ prefix: "10.1.0.0/24", communities: [2] }, 1);
    expect(announced(rib.takeChanges().out, E1, "10.1.0.0/24")!.communities).toEqual([2]);
    const tag = policy({ terms: [{ set: { communities: { add: ["65001:9"] } } }] });
    rib.setPeerConfig({ id: E1, address: E1, asn: 65002, import: tag });
    expect(announced(rib.takeChanges().out, I1)!.communities).toEqual([65001 * 65536 + 9]);
  });

  it("withdrawing an unknown prefix is harmless", () => {
    const rib = fabric();
    expect(rib.update(E1, withdraw(["10.7.7.0/24"]), 1).withdrawn).toBe(0);
    expect(rib.takeChanges()).toEqual({ fib: [], out: [] });
  });

  it("treat-as-withdraw (RFC 7606) removes the announced prefixes", () => {
    const rib = fabric();
    rib.update(E1, announce([P], attrs(E1, [65002])), 1);
    rib.takeChanges();
    const bad = { ...announce([P], attrs(E1, [65002])), treatAsWithdraw: true };
    expect(rib.update(E1, bad, 2).withdrawn).toBe(1);
    expect(rib.takeChanges().fib).toEqual([{ prefix: P, nexthops: [] }]);
  });
});

describe("graceful restart, receiving speaker (RFC 4724 §4.2)", () => {
  function grSetup() {
    const rib = fabric();
    rib.update(E1, announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(E1, [65002])), 1);
    rib.update(E1, announce(["2001:db8:1::/48"], attrs("2001:db8::2", [65002])), 1);
    rib.takeChanges();
    rib.peerDown(E1, { graceful: true });
    return rib;
  }

  it("paths are kept, marked stale, and stay in the FIB", () => {
    const rib = grSetup();
    const ch = rib.takeChanges();
    expect(ch.fib).toEqual([]);
    expect(ch.out).toEqual([]);
    expect(rib.peerStats(E1).stale).toBe(3);
    expect(rib.route("10.1.0.0/24")!.paths[0]!.stale).toBe(true);
    expect(rib.bestCount()).toBe(3);
  });

  it("re-announced paths lose the stale mark; End-of-RIB sweeps the rest of that family only", () => {
    const rib = grSetup();
    rib.peerUp(E1, { routerId: E1, localAddress: { ipv4: "192.0.2.1" }, families: [V4, V6] });
    rib.update(E1, announce(["10.1.0.0/24"], attrs(E1, [65002])), 5);
    expect(rib.peerStats(E1).stale).toBe(2);
    rib.endOfRib(E1, V4);
    const ch = rib.takeChanges();
    expect(ch.fib).toEqual([{ prefix: "10.2.0.0/24", nexthops: [] }]);
    expect(rib.route("2001:db8:1::/48")!.paths[0]!.stale).toBe(true);
    rib.endOfRib(E1, V6);
    expect(rib.takeChanges().fib).toEqual([{ prefix: "2001:db8:1::/48", nexthops: [] }]);
    expect(rib.peerStats(E1).stale).toBe(0);
  });

  it("the restart timer sweeps every stale path", () => {
    const rib = grSetup();
    rib.staleTimerExpired(E1);
    const ch = rib.takeChanges();
    expect(ch.fib.map((f) => f.prefix).sort()).toEqual(["10.1.0.0/24", "10.2.0.0/24", "2001:db8:1::/48"]);
    expect(ch.fib.every((f) => f.nexthops.length === 0)).toBe(true);
  });
});

describe("max-prefix (RFC 4486)", () => {
  it("reports the first UPDATE that takes a family over the limit, with AFI/SAFI and the limit", () => {
    const rib = mkRib();
    addUp(rib, { address: E1, asn: 65002, maxPrefixes: 3 });
    const r1 = rib.update(E1, announce(["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"], attrs(E1, [65002])), 1);
    expect(r1.maxPrefixExceeded).toBeUndefined();
    const r2 = rib.update(E1, announce(["10.0.4.0/24"], attrs(E1, [65002])), 1);
    expect(r2.maxPrefixExceeded).toEqual({ afi: 1, safi: 1, limit: 3, count: 4 });
  });

  it("counts prefixes after import policy and per family", () => {
    const rib = mkRib();
    addUp(rib, {
      address: E1,
      asn: 65002,
      maxPrefixes: 2,
      extra: {
        import: policy({ terms: [{ match: { prefixes: ["10.0.0.0/8 le 32"] }, action: "reject" }] }),
      },
    });
    const r = rib.update(
      E1,
      announce(["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24", "11.0.0.0/24"], attrs(E1, [65002])),
      1,
    );
    expect(r).toMatchObject({ accepted: 1, rejected: 3 });
    expect(r.maxPrefixExceeded).toBeUndefined();
    const r6 = rib.update(
      E1,
      announce(["2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:3::/48"], attrs("2001:db8::2", [65002])),
      1,
    );
    expect(r6.maxPrefixExceeded).toEqual({ afi: 2, safi: 1, limit: 2, count: 3 });
  });
});

describe("session start, route refresh and policy changes", () => {
  it("a peer coming up gets the whole table then End-of-RIB for its families", () => {
    const rib = mkRib();
    addUp(rib, { address: E1, asn: 65002 });
    rib.update(E1, announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(E1, [65002])), 1);
    rib.takeChanges();
    addUp(rib, { address: E2, asn: 65003 });
    const o = outFor(rib.takeChanges().out, E2)!;
    expect(o.announce.flatMap((g) => g.prefixes).sort()).toEqual(["10.1.0.0/24", "10.2.0.0/24"]);
    expect(o.endOfRib).toEqual([V4, V6]);
  });

  it("route refresh resends the Adj-RIB-Out", () => {
    const rib = fabric();
    rib.update(E1, announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(E1, [65002])), 1);
    rib.takeChanges();
    rib.routeRefresh(E2);
    const { out } = rib.takeChanges();
    expect(out.map((o) => o.peer)).toEqual([E2]);
    expect(out[0]!.announce.flatMap((g) => g.prefixes).sort()).toEqual(["10.1.0.0/24", "10.2.0.0/24"]);
    expect(out[0]!.endOfRib).toEqual([]);
  });

  it("a new import filter is applied to the kept pre-policy paths", () => {
    const rib = mkRib();
    const cfg = { id: E1, address: E1, asn: 65002 };
    addUp(rib, { address: E1, asn: 65002 });
    rib.update(E1, announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(E1, [65002])), 1);
    rib.takeChanges();
    const reject10_1 = policy({ terms: [{ match: { prefixes: ["10.1.0.0/24"] }, action: "reject" }] });
    rib.setPeerConfig({ ...cfg, import: reject10_1 });
    expect(rib.takeChanges().fib).toEqual([{ prefix: "10.1.0.0/24", nexthops: [] }]);
    rib.setPeerConfig(cfg);
    expect(rib.takeChanges().fib).toEqual([{ prefix: "10.1.0.0/24", nexthops: [E1] }]);
  });

  it("a new export filter re-exports: withdraws what it now rejects", () => {
    const rib = twoExternal();
    rib.update(E1, announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(E1, [65002])), 1);
    rib.takeChanges();
    rib.setPeerConfig({
      id: E2,
      address: E2,
      asn: 65003,
      export: policy("reject"),
    });
    const o = outFor(rib.takeChanges().out, E2)!;
    expect(o.withdraw.sort()).toEqual(["10.1.0.0/24", "10.2.0.0/24"]);
    expect(o.announce).toEqual([]);
    expect(rib.peerStats(E2).advertised).toBe(0);
  });

  it("import policy sets LOCAL_PREF that wins the decision", () => {
    const rib = twoExternal({ import: policy({ terms: [{ set: { localPref: 500 } }] }) });
    rib.update(E1, announce([P], attrs(E1, [65002])), 1);
    rib.update(E2, announce([P], attrs(E2, [65003, 1, 2, 3])), 1);
    rib.takeChanges();
    expect(rib.route(P)!.reason).toBe("local-pref");
    expect(rib.route(P)!.paths.find((x) => x.best)!.source).toBe(E2);
  });
});

describe("batching: changes are grouped by attribute set", () => {
  it("N prefixes from one UPDATE reach each peer as one group; attribute sets are shared", () => {
    const rib = fabric();
    const n = 5000;
    const prefixes = Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    rib.update(E1, announce(prefixes, attrs(E1, [65002])), 1);
    const { out, fib } = rib.takeChanges();
    expect(fib).toHaveLength(n);
    for (const peer of [E2, I1, C1]) {
      const o = outFor(out, peer)!;
      expect(o.announce).toHaveLength(1);
      expect(o.announce[0]!.prefixes).toHaveLength(n);
    }
    // one received set plus one exported set per distinct target shape (eBGP, iBGP)
    expect(rib.attributeSets).toBeLessThanOrEqual(3);
    // packed by the codec: a /24 NLRI is 4 octets, so at least k = 1000 fit in
    // a 4096-octet UPDATE next to these attributes: at most ceil(N / k) UPDATEs
    const g = outFor(out, E2)!.announce[0]!;
    const msgs = packUpdates(g.attributes, g.prefixes, [], { fourOctetAs: true });
    expect(msgs.length).toBeLessThanOrEqual(Math.ceil(n / 1000));
    expect(
      msgs.reduce((k, m) => k + (decodeMessage(m, { fourOctetAs: true }) as UpdateMessage).nlri.length, 0),
    ).toBe(n);
  });

  it("two attribute sets make two groups; a flap between flushes is coalesced", () => {
    const rib = fabric();
    rib.update(E1, announce(["10.1.0.0/24", "10.2.0.0/24"], attrs(E1, [65002])), 1);
    rib.update(E1, announce(["10.3.0.0/24"], attrs(E1, [65002], { med: 1 })), 1);
    rib.update(E1, withdraw(["10.2.0.0/24"]), 1);
    rib.update(E1, announce(["10.2.0.0/24"], attrs(E1, [65002])), 1);
    const o = outFor(rib.takeChanges().out, I1)!;
    expect(o.announce.map((g) => g.prefixes.length).sort()).toEqual([1, 2]);
    expect(o.withdraw).toEqual([]);
  });

  it("reference counts return to zero: no attribute set outlives its paths", () => {
    const rib = fabric();
    rib.update(E1, announce(["10.1.0.0/24"], attrs(E1, [65002], { med: 1 })), 1);
    rib.update(C1, announce(["10.2.0.0/24"], attrs(C1, [], { med: 2 })), 1);
    rib.originate({ prefix: "10.3.0.0/24" }, 1);
    rib.takeChanges();
    expect(rib.attributeSets).toBeGreaterThan(3);
    rib.peerDown(E1, { graceful: false });
    rib.peerDown(C1, { graceful: false });
    rib.withdrawOrigin("10.3.0.0/24");
    rib.removePeer(I1); // de-configured while up: its Adj-RIB-Out goes too
    rib.takeChanges();
    expect(rib.attributeSets).toBe(0);
    expect(rib.size).toBe(0);
  });
});
