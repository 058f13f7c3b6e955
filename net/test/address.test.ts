import { describe, it, expect } from "@jest/globals";
import ipnum from "ip-num";
import {
  aggregate,
  canonicalAddress,
  canonicalPrefix,
  contains,
  formatAddress,
  formatPrefix,
  lastAddress,
  overlaps,
  parseAddress,
  parseAddressOf,
  parsePrefix,
  parsePrefixLoose,
  prefixSize,
  prefixSpan,
  rangeToPrefixes,
  subtract,
  type Prefix,
} from "../address.js";
import { parsed } from "./parsed.js";

const P = (text: string): Prefix => parsed(parsePrefix(text));
const texts = (ps: readonly Prefix[]): string[] => ps.map(formatPrefix);

describe("parseAddress: IPv4 decided as ip-num's validator decides it", () => {
  // parseAddress reads dotted quads itself (ipv4-packed.ts) for speed; it
  // must accept exactly the texts ip-num accepts, with the same value.
  it("agrees with ip-num on 20k generated near-quads and the edge cases", () => {
    let seed = 7;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const part = (): string => {
      const k = next(10);
      if (k === 0) return "0" + String(next(300)); // a leading zero
      if (k === 1) return String(250 + next(10)); // around 255
      if (k === 2) return ["", "-1", "+1", "1e2", "0x1", " 1", "1 ", "٣", "00"][next(9)]!;
      return String(next(256));
    };
    const texts = [
      "0.0.0.0",
      "255.255.255.255",
      "256.0.0.0",
      "1.2.3",
      "1.2.3.4.5",
      "1..2.3",
      ".1.2.3",
      "1.2.3.",
      "01.2.3.4",
      "1.2.3.04",
    ];
    for (let i = 0; i < 20_000; i++)
      texts.push(Array.from({ length: next(10) === 0 ? 3 + next(3) : 4 }, part).join("."));
    for (const t of texts) {
      let want: bigint | undefined;
      try {
        want = ipnum.IPv4.fromString(t).getValue();
      } catch {
        want = undefined;
      }
      // ip-num tolerates some texts its validator still lets through the
      // regex parseAddress applied before it (digits and dots only).
      if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(t)) want = undefined;
      const got = parseAddress(t);
      expect([t, typeof got === "string" ? undefined : got.value]).toEqual([t, want]);
    }
  });
});

describe("parseAddress: strict text forms, errors as values", () => {
  const good: [string, string, string][] = [
    ["a dotted quad", "10.1.2.3", "10.1.2.3"],
    ["the zero address", "0.0.0.0", "0.0.0.0"],
    ["RFC 5952 §4.3: lower case", "2001:DB8::1", "2001:db8::1"],
    [
      "RFC 5952 §4.2.2: a single zero group is not compressed",
      "2001:db8:0:1:1:1:1:1",
      "2001:db8:0:1:1:1:1:1",
    ],
    ["RFC 5952 §4.2.3: the longest run is compressed", "2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["RFC 5952 §4.2.3: the first of equal runs is compressed", "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["RFC 5952 §4.1: leading zeros dropped", "2001:0db8::0001", "2001:db8::1"],
    ["RFC 5952 §5: IPv4-mapped as a dotted quad", "::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["RFC 4291 §2.2 form 3: embedded dotted quad", "64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
    ["all zeros", "::", "::"],
  ];
  it.each(good)("%s", (_rule, text, canonical) => {
    expect(canonicalAddress(text)).toBe(canonical);
  });

  const bad: [string, string, RegExp][] = [
    ["empty", "", /empty/],
    ["an octet over 255", "10.0.0.256", /not an IPv4 address/],
    ["a leading zero (octal ambiguity, RFC 6943 §3.1.1)", "010.0.0.1", /not an IPv4 address/],
    ["three octets", "10.0.1", /not an IPv4 address/],
    ["spaces", " 10.0.0.1", /not an IPv4 address/],
    ["two ::", "1::2::3", /not an IPv6 address/],
    ["a zone id", "fe80::1%eth0", /not an IPv6 address/],
    ["nine groups", "1:2:3:4:5:6:7:8:9", /not an IPv6 address/],
    ["a five-digit group", "1:2:3:4:5:6:7:12345", /not an IPv6 address/],
    ["a prefix is not an address", "10.0.0.0/8", /not an IPv4 address/],
  ];
  it.each(bad)("rejects %s", (_rule, text, why) => {
    const r = parseAddress(text);
    expect(typeof r).toBe("string");
    expect(r).toMatch(why);
  });

  it("parseAddressOf insists on the family", () => {
    expect(parseAddressOf(6, "10.0.0.1")).toMatch(/not an IPv6 address/);
    expect(parseAddressOf(4, "10.0.0.1")).toEqual({ family: 4, value: 0x0a000001n });
  });

  it("formats the value it parsed", () => {
    expect(formatAddress({ family: 4, value: 0xc0a80001n })).toBe("192.168.0.1");
    expect(formatAddress({ family: 6, value: 1n })).toBe("::1");
  });
});

describe("parsePrefix rejects host bits; parsePrefixLoose masks them", () => {
  const cases: [string, string, string | RegExp, string | RegExp][] = [
    ["a network", "10.0.0.0/24", "10.0.0.0/24", "10.0.0.0/24"],
    ["host bits set (v4)", "10.0.0.1/24", /host bits set \(the network is 10\.0\.0\.0\/24\)/, "10.0.0.0/24"],
    [
      "host bits set (v6)",
      "2001:db8::1/64",
      /host bits set \(the network is 2001:db8::\/64\)/,
      "2001:db8::/64",
    ],
    ["/0", "0.0.0.0/0", "0.0.0.0/0", "0.0.0.0/0"],
    ["a host route", "10.0.0.1/32", "10.0.0.1/32", "10.0.0.1/32"],
    ["v6 canonical form", "2001:DB8:0::/48", "2001:db8::/48", "2001:db8::/48"],
    ["no length", "10.0.0.0", /no "\/length"/, /no "\/length"/],
    ["a length over 32", "10.0.0.0/33", /length must be 0\.\.32/, /length must be 0\.\.32/],
    ["a length over 128", "::/129", /length must be 0\.\.128/, /length must be 0\.\.128/],
    ["a non-numeric length", "10.0.0.0/x", /length/, /length/],
    ["a length with a leading zero", "10.0.0.0/08", /without leading zeros/, /without leading zeros/],
    ["an empty length", "10.0.0.0/", /length/, /length/],
    ["a bad address", "10.0.0.300/24", /not an IPv4 address/, /not an IPv4 address/],
  ];
  it.each(cases)("%s", (_rule, text, strict, loose) => {
    const s = parsePrefix(text);
    const l = parsePrefixLoose(text);
    if (typeof strict === "string") expect(typeof s === "string" ? s : formatPrefix(s)).toBe(strict);
    else expect(s).toMatch(strict);
    if (typeof loose === "string") expect(typeof l === "string" ? l : formatPrefix(l)).toBe(loose);
    else expect(l).toMatch(loose);
  });

  it("canonicalPrefix masks and re-formats, or returns the error", () => {
    expect(canonicalPrefix("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(canonicalPrefix("nope/8")).toEqual({ error: expect.stringMatching(/not an IPv4/) });
  });
});

describe("prefix arithmetic", () => {
  // Two relations of prefixes, one table: [relation, rule, a, b, holds].
  const relationCases: ["contains" | "overlaps", string, string, string, boolean][] = [
    ["contains", "a prefix holds a longer one inside it", "10.0.0.0/8", "10.1.0.0/16", true],
    ["contains", "a prefix holds itself", "10.0.0.0/8", "10.0.0.0/8", true],
    ["contains", "a longer prefix does not hold a shorter one", "10.1.0.0/16", "10.0.0.0/8", false],
    ["contains", "disjoint prefixes", "10.0.0.0/8", "11.0.0.0/16", false],
    ["contains", "families never mix", "::/0", "10.0.0.0/8", false],
    ["overlaps", "nested prefixes overlap", "10.0.0.0/8", "10.1.0.0/16", true],
    ["overlaps", "either way round", "10.1.0.0/16", "10.0.0.0/8", true],
    ["overlaps", "adjacent prefixes do not", "10.0.0.0/24", "10.0.1.0/24", false],
    ["overlaps", "v6 nested", "2001:db8::/32", "2001:db8:1::/48", true],
  ];
  const relations = { contains, overlaps };
  it.each(relationCases)("%s: %s", (relation, _rule, a, b, want) => {
    expect(relations[relation](P(a), P(b))).toBe(want);
  });

  it("contains: an address", () => {
    const a = parsed(parseAddress("10.1.2.3"));
    expect(contains(P("10.1.0.0/16"), a)).toBe(true);
    expect(contains(P("10.2.0.0/16"), a)).toBe(false);
  });

  it("size: 2^(bits - length)", () => {
    expect(prefixSize(P("10.0.0.0/24"))).toBe(256n);
    expect(prefixSize(P("::/0"))).toBe(1n << 128n);
    expect(prefixSize(P("10.0.0.1/32"))).toBe(1n);
  });

  const spanCases: [string, string, bigint, bigint][] = [
    ["a /24 spans its 256 addresses", "10.0.0.0/24", 0x0a000000n, 0x0a0000ffn],
    ["a host prefix spans one address", "10.0.0.7/32", 0x0a000007n, 0x0a000007n],
    ["the whole IPv4 space", "0.0.0.0/0", 0n, 0xffffffffn],
    ["a v6 /64", "2001:db8::/64", 0x20010db8n << 96n, (0x20010db8n << 96n) + (1n << 64n) - 1n],
    ["the whole IPv6 space", "::/0", 0n, (1n << 128n) - 1n],
  ];
  it.each(spanCases)("span: %s", (_rule, p, start, end) => {
    expect(prefixSpan(P(p))).toEqual({ start, end });
    expect(lastAddress(P(p)).value).toBe(end);
  });

  const subtractCases: [string, string, string[], string[]][] = [
    [
      "a hole in the middle leaves the fewest prefixes",
      "10.0.0.0/24",
      ["10.0.0.128/26"],
      ["10.0.0.0/25", "10.0.0.192/26"],
    ],
    ["a hole covering all leaves nothing", "10.0.0.0/24", ["10.0.0.0/16"], []],
    ["a disjoint hole changes nothing", "10.0.0.0/24", ["10.0.1.0/24"], ["10.0.0.0/24"]],
    ["several holes", "10.0.0.0/30", ["10.0.0.0/32", "10.0.0.3/32"], ["10.0.0.1/32", "10.0.0.2/32"]],
    ["another family's hole is ignored", "10.0.0.0/24", ["::/0"], ["10.0.0.0/24"]],
    ["v6", "2001:db8::/127", ["2001:db8::1/128"], ["2001:db8::/128"]],
  ];
  it.each(subtractCases)("subtract: %s", (_rule, from, holes, want) => {
    expect(texts(subtract(P(from), holes.map(P)))).toEqual(want);
  });

  const aggregateCases: [string, string[], string[]][] = [
    ["siblings merge into their parent", ["10.0.0.0/25", "10.0.0.128/25"], ["10.0.0.0/24"]],
    ["a contained prefix is dropped", ["10.0.0.0/8", "10.1.0.0/16"], ["10.0.0.0/8"]],
    ["non-siblings stay apart", ["10.0.1.0/24", "10.0.2.0/24"], ["10.0.1.0/24", "10.0.2.0/24"]],
    ["v4 sorts before v6", ["2001:db8::/32", "10.0.0.0/8"], ["10.0.0.0/8", "2001:db8::/32"]],
    ["nothing in, nothing out", [], []],
  ];
  it.each(aggregateCases)("aggregate: %s", (_rule, ins, want) => {
    expect(texts(aggregate(ins.map(P)))).toEqual(want);
  });

  it("rangeToPrefixes covers a range exactly with the fewest prefixes", () => {
    expect(texts(rangeToPrefixes(4, 0x0a000001n, 0x0a000006n))).toEqual([
      "10.0.0.1/32",
      "10.0.0.2/31",
      "10.0.0.4/31",
      "10.0.0.6/32",
    ]);
    expect(texts(rangeToPrefixes(4, 0n, 0xffffffffn))).toEqual(["0.0.0.0/0"]);
  });
});
