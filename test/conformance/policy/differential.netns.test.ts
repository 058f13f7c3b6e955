/**
 * Differential test: seeded random policy sets; the real probe results
 * through the compiled rules must equal the reference evaluator's verdicts
 * for every pod pair on TCP/80 and UDP/81. CI runs a fixed seed count
 * (TRELLIS_DIFF_SEEDS to run more; TRELLIS_DIFF_SEED_BASE to move the window).
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { NetnsCluster } from "./netns-cluster.js";
import { generate } from "./generator.js";
import { loadCluster } from "../../../policy/model/load.js";
import { verdictFor } from "./reachability.js";
import type { Protocol } from "../../../policy/model/objects.js";

const NET = 74;
const cluster = new NetnsCluster("tPdf", NET);
const ipOf = (k: string) => cluster.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string;
const SEEDS = Number(process.env["TRELLIS_DIFF_SEEDS"] ?? 12);
const BASE = Number(process.env["TRELLIS_DIFF_SEED_BASE"] ?? 1);
const PROBES: [number, Protocol][] = [
  [80, "TCP"],
  [81, "UDP"],
];

describe("differential: compiled rules vs reference evaluator", () => {
  beforeAll(async () => {
    await cluster.up();
  }, 120_000);
  afterAll(() => cluster.down());

  for (let seed = BASE; seed < BASE + SEEDS; seed++) {
    const g = generate(seed, NET, ipOf);
    it(
      g.name,
      async () => {
        const docs = [...cluster.baseDocs(), ...g.docs];
        await cluster.apply(docs);
        const c = loadCluster(docs);
        const results = await Promise.all(PROBES.map(([port, proto]) => cluster.probeAll(port, proto)));
        const diffs: string[] = [];
        PROBES.forEach(([port, protocol], i) => {
          for (const [key, r] of results[i] ?? []) {
            const v = verdictFor(c, key, { port, protocol });
            if (v === undefined) continue;
            if (v.allowed !== (r === "connected")) {
              diffs.push(
                `${protocol}/${port} ${key}: evaluator ${v.allowed ? "allows" : "denies"} (${v.decidedBy?.tier} ${v.decidedBy?.policy ?? ""}), probe ${r}`,
              );
            }
          }
        });
        if (diffs.length > 0) diffs.unshift(JSON.stringify(g.docs));
        expect(diffs).toEqual([]);
      },
      60_000,
    );
  }
});
