import { describe, expect, it } from "@jest/globals";
import {
  canonicalIpv6,
  canonicalPrefix,
  isIpv4,
  isIpv6,
  decodePrefixes,
  encodePrefix,
  packUpdates,
  parsePrefix,
  prefixAfi,
  prefixEncodingLength,
} from "../index.js";
import { buf } from "./hex.js";

describe("prefix NLRI encoding (RFC 4271 §4.3: length in bits, minimal octets)", () => {
  const cases: [string, string][] = [
    ["0.0.0.0/0", "00"],
    ["10.0.0.0/8", "08 0a"],
    ["10.1.0.0/16", "10 0a01"],
    ["10.1.2.0/23", "17 0a0102"],
    ["10.1.2.0/24", "18 0a0102"],
    ["10.1.2.128/25", "19 0a010280"],
    ["192.0.2.1/32", "20 c0000201"],
    ["::/0", "00"],
    ["2001:db8::/32", "20 20010db8"],
    ["2001:db8:1::/48", "30 20010db80001"],
    ["2001:db8::1/128", "80 20010db8000000000000000000000001"],
    ["fe80::/10", "0a fe80"],
  ];
  it.each(cases)("%s <-> %s", (p, hex) => {
    const want = buf(hex);
    const out = Buffer.alloc(17);
    expect(encodePrefix(p, out, 0)).toBe(want.length);
    expect(out.subarray(0, want.length).toString("hex")).toBe(want.toString("hex"));
    expect(prefixEncodingLength(p)).toBe(want.length);
    const got: string[] = [];
    expect(decodePrefixes(want, 0, want.length, prefixAfi(p), got)).toBeUndefined();
    expect(got).toEqual([p]);
  });

  it("decodes a list back to back", () => {
    const b = buf("18 0a0100 10 0a02 00 20 c0000201");
    const out: string[] = [];
    expect(decodePrefixes(b, 0, b.length, 1, out)).toBeUndefined();
    expect(out).toEqual(["10.1.0.0/24", "10.2.0.0/16", "0.0.0.0/0", "192.0.2.1/32"]);
  });

  it("clears trailing host bits (the value of trailing bits is irrelevant)", () => {
    const out: string[] = [];
    expect(decodePrefixes(buf("17 0a0103"), 0, 4, 1, out)).toBeUndefined();
    expect(out[0]).toBe("10.1.2.0/23");
    const v6: string[] = [];
    expect(decodePrefixes(buf("0a feff"), 0, 3, 2, v6)).toBeUndefined();
    expect(v6).toEqual(["fec0::/10"]);
  });

  it.each([
    ["IPv4 length 33", "21 0a000000 00", 1, /> 32/],
    ["IPv6 length 129", "81" + "00".repeat(17), 2, /> 128/],
    ["prefix runs past its field", "18 0a01", 1, /past the end/],
  ])("rejects %s", (_n, hex, afi, why) => {
    const b = buf(hex);
    expect(decodePrefixes(b, 0, b.length, afi, [])).toMatch(why);
  });

  it("reads only inside [start, end) even when the buffer goes on", () => {
    const b = buf("18 0a0100 18 0a0200");
    const out: string[] = [];
    expect(decodePrefixes(b, 0, 3, 1, out)).toMatch(/past the end/);
  });
});

describe("prefix strings", () => {
  it("canonicalPrefix clears host bits and uses RFC 5952 text", () => {
    expect(canonicalPrefix("10.1.2.3/24")).toBe("10.1.2.0/24");
    expect(canonicalPrefix("2001:0DB8:0000:0000::1/64")).toBe("2001:db8::/64");
    expect(canonicalPrefix("10.0.0.0/33")).toBeNull();
    expect(canonicalPrefix("10.0.0/8")).toBeNull();
    expect(canonicalPrefix("2001:db8::1")).toBeNull();
    expect(canonicalPrefix("256.0.0.0/8")).toBeNull();
    // IPv4 text goes through net/ipv4-packed.ts: canonical text only (no leading zeros)
    expect(canonicalPrefix("010.1.2.0/24")).toBeNull();
    expect(canonicalPrefix("10.1.2.0/024")).toBeNull();
  });
  it("parsePrefix gives family, length and address octets", () => {
    expect(parsePrefix("10.1.0.0/16")).toEqual({ afi: 1, len: 16, bytes: buf("0a010000") });
    expect(parsePrefix("2001:db8::/32").bytes.toString("hex")).toBe("20010db8" + "0".repeat(24));
    expect(() => parsePrefix("nonsense")).toThrow(TypeError);
  });
  it.each([
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs compressed
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not compressed
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
    ["2001:DB8::A", "2001:db8::a"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest run wins
  ])("RFC 5952: %s -> %s", (inp, out) => {
    expect(canonicalIpv6(inp)).toBe(out);
  });
});

describe("IPv6 text parsing", () => {
  it.each([
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
    ["::1.2.3.4", "::102:304"],
    ["1::8", "1::8"],
    ["ABCD::ef01", "abcd::ef01"],
  ])("accepts %s", (inp, out) => {
    expect(isIpv6(inp)).toBe(true);
    expect(canonicalIpv6(inp)).toBe(out);
  });
  it.each([
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::",
    "1:",
    ":1",
    "1:2:3:4:5:6:7:1.2.3.4",
    "g::",
    "",
    "1.2.3.4",
    "::1.2.3",
    "1:::2",
    "::ffff:010.0.0.1", // the embedded IPv4 follows the IPv4 rules below
  ])("rejects %p", (inp) => {
    expect(isIpv6(inp)).toBe(false);
  });
});

// parseIpv4 is net/ipv4-packed.ts's canonical dotted quad: a leading zero is
// refused, since inet_aton(3) would read "010.0.0.1" as 8.0.0.1.
describe("IPv4 text parsing", () => {
  it.each(["0.0.0.0", "10.0.0.1", "192.0.2.255", "255.255.255.255"])("accepts %s", (inp) => {
    expect(isIpv4(inp)).toBe(true);
  });
  it.each([
    "010.0.0.1",
    "10.0.0.01",
    "10.00.0.1",
    "256.0.0.1",
    "10.0.0",
    "10.0.0.1.2",
    "10..0.1",
    "10.0.0.1 ",
    "",
  ])("rejects %p", (inp) => {
    expect(isIpv4(inp)).toBe(false);
  });
  it("refuses a next hop with a leading zero rather than sending 10.0.0.1", () => {
    const attrs = { origin: 0 as const, asPath: [], nextHop: "010.0.0.1" };
    expect(() => packUpdates(attrs, ["10.1.0.0/24"], [], { fourOctetAs: true })).toThrow(
      "invalid IPv4 address: 010.0.0.1 (want a dotted quad without leading zeros)",
    );
  });
});
