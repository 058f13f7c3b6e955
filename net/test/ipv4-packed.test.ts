import { describe, expect, it } from "@jest/globals";
import {
  formatIpv4,
  formatIpv4Prefix,
  parseCanonicalIpv4,
  parseCanonicalIpv4Prefix,
} from "../ipv4-packed.js";

describe("packed IPv4 prefixes", () => {
  const out = new Int32Array(1);

  it.each([
    ["0.0.0.0/0", 0, 0],
    ["10.244.1.0/26", (10 << 24) | (244 << 16) | (1 << 8), 26],
    ["255.255.255.255/32", -1, 32],
    ["192.0.2.128/25", (192 << 24) | (2 << 8) | 128, 25],
  ])("%s parses to its address and length and formats back identically", (text, addr, len) => {
    expect(parseCanonicalIpv4Prefix(text, out)).toBe(len);
    expect(out[0]).toBe(addr);
    expect(formatIpv4Prefix(out[0]!, len)).toBe(text);
  });

  it("an address alone: the dotted quad before `end`, formatted back identically", () => {
    expect(parseCanonicalIpv4("10.77.0.2", 9, out)).toBe(true);
    expect(out[0]).toBe((10 << 24) | (77 << 16) | 2);
    expect(formatIpv4(out[0]!)).toBe("10.77.0.2");
    // `end` bounds the text: the address of "a.b.c.d/len" without a substring.
    expect(parseCanonicalIpv4("192.0.2.1/24", 9, out)).toBe(true);
    expect(formatIpv4(out[0]!)).toBe("192.0.2.1");
  });

  // Each parser refuses what is not its canonical text, and leaves the buffer as it was.
  const parsers = {
    prefix: (text: string): boolean => parseCanonicalIpv4Prefix(text, out) >= 0,
    address: (text: string): boolean => parseCanonicalIpv4(text, text.length, out),
  };
  it.each([
    ["prefix", "010.0.0.0/8"], // a leading zero would not format back
    ["prefix", "10.0.0.0/08"],
    ["prefix", "10.0.0/8"],
    ["prefix", "10.0.0.0.0/8"],
    ["prefix", "10.0.0.256/32"],
    ["prefix", "10.0.0.0/33"],
    ["prefix", "10.0.0.0/"],
    ["prefix", "10.0.0.0"],
    ["prefix", "10..0.0/8"],
    ["prefix", "2001:db8::/32"],
    ["prefix", ""],
    ["address", "10.77.0.02"],
    ["address", "10.77.0"],
    ["address", "10.77.0.2.1"],
    ["address", "10.77.0.256"],
    ["address", "10.77..2"],
    ["address", ".10.77.0"],
    ["address", "fe80::1"],
    ["address", "gw"],
    ["address", ""],
  ] as const)("%s %j is not canonical IPv4 text: refused, the buffer untouched", (kind, text) => {
    out[0] = 12345;
    expect(parsers[kind](text)).toBe(false);
    expect(out[0]).toBe(12345);
  });
});
