import { describe, expect, it } from "@jest/globals";
import {
  COMMUNITY_NO_ADVERTISE,
  COMMUNITY_NO_EXPORT,
  COMMUNITY_NO_EXPORT_SUBCONFED,
  COMMUNITY_NOPEER,
  extendedCommunityView,
  formatCommunity,
  formatLargeCommunity,
  parseCommunity,
  parseLargeCommunity,
  routeTargetCommunity,
} from "../index.js";

describe("communities (RFC 1997)", () => {
  it.each([
    ["65001:100", 0xfde90064],
    ["0:0", 0],
    ["no-export", COMMUNITY_NO_EXPORT],
    ["no-advertise", COMMUNITY_NO_ADVERTISE],
    ["no-export-subconfed", COMMUNITY_NO_EXPORT_SUBCONFED],
    ["no-peer", COMMUNITY_NOPEER],
  ])("%s <-> %d", (text, value) => {
    expect(parseCommunity(text)).toBe(value);
    expect(formatCommunity(value)).toBe(text);
  });
  it.each(["65536:1", "1:65536", "1", "a:b", "1:2:3", ""])("rejects %p", (t) => {
    expect(parseCommunity(t)).toBeNull();
  });
  it("well-known values are those of RFC 1997 and RFC 3765", () => {
    expect([
      COMMUNITY_NO_EXPORT,
      COMMUNITY_NO_ADVERTISE,
      COMMUNITY_NO_EXPORT_SUBCONFED,
      COMMUNITY_NOPEER,
    ]).toEqual([0xffffff01, 0xffffff02, 0xffffff03, 0xffffff04]);
  });
});

describe("large communities (RFC 8092)", () => {
  it("round trip", () => {
    expect(parseLargeCommunity("4200000001:1:4294967295")).toEqual({
      global: 4200000001,
      local1: 1,
      local2: 4294967295,
    });
    expect(formatLargeCommunity({ global: 1, local1: 2, local2: 3 })).toBe("1:2:3");
  });
  it.each(["1:2", "1:2:4294967296", "a:b:c"])("rejects %p", (t) => {
    expect(parseLargeCommunity(t)).toBeNull();
  });
});

describe("extended communities (RFC 4360) typed view", () => {
  it("two-octet AS route target", () => {
    expect(extendedCommunityView(routeTargetCommunity(65000, 100))).toEqual({
      type: 0,
      subtype: 2,
      transitive: true,
      global: 65000,
      local: 100,
      text: "rt:65000:100",
    });
  });
  it("four-octet AS route target (RFC 5668)", () => {
    expect(extendedCommunityView(routeTargetCommunity(4200000001, 7)).text).toBe("rt:4200000001:7");
  });
  it("IPv4-address route origin, non-transitive bit", () => {
    const v = extendedCommunityView(0x4103c00002010007n);
    expect(v).toMatchObject({ transitive: false, global: "192.0.2.1", local: 7, text: "ro:192.0.2.1:7" });
  });
  it("opaque types keep a hex text", () => {
    expect(extendedCommunityView(0x030c000000000008n).text).toBe("0x030c000000000008");
  });
});
