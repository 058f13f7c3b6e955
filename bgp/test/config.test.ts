import { describe, expect, it } from "@jest/globals";
import { diffConfig, parseConfig } from "../config.js";
import { configProblems } from "./support.js";

const base = "asn: 65001\nrouterId: 192.0.2.1\n";

describe("trellis-bgp config", () => {
  it("accepts the issue's example and fills defaults", () => {
    const c = parseConfig(`
asn: 65001
routerId: 192.0.2.1
listen: { address: "0.0.0.0", port: 179 }
holdTime: 90
gracefulRestart: { enabled: true, restartTime: 120 }
fib: { enabled: true, table: 254, ecmp: true }
control: { socket: /run/trellis/bgp.sock }
peers:
  - address: 192.0.2.2
    asn: 65002
    port: 179
    localAddress: 192.0.2.1
    passive: false
    families: [ipv4-unicast, ipv6-unicast]
    holdTime: 9
    routeReflectorClient: false
    nextHopSelf: true
    maxPrefixes: 100000
    import: { default: reject, terms: [{ match: { prefixes: [{ prefix: 10.0.0.0/8, le: 24 }] }, action: accept }] }
    export: accept
originate:
  - prefix: 10.1.0.0/24
    communities: ["65001:100"]
    largeCommunities: ["65001:1:2"]
`);
    expect(c.peers[0]).toMatchObject({ asn: 65002, holdTime: 9, maxPrefixes: 100000, nextHopSelf: true });
    expect(c.fib).toMatchObject({ enabled: true, table: 254, protocol: 202 });
    expect(c.originate[0]).toMatchObject({ prefix: "10.1.0.0/24", largeCommunities: ["65001:1:2"] });
  });

  it("metricsAddress: off by default; IPv4, bracketed IPv6 and wildcards accepted; a bad one named", () => {
    expect(parseConfig(base).metricsAddress).toBe("");
    for (const a of ["127.0.0.1:9179", "0.0.0.0:9179", "[::]:9179", "[fd00::1]:0"])
      expect(parseConfig(`${base}metricsAddress: "${a}"\n`).metricsAddress).toBe(a);
    expect(configProblems(`${base}metricsAddress: "::1:9179"\n`)).toEqual([
      'metricsAddress: "::1:9179": an IPv6 address must be in brackets, e.g. [::]:9179',
    ]);
    expect(configProblems(`${base}metricsAddress: "127.0.0.1:99999"\n`)).toEqual([
      'metricsAddress: "127.0.0.1:99999": port must be 0..65535',
    ]);
    const d = diffConfig(parseConfig(base), parseConfig(`${base}metricsAddress: "[::]:9179"\n`));
    expect(d.restartNeeded).toEqual(["metricsAddress"]);
  });

  it("a local address (the NEXT_HOP of next-hop-self) with a leading zero is refused, not read as 10.0.0.1 nor as octal 8.0.0.1", () => {
    const peer = (localAddress: string): string =>
      `${base}peers: [{ address: 10.0.0.2, asn: 2, localAddress: "${localAddress}" }]\n`;
    expect(parseConfig(peer("10.0.0.1")).peers[0]?.localAddress).toBe("10.0.0.1");
    expect(configProblems(peer("010.0.0.1"))).toEqual([
      "peers[0].localAddress: must be an IPv4 or IPv6 address",
    ]);
  });

  it("JSON is accepted too", () => {
    expect(parseConfig(JSON.stringify({ asn: 1, routerId: "10.0.0.1" })).asn).toBe(1);
  });

  it.each([
    [
      "an ASN out of range",
      `${base}peers:\n  - { address: 10.0.0.2, asn: 65002 }\n  - { address: 10.0.0.3, asn: 0 }\n`,
      "peers[1].asn: must be 1..4294967295",
    ],
    ["a missing field", "routerId: 192.0.2.1\n", "asn: is required"],
    ["a router id that is not IPv4", "asn: 1\nrouterId: 2001:db8::1\n", "routerId: must be an IPv4 address"],
    ["hold time 2 (RFC 4271 §4.2)", `${base}holdTime: 2\n`, "holdTime: must be 0 or 3..65535"],
    [
      "a bad peer address",
      `${base}peers: [{ address: 300.1.1.1, asn: 2 }]\n`,
      "peers[0].address: must be an IPv4 or IPv6 address",
    ],
    [
      "an unknown family",
      `${base}peers: [{ address: 10.0.0.2, asn: 2, families: [l2vpn] }]\n`,
      "peers[0].families[0]",
    ],
    [
      "a bad community",
      `${base}originate: [{ prefix: 10.0.0.0/24, communities: ["70000:1"] }]\n`,
      "originate[0].communities[0]: must be ASN:VALUE",
    ],
    [
      "a bad prefix",
      `${base}originate: [{ prefix: 10.0.0.0/33 }]\n`,
      "originate[0].prefix: must be a prefix",
    ],
    [
      "an unknown field",
      `${base}peers: [{ address: 10.0.0.2, asn: 2, bogus: 1 }]\n`,
      "peers[0]: unknown field(s) bogus",
    ],
    [
      "a duplicate peer",
      `${base}peers: [{ address: 10.0.0.2, asn: 2 }, { address: 10.0.0.2, asn: 3 }]\n`,
      "peers[1].address: duplicate of peers[0]",
    ],
    [
      "a bad filter term",
      `${base}peers: [{ address: 10.0.0.2, asn: 2, import: { terms: [{ action: maybe }] } }]\n`,
      "peers[0].import",
    ],
    ["not YAML at all", "asn: [1\n", "not valid YAML or JSON"],
    [
      "an originated prefix with host bits set",
      `${base}originate: [{ prefix: 10.1.0.1/24 }]\n`,
      "originate[0].prefix: host bits set: did you mean 10.1.0.0/24?",
    ],
    [
      "an originated IPv6 prefix with host bits set",
      `${base}originate: [{ prefix: "2001:db8::1/64" }]\n`,
      "originate[0].prefix: host bits set: did you mean 2001:db8::/64?",
    ],
    [
      "one IPv6 peer given twice (spelled differently)",
      `${base}peers: [{ address: "2001:db8::1", asn: 2 }, { address: "2001:DB8:0::1", asn: 3 }]\n`,
      "peers[1].address: duplicate of peers[0]",
    ],
    [
      "one prefix originated twice (spelled differently)",
      `${base}originate: [{ prefix: "2001:db8::/32" }, { prefix: "2001:DB8:0::/32" }]\n`,
      "originate[1].prefix: duplicate of originate[0]",
    ],
  ])("%s is named by its path", (_n, text, want) => {
    expect(configProblems(text).join("\n")).toContain(want);
  });
});

describe("reload diff (SIGHUP)", () => {
  // Two peers and two originated prefixes, after the global settings of each case.
  const PEERS_AND_ORIGINATE = `peers:
  - { address: 10.0.0.2, asn: 2 }
  - { address: 10.0.0.3, asn: 3 }
originate:
  - { prefix: 10.1.0.0/24 }
  - { prefix: 10.2.0.0/24, communities: ["1:1"] }
`;
  const a = parseConfig(`${base}${PEERS_AND_ORIGINATE}`);
  it("adds, removes and changes only what differs", () => {
    const b = parseConfig(`${base}peers:
  - { address: 10.0.0.2, asn: 2 }
  - { address: 10.0.0.4, asn: 4 }
originate:
  - { prefix: 10.2.0.0/24, communities: ["1:2"] }
  - { prefix: 10.3.0.0/24 }
`);
    const d = diffConfig(a, b);
    expect(d.addPeers.map((p) => p.address)).toEqual(["10.0.0.4"]);
    expect(d.removePeers).toEqual(["10.0.0.3"]);
    expect(d.changePeers).toEqual([]);
    expect(d.originate.map((o) => o.prefix)).toEqual(["10.2.0.0/24", "10.3.0.0/24"]);
    expect(d.withdraw).toEqual(["10.1.0.0/24"]);
    expect(d.restartNeeded).toEqual([]);
  });
  it("a prefix respelled in the new file is neither withdrawn nor re-announced", () => {
    const v6 = (p: string): string => `${base}originate: [{ prefix: "${p}" }]\n`;
    const d = diffConfig(parseConfig(v6("2001:DB8::/32")), parseConfig(v6("2001:db8:0::/32")));
    expect(d.withdraw).toEqual([]);
    expect(d.originate).toEqual([]);
  });
  it("a changed peer setting or global timer changes the peers; asn needs a restart", () => {
    const b = parseConfig(`asn: 65009\nrouterId: 192.0.2.1\nholdTime: 30\n${PEERS_AND_ORIGINATE}`);
    const d = diffConfig(a, b);
    expect(d.changePeers.map((p) => p.address)).toEqual(["10.0.0.2", "10.0.0.3"]);
    expect(d.restartNeeded).toEqual(["asn"]);
    expect(d.originate).toEqual([]);
  });
});
