/**
 * The kernel facts the pure parts of agent/bgp need, read by rtnetlink
 * (net/netlink, no process: a BGP sync follows every IPAMBlock change, i.e.
 * every pod ADD and DEL, and forking the agent for `ip -j` blocked its event
 * loop for milliseconds each time, in the middle of the next ADD):
 * interfaces and their addresses (address detection), the source address
 * toward an IP (`can-reach=`), and the underlay routes (next-hop resolution:
 * main table, neither ours — proto 201/202 — nor blackholes).
 */
import { parseAddress } from "../../net/address.js";
import { apply, exchange } from "../../net/netlink/netlink.js";
import {
  RTN_UNICAST,
  decodeAddr,
  decodeLink,
  decodeRoute,
  dumpAddrs,
  dumpLinks,
  dumpRoutes,
  getRoute,
} from "../../net/netlink/rtnetlink.js";
import { PROTO_TRELLIS_BGP, PROTO_TRELLIS_LOCAL, TABLE_MAIN } from "../../net/route-ownership.js";
import type { InterfaceFacts } from "./address-detection.js";
import type { UnderlayRoute } from "./next-hop-resolution.js";

/** Every interface of the agent's namespace with its addresses, in the kernel's order (as `ip addr show`). */
export async function readInterfaces(): Promise<InterfaceFacts[]> {
  const [links, v4, v6] = await apply(null, [
    { what: "list links", req: dumpLinks() },
    { what: "list IPv4 addresses", req: dumpAddrs(4, 0) },
    { what: "list IPv6 addresses", req: dumpAddrs(6, 0) },
  ]);
  const byIndex = new Map<number, InterfaceFacts>();
  for (const l of links?.messages.map(decodeLink) ?? []) {
    if (l !== undefined) byIndex.set(l.index, { name: l.name, addresses: [] });
  }
  for (const a of [...(v4?.messages ?? []), ...(v6?.messages ?? [])].map(decodeAddr)) {
    if (a !== undefined) byIndex.get(a.index)?.addresses.push(a.address);
  }
  return [...byIndex.values()];
}

/** The source address the kernel would use toward `ip` (undefined when unreachable). */
export async function sourceFor(ip: string): Promise<string | undefined> {
  const dst = parseAddress(ip);
  if (typeof dst === "string") return undefined;
  try {
    const [a] = await exchange(null, [{ what: `route to ${ip}`, req: getRoute(dst) }]);
    if (a === undefined || a.errno !== 0) return undefined;
    return a.messages.map(decodeRoute).find((r) => r !== undefined)?.prefsrc;
  } catch {
    return undefined;
  }
}

// Netlink gives the protocol as its number, whatever name rt_protos.d gives it.
const NOT_OURS = new Set([PROTO_TRELLIS_LOCAL, PROTO_TRELLIS_BGP]);

export async function readUnderlayRoutes(): Promise<UnderlayRoute[]> {
  const answers = await apply(
    null,
    ([4, 6] as const).map((f) => ({ what: `list IPv${f} routes`, req: dumpRoutes(f, TABLE_MAIN) })),
  );
  const out: UnderlayRoute[] = [];
  for (const r of answers.flatMap((a) => a.messages.map(decodeRoute))) {
    if (r === undefined || r.table !== TABLE_MAIN || r.type !== RTN_UNICAST || NOT_OURS.has(r.protocol))
      continue;
    out.push(r.gateway !== undefined ? { prefix: r.dst, via: r.gateway } : { prefix: r.dst });
  }
  return out;
}
