// The native addon on its own, over loopback: each option set and read back,
// MD5 keys that match connect and keys that differ never do, bad arguments
// throw errno-coded errors, and UDP datagrams come with their TTL.
import { describe, it, expect } from "@jest/globals";
import { createServer, type Server, type Socket } from "node:net";
import { applyTcpSecurity, clearMd5Key, connectSecure, fdOf, sockopt } from "../sockopt.js";

function listen(host: string): Promise<Server> {
  const srv = createServer((s) => s.on("data", (d) => s.end(d)));
  return new Promise((res) => srv.listen({ host, port: 0, ipv6Only: false }, () => res(srv)));
}
const portOf = (srv: Server): number => (srv.address() as { port: number }).port;

/** Resolves "connected" (after an echo) or "no answer" after ms. */
function tryConnect(sock: Socket, ms: number): Promise<string> {
  return new Promise((res) => {
    const t = setTimeout(() => {
      sock.destroy();
      res("no answer");
    }, ms);
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      res(`error ${e.code}`);
    });
    sock.once("connect", () => sock.write("ping"));
    sock.once("data", (d) => {
      clearTimeout(t);
      sock.destroy();
      res(d.toString() === "ping" ? "connected" : "garbled");
    });
  });
}

describe("net/sockopt native addon", () => {
  it("TTL and minimum TTL are set and read back (IPv4 and IPv6 sockets)", () => {
    const a = sockopt();
    for (const fam of [4, 6] as const) {
      const fd = a.tcpSocket(fam);
      try {
        a.setTtl(fd, 255);
        a.setMinTtl(fd, 254);
        expect(a.getSockInt(fd, "ttl")).toBe(255);
        expect(a.getSockInt(fd, "minttl")).toBe(254);
        a.setTtl(fd, -1); // back to the system default
        expect(a.getSockInt(fd, "ttl")).toBe(64);
        a.setTtl(fd, 255);
        if (fam === 6) {
          expect(a.getSockInt(fd, "hops")).toBe(255);
          expect(a.getSockInt(fd, "minhops")).toBe(254);
        }
      } finally {
        a.closeFd(fd);
      }
    }
  });

  it("bad arguments throw, errno-coded where the kernel refused", () => {
    const a = sockopt();
    const fd = a.tcpSocket(4);
    try {
      expect(() => a.setTtl(fd, 0)).toThrow(/ttl: 1\.\.255 \| -1/);
      expect(() => a.setTtl(fd, 256)).toThrow(/ttl: 1\.\.255 \| -1/);
      expect(() => a.setMd5Key(fd, "10.0.0.1", Buffer.alloc(81))).toThrow(
        expect.objectContaining({ code: "EMSGSIZE" }),
      );
      // an IPv6 peer on an IPv4 socket
      expect(() => a.setMd5Key(fd, "2001:db8::1", Buffer.from("k"))).toThrow(
        expect.objectContaining({ code: "EAFNOSUPPORT" }),
      );
      expect(() => a.setMd5Key(fd, "not-an-address", Buffer.from("k"))).toThrow(
        expect.objectContaining({ code: "EAFNOSUPPORT" }),
      );
      // removing a key that is not there: ENOENT from the kernel, tolerated by clearMd5Key
      expect(() => a.setMd5Key(fd, "10.0.0.9", Buffer.alloc(0))).toThrow(
        expect.objectContaining({ code: "ENOENT" }),
      );
      expect(() => clearMd5Key(fd, "10.0.0.9")).not.toThrow();
    } finally {
      a.closeFd(fd);
    }
    expect(() => a.setTtl(999_999, 64)).toThrow(expect.objectContaining({ code: "EBADF" }));
  });

  for (const [name, host] of [
    ["IPv4", "127.0.0.1"],
    ["IPv6", "::1"],
    ["IPv4 on a dual-stack listener", "::"],
  ] as const) {
    it(`TCP MD5 (${name}): the same key connects, another key or none never does`, async () => {
      const srv = await listen(host);
      const peer = host === "::1" ? "::1" : "127.0.0.1";
      try {
        applyTcpSecurity(fdOf(srv), peer, { md5Key: Buffer.from("s3cret") });
        const dial = (key?: string): Socket =>
          connectSecure({
            host: peer,
            port: portOf(srv),
            ...(key === undefined ? {} : { md5Key: Buffer.from(key) }),
          });
        expect(await tryConnect(dial("s3cret"), 3000)).toBe("connected");
        expect(await tryConnect(dial("wrong"), 1500)).toBe("no answer");
        expect(await tryConnect(dial(), 1500)).toBe("no answer");
        clearMd5Key(fdOf(srv), peer);
        expect(await tryConnect(dial(), 3000)).toBe("connected");
      } finally {
        srv.close();
      }
    });
  }

  it("connectSecure binds the local address and sets TTLs before connecting", async () => {
    const srv = await listen("127.0.0.1");
    try {
      const sock = connectSecure({
        host: "127.0.0.1",
        port: portOf(srv),
        localAddress: "127.0.0.2",
        ttl: 255,
      });
      expect(sockopt().getSockInt(fdOf(sock), "ttl")).toBe(255);
      await new Promise((r) => sock.once("connect", r));
      expect(sock.localAddress).toBe("127.0.0.2");
      sock.destroy();
    } finally {
      srv.close();
    }
  });

  it("minimum TTL (GTSM): a peer sending with TTL 64 is not heard, one sending with 255 is", async () => {
    const srv = await listen("127.0.0.1");
    try {
      const dial = (): Socket =>
        connectSecure({ host: "127.0.0.1", port: portOf(srv), ttl: 255, minTtl: 255 });
      // The listener answers with the default TTL (64): its SYN-ACK is dropped.
      expect(await tryConnect(dial(), 1500)).toBe("no answer");
      applyTcpSecurity(fdOf(srv), "127.0.0.1", { ttl: 255 });
      expect(await tryConnect(dial(), 3000)).toBe("connected");
    } finally {
      srv.close();
    }
  });

  it("a listener that saves SYNs tells the TTL each accepted connection arrived with", async () => {
    const accepted: Socket[] = [];
    const srv = createServer((s) => accepted.push(s));
    await new Promise<void>((res) => srv.listen({ host: "127.0.0.1", port: 0 }, () => res()));
    try {
      sockopt().saveSyn(fdOf(srv));
      for (const ttl of [255, 7]) {
        const c = connectSecure({ host: "127.0.0.1", port: portOf(srv), ttl });
        await until(() => accepted.length > 0, 3000);
        const s = accepted.shift()!;
        expect(sockopt().synTtl(fdOf(s))).toBe(ttl);
        // handed out once
        expect(sockopt().synTtl(fdOf(s))).toBe(-1);
        s.destroy();
        c.destroy();
      }
    } finally {
      srv.close();
    }
  });

  it("watch() calls back when a datagram waits, until unwatch()", async () => {
    const a = sockopt();
    const rx = a.udpSocket(4);
    const tx = a.udpSocket(4);
    a.bind(rx, "127.0.0.1", 0);
    const port = a.sockName(rx).port;
    const got: string[] = [];
    const buf = Buffer.alloc(16);
    const h = a.watch(rx, () => {
      for (let r = a.recvFrom(rx, buf); r; r = a.recvFrom(rx, buf))
        got.push(buf.subarray(0, r.length).toString());
    });
    try {
      a.sendTo(tx, Buffer.from("one"), "127.0.0.1", port);
      a.sendTo(tx, Buffer.from("two"), "127.0.0.1", port);
      await until(() => got.length === 2, 2000);
      expect(got).toEqual(["one", "two"]);
    } finally {
      a.unwatch(h);
      a.unwatch(h); // a second call is a no-op
      a.closeFd(rx);
      a.closeFd(tx);
    }
  });

  it("a connection refused is an ordinary socket error", async () => {
    const srv = await listen("127.0.0.1");
    const port = portOf(srv);
    await new Promise((r) => srv.close(r));
    expect(await tryConnect(connectSecure({ host: "127.0.0.1", port }), 3000)).toBe("error ECONNREFUSED");
  });

  it("UDP: recvFrom returns the datagram with its TTL (IPv4 and IPv6), null when none waits", async () => {
    const a = sockopt();
    for (const [fam, addr, opt] of [
      [4, "127.0.0.1", "ttl"],
      [6, "::1", "hops"],
    ] as const) {
      const rx = a.udpSocket(fam);
      const tx = a.udpSocket(fam);
      try {
        a.bind(rx, addr, 0);
        a.setRecvTtl(rx);
        a.setTtl(tx, 255);
        expect(a.getSockInt(tx, opt)).toBe(255);
        const buf = Buffer.alloc(64);
        expect(a.recvFrom(rx, buf)).toBeNull();
        a.setTtl(tx, 200);
        const rxPort = a.sockName(rx).port;
        expect(a.sendTo(tx, Buffer.from("hello"), addr, rxPort)).toBe(5);
        const got = await waitRecv(rx, buf);
        expect(got).toMatchObject({ length: 5, address: addr, ttl: 200 });
        expect(buf.subarray(0, 5).toString()).toBe("hello");
      } finally {
        a.closeFd(rx);
        a.closeFd(tx);
      }
    }
  });
});

async function until(f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The next datagram, polling (loopback delivery is quick but not promised synchronous). */
async function waitRecv(
  fd: number,
  buf: Buffer,
): Promise<ReturnType<ReturnType<typeof sockopt>["recvFrom"]>> {
  for (let i = 0; i < 100; i++) {
    const r = sockopt().recvFrom(fd, buf);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 10));
  }
  return null;
}
