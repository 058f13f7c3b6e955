import { describe, expect, it } from "@jest/globals";
import {
  decodeMessage,
  encodeMessage,
  errorName,
  maxPrefixesError,
  negotiate,
  parseShutdownCommunication,
  peerAs,
  shutdownCommunication,
  unsupportedCapabilityError,
} from "../index.js";
import type { Capability, OpenMessage } from "../index.js";

const base = (caps: Capability[], over: Partial<OpenMessage> = {}): OpenMessage => ({
  type: "OPEN",
  version: 4,
  myAs: 65001,
  holdTime: 90,
  bgpId: "192.0.2.1",
  capabilities: caps,
  ...over,
});

describe("OPEN Optional Parameters", () => {
  it("uses the RFC 9072 extended length form when parameters exceed 255 octets", () => {
    const caps: Capability[] = Array.from({ length: 60 }, (_, i) => ({
      kind: "multiprotocol",
      afi: 1,
      safi: i + 1,
    }));
    const open = base(caps);
    const b = encodeMessage(open, { fourOctetAs: true });
    expect(b.readUInt8(28)).toBe(255); // Non-Ext OP Len
    expect(b.readUInt8(29)).toBe(255); // Non-Ext OP Type
    expect(b.readUInt16BE(30)).toBe(b.length - 32); // Extended Opt. Parm. Length
    expect(decodeMessage(b, { fourOctetAs: true })).toEqual(open);
  });
  it("accepts the extended form even when short", () => {
    const hex =
      "ffffffffffffffffffffffffffffffff" + "0027 01" + "04 fde9 005a c0000201 ff ff 0007 02 0004 0200 4600";
    const m = decodeMessage(Buffer.from(hex.replace(/ /g, ""), "hex"), { fourOctetAs: true });
    expect(m).toEqual(base([{ kind: "route-refresh" }, { kind: "enhanced-route-refresh" }]));
  });
});

describe("OPEN helpers", () => {
  const peer = base([{ kind: "four-octet-as", asn: 4200000001 }], { myAs: 23456, bgpId: "192.0.2.2" });
  it("peerAs prefers the 4-octet AS capability (RFC 6793 §4.1)", () => {
    expect(peerAs(peer)).toBe(4200000001);
    expect(peerAs(base([]))).toBe(65001);
  });
  it("Unsupported Capability lists the capabilities in its data (RFC 5492 §5)", () => {
    const e = unsupportedCapabilityError([{ kind: "four-octet-as", asn: 65001 }]);
    expect([e.code, e.subcode, e.data.toString("hex")]).toEqual([2, 7, "41040000fde9"]);
  });
});

describe("negotiate", () => {
  const local = base([
    { kind: "multiprotocol", afi: 1, safi: 1 },
    { kind: "multiprotocol", afi: 2, safi: 1 },
    { kind: "route-refresh" },
    { kind: "four-octet-as", asn: 65001 },
    { kind: "extended-next-hop", entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
  ]);
  it("intersects families and capabilities, takes the smaller hold time", () => {
    const remote = base(
      [
        { kind: "multiprotocol", afi: 2, safi: 1 },
        { kind: "route-refresh-old" },
        { kind: "four-octet-as", asn: 65002 },
        { kind: "graceful-restart", restarting: false, notification: false, restartTime: 120, families: [] },
      ],
      { holdTime: 9, myAs: 65002 },
    );
    const n = negotiate(local, remote, { external: true });
    expect(n).toMatchObject({
      peerAs: 65002,
      holdTime: 9,
      fourOctetAs: true,
      families: [{ afi: 2, safi: 1 }],
      routeRefresh: true,
      enhancedRouteRefresh: false,
      extendedNextHop: [],
      options: { fourOctetAs: true, families: [{ afi: 2, safi: 1 }], external: true },
    });
    expect(n.gracefulRestart?.restartTime).toBe(120);
  });
  it("a peer without Multiprotocol capabilities carries IPv4 unicast only (RFC 4760 §8)", () => {
    const n = negotiate(local, base([], { myAs: 65002 }));
    expect(n.families).toEqual([{ afi: 1, safi: 1 }]);
    expect(n.fourOctetAs).toBe(false);
    expect(n.options.fourOctetAs).toBe(false);
  });
});

describe("error helpers", () => {
  it("names codes and subcodes", () => {
    expect(errorName(3, 11)).toBe("UPDATE Message Error / Malformed AS_PATH");
    expect(errorName(6, 2)).toBe("Cease / Administrative Shutdown");
    expect(errorName(5, 3)).toBe(
      "Finite State Machine Error / Receive Unexpected Message in Established State",
    );
    expect(errorName(4, 0)).toBe("Hold Timer Expired");
  });
  it("Maximum Number of Prefixes Reached carries AFI, SAFI and the limit (RFC 4486 §4)", () => {
    const e = maxPrefixesError(1, 1, 100000);
    expect([e.code, e.subcode, e.data.toString("hex")]).toEqual([6, 1, "00010100" + "0186a0"]);
  });
  it("Shutdown Communication round trip and truncation (RFC 9003)", () => {
    const e = shutdownCommunication(2, "maintenance");
    expect(parseShutdownCommunication(e.data)).toBe("maintenance");
    const long = shutdownCommunication(2, "é".repeat(200));
    expect(long.data.readUInt8(0)).toBeLessThanOrEqual(255);
    expect(parseShutdownCommunication(long.data)).toBe("é".repeat(127));
  });
});
