/**
 * Counts the pod routes this agent installed (proto 201, main table, both
 * families; blackholes for affine blocks and the gatewayed BGPPeer
 * `reachableBy` routes of agent/bgp/peer-routes.ts left out) with two
 * RTM_GETROUTE dumps by rtnetlink (net/netlink: no process). Run on the status
 * interval only, never on an event path.
 */
import { exchange, firstError } from "../../net/netlink/netlink.js";
import { RTN_UNICAST, decodeRoute, dumpRoutes } from "../../net/netlink/rtnetlink.js";
import { PROTO_TRELLIS_LOCAL, TABLE_MAIN } from "../../net/route-ownership.js";

/** undefined when the kernel could not be read (the count is left out of the status). `netns`: a namespace path (tests). */
export async function countLocalRoutes(netns?: string): Promise<number | undefined> {
  const ops = ([4, 6] as const).map((f) => ({
    what: `list IPv${f} proto ${PROTO_TRELLIS_LOCAL} routes`,
    req: dumpRoutes(f, TABLE_MAIN, PROTO_TRELLIS_LOCAL),
  }));
  try {
    const answers = await exchange(netns ?? null, ops);
    if (firstError(ops, answers) !== undefined) return undefined;
    let n = 0;
    for (const m of answers.flatMap((a) => a.messages)) {
      const r = decodeRoute(m);
      // The kernel filters by table and protocol (strict checking); check again for kernels before 5.3.
      if (r === undefined || r.protocol !== PROTO_TRELLIS_LOCAL || r.table !== TABLE_MAIN) continue;
      if (r.type === RTN_UNICAST && r.gateway === undefined) n++;
    }
    return n;
  } catch {
    return undefined;
  }
}
