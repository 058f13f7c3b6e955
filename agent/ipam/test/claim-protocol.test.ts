import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import type { IPAMBlock, IPPool } from "../../../crds/ipam.js";
import { type PoolView, poolView } from "../block-allocator.js";
import { claimVerdict, stalePendingBlocks } from "../claim-protocol.js";
import { FakeIpamApi } from "../fake-ipam-api.js";
import { IpamError, IpamService } from "../ipam-service.js";

function blk(
  cidr: string,
  rv: string,
  state?: "pending" | "confirmed",
  extra: { pool?: string; node?: string; created?: string } = {},
): IPAMBlock {
  return {
    metadata: {
      name: cidr.replace(/[^0-9a-z]/g, "-"),
      resourceVersion: rv,
      ...(extra.created !== undefined ? { creationTimestamp: extra.created } : {}),
    },
    spec: {
      cidr,
      pool: extra.pool ?? "p",
      affinity: `host:${extra.node ?? "n9"}`,
      ...(state !== undefined ? { state } : {}),
      allocations: [],
    },
  };
}

describe("claim verdict: the oldest live overlapping claim wins", () => {
  const mine = blk("10.0.0.0/24", "100", "pending", { pool: "wide", node: "n1" });
  it.each<[string, IPAMBlock[], boolean]>([
    ["no other block", [], true],
    ["a block that does not overlap", [blk("10.0.1.0/26", "5")], true],
    ["a block of the other family at the same numbers", [blk("::a00:0/120", "5")], true],
    ["a confirmed block inside ours", [blk("10.0.0.64/26", "500", "confirmed")], false],
    ["a block written before states existed (absent = confirmed)", [blk("10.0.0.0/26", "7")], false],
    ["a confirmed block containing ours", [blk("10.0.0.0/16", "900", "confirmed")], false],
    ["an older pending claim", [blk("10.0.0.128/25", "99", "pending")], false],
    ["a newer pending claim (it yields to us)", [blk("10.0.0.128/25", "101", "pending")], true],
    [
      "a pending claim with a resourceVersion that is no number",
      [blk("10.0.0.128/25", "x1", "pending")],
      false,
    ],
    ["our own block in the list", [{ ...mine }], true],
  ])("%s", (_n, others, won) => {
    expect(claimVerdict(mine, [mine, ...others]).won).toBe(won);
  });

  it("when our own resourceVersion is no number, any overlapping claim wins over us", () => {
    const odd = { ...mine, metadata: { ...mine.metadata, resourceVersion: "abc" } };
    expect(claimVerdict(odd, [blk("10.0.0.0/26", "101", "pending")]).won).toBe(false);
  });

  it("names the block it lost to", () => {
    const v = claimVerdict(mine, [
      blk("10.0.0.0/26", "5", undefined, { pool: "default-ipv4", node: "node-1" }),
    ]);
    expect(v).toMatchObject({
      won: false,
      reason: "block 10.0.0.0/24 of pool wide overlaps block 10.0.0.0/26 of pool default-ipv4 held by node-1",
    });
  });

  it("two overlapping pending claims: exactly one wins, whichever list each sees", () => {
    const a = blk("10.0.0.0/24", "10", "pending");
    const b = blk("10.0.0.0/26", "11", "pending");
    expect(claimVerdict(a, [a, b]).won).toBe(true);
    expect(claimVerdict(b, [a, b]).won).toBe(false);
  });
});

describe("stale pending blocks", () => {
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  const at = "2026-01-01T00:00:00.000Z";
  const blocks = [
    blk("10.0.0.0/26", "1", "pending", { node: "me", created: at }),
    blk("10.0.0.64/26", "2", "pending", { node: "other", created: at }),
    blk("10.0.0.128/26", "3", "confirmed", { node: "me", created: at }),
    blk("10.0.0.192/26", "4", undefined, { node: "other", created: at }),
  ];
  const names = (bs: IPAMBlock[]) => bs.map((b) => b.spec.cidr);

  it("at start: this node's own pending blocks, whatever their age", () => {
    expect(names(stalePendingBlocks(blocks, "me", t0 + 1000, 60_000, true))).toEqual(["10.0.0.0/26"]);
  });
  it("later: anyone's pending block once older than the grace, never a confirmed one", () => {
    expect(names(stalePendingBlocks(blocks, "me", t0 + 59_000, 60_000, false))).toEqual([]);
    expect(names(stalePendingBlocks(blocks, "me", t0 + 60_000, 60_000, false))).toEqual([
      "10.0.0.0/26",
      "10.0.0.64/26",
    ]);
  });
});

const log = pino({ level: "silent" });

function view(name: string, cidr: string, blockSize: number): PoolView {
  const p: IPPool = { metadata: { name }, spec: { cidr, blockSize } };
  const v = poolView(p);
  if (typeof v === "string") throw new Error(v);
  return v;
}

function service(api: FakeIpamApi, node: string, pools: PoolView[], now?: () => Date): IpamService {
  return new IpamService({
    api,
    node: () => ({ name: node, labels: {}, strictAffinity: false }),
    pools: () => pools,
    log,
    ...(now !== undefined ? { now } : {}),
  });
}

function ask(handle: string, pool?: string, ips: string[] = []) {
  return {
    handle,
    requestedIps: ips,
    poolNames: { 4: pool !== undefined ? [pool] : undefined, 6: [] },
    namespaceLabels: {},
    attributes: { containerID: handle, ifname: "eth0" },
  };
}

async function turns(cond: () => boolean, max = 2000): Promise<void> {
  for (let i = 0; i < max && !cond(); i++) await new Promise((r) => setImmediate(r));
}

/** Every block in the fake: none pending, none overlapping another. */
function settledBlocks(api: FakeIpamApi): string[] {
  const bs = [...api.blocks.values()];
  expect(bs.filter((b) => b.spec.state === "pending")).toEqual([]);
  return bs.map((b) => `${b.spec.cidr} ${b.spec.pool} ${b.spec.affinity ?? ""}`).sort();
}

describe("claims against a compare-and-swap API: two interleaved claimers", () => {
  // Two agents whose views differ (one sees a /24-block pool, the other a
  // /26-block pool over the same range): the planners cannot see each
  // other's claims, only the protocol keeps the blocks apart.
  const wide = view("wide", "10.0.0.0/24", 24);
  const narrow = view("narrow", "10.0.0.0/24", 26);

  it.each([
    ["the /24 claimer (n1) creates first", "n1"],
    ["the /26 claimer (n2) creates first", "n2"],
  ])(
    "both create, then both LIST: %s and wins; the other deletes its claim and fails naming the overlap",
    async (_n, first) => {
      let armed = false;
      const pending = (): number => [...api.blocks.values()].filter((b) => b.spec.state === "pending").length;
      const api = new FakeIpamApi({
        // Hold every claimer's LIST until both pending blocks exist.
        before: async (op) => {
          if (armed && op === "listBlocks") await turns(() => pending() >= 2);
        },
      });
      const s1 = service(api, "n1", [wide]);
      const s2 = service(api, "n2", [narrow]);
      await Promise.all([s1.load(), s2.load()]);
      armed = true;
      const start = (s: IpamService, h: string) =>
        s.allocate(ask(h)).then(
          (r) => ({ ok: r[0]?.address, err: undefined }),
          (e: unknown) => ({ ok: undefined, err: e as Error }),
        );
      const [winner, loser] = first === "n1" ? [s1, s2] : [s2, s1];
      const pWin = start(winner, "w");
      await turns(() => api.blocks.size >= 1);
      const pLose = start(loser, "l");
      const [rw, rl] = await Promise.all([pWin, pLose]);
      expect(rw.ok).toBe("10.0.0.1");
      expect(rl.err).toBeInstanceOf(IpamError);
      if (first === "n1") {
        expect(rl.err?.message).toMatch(
          /no free IPv4 address in pool\(s\) narrow \(block 10\.0\.0\.0\/26 of pool narrow overlaps block 10\.0\.0\.0\/24 of pool wide held by n1/,
        );
        expect(settledBlocks(api)).toEqual(["10.0.0.0/24 wide host:n1"]);
      } else {
        expect(rl.err?.message).toMatch(
          /block 10\.0\.0\.0\/24 of pool wide overlaps block 10\.0\.0\.0\/26 of pool narrow held by n2/,
        );
        expect(settledBlocks(api)).toEqual(["10.0.0.0/26 narrow host:n2"]);
      }
      // Both LISTs saw both claims; the loser deleted its own pending block (rv precondition).
      expect(api.calls.filter((c) => c.startsWith("deleteBlock"))).toHaveLength(1);
      expect([...api.affinities.keys()]).toEqual([first === "n1" ? "n1-10-0-0-0-24" : "n2-10-0-0-0-26"]);
    },
  );

  it("many concurrent allocations on both nodes: blocks never overlap, addresses never repeat", async () => {
    const api = new FakeIpamApi({
      // Yield a few turns at every call so the two queues interleave finely.
      before: () => new Promise((r) => setImmediate(() => setImmediate(r))),
    });
    const s1 = service(api, "n1", [view("a", "10.1.0.0/24", 25)]);
    const s2 = service(api, "n2", [view("b", "10.1.0.0/24", 27)]);
    await Promise.all([s1.load(), s2.load()]);
    const all = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => s1.allocate(ask(`a${i}`))),
      ...Array.from({ length: 20 }, (_, i) => s2.allocate(ask(`b${i}`))),
    ]);
    const got = all.flatMap((r) => (r.status === "fulfilled" ? r.value.map((x) => x.address) : []));
    expect(new Set(got).size).toBe(got.length);
    expect(got.length).toBeGreaterThan(0);
    const blocks = [...api.blocks.values()];
    expect(blocks.some((b) => b.spec.state === "pending")).toBe(false);
    const { overlaps, parsePrefix } = await import("../../../net/address.js");
    for (const x of blocks)
      for (const y of blocks) {
        if (x === y) continue;
        const cx = parsePrefix(x.spec.cidr);
        const cy = parsePrefix(y.spec.cidr);
        if (typeof cx !== "string" && typeof cy !== "string") expect(overlaps(cx, cy)).toBe(false);
      }
  });
});

describe("pending blocks left behind", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const narrow = view("narrow", "10.0.0.0/24", 26);

  function crashed(api: FakeIpamApi, node: string): IPAMBlock {
    return api.putBlock({
      metadata: { name: "10-0-0-0-24", creationTimestamp: t0.toISOString() },
      spec: {
        cidr: "10.0.0.0/24",
        pool: "wide",
        affinity: `host:${node}`,
        state: "pending",
        allocations: [],
      },
    });
  }

  it("a crashed claimer's pending block blocks newer overlapping claims until it is swept after the grace", async () => {
    const api = new FakeIpamApi({ now: () => t0 });
    crashed(api, "dead");
    const s = service(api, "n2", [narrow], () => t0);
    await s.load();
    await expect(s.allocate(ask("x"))).rejects.toThrow(
      /overlaps block 10\.0\.0\.0\/24 of pool wide held by dead/,
    );
    expect(await s.sweepPendingBlocks(t0.getTime() + 59_000, 60_000, false)).toEqual([]);
    expect(await s.sweepPendingBlocks(t0.getTime() + 60_000, 60_000, false)).toEqual(["10-0-0-0-24"]);
    expect((await s.allocate(ask("x")))[0]?.address).toBe("10.0.0.1");
  });

  it("an agent deletes its own pending blocks at start, whatever their age", async () => {
    const api = new FakeIpamApi({ now: () => t0 });
    crashed(api, "n2");
    const s = service(api, "n2", [narrow]);
    expect(await s.sweepPendingBlocks(t0.getTime() + 1000, 60_000, true)).toEqual(["10-0-0-0-24"]);
    expect(api.blocks.size).toBe(0);
  });

  it("the sweep keeps a block that was confirmed between its LIST and its delete", async () => {
    let confirming = false;
    const api: FakeIpamApi = new FakeIpamApi({
      now: () => t0,
      before: async (op) => {
        if (op !== "deleteBlock" || confirming) return;
        confirming = true;
        const cur = api.blocks.get("10-0-0-0-24");
        if (cur) await api.ipamBlocks.replace({ ...cur, spec: { ...cur.spec, state: "confirmed" } });
      },
    });
    crashed(api, "slow");
    const s = service(api, "n2", [narrow]);
    expect(await s.sweepPendingBlocks(t0.getTime() + 120_000, 60_000, false)).toEqual([]);
    expect(api.blocks.get("10-0-0-0-24")?.spec.state).toBe("confirmed");
  });

  it("nobody allocates into a pending block: a specific address in one is refused for now (retryable)", async () => {
    const api = new FakeIpamApi({ now: () => t0 });
    api.putBlock({
      metadata: { name: "10-0-0-0-26" },
      spec: { cidr: "10.0.0.0/26", pool: "narrow", affinity: "host:n1", state: "pending", allocations: [] },
    });
    const s = service(api, "n2", [narrow]);
    await s.load();
    const err = await s.allocate(ask("x", undefined, ["10.0.0.5"])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpamError);
    expect((err as IpamError).retryable).toBe(true);
    expect((err as Error).message).toMatch(
      /10\.0\.0\.0\/26 of pool narrow held by n1, which is still being claimed/,
    );
    expect(api.blocks.get("10-0-0-0-26")?.spec.allocations).toEqual([]);
  });
});
