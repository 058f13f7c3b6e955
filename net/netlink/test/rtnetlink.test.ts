// The rtnetlink codec on its own (pure): framing, attributes, the pairing of
// answers with requests, the kernel's extended-ack text, and decoding of
// links, addresses and routes as the kernel lays them out (UAPI structs).
import { describe, expect, it } from "@jest/globals";
import {
  AF_INET,
  AF_INET6,
  type Message,
  type Request,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  RTM_DELROUTE,
  RT_SCOPE_UNIVERSE,
  RouteBatch,
  decodeDumpedRoute,
  errorOf,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_DUMP,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  answersBySeq,
  decodeAddr,
  decodeLink,
  decodeMessages,
  decodeRoute,
  eachMessage,
  encodeRequests,
  getLink,
  ifinfomsg,
  macBytes,
  newAddr,
  newRoute,
  parseAttrs,
  setArpProxyDelay,
  setLink,
  slotIndex,
  placeholderOffsets,
  CHAIN_PLACEHOLDER,
  str,
  u32,
  nest,
  RTN_UNICAST,
  RT_SCOPE_LINK,
  dumpLinks,
} from "../rtnetlink.js";

/** A raw message as the kernel would send it. */
function msg(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const len = 16 + body.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  body.copy(b, 16);
  return b;
}

/** The one message a kernel datagram holding `body` as a message of `type` (flags 0, seq 1) decodes to. */
function only(type: number, body: Buffer): Message {
  const ms = decodeMessages(msg(type, 0, 1, body));
  if (typeof ms === "string" || ms[0] === undefined) throw new Error("no message");
  return ms[0];
}

/** The one message `r` is framed into (sequence number 1), read back. */
function encoded(r: Request): Message {
  const ms = decodeMessages(encodeRequests([r], 1));
  if (typeof ms === "string") throw new Error(ms);
  if (ms[0] === undefined) throw new Error("no message");
  return ms[0];
}

function attrs(...as: [number, Buffer][]): Buffer {
  return Buffer.concat(
    as.map(([t, v]) => {
      const b = Buffer.alloc((4 + v.length + 3) & ~3);
      b.writeUInt16LE(4 + v.length, 0);
      b.writeUInt16LE(t, 2);
      v.copy(b, 4);
      return b;
    }),
  );
}

describe("rtnetlink framing (netlink.h nlmsghdr, nlattr)", () => {
  it("frames each request with its length, type, REQUEST|ACK flags and consecutive sequence numbers", () => {
    const buf = encodeRequests([getLink("eth0"), getLink("trl1")], 41);
    const ms = decodeMessages(buf);
    if (typeof ms === "string") throw new Error(ms);
    expect(ms.map((m) => [m.type, m.flags, m.seq])).toEqual([
      [18, 1 | NLM_F_ACK, 41],
      [18, 1 | NLM_F_ACK, 42],
    ]);
    // nlmsghdr (16) + ifinfomsg (16) + IFLA_IFNAME "eth0\0" (4 + 5, padded to 12), as iproute2's addattr_l counts
    expect(buf.readUInt32LE(0)).toBe(16 + 16 + 12);
    expect(
      parseAttrs(ms[0]?.body ?? Buffer.alloc(0), 16)
        .get(3)
        ?.toString(),
    ).toBe("eth0\0");
  });

  it("asks no ack of a dump (it ends with NLMSG_DONE)", () => {
    expect(encoded(dumpLinks()).flags).toBe(1 | NLM_F_DUMP);
  });

  it("pads attributes to 4 octets and nests them", () => {
    const a = parseAttrs(encoded(setLink("x", { inetConf: [[3, 1]] })).body, 16);
    // IFLA_AF_SPEC → AF_INET → IFLA_INET_CONF → [3] = 1
    const inet = parseAttrs(parseAttrs(a.get(26) ?? Buffer.alloc(0), 0).get(2) ?? Buffer.alloc(0), 0).get(1);
    expect(
      parseAttrs(inet ?? Buffer.alloc(0), 0)
        .get(3)
        ?.readUInt32LE(0),
    ).toBe(1);
  });

  it("rejects a stream whose length field runs past its end", () => {
    const b = msg(RTM_NEWLINK, 0, 1, Buffer.alloc(16));
    b.writeUInt32LE(400, 0);
    expect(decodeMessages(b)).toMatch(/length 400/);
  });

  it("encodes u32, nested and NUL-terminated string attributes", () => {
    expect(str(3, "ab").value).toEqual(Buffer.from("ab\0"));
    expect(u32(4, 1500).value).toEqual(Buffer.from([0xdc, 0x05, 0, 0]));
    expect(nest(18, [u32(1, 1)]).value).toHaveLength(1);
  });
});

describe("answers (netlink.h nlmsgerr, NLMSGERR_ATTR_MSG)", () => {
  it("pairs acks and errors with their requests by sequence number; data stays with its request", () => {
    const err = Buffer.alloc(4 + 16);
    err.writeInt32LE(-17, 0);
    err.writeUInt32LE(16, 4);
    const ack = Buffer.alloc(4 + 16);
    const stream = Buffer.concat([
      msg(RTM_NEWLINK, 0, 8, ifinfomsg({ index: 7 })),
      msg(NLMSG_ERROR, 0x100, 8, ack),
      msg(NLMSG_ERROR, 0x100, 9, err),
    ]);
    const ms = decodeMessages(stream);
    if (typeof ms === "string") throw new Error(ms);
    const [a, b] = answersBySeq(ms, 8, 2);
    expect(a?.errno).toBe(0);
    expect(a?.messages.map((m) => m.type)).toEqual([RTM_NEWLINK]);
    expect(b?.errno).toBe(17);
  });

  it("keeps the kernel's extended-ack message", () => {
    const body = Buffer.concat([
      Buffer.alloc(4 + 16),
      attrs([1, Buffer.from("Invalid prefix for given prefix length\0")]),
    ]);
    body.writeInt32LE(-22, 0);
    body.writeUInt32LE(16, 4);
    const ms = decodeMessages(msg(NLMSG_ERROR, 0x100 | 0x200, 3, body));
    if (typeof ms === "string") throw new Error(ms);
    expect(answersBySeq(ms, 3, 1)[0]).toEqual({
      messages: [],
      errno: 22,
      detail: "Invalid prefix for given prefix length",
    });
  });

  it("ends a dump at NLMSG_DONE, and takes an error a dump ends with", () => {
    const done = Buffer.alloc(4);
    done.writeInt32LE(-16, 0);
    const ms = decodeMessages(msg(NLMSG_DONE, 2, 5, done));
    if (typeof ms === "string") throw new Error(ms);
    expect(answersBySeq(ms, 5, 1)[0]?.errno).toBe(16);
  });
});

describe("requests (rtnetlink.h rtmsg, ifaddrmsg, ndtmsg)", () => {
  const body = (r: Request): Buffer => encoded(r).body;

  it("a host route: /32, main table, proto 201, scope link, unicast, dst and oif", () => {
    const b = body(
      newRoute(
        {
          dst: { family: 4, value: 0x0af40005n },
          dstLen: 32,
          table: 254,
          protocol: 201,
          scope: RT_SCOPE_LINK,
          type: RTN_UNICAST,
          oif: 9,
        },
        true,
      ),
    );
    expect([...b.subarray(0, 8)]).toEqual([2, 32, 0, 0, 254, 201, 253, 1]);
    const a = parseAttrs(b, 12);
    expect([...(a.get(1) ?? [])]).toEqual([10, 244, 0, 5]);
    expect(a.get(4)?.readUInt32LE(0)).toBe(9);
  });

  it("an onlink default route carries RTNH_F_ONLINK in rtm_flags and no RTA_DST", () => {
    const b = body(
      newRoute(
        {
          dst: { family: 4, value: 0n },
          dstLen: 0,
          table: 254,
          protocol: 3,
          scope: 0,
          type: RTN_UNICAST,
          oif: 2,
          gateway: { family: 4, value: 0xa9fe0101n },
          onlink: true,
        },
        false,
      ),
    );
    expect(b.readUInt32LE(8)).toBe(4);
    const a = parseAttrs(b, 12);
    expect(a.has(1)).toBe(false);
    expect([...(a.get(5) ?? [])]).toEqual([169, 254, 1, 1]);
  });

  it("an address: family, prefix length, index, IFA_LOCAL and IFA_FLAGS", () => {
    const b = body(newAddr(4, { family: 6, value: (0xfd00n << 112n) | 5n }, 128, 2));
    expect([b.readUInt8(0), b.readUInt8(1), b.readUInt32LE(4)]).toEqual([10, 128, 4]);
    expect(parseAttrs(b, 8).get(8)?.readUInt32LE(0)).toBe(2);
  });

  it("proxy_delay goes to the ARP table's per-device parameters, in milliseconds", () => {
    const a = parseAttrs(body(setArpProxyDelay(12, 0)), 4);
    expect(a.get(1)?.toString()).toBe("arp_cache\0");
    const parms = parseAttrs(a.get(6) ?? Buffer.alloc(0), 0);
    expect(parms.get(1)?.readUInt32LE(0)).toBe(12);
    expect(parms.get(13)?.readBigUInt64LE(0)).toBe(0n);
  });

  it("MAC text to octets, and a clear error for a bad one", () => {
    expect(macBytes("ee:ee:ee:ee:ee:ee")).toEqual(Buffer.alloc(6, 0xee));
    expect(macBytes("ee:ee")).toBe("bad MAC address ee:ee");
  });
});

describe("chain placeholders (an ifindex an earlier stage reads, netlink.c chain())", () => {
  const v4 = { family: 4 as const, value: 0x0a000005n };
  it("finds the index in an address's header, a route's RTA_OIF and a nested NDTPA_IFINDEX, at their octets in the datagram", () => {
    const reqs = [
      setLink("eth0", { up: true }),
      newAddr(slotIndex(1), v4, 32),
      newRoute(
        { dst: v4, dstLen: 32, table: 254, protocol: 201, scope: 253, type: 1, oif: slotIndex(0) },
        true,
      ),
      setArpProxyDelay(slotIndex(0), 0),
    ];
    const bytes = encodeRequests(reqs, 7);
    const found = placeholderOffsets(reqs);
    expect(found.map(([slot]) => slot)).toEqual([1, 0, 0]);
    for (const [slot, off] of found) expect(bytes.readUInt32LE(off)).toBe(CHAIN_PLACEHOLDER + slot);
    // Every placeholder in the datagram is found: none is left for the kernel to read as an index.
    let count = 0;
    for (let off = 0; off + 4 <= bytes.length; off += 4)
      if ((bytes.readUInt32LE(off) & ~7) === CHAIN_PLACEHOLDER) count++;
    expect(count).toBe(found.length);
  });

  it("a request with real indexes has none, and a slot outside 0–7 is refused", () => {
    expect(placeholderOffsets([newAddr(3, v4, 32), setArpProxyDelay(3, 0)])).toEqual([]);
    expect(() => slotIndex(8)).toThrow(RangeError);
    expect(() => slotIndex(-1)).toThrow(RangeError);
  });
});

describe("decoding what the kernel sends", () => {
  it("a link: index, name, flags, MTU, MAC, alias, kind", () => {
    const b = Buffer.concat([
      ifinfomsg({ index: 7, flags: 0x1043 }),
      attrs(
        [3, Buffer.from("trl1\0")],
        [4, Buffer.from([0xdc, 5, 0, 0])],
        [1, Buffer.alloc(6, 0xee)],
        [20, Buffer.from("trellis:c1/eth0")],
        [18, attrs([1, Buffer.from("veth")])],
      ),
    ]);
    expect(decodeLink(only(RTM_NEWLINK, b))).toEqual({
      index: 7,
      name: "trl1",
      flags: 0x1043,
      mtu: 1500,
      mac: "ee:ee:ee:ee:ee:ee",
      alias: "trellis:c1/eth0",
      kind: "veth",
    });
  });

  it("an address and a route, with canonical text", () => {
    const ifa = Buffer.from([10, 128, 0, 0, 4, 0, 0, 0]);
    const v6 = Buffer.alloc(16);
    v6.writeUInt16BE(0xfd00, 0);
    v6.writeUInt8(5, 15);
    expect(decodeAddr(only(RTM_NEWADDR, Buffer.concat([ifa, attrs([1, v6])])))).toEqual({
      index: 4,
      address: "fd00::5",
      prefixlen: 128,
      family: 6,
    });
    const rt = Buffer.from([2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
    const r = only(
      RTM_NEWROUTE,
      Buffer.concat([rt, attrs([5, Buffer.from([169, 254, 1, 1])], [4, Buffer.from([2, 0, 0, 0])])]),
    );
    expect(decodeRoute(r)).toEqual({
      dst: "0.0.0.0/0",
      gateway: "169.254.1.1",
      oif: 2,
      protocol: 3,
      type: 1,
      table: 254,
    });
  });

  it("the answer to a route lookup carries the source address the kernel picks (RTA_PREFSRC)", () => {
    const rt = Buffer.from([2, 32, 0, 0, 254, 2, 253, 1, 0, 0, 0, 0]);
    const r = only(
      RTM_NEWROUTE,
      Buffer.concat([rt, attrs([1, Buffer.from([10, 0, 0, 9])], [7, Buffer.from([10, 0, 0, 1])])]),
    );
    expect(decodeRoute(r)).toMatchObject({ dst: "10.0.0.9/32", prefsrc: "10.0.0.1", protocol: 2 });
  });
});

describe("route batches (bgp/fib): RouteBatch and decodeDumpedRoute", () => {
  /** The messages of a batch, each as it would come back from a dump when it is an RTM_NEWROUTE. */
  function framed(b: RouteBatch): Message[] {
    const m = decodeMessages(b.bytes());
    if (typeof m === "string") throw new Error(m);
    return m;
  }
  /** The attribute types of a message body after its rtmsg, in order. */
  function attrTypes(m: Message): number[] {
    const out: number[] = [];
    for (let o = 12; o + 4 <= m.body.length; o += (m.body.readUInt16LE(o) + 3) & ~3)
      out.push(m.body.readUInt16LE(o + 2));
    return out;
  }
  const RTA = { DST: 1, GATEWAY: 5, MULTIPATH: 9, TABLE: 15, VIA: 18 };

  it("a replace: NLM_F_CREATE|NLM_F_REPLACE without ACK, seq from 1, rtmsg of the FIB's table and proto, table, dst, gateway", () => {
    const b = new RouteBatch(100, 202);
    expect(b.replace("10.1.2.0/24", [{ via: "10.77.0.2" }])).toBeUndefined();
    expect(b.replace("10.1.3.0/24", [{ via: "10.77.0.2" }])).toBeUndefined();
    const [m, m2] = framed(b);
    if (m === undefined || m2 === undefined) throw new Error("two messages");
    expect([m.type, m.flags, m.seq, m2.seq]).toEqual([
      RTM_NEWROUTE,
      NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE,
      1,
      2,
    ]);
    // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type
    expect([...m.body.subarray(0, 8)]).toEqual([AF_INET, 24, 0, 0, 100, 202, RT_SCOPE_UNIVERSE, RTN_UNICAST]);
    expect(attrTypes(m)).toEqual([RTA.TABLE, RTA.DST, RTA.GATEWAY]);
    expect(decodeDumpedRoute(m)).toEqual({
      dst: "10.1.2.0/24",
      protocol: 202,
      type: RTN_UNICAST,
      table: 100,
      hops: [{ gateway: "10.77.0.2" }],
    });
  });

  it("ECMP: one RTA_MULTIPATH with an rtnexthop and RTA_GATEWAY per hop, decoded back hop by hop", () => {
    const b = new RouteBatch(254, 202);
    b.replace("10.9.0.0/16", [{ via: "10.77.0.2" }, { via: "10.77.0.3", oif: 7 }]);
    const [m] = framed(b);
    if (m === undefined) throw new Error("no message");
    expect(attrTypes(m)).toEqual([RTA.TABLE, RTA.DST, RTA.MULTIPATH]);
    expect(decodeDumpedRoute(m)?.hops).toEqual([{ gateway: "10.77.0.2" }, { gateway: "10.77.0.3", oif: 7 }]);
  });

  it("IPv6, a table above 255 (rtm_table RT_TABLE_COMPAT, the id in RTA_TABLE), and RFC 8950 RTA_VIA for an IPv4 route", () => {
    const b = new RouteBatch(1000, 202);
    b.replace("2001:db8:100::/48", [{ via: "2001:db8:77::2" }]);
    b.replace("10.2.0.0/24", [{ via: "fe80::1", oif: 3 }]);
    const [v6, via] = framed(b);
    if (v6 === undefined || via === undefined) throw new Error("two messages");
    expect([v6.body.readUInt8(0), v6.body.readUInt8(4)]).toEqual([AF_INET6, 252]);
    expect(decodeDumpedRoute(v6)).toMatchObject({ dst: "2001:db8:100::/48", table: 1000 });
    expect(decodeDumpedRoute(v6)?.hops).toEqual([{ gateway: "2001:db8:77::2" }]);
    expect(attrTypes(via)).toEqual([RTA.TABLE, RTA.DST, RTA.VIA, 4]);
    expect(decodeDumpedRoute(via)?.hops).toEqual([{ gateway: "fe80::1", oif: 3 }]);
  });

  it("a delete: RTM_DELROUTE of this table and proto, any scope (RT_SCOPE_NOWHERE), any type, no next hop", () => {
    const b = new RouteBatch(100, 202);
    expect(b.delete("10.1.2.0/24")).toBeUndefined();
    const [m] = framed(b);
    if (m === undefined) throw new Error("no message");
    expect([m.type, m.flags]).toEqual([RTM_DELROUTE, NLM_F_REQUEST]);
    expect([...m.body.subarray(0, 8)]).toEqual([AF_INET, 24, 0, 0, 100, 202, 255, 0]);
    expect(attrTypes(m)).toEqual([RTA.TABLE, RTA.DST]);
  });

  it.each([
    ["10.1.2.0/33", [{ via: "10.77.0.2" }], "invalid prefix 10.1.2.0/33"],
    ["10.1.2.0/0x10", [{ via: "10.77.0.2" }], "invalid prefix 10.1.2.0/0x10"],
    ["10.1.2.0/", [{ via: "10.77.0.2" }], "invalid prefix 10.1.2.0/"],
    ["10.1.256.0/24", [{ via: "10.77.0.2" }], "invalid prefix 10.1.256.0/24"],
    ["10.01.2.0/24", [{ via: "10.77.0.2" }], "invalid prefix 10.01.2.0/24"],
    ["10.1.2.1/24", [{ via: "10.77.0.2" }], "invalid prefix 10.1.2.1/24"],
    ["2001:db8::1/48", [{ via: "2001:db8::2" }], "invalid prefix 2001:db8::1/48"],
    ["2001:db8::/129", [{ via: "2001:db8::2" }], "invalid prefix 2001:db8::/129"],
    ["10.1.2.0/24", [{ via: "10.77.0.02" }], "invalid next hop 10.77.0.02"],
    ["2001:db8::/48", [{ via: "10.77.0.2" }], "IPv4 next hop 10.77.0.2 for an IPv6 route"],
    ["10.1.2.0/24", [{ via: "gw" }], "invalid next hop gw"],
    ["10.1.2.0/24", [], "route 10.1.2.0/24 has no next hop"],
  ])("%s via %j is refused with a message and adds nothing", (prefix, hops, error) => {
    const b = new RouteBatch(100, 202);
    b.replace("10.0.0.0/24", [{ via: "10.77.0.2" }]);
    const before = Buffer.from(b.bytes());
    expect(b.replace(prefix, hops)).toBe(error);
    expect(b.count).toBe(1);
    expect(b.bytes()).toEqual(before);
  });

  it.each(["10.1.2.128/25", "10.1.2.1/32", "0.0.0.0/0"])("%s (no host bits) is taken", (prefix) => {
    expect(new RouteBatch(100, 202).replace(prefix, [{ via: "10.77.0.2" }])).toBeUndefined();
  });

  it("grows past its first buffer and keeps every message whole", () => {
    const b = new RouteBatch(100, 202);
    for (let i = 0; i < 5000; i++) b.replace(`10.${i >> 8}.${i & 255}.0/24`, [{ via: "10.77.0.2" }]);
    const ms = framed(b);
    expect(ms).toHaveLength(5000);
    expect(ms.map((m) => m.seq)).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(decodeDumpedRoute(ms[4999]!)?.dst).toBe("10.19.135.0/24");
  });

  it("errorOf reads the errno and the kernel's text of an NLMSG_ERROR capped to the request's header", () => {
    const text = Buffer.from("Nexthop has invalid gateway\0");
    const body = Buffer.concat([Buffer.alloc(4), Buffer.alloc(16), attrs([1, text])]);
    body.writeInt32LE(-101, 0); // ENETUNREACH
    const [m] = decodeMessages(msg(NLMSG_ERROR, 0x100 | 0x200, 7, body)) as Message[];
    expect(errorOf(m!)).toEqual({ errno: 101, detail: "Nexthop has invalid gateway" });
  });

  it("errorOf reads the kernel's text of a dump's NLMSG_DONE: the errno, then the TLVs (af_netlink.c netlink_dump_done)", () => {
    const text = Buffer.from("Invalid values in header for FIB dump request\0");
    const body = Buffer.concat([Buffer.alloc(4), attrs([1, text])]);
    body.writeInt32LE(-22, 0); // EINVAL
    const [m] = decodeMessages(msg(NLMSG_DONE, 0x2 | 0x200, 7, body)) as Message[];
    expect(errorOf(m!)).toEqual({ errno: 22, detail: "Invalid values in header for FIB dump request" });
  });

  it("eachMessage visits messages in place until the visitor says stop, and names a length that does not fit", () => {
    const three = Buffer.concat([1, 2, 3].map((seq) => msg(RTM_NEWROUTE, 0, seq, Buffer.alloc(12))));
    const seen: number[] = [];
    expect(eachMessage(three, (m) => seen.push(m.seq) < 2)).toBeUndefined();
    expect(seen).toEqual([1, 2]);
    const broken = Buffer.concat([
      msg(RTM_NEWROUTE, 0, 1, Buffer.alloc(12)),
      Buffer.from([200, 0, 0, 0]),
      Buffer.alloc(12),
    ]);
    const all: number[] = [];
    expect(eachMessage(broken, (m) => all.push(m.seq) > 0)).toBe("netlink message at 28 has length 200");
    expect(all).toEqual([1]);
  });
});
