import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { NftDriver } from "../driver.js";
import { FakeNft } from "../fake-nft.js";
import { parseListing } from "../kernel-state.js";
import { ExecNft, type NftBackend } from "../backend.js";
import { loadCluster } from "../../../policy/model/load.js";
import { compile } from "../../../policy/compiler/compile.js";
import { namespace, networkPolicy, pod, type Doc } from "../../../policy/test/fixtures.js";
import type { NftTable } from "../../../policy/compiler/nft-table.js";
import { diffTable } from "../diff.js";
import { requireExecutable, requireRoot } from "../../../test/support/require.js";

const NETNS = `tPdrv${process.pid % 10000}`;

function world(
  over: { labelB?: string; extraPod?: boolean; port?: number; noPolicy?: boolean } = {},
): NftTable {
  const docs: Doc[] = [
    namespace("x", { ns: "x" }),
    namespace("y", { ns: "y" }),
    pod(
      "x",
      "a",
      { pod: "a" },
      { node: "n1", ip: "10.20.1.2", ports: [{ name: "http", containerPort: 80 }] },
    ),
    pod("x", "b", { pod: over.labelB ?? "b" }, { node: "n1", ip: "10.20.1.3" }),
    pod("y", "c", { pod: "c" }, { node: "n2", ip: "10.20.2.2" }),
  ];
  if (over.extraPod) docs.push(pod("y", "d", { pod: "c" }, { node: "n2", ip: "10.20.2.9" }));
  if (!over.noPolicy) {
    docs.push(
      networkPolicy("x", "allow-c", {
        podSelector: { matchLabels: { pod: "a" } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: "y" } }, podSelector: { matchLabels: { pod: "c" } } },
            ],
            ports: [{ port: over.port ?? 80 }],
          },
          {
            from: [
              { podSelector: { matchLabels: { pod: "b" } } },
              { ipBlock: { cidr: "10.30.0.0/16", except: ["10.30.5.0/24"] } },
            ],
          },
        ],
      }),
    );
  }
  return compile(loadCluster(docs), "n1").table;
}

function ops(cmds: readonly Record<string, unknown>[]): string[] {
  return cmds.map((c) => {
    const [verb, body] = Object.entries(c)[0] as [string, Record<string, unknown>];
    return `${verb} ${Object.keys(body)[0]}`;
  });
}

/** A listing as content only: no kernel handles, no element order (a rebuild renumbers and reorders). */
function normalized(listing: { nftables: unknown[] } | null): unknown {
  const o = parseListing(listing ?? { nftables: [] });
  return {
    sets: [...o.sets.values()]
      .map((x) => ({ ...x, elements: [...x.elements].sort() }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    chains: [...o.chains.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

/** What the kernel holds differs from `t` by these commands (none: the kernel holds exactly `t`). */
async function drift(backend: NftBackend, t: NftTable): Promise<unknown> {
  const listing = await backend.listTable();
  return listing === null ? "table missing" : diffTable(parseListing(listing), t);
}

const backends: [string, () => NftBackend, boolean][] = [
  ["fake", () => new FakeNft(), true],
  ["real nft in a netns", () => new ExecNft({ netns: NETNS }), true],
  [
    "real nft in a netns, one long-lived nft -j -i",
    () => new ExecNft({ netns: NETNS, persistent: true }),
    true,
  ],
  [
    "real nft in a netns, element changes by nft too",
    () => new ExecNft({ netns: NETNS, netlink: false }),
    true,
  ],
];

// The real backends need root and nft: they fail naming what is missing, never skip (test/support/require.ts).
let netnsMade = false;
function kernelNetns(): void {
  requireRoot("nft driver on real nft");
  requireExecutable("/usr/sbin/nft", "nftables");
  if (netnsMade) return;
  execFileSync("ip", ["netns", "add", NETNS]);
  netnsMade = true;
}
afterAll(() => {
  if (netnsMade) execFileSync("ip", ["netns", "del", NETNS]);
});

describe.each(backends)("nft driver (%s)", (_name, make, kernel) => {
  let backend: NftBackend;
  let driver: NftDriver;

  beforeAll(async () => {
    if (kernel) kernelNetns();
    backend = make();
    if (backend instanceof ExecNft) {
      await backend.run({
        nftables: [
          { add: { table: { family: "inet", name: "trellis" } } },
          { delete: { table: { family: "inet", name: "trellis" } } },
        ],
      });
    }
    driver = new NftDriver(backend);
  });
  afterAll(() => backend.close?.());

  it("the first apply replaces the table in one full transaction", async () => {
    const r = await driver.apply(world());
    expect(r.mode).toBe("full");
    expect(ops(r.commands).slice(0, 3)).toEqual(["add table", "delete table", "add table"]);
    expect(driver.inSync).toBe(true);
  });

  it("re-applying the same content reads the kernel back and sends nothing", async () => {
    const r = await driver.apply(world());
    expect(r.mode).toBe("noop");
  });

  it("a pod label change is only set-element updates", async () => {
    const r = await driver.apply(world({ labelB: "zzz" }));
    expect(r.mode).toBe("diff");
    // b leaves the peer set of the rule that selected it: one element removed.
    expect(ops(r.commands).every((o) => o === "add element" || o === "delete element")).toBe(true);
    expect(r.commands.length).toBeLessThanOrEqual(2);
    expect((await driver.apply(world({ labelB: "zzz" }))).mode).toBe("noop");
  });

  it("a remote pod added is one element added", async () => {
    const r = await driver.apply(world({ labelB: "zzz", extraPod: true }));
    expect(r.mode).toBe("diff");
    expect(ops(r.commands).every((o) => o === "add element" || o === "delete element")).toBe(true);
    expect(r.commands.length).toBeLessThanOrEqual(4);
  });

  it("a policy port change declares the new port set, rewrites one chain and drops the old set", async () => {
    const before = world({ labelB: "zzz", extraPod: true });
    const r = await driver.apply(world({ labelB: "zzz", extraPod: true, port: 8080 }));
    expect(r.mode).toBe("diff");
    expect(ops(r.commands)).toContain("add set");
    expect(ops(r.commands)).toContain("delete set");
    expect(r.commands.length).toBeLessThan(
      before.chains.reduce((n, c) => n + c.rules.length, 0) + before.sets.length,
    );
    expect((await driver.apply(world({ labelB: "zzz", extraPod: true, port: 8080 }))).mode).toBe("noop");
  });

  it("deleting the policy removes its chains and sets and repoints the pod to accept", async () => {
    const r = await driver.apply(world({ noPolicy: true }));
    expect(r.mode).toBe("diff");
    expect(ops(r.commands)).toContain("delete chain");
    const listing = JSON.stringify(await backend.listTable());
    expect(listing).not.toContain("peer-");
    expect((await driver.apply(world({ noPolicy: true }))).mode).toBe("noop");
  });

  it("a rejected transaction leaves the last good table in the kernel", async () => {
    await driver.apply(world());
    const good = normalized(await backend.listTable());
    const bad = world({ port: 81 });
    const broken: NftTable = {
      ...bad,
      chains: bad.chains.map((c, i) =>
        i === 0
          ? {
              ...c,
              rules: [
                ...c.rules,
                {
                  comment: "broken",
                  expr: [
                    {
                      match: {
                        op: "==",
                        left: { payload: { protocol: "ip", field: "saddr" } },
                        right: "@no-such-set",
                      },
                    },
                    { accept: null },
                  ],
                },
              ],
            }
          : c,
      ),
    };
    await expect(driver.apply(broken)).rejects.toThrow(/last good rules kept/);
    expect(normalized(await backend.listTable())).toEqual(good);
    expect(driver.inSync).toBe(false);
    // The next apply rebuilds from scratch.
    expect((await driver.apply(world())).mode).toBe("full");
  });

  it("a table removed behind its back is rebuilt atomically", async () => {
    await backend.run({ nftables: [{ delete: { table: { family: "inet", name: "trellis" } } }] });
    driver.requestResync();
    const r = await driver.apply(world());
    expect(r.mode).toBe("full");
    expect(r.recoveredFrom).toBe("table missing");
  });

  it("a foreign rule in its chain makes it rewrite that chain", async () => {
    const t = world();
    const chain = t.chains.find((c) => c.name.startsWith("in-"))?.name as string;
    await backend.run({
      nftables: [{ add: { rule: { family: "inet", table: "trellis", chain, expr: [{ accept: null }] } } }],
    });
    const r = await driver.apply(t);
    expect(r.mode).toBe("diff");
    expect(ops(r.commands)[0]).toBe("flush chain");
    expect((await driver.apply(t)).mode).toBe("noop");
  });
});

describe.each(backends)("nft driver element transactions (%s)", (name, make, kernel) => {
  let backend: NftBackend;
  let driver: NftDriver;
  const netlink = !name.includes("by nft too");

  beforeAll(async () => {
    if (kernel) kernelNetns();
    backend = make();
    driver = new NftDriver(backend);
    await driver.apply(world({ noPolicy: true }));
  });
  afterAll(() => backend.close?.());

  it("element adds and deletes alone go by runElements (nf_tables netlink), with the same result", async () => {
    const r = await driver.apply(world({ noPolicy: true, extraPod: true }));
    expect(r.mode).toBe("diff");
    expect(ops(r.commands)).toEqual(["add element"]);
    expect(r.via).toBe(netlink ? "netlink" : "nft");
    expect(await drift(backend, world({ noPolicy: true, extraPod: true }))).toEqual([]);
  });

  it("a transaction with chains or declarations goes to nft", async () => {
    const r = await driver.apply(world());
    expect(ops(r.commands)).toContain("add chain");
    expect(r.via).toBe("nft");
  });

  it("an element transaction the kernel refuses leads to the atomic rebuild, never to a wrong belief", async () => {
    const desired = world();
    const r = await driver.applyCommands(
      [
        {
          delete: { element: { family: "inet", table: "trellis", name: "all-pods", elem: ["10.99.99.99"] } },
        },
      ],
      () => desired,
    );
    expect(r.mode).toBe("full");
    if (netlink && backend instanceof ExecNft) {
      expect(r.recoveredFrom).toMatch(
        /delete element 10\.99\.99\.99 from set inet trellis all-pods: No such file or directory.*\[ENOENT\]/,
      );
    }
    expect(await drift(backend, desired)).toEqual([]);
    // And the next element change goes by netlink again.
    expect((await driver.apply(world({ extraPod: true }))).via).toBe(netlink ? "netlink" : "nft");
  });
});

describe("nft driver read-back", () => {
  it("reads the kernel back on the first diff and on request only, not on every apply", async () => {
    const f = new FakeNft();
    const d = new NftDriver(f);
    await d.apply(world());
    await d.apply(world({ labelB: "zzz" }));
    expect(f.lists).toBe(1);
    await d.apply(world());
    await d.apply(world({ extraPod: true }));
    expect(f.lists).toBe(1);
    d.requestResync();
    await d.apply(world());
    expect(f.lists).toBe(2);
  });
});

describe("fake nft", () => {
  it("is atomic: a failing command leaves nothing of its transaction", async () => {
    const f = new FakeNft();
    await f.run({ nftables: [{ add: { table: { family: "inet", name: "trellis" } } }] });
    await expect(
      f.run({
        nftables: [
          { add: { set: { family: "inet", table: "trellis", name: "s", type: "ipv4_addr" } } },
          { add: { chain: { family: "inet", table: "trellis", name: "c" } } },
          {
            add: {
              rule: { family: "inet", table: "trellis", chain: "c", expr: [{ jump: { target: "nope" } }] },
            },
          },
        ],
      }),
    ).rejects.toThrow(/chain nope/);
    expect(JSON.stringify(await f.listTable())).not.toContain('"s"');
  });
  const t = { family: "inet", table: "trellis" };
  /** A table with one interval set `s` of `type` holding `prefix`, and a chain whose rule matches it. */
  async function intervalSet(type: string, prefix: { addr: string; len: number }): Promise<FakeNft> {
    const f = new FakeNft();
    await f.run({
      nftables: [
        { add: { table: { family: "inet", name: "trellis" } } },
        { add: { set: { ...t, name: "s", type, flags: ["interval"] } } },
        { add: { element: { ...t, name: "s", elem: [{ prefix }] } } },
        { add: { chain: { ...t, name: "c" } } },
        { add: { rule: { ...t, chain: "c", expr: [{ match: { op: "==", left: {}, right: "@s" } }] } } },
      ],
    });
    return f;
  }
  const addElement = (f: FakeNft, elem: string): Promise<void> =>
    f.run({ nftables: [{ add: { element: { ...t, name: "s", elem: [elem] } } }] });
  it.each([
    ["IPv4", "ipv4_addr", { addr: "10.0.0.0", len: 24 }, "10.0.0.7", "10.0.1.1"],
    ["IPv6", "ipv6_addr", { addr: "fd00:1::", len: 64 }, "fd00:1::ffff", "fd00:2::1"],
  ])(
    "rejects an %s interval element inside one already in the set, as the kernel does; a disjoint one is added",
    async (_family, type, prefix, inside, outside) => {
      const f = await intervalSet(type, prefix);
      await expect(addElement(f, inside)).rejects.toThrow(/overlaps/);
      await addElement(f, outside);
      const listed = JSON.stringify(await f.listTable());
      expect(listed).toContain(`"${outside}"`);
      expect(listed).not.toContain(`"${inside}"`);
    },
  );
  it("rejects deleting a set a rule references", async () => {
    const f = await intervalSet("ipv4_addr", { addr: "10.0.0.0", len: 24 });
    await expect(f.run({ nftables: [{ delete: { set: { ...t, name: "s" } } }] })).rejects.toThrow(/in use/);
  });
});
