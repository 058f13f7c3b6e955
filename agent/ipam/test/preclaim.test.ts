// Pre-claim (block-allocator.ts wantsSpareBlock, ipam-service.ts
// maybePreclaim): the next block is claimed in the background once this
// node's blocks of a pool are nearly full, so an allocation never waits for
// a claim in steady state; and no address is handed out twice meanwhile.
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import type { IPPool } from "../../../crds/ipam.js";
import {
  type BlockView,
  type PoolView,
  poolView,
  spareBlockClaim,
  wantsSpareBlock,
} from "../block-allocator.js";
import { FakeIpamApi, type FakeOp } from "../fake-ipam-api.js";
import { IpamService } from "../ipam-service.js";

const node = { name: "n1", labels: {}, strictAffinity: false };

function pool(cidr: string, blockSize: number, extra: Partial<IPPool["spec"]> = {}): PoolView {
  const v = poolView({ metadata: { name: "p" }, spec: { cidr, blockSize, ...extra } });
  if (typeof v === "string") throw new Error(v);
  return v;
}

/**
 * A /28 block (16 addresses) of pool p with `used` ordinals taken, from 1 in
 * the pool's first block (its ordinal 0 is the pool's own address).
 */
function block(base: number, used: number, o: { node?: string; pending?: boolean } = {}): BlockView {
  return {
    name: `b${base}`,
    cidr: { family: 4, base: 0x0a000000n + BigInt(base), length: 28 },
    pool: "p",
    node: o.node ?? "n1",
    used: new Map(Array.from({ length: used }, (_, i) => [base === 0 ? i + 1 : i, `h${base}.${i}`] as const)),
    pending: o.pending === true,
  };
}

describe("wantsSpareBlock: claim ahead once a quarter of a block is left", () => {
  const p = pool("10.0.0.0/24", 28);
  it.each<[string, BlockView[], boolean]>([
    ["no block at all (nothing in use: claims happen on demand)", [], false],
    ["one block, 10 of 15 used (5 free)", [block(0, 10)], false],
    ["one block, 11 of 15 used (4 free = 1/4 of a /28)", [block(0, 11)], true],
    ["one full block (15: the pool's own address is not handed out)", [block(0, 15)], true],
    ["a full block and an empty spare (16 free)", [block(0, 15), block(16, 0)], false],
    ["a full block and a pending claim of ours", [block(0, 15), block(16, 0, { pending: true })], false],
    ["another node's blocks do not count", [block(0, 15), block(16, 0, { node: "n2" })], true],
    ["only empty blocks: nothing in use, no spare wanted", [block(0, 0)], false],
  ])("%s", (_n, blocks, want) => {
    expect(wantsSpareBlock(p, blocks, [p], node)).toBe(want);
  });

  it("a disabled or invalid pool wants none", () => {
    const off = pool("10.0.0.0/24", 28, { disabled: true });
    expect(wantsSpareBlock(off, [block(0, 15)], [off], node)).toBe(false);
    const bad = { ...p, invalid: "overlaps another pool" };
    expect(wantsSpareBlock(bad, [block(0, 15)], [bad], node)).toBe(false);
  });

  it("the block to claim is the pool's first free one; none when the pool is used up", () => {
    expect(spareBlockClaim(p, [block(0, 13)], [p], node)).toBe("10.0.0.16/28");
    expect(spareBlockClaim(p, [block(0, 10)], [p], node)).toBeUndefined();
    const small = pool("10.0.0.0/28", 28);
    expect(spareBlockClaim(small, [block(0, 13)], [small], node)).toBeUndefined();
  });

  it("a block of two addresses is claimed ahead only when full", () => {
    const tiny = pool("10.0.0.0/24", 31);
    const b = (used: number): BlockView => ({
      ...block(2, used),
      cidr: { family: 4, base: 0x0a000002n, length: 31 },
    });
    expect(wantsSpareBlock(tiny, [b(1)], [tiny], node)).toBe(false);
    expect(wantsSpareBlock(tiny, [b(2)], [tiny], node)).toBe(true);
  });
});

const log = pino({ level: "silent" });

function ask(handle: string) {
  return {
    handle,
    requestedIps: [],
    poolNames: { 4: ["p"], 6: [] },
    namespaceLabels: {},
    attributes: { containerID: handle, ifname: "eth0" },
  };
}

function service(api: FakeIpamApi, p: PoolView, spareFraction: number | undefined): IpamService {
  return new IpamService({
    api,
    node: () => node,
    pools: () => [p],
    log,
    ...(spareFraction !== undefined ? { spareFraction } : {}),
  });
}

/** A /24 pool of /28 blocks, pre-claim on, `n` addresses allocated one by one, no claim left in flight. */
async function filled(n: number): Promise<{ api: FakeIpamApi; ipam: IpamService }> {
  const api = new FakeIpamApi();
  const ipam = service(api, pool("10.0.0.0/24", 28), 0.25);
  for (let i = 0; i < n; i++) await ipam.allocate(ask(`h${i}`));
  await ipam.preclaimSettled();
  return { api, ipam };
}

describe("IpamService pre-claim", () => {
  it("claims the next block in the background: the allocation past the first block claims nothing", async () => {
    // The 12th address left 3 free (of 15): the spare's claim is on its way.
    const { api, ipam } = await filled(12);
    expect([...api.blocks.values()].map((b) => b.spec.cidr).sort()).toEqual(["10.0.0.0/28", "10.0.0.16/28"]);
    // The first block holds 15 (its first address is the pool's own: never handed out unasked).
    for (let i = 12; i < 15; i++) await ipam.allocate(ask(`h${i}`));
    const claimsBefore = api.calls.filter((c) => c.startsWith("createBlock")).length;
    const a = await ipam.allocate(ask("h15"));
    expect(a[0]?.address).toBe("10.0.0.16");
    expect(api.calls.filter((c) => c.startsWith("createBlock")).length).toBe(claimsBefore);
  });

  it("without spareFraction, blocks are claimed only on demand", async () => {
    const api = new FakeIpamApi();
    const p = pool("10.0.0.0/24", 28);
    const ipam = service(api, p, undefined);
    for (let i = 0; i < 15; i++) await ipam.allocate(ask(`h${i}`));
    await ipam.preclaimSettled();
    expect(api.blocks.size).toBe(1);
  });

  it("an allocation that needs a block while the pre-claim is in flight waits for it: one claim, no duplicate address", async () => {
    // Each API call of the claim takes a while, so allocations overtake it.
    let slow = false;
    const api = new FakeIpamApi({
      before: async (op: FakeOp) => {
        if (slow && (op === "createBlock" || op === "listBlocks" || op === "createAffinity"))
          await new Promise((r) => setTimeout(r, 30));
      },
    });
    const p = pool("10.0.0.0/24", 28);
    const ipam = service(api, p, 0.25);
    for (let i = 0; i < 11; i++) await ipam.allocate(ask(`h${i}`));
    slow = true;
    // The 12th starts the pre-claim; the next 8 fill the first block and need the second.
    const rest = await Promise.all(Array.from({ length: 9 }, (_, i) => ipam.allocate(ask(`h${11 + i}`))));
    await ipam.preclaimSettled();
    const addrs = rest.map((r) => r[0]?.address);
    expect(new Set(addrs).size).toBe(9);
    expect(api.calls.filter((c) => c.startsWith("createBlock")).length).toBe(2);
    const all = [...api.blocks.values()].flatMap((b) =>
      b.spec.allocations.map((x) => `${b.spec.cidr}#${x.ordinal}`),
    );
    expect(new Set(all).size).toBe(20);
  });

  it("the spare block is kept by the empty-block release while the pool stays nearly full, and not after", async () => {
    const { api, ipam } = await filled(13);
    const spare = [...api.blocks.values()].find((b) => b.spec.cidr === "10.0.0.16/28")?.metadata.name ?? "";
    expect(ipam.isSpareBlock(spare)).toBe(true);
    await ipam.release(Array.from({ length: 13 }, (_, i) => `h${i}`));
    expect(ipam.isSpareBlock(spare)).toBe(false);
  });
});
