import { describe, expect, it } from "@jest/globals";
import {
  AS_TRANS,
  as4ForTwoOctetPeer,
  asPathContains,
  asPathLength,
  decodeMessage,
  mergeAs4,
  packUpdates,
} from "../index.js";
import type { AsPathSegment, PathAttributes } from "../index.js";

const seq = (...asns: number[]): AsPathSegment => ({ type: 2, asns });
const set = (...asns: number[]): AsPathSegment => ({ type: 1, asns });
const confed = (...asns: number[]): AsPathSegment => ({ type: 3, asns });

describe("RFC 6793 §4.2.3: rebuilding the path from AS_PATH and AS4_PATH", () => {
  it("replaces the trailing AS_TRANS entries with AS4_PATH", () => {
    const a: PathAttributes = {
      asPath: [seq(65002, AS_TRANS, AS_TRANS)],
      as4Path: [seq(4200000001, 4200000002)],
    };
    expect(mergeAs4(a)).toEqual({ asPath: [seq(65002, 4200000001, 4200000002)] });
  });
  it("ignores an AS4_PATH longer than AS_PATH", () => {
    const a: PathAttributes = { asPath: [seq(AS_TRANS)], as4Path: [seq(4200000001, 4200000002)] };
    expect(mergeAs4(a)).toEqual({ asPath: [seq(AS_TRANS)] });
  });
  it("counts an AS_SET as one and keeps confederation segments", () => {
    const a: PathAttributes = {
      asPath: [confed(65100), seq(65001), set(65002, 65003), seq(AS_TRANS)],
      as4Path: [seq(4200000001)],
    };
    expect(mergeAs4(a).asPath).toEqual([confed(65100), seq(65001), set(65002, 65003), seq(4200000001)]);
  });
  it("uses AS4_AGGREGATOR when AGGREGATOR holds AS_TRANS", () => {
    const a: PathAttributes = {
      asPath: [seq(AS_TRANS)],
      aggregator: { asn: AS_TRANS, address: "192.0.2.9" },
      as4Aggregator: { asn: 4200000001, address: "192.0.2.9" },
      as4Path: [seq(4200000001)],
    };
    expect(mergeAs4(a)).toEqual({
      asPath: [seq(4200000001)],
      aggregator: { asn: 4200000001, address: "192.0.2.9" },
    });
  });
  it("ignores AS4_PATH and AS4_AGGREGATOR when AGGREGATOR holds a real 2-octet AS", () => {
    const a: PathAttributes = {
      asPath: [seq(65002, AS_TRANS)],
      aggregator: { asn: 65005, address: "192.0.2.9" },
      as4Aggregator: { asn: 4200000001, address: "192.0.2.9" },
      as4Path: [seq(4200000001)],
    };
    expect(mergeAs4(a)).toEqual({
      asPath: [seq(65002, AS_TRANS)],
      aggregator: { asn: 65005, address: "192.0.2.9" },
    });
  });
  it("returns the same object when there is nothing to merge", () => {
    const a: PathAttributes = { asPath: [seq(1, 2)] };
    expect(mergeAs4(a)).toBe(a);
  });
});

describe("RFC 6793 §4.2.2: sending to a 2-octet peer", () => {
  it("maps 4-octet ASes to AS_TRANS and adds AS4_PATH without confederation segments", () => {
    const out = as4ForTwoOctetPeer({ asPath: [confed(65100), seq(4200000001, 65002)] });
    expect(out.asPath).toEqual([confed(65100), seq(AS_TRANS, 65002)]);
    expect(out.as4Path).toEqual([seq(4200000001, 65002)]);
  });
  it("adds no AS4_PATH when every AS fits in 2 octets", () => {
    const out = as4ForTwoOctetPeer({ asPath: [seq(65001, 65002)] });
    expect(out).toEqual({ asPath: [seq(65001, 65002)] });
  });
  it("moves a 4-octet aggregator AS into AS4_AGGREGATOR", () => {
    const out = as4ForTwoOctetPeer({ aggregator: { asn: 4200000001, address: "192.0.2.1" } });
    expect(out.aggregator).toEqual({ asn: AS_TRANS, address: "192.0.2.1" });
    expect(out.as4Aggregator).toEqual({ asn: 4200000001, address: "192.0.2.1" });
  });
  it("round-trips through the wire: pack for a 2-octet peer, decode, merge", () => {
    const attrs: PathAttributes = {
      origin: 0,
      asPath: [seq(4200000001, 65002, 4200000003)],
      nextHop: "192.0.2.1",
      aggregator: { asn: 4200000001, address: "192.0.2.1" },
    };
    const [wire] = packUpdates(attrs, ["10.0.0.0/24"], [], { fourOctetAs: false });
    const m = decodeMessage(wire as Buffer, { fourOctetAs: false });
    if (m.type !== "UPDATE") throw new Error("not an UPDATE");
    expect(m.attributes.asPath).toEqual([seq(AS_TRANS, 65002, AS_TRANS)]);
    const merged = mergeAs4(m.attributes);
    expect(merged.asPath).toEqual(attrs.asPath);
    expect(merged.aggregator).toEqual(attrs.aggregator);
  });
  it("never sends AS4_* attributes on a 4-octet session", () => {
    const [wire] = packUpdates(
      { origin: 0, asPath: [seq(1)], nextHop: "192.0.2.1", as4Path: [seq(1)] },
      ["10.0.0.0/24"],
      [],
      { fourOctetAs: true },
    );
    const m = decodeMessage(wire as Buffer, { fourOctetAs: true });
    expect(m.type === "UPDATE" && m.discarded).toBeFalsy();
  });
});

describe("AS_PATH measures (RFC 4271 §9.1.2.2)", () => {
  it("counts a sequence per AS, a set as one, confederation segments as zero", () => {
    expect(asPathLength([seq(1, 2, 3), set(4, 5), confed(6, 7)])).toBe(4);
    expect(asPathLength(undefined)).toBe(0);
  });
  it("finds an AS anywhere (loop detection)", () => {
    expect(asPathContains([seq(1, 2), set(3)], 3)).toBe(true);
    expect(asPathContains([seq(1, 2)], 4)).toBe(false);
  });
});
