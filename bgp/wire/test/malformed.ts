// The malformed-message corpus: each case names the exact outcome it must
// produce — the NOTIFICATION (code/subcode/data) of a session reset, or the
// RFC 7606 treat-as-withdraw / attribute-discard verdict with the attribute
// types involved. Hex is written from the RFC layouts (see hex.ts).

import type { CodecOptions } from "../types.js";
import { MARKER, attr, msg, update } from "./hex.js";

export type Outcome =
  /** Session reset: the NOTIFICATION to send. data is hex; omit it to not check the Data field. */
  | { notification: [code: number, subcode: number, data?: string] }
  /** The UPDATE is accepted; these attributes are treat-as-withdraw / discarded (types, in order). */
  | { treatAsWithdraw: boolean; withdraw: number[]; discard: number[] };

export interface MalformedCase {
  name: string;
  hex: string;
  opts?: CodecOptions;
  outcome: Outcome;
}

const ORIGIN = attr(0x40, 1, "00");
const AS_PATH = attr(0x40, 2, "02 01 0000fdea");
const AS_PATH_2 = attr(0x40, 2, "02 01 fdea");
const NEXT_HOP = attr(0x40, 3, "c0000202");
const NLRI = "18 0a0100";
const BASE = ORIGIN + AS_PATH + NEXT_HOP;

const reset = (code: number, subcode: number, data?: string): Outcome => ({
  notification: data === undefined ? [code, subcode] : [code, subcode, data],
});
const withdraw = (...types: number[]): Outcome => ({ treatAsWithdraw: true, withdraw: types, discard: [] });
const discard = (...types: number[]): Outcome => ({ treatAsWithdraw: false, withdraw: [], discard: types });
/**
 * One bad attribute (type, flags, value) and the RFC 7606 verdict on it
 * (treat-as-withdraw unless told): ORIGIN, AS_PATH or NEXT_HOP in its place
 * among the other two, any other type after all three.
 */
const badAttribute = (
  name: string,
  flags: number,
  type: number,
  value: string,
  verdict: (type: number) => Outcome = withdraw,
): MalformedCase => {
  const bad = attr(flags, type, value);
  const attrs =
    type <= 3 ? [ORIGIN, AS_PATH, NEXT_HOP].map((a, i) => (i + 1 === type ? bad : a)).join("") : BASE + bad;
  return { name, hex: update("", attrs, NLRI), outcome: verdict(type) };
};
/** The same from an OLD speaker (2-octet AS, RFC 6793 §4.2): after a 2-octet AS_PATH; attribute discard. */
const oldSpeakerDiscard = (name: string, flags: number, type: number, value: string): MalformedCase => ({
  name,
  hex: update("", ORIGIN + AS_PATH_2 + NEXT_HOP + attr(flags, type, value), NLRI),
  opts: { fourOctetAs: false },
  outcome: discard(type),
});
/** A session with an external peer (RFC 7606 §7.2, §7.5, §7.9, §7.10 treat its input apart). */
const EXTERNAL: CodecOptions = { fourOctetAs: true, external: true };

export const MALFORMED: MalformedCase[] = [
  // --- Message Header Error (RFC 4271 §6.1) ---
  { name: "marker not all ones", hex: "fe" + MARKER.slice(2) + "0013 04", outcome: reset(1, 1, "") },
  { name: "length 18 < 19", hex: MARKER + "0012 04", outcome: reset(1, 2, "0012") },
  { name: "length 4097 > 4096", hex: MARKER + "1001 02" + "00".repeat(4078), outcome: reset(1, 2, "1001") },
  { name: "type 0", hex: MARKER + "0013 00", outcome: reset(1, 3, "00") },
  { name: "type 6", hex: MARKER + "0013 06", outcome: reset(1, 3, "06") },
  { name: "KEEPALIVE of 20 octets", hex: MARKER + "0014 04 00", outcome: reset(1, 2, "0014") },
  {
    name: "OPEN shorter than 29",
    hex: MARKER + "001c 01" + "04fde900b40a000001",
    outcome: reset(1, 2, "001c"),
  },
  { name: "UPDATE shorter than 23", hex: MARKER + "0016 02 000000", outcome: reset(1, 2, "0016") },
  { name: "NOTIFICATION shorter than 21", hex: MARKER + "0014 03 06", outcome: reset(1, 2, "0014") },
  { name: "ROUTE-REFRESH of 24 octets", hex: MARKER + "0018 05 0001000100", outcome: reset(1, 2, "0018") },
  {
    name: "ROUTE-REFRESH of 24 octets with enhanced route refresh: 7/1 with the whole message (RFC 7313 §5)",
    hex: MARKER + "0018 05 0001000100",
    opts: { fourOctetAs: true, enhancedRouteRefresh: true },
    outcome: reset(7, 1, MARKER + "0018 05 0001000100"),
  },

  // --- OPEN Message Error (RFC 4271 §6.2, RFC 5492, RFC 7607) ---
  {
    name: "version 3: data is the 2-octet largest supported version",
    hex: msg(1, "03 fde9 00b4 0a000001 00"),
    outcome: reset(2, 1, "0004"),
  },
  { name: "hold time 1", hex: msg(1, "04 fde9 0001 0a000001 00"), outcome: reset(2, 6, "") },
  { name: "hold time 2", hex: msg(1, "04 fde9 0002 0a000001 00"), outcome: reset(2, 6, "") },
  { name: "BGP Identifier 0.0.0.0", hex: msg(1, "04 fde9 00b4 00000000 00"), outcome: reset(2, 3, "") },
  {
    name: "My Autonomous System 0 (RFC 7607)",
    hex: msg(1, "04 0000 00b4 0a000001 00"),
    outcome: reset(2, 2, ""),
  },
  {
    name: "4-octet AS capability with AS 0",
    hex: msg(1, "04 5ba0 00b4 0a000001 08 02 06 41 04 00000000"),
    outcome: reset(2, 2, ""),
  },
  {
    name: "optional parameter type 1 (authentication, deprecated)",
    hex: msg(1, "04 fde9 00b4 0a000001 04 01 02 0000"),
    outcome: reset(2, 4, ""),
  },
  {
    name: "Opt Parm Len beyond the message",
    hex: msg(1, "04 fde9 00b4 0a000001 09 02 06 41 04 0000fde9"),
    outcome: reset(2, 0),
  },
  {
    name: "parameter length beyond Opt Parm Len",
    hex: msg(1, "04 fde9 00b4 0a000001 04 02 05 4104 00"),
    outcome: reset(2, 0),
  },
  {
    name: "Multiprotocol capability of 3 octets",
    hex: msg(1, "04 fde9 00b4 0a000001 05 02 03 01 01 00"),
    outcome: reset(2, 0),
  },
  {
    name: "capability length beyond its parameter",
    hex: msg(1, "04 fde9 00b4 0a000001 04 02 02 01 04"),
    outcome: reset(2, 0),
  },

  // --- UPDATE: session reset (RFC 4271 §6.3 where RFC 7606 keeps it) ---
  { name: "Withdrawn Routes Length beyond the message", hex: msg(2, "0010 0000"), outcome: reset(3, 1, "") },
  {
    name: "Total Path Attribute Length beyond the message",
    hex: msg(2, "0000 0010 400101"),
    outcome: reset(3, 1, ""),
  },
  {
    name: "NLRI prefix length 33 (RFC 7606 §5.3)",
    hex: update("", BASE, "21 0a000000 00"),
    outcome: reset(3, 10, ""),
  },
  { name: "NLRI prefix runs past the message", hex: update("", BASE, "18 0a01"), outcome: reset(3, 10, "") },
  { name: "withdrawn prefix length 40", hex: update("28 0a00000000", "", ""), outcome: reset(3, 10, "") },
  {
    name: "unrecognized well-known attribute: data is the attribute",
    hex: update("", BASE + attr(0x40, 99, "abcd"), NLRI),
    outcome: reset(3, 2, "4063 02 abcd"),
  },
  {
    name: "MP_REACH_NLRI twice (RFC 7606 §3.g)",
    hex: update(
      "",
      attr(0x80, 14, "0002 01 10 20010db8000000000000000000000001 00") +
        attr(0x80, 14, "0002 01 10 20010db8000000000000000000000001 00") +
        ORIGIN +
        AS_PATH,
      "",
    ),
    outcome: reset(3, 1, ""),
  },
  {
    name: "MP_UNREACH_NLRI twice (RFC 7606 §3.g)",
    hex: update("", attr(0x80, 15, "0002 01") + attr(0x80, 15, "0002 01"), ""),
    outcome: reset(3, 1, ""),
  },
  {
    name: "MP_REACH_NLRI of 3 octets",
    hex: update("", attr(0x80, 14, "0002 01"), ""),
    outcome: reset(3, 9, ""),
  },
  {
    name: "MP_REACH_NLRI IPv6 next hop length 8 (RFC 7606 §7.11)",
    hex: update("", attr(0x80, 14, "0002 01 08 20010db800000000 00 30 20010db80001") + ORIGIN + AS_PATH, ""),
    outcome: reset(3, 9, ""),
  },
  {
    name: "MP_REACH_NLRI IPv4 NLRI with IPv6 next hop not negotiated (RFC 8950)",
    hex: update(
      "",
      attr(0x80, 14, "0001 01 10 20010db8000000000000000000000001 00 18 0a0100") + ORIGIN + AS_PATH,
      "",
    ),
    outcome: reset(3, 9, ""),
  },
  {
    name: "MP_REACH_NLRI next hop length beyond the attribute",
    hex: update("", attr(0x80, 14, "0002 01 20 20010db8000000000000000000000001"), ""),
    outcome: reset(3, 9, ""),
  },
  {
    name: "MP_REACH_NLRI IPv6 prefix length 129",
    hex: update(
      "",
      attr(0x80, 14, "0002 01 10 20010db8000000000000000000000001 00 81 " + "00".repeat(17)) +
        ORIGIN +
        AS_PATH,
      "",
    ),
    outcome: reset(3, 9, ""),
  },
  {
    name: "MP_UNREACH_NLRI of 2 octets",
    hex: update("", attr(0x80, 15, "0002"), ""),
    outcome: reset(3, 9, ""),
  },
  {
    name: "MP_UNREACH_NLRI truncated prefix",
    hex: update("", attr(0x80, 15, "0002 01 40 20010db8"), ""),
    outcome: reset(3, 9, ""),
  },

  // --- UPDATE: treat-as-withdraw (RFC 7606 §2, §3, §4, §7) ---
  badAttribute("ORIGIN value 3 (§7.1)", 0x40, 1, "03"),
  badAttribute("ORIGIN of 2 octets (§7.1)", 0x40, 1, "0000"),
  badAttribute("ORIGIN flagged optional (§3.c attribute flags)", 0xc0, 1, "00"),
  badAttribute("AS_PATH segment overruns the attribute (§7.2)", 0x40, 2, "02 02 0000fdea"),
  badAttribute("AS_PATH segment of length zero (§7.2)", 0x40, 2, "02 00"),
  badAttribute("AS_PATH one octet left after a segment (§7.2)", 0x40, 2, "02 01 0000fdea 02"),
  badAttribute("AS_PATH segment type 5 (§7.2)", 0x40, 2, "05 01 0000fdea"),
  {
    name: "AS_PATH of 2-octet ASNs on a 4-octet session is an overrun (§7.2)",
    hex: update("", ORIGIN + attr(0x40, 2, "02 02 fdea fdeb") + NEXT_HOP, NLRI).replace(
      "0202fdeafdeb",
      "0203fdeafdeb",
    ),
    outcome: withdraw(2),
  },
  {
    ...badAttribute(
      "AS_CONFED_SEQUENCE from an external peer (§7.2)",
      0x40,
      2,
      "03 01 0000fdea 02 01 0000fdeb",
    ),
    opts: EXTERNAL,
  },
  badAttribute("AS 0 in AS_PATH (RFC 7607 §2)", 0x40, 2, "02 02 0000fdea 00000000"),
  badAttribute("NEXT_HOP of 5 octets (§7.3)", 0x40, 3, "c000020200"),
  badAttribute("NEXT_HOP 0.0.0.0 (§7.3)", 0x40, 3, "00000000"),
  badAttribute("NEXT_HOP multicast 224.0.0.5 (§7.3)", 0x40, 3, "e0000005"),
  badAttribute("MULTI_EXIT_DISC of 3 octets (§7.4)", 0x80, 4, "000001"),
  badAttribute("LOCAL_PREF of 2 octets (§7.5)", 0x40, 5, "0064"),
  badAttribute("COMMUNITIES of 0 octets (§7.8)", 0xc0, 8, ""),
  badAttribute("COMMUNITIES of 6 octets (§7.8)", 0xc0, 8, "fde900640000"),
  badAttribute("COMMUNITIES flagged non-transitive (§3.c)", 0x80, 8, "fde90064"),
  badAttribute("ORIGINATOR_ID of 5 octets (§7.9)", 0x80, 9, "0a00000100"),
  badAttribute("CLUSTER_LIST of 6 octets (§7.10)", 0x80, 10, "0a0000010a00"),
  badAttribute("EXTENDED_COMMUNITIES of 4 octets (§7.14)", 0xc0, 16, "00020000"),
  badAttribute("LARGE_COMMUNITY of 8 octets (RFC 8092 §6)", 0xc0, 32, "0000fde900000001"),
  { name: "missing ORIGIN (§3.d)", hex: update("", AS_PATH + NEXT_HOP, NLRI), outcome: withdraw(1) },
  { name: "missing AS_PATH (§3.d)", hex: update("", ORIGIN + NEXT_HOP, NLRI), outcome: withdraw(2) },
  {
    name: "missing NEXT_HOP with NLRI (§3.d)",
    hex: update("", ORIGIN + AS_PATH, NLRI),
    outcome: withdraw(3),
  },
  {
    name: "missing ORIGIN and AS_PATH with MP_REACH_NLRI NLRI (§3.d)",
    hex: update("", attr(0x80, 14, "0002 01 10 20010db8000000000000000000000001 00 30 20010db80001"), ""),
    outcome: withdraw(1, 2),
  },
  {
    name: "attribute length beyond Total Path Attribute Length (§4, first case)",
    hex: update("", ORIGIN + AS_PATH + "400304c00002", NLRI).replace(/0012(400101)/, "0010$1"),
    outcome: withdraw(3),
  },
  {
    name: "fewer than 3 octets left for an attribute header (§4, second case)",
    hex: update("", BASE + "4001", NLRI),
    outcome: withdraw(0),
  },
  {
    name: "MP_REACH_NLRI IPv6 next hop :: (treat-as-withdraw, NLRI parsed, §7.11)",
    hex: update(
      "",
      attr(0x80, 14, "0002 01 10 " + "00".repeat(16) + " 00 30 20010db80001") + ORIGIN + AS_PATH,
      "",
    ),
    outcome: withdraw(14),
  },
  {
    name: "flag error and a later attribute discard: withdraw wins, both reported (all attributes parsed, then decide)",
    hex: update("", attr(0xc0, 1, "00") + AS_PATH + NEXT_HOP + attr(0x40, 6, "00"), NLRI),
    outcome: { treatAsWithdraw: true, withdraw: [1], discard: [6] },
  },

  // --- UPDATE: attribute discard ---
  badAttribute("ATOMIC_AGGREGATE of 1 octet (§7.6)", 0x40, 6, "00", discard),
  badAttribute("AGGREGATOR of 7 octets on a 4-octet session (§7.7)", 0xc0, 7, "0000fde9c00002", discard),
  oldSpeakerDiscard("AGGREGATOR of 8 octets on a 2-octet session (§7.7)", 0xc0, 7, "0000fde9c0000201"),
  badAttribute("AGGREGATOR with AS 0 (RFC 7607 §2)", 0xc0, 7, "00000000 c0000201", discard),
  oldSpeakerDiscard(
    "AS4_PATH with AS 0 from a 2-octet peer (RFC 7607 §2, RFC 6793 §6)",
    0xc0,
    17,
    "02 01 00000000",
  ),
  {
    name: "duplicate COMMUNITIES: the second is dropped (§3.g)",
    hex: update("", BASE + attr(0xc0, 8, "fde90001") + attr(0xc0, 8, "fde90002"), NLRI),
    outcome: discard(8),
  },
  badAttribute("AS4_PATH on a 4-octet session (RFC 6793)", 0xc0, 17, "02 01 fa56ea01", discard),
  oldSpeakerDiscard(
    "AS4_PATH with a confederation segment from a 2-octet peer (RFC 6793 §6)",
    0xc0,
    17,
    "03 01 fa56ea01",
  ),
  oldSpeakerDiscard("AS4_AGGREGATOR of 6 octets from a 2-octet peer (RFC 6793 §6)", 0xc0, 18, "fde9c0000201"),
  {
    ...badAttribute("LOCAL_PREF from an external peer (§7.5)", 0x40, 5, "00000064", discard),
    opts: EXTERNAL,
  },
  {
    name: "ORIGINATOR_ID and CLUSTER_LIST from an external peer (§7.9, §7.10)",
    hex: update("", BASE + attr(0x80, 9, "0a000001") + attr(0x80, 10, "0a000001"), NLRI),
    opts: EXTERNAL,
    outcome: discard(9, 10),
  },
  {
    name: "MP_REACH_NLRI of a family not negotiated is ignored",
    hex: update(
      "",
      attr(0x80, 14, "0002 01 10 20010db8000000000000000000000001 00 30 20010db80001") + ORIGIN + AS_PATH,
      "",
    ),
    opts: { fourOctetAs: true, families: [{ afi: 1, safi: 1 }] },
    outcome: discard(14),
  },
  {
    name: "malformed attribute in a withdrawal-only UPDATE: nothing to withdraw",
    hex: update("18 0a0100", attr(0x40, 1, "07"), ""),
    outcome: { treatAsWithdraw: false, withdraw: [1], discard: [] },
  },

  // --- accepted as is ---
  {
    name: "malformed NEXT_HOP beside MP_REACH_NLRI only is ignored, not a withdraw (RFC 4760 §3)",
    hex: update(
      "",
      attr(0x80, 14, "0002 01 10 20010db8000000000000000000000001 00 30 20010db80001") +
        ORIGIN +
        AS_PATH +
        attr(0x40, 3, "00000000"),
      "",
    ),
    outcome: discard(3),
  },
  {
    name: "NEXT_HOP is not required with MP_REACH_NLRI only (RFC 4760 §3)",
    hex: update(
      "",
      attr(0x80, 14, "0002 01 10 20010db8000000000000000000000001 00 30 20010db80001") + ORIGIN + AS_PATH,
      "",
    ),
    outcome: { treatAsWithdraw: false, withdraw: [], discard: [] },
  },
  {
    name: "host bits set after the prefix length are ignored (RFC 4271 §4.3 trailing bits)",
    hex: update("", BASE, "18 0a0101"),
    outcome: { treatAsWithdraw: false, withdraw: [], discard: [] },
  },
  {
    name: "unknown optional attribute is kept",
    hex: update("", BASE + attr(0xc0, 200, "01"), NLRI),
    outcome: { treatAsWithdraw: false, withdraw: [], discard: [] },
  },
];
