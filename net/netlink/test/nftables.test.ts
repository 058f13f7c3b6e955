// The nf_tables element codec on bytes (no kernel): the layouts of
// include/uapi/linux/netfilter/nfnetlink.h and nf_tables.h written out by
// hand, element by element type, and checked against what nft 1.0.6 sends
// for the same command (`nft --debug=mnl`, where it shows the message).
import { describe, expect, it } from "@jest/globals";
import {
  NFNL_BATCH_BEGIN,
  NFNL_BATCH_END,
  NFT_DELSETELEM,
  NFT_NEWSETELEM,
  batchOutcome,
  describeElement,
  encodeElementBatch,
  setShape,
  type ElementChange,
  type EncodedBatch,
  type SetShape,
} from "../nftables.js";
import { decodeMessages, type Message } from "../rtnetlink.js";

const shape = (type: string | string[], flags: string[] = [], map?: string): SetShape => {
  const s = setShape(type, flags, map);
  if (typeof s === "string") throw new Error(s);
  return s;
};
const PLAIN4 = shape("ipv4_addr");
const INTERVAL4 = shape("ipv4_addr", ["interval"]);
const INTERVAL6 = shape("ipv6_addr", ["interval"]);
const SOURCES = shape(["ifname", "ipv4_addr"]);
const PORTS = shape(["ipv4_addr", "inet_proto", "inet_service"], ["interval"]);
const VMAP = shape("ifname", [], "verdict");

const change = (op: "add" | "delete", set: string, s: SetShape, elements: unknown[]): ElementChange => ({
  op,
  family: "inet",
  table: "t",
  set,
  shape: s,
  elements,
});

function encode(changes: ElementChange[], seq = 1): EncodedBatch {
  const b = encodeElementBatch(changes, seq);
  if (typeof b === "string") throw new Error(b);
  return b;
}

/** The messages of a batch, each as hex. */
function messages(b: EncodedBatch): string[] {
  const ms = decodeMessages(b.bytes);
  if (typeof ms === "string") throw new Error(ms);
  return ms.map((m) => {
    const head = Buffer.alloc(16);
    head.writeUInt32LE(16 + m.body.length, 0);
    head.writeUInt16LE(m.type, 4);
    head.writeUInt16LE(m.flags, 6);
    head.writeUInt32LE(m.seq, 8);
    return head.toString("hex") + m.body.toString("hex");
  });
}

/** The NFTA_SET_ELEM_LIST_ELEMENTS nest of an element message (after table "t" and set name `set`). */
function elementsOf(hex: string, set: string): string {
  const names = 4 + ((set.length + 1 + 3) & ~3);
  return hex.slice((16 + 4 + 8 + names) * 2);
}

/** One change encoded alone: the elements nest of each of its messages (BATCH_BEGIN and BATCH_END left out). */
function nests(op: "add" | "delete", set: string, s: SetShape, elements: unknown[]): string[] {
  return messages(encode([change(op, set, s, elements)]))
    .slice(1, -1)
    .map((m) => elementsOf(m, set));
}

// nlmsghdr (len, type, flags, seq, pid) and nfgenmsg (family, version, res_id big-endian)
const BEGIN_1 = "14000000" + "1000" + "0100" + "01000000" + "00000000" + "0000000a";
const TABLE_T = "06000100" + "74000000"; // NFTA_SET_ELEM_LIST_TABLE "t\0"

describe("nf_tables element batch", () => {
  it("frames a batch: BATCH_BEGIN for NFNL_SUBSYS_NFTABLES, one NEWSETELEM with an ack asked, BATCH_END", () => {
    const b = encode([change("add", "s", PLAIN4, ["10.0.0.1"])]);
    expect(messages(b)).toEqual([
      BEGIN_1,
      // len 56, type 0x0a0c (NFTABLES << 8 | NEWSETELEM), REQUEST|ACK|CREATE, seq 2; NFPROTO_INET
      "38000000" +
        "0c0a" +
        "0504" +
        "02000000" +
        "00000000" +
        "01000000" +
        TABLE_T +
        // NFTA_SET_ELEM_LIST_SET "s\0"
        "06000200" +
        "73000000" +
        // ELEMENTS (nested) { LIST_ELEM { KEY { DATA_VALUE 10.0.0.1 } } }
        "14000380" +
        "10000180" +
        "0c000180" +
        "08000100" +
        "0a000001",
      // BATCH_END: no ack asked (kernels before 6.10 never answer it)
      "14000000" + "1100" + "0100" + "03000000" + "00000000" + "0000000a",
    ]);
    expect(b.beginSeq).toBe(1);
    expect(b.messages).toEqual([{ seq: 2, what: "add element 10.0.0.1 to set inet t s" }]);
    expect(b.bytes.readUInt16LE(4)).toBe(NFNL_BATCH_BEGIN);
    expect(b.bytes.readUInt16LE(b.bytes.length - 20 + 4)).toBe(NFNL_BATCH_END);
  });

  it("a delete is DELSETELEM without NLM_F_CREATE", () => {
    const [, del] = messages(encode([change("delete", "s", PLAIN4, ["10.0.0.1"])]));
    expect(del?.slice(8, 16)).toBe("0e0a" + "0500");
    expect(Number.parseInt(del?.slice(8, 12) ?? "", 16)).not.toBe(NFT_NEWSETELEM);
    expect(
      (Number.parseInt(del?.slice(10, 12) ?? "", 16) << 8) | Number.parseInt(del?.slice(8, 10) ?? "", 16),
    ).toBe(NFT_DELSETELEM);
  });

  it("an interval set's prefix is its start and an NFT_SET_ELEM_INTERVAL_END element at the address after it", () => {
    const [m] = nests("add", "i", INTERVAL4, [{ prefix: { addr: "10.0.0.0", len: 24 } }]);
    expect(m).toBe(
      "2c000380" +
        // start 10.0.0.0
        "10000180" +
        "0c000180" +
        "08000100" +
        "0a000000" +
        // end 10.0.1.0, NFTA_SET_ELEM_FLAGS big-endian NFT_SET_ELEM_INTERVAL_END
        "18000180" +
        "0c000180" +
        "08000100" +
        "0a000100" +
        "08000300" +
        "00000001",
    );
  });

  it("a single address and a range in an interval set end at the address after their last", () => {
    const [one, range] = nests("add", "i", INTERVAL4, ["10.2.0.1", { range: ["10.1.0.5", "10.1.0.9"] }]);
    expect(one).toContain("0a020001" + "18000180" + "0c000180" + "08000100" + "0a020002");
    expect(range).toContain("0a010005" + "18000180" + "0c000180" + "08000100" + "0a01000a");
  });

  it("an interval up to the last address has no end element: its start carries nft's interval-open user data", () => {
    const [m] = nests("add", "i", INTERVAL4, [{ prefix: { addr: "240.0.0.0", len: 4 } }]);
    expect(m).toBe(
      "20000380" +
        "1c000180" +
        "0c000180" +
        "08000100" +
        "f0000000" +
        // NFTA_SET_ELEM_USERDATA: NFTNL_UDATA_SET_ELEM_FLAGS, 4 octets, NFTNL_SET_ELEM_F_INTERVAL_OPEN
        "0a000600" +
        "010401000000" +
        "0000",
    );
  });

  it("IPv6 intervals: 16-octet keys, the end one past the prefix", () => {
    const [e] = nests("add", "i6", INTERVAL6, [{ prefix: { addr: "fd00::", len: 64 } }]);
    expect(e).toContain("14000100" + "fd000000000000000000000000000000");
    expect(e).toContain("14000100" + "fd000000000000010000000000000000" + "08000300" + "00000001");
  });

  it("ifname . ipv4_addr: the name NUL-padded to IFNAMSIZ, then the address", () => {
    const [m] = nests("add", "pod-sources", SOURCES, [{ concat: ["trl0123abcd", "10.0.0.1"] }]);
    expect(m).toBe(
      "24000380" +
        "20000180" +
        "1c000180" +
        "18000100" +
        Buffer.from("trl0123abcd").toString("hex") +
        "0000000000" +
        "0a000001",
    );
  });

  it("a concatenated interval set (pipapo): KEY and KEY_END, each field in a 32-bit slot, the end inclusive", () => {
    const [m] = nests("add", "ports", PORTS, [
      { concat: [{ prefix: { addr: "10.0.0.0", len: 24 } }, "tcp", 80] },
    ]);
    expect(m).toBe(
      "30000380" +
        "2c000180" +
        // KEY: 10.0.0.0, tcp (6) padded, port 80 big-endian padded
        "14000180" +
        "10000100" +
        "0a000000" +
        "06000000" +
        "00500000" +
        // NFTA_SET_ELEM_KEY_END (10): 10.0.0.255, tcp, 80
        "14000a80" +
        "10000100" +
        "0a0000ff" +
        "06000000" +
        "00500000",
    );
    const [r] = nests("delete", "ports", PORTS, [{ concat: ["10.0.0.5", "udp", { range: [1000, 2000] }] }]);
    expect(r).toContain(
      "0a000005" + "11000000" + "03e80000" + "14000a80" + "10000100" + "0a000005" + "11000000" + "07d00000",
    );
  });

  it("a verdict map: the key, and NFTA_SET_ELEM_DATA { NFTA_DATA_VERDICT { CODE, CHAIN } } (as nft sends jump)", () => {
    const [jump, accept] = nests("add", "vm", VMAP, [
      ["trlq", { jump: { target: "c1" } }],
      ["trlz", { accept: null }],
    ]);
    expect(jump).toBe(
      "38000380" +
        "34000180" +
        "18000180" +
        "14000100" +
        "74726c71" +
        "000000000000000000000000" +
        "18000280" +
        "14000280" +
        // NFT_JUMP (-3)
        "08000100" +
        "fffffffd" +
        "07000200" +
        "63310000",
    );
    // NF_ACCEPT (1), no chain
    expect(accept).toContain("10000280" + "0c000280" + "08000100" + "00000001");
    const [, goto] = messages(encode([change("add", "vm", VMAP, [["trly", { goto: { target: "c1" } }]])]));
    expect(goto).toContain("08000100" + "fffffffc"); // NFT_GOTO (-4)
    // A map's delete names the key alone.
    const [del] = nests("delete", "vm", VMAP, ["trlq"]);
    expect(del).toBe("20000380" + "1c000180" + "18000180" + "14000100" + "74726c71" + "0".repeat(24));
  });

  it("sequence numbers run on from firstSeq; every element as written is one message named in errors", () => {
    const b = encode(
      [
        change("delete", "pod-sources", SOURCES, [{ concat: ["trl0a", "10.0.0.7"] }]),
        change("add", "vm", VMAP, [["trl0a", { jump: { target: "ing-3f" } }]]),
      ],
      41,
    );
    expect(b.beginSeq).toBe(41);
    expect(b.messages).toEqual([
      { seq: 42, what: 'delete element "trl0a" . 10.0.0.7 from set inet t pod-sources' },
      { seq: 43, what: 'add element "trl0a" : jump ing-3f to map inet t vm' },
    ]);
  });

  it("refuses what it cannot encode, naming it", () => {
    expect(
      encodeElementBatch([change("add", "s", PLAIN4, [{ prefix: { addr: "10.0.0.0", len: 24 } }])], 1),
    ).toMatch(/is a range, and the set holds no intervals/);
    expect(encodeElementBatch([change("add", "s", PLAIN4, ["fd00::1"])], 1)).toMatch(/not an IPv4 address/);
    expect(
      encodeElementBatch([change("add", "i", INTERVAL4, [{ prefix: { addr: "10.0.0.1", len: 24 } }])], 1),
    ).toMatch(/host bits/);
    expect(
      encodeElementBatch([change("add", "i", INTERVAL4, [{ prefix: { addr: "fd00::", len: 64 } }])], 1),
    ).toMatch(/fd00::\/64 is not IPv4/);
    expect(
      encodeElementBatch([change("add", "p", SOURCES, [{ concat: ["a-name-far-too-long", "10.0.0.1"] }])], 1),
    ).toMatch(/interface name/);
    expect(encodeElementBatch([change("add", "vm", VMAP, [["trl0", { queue: { num: 1 } }]])], 1)).toMatch(
      /verdict/,
    );
    expect(
      encodeElementBatch([{ ...change("add", "s", PLAIN4, ["10.0.0.1"]), family: "bridge" }], 1),
    ).toMatch(/table family bridge/);
  });

  it("set shapes: the key types of the agent's tables; timeouts, other flags and data maps are not encoded", () => {
    expect(shape(["ipv4_addr", "inet_proto", "inet_service"], ["interval"])).toEqual({
      key: ["ipv4_addr", "inet_proto", "inet_service"],
      interval: true,
      verdictMap: false,
    });
    expect(setShape("ether_addr", [], undefined)).toMatch(/key type/);
    expect(setShape("ipv4_addr", ["timeout"], undefined)).toMatch(/set flag timeout/);
    expect(setShape("ipv4_addr", [], "ipv4_addr")).toMatch(/map data type/);
  });

  it("describes elements as nft writes them", () => {
    expect(describeElement({ prefix: { addr: "10.1.0.0", len: 16 } })).toBe("10.1.0.0/16");
    expect(
      describeElement({ concat: [{ range: ["10.0.0.1", "10.0.0.9"] }, "tcp", { range: [80, 90] }] }),
    ).toBe('10.0.0.1-10.0.0.9 . "tcp" . 80-90');
    expect(describeElement(["trl0", { accept: null }])).toBe('"trl0" : accept');
  });
});

/** An NLMSG_ERROR answering `seq` with `errno` (0: an ack), capped (NETLINK_CAP_ACK), with the kernel's text when given. */
function answer(seq: number, errno: number, text?: string): Message {
  const tlv = text !== undefined ? Buffer.alloc((4 + text.length + 1 + 3) & ~3) : Buffer.alloc(0);
  if (text !== undefined) {
    tlv.writeUInt16LE(4 + text.length + 1, 0);
    tlv.writeUInt16LE(1, 2); // NLMSGERR_ATTR_MSG
    tlv.write(text, 4);
  }
  const body = Buffer.concat([Buffer.alloc(4 + 16), tlv]);
  body.writeInt32LE(-errno, 0);
  body.writeUInt32LE(16, 4);
  // NLM_F_CAPPED (0x100), and NLM_F_ACK_TLVS (0x200) when there is text
  return { type: 2, flags: 0x100 | (text !== undefined ? 0x200 : 0), seq, body };
}

describe("nf_tables batch answers", () => {
  const b = encode(
    [change("add", "s", PLAIN4, ["10.0.0.1"]), change("delete", "s", PLAIN4, ["10.0.0.2"])],
    10,
  );

  it("every element message acknowledged: applied", () => {
    expect(batchOutcome(b, [answer(11, 0), answer(12, 0)])).toEqual({ ok: true });
  });

  it("one message refused: the batch was aborted, and the refusal names the element and the errno", () => {
    expect(batchOutcome(b, [answer(11, 0), answer(12, 2)])).toEqual({
      ok: false,
      refused: [{ what: "delete element 10.0.0.2 from set inet t s", errno: 2 }],
    });
  });

  it("a refusal of the batch as a whole (a failed commit, no CAP_NET_ADMIN) comes with BEGIN's sequence number", () => {
    expect(batchOutcome(b, [answer(10, 1, "Operation not permitted")])).toEqual({
      ok: false,
      refused: [{ what: "the transaction", errno: 1, detail: "Operation not permitted" }],
    });
  });

  it("an element message without an answer: the outcome is unknown", () => {
    expect(batchOutcome(b, [answer(11, 0)])).toMatch(
      /no answer to 1 of 2 messages \(first: delete element 10\.0\.0\.2/,
    );
  });
});
