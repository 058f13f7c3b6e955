/**
 * The stand-in "containers": for every declared containerPort, one TCP and one
 * UDP listener inside the pod namespace that answers with `<namespace>/<name>`.
 * socat keeps them cheap (a Node.js process per pod would cost ~40 MB).
 */
import { inNetns } from "../netns.js";

export interface ListenerSpec {
  port: number;
  protocol: "TCP" | "UDP";
  argv: string[];
}

/** Distinct declared port numbers over all containers, ascending. */
export function declaredPorts(
  containers: readonly { ports?: readonly { containerPort: number }[] }[],
): number[] {
  const s = new Set<number>();
  for (const c of containers) for (const p of c.ports ?? []) s.add(p.containerPort);
  return [...s].sort((a, b) => a - b);
}

/**
 * IPv6 sockets with ipv6only=0 accept IPv4 too, so one listener serves a
 * dual-stack pod. TCP forks a child per connection; UDP-RECVFROM forks a
 * child per datagram that replies to its sender.
 */
export function listenerSpecs(podNetns: string, reply: string, ports: readonly number[]): ListenerSpec[] {
  if (!/^[A-Za-z0-9./_-]+$/.test(reply))
    throw new RangeError(`reply ${JSON.stringify(reply)} is not a pod name`);
  const answer = `EXEC:/bin/echo ${reply}`;
  return ports.flatMap((port) => [
    {
      port,
      protocol: "TCP" as const,
      argv: [...inNetns(podNetns), "socat", `TCP6-LISTEN:${port},ipv6only=0,fork,reuseaddr`, answer],
    },
    {
      port,
      protocol: "UDP" as const,
      argv: [...inNetns(podNetns), "socat", `UDP6-RECVFROM:${port},ipv6only=0,fork`, answer],
    },
  ]);
}
