// Seeded fuzzing: at least 100,000 random and mutated messages must never make
// the decoder throw anything but BgpError, never hang, and never grow memory
// without bound. Re-encoding whatever decodes must work too. The seed is
// printed; rerun a failure with TRELLIS_FUZZ_SEED=<seed>.
import { describe, expect, it } from "@jest/globals";
import { BgpError, decodeMessage, encodeMessage, frame, packUpdates } from "../index.js";
import type { CodecOptions } from "../index.js";
import { FIXTURES } from "./fixtures.js";
import { MALFORMED } from "./malformed.js";
import { buf } from "./hex.js";
import { readFileSync } from "node:fs";

const CAPTURED = new URL("../../../../bgp/wire/test/fixtures/captured/", import.meta.url);
import { inspect, isDeepStrictEqual } from "node:util";
import type { BgpMessage } from "../index.js";
import { rng } from "./rng.js";

function normalize(m: BgpMessage): BgpMessage {
  if (m.type !== "UPDATE" || m.attributes.unknown === undefined) return m;
  const unknown = [...m.attributes.unknown].sort((a, b) => a.type - b.type);
  return { ...m, attributes: { ...m.attributes, unknown } };
}

const COUNT = Number(process.env.TRELLIS_FUZZ_N ?? 100_000);
const SEED = Number(process.env.TRELLIS_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

const OPTIONS: CodecOptions[] = [
  { fourOctetAs: true },
  { fourOctetAs: false },
  { fourOctetAs: true, external: true, enhancedRouteRefresh: true },
  {
    fourOctetAs: true,
    extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }],
    families: [{ afi: 1, safi: 1 }],
  },
  { fourOctetAs: false, extendedMessage: true },
];

function seeds(): Buffer[] {
  const out = [...FIXTURES.map((f) => buf(f.hex)), ...MALFORMED.map((c) => buf(c.hex))];
  // Real-world shapes: everything captured from BIRD, GoBGP and FRR.
  for (const name of ["bird", "gobgp", "frr"]) {
    const file = JSON.parse(readFileSync(new URL(`${name}.json`, CAPTURED), "utf8")) as {
      received: { hex: string }[];
    };
    out.push(...file.received.map((r) => Buffer.from(r.hex, "hex")));
  }
  const attrs = {
    origin: 0 as const,
    asPath: [{ type: 2 as const, asns: [65001, 4200000001] }],
    nextHop: "192.0.2.1",
    communities: [1, 2, 3],
    largeCommunities: [{ global: 1, local1: 2, local2: 3 }],
  };
  const v4 = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  const v6 = Array.from({ length: 100 }, (_, i) => `2001:db8:${i.toString(16)}::/48`);
  out.push(...packUpdates(attrs, v4, v4.slice(0, 20), { fourOctetAs: false }));
  out.push(
    ...packUpdates({ ...attrs, nextHop: "2001:db8::1", nextHopLinkLocal: "fe80::1" }, v6, v6.slice(0, 5), {
      fourOctetAs: true,
    }),
  );
  return out;
}

function mutate(src: Buffer, r: () => number): Buffer {
  const pick = (n: number) => Math.floor(r() * n);
  let b = Buffer.from(src);
  const rounds = 1 + pick(4);
  for (let k = 0; k < rounds; k++) {
    const op = pick(9);
    const at = b.length > 0 ? pick(b.length) : 0;
    switch (op) {
      case 0: // flip a bit
        if (b.length > 0) b.writeUInt8(b.readUInt8(at) ^ (1 << pick(8)), at);
        break;
      case 1: // random byte past the marker (where parsing happens)
        if (b.length > 16) b.writeUInt8(pick(256), 16 + pick(b.length - 16));
        break;
      case 2: // truncate, keeping or fixing the header length
        b = b.subarray(0, pick(b.length + 1));
        if (r() < 0.5 && b.length >= 19) b.writeUInt16BE(b.length, 16);
        break;
      case 3: {
        // extend with random bytes and announce the new length
        const extra = Buffer.alloc(1 + pick(64));
        for (let i = 0; i < extra.length; i++) extra.writeUInt8(pick(256), i);
        b = Buffer.concat([b, extra]);
        if (b.length >= 19 && b.length <= 0xffff) b.writeUInt16BE(b.length, 16);
        break;
      }
      case 4: // overwrite a 16-bit field with an interesting value
        if (b.length > 20) {
          const v = [0, 1, 2, 3, 4, 255, 256, 0x7fff, 0xffff, pick(65536)][pick(10)] as number;
          const o = 19 + pick(b.length - 20);
          b.writeUInt16BE(v, o);
        }
        break;
      case 5: // overwrite a byte with an interesting value (lengths, flags, types)
        if (b.length > 19)
          b.writeUInt8(
            [0, 1, 0x10, 0x40, 0x80, 0xc0, 0xd0, 0xff, 14, 15, 32][pick(11)] as number,
            19 + pick(b.length - 19),
          );
        break;
      case 6: {
        // delete a span, fix the header length
        const n = 1 + pick(8);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
        if (b.length >= 19) b.writeUInt16BE(b.length, 16);
        break;
      }
      case 7: {
        // duplicate a span, fix the header length
        const n = 1 + pick(16);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + n), b.subarray(at)]);
        if (b.length >= 19 && b.length <= 0xffff) b.writeUInt16BE(b.length, 16);
        break;
      }
      default: {
        // fully random body behind a valid header
        const len = 19 + pick(200);
        b = Buffer.alloc(len);
        b.fill(0xff, 0, 16);
        b.writeUInt16BE(len, 16);
        b.writeUInt8(1 + pick(5), 18);
        for (let i = 19; i < len; i++) b.writeUInt8(pick(256), i);
      }
    }
  }
  return b;
}

describe(`seeded fuzz (seed ${SEED}, ${COUNT} messages)`, () => {
  it("never throws anything but BgpError, and what decodes re-encodes", () => {
    process.stderr.write(
      `bgp/wire fuzz: seed ${SEED} (set TRELLIS_FUZZ_SEED to replay), ${COUNT} messages\n`,
    );
    const r = rng(SEED);
    const pool = seeds();
    const started = Date.now();
    const heapBefore = process.memoryUsage().heapUsed;
    const tally = { decoded: 0, bgpErrors: 0, incomplete: 0, treatAsWithdraw: 0 };
    for (let i = 0; i < COUNT; i++) {
      const input = mutate(pool[Math.floor(r() * pool.length)] as Buffer, r);
      const opts = OPTIONS[i % OPTIONS.length] as CodecOptions;
      try {
        const f = frame(input, 0, opts.extendedMessage ? 65535 : 4096);
        if (f === null) tally.incomplete++;
        const m = decodeMessage(input, opts);
        tally.decoded++;
        if (m.type === "UPDATE" && m.treatAsWithdraw) tally.treatAsWithdraw++;
        try {
          const again = decodeMessage(encodeMessage(m, opts), opts);
          // Semantic round trip for what decoded cleanly (unknown attributes are re-sorted by type on encode).
          if (m.type !== "UPDATE" || m.discarded === undefined) {
            if (!isDeepStrictEqual(normalize(again), normalize(m))) {
              throw new Error(
                `round trip differs:\n${inspect(m, { depth: 9 })}\n${inspect(again, { depth: 9 })}`,
              );
            }
          }
        } catch (e) {
          // Re-encoding may exceed the size limit (e.g. one segment split in two); nothing else.
          if (!(e instanceof RangeError && /exceeds/.test(e.message))) throw e;
        }
        // Keep a few decoded messages as new seeds so mutations go deeper.
        if (pool.length < 2000 && r() < 0.01) pool.push(input);
      } catch (e) {
        if (e instanceof BgpError) {
          tally.bgpErrors++;
          continue;
        }
        throw new Error(
          `seed ${SEED} case ${i}: ${(e as Error).stack ?? String(e)}\ninput ${input.toString("hex")}\nopts ${JSON.stringify(opts)}`,
        );
      }
    }
    const elapsed = Date.now() - started;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    process.stderr.write(
      `bgp/wire fuzz: ${JSON.stringify(tally)} in ${elapsed} ms, heap +${(heapGrowth / 1e6).toFixed(1)} MB\n`,
    );
    expect(tally.decoded + tally.bgpErrors).toBe(COUNT);
    // Every outcome class is exercised, or the mutator is too tame.
    expect(tally.decoded).toBeGreaterThan(COUNT / 20);
    expect(tally.bgpErrors).toBeGreaterThan(COUNT / 20);
    expect(tally.treatAsWithdraw).toBeGreaterThan(0);
    // Bounded memory: nothing the fuzzer fed in is retained beyond the seed pool.
    expect(heapGrowth).toBeLessThan(256 * 1024 * 1024);
  }, 120_000);
});
