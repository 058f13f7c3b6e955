// RFC 5880 §4.1 Control packet codec: round trips, a captured-style fixture,
// a malformed corpus (one case per §6.8.6 packet-level discard rule), and a
// seeded fuzz run that must never throw. Replay with TRELLIS_FUZZ_SEED.
import { describe, expect, it } from "@jest/globals";
import {
  CONTROL_LENGTH,
  decodeControl,
  encodeControl,
  type ControlPacket,
  type DiscardReason,
} from "../packet.js";
import { rng } from "../../wire/test/rng.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** An Up packet as BIRD and FRR send it: diag 0, Up, mult 3, 100 ms / 100 ms, no echo. */
const UP = "20 c0 03 18  00000002  00000001  000186a0  000186a0  00000000";
const upPacket: ControlPacket = {
  diag: 0,
  state: "Up",
  poll: false,
  final: false,
  cpi: false,
  demand: false,
  detectMult: 3,
  myDisc: 2,
  yourDisc: 1,
  desiredMinTx: 100_000,
  requiredMinRx: 100_000,
  requiredMinEchoRx: 0,
};

const MALFORMED: { name: string; hex: string; reason: DiscardReason }[] = [
  { name: "empty", hex: "", reason: "short" },
  { name: "23 bytes", hex: UP.replace(/\s+/g, "").slice(0, 46), reason: "short" },
  { name: "version 0", hex: "00" + UP.replace(/\s+/g, "").slice(2), reason: "version" },
  { name: "version 2", hex: "40" + UP.replace(/\s+/g, "").slice(2), reason: "version" },
  { name: "Length 23", hex: "20c00317" + UP.replace(/\s+/g, "").slice(8), reason: "length" },
  { name: "Length beyond the datagram", hex: "20c00319" + UP.replace(/\s+/g, "").slice(8), reason: "length" },
  { name: "Length 0", hex: "20c00300" + UP.replace(/\s+/g, "").slice(8), reason: "length" },
  { name: "Detect Mult 0", hex: "20c00018" + UP.replace(/\s+/g, "").slice(8), reason: "detect-mult-zero" },
  { name: "Multipoint bit", hex: "20c10318" + UP.replace(/\s+/g, "").slice(8), reason: "multipoint" },
  {
    name: "My Discriminator 0",
    hex: "20c00318 00000000" + UP.replace(/\s+/g, "").slice(16),
    reason: "my-disc-zero",
  },
  {
    name: "A bit with Length 24 (no room for auth)",
    hex: "20c40318" + UP.replace(/\s+/g, "").slice(8),
    reason: "length",
  },
  {
    name: "A bit with a Simple Password section: we use no authentication",
    hex: "20c4031d" + UP.replace(/\s+/g, "").slice(8) + "0105016162",
    reason: "auth-unsupported",
  },
];

describe("BFD Control packet codec (RFC 5880 §4.1)", () => {
  it("decodes an Up packet as BIRD/FRR send it", () => {
    expect(decodeControl(hex(UP))).toEqual({ ok: true, packet: upPacket });
  });

  it("encodes it back byte for byte", () => {
    expect(encodeControl(upPacket).toString("hex")).toBe(hex(UP).toString("hex"));
  });

  it("round-trips every state, diag and flag", () => {
    for (const state of ["AdminDown", "Down", "Init", "Up"] as const)
      for (let diag = 0; diag < 32; diag += 7)
        for (const [poll, final] of [
          [false, false],
          [true, false],
          [false, true],
        ] as const) {
          const p = { ...upPacket, state, diag, poll, final, cpi: diag % 2 === 0, demand: diag === 7 };
          expect(decodeControl(encodeControl(p))).toEqual({ ok: true, packet: p });
        }
  });

  it("ignores bytes after Length (§6.8.6 only asks Length <= the payload)", () => {
    expect(decodeControl(Buffer.concat([hex(UP), Buffer.from([1, 2, 3])]))).toEqual({
      ok: true,
      packet: upPacket,
    });
  });

  for (const c of MALFORMED)
    it(`§6.8.6 discards: ${c.name} (${c.reason})`, () => {
      expect(decodeControl(hex(c.hex))).toEqual({ ok: false, reason: c.reason });
    });

  it("refuses to encode fields out of range (our bug, not input)", () => {
    expect(() => encodeControl({ ...upPacket, detectMult: 0 })).toThrow(RangeError);
    expect(() => encodeControl({ ...upPacket, myDisc: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeControl({ ...upPacket, diag: 32 })).toThrow(RangeError);
  });

  it("seeded fuzz: 100,000 random and mutated datagrams never throw; whatever decodes re-encodes", () => {
    const N = Number(process.env.TRELLIS_FUZZ_N ?? 100_000);
    const SEED = Number(process.env.TRELLIS_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`bgp/bfd fuzz: seed ${SEED} (set TRELLIS_FUZZ_SEED to replay), ${N} datagrams\n`);
    const r = rng(SEED);
    const seeds = [hex(UP), ...MALFORMED.map((c) => hex(c.hex))];
    let decoded = 0;
    for (let i = 0; i < N; i++) {
      let b: Buffer;
      if (r() < 0.3) {
        b = Buffer.alloc(Math.floor(r() * 64));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(r() * 256);
      } else {
        b = Buffer.from(seeds[Math.floor(r() * seeds.length)]!);
        const flips = 1 + Math.floor(r() * 4);
        for (let k = 0; k < flips && b.length; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        if (r() < 0.1) b = b.subarray(0, Math.floor(r() * b.length));
      }
      let res: ReturnType<typeof decodeControl>;
      try {
        res = decodeControl(b);
      } catch (e) {
        throw new Error(`seed ${SEED} case ${i}: ${b.toString("hex")} threw ${String(e)}`);
      }
      if (res.ok) {
        decoded++;
        const again = decodeControl(encodeControl(res.packet));
        expect(again).toEqual(res);
        expect(b.length).toBeGreaterThanOrEqual(CONTROL_LENGTH);
      }
    }
    expect(decoded).toBeGreaterThan(0);
  });
});
