/**
 * Measure 2: a block claim to the ToR holding its route. A pool of /31
 * blocks for node-1, drawn from only through the `trellis.dev/ipv4pools`
 * annotation (its namespaceSelector matches no namespace but the bench's),
 * makes a new block every second pod or so; a pod whose block was already
 * there is a filler and is not counted. Times, on the bench's clock: the
 * pod's creation, the IPAMBlock's arrival on a watch (the claim), and the
 * block's first appearance in the ToR BIRD's RIB (`birdc show route in`,
 * polled every 20 ms).
 *
 * Not /32 blocks: the agent's blackhole for a /32 block is the same prefix
 * as its one pod's host route and shadows it (the pod is unreachable), so
 * the smallest block that works today is a /31.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { canonicalPrefix } from "../../../net/address.js";
import type { BenchLab } from "./bench-lab.js";
import { clockMs } from "./probe-verdict.js";
import { WatchTimes, blockCidr, podIPv4 } from "./watch-times.js";

const NS = "bench-claim";
export const CLAIM_POOL = { name: "bench-claim", cidr: "10.250.0.0/24", blockSize: 31 };
const CLAIM_LABEL = { key: "bench-claims", value: "yes" };

export interface ClaimSamples {
  /** the IPAMBlock seen → its route in the ToR's RIB, ms */
  claimToTorMs: number[];
  /** the pod's creation → its block's route in the ToR's RIB, ms */
  podToTorMs: number[];
}

/** An IPAMBlock's name: its CIDR with every `.`, `:` and `/` a `-` (as the agent names them). */
export function blockName(cidr: string): string {
  return cidr.replace(/[.:/]/g, "-");
}

/** The block of `blockSize` that holds `ip`, as a CIDR (net/address.ts masks the host bits). */
export function blockOf(ip: string, blockSize: number): string {
  const c = canonicalPrefix(`${ip}/${blockSize}`);
  if (typeof c !== "string") throw new Error(`${ip}/${blockSize}: ${c.error}`);
  return c;
}

export async function measureBlockClaims(
  lab: BenchLab,
  claims: number,
  log: (s: string) => void,
): Promise<ClaimSamples> {
  await lab.api.request("POST", "/apis/trellis.dev/v1alpha1/ippools", {
    apiVersion: "trellis.dev/v1alpha1",
    kind: "IPPool",
    metadata: { name: CLAIM_POOL.name },
    spec: {
      cidr: CLAIM_POOL.cidr,
      blockSize: CLAIM_POOL.blockSize,
      nodeSelector: "kubernetes.io/hostname == node-1",
      // Pods of other namespaces on node-1 keep their lab pool (the unannotated
      // choice is the first eligible pool by name, agent/ipam/block-allocator.ts).
      namespaceSelector: `${CLAIM_LABEL.key} == ${CLAIM_LABEL.value}`,
    },
  });
  await lab.ensureNamespace(NS, { [CLAIM_LABEL.key]: CLAIM_LABEL.value });
  const pods = await WatchTimes.open(lab.api.baseUrl, `/api/v1/namespaces/${NS}/pods`, podIPv4);
  const blocks = await WatchTimes.open(lab.api.baseUrl, "/apis/trellis.dev/v1alpha1/ipamblocks", blockCidr);
  const torSeen = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const rib = await lab.torRib(CLAIM_POOL.cidr);
      const at = clockMs();
      for (const p of rib) if (!torSeen.has(p)) torSeen.set(p, at);
      await sleep(20);
    }
  })();
  const out: ClaimSamples = { claimToTorMs: [], podToTorMs: [] };
  try {
    // /31 blocks: about every second pod claims; bounded at 2 pods per claim and a few more.
    const runStart = clockMs();
    const counted = new Set<string>();
    for (let i = 0; out.claimToTorMs.length < claims; i++) {
      if (i >= 2 * claims + 4) throw new Error(`${i} pods made only ${out.claimToTorMs.length} claims`);
      const name = `claim-${i}`;
      const t0 = clockMs();
      await lab.createPod({
        namespace: NS,
        name,
        node: "node-1",
        annotations: { "trellis.dev/ipv4pools": JSON.stringify([CLAIM_POOL.name]) },
      });
      const ip = await pods.when(name, 60_000);
      const cidr = blockOf(ip.value, CLAIM_POOL.blockSize);
      const claimed = await blocks.when(blockName(cidr), 30_000);
      // Each block claimed during the run counts once. The agent pre-claims the
      // next block when one runs low (agent/ipam), so a block is usually
      // claimed before the pod that uses it exists: its pod → ToR time is 0.
      if (claimed.at < runStart || counted.has(cidr)) continue; // a filler
      counted.add(cidr);
      const deadline = clockMs() + 30_000;
      while (!torSeen.has(cidr)) {
        if (clockMs() > deadline) throw new Error(`${cidr} not in the ToR's RIB within 30 s`);
        await sleep(10);
      }
      const torAt = torSeen.get(cidr) ?? 0;
      out.claimToTorMs.push(torAt - claimed.at);
      out.podToTorMs.push(Math.max(0, torAt - t0));
      const n = out.claimToTorMs.length;
      if (n % 10 === 0 || n === claims) log(`block claims: ${n}/${claims}`);
    }
  } finally {
    polling = false;
    await poller;
    pods.close();
    blocks.close();
  }
  return out;
}
