// Real OPENs and UPDATEs from BIRD 2.0.12, GoBGP 3.10 and FRR 8.4, recorded
// by capture/capture.sh (their configs are in that script). Each must decode
// to the object recorded with it, survive a semantic round trip, and show the
// facts we configured the daemon to send.
import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { decodeMessage, encodeMessage, mergeAs4, negotiate } from "../index.js";
import type { BgpMessage, CodecOptions, OpenMessage, UpdateMessage } from "../index.js";
import { OUR_OPEN, OUR_OPEN_AS2 } from "./capture/our-open.js";

interface Capture {
  received: { hex: string; type: string; summary: unknown }[];
}

const dir = new URL("../../../../bgp/wire/test/fixtures/captured/", import.meta.url);
function load(
  name: string,
  ours: OpenMessage = OUR_OPEN,
): { msgs: BgpMessage[]; raw: Buffer[]; opts: CodecOptions; file: Capture } {
  const file = JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as Capture;
  const raw = file.received.map((r) => Buffer.from(r.hex, "hex"));
  const open = decodeMessage(raw[0] as Buffer, { fourOctetAs: false }) as OpenMessage;
  const opts = negotiate(ours, open, { external: true }).options;
  return { msgs: raw.map((b) => decodeMessage(b, opts)), raw, opts, file };
}
const json = (m: unknown): unknown =>
  JSON.parse(JSON.stringify(m, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
const updates = (msgs: BgpMessage[]) => msgs.filter((m): m is UpdateMessage => m.type === "UPDATE");

describe.each(["bird", "bird-as2", "gobgp", "frr"])("captured from %s", (name) => {
  const c = load(name, name === "bird-as2" ? OUR_OPEN_AS2 : OUR_OPEN);
  it("decodes every message to the recorded object", () => {
    expect(c.msgs.map(json)).toEqual(c.file.received.map((r) => r.summary));
  });
  it("round-trips every message semantically", () => {
    for (const m of c.msgs) expect(decodeMessage(encodeMessage(m, c.opts), c.opts)).toEqual(m);
  });
  it("has no attribute errors in any UPDATE", () => {
    for (const u of updates(c.msgs)) expect(u.discarded).toBeUndefined();
  });
});

describe("facts of each capture", () => {
  it("BIRD: 4-octet AS 4200000002 behind AS_TRANS, End-of-RIB for both families, MED and communities", () => {
    const { msgs, raw } = load("bird");
    const open = msgs[0] as OpenMessage;
    expect(open.myAs).toBe(23456);
    expect(open.capabilities).toContainEqual({ kind: "four-octet-as", asn: 4200000002 });
    const u = updates(msgs);
    const v4 = u.find((m) => m.nlri.length > 0);
    expect(v4?.nlri).toEqual(["10.20.0.0/24", "10.20.1.0/24"]);
    expect(v4?.attributes).toMatchObject({
      asPath: [{ type: 2, asns: [4200000002] }],
      med: 50,
      communities: [65002 * 65536 + 7],
      largeCommunities: [{ global: 4200000002, local1: 1, local2: 2 }],
    });
    expect(u.find((m) => m.mpReach)?.mpReach).toMatchObject({
      nextHop: "2001:db8::2",
      nlri: ["2001:db8:20::/48"],
    });
    // BIRD's End-of-RIB markers are exactly the RFC 4724 forms we encode.
    expect(raw.filter((b) => b.length === 23 || b.length === 29).map((b) => b.toString("hex"))).toEqual([
      encodeMessage(
        { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] },
        { fourOctetAs: true },
      ).toString("hex"),
      encodeMessage(
        {
          type: "UPDATE",
          withdrawn: [],
          attributes: {},
          nlri: [],
          mpUnreach: { afi: 2, safi: 1, withdrawn: [] },
        },
        { fourOctetAs: true },
      ).toString("hex"),
    ]);
  });
  it("BIRD to a 2-octet speaker: AS_TRANS in AS_PATH, the real path in AS4_PATH, merged back (RFC 6793)", () => {
    const { msgs, opts } = load("bird-as2", OUR_OPEN_AS2);
    expect(opts.fourOctetAs).toBe(false);
    const u = updates(msgs).find((m) => m.nlri.length > 0);
    expect(u?.attributes.asPath).toEqual([{ type: 2, asns: [23456] }]);
    expect(u?.attributes.as4Path).toEqual([{ type: 2, asns: [4200000002] }]);
    expect(mergeAs4(u?.attributes ?? {}).asPath).toEqual([{ type: 2, asns: [4200000002] }]);
  });
  it("GoBGP: all capabilities in one Optional Parameter, RFC 8950 capability, ORIGIN incomplete", () => {
    const { msgs, raw } = load("gobgp");
    const open = raw[0] as Buffer;
    expect(open.readUInt8(29)).toBe(2); // one Capabilities parameter spanning Opt Parm Len
    expect(open.readUInt8(30)).toBe(open.readUInt8(28) - 2);
    expect((msgs[0] as OpenMessage).capabilities).toContainEqual({
      kind: "extended-next-hop",
      entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }],
    });
    const u = updates(msgs);
    expect(u.find((m) => m.nlri.includes("10.30.0.0/24"))?.attributes).toMatchObject({
      origin: 2,
      med: 10,
      communities: [65003 * 65536 + 9],
      largeCommunities: [{ global: 65003, local1: 1, local2: 1 }],
    });
    expect(u.find((m) => m.mpReach)?.mpReach?.nlri).toEqual(["2001:db8:30::/48"]);
  });
  it("FRR: one capability per parameter, ADD-PATH and FQDN, IPv4-mapped IPv6 next hop, route target, our routes echoed", () => {
    const { msgs, raw } = load("frr");
    // The first parameter holds only Multiprotocol IPv4 unicast (02 06 01 04 0001 00 01).
    expect((raw[0] as Buffer).subarray(29, 37).toString("hex")).toBe("0206010400010001");
    const caps = (msgs[0] as OpenMessage).capabilities;
    expect(caps.some((c) => c.kind === "add-path")).toBe(true);
    expect(caps.some((c) => c.kind === "fqdn")).toBe(true);
    const u = updates(msgs);
    expect(u.find((m) => m.mpReach)?.mpReach?.nextHop).toBe("::ffff:7f00:4");
    const tagged = u.find((m) => m.nlri.includes("10.40.0.0/24"));
    expect(tagged?.attributes.extendedCommunities).toEqual([0x0002fdec00000007n]);
    // FRR accepted what our encoder sent and passed it back with its AS prepended.
    const echoed = u.find((m) => m.nlri.includes("198.51.100.0/24"));
    expect(echoed?.attributes.asPath).toEqual([{ type: 2, asns: [65004, 65001] }]);
    expect(echoed?.nlri).toEqual(["198.51.100.0/24", "203.0.113.0/25"]);
    // Its outbound route-map replaced the large community we sent.
    expect(echoed?.attributes.largeCommunities).toEqual([{ global: 65004, local1: 2, local2: 3 }]);
  });
});
