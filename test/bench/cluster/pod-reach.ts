/**
 * Measure 1: a pod's creation to its reachability from a pod on another
 * node. A client pod on node-2 runs the prober; each new pod on node-1 is
 * created through the API, its address taken from a watch the moment the
 * kubelet stand-in reports it, and the prober connects to it every 10 ms
 * until the pod's stack answers. Trellis and the reference ptp + host-local
 * lab alternate pod by pod, so machine noise hits both alike.
 */
import type { BenchLab } from "./bench-lab.js";
import { POD_PORT } from "./bench-lab.js";
import { ProbeClient } from "./probe-client.js";
import { clockMs } from "./probe-verdict.js";
import { WatchTimes, podIPv4 } from "./watch-times.js";

const NS = "bench-reach";

export interface ReachSamples {
  /** creation → first answer from the client's node, ms */
  reachableMs: number[];
  /** creation → the pod's IPv4 address seen in its status, ms */
  addressMs: number[];
}

interface Side {
  lab: BenchLab;
  client: ProbeClient;
  pods: WatchTimes;
}

async function openSide(lab: BenchLab): Promise<Side> {
  await lab.ensureNamespace(NS);
  const client = await lab.createPod({ namespace: NS, name: "client", node: "node-2" });
  await lab.waitRunning(NS, ["client"]);
  const pods = await WatchTimes.open(lab.api.baseUrl, `/api/v1/namespaces/${NS}/pods`, podIPv4);
  return { lab, client: new ProbeClient(client.netns), pods };
}

async function onePod(s: Side, i: number): Promise<{ reachableMs: number; addressMs: number }> {
  const name = `reach-${i}`;
  const t0 = clockMs();
  const pod = await s.lab.createPod({ namespace: NS, name, node: "node-1" });
  const ip = await s.pods.when(name, 60_000);
  const p = await s.client.probe({
    ip: ip.value,
    port: POD_PORT,
    want: "reach",
    intervalMs: 10,
    attemptTimeoutMs: 900,
    deadlineMs: 30_000,
  });
  if (!p.ok) throw new Error(`${s.lab.name}: ${name} (${ip.value}) not reachable from node-2 within 30 s`);
  const out = { reachableMs: p.at - t0, addressMs: ip.at - t0 };
  // One pod at a time: the next creation meets a quiet node.
  await s.lab.deletePod(NS, pod);
  return out;
}

export async function measurePodReach(
  labs: { trellis: BenchLab; reference: BenchLab },
  pods: number,
  log: (s: string) => void,
): Promise<{ trellis: ReachSamples; reference: ReachSamples }> {
  const sides = { trellis: await openSide(labs.trellis), reference: await openSide(labs.reference) };
  const out = {
    trellis: { reachableMs: [] as number[], addressMs: [] as number[] },
    reference: { reachableMs: [] as number[], addressMs: [] as number[] },
  };
  try {
    for (let i = 0; i < pods; i++) {
      const order = i % 2 === 0 ? (["trellis", "reference"] as const) : (["reference", "trellis"] as const);
      for (const who of order) {
        const r = await onePod(sides[who], i);
        out[who].reachableMs.push(r.reachableMs);
        out[who].addressMs.push(r.addressMs);
      }
      if ((i + 1) % 10 === 0 || i + 1 === pods) log(`pod reach: ${i + 1}/${pods} pods per lab`);
    }
  } finally {
    for (const s of Object.values(sides)) {
      s.client.close();
      s.pods.close();
    }
  }
  return out;
}
