// The ctnetlink revoker on the real kernel (root), in a network namespace
// this run creates (tCT and the pid): entries made with `conntrack -I`, then
// list() must find exactly those to or from a prefix, by original source,
// original destination and reply source (a DNATed flow), IPv4 and IPv6,
// whether the kernel filters (a few addresses) or the agent does (a whole
// dump: a wider prefix or many addresses); mark() sets and clears only the
// denied bit, read back with the `conntrack` tool.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { ConntrackError, NetlinkConntrackRevoker } from "../conntrack-revoker.js";
import { releaseNetfilterSockets } from "../../../net/netlink/netlink.js";
import type { CtEntry } from "../revocation.js";
import { CT_MARK_DENIED } from "../../../policy/compiler/to-nft.js";

const NS = `tCT${process.pid % 100000}`;
const PATH = `/var/run/netns/${NS}`;
const conntrack = (...a: string[]): string =>
  execFileSync("ip", ["netns", "exec", NS, "conntrack", ...a], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });

/** One entry: original tuple, and the reply's source and source port when DNATed. */
function insert(
  p: "tcp" | "udp",
  s: string,
  d: string,
  sport: number,
  dport: number,
  o: { r?: string; rport?: number; mark?: number } = {},
) {
  conntrack(
    "-I",
    "-p",
    p,
    "-s",
    s,
    "-d",
    d,
    "--sport",
    String(sport),
    "--dport",
    String(dport),
    "-r",
    o.r ?? d,
    "-q",
    s,
    "--reply-port-src",
    String(o.rport ?? dport),
    "--reply-port-dst",
    String(sport),
    ...(p === "tcp" ? ["--state", "ESTABLISHED"] : []),
    "-t",
    "600",
    "-m",
    String(o.mark ?? 0),
  );
}

beforeAll(() => {
  execFileSync("ip", ["netns", "add", NS]);
  // The pod 10.9.0.2 / fd00::2: from it, to it, and DNATed to it (a service address in the original direction).
  insert("tcp", "10.9.0.2", "10.9.0.3", 40000, 80, { mark: 5 });
  insert("tcp", "10.9.0.4", "10.9.0.2", 40001, 80);
  insert("tcp", "10.9.0.5", "10.96.0.10", 40002, 80, { r: "10.9.0.2", rport: 8080 });
  insert("udp", "fd00::2", "fd00::3", 5000, 53);
  insert("udp", "fd00::4", "fd00::2", 5001, 53);
  insert("tcp", "fd00::5", "fd00:96::10", 40003, 443, { r: "fd00::2", rport: 8443 });
  conntrack(
    "-I",
    "-p",
    "icmp",
    "-s",
    "10.9.0.2",
    "-d",
    "10.9.0.8",
    "--icmp-type",
    "8",
    "--icmp-code",
    "0",
    "--icmp-id",
    "7",
    "-t",
    "600",
  );
  // Others: not the pod's, one inside 10.9.1.0/24, one whose reply only lies in it (not matched by a prefix).
  insert("tcp", "10.9.0.6", "10.9.0.7", 40004, 80);
  insert("tcp", "10.9.1.5", "10.9.0.7", 40005, 80);
  insert("tcp", "10.9.0.6", "10.96.0.11", 40006, 80, { r: "10.9.1.6" });
  insert("udp", "fd00::9", "fd00::a", 5002, 53);
});
afterAll(async () => {
  // A kept socket would hold the namespace alive after `ip netns del`.
  await releaseNetfilterSockets(PATH);
  execFileSync("ip", ["netns", "del", NS]);
});

/** NETLINK_NETFILTER (12) sockets of user space open in NS, from its /proc/net/netlink (the kernel's own have Pid 0). */
const netfilterSockets = (): number =>
  execFileSync("ip", ["netns", "exec", NS, "cat", "/proc/net/netlink"], { encoding: "utf8" })
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter(([, eth, pid]) => eth === "12" && pid !== "0").length;

const flows = (es: readonly CtEntry[]) =>
  es
    .map((e) => `${e.protocol} ${e.saddr} ${e.sport ?? e.icmp?.id} ${e.daddr} ${e.dport ?? e.icmp?.type}`)
    .sort();

const POD4 = [
  "icmp 10.9.0.2 7 10.9.0.8 8",
  "tcp 10.9.0.2 40000 10.9.0.3 80",
  "tcp 10.9.0.4 40001 10.9.0.2 80",
  "tcp 10.9.0.5 40002 10.96.0.10 80",
];
const POD6 = [
  "tcp fd00::5 40003 fd00:96::10 443",
  "udp fd00::2 5000 fd00::3 53",
  "udp fd00::4 5001 fd00::2 53",
];

describe("NetlinkConntrackRevoker", () => {
  // Filtered dumps whatever the table's size, and a whole dump whatever it is; the default (a small table) dumps whole.
  const kernel = new NetlinkConntrackRevoker({ netns: NS, walkEntries: 0 }); // NS: a name under /var/run/netns
  const agent = new NetlinkConntrackRevoker({ netns: PATH, walkEntries: 1e9 });
  const auto = new NetlinkConntrackRevoker({ netns: PATH });

  it("lists an address's entries by original source, original destination and reply source (IPv4 by kernel-filtered dumps, IPv6 by a whole one)", async () => {
    expect(flows(await kernel.list(["10.9.0.2/32"]))).toEqual(POD4);
    expect(flows(await kernel.list(["fd00::2/128"]))).toEqual(POD6);
    expect(flows(await kernel.list(["10.9.0.2/32", "fd00::2/128", "10.9.0.2/32"]))).toEqual(
      [...POD4, ...POD6].sort(),
    );
  });

  it("keeps its socket across revocations (closing one makes nf_tables wait, netlink.c), until released", async () => {
    // Two revokers on one namespace path, a table-size read and dumps of each kind: one socket.
    await auto.list(["10.9.0.2/32"]);
    await agent.list(["fd00::2/128"]);
    await auto.list(["10.9.0.2/32", "fd00::2/128"]);
    expect(netfilterSockets()).toBe(1);
    await releaseNetfilterSockets(PATH);
    expect(netfilterSockets()).toBe(0);
  });

  it("a whole dump filtered in the agent gives the same entries (IPv4 and IPv6 from one dump of both families)", async () => {
    expect(flows(await agent.list(["10.9.0.2/32", "fd00::2/128"]))).toEqual([...POD4, ...POD6].sort());
    expect(flows(await auto.list(["10.9.0.2/32"]))).toEqual(POD4);
    expect(await auto.list([])).toEqual([]);
  });

  it("a wider prefix matches by original source or destination", async () => {
    expect(flows(await kernel.list(["10.9.1.0/24"]))).toEqual(["tcp 10.9.1.5 40005 10.9.0.7 80"]);
    expect(flows(await kernel.list(["10.9.3.0/24", "fd00:1::/64"]))).toEqual([]);
  });

  it("mark() sets and clears only the denied bit, and counts an entry already gone as 0", async () => {
    const [e] = (await kernel.list(["10.9.0.3/32"])).filter((x) => x.dport === 80);
    expect(e?.mark).toBe(5);
    const markOf = () =>
      /mark=(\d+)/.exec(conntrack("-L", "-p", "tcp", "-s", "10.9.0.2", "--sport", "40000"))?.[1];
    expect(await kernel.mark(e!, true)).toBe(1);
    expect(markOf()).toBe(String(CT_MARK_DENIED | 5));
    expect((await kernel.list(["10.9.0.3/32"]))[0]?.mark).toBe(CT_MARK_DENIED | 5);
    expect(await kernel.mark(e!, false)).toBe(1);
    expect(markOf()).toBe("5");
    expect(await kernel.mark({ ...e!, sport: 40999 }, true)).toBe(0);
  });

  it("marks an ICMP entry by its id, type and code, and an IPv6 one", async () => {
    const icmp = (await kernel.list(["10.9.0.8/32"]))[0]!;
    expect(await kernel.mark(icmp, true)).toBe(1);
    expect(conntrack("-L", "-p", "icmp", "-s", "10.9.0.2")).toContain(`mark=${CT_MARK_DENIED}`);
    const six = (await kernel.list(["fd00::3/128"]))[0]!;
    expect(await kernel.mark(six, true)).toBe(1);
    expect(conntrack("-L", "-f", "ipv6", "-p", "udp", "-s", "fd00::2")).toContain(`mark=${CT_MARK_DENIED}`);
  });

  it("clear errors: a prefix that is none, an entry that cannot be named, a namespace that is not there", async () => {
    await expect(kernel.list(["10.9.0.300/32"])).rejects.toThrow(/^revocation prefix 10\.9\.0\.300\/32: /);
    await expect(
      kernel.mark({ protocol: "icmp", saddr: "10.9.0.2", daddr: "10.9.0.8", mark: 0 }, true),
    ).rejects.toThrow(
      "conntrack mark icmp 10.9.0.2 -> 10.9.0.8 in " + PATH + ": icmp entry without its id, type and code",
    );
    const gone = new NetlinkConntrackRevoker({ netns: "/var/run/netns/tCTnosuch" });
    const p = gone.list(["10.9.0.2/32"]);
    await expect(p).rejects.toBeInstanceOf(ConntrackError);
    await expect(p).rejects.toThrow(
      /in \/var\/run\/netns\/tCTnosuch: netlink open netns: No such file or directory/,
    );
  });
});
