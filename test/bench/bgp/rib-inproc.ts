#!/usr/bin/env node
// In-process RIB harness (issue 12): the benchmark's UPDATEs (generator.ts,
// ~1000 /24s per message) decoded by bgp/wire and fed to one bgp/rib `Rib`,
// with `takeChanges()` after every batch of messages as the speaker does after
// each socket read. No sockets, no namespaces: it isolates decode + import +
// decision + change stream, for profiling (`node --cpu-prof`,
// `--heap-snapshot-signal`) and for comparing data layouts quickly.
//   node dist/test/bench/bgp/rib-inproc.js [prefixes=1000000] [batch=16] [fib|nofib|fibsync]
// (nofib: takeChanges({ fib: false }), as trellis-bgp runs with its FIB off,
// the benchmark's RIB column; fibsync: the change list also goes into the
// FIB's pure core as KernelFib feeds it, `setGateways` per change and then
// `takeOps(4096)` until nothing is pending, the operations dropped where the
// driver would encode them: the FIB column's work short of the kernel)
// Prints one JSON line: ms (decode+RIB), heap and external MB after GC, and the peak of
// the V8 heap's committed size plus external memory, sampled after each batch
// (run with --expose-gc so the injector's encoding is collected first).
import { decodeMessage } from "../../../bgp/wire/index.js";
import type { UpdateMessage } from "../../../bgp/wire/index.js";
import { Rib } from "../../../bgp/rib/index.js";
import { FibSync } from "../../../bgp/fib/index.js";
import { encodePeerUpdates } from "./generator.js";

export interface InprocResult {
  prefixes: number;
  ms: number;
  cpuMs: number;
  decodeMs: number;
  fibChanges: number;
  /** fibsync mode: kernel operations taken from FibSync, and the wall ms spent in it (included in ms) */
  fibOps?: number;
  fibMs?: number;
  heapMB: number;
  /** external memory after GC (typed arrays: the RIB's and FibSync's columns, which heapMB leaves out) */
  extMB: number;
  /** peak of V8 heap committed + external during the run */
  peakMB: number;
}

export type InprocMode = "fib" | "nofib" | "fibsync";

/** operations per takeOps(), KernelFib's default batchSize */
const FIB_BATCH = 4096;

export function runInproc(prefixes: number, batch: number, mode: InprocMode = "fib"): InprocResult {
  const fib = mode !== "nofib";
  const core = mode === "fibsync" ? new FibSync() : undefined;
  core?.reconcile([]); // KernelFib.start() on an empty kernel
  let fibOps = 0;
  let fibMs = 0;
  const opts = {
    target: "192.0.2.1",
    port: 179,
    targetAsn: 65000,
    peers: 1,
    prefixes,
    localBase: "192.0.2.2",
    asnBase: 65100,
    overlap: false,
    holdTime: 90,
  };
  const msgs = encodePeerUpdates(opts, 0);
  const rib = new Rib({ asn: 65000, routerId: "192.0.2.1" });
  rib.addPeer({ id: "192.0.2.2", address: "192.0.2.2", asn: 65100 });
  rib.peerUp("192.0.2.2", {
    routerId: "192.0.2.2",
    localAddress: { ipv4: "192.0.2.1" },
    families: [{ afi: 1, safi: 1 }],
  });
  rib.takeChanges();
  let fibChanges = 0;
  let decodeMs = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  // The encoding above is the injector's work: sample RSS from here on.
  if (gc) gc();
  // RSS would still hold the injector's freed pages: track the V8 heap's
  // committed size plus external memory (typed arrays, Buffers) instead.
  const used = (): number => {
    const m = process.memoryUsage();
    return m.heapTotal + m.external;
  };
  let peak = used();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < msgs.length; i++) {
    const d0 = performance.now();
    const m = decodeMessage(msgs[i]!, { fourOctetAs: true }) as UpdateMessage;
    decodeMs += performance.now() - d0;
    rib.update("192.0.2.2", m, Date.now());
    if (i % batch === batch - 1 || i === msgs.length - 1) {
      const changes = rib.takeChanges({ fib }).fib;
      fibChanges += changes.length;
      if (core !== undefined) {
        const f0 = performance.now();
        for (const c of changes) core.setGateways(c.prefix, c.nexthops);
        while (core.pendingCount > 0) fibOps += core.takeOps(FIB_BATCH).length;
        fibMs += performance.now() - f0;
      }
      peak = Math.max(peak, used());
    }
  }
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  // CPU time of the whole process (GC helper threads included): on a loaded machine it varies far less than wall time
  const cpuMs = (c.user + c.system) / 1000;
  if (rib.bestCount() !== prefixes) throw new Error(`Loc-RIB holds ${rib.bestCount()} of ${prefixes}`);
  if (gc) gc();
  const after = process.memoryUsage();
  const heapMB = after.heapUsed / 2 ** 20;
  const extMB = after.external / 2 ** 20;
  const peakMB = peak / 2 ** 20;
  if (core === undefined) return { prefixes, ms, cpuMs, decodeMs, fibChanges, heapMB, extMB, peakMB };
  // read after the heap figure, so the FIB's state is live when it is taken
  if (core.installedCount !== prefixes)
    throw new Error(`FIB installed ${core.installedCount} of ${prefixes}`);
  return { prefixes, ms, cpuMs, decodeMs, fibChanges, fibOps, fibMs, heapMB, extMB, peakMB };
}

if (process.argv[1]?.endsWith("rib-inproc.js")) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const batch = Number(process.argv[3] ?? 16);
  if (!Number.isInteger(n) || n < 1 || n > 16_000_000)
    throw new Error(`prefixes "${process.argv[2]}": 1..16000000`);
  if (!Number.isInteger(batch) || batch < 1)
    throw new Error(`batch "${process.argv[3]}": a positive integer`);
  const mode = process.argv[4] ?? "fib";
  if (mode !== "fib" && mode !== "nofib" && mode !== "fibsync")
    throw new Error(`"${mode}": fib, nofib or fibsync`);
  const r = runInproc(n, batch, mode);
  console.log(
    JSON.stringify({
      ...r,
      ms: Math.round(r.ms),
      cpuMs: Math.round(r.cpuMs),
      decodeMs: Math.round(r.decodeMs),
      ...(r.fibMs === undefined ? {} : { fibMs: Math.round(r.fibMs) }),
      heapMB: Math.round(r.heapMB),
      extMB: Math.round(r.extMB),
      peakMB: Math.round(r.peakMB),
    }),
  );
}
