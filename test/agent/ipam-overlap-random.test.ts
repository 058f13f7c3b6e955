/**
 * Randomized, seeded: two IpamService instances (nodes n1, n2) share the lab
 * API server (in-process, real HTTP, real client-node) while pools of random
 * CIDRs and block sizes come and go inside small ranges of 10.77.0.0/16 and
 * fd00:77::/48 (so they overlap often, and a name is sometimes re-created
 * with another CIDR) and pods are allocated and released on both nodes at
 * once. Each node sees a pool change a random number of steps late (an
 * informer that lags), so their plans may disagree and only the claim
 * protocol keeps blocks apart. After every step, read back from the API server:
 *   - no address is held twice;
 *   - no two confirmed blocks overlap, and no claim is left pending;
 *   - every address allocated while the node's view of the pools was current
 *     (and the pool set has not changed since) lies in a confirmed block
 *     inside the CIDR of a currently valid pool of the block's name, and is
 *     held for the node that asked (its own block or one it borrowed from).
 * The seed is printed; replay one with TRELLIS_TEST_SEED=<seed>. Bounded in
 * steps (TRELLIS_TEST_STEPS, default 200) and in time (45 s).
 * TRELLIS_TEST_LAG sets how likely a node still misses a pool change per
 * step (default 0.85); TRELLIS_TEST_DEBUG=1 prints every refused request.
 */
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { type IPAMBlock, type IPPool, blockPending } from "../../crds/ipam.js";
import {
  type Prefix,
  contains,
  formatAddress,
  formatPrefix,
  overlaps,
  parsePrefix,
} from "../../net/address.js";
import type { PoolView } from "../../agent/ipam/block-allocator.js";
import { KubeIpamApi } from "../../agent/ipam/ipam-api.js";
import { KubeClient } from "../../agent/k8s/kube-client.js";
import { IpamService } from "../../agent/ipam/ipam-service.js";
import { poolVerdicts, poolViewsWithValidity } from "../../agent/ipam/pool-validity.js";
import { rng } from "../support/rng.js";
import { TestBed } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";

const bed = new TestBed("ir");
/** Claims that lost to an overlapping block: the protocol at work (counted from the service's log). */
let claimsLost = 0;
let claimsWon = 0;
const log = pino(
  { level: "info" },
  {
    write: (line: string) => {
      if (line.includes("block claim lost")) claimsLost++;
      if (line.includes("claimed block")) claimsWon++;
    },
  },
);
const SEED = Number(process.env["TRELLIS_TEST_SEED"] ?? Date.now() % 2 ** 31);
const STEPS = Number(process.env["TRELLIS_TEST_STEPS"] ?? 200);
const TIME_BUDGET_MS = 45_000;
const NAMES = ["r0", "r1", "r2", "r3"];
const NODES = ["n1", "n2"] as const;

/**
 * Where random pools are drawn: a pool of /length../longestPool inside the
 * space, with blocks of blockSizes[0]..[1] (never shorter than the pool).
 */
interface PoolSpace {
  family: 4 | 6;
  base: bigint;
  bits: number;
  length: number;
  longestPool: number;
  blockSizes: [number, number];
}
/** 10.77.0.0/23 */
const SPACE_V4: PoolSpace = {
  family: 4,
  base: (10n << 24n) | (77n << 16n),
  bits: 32,
  length: 23,
  longestPool: 27,
  blockSizes: [26, 30],
};
/** fd00:77::/118 */
const SPACE_V6: PoolSpace = {
  family: 6,
  base: 0xfd000077n << 96n,
  bits: 128,
  length: 118,
  longestPool: 123,
  blockSizes: [121, 126],
};
/** Chance that a node still has not seen a pool change, per step. */
const LAG = Number(process.env["TRELLIS_TEST_LAG"] ?? 0.85);

useTestBed(bed);

/**
 * The API with a random 0–3 ms delay before each call, so the two nodes'
 * claims (create, LIST, confirm) interleave in ever different orders.
 */
function withLatency<T extends object>(api: T, r: () => number): T {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      // A kind's objects (ipamBlocks, blockAffinities): their calls are delayed too.
      if (typeof v === "object" && v !== null) return withLatency(v, r);
      if (typeof v !== "function") return v;
      return async (...args: unknown[]) => {
        await new Promise((res) => setTimeout(res, Math.floor(r() * 4)));
        return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

interface Held {
  node: string;
  addresses: string[];
  /** The pool set had last changed at this epoch when the address was allocated. */
  epoch: number;
}

describe(`IPAM with overlapping pools, randomized (seed ${SEED})`, () => {
  it("never hands out an address twice, never confirms overlapping blocks, allocates only from valid pools", async () => {
    process.stderr.write(`ipam-overlap-random: seed ${SEED} (replay: TRELLIS_TEST_SEED=${SEED})\n`);
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    const api = new KubeIpamApi(KubeClient.fromFile(bed.kubeconfig));
    let poolObjs: IPPool[] = [];
    let current: PoolView[] = [];
    let epoch = 0;
    /** Each node's view of the pools and the epoch it is from. */
    const view = Object.fromEntries(NODES.map((n) => [n, { pools: [] as PoolView[], epoch: 0 }]));
    const refreshPools = async (): Promise<void> => {
      poolObjs = await api.listPools();
      current = poolViewsWithValidity(poolObjs).views;
      epoch++;
    };
    const catchUp = (lagProbability: number): void => {
      for (const n of NODES) {
        const v = view[n];
        if (v !== undefined && v.epoch !== epoch && r() >= lagProbability) {
          v.pools = current;
          v.epoch = epoch;
        }
      }
    };
    const svc = Object.fromEntries(
      NODES.map((n) => [
        n,
        new IpamService({
          api: withLatency(
            new KubeIpamApi(KubeClient.fromFile(bed.kubeconfig)),
            rng(SEED + (n === "n1" ? 1 : 2)),
          ),
          node: () => ({ name: n, labels: {}, strictAffinity: false }),
          pools: () => [...(view[n]?.pools ?? []), ...(ghost.get(n) ?? [])],
          log,
        }),
      ]),
    ) as Record<(typeof NODES)[number], IpamService>;
    const held = new Map<string, Held>();
    /**
     * A pool only one node believes in for one step (one created and deleted
     * again before the other node's informer saw it): the nodes then plan
     * overlapping claims of different sizes at the same moment, which only
     * the claim protocol keeps apart.
     */
    const ghost = new Map<string, PoolView[]>();
    let nextHandle = 0;
    const trace: string[] = [];

    const randomPool = (): { cidr: string; blockSize: number } => {
      const s = r() < 0.6 ? SPACE_V4 : SPACE_V6;
      const prefix = int(s.length, s.longestPool);
      const slots = 1 << (prefix - s.length);
      const c: Prefix = {
        family: s.family,
        base: s.base + BigInt(int(0, slots - 1)) * (1n << BigInt(s.bits - prefix)),
        length: prefix,
      };
      return { cidr: formatPrefix(c), blockSize: int(Math.max(prefix, s.blockSizes[0]), s.blockSizes[1]) };
    };

    const randomAddress = (): string =>
      r() < 0.6
        ? formatAddress({ family: 4, value: ((10n << 24n) | (77n << 16n)) + BigInt(int(0, 511)) })
        : formatAddress({ family: 6, value: (0xfd000077n << 96n) + BigInt(int(0, 1023)) });

    const check = async (step: number): Promise<void> => {
      const where = `seed ${SEED}, step ${step} (${trace[trace.length - 1] ?? ""})`;
      const blocks: IPAMBlock[] = await api.ipamBlocks.list();
      const parsed = blocks.map((b) => ({ b, c: parsePrefix(b.spec.cidr) as Prefix }));
      const pending = blocks.filter(blockPending).map((b) => b.spec.cidr);
      expect({ where, pending }).toEqual({ where, pending: [] });
      for (let i = 0; i < parsed.length; i++)
        for (let j = i + 1; j < parsed.length; j++) {
          const x = parsed[i];
          const y = parsed[j];
          if (x === undefined || y === undefined) continue;
          if (overlaps(x.c, y.c))
            throw new Error(`${where}: confirmed blocks ${x.b.spec.cidr} and ${y.b.spec.cidr} overlap`);
        }
      const seen = new Map<string, string>();
      const byHandle = new Map<string, { address: string; block: IPAMBlock; node: string | undefined }[]>();
      for (const { b, c } of parsed) {
        for (const a of b.spec.allocations) {
          const address = formatAddress({ family: c.family, value: c.base + BigInt(a.ordinal) });
          const prior = seen.get(address);
          if (prior !== undefined)
            throw new Error(`${where}: ${address} held twice (${prior} and ${a.handle})`);
          seen.set(address, a.handle);
          const list = byHandle.get(a.handle) ?? [];
          list.push({ address, block: b, node: a.attributes?.node });
          byHandle.set(a.handle, list);
        }
      }
      const verdicts = new Map(poolVerdicts(poolObjs).map((v) => [v.name, v]));
      for (const [handle, h] of held) {
        const stored = byHandle.get(handle) ?? [];
        // What the service answered is what the API holds.
        expect({ where, handle, addresses: stored.map((s) => s.address).sort() }).toEqual({
          where,
          handle,
          addresses: [...h.addresses].sort(),
        });
        if (h.epoch !== epoch) continue;
        for (const s of stored) {
          const v = verdicts.get(s.block.spec.pool);
          const bc = parsePrefix(s.block.spec.cidr) as Prefix;
          if (v === undefined || v.invalid !== undefined || v.cidr === undefined || !contains(v.cidr, bc))
            throw new Error(
              `${where}: ${s.address} (${handle}) is in block ${s.block.spec.cidr} of pool ${s.block.spec.pool}, which is ${v === undefined ? "deleted" : (v.invalid ?? "not around the block")}`,
            );
          if (s.node !== h.node)
            throw new Error(`${where}: ${s.address} is held for ${s.node ?? "?"}, not ${h.node}`);
        }
      }
    };

    const started = Date.now();
    let allocated = 0;
    let step = 0;
    for (; step < STEPS && Date.now() - started < TIME_BUDGET_MS; step++) {
      // The watches, most of the time: each node re-reads the blocks and may see the pools.
      for (const n of NODES) if (r() < 0.3) await svc[n].load();
      catchUp(LAG);
      const roll = r();
      if (roll < 0.3) {
        const name = pick(NAMES);
        const old = poolObjs.find((p) => p.metadata.name === name);
        const del = () =>
          bed.custom.deleteClusterCustomObject({
            group: "trellis.dev",
            version: "v1alpha1",
            plural: "ippools",
            name,
          });
        if (old !== undefined && r() < 0.4) {
          // Re-create it with another block size (how an operator "edits" one):
          // nodes that have not seen it yet claim blocks of the old size over
          // the same range as those that have.
          const c = parsePrefix(old.spec.cidr) as Prefix;
          const [lo, hi] = c.family === 4 ? [Math.max(c.length, 26), 30] : [Math.max(c.length, 121), 126];
          const blockSize = int(lo, hi);
          await del();
          await bed.createPool(name, { cidr: old.spec.cidr, blockSize });
          trace.push(`re-create pool ${name} ${old.spec.cidr} /${blockSize}`);
        } else if (old !== undefined) {
          await del();
          trace.push(`delete pool ${name}`);
        } else {
          const spec = randomPool();
          await bed.createPool(name, spec);
          trace.push(`create pool ${name} ${spec.cidr} /${spec.blockSize}`);
        }
        await refreshPools();
        catchUp(LAG);
      } else if (roll < 0.75) {
        const jobs: Promise<void>[] = [];
        const what: string[] = [];
        ghost.clear();
        for (const n of NODES) {
          if (r() >= 0.3) continue;
          // Mostly the very range of a pool the other node uses, cut into blocks of another size.
          const twin = current.length > 0 && r() < 0.7 ? pick(current) : undefined;
          const spec =
            twin !== undefined
              ? {
                  cidr: formatPrefix(twin.cidr),
                  blockSize:
                    twin.cidr.family === 4
                      ? int(Math.max(twin.cidr.length, 26), 30)
                      : int(Math.max(twin.cidr.length, 121), 126),
                }
              : randomPool();
          const v = poolViewsWithValidity([{ metadata: { name: `ghost-${n}` }, spec }]).views;
          ghost.set(n, v);
          what.push(`${n} imagines pool ghost-${n} ${spec.cidr} /${spec.blockSize}`);
        }
        for (let k = int(2, 16); k > 0; k--) {
          const node = pick(NODES);
          const handle = `h${nextHandle++}.eth0`;
          const kind = r();
          const imagined = ghost.get(node)?.[0];
          const names =
            imagined !== undefined && r() < 0.5 ? [imagined.name] : kind < 0.25 ? [pick(NAMES)] : undefined;
          const ips = kind >= 0.25 && kind < 0.4 ? [randomAddress()] : [];
          // Mostly the family the named pool has (a wrong one is refused, which is fine too).
          const named = names?.[0];
          const fam = [...(ghost.get(node) ?? []), ...current].find((p) => p.name === named)?.cidr.family;
          const v6 = names !== undefined ? ((fam ?? (r() < 0.5 ? 6 : 4)) === 6 ? names : []) : undefined;
          const v4 = names !== undefined ? (v6 !== undefined && v6.length > 0 ? [] : names) : undefined;
          what.push(
            `${node}:${handle}${names ? ` pools ${names.join()}` : ""}${ips.length ? ` ip ${ips.join()}` : ""}`,
          );
          const at = ghost.has(node) ? -1 : (view[node]?.epoch ?? -1);
          jobs.push(
            svc[node]
              .allocate({
                handle,
                requestedIps: ips,
                poolNames: { 4: v4, 6: v6 },
                namespaceLabels: {},
                attributes: { containerID: handle, ifname: "eth0" },
              })
              .then(
                (got) => {
                  allocated += got.length;
                  held.set(handle, { node, addresses: got.map((g) => g.address), epoch: at });
                },
                (e: unknown) => {
                  if (process.env["TRELLIS_TEST_DEBUG"])
                    process.stderr.write(`refused ${handle}: ${String(e)}\n`);
                }, // exhausted, invalid or taken: refusals are fine, duplicates are not
              ),
          );
        }
        await Promise.all(jobs);
        ghost.clear();
        trace.push(`allocate ${what.join(", ")}`);
      } else if (roll < 0.9) {
        const handles = [...held.keys()].filter(() => r() < 0.5);
        await Promise.all(
          handles.map(async (h) => {
            const node = held.get(h)?.node as (typeof NODES)[number];
            await svc[node].release([h]);
            held.delete(h);
          }),
        );
        trace.push(`release ${handles.join(", ")}`);
      } else {
        // Housekeeping: empty affine blocks go (no grace here).
        const released: string[] = [];
        for (const n of NODES) {
          await svc[n].load();
          for (const b of svc[n].affineBlocks())
            if (b.spec.allocations.length === 0 && (await svc[n].releaseBlock(b.metadata.name)))
              released.push(b.spec.cidr);
        }
        trace.push(`release empty blocks ${released.join(", ")}`);
      }
      await check(step);
    }
    process.stderr.write(
      `ipam-overlap-random: seed ${SEED}: ${step} steps, ${allocated} addresses allocated, ${claimsWon} claims won, ${claimsLost} lost to overlapping blocks, ${poolObjs.length} pools at the end\n`,
    );
    expect(step).toBeGreaterThan(10);
    expect(allocated).toBeGreaterThan(0);
  }, 90_000);
});
