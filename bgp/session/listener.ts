/**
 * The passive side: a TCP listener that hands each accepted connection to the
 * peer configured for its source address. A connection from an address no
 * peer is configured for gets NOTIFICATION Cease / Connection Rejected
 * (RFC 4486 §4) and is closed.
 */
import { createServer, type Server, type Socket } from "node:net";
import {
  DEFAULT_TTL,
  GTSM_TTL,
  applyTcpSecurity,
  clearMd5Key,
  fdOf,
  sockopt,
} from "../../net/sockopt/sockopt.js";
import { CEASE_CONNECTION_REJECTED } from "../wire/errors.js";
import { rejectSocket } from "./peer.js";

export interface ListenerOptions {
  address: string;
  port: number;
  /** The peer for a remote address, or undefined to reject the connection. */
  route(remoteAddress: string, sock: Socket): boolean;
}

export class Listener {
  private readonly server: Server;
  private readonly open = new Set<Socket>();

  private constructor(private readonly opts: ListenerOptions) {
    this.server = createServer((sock) => this.accept(sock));
  }

  static async listen(opts: ListenerOptions): Promise<Listener> {
    const l = new Listener(opts);
    await new Promise<void>((resolve, reject) => {
      l.server.once("error", reject);
      // ipv6Only false: one listener on "::" also takes IPv4 peers (as ::ffff:a.b.c.d).
      l.server.listen({ host: opts.address, port: opts.port, ipv6Only: false }, () => {
        l.server.off("error", reject);
        resolve();
      });
    });
    return l;
  }

  get port(): number {
    const a = this.server.address();
    return a && typeof a === "object" ? a.port : this.opts.port;
  }

  /**
   * RFC 2385: the peer's MD5 key on the listening socket (undefined removes
   * it). The kernel then drops the peer's unsigned or mis-signed segments, and
   * accepted connections inherit the key. Throws when the key cannot be set.
   */
  setPeerKey(address: string, password: string | undefined): void {
    const fd = fdOf(this.server);
    if (password === undefined) clearMd5Key(fd, address);
    else applyTcpSecurity(fd, address, { md5Key: Buffer.from(password, "utf8") });
  }

  /**
   * RFC 5082 GTSM for some peer: the listener answers SYNs with TTL 255 (a
   * GTSM peer drops a SYN-ACK below its minimum). Off: the system default.
   */
  setGtsm(on: boolean): void {
    if (on === this.gtsm) return;
    const fd = fdOf(this.server);
    applyTcpSecurity(fd, "", { ttl: on ? GTSM_TTL : DEFAULT_TTL });
    // Keep each SYN, so that a GTSM peer's connection is judged by the TTL it arrived with.
    if (on) sockopt().saveSyn(fd);
    this.gtsm = on;
  }
  /** Whether the listener (and so each accepted connection, until told otherwise) sends with TTL 255. */
  gtsm = false;

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(sock: Socket): void {
    const raw = sock.remoteAddress ?? "";
    const remote = raw.startsWith("::ffff:") && raw.includes(".") ? raw.slice(7) : raw;
    sock.on("error", () => sock.destroy());
    this.open.add(sock);
    sock.once("close", () => this.open.delete(sock));
    if (!this.opts.route(remote, sock)) rejectSocket(sock, CEASE_CONNECTION_REJECTED);
  }
}
