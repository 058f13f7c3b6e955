// The real FIB driver: rtnetlink from inside the speaker, through our addon
// net/netlink (no process). One apply() is one RouteBatch: every operation
// framed into one buffer (RTM_NEWROUTE with NLM_F_REPLACE, or RTM_DELROUTE,
// proto and table of the FIB), handed to the addon's batch(), which sends it
// on a libuv pool thread in as few datagrams as the socket's buffers allow
// and returns only the refusals, each by its sequence number. So a batch of
// thousands of routes costs a handful of syscalls and no event-loop time
// beyond encoding it, and a refused route names itself while the others of
// its batch are installed. KernelFib keeps one batch in flight, which bounds
// the bytes outstanding (batchSize routes, about 60 octets each).
// The readback (start, repair after a failure) is an RTM_GETROUTE dump
// filtered by table and protocol, never `ip route show`.
import {
  loadNetlink,
  NetlinkError,
  apply as nlApply,
  dumpEach,
  sendBatch,
} from "../../net/netlink/netlink.js";
import {
  type BatchNextHop,
  RTN_UNICAST,
  RouteBatch,
  decodeDumpedRoute,
  decodeLink,
  dumpLinks,
  dumpRoutes,
} from "../../net/netlink/rtnetlink.js";
import { netnsPath } from "../../net/netns-path.js";
import type { KernelRoute, NextHop } from "./route.js";
import type { FibOp } from "./fib-sync.js";
import type { FibDriver, FibOpFailure } from "./driver.js";

export interface NetlinkFibOptions {
  /** routing table id (254 = main) */
  table: number;
  /** rtnetlink protocol number that marks our routes (trellis-bgp: PROTO_TRELLIS_BGP from net/route-ownership.ts, 202) */
  proto: number;
  /** this network namespace: a name under /var/run/netns, or a path; default: the speaker's own */
  netns?: string;
  /** how long one batch may wait for the kernel's answers (default 30 s) */
  timeoutMs?: number;
}

/** Operations per addon call: at most about 130 octets each (ECMP, IPv6), so a few MB. */
const MAX_OPS_PER_SEND = 32_768;

/** How an operation is named in an error: "replace 10.0.0.0/24 via 10.1.1.1" / "delete 10.0.0.0/24". */
export function describeOp(op: FibOp): string {
  if (op.op === "delete") return `delete ${op.prefix}`;
  const hops = op.route.nexthops.map((h) => (h.dev === undefined ? h.via : `${h.via} dev ${h.dev}`));
  return `replace ${op.route.prefix} via ${hops.join(", ")}`;
}

/** One batch, encoded: its messages, which operation each is, and the operations refused before sending. */
interface Encoded {
  ops: readonly FibOp[];
  bytes: Buffer;
  count: number;
  /** message i is ops[sent[i]] */
  sent: number[];
  failures: FibOpFailure[];
}

export class NetlinkFibDriver implements FibDriver {
  private readonly netns: string | null;
  /** interface names of link-local next hops → index, read when first needed and again after a miss */
  private ifindex = new Map<string, number>();
  /** the last send queued: batches go to the kernel one after the other, in call order */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly opts: NetlinkFibOptions) {
    this.netns = netnsPath(opts.netns);
    // Fail at start, naming the reason, when the addon was not built (no fallback to `ip`: net/netlink/README.md).
    loadNetlink();
  }

  /**
   * Encodes the batch now and sends it after every batch of earlier calls
   * (the kernel sees operations in call order, so a caller may hand in the
   * next batch while this one is in the kernel: KernelFib encodes batch k+1
   * while the kernel applies batch k).
   */
  apply(ops: readonly FibOp[]): Promise<FibOpFailure[]> {
    if (ops.length === 0) return Promise.resolve([]);
    // A repair after a failure may hand in the whole table at once: send it in
    // bounded pieces (the addon takes at most 64 MiB per batch).
    if (ops.length > MAX_OPS_PER_SEND) {
      const parts: Promise<FibOpFailure[]>[] = [];
      for (let i = 0; i < ops.length; i += MAX_OPS_PER_SEND)
        parts.push(this.apply(ops.slice(i, i + MAX_OPS_PER_SEND)));
      return Promise.all(parts).then((r) => r.flat());
    }
    const devs = new Set<string>();
    for (const op of ops)
      if (op.op === "replace") for (const h of op.route.nexthops) if (h.dev !== undefined) devs.add(h.dev);
    // A link-local next hop needs its interface's index (rare: BGP unnumbered): read
    // the links in this batch's own turn, then encode, so later batches stay behind it.
    if ([...devs].some((d) => !this.ifindex.has(d)))
      return this.after(async () => {
        await this.readLinks();
        return this.send(this.encode(ops));
      });
    const encoded = this.encode(ops);
    return this.after(() => this.send(encoded));
  }

  /** Runs `f` after every send queued so far, and makes later sends wait for it. */
  private after<T>(f: () => Promise<T>): Promise<T> {
    const p = this.tail.then(f);
    this.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** The batch's messages, and the operations refused before the kernel saw them. */
  private encode(ops: readonly FibOp[]): Encoded {
    const failures: FibOpFailure[] = [];
    const batch = new RouteBatch(this.opts.table, this.opts.proto);
    /** message i of the batch is ops[sent[i]] */
    const sent: number[] = [];
    ops.forEach((op, i) => {
      let err: string | undefined;
      if (op.op === "delete") err = batch.delete(op.prefix);
      else {
        let hops: readonly BatchNextHop[] = op.route.nexthops;
        if (op.route.nexthops.some((h) => h.dev !== undefined)) {
          const withIndex: BatchNextHop[] = [];
          for (const h of op.route.nexthops) {
            const oif = h.dev === undefined ? undefined : this.ifindex.get(h.dev);
            if (h.dev !== undefined && oif === undefined) err = `no interface ${h.dev}`;
            withIndex.push(oif === undefined ? { via: h.via } : { via: h.via, oif });
          }
          hops = withIndex;
        }
        if (err === undefined) err = batch.replace(op.route.prefix, hops);
      }
      if (err !== undefined) failures.push({ op, error: `${describeOp(op)}: ${err}` });
      else sent.push(i);
    });
    return { ops, bytes: batch.bytes(), count: batch.count, sent, failures };
  }

  /** Sends an encoded batch now; its failures, the kernel's refusals by operation. */
  private async send({ ops, bytes, count, sent, failures }: Encoded): Promise<FibOpFailure[]> {
    const refused = await sendBatch(
      this.netns,
      `FIB batch of ${count} routes (table ${this.opts.table})`,
      bytes,
      count,
      this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {},
    );
    for (const r of refused) {
      const op = ops[sent[r.index] ?? -1];
      if (op === undefined) continue;
      // Deleting a route that is already gone (ESRCH) is the state we wanted.
      if (op.op === "delete" && r.code === "ESRCH") continue;
      failures.push({ op, error: `${describeOp(op)}: ${r.message}` });
    }
    // An interface may have been renamed or recreated: look again next time.
    if (failures.some((f) => f.op.op === "replace" && f.op.route.nexthops.some((h) => h.dev !== undefined)))
      this.ifindex.clear();
    return failures;
  }

  async list(): Promise<KernelRoute[]> {
    const out: KernelRoute[] = [];
    let names: Map<number, string> | undefined;
    const linkLocal: { hop: NextHop; oif: number }[] = [];
    for (const family of [4, 6] as const) {
      try {
        await dumpEach(
          this.netns,
          `list IPv${family} routes of table ${this.opts.table} proto ${this.opts.proto}`,
          dumpRoutes(family, this.opts.table, this.opts.proto),
          (m) => {
            const r = decodeDumpedRoute(m);
            // The kernel filters by table and protocol (strict checking); check again for kernels before 5.3.
            if (r === undefined || r.table !== this.opts.table || r.protocol !== this.opts.proto) return;
            if (r.type !== RTN_UNICAST) return;
            const hops: NextHop[] = [];
            for (const h of r.hops) {
              if (h.gateway === undefined) continue;
              const hop: NextHop = { via: h.gateway };
              // We set a device only for link-local gateways; report it only there so the
              // readback compares equal to what we installed.
              if (h.gateway.startsWith("fe80:") && h.oif !== undefined) linkLocal.push({ hop, oif: h.oif });
              hops.push(hop);
            }
            out.push({ prefix: r.dst, nexthops: hops });
          },
        );
      } catch (e) {
        // A table nobody has used yet in this family does not exist: it is empty.
        if (e instanceof NetlinkError && e.code === "ENOENT") continue;
        throw e;
      }
    }
    if (linkLocal.length > 0) {
      names = new Map([...(await this.readLinks())].map(([n, i]) => [i, n]));
      for (const { hop, oif } of linkLocal) {
        const dev = names.get(oif);
        if (dev !== undefined) hop.dev = dev;
      }
    }
    return out;
  }

  close(): Promise<void> {
    // Nothing is held open between batches (each has its own socket): wait for the last one.
    return this.tail;
  }

  private async readLinks(): Promise<Map<string, number>> {
    const [a] = await nlApply(this.netns, [{ what: "list links", req: dumpLinks() }]);
    const m = new Map<string, number>();
    for (const msg of a?.messages ?? []) {
      const l = decodeLink(msg);
      if (l !== undefined) m.set(l.name, l.index);
    }
    this.ifindex = m;
    return m;
  }
}
