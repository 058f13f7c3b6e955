/**
 * The routed-veth dataplane shell: makes and removes pods' routed veths and
 * reads them back for CHECK, by rtnetlink from inside the agent
 * (net/netlink: no process is spawned on the ADD, DEL or CHECK path, and the
 * event loop never blocks: each exchange runs on a libuv pool thread, which
 * enters a pod's namespace only to open its socket), and keeps one blackhole
 * route per affine block (`ip -batch`, off the CNI path).
 * Runs in the node's network namespace (the agent's own), unless given
 * another one (`hostNetns`, for tests that must not touch the machine's).
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { CniCode, CniError } from "../../cni/error.js";
import { canonicalPrefix, parseAddress, parsePrefix } from "../../net/address.js";
import {
  NetlinkTransportError,
  type Op,
  type ChainStage,
  apply,
  chain,
  exchange,
  firstError,
  loadNetlink,
  writeSysctls,
} from "../../net/netlink/netlink.js";
import {
  type Answer,
  IFF_UP,
  type KernelRoute,
  type Link,
  type LinkAddr,
  decodeAddr,
  decodeLink,
  RTN_BLACKHOLE,
  RT_SCOPE_UNIVERSE,
  type RouteSpec,
  decodeRoute,
  delLink,
  delRoute,
  dumpAddrs,
  dumpLinks,
  dumpRoutes,
  getLink,
  getRouteFibMatch,
  newRoute,
  setLinkByIndex,
  slotIndex,
} from "../../net/netlink/rtnetlink.js";
import { HOST_VETH_PREFIX } from "../../net/veth-name.js";
import { METRIC_TRELLIS_BLACKHOLE, PROTO_TRELLIS_LOCAL, TABLE_MAIN } from "../../net/route-ownership.js";
import { type VethOwner, parseOwnerMarker, sameOwner } from "./veth-owner.js";
import { V4_GATEWAY, V6_GATEWAY, type VethSpec, hostPrefix, isV6 } from "./routed-veth.js";
import {
  hostConfigOps,
  hostRouteOps,
  hostSettings,
  linkOps,
  podLookupOps,
  podOps,
} from "./routed-veth-netlink.js";

const ENODEV = 19;
/** configure()'s chain slots: the host end's ifindex, the pod interface's. */
const HOST_SLOT = 0;
const POD_SLOT = 1;
const EEXIST = 17;

/** A host veth as the kernel has it: absent, or present with its ifindex and owner marker (veth-owner.ts). */
export type HostVethState = { exists: false } | { exists: true; index: number; owner: VethOwner | undefined };

/**
 * The name prefix of a host veth DEL has detached and the kernel has still
 * to delete ("trx" + 12 hex digits, under IFNAMSIZ): not "trl", so the
 * pod's pinned name is free again at once, and neither GC, the policy
 * compiler nor hostVeths() ever take it for a pod's. At start the agent
 * deletes every one left by a previous run (reapDetached).
 */
export const DETACHED_VETH_PREFIX = "trx";

/**
 * ADD's `link add` found the host veth name taken. Thrown for the backend
 * to decide (veth-owner.ts onAddCollision): replace a stale sandbox's veth,
 * or refuse.
 */
export class HostVethTaken extends Error {
  constructor(
    readonly hostIf: string,
    readonly owner: VethOwner | undefined,
  ) {
    super(`host interface ${hostIf} already exists`);
    this.name = "HostVethTaken";
  }
}

/**
 * The spec code for a failed kernel operation (SPEC.md "Error"): the kernel
 * refused it, 5 (I/O failure); the netlink exchange itself failed (no
 * socket, no answer in time), 11 (try again later: the request may be fine).
 */
function kernelError(what: string, e: unknown): CniError {
  if (e instanceof CniError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const transient = e instanceof NetlinkTransportError;
  return new CniError(transient ? CniCode.TryAgainLater : CniCode.IoFailure, `routed veth: ${what}: ${msg}`);
}

/** Writes the node-wide sysctls a routed node needs (forwarding on). */
export async function enableForwarding(): Promise<void> {
  await writeSysctls(null, [
    ["/proc/sys/net/ipv4/ip_forward", "1"],
    ["/proc/sys/net/ipv6/conf/all/forwarding", "1"],
  ]);
}

/** What CHECK compares the kernel with. */
export interface CheckSpec {
  hostIf: string;
  /** The attachment asking: a host veth marked for another one is drift. */
  owner?: VethOwner;
  podIf: string;
  netns: string;
  mtu: number;
  addresses: readonly string[];
}

export interface DataplaneOptions {
  /** The node's namespace, when it is not the agent's own (tests). */
  hostNetns?: string;
  /** Called with each step's duration (the benchmark's per-step timings). */
  onStep?: (step: string, ms: number) => void;
  /** The bound on one netlink exchange. */
  timeoutMs?: number;
}

export class RoutedVethDataplane {
  private readonly hostNs: string | null;

  constructor(private readonly opts: DataplaneOptions = {}) {
    this.hostNs = opts.hostNetns ?? null;
  }

  /**
   * Throws (TRELLIS_ENONETLINK, with the loader's reason) when the netlink
   * addon was not built: the agent calls it first thing at start and refuses
   * to start, rather than fail every ADD later. There is no `ip` fallback:
   * the addon is built by the same `npm run build` as the CNI shim, from one
   * C file with the same compiler, so a machine that lacks it lacks the shim.
   */
  requireNative(): void {
    loadNetlink();
  }

  private async timed<T>(step: string, p: Promise<T>): Promise<T> {
    if (this.opts.onStep === undefined) return p;
    const t0 = performance.now();
    try {
      return await p;
    } finally {
      this.opts.onStep(step, performance.now() - t0);
    }
  }

  private xopts(): { timeoutMs?: number } {
    return this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {};
  }

  /**
   * Step 1 of ADD: the veth pair, host end up (needs no address, so it runs
   * while IPAM allocates). Throws CniError; leaves nothing behind on failure.
   */
  async createLink(s: Omit<VethSpec, "addresses">): Promise<void> {
    // A relative path would be resolved against the agent's working directory, not the runtime's.
    if (!s.netns.startsWith("/")) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `CNI_NETNS: ${JSON.stringify(s.netns)} is not an absolute path`,
      );
    }
    // IFLA_NET_NS_FD: the kernel resolves the fd in our process while it
    // handles the message, so it stays open until the answer is in.
    // Opened and closed synchronously: a namespace file lives in nsfs (no
    // disk), and each trip through libuv's thread pool costs an event-loop
    // turn, which a busy machine makes milliseconds long.
    let nsFd: number;
    try {
      nsFd = openSync(s.netns, "r");
    } catch (e) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `CNI_NETNS ${s.netns}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const ns = { fd: nsFd, close: (): void => closeSync(nsFd) };
    try {
      // Twice at most: a stale veth may vanish between our add and our look
      // (its old netns being destroyed by the kernel takes the pair with it,
      // or the reaper deleting a detached one).
      for (let attempt = 0; ; attempt++) {
        const ops = linkOps(s, ns.fd);
        const answers = await this.timed("createLink", exchange(this.hostNs, ops, this.xopts())).catch(
          (e: unknown) => {
            throw kernelError(`creating ${s.hostIf}`, e);
          },
        );
        const err = firstError(ops, answers);
        if (err === undefined) return;
        if (err.errno === EEXIST) {
          // Either the host veth name is taken or the pod already has CNI_IFNAME.
          const host = await this.readHostVeth(s.hostIf);
          if (host.exists) throw new HostVethTaken(s.hostIf, host.owner);
          if (attempt === 0) {
            // The pod's interface may be the peer of a veth an earlier DEL
            // detached (DEL, then ADD in the same namespace): let the reaper
            // finish first.
            if (this.detachedPending > 0) await this.settled();
            continue;
          }
          throw new CniError(
            CniCode.AttachmentExists,
            `routed veth: interface ${s.podIf} already exists in ${s.netns}`,
          );
        }
        // EINVAL/EBADF: the fd is not a network namespace.
        if (err.code === "EINVAL" || err.code === "EBADF") {
          throw new CniError(CniCode.InvalidEnvironment, `CNI_NETNS ${s.netns}: ${err.message}`);
        }
        throw new CniError(CniCode.IoFailure, `routed veth: ${err.message}`);
      }
    } finally {
      ns.close();
    }
  }

  /** The host veth and its owner marker, read from the kernel. Throws CniError 5 or 11. */
  async readHostVeth(hostIf: string): Promise<HostVethState> {
    const l = await this.hostLink(hostIf).catch((e: unknown) => {
      throw kernelError(`reading ${hostIf}`, e);
    });
    return l === undefined
      ? { exists: false }
      : { exists: true, index: l.index, owner: parseOwnerMarker(l.alias) };
  }

  /** One link by name in a namespace, or undefined when there is none. */
  private async linkIn(netns: string | null, name: string): Promise<Link | undefined> {
    const ops = [{ what: `read ${name}`, req: getLink(name) }];
    const [a] = await exchange(netns, ops, this.xopts());
    if (a === undefined || a.errno === ENODEV) return undefined;
    const err = firstError(ops, [a]);
    if (err !== undefined) throw err;
    return linkOf(a, name);
  }

  private hostLink(name: string): Promise<Link | undefined> {
    return this.linkIn(this.hostNs, name);
  }

  /**
   * Step 2 of ADD, in one pass on one pool thread (net/netlink chain()):
   * the host end's owner marker and IPv4 settings, read back for its index;
   * its IPv6 sysctls (before the pod end comes up: see routed-veth.ts); the
   * pod interface's index; its addresses, link up and default routes; then
   * proxy_delay and the host routes, both by the host end's index. Each
   * later stage needs an index an earlier one read, and the pass hands it
   * on without coming back to the event loop, which a busy agent makes wait
   * (it took three round trips, five exchanges and a sysctl write). On
   * failure the veth is deleted again.
   */
  async configure(s: VethSpec): Promise<void> {
    try {
      const stages: ChainStage[] = [
        { ns: 0, ops: hostConfigOps(s.hostIf, s.owner), capture: HOST_SLOT },
        { ns: 0, sysctls: hostSettings(s.hostIf).proc },
        { ns: 1, ops: podLookupOps(s.podIf), capture: POD_SLOT },
        { ns: 1, ops: podOps(s, slotIndex(POD_SLOT)) },
        { ns: 0, ops: hostRouteOps(s.hostIf, slotIndex(HOST_SLOT), s.addresses) },
      ];
      const out = await this.timed(
        "configure",
        chain(`configuring ${s.hostIf}`, [this.hostNs, s.netns], stages, this.xopts()),
      );
      if (out.refusedAt !== undefined) {
        const st = stages[out.refusedAt];
        const err =
          st !== undefined && "ops" in st ? firstError(st.ops, out.answers[out.refusedAt] ?? []) : undefined;
        if (err?.errno === ENODEV && out.refusedAt === 2)
          throw new CniError(CniCode.IoFailure, `routed veth: ${s.podIf} is missing in ${s.netns}`);
        if (err?.errno === ENODEV && out.refusedAt === 0)
          throw new CniError(CniCode.IoFailure, `routed veth: ${s.hostIf} vanished`);
        if (err !== undefined) throw err;
      }
    } catch (e) {
      await this.del(s.hostIf).catch(() => undefined);
      throw kernelError("configuring", e);
    }
  }

  /** The whole ADD dataplane (createLink then configure). */
  async add(s: VethSpec): Promise<void> {
    await this.createLink(s);
    await this.configure(s);
  }

  /** Deletes the host veth (its peer and routes go with it). Idempotent. */
  async del(hostIf: string): Promise<void> {
    const ops = [{ what: `delete veth ${hostIf}`, req: delLink(hostIf) }];
    const answers = await this.timed("del", exchange(this.hostNs, ops, this.xopts())).catch((e: unknown) => {
      throw kernelError(`deleting ${hostIf}`, e);
    });
    const err = firstError(ops, answers);
    if (err !== undefined && err.errno !== ENODEV) {
      throw new CniError(CniCode.IoFailure, `routed veth: ${err.message}`);
    }
  }

  /**
   * DEL's fast path. Deleting a veth is slow in the kernel (25–35 ms here:
   * unregister_netdevice waits for RCU grace periods with the RTNL held), and
   * nothing in DEL's answer needs it done. So the host end is set down,
   * which takes its routes with it (IPv4 fib_sync_down_dev and IPv6
   * rt6_sync_down_dev on NETDEV_DOWN: no packet reaches the pod any more),
   * and renamed out of the pod's pinned name (DETACHED_VETH_PREFIX), so a
   * new ADD of the pod finds its name free; the deletion itself runs in the
   * background, one at a time (reapDetached finishes what a restart
   * interrupted). `index` is the link's ifindex as readHostVeth saw it: the
   * kernel renames by index only. Idempotent (a link already gone is
   * success); should the rename fail, the link is deleted synchronously.
   */
  async detach(hostIf: string, index: number): Promise<void> {
    const tmp = DETACHED_VETH_PREFIX + randomBytes(6).toString("hex");
    const ops = [
      { what: `set ${hostIf} down`, req: setLinkByIndex(index, { up: false }) },
      { what: `rename ${hostIf} to ${tmp}`, req: setLinkByIndex(index, { name: tmp }) },
    ];
    const answers = await this.timed("detach", exchange(this.hostNs, ops, this.xopts())).catch(
      (e: unknown) => {
        throw kernelError(`detaching ${hostIf}`, e);
      },
    );
    const [down, rename] = answers;
    if (down?.errno === ENODEV) return;
    if (down?.errno !== 0 || rename?.errno !== 0) {
      await this.del(hostIf);
      return;
    }
    this.reapLater([tmp]);
  }

  /** Host veths detached and not yet deleted, in order; the reaper's queue. */
  private readonly dying: string[] = [];
  private reaper: Promise<void> | undefined;

  private reapLater(names: readonly string[]): void {
    this.dying.push(...names);
    this.reaper ??= this.reap().finally(() => (this.reaper = undefined));
  }

  private async reap(): Promise<void> {
    for (let name = this.dying.shift(); name !== undefined; name = this.dying.shift()) {
      // A failure is left for the next start's reapDetached (the link is down and routeless).
      await this.timed("reap", this.del(name)).catch(() => undefined);
    }
  }

  /** Resolves once every detached host veth is deleted (tests; ADD when the pod's old interface is in the way). */
  async settled(): Promise<void> {
    while (this.reaper !== undefined) await this.reaper;
  }

  /** How many detached host veths wait for their deletion (metrics, tests). */
  get detachedPending(): number {
    return this.dying.length + (this.reaper !== undefined ? 1 : 0);
  }

  /** Deletes (in the background) every detached host veth a previous run left. Returns how many. */
  async reapDetached(): Promise<number> {
    const answers = await apply(this.hostNs, [{ what: "list links", req: dumpLinks() }], this.xopts());
    const names = answers
      .flatMap((a) => a.messages.map(decodeLink))
      .filter(
        (l): l is Link => l !== undefined && l.kind === "veth" && l.name.startsWith(DETACHED_VETH_PREFIX),
      )
      .map((l) => l.name)
      .filter((n) => !this.dying.includes(n));
    this.reapLater(names);
    return names.length;
  }

  /** Nothing to release: every exchange opens and closes its own socket. */
  close(): void {}

  /**
   * CHECK (SPEC.md "CHECK: Check container's networking is as expected"):
   * the link, addresses and routes must match what ADD made. Returns the
   * list of drifts (empty when all is well).
   */
  async check(s: CheckSpec): Promise<string[]> {
    try {
      return await this.checkKernel(s);
    } catch (e) {
      throw kernelError("checking", e);
    }
  }

  private async checkKernel(s: CheckSpec): Promise<string[]> {
    const drift: string[] = [];
    const [hl, pl] = await Promise.all([this.hostLink(s.hostIf), this.linkIn(s.netns, s.podIf)]);
    if (hl === undefined) return [`host interface ${s.hostIf} is missing`];
    const marked = parseOwnerMarker(hl.alias);
    if (s.owner !== undefined && marked !== undefined) {
      if (!sameOwner(marked, s.owner)) {
        // Its name is the pod's, but a newer sandbox of the pod has replaced it.
        return [
          `host interface ${s.hostIf} belongs to container ${marked.containerID} (${marked.ifname}), not to ${s.owner.containerID}`,
        ];
      }
    }
    if (pl === undefined) return [`interface ${s.podIf} is missing in ${s.netns}`];
    const [podAddrs, podR, hostR] = await Promise.all([
      this.podAddresses(s.netns, pl.index),
      this.mainRoutes(s.netns),
      this.hostRoutes(s.addresses),
    ]);
    if ((hl.flags & IFF_UP) === 0) drift.push(`host interface ${s.hostIf} is down`);
    if ((pl.flags & IFF_UP) === 0) drift.push(`interface ${s.podIf} is down`);
    if (hl.mtu !== s.mtu) drift.push(`host interface MTU is ${hl.mtu} (want ${s.mtu})`);
    if (pl.mtu !== s.mtu) drift.push(`${s.podIf} MTU is ${pl.mtu} (want ${s.mtu})`);
    const have = new Set(
      podAddrs
        .filter((a) => a.family === 4 || !a.address.startsWith("fe80"))
        .map((a) => `${a.address}/${a.prefixlen}`),
    );
    for (const a of s.addresses)
      if (!have.delete(hostPrefix(a))) drift.push(`address ${hostPrefix(a)} is missing on ${s.podIf}`);
    for (const extra of have) drift.push(`unexpected address ${extra} on ${s.podIf}`);
    s.addresses.forEach((a, i) => {
      const r = hostR[i];
      if (r === undefined || r.dst !== hostPrefix(a) || r.oif !== hl.index)
        drift.push(`host route ${hostPrefix(a)} dev ${s.hostIf} is missing`);
    });
    const defaultVia = (gw: string): boolean =>
      podR.some((r) => r.dst.endsWith("/0") && r.gateway === gw && r.oif === pl.index);
    if (s.addresses.some((a) => !isV6(a)) && !defaultVia(V4_GATEWAY))
      drift.push(`default route via ${V4_GATEWAY} is missing in the pod`);
    if (s.addresses.some((a) => isV6(a)) && !defaultVia(V6_GATEWAY))
      drift.push(`default route via ${V6_GATEWAY} is missing in the pod`);
    return drift;
  }

  /** Both families of one dump in a (pod) namespace, decoded. */
  private async dumpBoth<T>(
    netns: string,
    what: string,
    req: (f: 4 | 6) => Op["req"],
    decode: (m: Answer["messages"][number]) => T | undefined,
  ): Promise<T[]> {
    const ops: Op[] = ([4, 6] as const).map((f) => ({
      what: `list IPv${f} ${what} in ${netns}`,
      req: req(f),
    }));
    const answers = await apply(netns, ops, this.xopts());
    return answers.flatMap((a) => a.messages.map(decode)).filter((x): x is T => x !== undefined);
  }

  private async podAddresses(netns: string, index: number): Promise<LinkAddr[]> {
    const addrs = await this.dumpBoth(netns, "addresses", (f) => dumpAddrs(f, index), decodeAddr);
    return addrs.filter((a) => a.index === index);
  }

  /** The main table's routes of a (pod) namespace, both families. */
  private mainRoutes(netns: string): Promise<KernelRoute[]> {
    return this.dumpBoth(netns, "routes", (f) => dumpRoutes(f, TABLE_MAIN), decodeRoute);
  }

  /** For each pod address, the node's route a packet to it takes (or undefined: unreachable). */
  private async hostRoutes(addresses: readonly string[]): Promise<(KernelRoute | undefined)[]> {
    if (addresses.length === 0) return [];
    const ops: Op[] = addresses.map((a) => {
      const ip = parseAddress(hostPrefix(a).split("/")[0] ?? a);
      if (typeof ip === "string") throw new CniError(CniCode.InvalidNetworkConfig, `routed veth: ${ip}`);
      return { what: `look up route to ${a}`, req: getRouteFibMatch(ip) };
    });
    const answers = await exchange(this.hostNs, ops, this.xopts());
    return answers.map((a) =>
      a.errno === 0 ? a.messages.map(decodeRoute).find((r) => r !== undefined) : undefined,
    );
  }

  /** Names of every host veth Trellis made in this namespace. */
  async hostVeths(): Promise<string[]> {
    const answers = await apply(this.hostNs, [{ what: "list links", req: dumpLinks() }], this.xopts());
    return answers
      .flatMap((a) => a.messages.map(decodeLink))
      .filter((l): l is Link => l !== undefined && l.kind === "veth" && l.name.startsWith(HOST_VETH_PREFIX))
      .map((l) => l.name);
  }

  /**
   * Blackhole routes for the given block CIDRs, at METRIC_TRELLIS_BLACKHOLE so a
   * single-address block's pod route wins over it; removes ours (proto 201)
   * that are no longer wanted or carry another metric (an older agent's).
   */
  async syncBlackholes(cidrs: readonly string[], sweep: boolean): Promise<void> {
    const blackhole = (cidr: string, priority = METRIC_TRELLIS_BLACKHOLE): RouteSpec => {
      const p = parsePrefix(cidr);
      if (typeof p === "string") throw new Error(`blackhole route ${cidr}: ${p}`);
      return {
        dst: { family: p.family, value: p.base },
        dstLen: p.length,
        table: TABLE_MAIN,
        protocol: PROTO_TRELLIS_LOCAL,
        scope: RT_SCOPE_UNIVERSE,
        type: RTN_BLACKHOLE,
        priority,
      };
    };
    // Deletes go first: an IPv4 delete of metric 0 matches any metric
    // (fib_table_delete), and the kernel keeps aliases in metric order, so it
    // takes the old metric-0 route before the new one exists.
    const ops: Op[] = [];
    if (sweep) {
      const want = new Set(cidrs.map(canonicalCidr));
      const listed = await apply(
        this.hostNs,
        ([4, 6] as const).map((f) => ({
          what: `list IPv${f} blackhole routes`,
          req: dumpRoutes(f, TABLE_MAIN, PROTO_TRELLIS_LOCAL, RTN_BLACKHOLE),
        })),
        this.xopts(),
      );
      for (const r of listed.flatMap((a) => a.messages.map(decodeRoute))) {
        if (r === undefined || r.protocol !== PROTO_TRELLIS_LOCAL || r.type !== RTN_BLACKHOLE) continue;
        if (r.table !== TABLE_MAIN) continue;
        const metric = r.priority ?? 0;
        if (want.has(r.dst) && metric === METRIC_TRELLIS_BLACKHOLE) continue;
        ops.push({
          what: `delete blackhole route ${r.dst} metric ${metric}`,
          req: delRoute(blackhole(r.dst, metric)),
        });
      }
    }
    for (const c of cidrs) ops.push({ what: `blackhole route ${c}`, req: newRoute(blackhole(c), true) });
    if (ops.length === 0) return;
    await apply(this.hostNs, ops, this.xopts());
  }
}

/** A CIDR as decodeRoute prints it (canonical text), or as given when it does not parse. */
function canonicalCidr(cidr: string): string {
  const c = canonicalPrefix(cidr);
  return typeof c === "string" ? c : cidr;
}

/** The link in one answer (RTM_GETLINK by name). */
function linkOf(a: Answer | undefined, name: string): Link | undefined {
  return a?.messages.map(decodeLink).find((l) => l !== undefined && l.name === name);
}
