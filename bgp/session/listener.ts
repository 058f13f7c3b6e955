/**
 * The passive side: a TCP listener that hands each accepted connection to the
 * peer configured for its source address. A connection from an address no
 * peer is configured for gets NOTIFICATION Cease / Connection Rejected
 * (RFC 4486 §4) and is closed.
 */
import { createServer, type Server, type Socket } from "node:net";
import { CEASE_CONNECTION_REJECTED } from "./fsm.js";
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
