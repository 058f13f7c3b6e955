import { describe, expect, it } from "@jest/globals";
import { collisionWinner } from "../collision.js";
import { negotiateHoldTime } from "../hold-time.js";
import { checkOpen } from "../open-check.js";
import { ipv4ToU32 } from "../peer.js";

describe("connection collision resolution (RFC 4271 §6.8, RFC 6286 §2.3)", () => {
  it.each([
    ["higher local BGP Identifier keeps our outbound connection", 0x0a000002, 0x0a000001, 1, 2, "outbound"],
    ["lower local BGP Identifier keeps the peer's connection", 0x0a000001, 0x0a000002, 1, 2, "inbound"],
    ["identifiers compare as unsigned (200.0.0.1 > 10.0.0.1)", 0xc8000001, 0x0a000001, 1, 2, "outbound"],
    ["equal identifiers: the larger AS keeps the connection it initiated", 5, 5, 65002, 65001, "outbound"],
    ["equal identifiers, smaller local AS: the peer's connection", 5, 5, 65001, 65002, "inbound"],
  ] as const)("%s", (_n, localId, remoteId, localAs, remoteAs, want) => {
    expect(collisionWinner({ localId, remoteId, localAs, remoteAs })).toBe(want);
  });
});

describe("hold time negotiation (RFC 4271 §4.2)", () => {
  it.each([
    ["smaller of the two", 90, 30, undefined, 30, 10],
    ["zero on either side disables keepalives", 90, 0, undefined, 0, 0],
    ["configured keepalive below a third is kept", 90, 90, 5, 90, 5],
    ["configured keepalive above a third is lowered to a third", 9, 90, 5, 9, 3],
    ["a 3 s hold time gives 1 s keepalives", 3, 90, undefined, 3, 1],
  ] as const)("%s", (_n, local, remote, ka, hold, keep) => {
    expect(negotiateHoldTime(local, remote, ka)).toEqual({ holdTime: hold, keepaliveTime: keep });
  });
});

describe("OPEN checks (RFC 4271 §6.2, RFC 6793, RFC 6286)", () => {
  const exp = { localAs: 65001, localId: 1, peerAs: 65002 };
  const ok = { version: 4, myAs: 65002, holdTime: 90, bgpId: 2 };
  it.each([
    ["a good OPEN passes", ok, exp, undefined],
    ["version 3 -> Unsupported Version Number with 4 as data", { ...ok, version: 3 }, exp, [1, "0004"]],
    ["wrong AS -> Bad Peer AS", { ...ok, myAs: 65003 }, exp, [2, "fdeb"]],
    [
      "4-octet AS behind AS_TRANS passes",
      { ...ok, myAs: 23456, as4: 4200000000 },
      { ...exp, peerAs: 4200000000 },
      undefined,
    ],
    [
      "4-octet AS with a 2-octet field other than AS_TRANS -> Bad Peer AS",
      { ...ok, myAs: 65002, as4: 4200000000 },
      { ...exp, peerAs: 4200000000 },
      [2, "fdea"],
    ],
    [
      "AS_TRANS without the capability is AS 23456",
      { ...ok, myAs: 23456 },
      { ...exp, peerAs: 23456 },
      undefined,
    ],
    ["BGP Identifier 0 -> Bad BGP Identifier", { ...ok, bgpId: 0 }, exp, [3, "00000000"]],
    [
      "iBGP peer with our BGP Identifier -> Bad BGP Identifier",
      { ...ok, myAs: 65001, bgpId: 1 },
      { ...exp, peerAs: 65001 },
      [3, "00000001"],
    ],
    ["eBGP peer may share our BGP Identifier (RFC 6286)", { ...ok, bgpId: 1 }, exp, undefined],
    ["hold time 1 -> Unacceptable Hold Time", { ...ok, holdTime: 1 }, exp, [6, "0001"]],
    ["hold time 2 -> Unacceptable Hold Time", { ...ok, holdTime: 2 }, exp, [6, "0002"]],
    ["hold time 0 passes", { ...ok, holdTime: 0 }, exp, undefined],
  ] as const)("%s", (_n, open, e, want) => {
    const r = checkOpen(open, e);
    if (want === undefined) expect(r).toBeUndefined();
    else expect(r && [r.subcode, Buffer.from(r.data ?? []).toString("hex")]).toEqual(want);
  });
});

describe("BGP Identifier text to number (ipv4ToU32)", () => {
  it("reads a dotted quad as an unsigned 32-bit number", () => {
    expect(ipv4ToU32("10.0.0.1")).toBe(0x0a000001);
    expect(ipv4ToU32("200.0.0.1")).toBe(0xc8000001);
  });
  it("refuses what bgp/wire would refuse to send in an OPEN (a leading zero is octal to inet_aton)", () => {
    expect(() => ipv4ToU32("010.0.0.1")).toThrow("invalid BGP Identifier: 010.0.0.1");
    expect(() => ipv4ToU32("10.0.0")).toThrow(TypeError);
  });
});
