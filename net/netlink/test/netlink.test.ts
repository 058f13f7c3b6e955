// The addon on the real kernel, in network namespaces this run creates
// (names start with tNL and the pid, so they never collide): exchanges reach
// the namespace they name, refusals come back as errors naming the operation
// and the object, sysctls land in the namespace asked for, and no libuv pool
// thread is left in a pod's namespace afterwards. Root only (CI is root).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";
import {
  NETLINK_NETFILTER,
  NetlinkError,
  NetlinkTransportError,
  apply,
  dumpEach,
  exchange,
  firstError,
  loadNetlink,
  writeSysctls,
} from "../netlink.js";
import {
  AF_INET,
  RTM_GETROUTE,
  NLM_F_DUMP,
  decodeLink,
  delLink,
  dumpLinks,
  encodeRequests,
  getLink,
  setLink,
} from "../rtnetlink.js";
import { CT_NEW, ctDumpRequest } from "../ctnetlink.js";

const NS = `tNL${process.pid % 100000}`;
const PATH = `/var/run/netns/${NS}`;
const ip = (...a: string[]): string => execFileSync("ip", ["-n", NS, ...a], { encoding: "utf8" });

beforeAll(() => {
  execFileSync("ip", ["netns", "add", NS]);
  // A bridge is the simplest link every kernel here has (dummy is not built: docs/machine.md).
  ip("link", "add", "tnlbr0", "type", "bridge");
});
afterAll(() => {
  execFileSync("ip", ["netns", "del", NS]);
});

describe("net/netlink addon", () => {
  it("acts in the namespace it names, and reads back what it did", async () => {
    await apply(PATH, [
      { what: "set tnlbr0 alias", req: setLink("tnlbr0", { alias: "trellis:x/y", up: true }) },
    ]);
    const [a] = await apply(PATH, [{ what: "read tnlbr0", req: getLink("tnlbr0") }]);
    const l = a?.messages.map(decodeLink)[0];
    expect(l?.alias).toBe("trellis:x/y");
    expect(ip("-j", "link", "show", "tnlbr0")).toContain('"ifalias":"trellis:x/y"');
  });

  it("dumps every link of the namespace (one dump per socket: two at once are split)", async () => {
    const answers = await exchange(PATH, [
      { what: "list links", req: dumpLinks() },
      { what: "list links again", req: dumpLinks() },
    ]);
    for (const a of answers) {
      expect(a.errno).toBe(0);
      expect(a.messages.map(decodeLink).map((l) => l?.name)).toEqual(["lo", "tnlbr0"]);
    }
  });

  it("names the operation and the object in a refusal, with the errno's text", async () => {
    const ops = [{ what: "delete veth trlnosuch", req: delLink("trlnosuch") }];
    const err = firstError(ops, await exchange(PATH, ops));
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err?.message).toBe("delete veth trlnosuch: No such device");
    expect([err?.code, err?.errno]).toEqual(["ENODEV", 19]);
    await expect(apply(PATH, ops)).rejects.toThrow("delete veth trlnosuch: No such device");
  });

  it("dumpEach visits every message of a dump, and a refused dump throws with the kernel's own words", async () => {
    const names: string[] = [];
    await dumpEach(PATH, "list links", dumpLinks(), (m) => names.push(decodeLink(m)?.name ?? "?"));
    expect(names).toEqual(["lo", "tnlbr0"]);
    // A route dump whose rtmsg asks for a destination length: strict checking refuses it
    // (net/ipv4/fib_frontend.c ip_valid_fib_dump_req), with an extended-ack text.
    const header = Buffer.alloc(12);
    header.writeUInt8(AF_INET, 0);
    header.writeUInt8(8, 1);
    const bad = dumpEach(
      PATH,
      "list routes",
      { type: RTM_GETROUTE, flags: NLM_F_DUMP, header, attrs: [] },
      () => {
        throw new Error("nothing is visited");
      },
    );
    await expect(bad).rejects.toBeInstanceOf(NetlinkError);
    await expect(bad).rejects.toMatchObject({ code: "EINVAL", errno: 22 });
    await expect(bad).rejects.toThrow(/^list routes: Invalid argument \(.*dump request/);
  });

  it("a path that is not a network namespace fails the exchange, naming the path", async () => {
    const p = exchange("/etc/hostname", [{ what: "read lo", req: getLink("lo") }]);
    await expect(p).rejects.toBeInstanceOf(NetlinkTransportError);
    await expect(p).rejects.toThrow("read lo in /etc/hostname: netlink setns: Invalid argument");
  });

  it("writes sysctls inside the target namespace, not the agent's", async () => {
    const file = "/proc/sys/net/ipv4/conf/tnlbr0/proxy_arp";
    await writeSysctls(PATH, [[file, "1"]]);
    expect(execFileSync("ip", ["netns", "exec", NS, "cat", file], { encoding: "utf8" }).trim()).toBe("1");
    // The same file does not exist in the test's own namespace: a write from here fails.
    await expect(writeSysctls(null, [[file, "1"]])).rejects.toThrow(
      `sysctl: netlink open ${file}: No such file or directory`,
    );
    // Nothing outside /proc/sys/net/ is written.
    expect(() => loadNetlink().writeSysctls(null, ["/etc/passwd"], ["x"])).toThrow(
      /under \/proc\/sys\/net\//,
    );
  });

  it("speaks NETLINK_NETFILTER when asked (a ctnetlink dump), NETLINK_ROUTE otherwise, and no other family", async () => {
    const entries: number[] = [];
    await dumpEach(PATH, "list conntrack", ctDumpRequest(4), (m) => entries.push(m.type), {
      protocol: NETLINK_NETFILTER,
    });
    expect(entries.every((t) => t === CT_NEW)).toBe(true);
    // The same request on a route socket is no rtnetlink message type: refused.
    await expect(
      dumpEach(PATH, "list conntrack on rtnetlink", ctDumpRequest(4), () => undefined),
    ).rejects.toThrow(NetlinkError);
    const a = loadNetlink();
    const req = encodeRequests([getLink("lo")], 1);
    for (const bad of [5, -1, "12"] as unknown[])
      expect(() => a.exchange(PATH, req, 1000, bad as typeof NETLINK_NETFILTER)).toThrow(/protocol\?: 0/);
    // batch() speaks rtnetlink only: a protocol there is refused, not ignored.
    expect(() => (a.batch as (...x: unknown[]) => unknown)(PATH, req, 1000, NETLINK_NETFILTER)).toThrow(
      /^batch\(/,
    );
  });

  it("leaves no thread of the process in another namespace", async () => {
    await Promise.all(
      Array.from({ length: 32 }, () => exchange(PATH, [{ what: "read lo", req: getLink("lo") }])),
    );
    const own = readlinkSync("/proc/self/ns/net");
    const threads = readdirSync("/proc/self/task");
    expect(threads.length).toBeGreaterThan(4);
    for (const t of threads) {
      let ns: string;
      try {
        ns = readlinkSync(`/proc/self/task/${t}/ns/net`);
      } catch {
        continue; // the thread ended meanwhile
      }
      expect(ns).toBe(own);
    }
  });
});
