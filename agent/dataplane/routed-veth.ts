/**
 * The routed veth, planned as data (pure): which `ip -batch` lines run in the
 * node namespace, which sysctls are written for the host end, and which
 * `ip -batch` lines run inside the pod namespace. No bridge: the host end has
 * no address of its own; the pod reaches everything through
 *   - IPv4: a default route via 169.254.1.1, answered by proxy ARP on the
 *     host veth (RFC 1027), so the host's veth MAC is the next hop;
 *   - IPv6: a default route via the host veth's link-local address, which is
 *     fixed (the host veth MAC is ee:ee:ee:ee:ee:ee, so its EUI-64 link-local,
 *     RFC 4291 §2.5.1, is fe80::ecee:eeff:feee:eeee) and thus known before
 *     the link exists: the pod's commands need no read-back.
 * The node routes each pod address to its veth (/32, /128, proto trellis).
 *
 * Order matters for speed: the host end's accept_dad=0 must be written
 * before the pod end comes up, because the kernel creates the host's
 * link-local only when the veth gets carrier (both ends up); with DAD it
 * would stay "tentative" for about a second and IPv6 would not work yet.
 */
import { createHash } from "node:crypto";
import { PROTO_TRELLIS_LOCAL } from "../../net/route-ownership.js";
import { type VethOwner, ownerMarker } from "./veth-owner.js";

export const HOST_VETH_MAC = "ee:ee:ee:ee:ee:ee";
export const V4_GATEWAY = "169.254.1.1";
export const V6_GATEWAY = "fe80::ecee:eeff:feee:eeee";

export interface VethSpec {
  hostIf: string;
  podIf: string;
  /** Pod network namespace path (CNI_NETNS). */
  netns: string;
  mtu: number;
  podMac: string;
  /** Pod addresses, e.g. "10.244.0.5/32", "fd00::5/128". */
  addresses: readonly string[];
  /** The attachment the host veth belongs to, recorded in the kernel (veth-owner.ts). */
  owner?: VethOwner;
}

export interface VethPlan {
  host: string[];
  sysctls: [path: string, value: string][];
  pod: string[];
}

export function isV6(cidrOrIp: string): boolean {
  return cidrOrIp.includes(":");
}

/** The pod's addresses as host routes: always /32 and /128 (routed, no subnet). */
export function hostPrefix(address: string): string {
  const ip = address.split("/")[0] ?? address;
  return `${ip}/${isV6(ip) ? 128 : 32}`;
}

/**
 * A locally administered unicast MAC (0a:58:…) from a hash of the attachment:
 * known before IPAM answers, so the veth is created while IPAM allocates.
 */
export function podMac(seed: string): string {
  const h = createHash("sha1").update(seed).digest();
  return ["0a", "58", ...[0, 1, 2, 3].map((i) => h.readUInt8(i).toString(16).padStart(2, "0"))].join(":");
}

/** Host side, step 1 (needs no address, so it runs while IPAM allocates). */
export function planLink(s: Omit<VethSpec, "addresses">): string[] {
  return [
    // "up" here saves a netlink round trip; the host's IPv6 link-local still
    // waits for carrier, i.e. for the pod end, which comes up after the sysctls.
    `link add ${s.hostIf} mtu ${s.mtu} address ${HOST_VETH_MAC} up type veth peer name ${s.podIf} mtu ${s.mtu} address ${s.podMac} netns ${s.netns}`,
  ];
}

/**
 * Host side, step 2 begins with the owner marker (veth-owner.ts): the kernel
 * ignores IFLA_IFALIAS on `link add`, so it is its own line, sent only once
 * the add succeeded (sent with it, under -force, it would relabel a stale
 * veth that made the add fail).
 */
export function planOwnerMarker(hostIf: string, owner: VethOwner | undefined): string[] {
  const m = owner !== undefined ? ownerMarker(owner) : undefined;
  return m !== undefined ? [`link set dev ${hostIf} alias ${m}`] : [];
}

/** Host side, step 2: one route per pod address (proto trellis). */
export function planHostRoutes(hostIf: string, addresses: readonly string[]): string[] {
  return addresses.map(
    (a) =>
      `route replace ${hostPrefix(a)} dev ${hostIf} proto ${PROTO_TRELLIS_LOCAL}${isV6(a) ? "" : " scope link"}`,
  );
}

/** The host veth's sysctls, written before the pod end comes up (see above). */
export function planSysctls(hostIf: string): [path: string, value: string][] {
  const conf4 = `/proc/sys/net/ipv4/conf/${hostIf}`;
  const conf6 = `/proc/sys/net/ipv6/conf/${hostIf}`;
  return [
    // Answer ARP for 169.254.1.1 (any address the node can route) with our MAC.
    [`${conf4}/proxy_arp`, "1"],
    // Reply at once: the default proxy_delay holds replies up to 0.8 s.
    [`/proc/sys/net/ipv4/neigh/${hostIf}/proxy_delay`, "0"],
    // A strict reverse-path filter inherited from "default" must not drop pod traffic.
    [`${conf4}/rp_filter`, "0"],
    [`${conf6}/accept_dad`, "0"],
    // No proxy_ndp: the pod's IPv6 gateway is this veth's own link-local
    // address, which the kernel answers for anyway (proxy_ndp only serves
    // entries of the proxy neighbour table), and writing it takes RTNL with
    // trylock-and-restart, which spins while a burst of ADDs holds RTNL.
    // Never take a router advertisement from a pod.
    [`${conf6}/accept_ra`, "0"],
  ];
}

/** Pod side: addresses (/32, /128 without DAD), link up, default routes. */
export function planPod(s: VethSpec): string[] {
  const pod: string[] = [];
  for (const a of s.addresses) {
    pod.push(
      isV6(a) ? `addr add ${hostPrefix(a)} dev ${s.podIf} nodad` : `addr add ${hostPrefix(a)} dev ${s.podIf}`,
    );
  }
  pod.push(`link set ${s.podIf} up`);
  if (s.addresses.some((a) => !isV6(a))) {
    // "onlink": 169.254.1.1 is on the link without a route to it (one
    // netlink call instead of a scope-link route plus the default).
    pod.push(`route add default via ${V4_GATEWAY} dev ${s.podIf} onlink`);
  }
  if (s.addresses.some((a) => isV6(a))) {
    pod.push(`route add ::/0 via ${V6_GATEWAY} dev ${s.podIf}`);
  }
  return pod;
}

export function planAdd(s: VethSpec): VethPlan {
  return {
    host: [...planLink(s), ...planOwnerMarker(s.hostIf, s.owner), ...planHostRoutes(s.hostIf, s.addresses)],
    sysctls: planSysctls(s.hostIf),
    pod: planPod(s),
  };
}

/**
 * How to run `ip` inside a pod namespace: `ip -n NAME` when the path is a
 * named namespace (one exec, measured ~1.5 ms), else `nsenter --net=PATH ip`
 * (two execs, ~5 ms here).
 */
export function podIpArgs(netns: string): { file: "ip" | "nsenter"; args: string[] } {
  const m = /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(netns);
  if (m !== null && m[1] !== undefined && m[1] !== "." && m[1] !== "..")
    return { file: "ip", args: ["-n", m[1]] };
  return { file: "nsenter", args: [`--net=${netns}`, "ip"] };
}

/** The routes the pod gets, in CNI result form. */
export function podRoutes(addresses: readonly string[]): { dst: string; gw: string }[] {
  const out: { dst: string; gw: string }[] = [];
  if (addresses.some((a) => !isV6(a))) out.push({ dst: "0.0.0.0/0", gw: V4_GATEWAY });
  if (addresses.some((a) => isV6(a))) out.push({ dst: "::/0", gw: V6_GATEWAY });
  return out;
}
