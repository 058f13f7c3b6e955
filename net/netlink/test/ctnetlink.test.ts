// The ctnetlink codec on bytes (no kernel): the layouts of
// include/uapi/linux/netfilter/nfnetlink{,_conntrack}.h, written out by
// hand here, and the kernel's own dump of one entry decoded.
import { describe, expect, it } from "@jest/globals";
import {
  CT_GET_STATS,
  CT_NEW,
  ctDumpRequest,
  ctMarkRequest,
  ctStatsRequest,
  decodeCtEntry,
  decodeCtStats,
  describeCt,
  type CtEntry,
} from "../ctnetlink.js";
import { decodeMessages, encodeRequests, nest, u8, type Attr, type Message } from "../rtnetlink.js";
import { parseAddress, type Address } from "../../address.js";

const hex = (b: Buffer) => b.toString("hex");
const addr = (t: string) => parseAddress(t) as Address;
const one = (r: ReturnType<typeof ctDumpRequest> | string) => {
  if (typeof r === "string") throw new Error(r);
  return hex(encodeRequests([r], 1));
};

/** An ICMPv6 echo in zone 3: encoded by the update, decoded from a dump. */
const ECHO6: CtEntry = {
  protocol: "ipv6-icmp",
  saddr: "fd00::1",
  daddr: "fd00::2",
  icmp: { type: 128, code: 0, id: 7 },
  zone: 3,
  mark: 0,
};

describe("ctnetlink requests", () => {
  it("a dump of one family: IPCTNL_MSG_CT_GET with NLM_F_DUMP and the family in nfgenmsg, nothing else", () => {
    expect(one(ctDumpRequest(4))).toBe(
      // nlmsghdr: len 20, type 0x0101 (CTNETLINK << 8 | CT_GET), flags REQUEST|DUMP, seq 1, pid 0
      "14000000" +
        "0101" +
        "0103" +
        "01000000" +
        "00000000" +
        // nfgenmsg: AF_INET, NFNETLINK_V0, res_id 0
        "02000000",
    );
    expect(one(ctDumpRequest(6)).slice(32)).toBe("0a000000");
  });

  it("a dump the kernel filters by original source: the address in CTA_TUPLE_ORIG, the field in CTA_FILTER_ORIG_FLAGS", () => {
    expect(one(ctDumpRequest(4, { match: "orig-src", addr: addr("10.1.0.2") }))).toBe(
      "30000000" +
        "0101" +
        "0103" +
        "01000000" +
        "00000000" +
        "02000000" +
        // CTA_TUPLE_ORIG (nested) { CTA_TUPLE_IP (nested) { CTA_IP_V4_SRC 10.1.0.2 } }
        "10000180" +
        "0c000180" +
        "08000100" +
        "0a010002" +
        // CTA_FILTER (nested, NLA_F_NESTED required) { CTA_FILTER_ORIG_FLAGS u32 CTA_FILTER_F_CTA_IP_SRC }
        "0c001980" +
        "08000100" +
        "01000000",
    );
  });

  it("by original destination (CTA_IP_V4_DST, CTA_FILTER_F_CTA_IP_DST) and, for IPv6, by reply source", () => {
    expect(one(ctDumpRequest(4, { match: "orig-dst", addr: addr("10.1.0.2") })).slice(40)).toBe(
      "10000180" + "0c000180" + "08000200" + "0a010002" + "0c001980" + "08000100" + "02000000",
    );
    expect(one(ctDumpRequest(6, { match: "reply-src", addr: addr("fd00::2") })).slice(32)).toBe(
      "0a000000" +
        // CTA_TUPLE_REPLY { CTA_TUPLE_IP { CTA_IP_V6_SRC fd00::2 } }
        "1c000280" +
        "18000180" +
        "14000300" +
        "fd000000000000000000000000000002" +
        // CTA_FILTER { CTA_FILTER_REPLY_FLAGS u32 CTA_FILTER_F_CTA_IP_SRC }
        "0c001980" +
        "08000200" +
        "01000000",
    );
  });

  it("the table's statistics: IPCTNL_MSG_CT_GET_STATS, a plain request (with its ack), AF_UNSPEC; the answer's entry count", () => {
    expect(one(ctStatsRequest())).toBe("14000000" + "0501" + "0500" + "01000000" + "00000000" + "00000000");
    const answer = (attrs: Attr[]): Message =>
      (
        decodeMessages(
          encodeRequests([{ type: CT_GET_STATS, flags: 0, header: Buffer.alloc(4), attrs }], 1),
        ) as Message[]
      )[0]!;
    // ctnetlink_stat_ct_fill_info: CTA_STATS_GLOBAL_ENTRIES, CTA_STATS_GLOBAL_MAX_ENTRIES, both be32
    const four = (t: number, v: number): Attr => ({
      type: t,
      value: Buffer.from([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]),
    });
    expect(decodeCtStats(answer([four(1, 100000), four(2, 262144)]))).toEqual({
      entries: 100000,
      max: 262144,
    });
    expect(decodeCtStats(answer([]))).toBe("conntrack statistics without CTA_STATS_GLOBAL_ENTRIES");
    expect(decodeCtStats({ ...answer([]), type: CT_NEW })).toBe("conntrack statistics: message type 0x100");
  });

  it("refuses a filter address of the other family", () => {
    expect(() => ctDumpRequest(6, { match: "orig-src", addr: addr("10.1.0.2") })).toThrow(
      "ctnetlink dump of IPv6: a filter address of IPv4",
    );
  });

  const tcp: CtEntry = {
    protocol: "tcp",
    saddr: "10.1.0.2",
    daddr: "10.1.0.3",
    sport: 40000,
    dport: 80,
    mark: 5,
  };

  it("the update of a TCP entry's mark: CT_NEW without NLM_F_CREATE, its original tuple, CTA_MARK and CTA_MARK_MASK", () => {
    expect(one(ctMarkRequest(tcp, 0x1000_0000, 0x1000_0000))).toBe(
      // len 88, type 0x0100 (CT_NEW), flags REQUEST|ACK (no CREATE, no EXCL)
      "58000000" +
        "0001" +
        "0500" +
        "01000000" +
        "00000000" +
        "02000000" +
        "34000180" +
        "14000180" +
        "08000100" +
        "0a010002" +
        "08000200" +
        "0a010003" +
        // CTA_TUPLE_PROTO { CTA_PROTO_NUM 6, CTA_PROTO_SRC_PORT be16 40000, CTA_PROTO_DST_PORT be16 80 }
        "1c000280" +
        "0500010006000000" +
        "060002009c400000" +
        "0600030000500000" +
        // CTA_MARK be32, CTA_MARK_MASK be32
        "0800080010000000" +
        "0800150010000000",
    );
    // Clearing: value 0 under the same mask (the kernel: mark = (mark & ~mask) ^ value).
    expect(one(ctMarkRequest(tcp, 0, 0x1000_0000)).slice(-32)).toBe("0800080000000000" + "0800150010000000");
  });

  it("an ICMPv6 entry is named by its id, type and code; a zone other than 0 by CTA_ZONE", () => {
    const h = one(ctMarkRequest(ECHO6, 0, 0x1000_0000));
    // CTA_TUPLE_PROTO { NUM 58, ICMPV6_ID be16 7, ICMPV6_TYPE 128, ICMPV6_CODE 0 }
    expect(h).toContain(
      "24000280" + "050001003a000000" + "0600070000070000" + "0500080080000000" + "0500090000000000",
    );
    // CTA_ZONE be16 3, then the mark and its mask
    expect(h.slice(-48)).toBe("0600120000030000" + "0800080000000000" + "0800150010000000");
  });

  it("says what is wrong instead of sending what cannot name an entry", () => {
    expect(ctMarkRequest(tcp, 0x1, 0x1000_0000)).toBe("mark value 1 has bits outside the mask 0x10000000");
    expect(ctMarkRequest(tcp, 0, 0)).toBe("mark mask 0 is not a u32 bit mask");
    expect(ctMarkRequest({ ...tcp, saddr: "10.1.0.300" }, 0, 1)).toMatch(/is not an IPv4 address/);
    expect(ctMarkRequest({ ...tcp, daddr: "fd00::3" }, 0, 1)).toBe(
      "10.1.0.2 and fd00::3 are of different families",
    );
    expect(ctMarkRequest({ protocol: "icmp", saddr: "10.1.0.2", daddr: "10.1.0.3", mark: 0 }, 0, 1)).toBe(
      "icmp entry without its id, type and code",
    );
    expect(
      ctMarkRequest(
        { protocol: "udp", saddr: "10.1.0.2", daddr: "10.1.0.3", sport: 70000, dport: 1, mark: 0 },
        0,
        1,
      ),
    ).toBe("udp entry without valid ports");
    expect(
      ctMarkRequest(
        { ...tcp, saddr: "fd00::2", daddr: "fd00::3", protocol: "icmp", icmp: { type: 8, code: 0, id: 1 } },
        0,
        1,
      ),
    ).toBe("icmp between IPv6 addresses");
  });
});

// ---- decoding: messages as ctnetlink_fill_info writes them ----

const N = 0x8000; // NLA_F_NESTED, as nla_nest_start sets it
const be = (n: number, v: number) => {
  const b = Buffer.alloc(n);
  b.writeUIntBE(v, 0, n);
  return b;
};
const ip4 = (t: string) => Buffer.from(t.split(".").map(Number));
const tuple = (ips: Attr[], proto: Attr[]): Attr[] => [nest(1 | N, ips), nest(2 | N, proto)];

/** A dumped entry, built the way the kernel lays it out (family, tuples, status, timeout, mark, use, id). */
function dumped(family: number, orig: Attr[], reply: Attr[], extra: Attr[] = []): Message {
  const buf = encodeRequests(
    [
      {
        type: CT_NEW,
        flags: 0,
        header: Buffer.from([family, 0, 0, 0]),
        attrs: [
          nest(1 | N, orig),
          nest(2 | N, reply),
          { type: 3, value: be(4, 0x18e) }, // CTA_STATUS
          { type: 7, value: be(4, 431999) }, // CTA_TIMEOUT
          ...extra,
          { type: 11, value: be(4, 1) }, // CTA_USE
          { type: 12, value: be(4, 0xdeadbeef) }, // CTA_ID
        ],
      },
    ],
    9,
  );
  const [m] = decodeMessages(buf) as Message[];
  return m!;
}

describe("ctnetlink entries", () => {
  it("a DNATed TCP flow: the original tuple, the mark, and the reply's source (the pod behind the service)", () => {
    const m = dumped(
      2,
      tuple(
        [
          { type: 1, value: ip4("10.1.0.2") },
          { type: 2, value: ip4("10.96.0.10") },
        ],
        [u8(1, 6), { type: 2, value: be(2, 40000) }, { type: 3, value: be(2, 80) }],
      ),
      tuple(
        [
          { type: 1, value: ip4("10.1.0.9") },
          { type: 2, value: ip4("10.1.0.2") },
        ],
        [u8(1, 6), { type: 2, value: be(2, 8080) }, { type: 3, value: be(2, 40000) }],
      ),
      [{ type: 8, value: be(4, 0x1000_0005) }],
    );
    expect(decodeCtEntry(m)).toEqual({
      entry: {
        protocol: "tcp",
        saddr: "10.1.0.2",
        daddr: "10.96.0.10",
        sport: 40000,
        dport: 80,
        mark: 0x1000_0005,
      },
      replySaddr: "10.1.0.9",
    });
  });

  it("an ICMPv6 echo in zone 3: the id, type and code; addresses in RFC 5952 text", () => {
    const v6 = (t: string) => {
      const a = parseAddress(t) as Address;
      return Buffer.from(a.value.toString(16).padStart(32, "0"), "hex");
    };
    const icmp = (type: number, id: number): Attr[] => [
      u8(1, 58),
      { type: 7, value: be(2, id) },
      u8(8, type),
      u8(9, 0),
    ];
    const m = dumped(
      10,
      tuple(
        [
          { type: 3, value: v6("fd00::1") },
          { type: 4, value: v6("fd00:0:0:0:0:0:0:2") },
        ],
        icmp(128, 7),
      ),
      tuple(
        [
          { type: 3, value: v6("fd00::2") },
          { type: 4, value: v6("fd00::1") },
        ],
        icmp(129, 7),
      ),
      [
        { type: 8, value: be(4, 0) },
        { type: 18, value: be(2, 3) },
      ],
    );
    const d = decodeCtEntry(m);
    // The entry the update test names: what is decoded names the same entry again.
    expect(d).toEqual({ entry: ECHO6, replySaddr: "fd00::2" });
    expect(describeCt(ECHO6)).toBe("ipv6-icmp fd00::1 -> fd00::2 id 7");
  });

  it("skips what revocation does not look at, and says what is wrong with a broken entry", () => {
    const ips = [
      { type: 1, value: ip4("1.1.1.1") },
      { type: 2, value: ip4("2.2.2.2") },
    ];
    const gre = dumped(2, tuple(ips, [u8(1, 47)]), tuple(ips, [u8(1, 47)]));
    expect(decodeCtEntry(gre)).toBeUndefined();
    expect(decodeCtEntry({ ...gre, type: 3 })).toBeUndefined(); // NLMSG_DONE
    expect(decodeCtEntry({ ...gre, body: Buffer.from([7, 0, 0, 0]) })).toBeUndefined(); // not IPv4/IPv6
    expect(decodeCtEntry({ ...gre, body: Buffer.from([2, 0]) })).toBe("conntrack entry of 2 octets");
    const noPorts = dumped(2, tuple(ips, [u8(1, 6)]), tuple(ips, [u8(1, 6)]));
    expect(decodeCtEntry(noPorts)).toBe("tcp entry without ports");
    const oneAddr = dumped(2, tuple(ips.slice(0, 1), [u8(1, 6)]), tuple(ips, [u8(1, 6)]));
    expect(decodeCtEntry(oneAddr)).toBe("original tuple without both IPv4 addresses");
    const noReply = dumped(2, tuple(ips, [u8(1, 6)]), []);
    expect(decodeCtEntry(noReply)).toBe("reply tuple without CTA_TUPLE_IP or CTA_TUPLE_PROTO");
  });
});
