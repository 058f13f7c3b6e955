import { describe, expect, it } from "@jest/globals";
import { decodeMessage, encodeMessage, encodeMessageInto, encodingLength, frame } from "../index.js";
import { FIXTURES } from "./fixtures.js";
import { buf } from "./hex.js";

describe("fixtures: hex -> object", () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))("%s", (_n, f) => {
    expect(decodeMessage(buf(f.hex), f.opts)).toEqual(f.object);
  });
});

const encodable = FIXTURES.filter((f) => f.direction === "both");

describe("fixtures: object -> hex", () => {
  it.each(encodable.map((f) => [f.name, f] as const))("%s", (_n, f) => {
    expect(encodeMessage(f.object, f.opts).toString("hex")).toBe(buf(f.hex).toString("hex"));
  });
});

describe("fixtures: encodingLength equals the encoded size", () => {
  it.each(encodable.map((f) => [f.name, f] as const))("%s", (_n, f) => {
    expect(encodingLength(f.object, f.opts)).toBe(buf(f.hex).length);
  });
});

describe("fixtures: encoding and decoding at an offset", () => {
  it.each(encodable.map((f) => [f.name, f] as const))("%s", (_n, f) => {
    const want = buf(f.hex);
    const space = Buffer.alloc(7 + want.length + 5, 0xaa);
    const n = encodeMessageInto(f.object, f.opts, space, 7);
    expect(n).toBe(want.length);
    expect(space.subarray(7, 7 + n).toString("hex")).toBe(want.toString("hex"));
    // Bytes around the message are untouched.
    expect(space.subarray(0, 7).every((b) => b === 0xaa)).toBe(true);
    expect(space.subarray(7 + n).every((b) => b === 0xaa)).toBe(true);
    expect(frame(space, 7)).toEqual({ length: want.length, type: want.readUInt8(18) });
    expect(decodeMessage(space, f.opts, 7)).toEqual(f.object);
  });
});

describe("fixtures: decode(encode(object)) round trip of decode-only fixtures", () => {
  it.each(FIXTURES.filter((f) => f.direction === "decode").map((f) => [f.name, f] as const))(
    "%s",
    (_n, f) => {
      expect(decodeMessage(encodeMessage(f.object, f.opts), f.opts)).toEqual(f.object);
    },
  );
});

describe("frame (RFC 4271 §4.1 framing as its own step)", () => {
  const keepalive = buf("ff".repeat(16) + "0013 04");
  it("returns null for fewer bytes than a header", () => {
    expect(frame(keepalive.subarray(0, 18))).toBeNull();
  });
  it("returns null for fewer bytes than the announced length", () => {
    const upd = buf("ff".repeat(16) + "0017 02 0000 0000");
    expect(frame(upd.subarray(0, 22))).toBeNull();
    expect(frame(upd)).toEqual({ length: 23, type: 2 });
  });
  it("finds consecutive messages in one stream buffer", () => {
    const stream = Buffer.concat([keepalive, keepalive, keepalive.subarray(0, 5)]);
    expect(frame(stream, 0)).toEqual({ length: 19, type: 4 });
    expect(frame(stream, 19)).toEqual({ length: 19, type: 4 });
    expect(frame(stream, 38)).toBeNull();
  });
  it("checks the header before the body has arrived", () => {
    const bad = buf("ff".repeat(16) + "0fff 09");
    expect(() => frame(bad)).toThrow(expect.objectContaining({ code: 1, subcode: 3 }) as unknown as Error);
  });
  it("accepts up to 65535 octets when Extended Message allows it (RFC 8654)", () => {
    const big = Buffer.alloc(5000, 0);
    big.fill(0xff, 0, 16);
    big.writeUInt16BE(5000, 16);
    big.writeUInt8(2, 18);
    expect(() => frame(big)).toThrow(expect.objectContaining({ code: 1, subcode: 2 }) as unknown as Error);
    expect(frame(big, 0, 65535)).toEqual({ length: 5000, type: 2 });
  });
});
