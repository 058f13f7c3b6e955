import { describe, expect, it } from "@jest/globals";
import { formatIpv4Prefix, parseCanonicalIpv4Prefix } from "../ipv4-packed.js";

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

  it.each([
    "010.0.0.0/8", // a leading zero would not format back
    "10.0.0.0/08",
    "10.0.0/8",
    "10.0.0.0.0/8",
    "10.0.0.256/32",
    "10.0.0.0/33",
    "10.0.0.0/",
    "10.0.0.0",
    "10..0.0/8",
    "2001:db8::/32",
    "",
  ])("%j is not canonical IPv4 prefix text: -1, the buffer untouched", (text) => {
    out[0] = 12345;
    expect(parseCanonicalIpv4Prefix(text, out)).toBe(-1);
    expect(out[0]).toBe(12345);
  });
});
