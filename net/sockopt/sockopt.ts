/**
 * The socket options Node.js cannot set (TCP MD5, TTL, minimum TTL, the TTL
 * of a received datagram), through our Node-API addon `trellis_sockopt`
 * (sockopt.c, built by scripts/build-native next to this file in dist/).
 *
 * The addon is loaded on first use, so code that never asks for these options
 * runs on a machine where it was not built.
 */
import { addonLoader } from "../native-addon.js";
import { isIPv4, isIPv6, Socket, type Server } from "node:net";

/** An opaque handle from watch(). */
export type WatchHandle = { readonly __watch: unique symbol };

export interface SockoptAddon {
  tcpSocket(family: 4 | 6): number;
  udpSocket(family: 4 | 6): number;
  bind(fd: number, address: string, port: number): void;
  closeFd(fd: number): void;
  setMd5Key(fd: number, peer: string, key: Buffer): void;
  setTtl(fd: number, ttl: number): void;
  setMinTtl(fd: number, ttl: number): void;
  getSockInt(fd: number, name: "ttl" | "minttl" | "hops" | "minhops"): number;
  setRecvTtl(fd: number): void;
  recvFrom(fd: number, buf: Buffer): { length: number; address: string; port: number; ttl: number } | null;
  sendTo(fd: number, buf: Buffer, address: string, port: number): number;
  sockName(fd: number): { address: string; port: number };
  saveSyn(fd: number): void;
  /** Call `cb` on the main thread whenever fd is readable, until unwatch(). */
  watch(fd: number, cb: () => void): WatchHandle;
  unwatch(h: WatchHandle): void;
  synTtl(fd: number): number;
}

/** RFC 2385 / Linux TCP_MD5SIG_MAXKEYLEN. */
export const MD5_MAX_KEY_LEN = 80;
/** RFC 5082: GTSM peers send with the highest TTL. */
export const GTSM_TTL = 255;
/** setTtl(fd, DEFAULT_TTL): back to the system's default TTL / hop limit (ip(7), ipv6(7)). */
export const DEFAULT_TTL = -1;

/** The addon; throws TRELLIS_ENOSOCKOPT (with the loader's reason) when it was not built. */
export const sockopt = addonLoader<SockoptAddon>(import.meta.url, "trellis_sockopt", "TRELLIS_ENOSOCKOPT");

/** The file descriptor under a net.Socket or a listening net.Server (Node keeps it in `_handle.fd`). */
export function fdOf(s: Socket | Server): number {
  const fd = (s as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (typeof fd !== "number" || fd < 0)
    throw new Error("socket has no file descriptor (closed, or not a TCP socket)");
  return fd;
}

/** What a TCP session asks of its sockets (BGP: `password`, `ttlSecurity`). */
export interface TcpSecurity {
  /** RFC 2385 key (1..80 bytes). */
  md5Key?: Buffer;
  /** The TTL / hop limit we send with. */
  ttl?: number;
  /** The lowest TTL / hop limit we accept (RFC 5082: 256 - hops). */
  minTtl?: number;
}

export interface SecureConnectOptions extends TcpSecurity {
  host: string;
  port: number;
  localAddress?: string;
}

/**
 * An outgoing TCP connection whose MD5 key and TTLs are set before the SYN:
 * the socket is made in the addon (socket, setsockopt, bind), handed to Node
 * unconnected, and connected by Node's own non-blocking connect. Events are
 * those of net.connect(): "connect", "error", "close". Throws (synchronously)
 * when an option is refused; the fd is closed then.
 */
export function connectSecure(o: SecureConnectOptions): Socket {
  const a = sockopt();
  const family = isIPv6(o.host) ? 6 : 4;
  const fd = a.tcpSocket(family);
  let sock: Socket;
  try {
    applyTcpSecurity(fd, o.host, o);
    if (o.localAddress) a.bind(fd, o.localAddress, 0);
    sock = new Socket({ fd, readable: true, writable: true });
  } catch (e) {
    a.closeFd(fd);
    throw e;
  }
  // In this same tick, before the event loop polls the unconnected socket.
  sock.connect({ host: o.host, port: o.port });
  return sock;
}

/** Set what `sec` asks for on a socket to or from `peer` (a connection, or a listener for MD5 keys). */
export function applyTcpSecurity(fd: number, peer: string, sec: TcpSecurity): void {
  const a = sockopt();
  if (sec.md5Key !== undefined) a.setMd5Key(fd, peer, sec.md5Key);
  if (sec.ttl !== undefined) a.setTtl(fd, sec.ttl);
  if (sec.minTtl !== undefined) a.setMinTtl(fd, sec.minTtl);
}

/** Remove a peer's MD5 key from a listener; a key that was not there is no error. */
export function clearMd5Key(fd: number, peer: string): void {
  try {
    sockopt().setMd5Key(fd, peer, Buffer.alloc(0));
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw e;
  }
}

/** True for an address text the addon takes. */
export function isIpAddress(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}
