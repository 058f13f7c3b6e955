// Codec fixtures as (name, object, hex): written by hand from the RFC layouts
// (and, under test/fixtures/captured, from real BIRD/GoBGP/FRR sessions).
// "both" fixtures must decode to the object and encode to the exact octets;
// "decode" fixtures are encodings we accept but do not produce (e.g. one
// capability per Optional Parameter, as FRR sends them).

import type { BgpMessage, CodecOptions } from "../types.js";
import { attr, clean, hexLen, msg, update } from "./hex.js";

/** A value preceded by its one-octet length. */
const withLen = (hex: string) => hexLen(hex, 1) + clean(hex);
/** Optional Parameters preceded by Opt Parm Len. */
const params = withLen;

export interface Fixture {
  name: string;
  opts: CodecOptions;
  hex: string;
  object: BgpMessage;
  direction: "both" | "decode";
}

const AS4: CodecOptions = { fourOctetAs: true };
const AS2: CodecOptions = { fourOctetAs: false };

const ORIGIN_IGP = attr(0x40, 1, "00");
const NEXT_HOP_2 = attr(0x40, 3, "c0 00 02 02");

export const FIXTURES: Fixture[] = [
  {
    name: "KEEPALIVE (RFC 4271 §4.4: header only, length 19)",
    opts: AS4,
    hex: msg(4, ""),
    object: { type: "KEEPALIVE" },
    direction: "both",
  },
  {
    name: "NOTIFICATION Cease/Administrative Shutdown with an RFC 9003 communication",
    opts: AS4,
    hex: msg(3, "06 02 03 627965"),
    object: { type: "NOTIFICATION", code: 6, subcode: 2, data: Buffer.from("03627965", "hex") },
    direction: "both",
  },
  {
    name: "NOTIFICATION Hold Timer Expired, no data",
    opts: AS4,
    hex: msg(3, "04 00"),
    object: { type: "NOTIFICATION", code: 4, subcode: 0, data: Buffer.alloc(0) },
    direction: "both",
  },
  {
    name: "ROUTE-REFRESH IPv4 unicast (RFC 2918)",
    opts: AS4,
    hex: msg(5, "0001 00 01"),
    object: { type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 0 },
    direction: "both",
  },
  {
    name: "ROUTE-REFRESH BoRR IPv6 unicast (RFC 7313 subtype 1)",
    opts: AS4,
    hex: msg(5, "0002 01 01"),
    object: { type: "ROUTE-REFRESH", afi: 2, safi: 1, subtype: 1 },
    direction: "both",
  },
  {
    name: "OPEN without optional parameters",
    opts: AS4,
    hex: msg(1, "04 fde9 00b4 0a000001 00"),
    object: { type: "OPEN", version: 4, myAs: 65001, holdTime: 180, bgpId: "10.0.0.1", capabilities: [] },
    direction: "both",
  },
  {
    name: "OPEN, 4-octet AS with AS_TRANS, all capabilities in one parameter (BIRD style)",
    opts: AS4,
    hex: msg(
      1,
      "04 5ba0 005a c0000201" +
        params(
          "02" +
            withLen(
              "01 04 0001 00 01" + // Multiprotocol IPv4 unicast
                "01 04 0002 00 01" + // Multiprotocol IPv6 unicast
                "02 00" + // Route Refresh
                "46 00" + // Enhanced Route Refresh
                "40 06 8078 0001 01 80" + // Graceful Restart: R, 120 s, IPv4 unicast F
                "41 04 fa56ea01" + // 4-octet AS 4200000001
                "05 06 0001 0001 0002", // Extended Next Hop: IPv4 unicast over IPv6
            ),
        ),
    ),
    object: {
      type: "OPEN",
      version: 4,
      myAs: 23456,
      holdTime: 90,
      bgpId: "192.0.2.1",
      capabilities: [
        { kind: "multiprotocol", afi: 1, safi: 1 },
        { kind: "multiprotocol", afi: 2, safi: 1 },
        { kind: "route-refresh" },
        { kind: "enhanced-route-refresh" },
        {
          kind: "graceful-restart",
          restarting: true,
          notification: false,
          restartTime: 120,
          families: [{ afi: 1, safi: 1, forwarding: true }],
        },
        { kind: "four-octet-as", asn: 4200000001 },
        { kind: "extended-next-hop", entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
      ],
    },
    direction: "both",
  },
  {
    name: "OPEN, one capability per parameter, old Cisco route refresh, FQDN, an unknown code (FRR style)",
    opts: AS4,
    hex: msg(
      1,
      "04 fdea 0009 c0000202" +
        params(
          "02 06 01 04 0001 00 01" +
            "02 02 80 00" + // Route Refresh (Cisco, code 128)
            "02 06 41 04 0000fdea" +
            "02 09 49 07 05 6e6f646532 00" + // FQDN hostname "node2", empty domain
            "02 05 ee 03 010203", // an unassigned capability code, kept raw
        ),
    ),
    object: {
      type: "OPEN",
      version: 4,
      myAs: 65002,
      holdTime: 9,
      bgpId: "192.0.2.2",
      capabilities: [
        { kind: "multiprotocol", afi: 1, safi: 1 },
        { kind: "route-refresh-old" },
        { kind: "four-octet-as", asn: 65002 },
        { kind: "fqdn", hostname: "node2", domain: "" },
        { kind: "unknown", code: 0xee, data: Buffer.from("010203", "hex") },
      ],
    },
    direction: "decode",
  },
  {
    name: "UPDATE IPv4, 2-octet AS session (RFC 4271 layout)",
    opts: AS2,
    hex: update("", ORIGIN_IGP + attr(0x40, 2, "02 01 fdea") + NEXT_HOP_2, "18 0a0100"),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: "192.0.2.2" },
      nlri: ["10.1.0.0/24"],
    },
    direction: "both",
  },
  {
    name: "UPDATE withdrawal only",
    opts: AS4,
    hex: update("10 0a09 20 c0000201", "", ""),
    object: { type: "UPDATE", withdrawn: ["10.9.0.0/16", "192.0.2.1/32"], attributes: {}, nlri: [] },
    direction: "both",
  },
  {
    name: "UPDATE End-of-RIB IPv4 unicast (RFC 4724 §2: empty UPDATE)",
    opts: AS4,
    hex: update("", "", ""),
    object: { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] },
    direction: "both",
  },
  {
    name: "UPDATE End-of-RIB IPv6 unicast (empty MP_UNREACH_NLRI)",
    opts: AS4,
    hex: update("", attr(0x80, 15, "0002 01"), ""),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: {},
      nlri: [],
      mpUnreach: { afi: 2, safi: 1, withdrawn: [] },
    },
    direction: "both",
  },
  {
    name: "UPDATE every modelled attribute, 4-octet AS, IPv4 NLRI incl. default route",
    opts: AS4,
    hex: update(
      "",
      ORIGIN_IGP +
        attr(0x40, 2, "02 02 0000fde9 fa56ea01  01 02 0000fdea 0000fdeb  03 01 0000fdec") +
        NEXT_HOP_2 +
        attr(0x80, 4, "00000064") +
        attr(0x40, 5, "000000c8") +
        attr(0x40, 6, "") +
        attr(0xc0, 7, "0000fde9 c0000201") +
        attr(0xc0, 8, "ffffff01 fde90064") +
        attr(0x80, 9, "0a000001") +
        attr(0x80, 10, "0a000002 0a000003") +
        attr(0xc0, 16, "0002fde800000064") +
        attr(0xc0, 32, "0000fde9 00000001 00000002") +
        attr(0xe0, 99, "abcd"), // unknown optional transitive, Partial set
      "00 08 0a 18 c0a800",
    ),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [
          { type: 2, asns: [65001, 4200000001] },
          { type: 1, asns: [65002, 65003] },
          { type: 3, asns: [65004] },
        ],
        nextHop: "192.0.2.2",
        med: 100,
        localPref: 200,
        atomicAggregate: true,
        aggregator: { asn: 65001, address: "192.0.2.1" },
        communities: [0xffffff01, 0xfde90064],
        originatorId: "10.0.0.1",
        clusterList: ["10.0.0.2", "10.0.0.3"],
        extendedCommunities: [0x0002fde800000064n],
        largeCommunities: [{ global: 65001, local1: 1, local2: 2 }],
        unknown: [{ flags: 0xe0, type: 99, value: Buffer.from("abcd", "hex") }],
      },
      nlri: ["0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/24"],
    },
    direction: "both",
  },
  {
    name: "UPDATE IPv6 in MP_REACH_NLRI, 32-octet next hop (global + link-local), iBGP empty AS_PATH",
    opts: AS4,
    hex: update(
      "",
      attr(
        0x80,
        14,
        "0002 01 20 20010db8000000000000000000000001 fe800000000000000000000000000001 00 30 20010db80001 00",
      ) +
        ORIGIN_IGP +
        attr(0x40, 2, ""),
      "",
    ),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: 0, asPath: [] },
      nlri: [],
      mpReach: {
        afi: 2,
        safi: 1,
        nextHop: "2001:db8::1",
        nextHopLinkLocal: "fe80::1",
        nlri: ["2001:db8:1::/48", "::/0"],
      },
    },
    direction: "both",
  },
  {
    name: "UPDATE IPv6 withdrawal in MP_UNREACH_NLRI with a /128 and a /64",
    opts: AS4,
    hex: update("", attr(0x80, 15, "0002 01 80 20010db8000000000000000000000001 40 20010db800000001"), ""),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: {},
      nlri: [],
      mpUnreach: { afi: 2, safi: 1, withdrawn: ["2001:db8::1/128", "2001:db8:0:1::/64"] },
    },
    direction: "both",
  },
  {
    name: "UPDATE IPv4 NLRI with an IPv6 next hop (RFC 8950), 16-octet next hop",
    opts: { fourOctetAs: true, extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
    hex: update(
      "",
      attr(0x80, 14, "0001 01 10 20010db8000000000000000000000002 00 18 0a0200") +
        ORIGIN_IGP +
        attr(0x40, 2, "02 01 0000fdea"),
      "",
    ),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }] },
      nlri: [],
      mpReach: { afi: 1, safi: 1, nextHop: "2001:db8::2", nlri: ["10.2.0.0/24"] },
    },
    direction: "both",
  },
  {
    name: "UPDATE from a 2-octet peer with AS4_PATH and AS4_AGGREGATOR (RFC 6793)",
    opts: AS2,
    hex: update(
      "",
      ORIGIN_IGP +
        attr(0x40, 2, "02 02 fdea 5ba0") +
        NEXT_HOP_2 +
        attr(0xc0, 7, "5ba0 c0000209") +
        attr(0xc0, 17, "02 01 fa56ea01") +
        attr(0xc0, 18, "fa56ea01 c0000209"),
      "18 0a0300",
    ),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [{ type: 2, asns: [65002, 23456] }],
        nextHop: "192.0.2.2",
        aggregator: { asn: 23456, address: "192.0.2.9" },
        as4Path: [{ type: 2, asns: [4200000001] }],
        as4Aggregator: { asn: 4200000001, address: "192.0.2.9" },
      },
      nlri: ["10.3.0.0/24"],
    },
    direction: "both",
  },
  {
    name: "UPDATE with an extended-length attribute (COMMUNITIES of 70 values, RFC 4271 §4.3 flag 0x10)",
    opts: AS4,
    hex: update(
      "",
      ORIGIN_IGP + attr(0x40, 2, "") + NEXT_HOP_2 + attr(0xd0, 8, "fde90001".repeat(70)),
      "20 0a000001",
    ),
    object: {
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        origin: 0,
        asPath: [],
        nextHop: "192.0.2.2",
        communities: new Array<number>(70).fill(0xfde90001),
      },
      nlri: ["10.0.0.1/32"],
    },
    direction: "both",
  },
];
