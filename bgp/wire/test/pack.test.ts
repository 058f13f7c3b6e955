import { describe, expect, it } from "@jest/globals";
import {
  attributeKey,
  decodeMessage,
  encodeMessage,
  endOfRib,
  forwardableAttributes,
  formatAttributes,
  isEndOfRib,
  packUpdates,
  splitUpdate,
} from "../index.js";
import type { CodecOptions, PathAttributes, UpdateMessage } from "../index.js";

const AS4: CodecOptions = { fourOctetAs: true };
const attrs: PathAttributes = {
  origin: 0,
  asPath: [{ type: 2, asns: [65001] }],
  nextHop: "192.0.2.1",
  communities: [0xfde90064],
  largeCommunities: [{ global: 65001, local1: 1, local2: 2 }],
};

function v4(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
}
function v4slash16(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${11 + (i >> 8)}.${i & 255}.0.0/16`);
}
function v6(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `2001:db8:${(i + 1).toString(16)}::/48`);
}
function decodeAll(bufs: Buffer[], opts: CodecOptions = AS4): UpdateMessage[] {
  return bufs.map((b) => {
    const m = decodeMessage(b, opts);
    if (m.type !== "UPDATE") throw new Error("not an UPDATE");
    return m;
  });
}

describe("packUpdates", () => {
  it("packs 5000 IPv4 /24s sharing attributes into full 4096-octet UPDATEs", () => {
    const prefixes = v4(5000);
    const out = packUpdates(attrs, prefixes, [], AS4);
    const body = 4096 - 23 - (out[0] as Buffer).readUInt16BE(21);
    // Each /24 takes 4 octets: as few messages as fit.
    expect(out.length).toBe(Math.ceil(5000 / Math.floor(body / 4)));
    for (const b of out) expect(b.length).toBeLessThanOrEqual(4096);
    const msgs = decodeAll(out);
    expect(msgs.flatMap((m) => m.nlri)).toEqual(prefixes);
    for (const m of msgs) expect(m.attributes).toEqual(attrs);
  });

  it("packs IPv6 prefixes into MP_REACH_NLRI with a 32-octet next hop, as the first attribute", () => {
    const prefixes = v6(2000);
    const out = packUpdates(
      { ...attrs, nextHop: "2001:db8::1", nextHopLinkLocal: "fe80::1" },
      prefixes,
      [],
      AS4,
    );
    for (const b of out) {
      expect(b.length).toBeLessThanOrEqual(4096);
      expect(b.readUInt8(24)).toBe(14); // first attribute type (RFC 7606 §5.1)
    }
    const msgs = decodeAll(out);
    expect(msgs.flatMap((m) => m.mpReach?.nlri ?? [])).toEqual(prefixes);
    expect(msgs[0]?.mpReach?.nextHop).toBe("2001:db8::1");
    expect(msgs[0]?.mpReach?.nextHopLinkLocal).toBe("fe80::1");
    expect(msgs[0]?.attributes.nextHop).toBeUndefined();
    expect(msgs.every((m) => m.nlri.length === 0)).toBe(true);
  });

  it("puts withdrawals first: IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI", () => {
    const out = packUpdates(attrs, v4(3), [...v4slash16(2000), ...v6(1500)], AS4);
    const msgs = decodeAll(out);
    const w4 = msgs.flatMap((m) => m.withdrawn);
    const w6 = msgs.flatMap((m) => m.mpUnreach?.withdrawn ?? []);
    expect(w4).toEqual(v4slash16(2000));
    expect(w6).toEqual(v6(1500));
    expect(msgs[msgs.length - 1]?.nlri).toEqual(v4(3));
    for (const b of out) expect(b.length).toBeLessThanOrEqual(4096);
  });

  it("sends IPv4 prefixes with an IPv6 next hop in MP_REACH_NLRI AFI 1 only when RFC 8950 was negotiated", () => {
    const a = { ...attrs, nextHop: "2001:db8::1" };
    expect(() => packUpdates(a, ["10.0.0.0/24"], [], AS4)).toThrow(TypeError);
    const opts: CodecOptions = { fourOctetAs: true, extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }] };
    const [m] = decodeAll(packUpdates(a, ["10.0.0.0/24"], [], opts), opts);
    expect(m?.mpReach).toEqual({ afi: 1, safi: 1, nextHop: "2001:db8::1", nlri: ["10.0.0.0/24"] });
  });

  it("uses an IPv4-mapped next hop for IPv6 prefixes over an IPv4 next hop", () => {
    const [m] = decodeAll(packUpdates(attrs, ["2001:db8::/32"], [], AS4));
    expect(m?.mpReach?.nextHop).toBe("::ffff:c000:201");
  });

  it("uses up to 65535 octets with Extended Message (RFC 8654)", () => {
    const out = packUpdates(attrs, v4(20000), [], { fourOctetAs: true, extendedMessage: true });
    expect(out.length).toBe(2);
    expect((out[0] as Buffer).length).toBeGreaterThan(60000);
  });

  it("returns nothing for nothing", () => {
    expect(packUpdates(attrs, [], [], AS4)).toEqual([]);
  });
});

describe("End-of-RIB (RFC 4724 §2)", () => {
  it.each([
    [{ afi: 1, safi: 1 }, "ffffffffffffffffffffffffffffffff0017020000" + "0000"],
    [{ afi: 2, safi: 1 }, "ffffffffffffffffffffffffffffffff001d02000000068" + "00f03000201"],
  ])("%j", (fam, hex) => {
    const b = encodeMessage(endOfRib(fam), AS4);
    expect(b.toString("hex")).toBe(hex);
    const m = decodeMessage(b, AS4);
    expect(m.type === "UPDATE" && isEndOfRib(m)).toEqual(fam);
  });
  it("an UPDATE with routes is not End-of-RIB", () => {
    const [b] = packUpdates(attrs, ["10.0.0.0/8"], [], AS4);
    const m = decodeMessage(b as Buffer, AS4);
    expect(m.type === "UPDATE" && isEndOfRib(m)).toBeNull();
  });
});

describe("splitUpdate", () => {
  it("groups NLRI with NEXT_HOP and MP_REACH with its own next hop", () => {
    const m: UpdateMessage = {
      type: "UPDATE",
      withdrawn: ["10.9.0.0/16"],
      attributes: attrs,
      nlri: ["10.0.0.0/24"],
      mpReach: {
        afi: 2,
        safi: 1,
        nextHop: "2001:db8::1",
        nextHopLinkLocal: "fe80::1",
        nlri: ["2001:db8::/32"],
      },
      mpUnreach: { afi: 2, safi: 1, withdrawn: ["2001:db8:9::/48"] },
    };
    const s = splitUpdate(m);
    expect(s.withdrawn).toEqual(["10.9.0.0/16", "2001:db8:9::/48"]);
    expect(s.announced).toEqual([
      { attrs, prefixes: ["10.0.0.0/24"] },
      {
        attrs: { ...attrs, nextHop: "2001:db8::1", nextHopLinkLocal: "fe80::1" },
        prefixes: ["2001:db8::/32"],
      },
    ]);
  });
  it("treat-as-withdraw turns every announced prefix into a withdrawal (RFC 7606 §2)", () => {
    const m: UpdateMessage = {
      type: "UPDATE",
      withdrawn: [],
      attributes: {},
      nlri: ["10.0.0.0/24"],
      mpReach: { afi: 2, safi: 1, nextHop: "2001:db8::1", nlri: ["2001:db8::/32"] },
      treatAsWithdraw: true,
    };
    expect(splitUpdate(m)).toEqual({ withdrawn: ["10.0.0.0/24", "2001:db8::/32"], announced: [] });
  });
});

describe("attributeKey", () => {
  it("is equal for equal sets however the object was built", () => {
    const a: PathAttributes = { origin: 0, nextHop: "192.0.2.1", asPath: [{ type: 2, asns: [1] }] };
    const b: PathAttributes = { asPath: [{ type: 2, asns: [1] }], nextHop: "192.0.2.1", origin: 0 };
    expect(attributeKey(a)).toBe(attributeKey(b));
  });
  it.each<[string, PathAttributes]>([
    ["next hop", { ...attrs, nextHop: "192.0.2.2" }],
    ["IPv6 next hop", { ...attrs, nextHop: "2001:db8::1" }],
    ["link-local next hop", { ...attrs, nextHop: "2001:db8::1", nextHopLinkLocal: "fe80::1" }],
    ["community", { ...attrs, communities: [1] }],
    ["MED", { ...attrs, med: 0 }],
    ["unknown attribute", { ...attrs, unknown: [{ flags: 0xc0, type: 99, value: Buffer.from([1]) }] }],
  ])("differs when the %s differs", (_n, other) => {
    expect(attributeKey(other)).not.toBe(attributeKey(attrs));
  });
});

describe("forwardableAttributes (RFC 4271 §5: unknown optional transitive passed on with Partial)", () => {
  it("sets Partial on optional transitive and drops optional non-transitive unknowns", () => {
    const a: PathAttributes = {
      origin: 0,
      unknown: [
        { flags: 0xc0, type: 99, value: Buffer.from([1]) },
        { flags: 0x80, type: 98, value: Buffer.from([2]) },
      ],
    };
    expect(forwardableAttributes(a)).toEqual({
      origin: 0,
      unknown: [{ flags: 0xe0, type: 99, value: Buffer.from([1]) }],
    });
    expect(
      forwardableAttributes({ origin: 0, unknown: [{ flags: 0x80, type: 98, value: Buffer.alloc(0) }] }),
    ).toEqual({
      origin: 0,
    });
  });
});

describe("formatAttributes", () => {
  it("prints one line per attribute, in type order", () => {
    expect(
      formatAttributes({
        ...attrs,
        asPath: [
          { type: 2, asns: [65001, 65002] },
          { type: 1, asns: [65003, 65004] },
        ],
        communities: [0xffffff01, 0xfde90064],
        extendedCommunities: [0x0002fde800000064n],
      }),
    ).toEqual([
      "ORIGIN: IGP",
      "AS_PATH: 65001 65002 {65003 65004}",
      "NEXT_HOP: 192.0.2.1",
      "COMMUNITIES: no-export 65001:100",
      "EXTENDED_COMMUNITIES: rt:65000:100",
      "LARGE_COMMUNITY: 65001:1:2",
    ]);
  });
});
