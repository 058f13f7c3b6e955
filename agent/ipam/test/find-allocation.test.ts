/**
 * findAllocation answers from an index of handles (ipam-service.ts
 * blocksByHandle) instead of scanning every allocation of the cluster: it
 * must answer exactly what the scan answers, whatever the blocks did. A
 * seeded run of block versions (allocations added, moved, dropped, the
 * same handle in two blocks as a dual-stack pod's is), removals and
 * re-creations, checked against a scan of `allBlocks()` after every step.
 */
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import type { Allocation, IPAMBlock } from "../../../crds/ipam.js";
import { rng } from "../../../test/support/rng.js";
import { FakeIpamApi } from "../fake-ipam-api.js";
import { IpamService } from "../ipam-service.js";

const BLOCKS = 12;
const HANDLES = 40;

function block(i: number, rv: number, allocations: Allocation[]): IPAMBlock {
  return {
    apiVersion: "trellis.dev/v1alpha1",
    kind: "IPAMBlock",
    metadata: { name: `b${i}`, resourceVersion: String(rv) },
    spec: {
      cidr: `10.9.${i}.0/26`,
      pool: "p",
      affinity: `host:node-${i % 3}`,
      state: "confirmed",
      allocations,
    },
  } as IPAMBlock;
}

/** What findAllocation answered before it had an index: the first allocation with the handle. */
function scan(
  ipam: IpamService,
  handle: string,
): { namespace: string | undefined; pod: string | undefined } | undefined {
  for (const b of ipam.allBlocks())
    for (const a of b.spec.allocations)
      if (a.handle === handle) return { namespace: a.attributes?.namespace, pod: a.attributes?.pod };
  return undefined;
}

describe("findAllocation by the handle index", () => {
  it.each([1, 2, 3])("answers as a scan of every block would, seed %i", (seed) => {
    const r = rng(seed);
    const pick = (n: number) => Math.floor(r() * n);
    const ipam = new IpamService({
      api: new FakeIpamApi(),
      node: () => ({ name: "node-0", labels: {}, strictAffinity: false }),
      pools: () => [],
      log: pino({ level: "silent" }),
    });
    let rv = 1;
    for (let step = 0; step < 300; step++) {
      const i = pick(BLOCKS);
      if (r() < 0.15) ipam.forgetBlock(`b${i}`);
      else {
        // A new version of block i: a random set of handles at random ordinals.
        const n = pick(8);
        const allocations: Allocation[] = [];
        for (let o = 0; o < n; o++) {
          const h = pick(HANDLES);
          allocations.push({
            ordinal: o,
            handle: `h${h}`,
            attributes: { namespace: "ns", pod: `pod-${h}`, node: `node-${i % 3}` },
          });
        }
        ipam.observeBlock(block(i, ++rv, allocations));
      }
      for (let h = 0; h < HANDLES; h++) {
        const want = scan(ipam, `h${h}`);
        const got = ipam.findAllocation(`h${h}`);
        expect(got === undefined ? undefined : { ...got }).toEqual(want);
      }
    }
  });
});
