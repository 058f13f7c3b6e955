// The nf_tables element codec against the real kernel, in a network
// namespace this run creates (tNF and the pid): for every element type the
// agent's tables use, elements added and deleted by netlink read back with
// `nft -j list set` exactly as the same elements added and deleted by nft
// itself in a twin set; a refused batch changes nothing and names the
// element and the errno. Root only (CI is root).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { NetlinkError, applyNftBatch, releaseNetfilterSockets } from "../../../net/netlink/netlink.js";
import { encodeElementBatch, setShape, type ElementChange } from "../../../net/netlink/nftables.js";
import { requireExecutable, requireRoot } from "../../../test/support/require.js";

const NS = `tNF${process.pid % 100000}`;
const PATH = `/var/run/netns/${NS}`;

function nft(...args: string[]): string {
  return execFileSync("ip", ["netns", "exec", NS, "nft", ...args], { encoding: "utf8" });
}

/** A set's (or map's) elements as `nft -j list` prints them, sorted: the same content whatever the order. */
function listed(set: string, kind: "set" | "map" = "set"): string[] {
  const doc = JSON.parse(nft("-j", "list", kind, "inet", "t", set)) as {
    nftables: Record<string, unknown>[];
  };
  const s = doc.nftables.find((x) => x[kind] !== undefined)?.[kind] as { elem?: unknown[] } | undefined;
  return (s?.elem ?? []).map((e) => JSON.stringify(e)).sort();
}

interface Case {
  name: string;
  decl: string;
  type: string | string[];
  flags: string[];
  map?: string;
  add: unknown[];
  /** The same elements as nft's command line writes them. */
  addText: string;
  del: unknown[];
  delText: string;
}

const CASES: Case[] = [
  {
    name: "ipv4_addr",
    decl: "type ipv4_addr;",
    type: "ipv4_addr",
    flags: [],
    add: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    addText: "10.0.0.1, 10.0.0.2, 10.0.0.3",
    del: ["10.0.0.2"],
    delText: "10.0.0.2",
  },
  {
    name: "ipv4_addr interval (prefixes, ranges, single addresses, one open to the end)",
    decl: "type ipv4_addr; flags interval;",
    type: "ipv4_addr",
    flags: ["interval"],
    add: [
      { prefix: { addr: "10.0.0.0", len: 24 } },
      { range: ["10.1.0.5", "10.1.0.9"] },
      "10.2.0.1",
      "10.2.0.2",
      { prefix: { addr: "240.0.0.0", len: 4 } },
    ],
    addText: "10.0.0.0/24, 10.1.0.5-10.1.0.9, 10.2.0.1, 10.2.0.2, 240.0.0.0/4",
    del: [{ range: ["10.1.0.5", "10.1.0.9"] }, "10.2.0.2", { prefix: { addr: "240.0.0.0", len: 4 } }],
    delText: "10.1.0.5-10.1.0.9, 10.2.0.2, 240.0.0.0/4",
  },
  {
    name: "ipv6_addr interval",
    decl: "type ipv6_addr; flags interval;",
    type: "ipv6_addr",
    flags: ["interval"],
    add: [{ prefix: { addr: "fd00::", len: 64 } }, "fd00:1::5", { prefix: { addr: "ff00::", len: 8 } }],
    addText: "fd00::/64, fd00:1::5, ff00::/8",
    del: ["fd00:1::5"],
    delText: "fd00:1::5",
  },
  {
    name: "ipv6_addr",
    decl: "type ipv6_addr;",
    type: "ipv6_addr",
    flags: [],
    add: ["fd00::1", "fd00::2"],
    addText: "fd00::1, fd00::2",
    del: ["fd00::1"],
    delText: "fd00::1",
  },
  {
    name: "ifname . ipv4_addr",
    decl: "type ifname . ipv4_addr;",
    type: ["ifname", "ipv4_addr"],
    flags: [],
    add: [{ concat: ["trl0123abcd", "10.0.0.1"] }, { concat: ["trl0123abce", "10.0.0.2"] }],
    addText: '"trl0123abcd" . 10.0.0.1, "trl0123abce" . 10.0.0.2',
    del: [{ concat: ["trl0123abcd", "10.0.0.1"] }],
    delText: '"trl0123abcd" . 10.0.0.1',
  },
  {
    name: "ifname . ipv6_addr",
    decl: "type ifname . ipv6_addr;",
    type: ["ifname", "ipv6_addr"],
    flags: [],
    add: [{ concat: ["trl0123abcd", "fd00::7"] }],
    addText: '"trl0123abcd" . fd00::7',
    del: [],
    delText: "",
  },
  {
    name: "ipv4_addr . inet_proto . inet_service interval (concatenated ranges)",
    decl: "type ipv4_addr . inet_proto . inet_service; flags interval;",
    type: ["ipv4_addr", "inet_proto", "inet_service"],
    flags: ["interval"],
    add: [
      { concat: [{ prefix: { addr: "10.0.0.0", len: 24 } }, "tcp", 80] },
      { concat: ["10.0.0.5", "udp", { range: [1000, 2000] }] },
      { concat: [{ range: ["10.0.1.1", "10.0.1.9"] }, "sctp", 9] },
    ],
    addText: "10.0.0.0/24 . tcp . 80, 10.0.0.5 . udp . 1000-2000, 10.0.1.1-10.0.1.9 . sctp . 9",
    del: [{ concat: ["10.0.0.5", "udp", { range: [1000, 2000] }] }],
    delText: "10.0.0.5 . udp . 1000-2000",
  },
  {
    name: "ipv6_addr . inet_proto . inet_service interval",
    decl: "type ipv6_addr . inet_proto . inet_service; flags interval;",
    type: ["ipv6_addr", "inet_proto", "inet_service"],
    flags: ["interval"],
    add: [{ concat: [{ prefix: { addr: "fd00::", len: 120 } }, "tcp", { range: [8000, 8080] }] }],
    addText: "fd00::/120 . tcp . 8000-8080",
    del: [{ concat: [{ prefix: { addr: "fd00::", len: 120 } }, "tcp", { range: [8000, 8080] }] }],
    delText: "fd00::/120 . tcp . 8000-8080",
  },
  {
    name: "ifname : verdict (jump, goto, accept, drop)",
    decl: "type ifname : verdict;",
    type: "ifname",
    flags: [],
    map: "verdict",
    add: [
      ["trl0a", { jump: { target: "c1" } }],
      ["trl0b", { goto: { target: "c1" } }],
      ["trl0c", { accept: null }],
      ["trl0d", { drop: null }],
    ],
    addText: '"trl0a" : jump c1, "trl0b" : goto c1, "trl0c" : accept, "trl0d" : drop',
    del: ["trl0a"],
    delText: '"trl0a"',
  },
];

const shapeOf = (c: Case) => {
  const s = setShape(c.type, c.flags, c.map);
  if (typeof s === "string") throw new Error(s);
  return s;
};
const change = (c: Case, set: string, op: "add" | "delete", elements: unknown[]): ElementChange => ({
  op,
  family: "inet",
  table: "t",
  set,
  shape: shapeOf(c),
  elements,
});

let seq = 1;
async function send(changes: ElementChange[]): Promise<void> {
  const b = encodeElementBatch(changes, seq);
  if (typeof b === "string") throw new Error(b);
  seq += b.messages.length + 2;
  await applyNftBatch(PATH, b);
}

beforeAll(() => {
  requireRoot("nf_tables netlink in a namespace");
  requireExecutable("/usr/sbin/nft", "nftables");
  execFileSync("ip", ["netns", "add", NS]);
  const decls = CASES.flatMap((c, i) => {
    const kind = c.map !== undefined ? "map" : "set";
    return [`${kind} nl${i} { ${c.decl} }`, `${kind} ref${i} { ${c.decl} }`];
  });
  execFileSync("ip", ["netns", "exec", NS, "nft", "-f", "-"], {
    input: `table inet t {\n${decls.join("\n")}\nchain c1 { }\n}\n`,
  });
});
afterAll(async () => {
  await releaseNetfilterSockets(PATH);
  execFileSync("ip", ["netns", "del", NS]);
});

describe("nf_tables elements by netlink, read back by nft", () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))(
    "%s: added and deleted by netlink, listed as nft's own",
    async (_name, c, i) => {
      const kind = c.map !== undefined ? "map" : "set";
      await send([change(c, `nl${i}`, "add", c.add)]);
      nft("add", "element", "inet", "t", `ref${i}`, `{ ${c.addText} }`);
      expect(listed(`nl${i}`, kind)).toEqual(listed(`ref${i}`, kind));
      expect(listed(`nl${i}`, kind)).toHaveLength(c.add.length);
      if (c.del.length === 0) return;
      await send([change(c, `nl${i}`, "delete", c.del)]);
      nft("delete", "element", "inet", "t", `ref${i}`, `{ ${c.delText} }`);
      expect(listed(`nl${i}`, kind)).toEqual(listed(`ref${i}`, kind));
      expect(listed(`nl${i}`, kind)).toHaveLength(c.add.length - c.del.length);
    },
  );

  it("a stale interval deleted and its merged successor added in one batch (the diff's order)", async () => {
    const c = CASES[1]!;
    await send([
      change(c, "nl1", "delete", [{ prefix: { addr: "10.0.0.0", len: 24 } }]),
      change(c, "nl1", "add", [{ range: ["10.0.0.0", "10.0.1.7"] }]),
    ]);
    expect(listed("nl1")).toContain(JSON.stringify({ range: ["10.0.0.0", "10.0.1.7"] }));
    expect(listed("nl1")).not.toContain(JSON.stringify({ prefix: { addr: "10.0.0.0", len: 24 } }));
  });

  /** Sends a batch the kernel must refuse: the NetlinkError it gave, after checking `set` is unchanged. */
  const refused = async (set: string, batch: Parameters<typeof send>[0]): Promise<NetlinkError> => {
    const before = listed(set);
    const err = await send(batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(listed(set)).toEqual(before);
    return err as NetlinkError;
  };

  it("a refused batch changes nothing, and its error names the element and the kernel's errno", async () => {
    const c = CASES[0]!;
    const err = await refused("nl0", [
      change(c, "nl0", "add", ["10.9.9.9"]),
      change(c, "nl0", "delete", ["10.7.7.7"]),
    ]);
    expect(err.code).toBe("ENOENT");
    expect(err.message).toMatch(/^delete element 10\.7\.7\.7 from set inet t nl0: No such file/);
  });

  it("an interval overlapping one in the set is refused by the kernel, naming it", async () => {
    const c = CASES[1]!;
    const err = await refused("nl1", [change(c, "nl1", "add", [{ prefix: { addr: "10.2.0.0", len: 16 } }])]);
    expect(err.message).toMatch(/^add element 10\.2\.0\.0\/16 to set inet t nl1: /);
  });

  it("a set that does not exist: ENOENT for that element, nothing else of the batch applied", async () => {
    const c = CASES[0]!;
    const err = await refused("nl0", [
      change(c, "nl0", "add", ["10.8.8.8"]),
      change(c, "no-such-set", "add", ["10.8.8.9"]),
    ]);
    expect(err.code).toBe("ENOENT");
    expect(err.message).toMatch(/add element 10\.8\.8\.9 to set inet t no-such-set/);
  });

  it("a namespace deleted and made again under the same name gets a socket of its own (the kept one is not reused)", async () => {
    const ns2 = `${NS}b`;
    const path2 = `/var/run/netns/${ns2}`;
    const make = (): void => {
      execFileSync("ip", ["netns", "add", ns2]);
      execFileSync("ip", ["netns", "exec", ns2, "nft", "-f", "-"], {
        input: "table inet t {\nset s { type ipv4_addr; }\n}\n",
      });
    };
    const c = CASES[0]!;
    const addTo = async (addr: string): Promise<void> => {
      const b = encodeElementBatch([{ ...change(c, "s", "add", [addr]) }], seq);
      if (typeof b === "string") throw new Error(b);
      seq += b.messages.length + 2;
      await applyNftBatch(path2, b);
    };
    const listed2 = (): string =>
      execFileSync("ip", ["netns", "exec", ns2, "nft", "-j", "list", "set", "inet", "t", "s"], {
        encoding: "utf8",
      });
    try {
      make();
      await addTo("10.5.5.1");
      execFileSync("ip", ["netns", "del", ns2]);
      make();
      await addTo("10.5.5.2");
      expect(listed2()).toContain('"10.5.5.2"');
      expect(listed2()).not.toContain('"10.5.5.1"');
    } finally {
      await releaseNetfilterSockets(path2);
      execFileSync("ip", ["netns", "del", ns2], { stdio: "ignore" });
    }
  });
});
