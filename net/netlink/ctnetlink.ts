/**
 * ctnetlink (pure): the conntrack table's netlink protocol, the few
 * messages policy revocation needs (agent/policy/conntrack-revoker.ts): a
 * dump of the entries of one family, optionally filtered by the kernel on
 * one address of one direction; the decoding of a dumped entry; and the
 * update that sets or clears some bits of one entry's mark.
 *
 * Layouts: include/uapi/linux/netfilter/nfnetlink.h (`struct nfgenmsg`, the
 * subsystem in the high byte of the message type) and
 * include/uapi/linux/netfilter/nfnetlink_conntrack.h (`IPCTNL_MSG_CT_*`,
 * `CTA_*`). Behaviour: net/netfilter/nf_conntrack_netlink.c, cited per
 * function. Addresses, ports, ICMP ids, marks and zones travel in network
 * byte order (`nla_put_be32`/`nla_get_be16` there); the CTA_FILTER flags
 * are host-order NLA_U32 (`nla_get_u32`).
 */
import { formatAddress, parseAddress, type Address, type Family } from "../address.js";
// Addresses travel as CTA_IP_V4_* / CTA_IP_V6_* carry them: network byte
// order, as rtnetlink's RTA_DST does, so addressBytes serves both.
import {
  NLM_F_DUMP,
  addressBytes,
  parseAttrs,
  u32,
  u8,
  type Attr,
  type Message,
  type Request,
} from "./rtnetlink.js";
import { nfgenmsg, nfnlType } from "./nfnetlink.js";

const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_NEW = 0;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_GET_STATS = 5;
/** The type of a dumped entry (and of the update). */
export const CT_NEW = nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
export const CT_GET = nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET);
export const CT_GET_STATS = nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET_STATS);
/** NFPROTO_IPV4 / NFPROTO_IPV6 (linux/netfilter.h), the same numbers as AF_INET / AF_INET6. */
const NFPROTO: Record<Family, number> = { 4: 2, 6: 10 };
/** Every family: the statistics are the namespace's whole table, and a dump of both families. */
const NFPROTO_UNSPEC = 0;

// enum ctattr_type
const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_MARK = 8;
const CTA_ZONE = 18;
const CTA_MARK_MASK = 21;
const CTA_FILTER = 25;
// enum ctattr_tuple
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
// enum ctattr_ip
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;
// enum ctattr_l4proto
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;
const CTA_PROTO_ICMP_ID = 4;
const CTA_PROTO_ICMP_TYPE = 5;
const CTA_PROTO_ICMP_CODE = 6;
const CTA_PROTO_ICMPV6_ID = 7;
const CTA_PROTO_ICMPV6_TYPE = 8;
const CTA_PROTO_ICMPV6_CODE = 9;
// enum ctattr_stats_global
const CTA_STATS_GLOBAL_ENTRIES = 1;
const CTA_STATS_GLOBAL_MAX_ENTRIES = 2;
// enum ctattr_filter
const CTA_FILTER_ORIG_FLAGS = 1;
const CTA_FILTER_REPLY_FLAGS = 2;
/**
 * The tuple fields a filter compares (kernel-internal, not in the UAPI:
 * net/netfilter/nf_internals.h `CTA_FILTER_F_CTA_IP_SRC` (1 << 0),
 * `CTA_FILTER_F_CTA_IP_DST` (1 << 1)). `ctnetlink_filter_match_tuple`
 * compares addresses exactly (`nf_inet_addr_cmp`): there is no prefix
 * length, so a filter names one address.
 */
const CTA_FILTER_F_CTA_IP_SRC = 1 << 0;
const CTA_FILTER_F_CTA_IP_DST = 1 << 1;
/**
 * `ctnetlink_parse_filter` reads CTA_FILTER with `nla_parse_nested` (strict:
 * it refuses a nest without NLA_F_NESTED); the other nests are parsed
 * leniently and accept it too, so every nest here carries it, as
 * libmnl's `mnl_attr_nest_start` does.
 */
const NLA_F_NESTED = 1 << 15;
const nested = (type: number, attrs: readonly Attr[]): Attr => ({ type: type | NLA_F_NESTED, value: attrs });

const IPPROTO = { icmp: 1, tcp: 6, udp: 17, "ipv6-icmp": 58, sctp: 132 } as const;
export type CtProtocol = keyof typeof IPPROTO;
const PROTOCOL_OF = new Map<number, CtProtocol>(
  Object.entries(IPPROTO).map(([k, v]) => [v, k as CtProtocol] as const),
);
const PORTED: ReadonlySet<CtProtocol> = new Set(["tcp", "udp", "sctp"]);

/** A conntrack entry: its protocol, its original direction's tuple, and its mark. */
export interface CtEntry {
  readonly protocol: CtProtocol;
  readonly saddr: string;
  readonly daddr: string;
  /** TCP, UDP and SCTP only. */
  readonly sport?: number;
  readonly dport?: number;
  /** ICMP and ICMPv6 only: the rest of the tuple, which the kernel needs to find the entry again. */
  readonly icmp?: { readonly type: number; readonly code: number; readonly id: number };
  /**
   * The entry's conntrack zone (CTA_ZONE), when not the default zone 0. A
   * zone of one direction only (CTA_TUPLE_ZONE, `ctnetlink_dump_tuples`)
   * is not carried: pods use none, and such an entry's update would find
   * nothing (ENOENT, counted as an entry gone).
   */
  readonly zone?: number;
  readonly mark: number;
}

/** A dumped entry with the one field of its reply direction revocation also matches on. */
export interface DumpedCt {
  readonly entry: CtEntry;
  /** The reply direction's source: a DNATed flow's real destination. */
  readonly replySaddr: string;
}

function be16(type: number, v: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return { type, value: b };
}

function be32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return { type, value: b };
}

/** Which tuple field a filtered dump compares with its address. */
export type CtMatch = "orig-src" | "orig-dst" | "reply-src";

/**
 * IPCTNL_MSG_CT_GET with NLM_F_DUMP: every entry of `family`
 * (`ctnetlink_filter_match` drops the others by `nf_ct_l3num`), or, with
 * `filter`, only those whose `match` field is `filter.addr` (CTA_FILTER,
 * Linux 5.8+: the address in a CTA_TUPLE_ORIG or CTA_TUPLE_REPLY nest, and
 * which of its fields to compare in CTA_FILTER_ORIG_FLAGS or
 * CTA_FILTER_REPLY_FLAGS; `ctnetlink_alloc_filter`). Throws on an address
 * of another family: that is a caller's bug.
 *
 * Beware the kernel's IPv6 filter: `ctnetlink_filter_match_tuple` drops an
 * entry when `!ipv6_addr_cmp(filter, entry)`, that is when the addresses
 * are equal (ipv6_addr_cmp is a memcmp), so an IPv6 filter returns every
 * entry but the ones asked for (seen on 6.18); and a kernel before 5.8
 * ignores CTA_FILTER. A caller checks what comes back.
 */
export function ctDumpRequest(family: Family | "any", filter?: { match: CtMatch; addr: Address }): Request {
  // "any": nfgen_family 0 (AF_UNSPEC), a dump not limited to a family (the
  // revoker's namespace test lists IPv4 and IPv6 entries with one on 6.18);
  // each entry carries its own family.
  const header = nfgenmsg(family === "any" ? NFPROTO_UNSPEC : NFPROTO[family]);
  const req: Request = { type: CT_GET, flags: NLM_F_DUMP, header, attrs: [] };
  if (filter === undefined) return req;
  if (family === "any")
    throw new TypeError("ctnetlink dump of every family: a filter names one address of one family");
  if (filter.addr.family !== family)
    throw new TypeError(`ctnetlink dump of IPv${family}: a filter address of IPv${filter.addr.family}`);
  const src = filter.match !== "orig-dst";
  const ipType = family === 4 ? (src ? CTA_IP_V4_SRC : CTA_IP_V4_DST) : src ? CTA_IP_V6_SRC : CTA_IP_V6_DST;
  const reply = filter.match === "reply-src";
  return {
    ...req,
    attrs: [
      nested(reply ? CTA_TUPLE_REPLY : CTA_TUPLE_ORIG, [
        nested(CTA_TUPLE_IP, [{ type: ipType, value: addressBytes(filter.addr) }]),
      ]),
      nested(CTA_FILTER, [
        u32(
          reply ? CTA_FILTER_REPLY_FLAGS : CTA_FILTER_ORIG_FLAGS,
          src ? CTA_FILTER_F_CTA_IP_SRC : CTA_FILTER_F_CTA_IP_DST,
        ),
      ]),
    ],
  };
}

/** A dumped address as text; IPv4 without BigInt: a whole dump formats two per entry. */
function formatBytes(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  return formatAddress({ family: 6, value: (b.readBigUInt64BE(0) << 64n) | b.readBigUInt64BE(8) });
}

interface Tuple {
  saddr: string;
  daddr: string;
  protonum: number;
  sport?: number;
  dport?: number;
  icmp?: { type: number; code: number; id: number };
}

/** A CTA_TUPLE_ORIG/REPLY nest (`ctnetlink_dump_tuples`): the addresses and the layer-4 fields. */
function decodeTuple(value: Buffer, family: Family, which: string): Tuple | string {
  const t = parseAttrs(value, 0);
  const ip = t.get(CTA_TUPLE_IP);
  const proto = t.get(CTA_TUPLE_PROTO);
  if (ip === undefined || proto === undefined)
    return `${which} tuple without CTA_TUPLE_IP or CTA_TUPLE_PROTO`;
  const ips = parseAttrs(ip, 0);
  const len = family === 4 ? 4 : 16;
  const s = ips.get(family === 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC);
  const d = ips.get(family === 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST);
  if (s?.length !== len || d?.length !== len) return `${which} tuple without both IPv${family} addresses`;
  const p = parseAttrs(proto, 0);
  const num = p.get(CTA_PROTO_NUM);
  if (num?.length !== 1) return `${which} tuple without CTA_PROTO_NUM`;
  const out: Tuple = { saddr: formatBytes(s), daddr: formatBytes(d), protonum: num[0]! };
  const sp = p.get(CTA_PROTO_SRC_PORT);
  const dp = p.get(CTA_PROTO_DST_PORT);
  if (sp?.length === 2 && dp?.length === 2) {
    out.sport = sp.readUInt16BE(0);
    out.dport = dp.readUInt16BE(0);
  }
  const [idT, typeT, codeT] =
    family === 4
      ? [CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE]
      : [CTA_PROTO_ICMPV6_ID, CTA_PROTO_ICMPV6_TYPE, CTA_PROTO_ICMPV6_CODE];
  const id = p.get(idT);
  const type = p.get(typeT);
  const code = p.get(codeT);
  if (id?.length === 2 && type?.length === 1 && code?.length === 1)
    out.icmp = { type: type[0]!, code: code[0]!, id: id.readUInt16BE(0) };
  return out;
}

/**
 * One message of a conntrack dump (`ctnetlink_fill_info`): the entry, or
 * undefined for what revocation does not look at (a protocol no policy
 * rule speaks of: GRE, DCCP, UDP-Lite, …; an entry of another family than
 * IPv4/IPv6; a message that is not an entry), or what is wrong with it.
 */
export function decodeCtEntry(m: Message): DumpedCt | string | undefined {
  if (m.type !== CT_NEW) return undefined;
  if (m.body.length < 4) return `conntrack entry of ${m.body.length} octets`;
  const family = m.body[0] === NFPROTO[4] ? 4 : m.body[0] === NFPROTO[6] ? 6 : undefined;
  if (family === undefined) return undefined;
  const top = parseAttrs(m.body, 4);
  const origAttr = top.get(CTA_TUPLE_ORIG);
  const replyAttr = top.get(CTA_TUPLE_REPLY);
  if (origAttr === undefined || replyAttr === undefined) return "conntrack entry without both tuples";
  const orig = decodeTuple(origAttr, family, "original");
  if (typeof orig === "string") return orig;
  const reply = decodeTuple(replyAttr, family, "reply");
  if (typeof reply === "string") return reply;
  const protocol = PROTOCOL_OF.get(orig.protonum);
  if (
    protocol === undefined ||
    (protocol === "icmp" && family !== 4) ||
    (protocol === "ipv6-icmp" && family !== 6)
  )
    return undefined;
  const ported = PORTED.has(protocol);
  if (ported && orig.sport === undefined) return `${protocol} entry without ports`;
  if (!ported && orig.icmp === undefined) return `${protocol} entry without its id, type and code`;
  const mark = top.get(CTA_MARK);
  const zone = top.get(CTA_ZONE);
  const zoneId = zone?.length === 2 ? zone.readUInt16BE(0) : 0;
  const entry: CtEntry = {
    protocol,
    saddr: orig.saddr,
    daddr: orig.daddr,
    ...(ported ? { sport: orig.sport!, dport: orig.dport! } : { icmp: orig.icmp! }),
    ...(zoneId !== 0 ? { zone: zoneId } : {}),
    mark: mark?.length === 4 ? mark.readUInt32BE(0) : 0,
  };
  return { entry, replySaddr: reply.saddr };
}

/**
 * IPCTNL_MSG_CT_NEW without NLM_F_CREATE: an update of the existing entry
 * whose original tuple is `e`'s (`ctnetlink_new_conntrack` looks it up with
 * `nf_conntrack_find_get` and answers ENOENT when it is gone, since it may
 * not create one; without NLM_F_EXCL it calls `ctnetlink_change_conntrack`).
 * The mark becomes `(mark & ~mask) ^ value` (`ctnetlink_change_mark` with
 * CTA_MARK_MASK), so the bits of `mask` are set to `value`'s and every
 * other bit is left to whoever else uses the mark. `value` must lie within
 * `mask`: a bit outside it would be flipped, not set. What is wrong with
 * `e` when it cannot name an entry.
 */
export function ctMarkRequest(e: CtEntry, value: number, mask: number): Request | string {
  if (!Number.isInteger(mask) || mask <= 0 || mask > 0xffff_ffff)
    return `mark mask ${mask} is not a u32 bit mask`;
  if (!Number.isInteger(value) || value < 0 || (value & ~mask) >>> 0 !== 0)
    return `mark value ${value} has bits outside the mask 0x${mask.toString(16)}`;
  const s = parseAddress(e.saddr);
  const d = parseAddress(e.daddr);
  if (typeof s === "string") return s;
  if (typeof d === "string") return d;
  if (s.family !== d.family) return `${e.saddr} and ${e.daddr} are of different families`;
  const f = s.family;
  const num = IPPROTO[e.protocol];
  if (num === undefined)
    return `protocol ${String(e.protocol)} is not one ctnetlink entries are updated for here`;
  if ((e.protocol === "icmp" && f !== 4) || (e.protocol === "ipv6-icmp" && f !== 6))
    return `${e.protocol} between IPv${f} addresses`;
  let l4: Attr[];
  if (PORTED.has(e.protocol)) {
    const ok = (p: number | undefined): p is number =>
      p !== undefined && Number.isInteger(p) && p >= 0 && p <= 0xffff;
    if (!ok(e.sport) || !ok(e.dport)) return `${e.protocol} entry without valid ports`;
    l4 = [be16(CTA_PROTO_SRC_PORT, e.sport), be16(CTA_PROTO_DST_PORT, e.dport)];
  } else {
    const i = e.icmp;
    if (i === undefined) return `${e.protocol} entry without its id, type and code`;
    const [idT, typeT, codeT] =
      f === 4
        ? [CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE]
        : [CTA_PROTO_ICMPV6_ID, CTA_PROTO_ICMPV6_TYPE, CTA_PROTO_ICMPV6_CODE];
    l4 = [be16(idT, i.id), u8(typeT, i.type), u8(codeT, i.code)];
  }
  const [sT, dT] = f === 4 ? [CTA_IP_V4_SRC, CTA_IP_V4_DST] : [CTA_IP_V6_SRC, CTA_IP_V6_DST];
  return {
    type: CT_NEW,
    flags: 0,
    header: nfgenmsg(NFPROTO[f]),
    attrs: [
      nested(CTA_TUPLE_ORIG, [
        nested(CTA_TUPLE_IP, [
          { type: sT, value: addressBytes(s) },
          { type: dT, value: addressBytes(d) },
        ]),
        nested(CTA_TUPLE_PROTO, [u8(CTA_PROTO_NUM, num), ...l4]),
      ]),
      ...(e.zone !== undefined && e.zone !== 0 ? [be16(CTA_ZONE, e.zone)] : []),
      be32(CTA_MARK, value),
      be32(CTA_MARK_MASK, mask),
    ],
  };
}

/**
 * IPCTNL_MSG_CT_GET_STATS (not a dump): how many entries the namespace's
 * table holds (`ctnetlink_stat_ct`: the per-namespace count, every family),
 * which tells whether filtered dumps or one whole dump cost less.
 */
export function ctStatsRequest(): Request {
  return { type: CT_GET_STATS, flags: 0, header: nfgenmsg(NFPROTO_UNSPEC), attrs: [] };
}

/** The answer to ctStatsRequest(): the entries and the table's limit, or what is wrong with it. */
export function decodeCtStats(m: Message): { entries: number; max: number } | string {
  if (m.type !== CT_GET_STATS) return `conntrack statistics: message type 0x${m.type.toString(16)}`;
  const a = parseAttrs(m.body, 4);
  const entries = a.get(CTA_STATS_GLOBAL_ENTRIES);
  const max = a.get(CTA_STATS_GLOBAL_MAX_ENTRIES);
  if (entries?.length !== 4) return "conntrack statistics without CTA_STATS_GLOBAL_ENTRIES";
  return { entries: entries.readUInt32BE(0), max: max?.length === 4 ? max.readUInt32BE(0) : 0 };
}

/** "tcp 10.1.0.2:40000 -> 10.1.0.3:80", "icmp 10.1.0.2 -> 10.1.0.3 id 7": an entry in errors and logs. */
export function describeCt(e: CtEntry): string {
  const port = (a: string, p: number | undefined) =>
    p === undefined ? a : a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`;
  return `${e.protocol} ${port(e.saddr, e.sport)} -> ${port(e.daddr, e.dport)}${e.icmp ? ` id ${e.icmp.id}` : ""}`;
}
