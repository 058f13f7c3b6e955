// Seeded property test of the encoder: random but valid messages must
// survive encode -> decode unchanged (the fuzz test covers the other
// direction, bytes -> objects).
import { describe, expect, it } from "@jest/globals";
import { canonicalIpv6, canonicalPrefix, decodeMessage, encodeMessage } from "../index.js";
import type {
  AsPathSegment,
  BgpMessage,
  Capability,
  CodecOptions,
  PathAttributes,
  UpdateMessage,
} from "../index.js";
import { rng } from "./rng.js";

const SEED = Number(process.env.TRELLIS_FUZZ_SEED ?? 20261129);
const COUNT = 2000;

function gen(r: () => number) {
  const int = (n: number) => Math.floor(r() * n);
  const u32 = () => int(0x100000000);
  const maybe = (p = 0.5) => r() < p;
  const v4addr = () => `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`;
  const v6addr = () =>
    canonicalIpv6(`2001:db8:${int(0x10000).toString(16)}::${(1 + int(0xfffe)).toString(16)}`);
  const v4prefix = () => {
    const len = int(33);
    const v = len === 0 ? 0 : (u32() & ((0xffffffff << (32 - len)) >>> 0)) >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${len}`;
  };
  const v6prefix = () => {
    const len = 16 + int(113);
    const b = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) b.writeUInt8(int(256), i);
    for (let bit = len; bit < 128; bit++)
      b.writeUInt8(b.readUInt8(bit >> 3) & ~(0x80 >> (bit & 7)), bit >> 3);
    const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16));
    return { text: groups.join(":"), len };
  };
  return { int, u32, maybe, v4addr, v6addr, v4prefix, v6prefix };
}

describe(`random valid messages round-trip (seed ${SEED})`, () => {
  it(`${COUNT} UPDATEs and OPENs: decode(encode(m)) == m`, () => {
    const r = rng(SEED);
    const g = gen(r);
    for (let n = 0; n < COUNT; n++) {
      const four = g.maybe();
      const opts: CodecOptions = { fourOctetAs: four, extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }] };
      const asn = () => (four ? 1 + g.int(0xfffffffe) : 1 + g.int(0xfffe));
      let m: BgpMessage;
      if (n % 5 === 0) {
        const caps: Capability[] = [];
        if (g.maybe()) caps.push({ kind: "multiprotocol", afi: 1 + g.int(2), safi: 1 });
        if (g.maybe()) caps.push({ kind: "route-refresh" });
        if (g.maybe()) caps.push({ kind: "four-octet-as", asn: 1 + g.int(0xfffffffe) });
        if (g.maybe())
          caps.push({
            kind: "graceful-restart",
            restarting: g.maybe(),
            notification: g.maybe(),
            restartTime: g.int(4096),
            families: [{ afi: 1, safi: 1, forwarding: g.maybe() }],
          });
        if (g.maybe())
          caps.push({ kind: "add-path", entries: [{ afi: 2, safi: 1, sendReceive: 1 + g.int(3) }] });
        if (g.maybe()) caps.push({ kind: "unknown", code: 200 + g.int(50), data: Buffer.from([g.int(256)]) });
        m = {
          type: "OPEN",
          version: 4,
          myAs: 1 + g.int(0xfffe),
          holdTime: g.maybe() ? 0 : 3 + g.int(65000),
          bgpId: g.v4addr(),
          capabilities: caps,
        };
      } else {
        const attributes: PathAttributes = { origin: g.int(3) as 0 | 1 | 2 };
        const segs: AsPathSegment[] = [];
        for (let i = g.int(4); i > 0; i--) {
          segs.push({
            type: (1 + g.int(4)) as 1 | 2 | 3 | 4,
            asns: Array.from({ length: 1 + g.int(6) }, asn),
          });
        }
        attributes.asPath = segs;
        const v6 = g.maybe(0.4);
        if (!v6) attributes.nextHop = g.v4addr();
        if (g.maybe()) attributes.med = g.u32();
        if (g.maybe()) attributes.localPref = g.u32();
        if (g.maybe(0.2)) attributes.atomicAggregate = true;
        if (g.maybe(0.2)) attributes.aggregator = { asn: asn(), address: g.v4addr() };
        if (g.maybe()) attributes.communities = Array.from({ length: 1 + g.int(5) }, g.u32);
        if (g.maybe(0.3)) attributes.originatorId = g.v4addr();
        if (g.maybe(0.3)) attributes.clusterList = Array.from({ length: 1 + g.int(3) }, g.v4addr);
        if (g.maybe(0.3)) attributes.extendedCommunities = [BigInt(g.u32()) * 0x100000000n + BigInt(g.u32())];
        if (g.maybe(0.4))
          attributes.largeCommunities = Array.from({ length: 1 + g.int(3) }, () => ({
            global: g.u32(),
            local1: g.u32(),
            local2: g.u32(),
          }));
        if (!four && g.maybe(0.3)) attributes.as4Path = [{ type: 2, asns: [70000 + g.int(1000)] }];
        if (g.maybe(0.2))
          attributes.unknown = [{ flags: 0xc0, type: 100 + g.int(100), value: Buffer.from([g.int(256)]) }];
        const u: UpdateMessage = {
          type: "UPDATE",
          withdrawn: Array.from({ length: g.int(4) }, g.v4prefix),
          attributes,
          nlri: v6 ? [] : Array.from({ length: 1 + g.int(20) }, g.v4prefix),
        };
        if (v6) {
          const nlri = Array.from({ length: 1 + g.int(20) }, () => {
            const p = g.v6prefix();
            return canonicalPrefix(`${p.text}/${p.len}`) as string;
          });
          u.mpReach = { afi: 2, safi: 1, nextHop: g.v6addr(), nlri };
          if (g.maybe()) u.mpReach.nextHopLinkLocal = "fe80::1";
        }
        if (g.maybe(0.3))
          u.mpUnreach = {
            afi: 2,
            safi: 1,
            withdrawn: [canonicalPrefix(`2001:db8:${g.int(65536).toString(16)}::/48`) as string],
          };
        m = u;
      }
      // Generated prefixes and addresses are canonical, so the decoded message is the same object.
      expect(decodeMessage(encodeMessage(m, opts), opts)).toEqual(m);
    }
  });
});
