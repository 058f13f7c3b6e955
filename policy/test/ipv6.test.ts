import { describe, it, expect } from "@jest/globals";
import { exactPrefix6, v6Text, mergeRanges6, v6Range, v6Value, subtractRanges6 } from "../model/ipv6.js";

describe("IPv6 text (RFC 4291 §2.2 in, RFC 5952 §4 out)", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["FD00:0:0:0:0:0:0:1", "fd00::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of two equal runs (§4.2.3)
    ["2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not shortened (§4.2.2)
    // Embedded IPv4 as glibc's inet_ntop (and so `nft -j list`) prints it:
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
    ["::1:2", "::0.1.0.2"],
    ["::2", "::2"],
    ["1::ffff:c000:201", "1::ffff:c000:201"],
    ["fe80::1", "fe80::1"],
  ];
  it.each(cases)("%s -> %s", (text, canonical) => {
    const n = v6Value(text);
    expect(n).toBeDefined();
    expect(v6Text(n as bigint)).toBe(canonical);
  });

  it.each([
    "",
    ":",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::",
    "g::1",
    "1:2:3:4:5:6:7",
    "::1.2.3",
    "10.0.0.1",
  ])("rejects %j", (text) => expect(v6Value(text)).toBeUndefined());
});

describe("IPv6 ranges", () => {
  it("parses a CIDR, masking host bits as Kubernetes accepts them", () => {
    const r = v6Range("fd00:1::5/64");
    expect(r && v6Text(r.start)).toBe("fd00:1::");
    expect(r && v6Text(r.end)).toBe("fd00:1::ffff:ffff:ffff:ffff");
    expect(v6Range("fd00::/129")).toBeUndefined();
    expect(v6Range("::/0")).toEqual({ start: 0n, end: (1n << 128n) - 1n });
  });

  it("subtracts excepts and reports exact prefixes", () => {
    const base = v6Range("fd00::/126") as { start: bigint; end: bigint };
    const out = subtractRanges6(base, [v6Range("fd00::1/128")!]);
    expect(out.map((r) => [v6Text(r.start), v6Text(r.end)])).toEqual([
      ["fd00::", "fd00::"],
      ["fd00::2", "fd00::3"],
    ]);
    expect(out.map(exactPrefix6)).toEqual([128, 127]);
    expect(exactPrefix6({ start: 1n, end: 2n })).toBeUndefined();
  });

  it("merges overlapping and adjacent ranges", () => {
    expect(
      mergeRanges6([
        { start: 5n, end: 9n },
        { start: 0n, end: 4n },
        { start: 20n, end: 30n },
        { start: 8n, end: 10n },
      ]),
    ).toEqual([
      { start: 0n, end: 10n },
      { start: 20n, end: 30n },
    ]);
  });
});
