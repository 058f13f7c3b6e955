import { describe, expect, it } from "@jest/globals";
import { decodeMessage, encodeMessage, encodeMessageInto, encodingLength, packUpdates } from "../index.js";
import type { CodecOptions, UpdateMessage } from "../index.js";

const AS4: CodecOptions = { fourOctetAs: true };

describe("encoder limits", () => {
  it("refuses an UPDATE over 4096 octets (RFC 4271 §4.1) but allows it with Extended Message", () => {
    const nlri = Array.from({ length: 1100 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const m: UpdateMessage = {
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: 0, asPath: [], nextHop: "192.0.2.1" },
      nlri,
    };
    expect(() => encodeMessage(m, AS4)).toThrow(RangeError);
    const big = encodeMessage(m, { fourOctetAs: true, extendedMessage: true });
    expect(big.length).toBe(encodingLength(m, AS4));
    expect(big.length).toBeGreaterThan(4096);
  });
  it("refuses a target buffer that is too small", () => {
    expect(() => encodeMessageInto({ type: "KEEPALIVE" }, AS4, Buffer.alloc(18))).toThrow(RangeError);
  });
  it("splits an AS_PATH segment of more than 255 ASes (one-octet segment length)", () => {
    const asns = Array.from({ length: 300 }, (_, i) => 64512 + i);
    const m: UpdateMessage = {
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns }], nextHop: "192.0.2.1" },
      nlri: ["10.0.0.0/8"],
    };
    const back = decodeMessage(encodeMessage(m, AS4), AS4);
    expect(back.type === "UPDATE" && back.attributes.asPath).toEqual([
      { type: 2, asns: asns.slice(0, 255) },
      { type: 2, asns: asns.slice(255) },
    ]);
  });
  it("writes 4-octet ASes as AS_TRANS on a 2-octet session (RFC 6793 §4.2.2)", () => {
    const m: UpdateMessage = {
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [4200000001] }], nextHop: "192.0.2.1" },
      nlri: ["10.0.0.0/8"],
    };
    const back = decodeMessage(encodeMessage(m, { fourOctetAs: false }), { fourOctetAs: false });
    expect(back.type === "UPDATE" && back.attributes.asPath).toEqual([{ type: 2, asns: [23456] }]);
  });
  it("packUpdates refuses attributes that leave no room for a prefix", () => {
    const communities = Array.from({ length: 1020 }, (_, i) => i);
    expect(() =>
      packUpdates({ origin: 0, asPath: [], nextHop: "192.0.2.1", communities }, ["10.0.0.0/8"], [], AS4),
    ).toThrow(RangeError);
  });
  it("packUpdates requires a next hop to announce", () => {
    expect(() => packUpdates({ origin: 0, asPath: [] }, ["10.0.0.0/8"], [], AS4)).toThrow(TypeError);
  });
  it("rejects malformed prefix and address strings as caller errors (TypeError)", () => {
    const m = (nlri: string[], nextHop = "192.0.2.1"): UpdateMessage => ({
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: 0, asPath: [], nextHop },
      nlri,
    });
    expect(() => encodeMessage(m(["10.0.0.0/33"]), AS4)).toThrow(TypeError);
    expect(() => encodeMessage(m(["10.0.0/8"]), AS4)).toThrow(TypeError);
    expect(() => encodeMessage(m(["10.0.0.0/8"], "192.0.2"), AS4)).toThrow(TypeError);
  });
});
