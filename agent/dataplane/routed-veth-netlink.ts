/**
 * The routed veth of routed-veth.ts as rtnetlink requests (pure): the same
 * links, addresses, routes and settings as its `ip` plans, one netlink
 * message each, which dataplane.ts sends through net/netlink with no process
 * spawned. routed-veth.ts stays the statement of what a pod gets (its `ip`
 * lines are what an operator would type, and the CNI benchmark still times
 * them as the baseline); this file says how the agent asks the kernel.
 *
 * Host-end sysctls: planSysctls() lists them; the IPv4 ones have a netlink
 * form (IFLA_INET_CONF for proxy_arp and rp_filter, the ARP table's
 * per-device parameters for proxy_delay), the IPv6 ones (accept_dad,
 * accept_ra) have none the kernel accepts (inet6_set_link_af takes only the
 * token and addr_gen_mode), so those are written to /proc/sys/net.
 */
import { type Address, parseAddress } from "../../net/address.js";
import type { Op } from "../../net/netlink/netlink.js";
import {
  IFA_F_NODAD,
  IPV4_DEVCONF_PROXY_ARP,
  IPV4_DEVCONF_RP_FILTER,
  RTN_UNICAST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  getLink,
  macBytes,
  newAddr,
  newRoute,
  newVeth,
  setArpProxyDelay,
  setLink,
} from "../../net/netlink/rtnetlink.js";
import { PROTO_TRELLIS_LOCAL, TABLE_MAIN } from "../../net/route-ownership.js";
import {
  HOST_VETH_MAC,
  V4_GATEWAY,
  V6_GATEWAY,
  type VethSpec,
  hostPrefix,
  isV6,
  planSysctls,
} from "./routed-veth.js";
import { type VethOwner, ownerMarker } from "./veth-owner.js";

/** The host end's sysctls, split by how they reach the kernel. */
export interface HostSettings {
  /** IFLA_INET_CONF entries: [IPV4_DEVCONF_* index, value]. */
  inetConf: [index: number, value: number][];
  /** The ARP proxy_delay in milliseconds, if set. */
  proxyDelayMs?: number;
  /** What only /proc/sys/net can set. */
  proc: [path: string, value: string][];
}

const INET_CONF: Record<string, number> = {
  proxy_arp: IPV4_DEVCONF_PROXY_ARP,
  rp_filter: IPV4_DEVCONF_RP_FILTER,
};

/** planSysctls() of the host end, each by its cheapest way (netlink when the kernel takes it). */
export function hostSettings(hostIf: string): HostSettings {
  const out: HostSettings = { inetConf: [], proc: [] };
  // A prefix test, not a RegExp built from the interface name per call: this
  // runs twice in every ADD.
  const conf4 = `/proc/sys/net/ipv4/conf/${hostIf}/`;
  for (const [path, value] of planSysctls(hostIf)) {
    const key = path.startsWith(conf4) ? path.slice(conf4.length) : undefined;
    const index = key !== undefined && Object.hasOwn(INET_CONF, key) ? INET_CONF[key] : undefined;
    if (index !== undefined) {
      out.inetConf.push([index, Number(value)]);
    } else if (path === `/proc/sys/net/ipv4/neigh/${hostIf}/proxy_delay`) {
      // The file counts USER_HZ ticks, netlink milliseconds; 0 is 0 in both.
      if (value !== "0") out.proc.push([path, value]);
      else out.proxyDelayMs = 0;
    } else {
      out.proc.push([path, value]);
    }
  }
  return out;
}

/** Address text (with or without /len) to net/address.ts form; the plans only see addresses IPAM made. */
function addr(text: string): Address {
  const a = parseAddress(text.split("/")[0] ?? text);
  if (typeof a === "string") throw new Error(`routed veth: ${a}`);
  return a;
}

function mac(text: string): Buffer {
  const m = macBytes(text);
  if (typeof m === "string") throw new Error(`routed veth: ${m}`);
  return m;
}

/** Step 1 of ADD: the pair, the peer created straight in the pod's namespace (open as `netnsFd`), host end up. */
export function linkOps(s: Omit<VethSpec, "addresses">, netnsFd: number): Op[] {
  return [
    {
      what: `create veth ${s.hostIf} (peer ${s.podIf} in ${s.netns})`,
      req: newVeth({
        name: s.hostIf,
        mtu: s.mtu,
        mac: mac(HOST_VETH_MAC),
        up: true,
        peer: { name: s.podIf, mtu: s.mtu, mac: mac(s.podMac), netnsFd },
      }),
    },
  ];
}

/**
 * Step 2's first stage (dataplane.ts configure, one chain): the owner marker
 * (veth-owner.ts; sent only now that the add succeeded, as routed-veth.ts
 * planOwnerMarker says) and the IPv4 devconf in one RTM_NEWLINK, then the
 * link read back for its index (routes and the ARP parameters name the link
 * by index).
 */
export function hostConfigOps(hostIf: string, owner: VethOwner | undefined): Op[] {
  const alias = owner !== undefined ? ownerMarker(owner) : undefined;
  return [
    {
      what: `configure ${hostIf}`,
      req: setLink(hostIf, {
        ...(alias !== undefined ? { alias } : {}),
        inetConf: hostSettings(hostIf).inetConf,
      }),
    },
    { what: `read ${hostIf}`, req: getLink(hostIf) },
  ];
}

/** Step 2's last stage: proxy_delay and one route per pod address (proto 201, main table), by the host end's index (or its chain slot). */
export function hostRouteOps(hostIf: string, index: number, addresses: readonly string[]): Op[] {
  const ops: Op[] = [];
  const delay = hostSettings(hostIf).proxyDelayMs;
  if (delay !== undefined)
    ops.push({ what: `set proxy_delay on ${hostIf}`, req: setArpProxyDelay(index, delay) });
  for (const a of addresses) {
    const dst = addr(a);
    ops.push({
      what: `route ${hostPrefix(a)} dev ${hostIf}`,
      // `route replace … proto 201` (+ `scope link` for IPv4), as planHostRoutes.
      req: newRoute(
        {
          dst,
          dstLen: dst.family === 4 ? 32 : 128,
          table: TABLE_MAIN,
          protocol: PROTO_TRELLIS_LOCAL,
          scope: isV6(a) ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
          type: RTN_UNICAST,
          oif: index,
        },
        true,
      ),
    });
  }
  return ops;
}

/** Step 2, pod side: the pod interface's index. */
export function podLookupOps(podIf: string): Op[] {
  return [{ what: `read ${podIf}`, req: getLink(podIf) }];
}

/**
 * Step 2, pod side, by that index (or its chain slot) (planPod): /32 and /128 (no DAD), link up, the
 * default routes (IPv4 onlink via 169.254.1.1, IPv6 via the host veth's
 * fixed link-local). RTPROT_BOOT, as `ip route add` gives them.
 */
export function podOps(s: Pick<VethSpec, "podIf" | "addresses">, index: number): Op[] {
  const ops: Op[] = [];
  for (const a of s.addresses) {
    const ip = addr(a);
    ops.push({
      what: `add address ${hostPrefix(a)} on ${s.podIf}`,
      req: newAddr(index, ip, ip.family === 4 ? 32 : 128, ip.family === 6 ? IFA_F_NODAD : 0),
    });
  }
  ops.push({ what: `set ${s.podIf} up`, req: setLink(s.podIf, { up: true }) });
  const route = (gw: string): Op => {
    const g = addr(gw);
    return {
      what: `default route via ${gw} dev ${s.podIf}`,
      req: newRoute(
        {
          dst: { family: g.family, value: 0n },
          dstLen: 0,
          table: TABLE_MAIN,
          protocol: RTPROT_BOOT,
          scope: RT_SCOPE_UNIVERSE,
          type: RTN_UNICAST,
          oif: index,
          gateway: g,
          onlink: g.family === 4,
        },
        false,
      ),
    };
  };
  if (s.addresses.some((a) => !isV6(a))) ops.push(route(V4_GATEWAY));
  if (s.addresses.some((a) => isV6(a))) ops.push(route(V6_GATEWAY));
  return ops;
}

/** rtnetlink.h: routes added by an administrator (`ip route add`'s default). */
const RTPROT_BOOT = 3;
