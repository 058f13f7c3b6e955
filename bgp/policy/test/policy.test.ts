import { describe, it, expect } from "@jest/globals";
import { parseFilter, PolicyError } from "../index.js";
import type { PolicyRoute } from "../index.js";
import type { AsPathSegment, PathAttributes } from "../../wire/types.js";

const LOCAL_AS = 65001;

function route(
  prefix: string,
  attributes: PathAttributes = {},
  neighborAs = 65002,
  local = false,
): PolicyRoute {
  return { prefix, attributes, neighborAs, local };
}
const seq = (...asns: number[]): AsPathSegment[] => [{ type: 2, asns }];

describe("policy: match terms", () => {
  const cases: { name: string; match: unknown; route: PolicyRoute; hit: boolean }[] = [
    { name: "prefix exact hit", match: { prefixes: ["10.0.0.0/8"] }, route: route("10.0.0.0/8"), hit: true },
    {
      name: "prefix exact miss on longer",
      match: { prefixes: ["10.0.0.0/8"] },
      route: route("10.1.0.0/16"),
      hit: false,
    },
    {
      name: "prefix ge/le inside",
      match: { prefixes: [{ prefix: "10.0.0.0/8", ge: 16, le: 24 }] },
      route: route("10.1.2.0/24"),
      hit: true,
    },
    {
      name: "prefix le exceeded",
      match: { prefixes: [{ prefix: "10.0.0.0/8", ge: 16, le: 24 }] },
      route: route("10.1.2.0/25"),
      hit: false,
    },
    {
      name: "prefix ge not reached",
      match: { prefixes: ["10.0.0.0/8 ge 16"] },
      route: route("10.0.0.0/12"),
      hit: false,
    },
    {
      name: "prefix ge alone means up to /32",
      match: { prefixes: ["10.0.0.0/8 ge 16"] },
      route: route("10.9.9.9/32"),
      hit: true,
    },
    {
      name: "prefix outside",
      match: { prefixes: ["10.0.0.0/8 le 32"] },
      route: route("11.0.0.0/24"),
      hit: false,
    },
    {
      name: "v6 prefix with le",
      match: { prefixes: [{ prefix: "2001:db8::/32", le: 48 }] },
      route: route("2001:db8:ab::/48"),
      hit: true,
    },
    {
      name: "v6 list never matches v4",
      match: { prefixes: ["::/0 le 128"] },
      route: route("10.0.0.0/8"),
      hit: false,
    },
    { name: "family ipv6", match: { family: "ipv6" }, route: route("2001:db8::/32"), hit: true },
    {
      name: "community any-of",
      match: { communities: ["65001:1", "65001:100"] },
      route: route("10.0.0.0/8", { communities: [65001 * 65536 + 100] }),
      hit: true,
    },
    {
      name: "well-known community by name",
      match: { communities: ["no-export"] },
      route: route("10.0.0.0/8", { communities: [0xffffff01] }),
      hit: true,
    },
    { name: "community absent", match: { communities: ["65001:1"] }, route: route("10.0.0.0/8"), hit: false },
    {
      name: "large community",
      match: { largeCommunities: ["65001:1:2"] },
      route: route("10.0.0.0/8", { largeCommunities: [{ global: 65001, local1: 1, local2: 2 }] }),
      hit: true,
    },
    {
      name: "large community other value",
      match: { largeCommunities: ["65001:1:2"] },
      route: route("10.0.0.0/8", { largeCommunities: [{ global: 65001, local1: 1, local2: 3 }] }),
      hit: false,
    },
    {
      name: "as-path regex first AS",
      match: { asPath: { regex: "^65002( |$)" } },
      route: route("10.0.0.0/8", { asPath: seq(65002, 65010) }),
      hit: true,
    },
    {
      name: "as-path regex miss",
      match: { asPath: { regex: "^65002( |$)" } },
      route: route("10.0.0.0/8", { asPath: seq(650020) }),
      hit: false,
    },
    {
      name: "as-path contains",
      match: { asPath: { contains: [65010] } },
      route: route("10.0.0.0/8", { asPath: seq(65002, 65010) }),
      hit: true,
    },
    {
      name: "as-path max length",
      match: { asPath: { maxLength: 1 } },
      route: route("10.0.0.0/8", { asPath: seq(65002, 65010) }),
      hit: false,
    },
    {
      name: "neighbour AS",
      match: { neighborAs: [65002] },
      route: route("10.0.0.0/8", {}, 65002),
      hit: true,
    },
    {
      name: "neighbour AS other",
      match: { neighborAs: [65003] },
      route: route("10.0.0.0/8", {}, 65002),
      hit: false,
    },
    { name: "origin igp", match: { origin: "igp" }, route: route("10.0.0.0/8", { origin: 0 }), hit: true },
    {
      name: "origin incomplete vs egp",
      match: { origin: "egp" },
      route: route("10.0.0.0/8", { origin: 2 }),
      hit: false,
    },
    { name: "local", match: { local: true }, route: route("10.0.0.0/8", {}, 65001, true), hit: true },
    {
      name: "all conditions must hold",
      match: { prefixes: ["10.0.0.0/8 le 24"], communities: ["65001:1"] },
      route: route("10.1.0.0/16"),
      hit: false,
    },
  ];
  it.each(cases)("$name", ({ match, route: r, hit }) => {
    const f = parseFilter({ default: "reject", terms: [{ match, action: "accept" }] }, { localAs: LOCAL_AS });
    expect(f.evaluate(r).accept).toBe(hit);
  });
});

describe("policy: actions", () => {
  const base: PathAttributes = {
    origin: 0,
    asPath: seq(65002),
    nextHop: "192.0.2.2",
    communities: [65001 * 65536 + 1, 65001 * 65536 + 2],
    largeCommunities: [{ global: 65001, local1: 1, local2: 1 }],
  };
  const cases: { name: string; set: unknown; check: (a: PathAttributes) => void }[] = [
    { name: "set LOCAL_PREF", set: { localPref: 250 }, check: (a) => expect(a.localPref).toBe(250) },
    { name: "set MED", set: { med: 7 }, check: (a) => expect(a.med).toBe(7) },
    {
      name: "add community keeps existing, no duplicates",
      set: { communities: { add: ["65001:2", "65001:3"] } },
      check: (a) => expect(a.communities).toEqual([65001 * 65536 + 1, 65001 * 65536 + 2, 65001 * 65536 + 3]),
    },
    {
      name: "remove community",
      set: { communities: { remove: ["65001:1"] } },
      check: (a) => expect(a.communities).toEqual([65001 * 65536 + 2]),
    },
    {
      name: "set communities replaces",
      set: { communities: { set: ["no-export"] } },
      check: (a) => expect(a.communities).toEqual([0xffffff01]),
    },
    {
      name: "removing all communities drops the attribute",
      set: { communities: { set: [] } },
      check: (a) => expect(a.communities).toBeUndefined(),
    },
    {
      name: "add large community",
      set: { largeCommunities: { add: ["65001:9:9"] } },
      check: (a) =>
        expect(a.largeCommunities).toEqual([
          { global: 65001, local1: 1, local2: 1 },
          { global: 65001, local1: 9, local2: 9 },
        ]),
    },
    {
      name: "remove large community",
      set: { largeCommunities: { remove: ["65001:1:1"] } },
      check: (a) => expect(a.largeCommunities).toBeUndefined(),
    },
    {
      name: "prepend own AS N times",
      set: { asPathPrepend: 3 },
      check: (a) => expect(a.asPath).toEqual(seq(65001, 65001, 65001, 65002)),
    },
    {
      name: "prepend a given AS",
      set: { asPathPrepend: { asn: 64512, times: 1 } },
      check: (a) => expect(a.asPath).toEqual(seq(64512, 65002)),
    },
  ];
  it.each(cases)("$name", ({ set, check }) => {
    const f = parseFilter({ terms: [{ set }] }, { localAs: LOCAL_AS });
    const input = structuredClone(base);
    const v = f.evaluate(route("10.0.0.0/8", input));
    expect(v.accept).toBe(true);
    if (v.accept) check(v.attributes);
    expect(input).toEqual(base); // never mutates its input
  });

  it("next hop self is reported to the RIB", () => {
    const f = parseFilter({ terms: [{ set: { nextHopSelf: true } }] }, { localAs: LOCAL_AS });
    const v = f.evaluate(route("10.0.0.0/8", base));
    expect(v).toMatchObject({ accept: true, nextHopSelf: true });
  });
});

describe("policy: term order and defaults", () => {
  it("first deciding term wins; reject stops evaluation", () => {
    const f = parseFilter(
      {
        terms: [
          { name: "bogon", match: { prefixes: ["10.0.0.0/8 le 32"] }, action: "reject" },
          { name: "all", set: { localPref: 50 }, action: "accept" },
        ],
      },
      { localAs: LOCAL_AS },
    );
    expect(f.evaluate(route("10.1.0.0/16"))).toEqual({ accept: false, term: "bogon" });
    expect(f.evaluate(route("192.0.2.0/24"))).toMatchObject({
      accept: true,
      term: "all",
      attributes: { localPref: 50 },
    });
  });

  it("next applies the set and falls through to later terms, which see the edit", () => {
    const f = parseFilter(
      {
        default: "reject",
        terms: [
          { set: { communities: { add: ["65001:7"] } }, action: "next" },
          { match: { communities: ["65001:7"] }, set: { med: 1 }, action: "accept" },
        ],
      },
      { localAs: LOCAL_AS },
    );
    const v = f.evaluate(route("192.0.2.0/24"));
    expect(v).toMatchObject({ accept: true, attributes: { med: 1, communities: [65001 * 65536 + 7] } });
  });

  it("default accept on an empty filter returns the very same attribute object", () => {
    const f = parseFilter({}, { localAs: LOCAL_AS });
    const a: PathAttributes = { origin: 0 };
    const v = f.evaluate(route("192.0.2.0/24", a));
    expect(v.accept && v.attributes).toBe(a);
    expect(f.prefixIndependent).toBe(true);
  });

  it("shorthand accept/reject", () => {
    expect(parseFilter("reject", { localAs: LOCAL_AS }).evaluate(route("192.0.2.0/24")).accept).toBe(false);
    expect(parseFilter("accept", { localAs: LOCAL_AS }).evaluate(route("192.0.2.0/24")).accept).toBe(true);
  });

  it("prefix-dependent filters say so (the RIB then evaluates per prefix)", () => {
    expect(
      parseFilter({ terms: [{ match: { prefixes: ["10.0.0.0/8"] } }] }, { localAs: 1 }).prefixIndependent,
    ).toBe(false);
    expect(
      parseFilter({ terms: [{ match: { communities: ["1:1"] } }] }, { localAs: 1 }).prefixIndependent,
    ).toBe(true);
  });
});

describe("policy: bad input names the field", () => {
  const cases: { input: unknown; path: string }[] = [
    { input: { terms: [{ match: { prefixes: ["10.0.0.0/33"] } }] }, path: "filter.terms.0.match.prefixes.0" },
    {
      input: { terms: [{ match: { prefixes: [{ prefix: "10.0.0.0/16", ge: 8 }] } }] },
      path: "filter.terms.0.match.prefixes.0",
    },
    {
      input: { terms: [{ match: { communities: ["65536:1"] } }] },
      path: "filter.terms.0.match.communities.0",
    },
    {
      input: { terms: [{ set: { largeCommunities: { add: ["1:2"] } } }] },
      path: "filter.terms.0.set.largeCommunities.add.0",
    },
    { input: { terms: [{ match: { asPath: { regex: "(" } } }] }, path: "filter.terms.0.match.asPath.regex" },
    { input: { terms: [{ action: "maybe" }] }, path: "filter.terms.0.action" },
    { input: { terms: [{ set: { localPref: -1 } }] }, path: "filter.terms.0.set.localPref" },
    { input: { termz: [] }, path: "filter" },
  ];
  it.each(cases)("$path", ({ input, path }) => {
    let err: unknown;
    try {
      parseFilter(input, { localAs: LOCAL_AS });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as Error).message.startsWith(`${path}:`)).toBe(true);
  });
});
