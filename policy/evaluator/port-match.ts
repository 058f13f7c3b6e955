/**
 * Port clauses against a connection's destination port and protocol. Named
 * ports resolve on the destination pod: "If this is a string, it will be
 * looked up as a named port on the ... pod" (NetworkPolicyPort.port), so the
 * same policy may mean different numbers on different pods, and nothing when
 * the destination is not a pod.
 */
import type { PodInfo, PortMatch } from "../model/cluster.js";
import type { Protocol } from "../model/objects.js";

/**
 * A connection's protocol: a NetworkPolicy/admin port protocol, or ICMP (echo
 * over ICMP or ICMPv6, by family), which no port clause can name.
 */
export type ConnProtocol = Protocol | "ICMP";

export function portMatches(
  pm: PortMatch,
  port: number,
  protocol: ConnProtocol,
  dest: PodInfo | undefined,
): boolean {
  if (pm.name !== undefined) {
    if (!dest) return false;
    return dest.ports.some(
      (cp) =>
        cp.name === pm.name &&
        cp.port === port &&
        cp.protocol === protocol &&
        // NetworkPolicy names a protocol (default TCP) that must agree with
        // the container port's; the admin APIs take the container port's.
        (pm.protocol === undefined || pm.protocol === protocol),
    );
  }
  if (pm.protocol !== undefined && pm.protocol !== protocol) return false;
  // "If this field is not provided, this matches all port names and numbers."
  if (pm.port === undefined) return true;
  // "endPort indicates that the range of ports from port to endPort if set,
  // inclusive, should be allowed by the policy."
  return port >= pm.port && port <= (pm.endPort ?? pm.port);
}

export function portsMatch(
  ports: readonly PortMatch[] | null,
  port: number,
  protocol: ConnProtocol,
  dest: PodInfo | undefined,
): boolean {
  // NetworkPolicyPort.protocol is "TCP, UDP, or SCTP", defaulting to TCP, and
  // the admin APIs' ports are TCP/UDP/SCTP too: a rule with ports never
  // matches ICMP; only a rule without ports ("matches all ports", i.e. all
  // traffic) does. So an isolated pod answers pings only when a rule with no
  // ports admits the peer (upstream: isolation admits only what rules allow).
  if (protocol === "ICMP") return ports === null;
  // "If this field is empty or missing, this rule matches all ports"; several
  // entries are ORed ("traffic must match at least one port in the list").
  return ports === null || ports.some((pm) => portMatches(pm, port, protocol, dest));
}
