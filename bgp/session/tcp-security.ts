/**
 * TCP protection of a BGP session: RFC 2385 MD5 signatures (`password`) and
 * RFC 5082 GTSM (`ttlSecurity`: the peer is at most that many hops away, so
 * we send with TTL 255 and accept nothing that arrives below 256 - hops).
 * The socket options themselves are net/sockopt's (a native addon); this file
 * only says which to set, and how to explain a session they keep down.
 */
import type { Socket } from "node:net";
import {
  DEFAULT_TTL,
  GTSM_TTL,
  applyTcpSecurity,
  fdOf,
  type TcpSecurity,
} from "../../net/sockopt/sockopt.js";

export interface SessionSecurity {
  /** RFC 2385 shared key (the text's UTF-8 bytes, 1..80). */
  password?: string;
  /** RFC 5082: hops to the peer (1 = directly connected). */
  ttlSecurity?: number;
}

export function hasSecurity(s: SessionSecurity): boolean {
  return s.password !== undefined || s.ttlSecurity !== undefined;
}

/** RFC 5082 §3: the lowest TTL a packet from a peer `hops` away can arrive with. */
export function gtsmMinTtl(hops: number): number {
  return 256 - hops;
}

/** The socket options for a connection to or from the peer. */
export function tcpSecurity(s: SessionSecurity): TcpSecurity {
  const t: TcpSecurity = {};
  if (s.password !== undefined) t.md5Key = Buffer.from(s.password, "utf8");
  if (s.ttlSecurity !== undefined) {
    t.ttl = GTSM_TTL;
    t.minTtl = gtsmMinTtl(s.ttlSecurity);
  }
  return t;
}

/**
 * Why an outgoing connection got no answer at all before ConnectRetry ran
 * out. With MD5 or GTSM the kernel drops what fails the check without a word
 * (no RST, no ICMP), so silence is their signature; the peer being down or
 * unreachable looks the same, hence "suspected".
 */
export function unansweredText(s: SessionSecurity): string {
  const why: string[] = [];
  if (s.password !== undefined) why.push("MD5 signature mismatch suspected");
  if (s.ttlSecurity !== undefined)
    why.push(`TTL security suspected: packets arriving with TTL < ${gtsmMinTtl(s.ttlSecurity)} are dropped`);
  return `no TCP connection: ${why.join("; ")} (peer does not answer)`;
}

/** Connected, but no OPEN ever arrives: what GTSM drops once a non-GTSM peer sends with its low TTL. */
export function silentAfterConnectText(hops: number): string {
  return `TCP connected but no OPEN arrives: TTL security suspected: packets arriving with TTL < ${gtsmMinTtl(hops)} are dropped`;
}

/** An accepted connection of a peer without GTSM, from a listener that sends with TTL 255: the system default again. */
export function restoreDefaultTtl(sock: Socket): void {
  try {
    applyTcpSecurity(fdOf(sock), "", { ttl: DEFAULT_TTL });
  } catch {
    // Best effort: a TTL of 255 towards a peer that does not check it is harmless.
  }
}
