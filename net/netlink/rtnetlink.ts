/**
 * rtnetlink messages, encoded and decoded in TypeScript (pure: no socket).
 * The wire format is the kernel's UAPI: include/uapi/linux/netlink.h
 * (nlmsghdr, nlattr, nlmsgerr), rtnetlink.h (rtmsg, ifaddrmsg, ndtmsg),
 * if_link.h (ifinfomsg attributes, IFLA_INET_CONF), veth.h, neighbour.h.
 * All integers are in host byte order (little-endian on every machine we
 * build for); addresses are in network order.
 *
 * A request is data: a message type, flags, a fixed header and a tree of
 * attributes. encodeRequests() frames any number of them into one datagram
 * (the kernel handles each message of a datagram in turn, and answers each:
 * net/netlink/af_netlink.c netlink_rcv_skb); decodeMessages() splits what
 * came back, and answersBySeq() pairs answers with requests.
 */
import { type Address, type Family, formatAddress, parseAddress, parsePrefix } from "../address.js";
import { formatIpv4, ipv4Mask, parseCanonicalIpv4, parseCanonicalIpv4Prefix } from "../ipv4-packed.js";

// netlink.h
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR: the request was not echoed back whole (NETLINK_CAP_ACK) / TLVs follow (NETLINK_EXT_ACK). */
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;
const NLMSG_HDRLEN = 16;

// rtnetlink.h
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_SETNEIGHTBL = 67;

const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

// if_link.h, if.h, veth.h
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINKINFO = 18;
export const IFLA_IFALIAS = 20;
export const IFLA_AF_SPEC = 26;
export const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
export const IFF_UP = 0x1;
/** IFLA_AF_SPEC → AF_INET → IFLA_INET_CONF: IPv4 devconf by index (ip.h, IPV4_DEVCONF_*). */
const IFLA_INET_CONF = 1;
export const IPV4_DEVCONF_PROXY_ARP = 3;
export const IPV4_DEVCONF_RP_FILTER = 8;

// if_addr.h
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
export const IFA_F_NODAD = 0x02;

// rtnetlink.h (routes)
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;
export const RTN_UNICAST = 1;
export const RTN_BLACKHOLE = 6;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RTNH_F_ONLINK = 0x4;
/** RTM_GETROUTE: answer with the FIB entry that matches, not a route computed for one packet. */
export const RTM_F_FIB_MATCH = 0x2000;

// neighbour.h (RTM_SETNEIGHTBL)
const NDTA_NAME = 1;
const NDTA_PARMS = 6;
const NDTPA_IFINDEX = 1;
const NDTPA_PROXY_DELAY = 13;

/** One attribute: raw bytes, or nested attributes. */
export interface Attr {
  type: number;
  value: Buffer | readonly Attr[];
}

export interface Request {
  type: number;
  /** NLM_F_* beyond NLM_F_REQUEST; NLM_F_ACK is added to every non-dump request. */
  flags: number;
  /** The fixed header of the family (ifinfomsg, ifaddrmsg, rtmsg, ndtmsg). */
  header: Buffer;
  attrs: readonly Attr[];
}

export interface Message {
  type: number;
  flags: number;
  seq: number;
  /** The message body after the nlmsghdr. */
  body: Buffer;
}

const align = (n: number): number => (n + 3) & ~3;

function attrLength(a: Attr): number {
  return 4 + (Buffer.isBuffer(a.value) ? a.value.length : attrsLength(a.value));
}

function attrsLength(as: readonly Attr[]): number {
  return as.reduce((n, a) => n + align(attrLength(a)), 0);
}

function writeAttrs(buf: Buffer, off: number, as: readonly Attr[]): number {
  for (const a of as) {
    const len = attrLength(a);
    buf.writeUInt16LE(len, off);
    buf.writeUInt16LE(a.type, off + 2);
    if (Buffer.isBuffer(a.value)) a.value.copy(buf, off + 4);
    else writeAttrs(buf, off + 4, a.value);
    off += align(len);
  }
  return off;
}

export function requestLength(r: Request): number {
  return NLMSG_HDRLEN + align(r.header.length) + attrsLength(r.attrs);
}

export function isDump(r: Request): boolean {
  return (r.flags & NLM_F_DUMP) === NLM_F_DUMP;
}

/** Frames requests into one datagram, with sequence numbers firstSeq, firstSeq+1, … */
export function encodeRequests(reqs: readonly Request[], firstSeq: number): Buffer {
  const buf = Buffer.alloc(reqs.reduce((n, r) => n + align(requestLength(r)), 0));
  let off = 0;
  reqs.forEach((r, i) => {
    const len = requestLength(r);
    buf.writeUInt32LE(len, off);
    buf.writeUInt16LE(r.type, off + 4);
    buf.writeUInt16LE(NLM_F_REQUEST | r.flags | (isDump(r) ? 0 : NLM_F_ACK), off + 6);
    buf.writeUInt32LE((firstSeq + i) >>> 0, off + 8);
    buf.writeUInt32LE(0, off + 12); // nlmsg_pid 0: the kernel fills in the socket's port id
    r.header.copy(buf, off + NLMSG_HDRLEN);
    writeAttrs(buf, off + NLMSG_HDRLEN + align(r.header.length), r.attrs);
    off += align(len);
  });
  return buf;
}

/**
 * An ifindex not known yet when a request is built: the addon's chain()
 * (netlink.ts) writes the index an earlier stage read into every place that
 * holds `CHAIN_PLACEHOLDER + slot`. Far above any index the kernel hands
 * out (they count up from 1), and positive as the s32 of struct ifinfomsg.
 */
export const CHAIN_PLACEHOLDER = 0x7fffff00;
export const CHAIN_SLOTS = 8;

/** The placeholder ifindex of chain slot `slot` (0–7), to build a request with. */
export function slotIndex(slot: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot >= CHAIN_SLOTS) throw new RangeError(`chain slot ${slot}`);
  return CHAIN_PLACEHOLDER + slot;
}

/** The slot a u32 holds the placeholder of, or undefined. */
function slotOf(v: number): number | undefined {
  const k = v - CHAIN_PLACEHOLDER;
  return k >= 0 && k < CHAIN_SLOTS ? k : undefined;
}

/** Families whose fixed header carries an ifindex at octet 4: ifinfomsg (links) and ifaddrmsg (addresses). */
const INDEX_IN_HEADER = new Set([
  RTM_NEWLINK,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK + 3, // RTM_SETLINK
  RTM_NEWADDR,
  RTM_NEWADDR + 1, // RTM_DELADDR
  RTM_GETADDR,
]);

/**
 * Where encodeRequests(reqs, …) puts a placeholder ifindex: [slot, octet
 * offset in the datagram] for the header's index of a link or address
 * request, and for every 4-octet attribute (nested or not) that holds one,
 * which is how a route's RTA_OIF and a neighbour table's NDTPA_IFINDEX
 * carry it. The same arithmetic as encodeRequests.
 */
export function placeholderOffsets(reqs: readonly Request[]): [slot: number, offset: number][] {
  const out: [number, number][] = [];
  const walk = (as: readonly Attr[], off: number): void => {
    for (const a of as) {
      if (Buffer.isBuffer(a.value)) {
        const k = a.value.length === 4 ? slotOf(a.value.readUInt32LE(0)) : undefined;
        if (k !== undefined) out.push([k, off + 4]);
      } else {
        walk(a.value, off + 4);
      }
      off += align(attrLength(a));
    }
  };
  let off = 0;
  for (const r of reqs) {
    if (INDEX_IN_HEADER.has(r.type) && r.header.length >= 8) {
      const k = slotOf(r.header.readUInt32LE(4));
      if (k !== undefined) out.push([k, off + NLMSG_HDRLEN + 4]);
    }
    walk(r.attrs, off + NLMSG_HDRLEN + align(r.header.length));
    off += align(requestLength(r));
  }
  return out;
}

/** Splits a stream of netlink messages; a truncated tail is an error (the addon never truncates). */
export function decodeMessages(buf: Buffer): Message[] | string {
  const out: Message[] = [];
  const bad = eachMessage(buf, (m) => {
    out.push(m);
    return true;
  });
  return bad ?? out;
}

/**
 * Calls `visit` with each message of `buf` in turn, its body a view into
 * `buf` (no array of them: a dump of a full FIB is a million messages) until
 * `visit` returns false. Returns what is wrong when a message's length does
 * not fit, after visiting the ones before it.
 */
export function eachMessage(buf: Buffer, visit: (m: Message) => boolean): string | undefined {
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) return `netlink message at ${off} has length ${len}`;
    const more = visit({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      body: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    if (!more) return undefined;
    off += align(len);
  }
  return undefined;
}

/** The attributes of a body after its fixed header, as type → value (last wins; nested flag bits dropped). */
export function parseAttrs(body: Buffer, headerLength: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = align(headerLength);
  while (off + 4 <= body.length) {
    const len = body.readUInt16LE(off);
    if (len < 4 || off + len > body.length) break;
    out.set(body.readUInt16LE(off + 2) & 0x3fff, body.subarray(off + 4, off + len));
    off += align(len);
  }
  return out;
}

/** What the kernel said to one request: its messages, and the errno it failed with (0: success). */
export interface Answer {
  messages: Message[];
  /** A positive errno, or 0. */
  errno: number;
  /** The kernel's own explanation (extended ack, NLMSGERR_ATTR_MSG), when it gave one. */
  detail?: string;
}

/** The errno (positive, 0 for an ack) and the kernel's extended-ack text of an NLMSG_ERROR or NLMSG_DONE. */
export function errorOf(m: Message): { errno: number; detail?: string } {
  const errno = m.body.length >= 4 ? -m.body.readInt32LE(0) : 0;
  if ((m.flags & NLM_F_ACK_TLVS) === 0) return { errno };
  // NLMSG_ERROR (nlmsgerr): the error, then the request's header (and all of it unless
  // capped), then TLVs. NLMSG_DONE of a dump: the error, then TLVs
  // (net/netlink/af_netlink.c netlink_dump_done).
  let tlvs = 4;
  if (m.type === NLMSG_ERROR) {
    if (m.body.length < 4 + NLMSG_HDRLEN) return { errno };
    tlvs += (m.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : m.body.readUInt32LE(4);
  }
  const msg = parseAttrs(m.body, tlvs).get(NLMSGERR_ATTR_MSG);
  return msg !== undefined ? { errno, detail: cString(msg) } : { errno };
}

/** Pairs every request (by sequence number) with its answer. */
export function answersBySeq(messages: readonly Message[], firstSeq: number, count: number): Answer[] {
  const out: Answer[] = Array.from({ length: count }, () => ({ messages: [], errno: 0 }));
  for (const m of messages) {
    const a = out[(m.seq - firstSeq) >>> 0];
    if (a === undefined) continue;
    if (m.type === NLMSG_ERROR || (m.type === NLMSG_DONE && m.body.length >= 4)) {
      const e = errorOf(m);
      if (e.errno !== 0) a.errno = e.errno;
      if (e.detail !== undefined) a.detail = e.detail;
    } else if (m.type !== NLMSG_DONE) {
      a.messages.push(m);
    }
  }
  return out;
}

// ---- attribute values ----

export const u8 = (type: number, v: number): Attr => ({ type, value: Buffer.from([v]) });
export function u32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return { type, value: b };
}
export function u64(type: number, v: number): Attr {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return { type, value: b };
}
/** A NUL-terminated string (NLA_NUL_STRING / NLA_STRING both take it). */
export const str = (type: number, s: string): Attr => ({ type, value: Buffer.from(`${s}\0`) });
export const nest = (type: number, attrs: readonly Attr[]): Attr => ({ type, value: attrs });

export function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString("utf8", 0, nul < 0 ? b.length : nul);
}

export function addressBytes(a: Address): Buffer {
  const b = Buffer.alloc(a.family === 4 ? 4 : 16);
  let v = a.value;
  for (let i = b.length - 1; i >= 0; i--) {
    b.writeUInt8(Number(v & 0xffn), i);
    v >>= 8n;
  }
  return b;
}

export function bytesAddress(b: Buffer): Address | undefined {
  if (b.length !== 4 && b.length !== 16) return undefined;
  let v = 0n;
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b.readUInt8(i));
  return { family: b.length === 4 ? 4 : 6, value: v };
}

export function macBytes(mac: string): Buffer | string {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) return `bad MAC address ${mac}`;
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

const afOf = (f: Family): number => (f === 4 ? AF_INET : AF_INET6);

// ---- fixed headers ----

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(
  o: { index?: number; flags?: number; change?: number; family?: number } = {},
): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(o.family ?? AF_UNSPEC, 0);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE(o.flags ?? 0, 8);
  b.writeUInt32LE(o.change ?? 0, 12);
  return b;
}

/** struct ifaddrmsg (8 bytes). */
function ifaddrmsg(family: Family, prefixlen: number, index: number, scope = RT_SCOPE_UNIVERSE): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(afOf(family), 0);
  b.writeUInt8(prefixlen, 1);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

/** struct rtmsg (12 bytes). */
function rtmsg(o: {
  family: number;
  dstLen: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags?: number;
}): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.dstLen, 1);
  // rtm_table is one octet; tables above 255 go in RTA_TABLE (added below when needed).
  b.writeUInt8(o.table < 256 ? o.table : 252, 4);
  b.writeUInt8(o.protocol, 5);
  b.writeUInt8(o.scope, 6);
  b.writeUInt8(o.type, 7);
  b.writeUInt32LE(o.flags ?? 0, 8);
  return b;
}

// ---- requests ----

/**
 * RTM_NEWLINK type veth, the peer created straight in another namespace
 * (IFLA_NET_NS_FD in the peer's ifinfomsg attributes, veth.h VETH_INFO_PEER),
 * both ends with name, MTU and MAC; `up` brings the local end up at once.
 */
export function newVeth(o: {
  name: string;
  mtu: number;
  mac: Buffer;
  up: boolean;
  peer: { name: string; mtu: number; mac: Buffer; netnsFd: number };
}): Request {
  const peerAttrs = [
    str(IFLA_IFNAME, o.peer.name),
    u32(IFLA_MTU, o.peer.mtu),
    { type: IFLA_ADDRESS, value: o.peer.mac },
    u32(IFLA_NET_NS_FD, o.peer.netnsFd),
  ];
  // VETH_INFO_PEER carries a struct ifinfomsg followed by the peer's attributes.
  const peer = Buffer.alloc(16 + attrsLength(peerAttrs));
  ifinfomsg().copy(peer, 0);
  writeAttrs(peer, 16, peerAttrs);
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: ifinfomsg(o.up ? { flags: IFF_UP, change: IFF_UP } : {}),
    attrs: [
      str(IFLA_IFNAME, o.name),
      u32(IFLA_MTU, o.mtu),
      { type: IFLA_ADDRESS, value: o.mac },
      nest(IFLA_LINKINFO, [
        { type: IFLA_INFO_KIND, value: Buffer.from("veth") },
        nest(IFLA_INFO_DATA, [{ type: VETH_INFO_PEER, value: peer }]),
      ]),
    ],
  };
}

/**
 * RTM_NEWLINK on an existing link, by name: its ifalias, its IPv4 devconf
 * (IFLA_AF_SPEC → AF_INET → IFLA_INET_CONF, index → value: the same settings
 * as /proc/sys/net/ipv4/conf/<if>/…, net/ipv4/devinet.c inet_set_link_af),
 * and/or IFF_UP.
 */
export function setLink(
  name: string,
  o: { alias?: string; inetConf?: readonly [index: number, value: number][]; up?: boolean },
): Request {
  const attrs: Attr[] = [str(IFLA_IFNAME, name)];
  // IFLA_IFALIAS without a NUL: the kernel stores nla_len bytes (dev_set_alias), as iproute2 sends it.
  if (o.alias !== undefined) attrs.push({ type: IFLA_IFALIAS, value: Buffer.from(o.alias) });
  if (o.inetConf !== undefined && o.inetConf.length > 0) {
    attrs.push(
      nest(IFLA_AF_SPEC, [
        nest(AF_INET, [
          nest(
            IFLA_INET_CONF,
            o.inetConf.map(([i, v]) => u32(i, v)),
          ),
        ]),
      ]),
    );
  }
  return {
    type: RTM_NEWLINK,
    flags: 0,
    header: ifinfomsg(o.up === true ? { flags: IFF_UP, change: IFF_UP } : {}),
    attrs,
  };
}

/**
 * RTM_NEWLINK on the link with ifindex `index`: bring it down or up, and/or
 * rename it (IFLA_IFNAME names the new name when ifi_index is set:
 * rtnetlink.c do_setlink). The kernel renames only a link that is down
 * (dev_change_name: EBUSY on an up one) and applies IFLA_IFNAME before the
 * flags, so a rename of an up link takes two messages: down, then rename.
 */
export function setLinkByIndex(index: number, o: { up?: boolean; name?: string }): Request {
  return {
    type: RTM_NEWLINK,
    flags: 0,
    header: ifinfomsg({
      index,
      ...(o.up !== undefined ? { flags: o.up ? IFF_UP : 0, change: IFF_UP } : {}),
    }),
    attrs: o.name !== undefined ? [str(IFLA_IFNAME, o.name)] : [],
  };
}

export function delLink(name: string): Request {
  return { type: RTM_DELLINK, flags: 0, header: ifinfomsg(), attrs: [str(IFLA_IFNAME, name)] };
}

export function getLink(name: string): Request {
  return { type: RTM_GETLINK, flags: 0, header: ifinfomsg(), attrs: [str(IFLA_IFNAME, name)] };
}

/** Every link (a dump). */
export function dumpLinks(): Request {
  return { type: RTM_GETLINK, flags: NLM_F_DUMP, header: ifinfomsg(), attrs: [] };
}

/** RTM_NEWADDR: `address/prefixlen` on interface `index`, with IFA_F_* flags (IFA_FLAGS holds all 32 bits). */
export function newAddr(index: number, address: Address, prefixlen: number, flags = 0): Request {
  const bytes = addressBytes(address);
  return {
    type: RTM_NEWADDR,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: ifaddrmsg(address.family, prefixlen, index),
    // For IPv4, IFA_LOCAL is the address and IFA_ADDRESS the peer (equal on a non-point-to-point link).
    attrs: [
      { type: IFA_LOCAL, value: bytes },
      { type: IFA_ADDRESS, value: bytes },
      ...(flags !== 0 ? [u32(IFA_FLAGS, flags)] : []),
    ],
  };
}

/** Every address of one family (a dump; the kernel filters by index under strict checking). */
export function dumpAddrs(family: Family, index: number): Request {
  return { type: RTM_GETADDR, flags: NLM_F_DUMP, header: ifaddrmsg(family, 0, index), attrs: [] };
}

export interface RouteSpec {
  dst: Address;
  dstLen: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  oif?: number;
  gateway?: Address;
  onlink?: boolean;
  /** RTA_PRIORITY (the metric); absent: the kernel's default (IPv4 0, IPv6 1024), and any metric on delete. */
  priority?: number;
}

function routeAttrs(r: RouteSpec): Attr[] {
  const attrs: Attr[] = [];
  if (r.dstLen > 0) attrs.push({ type: RTA_DST, value: addressBytes(r.dst) });
  if (r.table >= 256) attrs.push(u32(RTA_TABLE, r.table));
  if (r.oif !== undefined) attrs.push(u32(RTA_OIF, r.oif));
  if (r.gateway !== undefined) attrs.push({ type: RTA_GATEWAY, value: addressBytes(r.gateway) });
  if (r.priority !== undefined) attrs.push(u32(RTA_PRIORITY, r.priority));
  return attrs;
}

/** RTM_NEWROUTE; `replace` is `ip route replace` (NLM_F_CREATE|NLM_F_REPLACE), else `ip route add`. */
export function newRoute(r: RouteSpec, replace: boolean): Request {
  return {
    type: RTM_NEWROUTE,
    flags: NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL),
    header: rtmsg({ ...r, family: afOf(r.dst.family), flags: r.onlink === true ? RTNH_F_ONLINK : 0 }),
    attrs: routeAttrs(r),
  };
}

/** RTM_DELROUTE of the route `r` describes (destination, table, protocol, type must match). */
export function delRoute(r: RouteSpec): Request {
  return {
    type: RTM_DELROUTE,
    flags: 0,
    header: rtmsg({ ...r, family: afOf(r.dst.family) }),
    attrs: routeAttrs(r),
  };
}

/**
 * The routes of one family and table (a dump). With strict checking on (the
 * addon sets NETLINK_GET_STRICT_CHK) the kernel itself keeps only the given
 * table, protocol and type (net/ipv4/fib_frontend.c ip_valid_fib_dump_req);
 * callers filter again, for kernels before 5.3 that ignore the filter.
 */
export function dumpRoutes(family: Family, table: number, protocol = 0, type = 0): Request {
  return {
    type: RTM_GETROUTE,
    flags: NLM_F_DUMP,
    header: rtmsg({ family: afOf(family), dstLen: 0, table, protocol, scope: 0, type }),
    attrs: table >= 256 ? [u32(RTA_TABLE, table)] : [],
  };
}

/** RTM_GETROUTE for one destination: the route a packet to `dst` would take, with its source (`ip route get`). */
export function getRoute(dst: Address): Request {
  return routeLookup(dst, 0);
}

/**
 * RTM_GETROUTE with RTM_F_FIB_MATCH for one destination: the table entry a
 * packet to `dst` would use (`ip route get fibmatch`), or ENETUNREACH.
 */
export function getRouteFibMatch(dst: Address): Request {
  return routeLookup(dst, RTM_F_FIB_MATCH);
}

/** RTM_GETROUTE for the host prefix of `dst`, with the rtmsg flags `flags`. */
function routeLookup(dst: Address, flags: number): Request {
  return {
    type: RTM_GETROUTE,
    flags: 0,
    header: rtmsg({
      family: afOf(dst.family),
      dstLen: dst.family === 4 ? 32 : 128,
      table: 0,
      protocol: 0,
      scope: 0,
      type: 0,
      flags,
    }),
    attrs: [{ type: RTA_DST, value: addressBytes(dst) }],
  };
}

/**
 * RTM_SETNEIGHTBL: a per-interface parameter of the ARP table ("arp_cache",
 * net/ipv4/arp.c), the netlink side of /proc/sys/net/ipv4/neigh/<if>/…
 * (net/core/neighbour.c neightbl_set): proxy_delay in milliseconds.
 */
export function setArpProxyDelay(index: number, ms: number): Request {
  const header = Buffer.alloc(4);
  header.writeUInt8(AF_INET, 0);
  return {
    type: RTM_SETNEIGHTBL,
    flags: 0,
    header,
    attrs: [
      str(NDTA_NAME, "arp_cache"),
      nest(NDTA_PARMS, [u32(NDTPA_IFINDEX, index), u64(NDTPA_PROXY_DELAY, ms)]),
    ],
  };
}

// ---- decoded objects ----

export interface Link {
  index: number;
  name: string;
  flags: number;
  mtu?: number;
  mac?: string;
  alias?: string;
  /** IFLA_LINKINFO → IFLA_INFO_KIND ("veth", "bridge", …) */
  kind?: string;
}

export function decodeLink(m: Message): Link | undefined {
  if (m.type !== RTM_NEWLINK || m.body.length < 16) return undefined;
  const a = parseAttrs(m.body, 16);
  const name = a.get(IFLA_IFNAME);
  const mtu = a.get(IFLA_MTU);
  const mac = a.get(IFLA_ADDRESS);
  const alias = a.get(IFLA_IFALIAS);
  const info = a.get(IFLA_LINKINFO);
  const kind = info !== undefined ? parseAttrs(info, 0).get(IFLA_INFO_KIND) : undefined;
  return {
    index: m.body.readInt32LE(4),
    name: name !== undefined ? cString(name) : "",
    flags: m.body.readUInt32LE(8),
    ...(mtu !== undefined && mtu.length >= 4 ? { mtu: mtu.readUInt32LE(0) } : {}),
    ...(mac !== undefined ? { mac: formatMac(mac) } : {}),
    ...(alias !== undefined ? { alias: cString(alias) } : {}),
    ...(kind !== undefined ? { kind: cString(kind) } : {}),
  };
}

export interface LinkAddr {
  index: number;
  address: string;
  prefixlen: number;
  family: Family;
}

export function decodeAddr(m: Message): LinkAddr | undefined {
  if (m.type !== RTM_NEWADDR || m.body.length < 8) return undefined;
  const a = parseAttrs(m.body, 8);
  const bytes = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  const addr = bytes !== undefined ? bytesAddress(bytes) : undefined;
  if (addr === undefined) return undefined;
  return {
    index: m.body.readUInt32LE(4),
    address: formatAddress(addr),
    prefixlen: m.body.readUInt8(1),
    family: addr.family,
  };
}

export interface KernelRoute {
  /** "a.b.c.d/n", "x::/n" ("0.0.0.0/0" and "::/0" for defaults). */
  dst: string;
  gateway?: string;
  oif?: number;
  /** RTA_PREFSRC: the source address the kernel picks (answers to getRoute). */
  prefsrc?: string;
  protocol: number;
  type: number;
  table: number;
  /** RTA_PRIORITY (the metric), when the kernel reports one. */
  priority?: number;
}

export function decodeRoute(m: Message): KernelRoute | undefined {
  if (m.type !== RTM_NEWROUTE || m.body.length < 12) return undefined;
  const family: Family = m.body.readUInt8(0) === AF_INET ? 4 : 6;
  const a = parseAttrs(m.body, 12);
  const dstBytes = a.get(RTA_DST);
  const dst: Address | undefined = dstBytes !== undefined ? bytesAddress(dstBytes) : { family, value: 0n };
  if (dst === undefined) return undefined;
  const gw = a.get(RTA_GATEWAY);
  const gateway = gw !== undefined ? bytesAddress(gw) : undefined;
  const oif = a.get(RTA_OIF);
  const table = a.get(RTA_TABLE);
  const src = a.get(RTA_PREFSRC);
  const prio = a.get(RTA_PRIORITY);
  const prefsrc = src !== undefined ? bytesAddress(src) : undefined;
  return {
    dst: `${formatAddress(dst)}/${m.body.readUInt8(1)}`,
    ...(gateway !== undefined ? { gateway: formatAddress(gateway) } : {}),
    ...(oif !== undefined && oif.length >= 4 ? { oif: oif.readUInt32LE(0) } : {}),
    ...(prefsrc !== undefined ? { prefsrc: formatAddress(prefsrc) } : {}),
    protocol: m.body.readUInt8(5),
    type: m.body.readUInt8(7),
    table: table !== undefined && table.length >= 4 ? table.readUInt32LE(0) : m.body.readUInt8(4),
    ...(prio !== undefined && prio.length >= 4 ? { priority: prio.readUInt32LE(0) } : {}),
  };
}

// ---- route batches (bgp/fib: thousands of routes per datagram) ----

const RTA_MULTIPATH = 9;
const RTA_VIA = 18;
/** RTM_DELROUTE with this scope matches a route of any scope (net/ipv4/fib_trie.c fib_table_delete). */
const RT_SCOPE_NOWHERE = 255;
const RTMSG_LEN = 12;
const RTNH_LEN = 8;

/** One next hop of a route in a batch: a gateway (text), and the interface index when it must be given (link-local). */
export interface BatchNextHop {
  via: string;
  oif?: number;
}

/** Where ipv4-packed leaves a parsed IPv4 address (one buffer, no allocation per route). */
const parsedV4 = new Int32Array(1);

/**
 * An address's octets straight from its text (before `end`) into `buf` at
 * `off`; returns the family, or 0 when the text is not an address. IPv4 is
 * canonical text through ipv4-packed.ts, with no allocation (it runs per
 * route on the FIB's 1M-route path, where a bigint parse costs several times
 * the kernel's insert); IPv6 goes through net/address.ts.
 */
function writeAddressText(buf: Buffer, off: number, text: string, end: number): 0 | Family {
  if (parseCanonicalIpv4(text, end, parsedV4)) {
    buf.writeInt32BE(parsedV4[0]!, off);
    return 4;
  }
  const a = parseAddress(text.slice(0, end));
  if (typeof a === "string" || a.family !== 6) return 0;
  addressBytes(a).copy(buf, off);
  return 6;
}

/**
 * A route's prefix text into `buf` at `off` (its network address): its
 * family and length, or undefined when it is not a prefix. IPv4 as
 * writeAddressText; IPv6 through net/address.ts parsePrefix (host bits set
 * are refused, as the RIB never has them).
 */
function writePrefixText(
  buf: Buffer,
  off: number,
  text: string,
): { family: Family; len: number } | undefined {
  const len = parseCanonicalIpv4Prefix(text, parsedV4);
  if (len >= 0) {
    // Host bits are refused here, as parsePrefix refuses them for IPv6 below.
    // The kernel refuses them too (fib_valid_key_len: "Invalid prefix for
    // given prefix length"), but only once the batch is sent; for IPv6 it
    // masks them silently (ip6_route_info_create), which would install a
    // route other than the one named.
    if ((parsedV4[0]! & ~ipv4Mask(len)) !== 0) return undefined;
    buf.writeInt32BE(parsedV4[0]!, off);
    return { family: 4, len };
  }
  const p = parsePrefix(text);
  if (typeof p === "string" || p.family !== 6) return undefined;
  addressBytes({ family: 6, value: p.base }).copy(buf, off);
  return { family: 6, len: p.length };
}

/**
 * Framed RTM_NEWROUTE (`replace`: NLM_F_CREATE|NLM_F_REPLACE, which swaps a
 * route atomically, never leaving a window without one) and RTM_DELROUTE
 * messages for many routes of one table and protocol, written straight into
 * one growing Buffer with no object per route. Sequence numbers run from 1
 * (the addon's batch() gives each batch its own socket). No message asks for
 * an ack: batch() makes the last of each datagram its fence, and the kernel
 * answers every failure anyway. Multipath routes carry RTA_MULTIPATH
 * (rtnexthop + RTA_GATEWAY per hop, rtnetlink.h); an IPv4 route through an
 * IPv6 gateway (RFC 8950) carries RTA_VIA.
 */
export class RouteBatch {
  private buf = Buffer.alloc(1 << 16);
  private off = 0;
  /** Messages written; message i has sequence number i + 1. */
  count = 0;
  private readonly hopCache = new Map<string, Buffer>();

  constructor(
    readonly table: number,
    readonly protocol: number,
  ) {}

  /** Adds a replace; returns an error (and adds nothing) when the prefix or a gateway is not valid. */
  replace(prefix: string, hops: readonly BatchNextHop[]): string | undefined {
    if (hops.length === 0) return `route ${prefix} has no next hop`;
    const start = this.begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, 96 + hops.length * 40);
    const fam = this.header(prefix, RT_SCOPE_UNIVERSE, RTN_UNICAST);
    if (typeof fam === "string") return this.abandon(start, fam);
    if (hops.length === 1) {
      const h = hops[0]!;
      const e = this.gatewayAttr(fam, h.via);
      if (e !== undefined) return this.abandon(start, e);
      if (h.oif !== undefined) this.attrU32(RTA_OIF, h.oif);
    } else {
      const mp = this.off;
      this.off += 4;
      for (const h of hops) {
        const nh = this.off;
        this.off += RTNH_LEN;
        const e = this.gatewayAttr(fam, h.via);
        if (e !== undefined) return this.abandon(start, e);
        // struct rtnexthop: len (with its attributes), flags, hops (weight - 1), ifindex
        this.buf.writeUInt16LE(this.off - nh, nh);
        this.buf.writeUInt16LE(0, nh + 2);
        this.buf.writeInt32LE(h.oif ?? 0, nh + 4);
      }
      this.buf.writeUInt16LE(this.off - mp, mp);
      this.buf.writeUInt16LE(RTA_MULTIPATH, mp + 2);
    }
    this.end(start);
    return undefined;
  }

  /** Adds a delete of our route (this table and protocol only) for the prefix. */
  delete(prefix: string): string | undefined {
    const start = this.begin(RTM_DELROUTE, 0, 64);
    const fam = this.header(prefix, RT_SCOPE_NOWHERE, 0);
    if (typeof fam === "string") return this.abandon(start, fam);
    this.end(start);
    return undefined;
  }

  /** The messages written so far (a view, valid until the next write). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }

  private begin(type: number, flags: number, room: number): number {
    if (this.buf.length - this.off < room) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.off + room));
      this.buf.copy(grown, 0, 0, this.off);
      this.buf = grown;
    }
    const start = this.off;
    this.buf.fill(0, start, start + NLMSG_HDRLEN + RTMSG_LEN);
    this.buf.writeUInt16LE(type, start + 4);
    this.buf.writeUInt16LE(NLM_F_REQUEST | flags, start + 6);
    this.buf.writeUInt32LE(this.count + 1, start + 8);
    this.off = start + NLMSG_HDRLEN + RTMSG_LEN;
    return start;
  }

  /** rtmsg, RTA_TABLE and RTA_DST from the prefix text; the family, or an error. */
  private header(prefix: string, scope: number, type: number): Family | string {
    const h = this.off - RTMSG_LEN;
    // RTA_TABLE always (any table id), RTA_DST written in place.
    this.attrU32(RTA_TABLE, this.table);
    const dst = this.off;
    const p = writePrefixText(this.buf, dst + 4, prefix);
    if (p === undefined) return `invalid prefix ${prefix}`;
    const { family: fam, len } = p;
    const size = fam === 4 ? 4 : 16;
    this.buf.writeUInt16LE(4 + size, dst);
    this.buf.writeUInt16LE(RTA_DST, dst + 2);
    this.off = dst + 4 + size;
    this.buf.writeUInt8(afOf(fam), h);
    this.buf.writeUInt8(len, h + 1);
    this.buf.writeUInt8(this.table < 256 ? this.table : 252, h + 4);
    this.buf.writeUInt8(this.protocol, h + 5);
    this.buf.writeUInt8(scope, h + 6);
    this.buf.writeUInt8(type, h + 7);
    return fam;
  }

  /** RTA_GATEWAY of the route's family, or RTA_VIA for an IPv6 gateway of an IPv4 route (RFC 8950). */
  private gatewayAttr(fam: Family, gateway: string): string | undefined {
    let enc = this.hopCache.get(gateway);
    if (enc === undefined) {
      const tmp = Buffer.alloc(16);
      const gfam = writeAddressText(tmp, 0, gateway, gateway.length);
      if (gfam === 0) return `invalid next hop ${gateway}`;
      enc = gfam === 4 ? tmp.subarray(0, 4) : tmp;
      if (this.hopCache.size < 4096) this.hopCache.set(gateway, enc);
    }
    const gfam = enc.length === 4 ? 4 : 6;
    if (gfam === fam) {
      this.buf.writeUInt16LE(4 + enc.length, this.off);
      this.buf.writeUInt16LE(RTA_GATEWAY, this.off + 2);
      enc.copy(this.buf, this.off + 4);
      this.off += 4 + enc.length;
    } else if (fam === 4) {
      // struct rtvia: rtvia_family (u16), then the address
      this.buf.writeUInt16LE(4 + 2 + 16, this.off);
      this.buf.writeUInt16LE(RTA_VIA, this.off + 2);
      this.buf.writeUInt16LE(AF_INET6, this.off + 4);
      enc.copy(this.buf, this.off + 6);
      this.off += align(4 + 2 + 16);
    } else return `IPv4 next hop ${gateway} for an IPv6 route`;
    return undefined;
  }

  private attrU32(type: number, v: number): void {
    this.buf.writeUInt16LE(8, this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    this.buf.writeUInt32LE(v >>> 0, this.off + 4);
    this.off += 8;
  }

  private end(start: number): void {
    this.buf.writeUInt32LE(this.off - start, start);
    this.count++;
  }

  private abandon(start: number, error: string): string {
    this.off = start;
    return error;
  }
}

/** A route as a dump lists it, with every next hop (RTA_MULTIPATH unfolded). */
export interface DumpedRoute {
  /** "a.b.c.d/n" or "x::/n". */
  dst: string;
  protocol: number;
  type: number;
  table: number;
  hops: { gateway?: string; oif?: number }[];
}

function addrText(b: Buffer, o: number, size: number): string | undefined {
  if (size === 4) return formatIpv4(b.readInt32BE(o));
  const a = size === 16 ? bytesAddress(b.subarray(o, o + 16)) : undefined;
  return a === undefined ? undefined : formatAddress(a);
}

/** The gateway of an RTA_GATEWAY (route's family) or RTA_VIA (rtvia) attribute value at [o, o+len). */
function gatewayText(b: Buffer, type: number, o: number, len: number): string | undefined {
  if (type === RTA_GATEWAY) return addrText(b, o, len);
  if (type === RTA_VIA && len >= 2) return addrText(b, o + 2, len - 2);
  return undefined;
}

/**
 * Decodes one RTM_NEWROUTE of a dump with its next hops, reading the
 * attributes in place (a dump of a full FIB is a million of these).
 */
export function decodeDumpedRoute(m: Message): DumpedRoute | undefined {
  const b = m.body;
  if (m.type !== RTM_NEWROUTE || b.length < RTMSG_LEN) return undefined;
  const size = b.readUInt8(0) === AF_INET ? 4 : 16;
  let dst: string | undefined = size === 4 ? "0.0.0.0" : "::";
  let table = b.readUInt8(4);
  let gateway: string | undefined;
  let oif: number | undefined;
  let hops: { gateway?: string; oif?: number }[] | undefined;
  let o = RTMSG_LEN;
  while (o + 4 <= b.length) {
    const len = b.readUInt16LE(o);
    const type = b.readUInt16LE(o + 2) & 0x3fff;
    if (len < 4 || o + len > b.length) break;
    const v = o + 4;
    const vlen = len - 4;
    if (type === RTA_DST) dst = addrText(b, v, vlen);
    else if (type === RTA_TABLE && vlen >= 4) table = b.readUInt32LE(v);
    else if (type === RTA_GATEWAY || type === RTA_VIA) gateway = gatewayText(b, type, v, vlen);
    else if (type === RTA_OIF && vlen >= 4) oif = b.readUInt32LE(v);
    else if (type === RTA_MULTIPATH) {
      hops = [];
      let n = v;
      while (n + RTNH_LEN <= o + len) {
        const nlen = b.readUInt16LE(n);
        if (nlen < RTNH_LEN || n + nlen > o + len) break;
        const hop: { gateway?: string; oif?: number } = {};
        const ifindex = b.readInt32LE(n + 4);
        if (ifindex > 0) hop.oif = ifindex;
        let a = n + RTNH_LEN;
        while (a + 4 <= n + nlen) {
          const alen = b.readUInt16LE(a);
          if (alen < 4 || a + alen > n + nlen) break;
          const g = gatewayText(b, b.readUInt16LE(a + 2) & 0x3fff, a + 4, alen - 4);
          if (g !== undefined) hop.gateway = g;
          a += align(alen);
        }
        hops.push(hop);
        n += align(nlen);
      }
    }
    o += align(len);
  }
  if (dst === undefined) return undefined;
  if (hops === undefined) {
    const hop: { gateway?: string; oif?: number } = {};
    if (gateway !== undefined) hop.gateway = gateway;
    if (oif !== undefined) hop.oif = oif;
    hops = gateway !== undefined || oif !== undefined ? [hop] : [];
  }
  return { dst: `${dst}/${b.readUInt8(1)}`, protocol: b.readUInt8(5), type: b.readUInt8(7), table, hops };
}
