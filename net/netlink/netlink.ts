/**
 * rtnetlink (and ctnetlink, for conntrack) from Node.js, in any network
 * namespace, without blocking the event loop and without a child process:
 * the messages are built and read by rtnetlink.ts and ctnetlink.ts (pure),
 * and our Node-API addon `trellis_netlink`
 * (netlink.c, built by scripts/build-native next to this file in dist/)
 * carries them on a libuv pool thread, which enters the target namespace
 * only to create the socket (setns moves that thread alone) and comes back.
 *
 * The addon is loaded on first use; `loadNetlink()` says at start-up, with
 * the reason, when it was not built (the agent refuses to start then).
 */
import { addonLoader, messageOf } from "../native-addon.js";
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  type Answer,
  type Message,
  type Request,
  answersBySeq,
  decodeMessages,
  eachMessage,
  encodeRequests,
  errorOf,
  isDump,
  placeholderOffsets,
} from "./rtnetlink.js";
import { batchOutcome, type EncodedBatch } from "./nftables.js";

/** The netlink families the addon opens sockets of (linux/netlink.h). */
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
export type NetlinkProtocol = typeof NETLINK_ROUTE | typeof NETLINK_NETFILTER;

export interface NetlinkAddon {
  /** `protocol`: NETLINK_ROUTE when left out. */
  exchange(
    netns: string | null,
    request: Buffer,
    timeoutMs: number,
    protocol?: NetlinkProtocol,
  ): Promise<Buffer>;
  writeSysctls(netns: string | null, paths: string[], values: string[]): Promise<void>;
  /** Dependent stages in two namespaces in one pass (netlink.c "CHAIN PROGRAM"). */
  chain(netnsA: string | null, netnsB: string | null, program: Buffer, timeoutMs: number): Promise<Buffer>;
  batch(netns: string | null, request: Buffer, timeoutMs: number): Promise<Buffer>;
  /** One nfnetlink batch on a NETLINK_NETFILTER socket, and every answer queued for it (netlink.c). */
  transaction(netns: string | null, request: Buffer, timeoutMs: number): Promise<Buffer>;
  /** Closes the NETLINK_NETFILTER sockets transaction() and exchanges on that protocol keep for netns. */
  releaseTransactions(netns: string | null): Promise<Buffer>;
  dump(
    netns: string | null,
    request: Buffer,
    timeoutMs: number,
    maxBytes: number,
    protocol?: NetlinkProtocol,
  ): Promise<Buffer>;
  strerror(errno: number): string;
  errnoName(errno: number): string;
}

/** The addon; throws TRELLIS_ENONETLINK (with the loader's reason) when it was not built. */
export const loadNetlink = addonLoader<NetlinkAddon>(
  import.meta.url,
  "trellis_netlink",
  "TRELLIS_ENONETLINK",
);

/**
 * The kernel refused one request. `message` names the operation and the
 * object, then the C library's text and the kernel's own words when it gave
 * some: "create veth trl0123: File exists".
 */
export class NetlinkError extends Error {
  constructor(
    /** What was asked, e.g. "create veth trl0123". */
    readonly op: string,
    /** Positive errno. */
    readonly errno: number,
    /** Symbolic errno: EEXIST, ENODEV, … */
    readonly code: string,
    detail?: string,
  ) {
    const a = loadNetlink();
    super(`${op}: ${a.strerror(errno)}${detail !== undefined && detail !== "" ? ` (${detail})` : ""}`);
    this.name = "NetlinkError";
  }
}

/** The socket or the exchange itself failed (not a refusal of one request): `code` is the errno name. */
export class NetlinkTransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "NetlinkTransportError";
  }
}

/** One request and the words naming it in an error. */
export interface Op {
  what: string;
  req: Request;
}

export interface Options {
  /** How long to wait for the kernel's answers to one exchange. */
  timeoutMs?: number;
  /** The netlink family of the socket (exchange, dumpEach): NETLINK_ROUTE unless NETLINK_NETFILTER (ctnetlink). */
  protocol?: NetlinkProtocol;
}

let nextSeq = 1;

/**
 * Sends `ops` to the kernel's rtnetlink (or, with `opts.protocol`, ctnetlink) in `netns` (a namespace path; null:
 * the agent's own) and returns each one's answer, in order. Plain requests
 * go in one datagram, which the kernel executes in order, every message even
 * after one fails (the caller decides what a failure means: see
 * `firstError`). A socket runs one dump at a time (a second one is refused
 * with EBUSY, net/netlink/af_netlink.c __netlink_dump_start), so each dump
 * gets its own exchange, run alongside.
 */
export async function exchange(
  netns: string | null,
  ops: readonly Op[],
  opts: Options = {},
): Promise<Answer[]> {
  const plain = ops.map((o, i) => [o, i] as const).filter(([o]) => !isDump(o.req));
  const dumps = ops.map((o, i) => [o, i] as const).filter(([o]) => isDump(o.req));
  const groups = [...(plain.length > 0 ? [plain] : []), ...dumps.map((d) => [d])];
  const out: Answer[] = new Array<Answer>(ops.length);
  await Promise.all(
    groups.map(async (g) => {
      const answers = await exchangeOne(
        netns,
        g.map(([o]) => o),
        opts,
      );
      g.forEach(([, i], k) => (out[i] = answers[k] ?? { messages: [], errno: 0 }));
    }),
  );
  return out;
}

/** One datagram of requests, one socket. */
async function exchangeOne(netns: string | null, ops: readonly Op[], opts: Options): Promise<Answer[]> {
  const a = loadNetlink();
  const seq = nextSeq;
  nextSeq = (nextSeq + ops.length) % 0x7fffffff || 1;
  const reply = await a
    .exchange(
      netns,
      encodeRequests(
        ops.map((o) => o.req),
        seq,
      ),
      opts.timeoutMs ?? 5000,
      opts.protocol ?? NETLINK_ROUTE,
    )
    .catch((e: unknown) => {
      throw transportError(ops[0]?.what ?? "netlink", netns, e);
    });
  const msgs = decodeMessages(reply);
  if (typeof msgs === "string") throw new NetlinkTransportError(`netlink reply: ${msgs}`, "EPROTO");
  return answersBySeq(msgs, seq, ops.length);
}

/** The first refused request of an exchange, as a NetlinkError naming it, or undefined. */
export function firstError(ops: readonly Op[], answers: readonly Answer[]): NetlinkError | undefined {
  for (let i = 0; i < answers.length; i++) {
    const a = answers[i];
    if (a !== undefined && a.errno !== 0) {
      return new NetlinkError(ops[i]?.what ?? "netlink", a.errno, loadNetlink().errnoName(a.errno), a.detail);
    }
  }
  return undefined;
}

/** Like exchange(), but throws the first refusal. */
export async function apply(netns: string | null, ops: readonly Op[], opts: Options = {}): Promise<Answer[]> {
  const answers = await exchange(netns, ops, opts);
  const err = firstError(ops, answers);
  if (err !== undefined) throw err;
  return answers;
}

/**
 * One stage of chain(): requests sent in one datagram on a socket of
 * namespace `ns` (0: the first of chain()'s two, 1: the second), or sysctl
 * writes from a thread inside it. `capture` keeps the ifindex of the
 * stage's first RTM_NEWLINK answer (a getLink's) in that slot; later
 * stages' requests built with `slotIndex(slot)` (rtnetlink.ts) get it.
 */
export type ChainStage =
  | { ns: 0 | 1; ops: readonly Op[]; capture?: number }
  | { ns: 0 | 1; sysctls: readonly (readonly [path: string, value: string])[] };

export interface ChainOutcome {
  /** Each stage's answers, in its requests' order ([] for sysctls, and for the stages after a refusal). */
  answers: Answer[][];
  /** The first stage the kernel refused a request of (the pass stopped there; `firstError` says which). */
  refusedAt?: number;
}

const CHAIN_NO_SLOT = 0xff;

/**
 * Runs dependent stages in two namespaces (`namespaces[0]`, `[1]`; null:
 * the agent's own) in one pass on one pool thread (netlink.c chain()): the
 * routed veth's configuration, where the pod's addresses and routes need the
 * pod interface's index and the host routes the host end's, each read by an
 * earlier stage of the same pass. Empty stages are left out. Throws
 * NetlinkTransportError (naming `what`) when a step itself failed: no
 * socket or namespace, a sysctl file refused, no answer in time.
 */
export async function chain(
  what: string,
  namespaces: readonly [string | null, string | null],
  stages: readonly ChainStage[],
  opts: Pick<Options, "timeoutMs"> = {},
): Promise<ChainOutcome> {
  const parts: Buffer[] = [];
  const seqs: number[] = [];
  /** The caller's index of each stage sent: the addon numbers only those, and empty ones are left out. */
  const sent: number[] = [];
  stages.forEach((st, i) => {
    const header = Buffer.alloc(8);
    header.writeUInt8(st.ns, 0);
    let payload: Buffer;
    let patches: [number, number][] = [];
    if ("sysctls" in st) {
      if (st.sysctls.length === 0) return;
      header.writeUInt8(1, 1);
      header.writeUInt8(CHAIN_NO_SLOT, 2);
      payload = Buffer.from(st.sysctls.map(([p, v]) => `${p}\0${v}\0`).join(""));
    } else {
      if (st.ops.length === 0) return;
      const reqs = st.ops.map((o) => o.req);
      seqs[i] = nextSeq;
      payload = encodeRequests(reqs, nextSeq);
      nextSeq = (nextSeq + reqs.length) % 0x7fffffff || 1;
      patches = placeholderOffsets(reqs);
      header.writeUInt8(st.capture ?? CHAIN_NO_SLOT, 2);
    }
    header.writeUInt8(patches.length, 3);
    header.writeUInt32LE(payload.length, 4);
    sent.push(i);
    parts.push(header);
    for (const [slot, offset] of patches) {
      const p = Buffer.alloc(8);
      p.writeUInt8(slot, 0);
      p.writeUInt32LE(offset, 4);
      parts.push(p);
    }
    parts.push(payload);
  });
  const out: ChainOutcome = { answers: stages.map(() => []) };
  if (parts.length === 0) return out;
  const reply = await loadNetlink()
    .chain(namespaces[0], namespaces[1], Buffer.concat(parts), opts.timeoutMs ?? 5000)
    .catch((e: unknown) => {
      throw transportError(what, namespaces[1] ?? namespaces[0], e);
    });
  for (let off = 0; off + 8 <= reply.length;) {
    const i = sent[reply.readUInt32LE(off)] ?? -1;
    const len = reply.readUInt32LE(off + 4);
    const st = stages[i];
    const body = reply.subarray(off + 8, off + 8 + len);
    off += 8 + len;
    if (st === undefined || "sysctls" in st) continue;
    const msgs = decodeMessages(body);
    if (typeof msgs === "string")
      throw new NetlinkTransportError(`${what}: netlink reply: ${msgs}`, "EPROTO");
    const answers = answersBySeq(msgs, seqs[i] ?? 0, st.ops.length);
    out.answers[i] = answers;
    if (out.refusedAt === undefined && answers.some((a) => a.errno !== 0)) out.refusedAt = i;
  }
  return out;
}

/** One refused message of a batch. */
export interface BatchFailure {
  /** Its position in the batch (sequence number - 1). */
  index: number;
  errno: number;
  /** Symbolic errno: ENETUNREACH, ESRCH, … */
  code: string;
  /** The C library's text, then the kernel's own words when it gave some: "Network is unreachable (Nexthop has invalid gateway)". */
  message: string;
}

/** Transport errors of the addon's calls, naming what was asked and where. */
function transportError(what: string, netns: string | null, e: unknown): NetlinkTransportError {
  const code = (e as { code?: unknown }).code;
  const where = netns !== null ? ` in ${netns}` : "";
  return new NetlinkTransportError(
    `${what}${where}: ${messageOf(e)}`,
    typeof code === "string" ? code : "EIO",
  );
}

/**
 * Sends `count` plain requests framed in `messages`, with sequence numbers
 * 1…count (rtnetlink.ts RouteBatch writes them so), to the kernel in `netns`
 * on one socket of their own, in as few datagrams as its buffers allow
 * (netlink.c batch()). Returns the refused ones; every other one was done.
 * Throws NetlinkTransportError when the outcome is unknown (no socket, the
 * kernel dropped an answer, no answer in time).
 */
export async function sendBatch(
  netns: string | null,
  what: string,
  messages: Buffer,
  count: number,
  opts: Pick<Options, "timeoutMs"> = {},
): Promise<BatchFailure[]> {
  if (count === 0) return [];
  const a = loadNetlink();
  const reply = await a.batch(netns, messages, opts.timeoutMs ?? 30_000).catch((e: unknown) => {
    throw transportError(what, netns, e);
  });
  const msgs = decodeMessages(reply);
  if (typeof msgs === "string") throw new NetlinkTransportError(`${what}: netlink reply: ${msgs}`, "EPROTO");
  const out: BatchFailure[] = [];
  for (const m of msgs) {
    if (m.type !== NLMSG_ERROR || m.seq < 1 || m.seq > count) continue;
    const e = errorOf(m);
    if (e.errno === 0) continue; // a fence's ack
    const detail = e.detail !== undefined && e.detail !== "" ? ` (${e.detail})` : "";
    out.push({
      index: m.seq - 1,
      errno: e.errno,
      code: a.errnoName(e.errno),
      message: `${a.strerror(e.errno)}${detail}`,
    });
  }
  return out;
}

/**
 * Runs one dump request in `netns` and calls `visit` with each message of
 * the answer, read in place from one reply of at most `maxBytes` (default
 * 1 GiB: a million routes are about 60–150 MB). Throws NetlinkError when the
 * kernel refused the dump, NetlinkTransportError when it could not be read.
 */
export async function dumpEach(
  netns: string | null,
  what: string,
  req: Request,
  visit: (m: Message) => void,
  opts: Options & { maxBytes?: number } = {},
): Promise<void> {
  if (!isDump(req)) throw new TypeError(`${what}: not a dump request`);
  const a = loadNetlink();
  const reply = await a
    .dump(
      netns,
      encodeRequests([req], 1),
      opts.timeoutMs ?? 60_000,
      opts.maxBytes ?? 1 << 30,
      opts.protocol ?? NETLINK_ROUTE,
    )
    .catch((e: unknown) => {
      throw transportError(what, netns, e);
    });
  const bad = eachMessage(reply, (m) => {
    if (m.type !== NLMSG_ERROR && m.type !== NLMSG_DONE) {
      visit(m);
      return true;
    }
    const e = errorOf(m);
    if (e.errno !== 0) throw new NetlinkError(what, e.errno, a.errnoName(e.errno), e.detail);
    return m.type !== NLMSG_DONE;
  });
  if (bad !== undefined) throw new NetlinkTransportError(`${what}: ${bad}`, "EPROTO");
}

/**
 * Writes /proc/sys/net/… files from a thread inside `netns` (null: the
 * agent's own): those files belong to the namespace of the task that opens
 * them (netlink.c explains), so a write from the agent's threads would set
 * the agent's namespace, not the target's. Throws NetlinkTransportError
 * naming the file.
 */
export async function writeSysctls(
  netns: string | null,
  sysctls: readonly (readonly [path: string, value: string])[],
): Promise<void> {
  if (sysctls.length === 0) return;
  await loadNetlink()
    .writeSysctls(
      netns,
      sysctls.map(([p]) => p),
      sysctls.map(([, v]) => v),
    )
    .catch((e: unknown) => {
      throw transportError("sysctl", netns, e);
    });
}

/**
 * Closes the NETLINK_NETFILTER sockets the addon keeps for `netns` (one for
 * nf_tables transactions, one for ctnetlink exchanges and dumps: closing one
 * makes nf_tables wait for an RCU grace period, netlink.c explains). For a
 * namespace about to go, and tests.
 */
export async function releaseNetfilterSockets(netns: string | null): Promise<void> {
  await loadNetlink().releaseTransactions(netns);
}

/**
 * Applies one nf_tables batch (nftables.ts encodeElementBatch) in `netns`
 * (null: the agent's own) as one transaction. Throws NetlinkError naming the
 * first refused element and the kernel's errno when the kernel refused it
 * (the whole batch was then aborted: nothing of it applied), and
 * NetlinkTransportError when the outcome is unknown (no socket, an answer
 * dropped or missing).
 */
export async function applyNftBatch(
  netns: string | null,
  batch: EncodedBatch,
  opts: Pick<Options, "timeoutMs"> = {},
): Promise<void> {
  const a = loadNetlink();
  const what = batch.messages[0]?.what ?? "nf_tables transaction";
  const reply = await a.transaction(netns, batch.bytes, opts.timeoutMs ?? 5000).catch((e: unknown) => {
    throw transportError(what, netns, e);
  });
  const msgs = decodeMessages(reply);
  if (typeof msgs === "string") throw new NetlinkTransportError(`${what}: netlink reply: ${msgs}`, "EPROTO");
  const out = batchOutcome(batch, msgs);
  if (typeof out === "string") throw new NetlinkTransportError(`nf_tables transaction: ${out}`, "EPROTO");
  if (out.ok) return;
  const [first, ...more] = out.refused;
  if (first === undefined) return;
  const others = more.length > 0 ? `; ${more.length} more refused, first ${more[0]!.what}` : "";
  throw new NetlinkError(
    first.what,
    first.errno,
    a.errnoName(first.errno),
    `${first.detail ?? ""}${others}`.replace(/^; /, ""),
  );
}
