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
  chain,
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
  newAddr,
  setLink,
  slotIndex,
} from "../rtnetlink.js";
import { CT_NEW, ctDumpRequest } from "../ctnetlink.js";

const NS = `tNL${process.pid % 100000}`;
const PATH = `/var/run/netns/${NS}`;
const ip = (...a: string[]): string => execFileSync("ip", ["-n", NS, ...a], { encoding: "utf8" });
/** A second namespace for chain(), whose bridge has another index than tnlbr0. */
const NS2 = `${NS}b`;
const PATH2 = `/var/run/netns/${NS2}`;
const ip2 = (...a: string[]): string => execFileSync("ip", ["-n", NS2, ...a], { encoding: "utf8" });
const indexIn = (run: (...a: string[]) => string, name: string): number =>
  (JSON.parse(run("-j", "link", "show", name)) as { ifindex: number }[])[0]?.ifindex ?? -1;

beforeAll(() => {
  execFileSync("ip", ["netns", "add", NS]);
  // A bridge is the simplest link every kernel here has (dummy is not built: docs/machine.md).
  ip("link", "add", "tnlbr0", "type", "bridge");
  execFileSync("ip", ["netns", "add", NS2]);
  for (const b of ["tnlbr1", "tnlbr2", "tnlbr3"]) ip2("link", "add", b, "type", "bridge");
});
afterAll(() => {
  execFileSync("ip", ["netns", "del", NS]);
  execFileSync("ip", ["netns", "del", NS2]);
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

  it("chain hands each index a stage reads to later stages, across two namespaces, in one pass", async () => {
    const v4 = (last: number): { family: 4; value: bigint } => ({
      family: 4,
      value: 0x0a090900n + BigInt(last),
    });
    const out = await chain(
      "chain test",
      [PATH, PATH2],
      [
        { ns: 0, ops: [{ what: "read tnlbr0", req: getLink("tnlbr0") }], capture: 0 },
        // Empty stages are left out of the program; the answers still land on their own stages.
        { ns: 0, ops: [] },
        { ns: 1, ops: [{ what: "read tnlbr3", req: getLink("tnlbr3") }], capture: 1 },
        { ns: 1, sysctls: [["/proc/sys/net/ipv4/conf/tnlbr3/proxy_arp", "1"]] },
        { ns: 1, sysctls: [] },
        { ns: 1, ops: [{ what: "address on tnlbr3", req: newAddr(slotIndex(1), v4(3), 32) }] },
        { ns: 0, ops: [{ what: "address on tnlbr0", req: newAddr(slotIndex(0), v4(1), 32) }] },
      ],
    );
    expect(out.refusedAt).toBeUndefined();
    expect(out.answers.map((a) => a.length)).toEqual([1, 0, 1, 0, 0, 1, 1]);
    expect(out.answers[2]?.[0]?.messages.map(decodeLink)[0]?.name).toBe("tnlbr3");
    expect(out.answers[0]?.[0]?.messages.map(decodeLink)[0]?.index).toBe(indexIn(ip, "tnlbr0"));
    expect(indexIn(ip2, "tnlbr3")).not.toBe(indexIn(ip, "tnlbr0"));
    expect(ip("addr", "show", "tnlbr0")).toContain("inet 10.9.9.1/32");
    expect(ip2("addr", "show", "tnlbr3")).toContain("inet 10.9.9.3/32");
    expect(ip2("addr", "show", "tnlbr1")).not.toContain("10.9.9");
    const proxyArp = (n: string): string =>
      execFileSync("ip", ["netns", "exec", n, "cat", "/proc/sys/net/ipv4/conf/tnlbr3/proxy_arp"], {
        encoding: "utf8",
      }).trim();
    expect(proxyArp(NS2)).toBe("1");
  });

  it("chain stops at the first stage the kernel refuses, and a failed step rejects naming it", async () => {
    const out = await chain(
      "chain test",
      [PATH, null],
      [
        { ns: 0, ops: [{ what: "read nosuch0", req: getLink("nosuch0") }], capture: 0 },
        {
          ns: 0,
          ops: [{ what: "address", req: newAddr(slotIndex(0), { family: 4, value: 0x0a090909n }, 32) }],
        },
      ],
    );
    expect(out.refusedAt).toBe(0);
    expect(firstError([{ what: "read nosuch0", req: getLink("nosuch0") }], out.answers[0] ?? [])?.code).toBe(
      "ENODEV",
    );
    expect(out.answers[1]).toEqual([]);
    const bad = chain(
      "configuring x",
      [PATH, null],
      [{ ns: 0, sysctls: [["/proc/sys/net/ipv4/conf/nosuch0/proxy_arp", "1"]] }],
    );
    await expect(bad).rejects.toBeInstanceOf(NetlinkTransportError);
    await expect(bad).rejects.toThrow(
      `configuring x in ${PATH}: netlink open /proc/sys/net/ipv4/conf/nosuch0/proxy_arp: No such file or directory`,
    );
  });

  it("chain refuses a program that would patch blindly or reach outside /proc/sys/net/", () => {
    const a = loadNetlink();
    const stage = (
      ns: number,
      kind: number,
      capture: number,
      patches: [number, number][],
      payload: Buffer,
    ): Buffer => {
      const h = Buffer.alloc(8 + patches.length * 8);
      h.writeUInt8(ns, 0);
      h.writeUInt8(kind, 1);
      h.writeUInt8(capture, 2);
      h.writeUInt8(patches.length, 3);
      h.writeUInt32LE(payload.length, 4);
      patches.forEach(([slot, off], i) => {
        h.writeUInt8(slot, 8 + i * 8);
        h.writeUInt32LE(off, 12 + i * 8);
      });
      return Buffer.concat([h, payload]);
    };
    const read = encodeRequests([getLink("lo")], 1);
    const addr = encodeRequests([newAddr(slotIndex(0), { family: 4, value: 1n }, 32)], 2);
    const cases: [Buffer, RegExp][] = [
      // The slot is used before any stage captured it.
      [stage(0, 0, 0xff, [[0, 20]], addr), /no earlier stage captured/],
      // The offset does not hold the slot's placeholder (ifa_index is at 20, not 24).
      [Buffer.concat([stage(0, 0, 0, [], read), stage(0, 0, 0xff, [[0, 24]], addr)]), /placeholder/],
      [stage(0, 1, 0xff, [], Buffer.from("/etc/passwd\0x\0")), /under \/proc\/sys\/net\//],
      [stage(0, 1, 0xff, [], Buffer.from("/proc/sys/net/../../etc/x\0x\0")), /under \/proc\/sys\/net\//],
      [stage(0, 0, 0xff, [], encodeRequests([dumpLinks()], 1)), /dump/],
      [stage(2, 0, 0xff, [], read), /namespace/],
      [stage(0, 0, 0xff, [], read).subarray(0, 12), /past the end/],
    ];
    for (const [program, why] of cases) expect(() => a.chain(PATH, null, program, 1000)).toThrow(why);
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
