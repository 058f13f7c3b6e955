/**
 * The kernel side of BGPPeer `reachableBy`: a host route to a peer that is
 * not on a connected network, `peerIP/32 via GATEWAY proto 201` (main table).
 * Protocol 201 is the agent's own (net/route-ownership.ts: routes derived
 * from local state); among the agent's proto 201 routes these are the only
 * ones with a gateway (pod routes go `dev trl…`, block blackholes have no
 * next hop), which is how they are found again after a restart and how the
 * sweep touches nothing else: a route with a gateway and proto 201 that no
 * BGPPeer asks for any more is deleted (its BGPPeer was deleted or no longer
 * selects this node, maybe while the agent was down).
 *
 * `planPeerRoutes` is pure (the diff, as route operations); `PeerRoutes`
 * reads the kernel by an RTM_GETROUTE dump, applies the plan by rtnetlink
 * (net/netlink: no process) and re-reads on every resync.
 */
import type { Logger } from "pino";
import { PROTO_TRELLIS_LOCAL, TABLE_MAIN } from "../../net/route-ownership.js";
import { parseAddress, parsePrefixLoose } from "../../net/address.js";
import { exchange, firstError, type Op } from "../../net/netlink/netlink.js";
import {
  RTN_UNICAST,
  RT_SCOPE_UNIVERSE,
  type RouteSpec,
  decodeRoute,
  delRoute,
  dumpRoutes,
  newRoute,
} from "../../net/netlink/rtnetlink.js";
import type { PeerHostRoute } from "./desired-config.js";

/** One of our gatewayed proto 201 routes as read from the kernel. */
export interface InstalledPeerRoute {
  prefix: string;
  via: string;
}

/** One change to the kernel: `replace` is atomic (`ip route replace`); `delete` names the gateway so it removes only that route. */
export interface PeerRouteOp {
  op: "replace" | "delete";
  prefix: string;
  via: string;
}

/** The operations that turn `installed` into `want`: replace what is missing or differs, delete the rest. */
export function planPeerRoutes(
  installed: readonly InstalledPeerRoute[],
  want: readonly Pick<PeerHostRoute, "prefix" | "via">[],
): PeerRouteOp[] {
  const ops: PeerRouteOp[] = [];
  const wanted = new Map(want.map((r) => [r.prefix, r.via]));
  for (const r of installed)
    if (wanted.get(r.prefix) !== r.via) ops.push({ op: "delete", prefix: r.prefix, via: r.via });
  const have = new Set(installed.map((r) => `${r.prefix} ${r.via}`));
  for (const r of want)
    if (!have.has(`${r.prefix} ${r.via}`)) ops.push({ op: "replace", prefix: r.prefix, via: r.via });
  return ops;
}

/** The rtnetlink request of one operation, or a message naming what is not an address. */
export function peerRouteRequest(o: PeerRouteOp): Op | string {
  const p = parsePrefixLoose(o.prefix);
  const gw = parseAddress(o.via);
  if (typeof p === "string") return `reachableBy route ${o.prefix}: ${p}`;
  if (typeof gw === "string") return `reachableBy route ${o.prefix} via ${o.via}: ${gw}`;
  const spec: RouteSpec = {
    dst: { family: p.family, value: p.base },
    dstLen: p.length,
    table: TABLE_MAIN,
    protocol: PROTO_TRELLIS_LOCAL,
    scope: RT_SCOPE_UNIVERSE,
    type: RTN_UNICAST,
    gateway: gw,
  };
  return o.op === "replace"
    ? { what: `replace route ${o.prefix} via ${o.via}`, req: newRoute(spec, true) }
    : { what: `delete route ${o.prefix} via ${o.via}`, req: delRoute(spec) };
}

/** Our gatewayed proto 201 routes, both families; a string when the kernel could not be read. `netns`: a namespace path (tests). */
export async function readPeerRoutes(netns?: string): Promise<InstalledPeerRoute[] | string> {
  const ops = ([4, 6] as const).map((f) => ({
    what: `list IPv${f} proto ${PROTO_TRELLIS_LOCAL} routes`,
    req: dumpRoutes(f, TABLE_MAIN, PROTO_TRELLIS_LOCAL),
  }));
  try {
    const answers = await exchange(netns ?? null, ops);
    const err = firstError(ops, answers);
    if (err !== undefined) return err.message;
    const out: InstalledPeerRoute[] = [];
    for (const m of answers.flatMap((a) => a.messages)) {
      const r = decodeRoute(m);
      // The kernel filters by table and protocol (strict checking); check again for kernels before 5.3.
      if (r === undefined || r.gateway === undefined || r.type !== RTN_UNICAST) continue;
      if (r.protocol !== PROTO_TRELLIS_LOCAL || r.table !== TABLE_MAIN) continue;
      out.push({ prefix: r.dst, via: r.gateway });
    }
    return out;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export class PeerRoutes {
  private last = "";
  /** Re-read the kernel at the next apply (start, resync, after a failure). */
  private stale = true;

  /** `netns`: act in this namespace (a path, e.g. /var/run/netns/X; tests). */
  constructor(
    private readonly log: Logger,
    private readonly netns?: string,
  ) {}

  /** The resync timer: the next apply reads the kernel again even if nothing changed. */
  markStale(): void {
    this.stale = true;
  }

  async apply(want: readonly PeerHostRoute[]): Promise<void> {
    const key = JSON.stringify(want.map((r) => [r.prefix, r.via]));
    if (!this.stale && key === this.last) return;
    const installed = await readPeerRoutes(this.netns);
    if (typeof installed === "string") {
      this.log.warn({ err: installed }, "reading the reachableBy routes failed; will retry");
      this.stale = true;
      return;
    }
    const plan = planPeerRoutes(installed, want);
    if (plan.length > 0) {
      const requests = plan.map(peerRouteRequest);
      const bad = requests.filter((r): r is string => typeof r === "string");
      const ops = requests.filter((r): r is Op => typeof r !== "string");
      // Every request is attempted (the kernel handles each message of the datagram);
      // each refusal is named.
      const errors = [...bad];
      try {
        const answers = await exchange(this.netns ?? null, ops);
        answers.forEach((a, i) => {
          if (a.errno !== 0) {
            const one = firstError([ops[i]!], [a]);
            if (one !== undefined) errors.push(one.message);
          }
        });
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e));
      }
      const changes = plan.map((o) => `${o.op} ${o.prefix} via ${o.via}`);
      if (errors.length > 0) {
        this.log.warn({ err: errors, changes }, "installing the reachableBy routes failed; will retry");
        this.stale = true;
        return;
      }
      this.log.info({ changes }, "reachableBy routes to BGP peers updated");
    }
    this.last = key;
    this.stale = false;
  }
}
