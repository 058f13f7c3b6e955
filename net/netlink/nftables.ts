/**
 * A pure codec of the nf_tables netlink messages the agent sends without the
 * `nft` process: set and verdict-map element adds and deletes, framed as one
 * nfnetlink batch (one atomic transaction, as `nft -f` makes), and the
 * kernel's answers to it.
 *
 * Layouts: include/uapi/linux/netfilter/nfnetlink.h (`struct nfgenmsg`,
 * NFNL_MSG_BATCH_BEGIN/END) and include/uapi/linux/netfilter/nf_tables.h
 * (NFT_MSG_NEWSETELEM/DELSETELEM, `enum nft_set_elem_list_attributes`,
 * `enum nft_set_elem_attributes`, `enum nft_data_attributes`,
 * `enum nft_verdict_attributes`). Behaviour: net/netfilter/nfnetlink.c
 * (`nfnetlink_rcv_batch`) and net/netfilter/nf_tables_api.c
 * (`nf_tables_newsetelem`, `nft_add_set_elem`, `nft_del_setelem`), cited
 * per function below.
 *
 * Elements come in the form `nft -j` reads and lists them (the policy
 * compiler's elements, policy/compiler/nft-table.ts): an address, a
 * `{prefix: {addr, len}}`, a `{range: [a, b]}`, an interface name, a
 * protocol name, a port or port range, a `{concat: [...]}` of those, and for
 * a verdict map `[key, verdict]`. Errors are values: a shape this codec does
 * not know is returned as a string naming it, so the caller can hand the
 * transaction to `nft` instead.
 */
import { parseAddressOf, parsePrefix, prefixSpan, type Family } from "../address.js";
import {
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REQUEST,
  addressBytes,
  errorOf,
  type Attr,
  type Message,
} from "./rtnetlink.js";
import { nfgenmsg, nfnlType } from "./nfnetlink.js";

// include/uapi/linux/netfilter/nfnetlink.h
const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 0x10; // NLMSG_MIN_TYPE
const NFNL_MSG_BATCH_END = 0x11;
// include/uapi/linux/netfilter/nf_tables.h, enum nf_tables_msg_types
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
export const NFT_NEWSETELEM = nfnlType(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWSETELEM);
export const NFT_DELSETELEM = nfnlType(NFNL_SUBSYS_NFTABLES, NFT_MSG_DELSETELEM);
export const NFNL_BATCH_BEGIN = NFNL_MSG_BATCH_BEGIN;
export const NFNL_BATCH_END = NFNL_MSG_BATCH_END;
// enum nft_set_elem_list_attributes
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
// enum nft_list_attributes
const NFTA_LIST_ELEM = 1;
// enum nft_set_elem_attributes (NFTA_SET_ELEM_PAD is 8, so KEY_END is 10)
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_FLAGS = 3;
const NFTA_SET_ELEM_USERDATA = 6;
const NFTA_SET_ELEM_KEY_END = 10;
// enum nft_set_elem_flags
const NFT_SET_ELEM_INTERVAL_END = 0x1;
// enum nft_data_attributes
const NFTA_DATA_VALUE = 1;
const NFTA_DATA_VERDICT = 2;
// enum nft_verdict_attributes
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;
/** enum nft_verdicts, and NF_DROP / NF_ACCEPT of linux/netfilter.h. */
const VERDICT_CODE = { drop: 0, accept: 1, jump: -3, goto: -4 } as const;
/** NFPROTO_* of linux/netfilter.h: the table's family in `nfgenmsg`. */
const NFPROTO: Readonly<Record<string, number>> = { inet: 1, ip: 2, ip6: 10 };
/** libmnl's `mnl_attr_nest_start` sets it, and nf_tables parses nests either way. */
const NLA_F_NESTED = 1 << 15;
/**
 * nft's element user data (libnftnl include/libnftnl/udata.h: a TLV of
 * type u8, length u8, value): NFTNL_UDATA_SET_ELEM_FLAGS (1), a host-order
 * u32 with NFTNL_SET_ELEM_F_INTERVAL_OPEN (1). nft writes it on the start
 * of an interval that runs to the last address (which has no end element to
 * close it) and reads it back to list that interval as the prefix or range
 * it was: without it `nft list` would not print the same element.
 */
const UDATA_INTERVAL_OPEN = Buffer.from([1, 4, 1, 0, 0, 0]);
/** IFNAMSIZ: nft's `ifname` type is a 16-octet string, NUL-padded. */
const IFNAMSIZ = 16;
const IPPROTO: Readonly<Record<string, number>> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, "ipv6-icmp": 58 };

/** The key types of the sets the agent's tables declare. */
export type NftKeyType = "ipv4_addr" | "ipv6_addr" | "ifname" | "inet_proto" | "inet_service";
const KEY_TYPES: ReadonlySet<string> = new Set([
  "ipv4_addr",
  "ipv6_addr",
  "ifname",
  "inet_proto",
  "inet_service",
]);

/** What the codec needs to know of a set: its key fields, whether it holds intervals, whether it is a verdict map. */
export interface SetShape {
  readonly key: readonly NftKeyType[];
  readonly interval: boolean;
  readonly verdictMap: boolean;
}

/**
 * The shape of a set declared as `nft -j` declares it (`type` one name or a
 * concatenation, `flags`, a map's data type), or what this codec cannot
 * encode elements of (timeouts, other data types, other key types).
 */
export function setShape(
  type: string | readonly string[],
  flags: readonly string[],
  map: string | undefined,
): SetShape | string {
  const key = typeof type === "string" ? [type] : [...type];
  const unknown = key.find((k) => !KEY_TYPES.has(k));
  if (unknown !== undefined || key.length === 0) return `key type ${JSON.stringify(type)}`;
  const other = flags.find((f) => f !== "interval");
  if (other !== undefined) return `set flag ${other}`;
  if (map !== undefined && map !== "verdict") return `map data type ${map}`;
  if (map !== undefined && flags.includes("interval")) return "an interval verdict map";
  return { key: key as NftKeyType[], interval: flags.includes("interval"), verdictMap: map !== undefined };
}

/** One element change of a transaction: elements added to or deleted from one set. */
export interface ElementChange {
  readonly op: "add" | "delete";
  /** The table's family (`inet`) and name. */
  readonly family: string;
  readonly table: string;
  readonly set: string;
  readonly shape: SetShape;
  /** As `nft -j` writes them; a verdict map's adds are `[key, verdict]`, its deletes the key alone. */
  readonly elements: readonly unknown[];
}

/** One message of an encoded batch: its sequence number and the words naming it in an error. */
export interface BatchMessage {
  readonly seq: number;
  /** `add element "trl0a1b2c3d4e5" . 10.90.0.7 to set inet trellis pod-sources` */
  readonly what: string;
}

export interface EncodedBatch {
  readonly bytes: Buffer;
  /** BATCH_BEGIN's sequence number: the kernel answers the batch as a whole with it. */
  readonly beginSeq: number;
  /** The element messages, in order (one per element as written). */
  readonly messages: readonly BatchMessage[];
}

/** A value of one key field: its octets from the first and the last value it covers (the same for a single value). */
interface FieldSpan {
  readonly start: Buffer;
  readonly end: Buffer;
}

/** One element as the kernel stores it. */
interface KernelElement {
  readonly key: Buffer;
  readonly keyEnd?: Buffer;
  readonly intervalEnd: boolean;
  readonly open: boolean;
}

function u16be(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

function be32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v | 0);
  return { type, value: b };
}

const nested = (type: number, attrs: readonly Attr[]): Attr => ({ type: type | NLA_F_NESTED, value: attrs });
const cstr = (type: number, s: string): Attr => ({ type, value: Buffer.from(`${s}\0`) });

/** A JSON object (not an array): how nft's JSON elements and commands are read. */
export const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** An address, prefix or range of `family` as its first and last address. */
function addressSpan(family: Family, e: unknown): { start: bigint; end: bigint } | string {
  if (typeof e === "string") {
    const a = parseAddressOf(family, e);
    return typeof a === "string" ? a : { start: a.value, end: a.value };
  }
  if (isRecord(e) && isRecord(e["prefix"])) {
    const { addr, len } = e["prefix"];
    if (typeof addr !== "string" || typeof len !== "number") return `prefix ${JSON.stringify(e["prefix"])}`;
    // net/address's one host-bit rule: refused, naming the network meant.
    const p = parsePrefix(`${addr}/${len}`);
    if (typeof p === "string") return p;
    if (p.family !== family) return `prefix ${addr}/${len} is not IPv${family}`;
    return prefixSpan(p);
  }
  if (isRecord(e) && Array.isArray(e["range"]) && e["range"].length === 2) {
    const [x, y] = e["range"] as unknown[];
    if (typeof x !== "string" || typeof y !== "string") return `range ${JSON.stringify(e["range"])}`;
    const a = parseAddressOf(family, x);
    const b = parseAddressOf(family, y);
    if (typeof a === "string") return a;
    if (typeof b === "string") return b;
    if (a.value > b.value) return `range ${x}-${y} runs backwards`;
    return { start: a.value, end: b.value };
  }
  return `IPv${family} element ${JSON.stringify(e)}`;
}

const bytesOf = (family: Family, v: bigint): Buffer => addressBytes({ family, value: v });

/** One key field of an element: the octets the kernel compares (nft's datatype byte order: network order). */
function fieldSpan(t: NftKeyType, e: unknown): FieldSpan | string {
  switch (t) {
    case "ipv4_addr":
    case "ipv6_addr": {
      const f: Family = t === "ipv4_addr" ? 4 : 6;
      const s = addressSpan(f, e);
      return typeof s === "string" ? s : { start: bytesOf(f, s.start), end: bytesOf(f, s.end) };
    }
    case "ifname": {
      // A name of up to 15 octets and its NUL (IFNAMSIZ), padded with NULs as nft
      // writes a string key (src/datatype.c string_type, 16 octets for ifname).
      if (typeof e !== "string" || e === "" || Buffer.byteLength(e) >= IFNAMSIZ || e.includes("\0"))
        return `interface name ${JSON.stringify(e)}`;
      const b = Buffer.alloc(IFNAMSIZ);
      b.write(e);
      return { start: b, end: b };
    }
    case "inet_proto": {
      const n = typeof e === "number" ? e : typeof e === "string" ? IPPROTO[e] : undefined;
      if (n === undefined || !Number.isInteger(n) || n < 0 || n > 255) return `protocol ${JSON.stringify(e)}`;
      const b = Buffer.from([n]);
      return { start: b, end: b };
    }
    case "inet_service": {
      const ok = (p: unknown): p is number =>
        typeof p === "number" && Number.isInteger(p) && p >= 0 && p <= 0xffff;
      if (ok(e)) return { start: u16be(e), end: u16be(e) };
      if (isRecord(e) && Array.isArray(e["range"]) && e["range"].length === 2) {
        const [a, b] = e["range"] as unknown[];
        if (ok(a) && ok(b) && a <= b) return { start: u16be(a), end: u16be(b) };
      }
      return `port ${JSON.stringify(e)}`;
    }
  }
}

/**
 * A concatenation's key: each field in a 32-bit-aligned slot
 * (include/net/netfilter/nf_tables.h NFT_REG32_SIZE; nft's concat datatype
 * pads each member to `round_up(len, 4)`), so `ipv4_addr . inet_proto .
 * inet_service` is 4 + 4 + 4 octets and `ifname . ipv4_addr` 16 + 4.
 */
function concatKey(parts: readonly Buffer[]): Buffer {
  const out = Buffer.alloc(parts.reduce((n, p) => n + ((p.length + 3) & ~3), 0));
  let off = 0;
  for (const p of parts) {
    p.copy(out, off);
    off += (p.length + 3) & ~3;
  }
  return out;
}

/** `a` plus one, as a big-endian number of its width; undefined when `a` is the last value (all ones). */
function successor(a: Buffer): Buffer | undefined {
  const b = Buffer.from(a);
  for (let i = b.length - 1; i >= 0; i--) {
    const v = b.readUInt8(i);
    if (v < 0xff) {
      b.writeUInt8(v + 1, i);
      return b;
    }
    b.writeUInt8(0, i);
  }
  return undefined;
}

/**
 * One element as written by nft -j -> the kernel elements it stands for:
 *
 * - a plain set or map: one element, its key (single values only);
 * - an interval set of one field (nft_set_rbtree): the start, and an element
 *   flagged NFT_SET_ELEM_INTERVAL_END at the address after the last one
 *   (nft's src/intervals.c `setelem_to_interval`; the rbtree's lookup
 *   matches a key when the closest element at or below it is a start). An
 *   interval that runs to the last address has no end element: its start
 *   carries nft's "interval open" user data instead. nft also adds an end
 *   element at 0 to an interval set it believes empty; the rbtree of the
 *   kernels this runs on never needs it (a key below every start finds no
 *   element, net/netfilter/nft_set_rbtree.c `__nft_rbtree_lookup`), nft
 *   lists sets the same without it, and without a cache we cannot know
 *   the set is empty, so it is not sent;
 * - an interval set of a concatenation (nft_set_pipapo): one element whose
 *   NFTA_SET_ELEM_KEY holds each field's first value and NFTA_SET_ELEM_KEY_END
 *   each field's last (inclusive), even for single values: pipapo takes the
 *   range from the pair (net/netfilter/nft_set_pipapo.c `nft_pipapo_insert`),
 *   and nft sends both for every such element, adds and deletes alike.
 */
function kernelElements(shape: SetShape, e: unknown): KernelElement[] | string {
  const fields = shape.key;
  let spans: FieldSpan[];
  if (fields.length === 1) {
    const s = fieldSpan(fields[0]!, e);
    if (typeof s === "string") return s;
    spans = [s];
  } else {
    const parts = isRecord(e) && Array.isArray(e["concat"]) ? (e["concat"] as unknown[]) : undefined;
    if (parts?.length !== fields.length) return `element ${JSON.stringify(e)} is not a ${fields.join(" . ")}`;
    spans = [];
    for (let i = 0; i < fields.length; i++) {
      const s = fieldSpan(fields[i]!, parts[i]);
      if (typeof s === "string") return s;
      spans.push(s);
    }
  }
  const single = spans.every((s) => s.start.equals(s.end));
  if (!shape.interval) {
    if (!single) return `${JSON.stringify(e)} is a range, and the set holds no intervals`;
    return [{ key: concatKey(spans.map((s) => s.start)), intervalEnd: false, open: false }];
  }
  if (fields.length > 1)
    return [
      {
        key: concatKey(spans.map((s) => s.start)),
        keyEnd: concatKey(spans.map((s) => s.end)),
        intervalEnd: false,
        open: false,
      },
    ];
  const span = spans[0]!;
  const after = successor(span.end);
  if (after === undefined) return [{ key: span.start, intervalEnd: false, open: true }];
  return [
    { key: span.start, intervalEnd: false, open: false },
    { key: after, intervalEnd: true, open: false },
  ];
}

/** NFTA_SET_ELEM_DATA of a verdict map: NFTA_DATA_VERDICT { CODE, CHAIN for jump and goto }. */
function verdictData(v: unknown): Attr | string {
  if (!isRecord(v)) return `verdict ${JSON.stringify(v)}`;
  const [name, ...rest] = Object.keys(v);
  if (name === undefined || rest.length > 0) return `verdict ${JSON.stringify(v)}`;
  if (name === "accept" || name === "drop")
    return nested(NFTA_SET_ELEM_DATA, [
      nested(NFTA_DATA_VERDICT, [be32(NFTA_VERDICT_CODE, VERDICT_CODE[name])]),
    ]);
  if (name === "jump" || name === "goto") {
    const t = v[name];
    const target = isRecord(t) ? t["target"] : undefined;
    if (typeof target !== "string" || target === "") return `verdict ${JSON.stringify(v)}`;
    return nested(NFTA_SET_ELEM_DATA, [
      nested(NFTA_DATA_VERDICT, [
        be32(NFTA_VERDICT_CODE, VERDICT_CODE[name]),
        cstr(NFTA_VERDICT_CHAIN, target),
      ]),
    ]);
  }
  return `verdict ${JSON.stringify(v)}`;
}

/** An element as `nft` prints it in a command: `"trl0a" . 10.0.0.7`, `10.1.0.0/16`, `"trl0a" : jump ing-3f`. */
export function describeElement(e: unknown): string {
  const one = (x: unknown): string => {
    if (typeof x === "string") return /^[0-9a-fA-F.:]+$/.test(x) ? x : JSON.stringify(x);
    if (typeof x === "number") return String(x);
    if (isRecord(x) && isRecord(x["prefix"]))
      return `${String(x["prefix"]["addr"])}/${String(x["prefix"]["len"])}`;
    if (isRecord(x) && Array.isArray(x["range"])) return (x["range"] as unknown[]).map(one).join("-");
    if (isRecord(x) && Array.isArray(x["concat"])) return (x["concat"] as unknown[]).map(one).join(" . ");
    if (isRecord(x)) {
      const [k] = Object.keys(x);
      const t = k !== undefined ? x[k] : undefined;
      return isRecord(t) && typeof t["target"] === "string" ? `${k} ${t["target"]}` : (k ?? "{}");
    }
    return JSON.stringify(x);
  };
  return Array.isArray(e) && e.length === 2 ? `${one(e[0])} : ${one(e[1])}` : one(e);
}

/** One NFTA_LIST_ELEM nest. */
function listElem(k: KernelElement, data: Attr | undefined): Attr {
  return nested(NFTA_LIST_ELEM, [
    nested(NFTA_SET_ELEM_KEY, [{ type: NFTA_DATA_VALUE, value: k.key }]),
    ...(k.keyEnd !== undefined
      ? [nested(NFTA_SET_ELEM_KEY_END, [{ type: NFTA_DATA_VALUE, value: k.keyEnd }])]
      : []),
    ...(k.intervalEnd ? [be32(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END)] : []),
    ...(data !== undefined && !k.intervalEnd ? [data] : []),
    ...(k.open ? [{ type: NFTA_SET_ELEM_USERDATA, value: UDATA_INTERVAL_OPEN }] : []),
  ]);
}

const align = (n: number): number => (n + 3) & ~3;

function attrLength(a: Attr): number {
  return (
    4 + (Buffer.isBuffer(a.value) ? a.value.length : a.value.reduce((n, x) => n + align(attrLength(x)), 0))
  );
}

function writeAttr(buf: Buffer, off: number, a: Attr): number {
  const len = attrLength(a);
  buf.writeUInt16LE(len, off);
  buf.writeUInt16LE(a.type, off + 2);
  if (Buffer.isBuffer(a.value)) a.value.copy(buf, off + 4);
  else {
    let o = off + 4;
    for (const x of a.value) o = writeAttr(buf, o, x);
  }
  return off + align(len);
}

/** nlmsghdr + nfgenmsg (family, version, res_id in network order) + attributes. */
function message(
  type: number,
  flags: number,
  seq: number,
  family: number,
  resId: number,
  attrs: Attr[],
): Buffer {
  const len = 16 + 4 + attrs.reduce((n, a) => n + align(attrLength(a)), 0);
  const b = Buffer.alloc(len);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(0, 12); // nlmsg_pid 0: the kernel fills in the socket's port id
  nfgenmsg(family, resId).copy(b, 16);
  let off = 20;
  for (const a of attrs) off = writeAttr(b, off, a);
  return b;
}

/**
 * The changes as one nfnetlink batch, sequence numbers from `firstSeq`:
 * NFNL_MSG_BATCH_BEGIN (res_id NFNL_SUBSYS_NFTABLES: the subsystem the batch
 * is for, `nfnetlink_rcv`), one NFT_MSG_NEWSETELEM or NFT_MSG_DELSETELEM per
 * element as written (its start and end elements together), then
 * NFNL_MSG_BATCH_END. The kernel applies the whole batch or nothing
 * (`nfnetlink_rcv_batch`: any message's error aborts the transaction).
 *
 * Adds carry NLM_F_CREATE without NLM_F_EXCL, as `nft add element` does, so
 * adding an element that is there already succeeds (`nft_add_set_elem`:
 * EEXIST is cleared unless NLM_F_EXCL, when key, flags and data are the
 * same); deleting one that is not there fails with ENOENT. Every element
 * message asks for an ack, so each one's fate comes back by its sequence
 * number; BEGIN and END do not (only kernels since 6.10 would answer them).
 */
export function encodeElementBatch(
  changes: readonly ElementChange[],
  firstSeq: number,
): EncodedBatch | string {
  const parts: Buffer[] = [];
  const messages: BatchMessage[] = [];
  let seq = firstSeq >>> 0;
  const beginSeq = seq;
  parts.push(message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq++, 0, NFNL_SUBSYS_NFTABLES, []));
  for (const c of changes) {
    const family = NFPROTO[c.family];
    if (family === undefined) return `table family ${c.family}`;
    for (const e of c.elements) {
      let key: unknown = e;
      let data: Attr | undefined;
      if (c.shape.verdictMap && c.op === "add") {
        if (!Array.isArray(e) || e.length !== 2)
          return `map element ${JSON.stringify(e)} is not [key, verdict]`;
        key = e[0];
        const d = verdictData(e[1]);
        if (typeof d === "string") return d;
        data = d;
      }
      const ks = kernelElements(c.shape, key);
      if (typeof ks === "string") return `set ${c.set}: ${ks}`;
      const what = `${c.op} element ${describeElement(e)} ${c.op === "add" ? "to" : "from"} ${c.shape.verdictMap ? "map" : "set"} ${c.family} ${c.table} ${c.set}`;
      messages.push({ seq, what });
      parts.push(
        message(
          c.op === "add" ? NFT_NEWSETELEM : NFT_DELSETELEM,
          NLM_F_REQUEST | NLM_F_ACK | (c.op === "add" ? NLM_F_CREATE : 0),
          seq++,
          family,
          0,
          [
            cstr(NFTA_SET_ELEM_LIST_TABLE, c.table),
            cstr(NFTA_SET_ELEM_LIST_SET, c.set),
            nested(
              NFTA_SET_ELEM_LIST_ELEMENTS,
              ks.map((k) => listElem(k, data)),
            ),
          ],
        ),
      );
    }
  }
  parts.push(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq, 0, NFNL_SUBSYS_NFTABLES, []));
  return { bytes: Buffer.concat(parts), beginSeq, messages };
}

/** One refused message of a batch (or the batch itself: `what` is "the transaction"). */
export interface BatchRefusal {
  readonly what: string;
  /** Positive errno. */
  readonly errno: number;
  /** The kernel's own words (extended ack), when it gave some. */
  readonly detail?: string;
}

/**
 * What the kernel answered a batch: `ok` when every element message was
 * acknowledged and nothing was refused; else the refusals (the transaction
 * was then aborted whole: nothing of it applied); or a string when the
 * answers do not account for every message (the outcome is unknown).
 *
 * Where the answers come from (net/netfilter/nfnetlink.c
 * `nfnetlink_rcv_batch`): each message's error, or its ack when it asked
 * for one, is queued and delivered after the batch was committed or
 * aborted (`nfnl_err_deliver`); a failed commit, or a batch refused before
 * its messages were looked at (no CAP_NET_ADMIN: `nfnetlink_rcv`; an
 * unknown subsystem), is answered with the BEGIN message's sequence number.
 * A message answered by an ack in an aborted batch was not applied either.
 */
export function batchOutcome(
  batch: EncodedBatch,
  answers: readonly Message[],
): { ok: true } | { ok: false; refused: BatchRefusal[] } | string {
  const bySeq = new Map(batch.messages.map((m) => [m.seq, m] as const));
  const answered = new Set<number>();
  const refused: BatchRefusal[] = [];
  for (const m of answers) {
    if (m.type !== NLMSG_ERROR) continue;
    const e = errorOf(m);
    const msg = bySeq.get(m.seq);
    if (msg !== undefined) answered.add(m.seq);
    if (e.errno === 0) continue;
    const what =
      msg?.what ?? (m.seq === batch.beginSeq ? "the transaction" : `message ${m.seq} of the batch`);
    refused.push({ what, errno: e.errno, ...(e.detail !== undefined ? { detail: e.detail } : {}) });
  }
  if (refused.length > 0) return { ok: false, refused };
  const missing = batch.messages.filter((m) => !answered.has(m.seq));
  if (missing.length > 0)
    return `no answer to ${missing.length} of ${batch.messages.length} messages (first: ${missing[0]!.what})`;
  return { ok: true };
}
