#!/usr/bin/env node
// BFD failover benchmark (RFC 5882): how long after a peer's packets stop do
// its learned routes leave the kernel, with BFD (100 ms x 3) and with the
// hold timer alone (hold time 3 s), side by side in one run.
//   scripts/bench-bfd                 20 cuts each (TRELLIS_BFD_CUTS=N to change)
// Two BIRD peers in namespaces, one with `bfd on`; a cut is an nft drop-all
// output chain in the peer's namespace; the clock stops when the route is gone
// from `ip route` in trellis-bgp's namespace (polled every 5 ms).
// Prints a markdown table and writes test/bench/results/bfd-failover.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import {
  NetLab,
  PROTO,
  TrellisDaemon,
  labSpeakerConfig,
  sh,
  sleep,
  until,
  untilAsync,
} from "../../bgp-interop/netlab.js";
import { birdNeighbour, type BirdNeighbour } from "../../bgp-interop/bird.js";

const CUTS = Number(process.env.TRELLIS_BFD_CUTS ?? 20);

interface Mode {
  name: string;
  /** The BIRD peer whose packets are cut, and the prefix it announces. */
  peer: BirdNeighbour;
  samples: number[];
}

/** Nearest-rank percentile (with 20 samples p99 is the largest). */
function pct(xs: number[], p: number): number {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

async function main(): Promise<void> {
  const modes: Mode[] = [
    {
      name: "BFD 100 ms x 3",
      peer: {
        name: "b",
        asn: 65102,
        routerId: "10.255.3.2",
        prefix: "10.240.0.0/24",
        bfd: { intervalMs: 100, multiplier: 3 },
      },
      samples: [],
    },
    {
      name: "hold timer only (3 s)",
      peer: { name: "h", asn: 65103, routerId: "10.255.3.3", prefix: "10.241.0.0/24" },
      samples: [],
    },
  ];
  const lab = new NetLab(
    "bfb",
    modes.map((m) => m.peer.name),
  );
  const started = Date.now();
  try {
    const neighbours = modes.map((m) => birdNeighbour(lab, m.peer));
    const trellis = new TrellisDaemon(
      lab,
      labSpeakerConfig({
        holdTime: 3,
        keepaliveTime: 1,
        restartBackoff: { initialMs: 300, maxMs: 600, jitter: 0 },
        peers: neighbours.map((n) => n.peer),
      }),
    );
    await Promise.all([trellis.start(), ...neighbours.map((n) => n.bird.start())]);
    const has = (prefix: string): boolean =>
      sh("ip", ["-n", lab.trellisNs, "route", "show", prefix, "proto", String(PROTO)]).includes(prefix);
    for (let i = 0; i < CUTS; i++) {
      for (const m of modes) {
        const link = lab.link(m.peer.name);
        const { prefix } = m.peer;
        await until(() => has(prefix), 60000, `${prefix} installed`);
        if (m.peer.bfd)
          await untilAsync(
            async () => (await trellis.peer(link.p4))?.bfd?.detectTimeMs === 300,
            20000,
            "BFD Up at 100 ms",
          );
        // A little settling, so the cut falls anywhere in the keepalive cycle.
        await sleep(300 + Math.floor(Math.random() * 700));
        sh("ip", [
          "netns",
          "exec",
          link.ns,
          "nft",
          "add table inet cut; add chain inet cut out { type filter hook output priority 0; policy drop; }",
        ]);
        const t0 = performance.now();
        try {
          while (has(prefix)) {
            if (performance.now() - t0 > 30000) throw new Error(`${m.name}: route still there after 30 s`);
            await sleep(5);
          }
          m.samples.push(Math.round(performance.now() - t0));
        } finally {
          sh("ip", ["netns", "exec", link.ns, "nft", "delete table inet cut"]);
        }
      }
      process.stderr.write(
        `cut ${i + 1}/${CUTS}: ${modes.map((m) => `${m.name} ${m.samples.at(-1)} ms`).join(", ")}\n`,
      );
    }
    await trellis.stop();
    const rows = modes.map((m) => ({
      mode: m.name,
      cuts: m.samples.length,
      p50Ms: pct(m.samples, 50),
      p99Ms: pct(m.samples, 99),
      minMs: Math.min(...m.samples),
      maxMs: Math.max(...m.samples),
      samplesMs: m.samples,
    }));
    const table = [
      "| mode | cuts | p50 ms | p99 ms | min ms | max ms |",
      "|---|---:|---:|---:|---:|---:|",
      ...rows.map((r) => `| ${r.mode} | ${r.cuts} | ${r.p50Ms} | ${r.p99Ms} | ${r.minMs} | ${r.maxMs} |`),
    ].join("\n");
    process.stdout.write(`${table}\n`);
    const out = {
      benchmark: "bfd-failover",
      what: "ms from nft drop of all the peer's output to its learned route gone from the kernel (trellis-bgp, BIRD 2 peers)",
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown" },
      durationSeconds: Math.round((Date.now() - started) / 1000),
      results: rows,
    };
    const dir = new URL("../../../../test/bench/results/", import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL("bfd-failover.json", dir), `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    lab.destroy();
  }
}

main().catch((e) => {
  process.stderr.write(`bench-bfd: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
