import { describe, expect, it } from "@jest/globals";
import {
  parseDetectionMethod,
  selectBgpAddresses,
  type DetectionMethod,
  type KernelFacts,
} from "../address-detection.js";

const facts: KernelFacts = {
  interfaces: [
    { name: "lo", addresses: ["127.0.0.1", "::1"] },
    { name: "trl0123456789a", addresses: ["169.254.1.1", "fe80::ecee:eeff:feee:eeee"] },
    { name: "eth1", addresses: ["192.0.2.10", "2001:db8::10", "fe80::2"] },
    { name: "eth0", addresses: ["198.18.0.1", "fe80::1", "fd00:198:18::1"] },
  ],
  sourceFor: { "192.0.2.1": "192.0.2.10", "fd00:198:18::": "fd00:198:18::1" },
};
const m = (s: string): DetectionMethod => {
  const r = parseDetectionMethod(s);
  if (typeof r === "string") throw new Error(r);
  return r;
};

describe("BGP address selection", () => {
  it.each<[string, Record<string, string>, string, string | undefined, string | undefined, string]>([
    [
      "first-found: first non-pod interface by name, global addresses only",
      {},
      "first-found",
      "198.18.0.1",
      "fd00:198:18::1",
      "first-found",
    ],
    [
      "interface=REGEX matches the whole name",
      {},
      "interface=eth1",
      "192.0.2.10",
      "2001:db8::10",
      "interface=eth1 (eth1)",
    ],
    ["interface=REGEX with no match: none", {}, "interface=ens.*", undefined, undefined, ""],
    [
      "cidr= picks an address inside",
      {},
      "cidr=192.0.2.0/24,2001:db8::/32",
      "192.0.2.10",
      "2001:db8::10",
      "cidr=192.0.2.0/24,2001:db8::/32 (eth1)",
    ],
    [
      "can-reach= uses the kernel's source address",
      {},
      "can-reach=192.0.2.1",
      "192.0.2.10",
      "fd00:198:18::1",
      "can-reach=192.0.2.1",
    ],
    [
      "annotation beats the method",
      { "trellis.dev/bgp-ipv4-address": "203.0.113.5" },
      "interface=eth1",
      "203.0.113.5",
      "2001:db8::10",
      "annotation trellis.dev/bgp-ipv4-address",
    ],
  ])("%s", (_n, ann, method, v4, v6, how) => {
    const r = selectBgpAddresses(ann, m(method), facts);
    expect(r.addresses.ipv4?.address).toBe(v4);
    expect(r.addresses.ipv6?.address).toBe(v6);
    if (v4 !== undefined) expect(r.addresses.ipv4?.method).toBe(how);
  });
  it("an annotation of the wrong family is reported and detection used", () => {
    const r = selectBgpAddresses({ "trellis.dev/bgp-ipv6-address": "10.0.0.1" }, m("first-found"), facts);
    expect(r.addresses.ipv6?.address).toBe("fd00:198:18::1");
    expect(r.problems).toHaveLength(1);
  });
  it.each(["interface=", "cidr=10.0.0.1/8", "can-reach=host", "sometimes", "interface=("])(
    "rejects the method %s",
    (s) => {
      expect(typeof parseDetectionMethod(s)).toBe("string");
    },
  );
});
