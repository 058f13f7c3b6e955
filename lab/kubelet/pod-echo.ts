#!/usr/bin/env node
/**
 * The stand-in "container" of a lab pod, run inside the pod's network
 * namespace: on every given port, a TCP and a UDP listener that answer with
 * the pod's `<namespace>/<name>` and a newline. Prints `ready` on stdout once
 * every socket is bound, so the kubelet reports Running only when they are.
 *
 * One process per pod rather than socat per port: socat's UDP-RECVFROM,fork
 * lets a child read the shared socket and swallow datagrams meant for other
 * peers, so concurrent UDP probes lose replies.
 *   node pod-echo.js --reply NS/NAME --port P [--port P]...
 */
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { parseArgs } from "node:util";

function listenTcp(port: number, reply: string, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => {
      c.on("error", () => undefined);
      c.end(reply);
    });
    // Before the bind an error fails the listener; after it (an accept that
    // failed, EMFILE say: libuv then sheds the connection itself) it is told
    // and the listener stays, rather than a second one killing the pod.
    s.on("error", (e) =>
      s.listening ? process.stderr.write(`pod-echo: tcp ${port}: ${e.message}\n`) : reject(e),
    );
    s.listen({ port, host, ipv6Only: false }, () => resolve(s));
  });
}

function listenUdp(port: number, reply: string, v6: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: v6 ? "udp6" : "udp4", ipv6Only: false });
    s.on("message", (_msg, peer) => s.send(reply, peer.port, peer.address));
    let bound = false;
    // As for TCP: a send that fails after the bind is told, not fatal.
    s.on("error", (e) => (bound ? process.stderr.write(`pod-echo: udp ${port}: ${e.message}\n`) : reject(e)));
    s.bind(port, v6 ? "::" : "0.0.0.0", () => {
      bound = true;
      resolve(s);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { reply: { type: "string" }, port: { type: "string", multiple: true } },
    strict: true,
  });
  const reply = `${values.reply ?? "unknown"}\n`;
  const ports = (values.port ?? []).map((p) => Number(p));
  if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
    throw new Error(`bad port in ${values.port}`);
  for (const port of ports) {
    // Dual-stack sockets when the namespace has IPv6, IPv4 only otherwise.
    try {
      await listenTcp(port, reply, "::");
      await listenUdp(port, reply, true);
    } catch {
      await listenTcp(port, reply, "0.0.0.0");
      await listenUdp(port, reply, false);
    }
  }
  process.stdout.write("ready\n");
  process.stdout.on("error", () => undefined);
}

process.on("SIGTERM", () => process.exit(0));
main().catch((e: unknown) => {
  process.stderr.write(`pod-echo: ${(e as Error).message}\n`);
  process.exit(1);
});
