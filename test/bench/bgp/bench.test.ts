// CI smoke run of the BGP benchmark (1×10k; TRELLIS_BENCH_FULL sizes run only
// through scripts/bench-bgp): every target must converge, the generator must
// outpace every target, and the table must be printable. Root only (netns).
import { describe, it, expect, afterAll } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodePeerUpdates, benchPrefix } from "./generator.js";
import { formatTable, runOne, setup, teardown } from "./harness.js";
import type { RunResult } from "./harness.js";
import { TARGETS, shebangNodeFlags, trellis } from "./targets.js";
import { runInproc } from "./rib-inproc.js";
import { commandLine } from "../../../lab/daemon.js";

const NS = { target: "tRbjT", gen: "tRbjG" };
const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));

afterAll(() => teardown(NS));

describe("how the daemon is started", () => {
  it("trellis-bgp runs with the node flags of its own #! line (like for like with running it as a command)", async () => {
    const bin = join(repoRoot, "dist/bgp/bin/trellis-bgp.js");
    const flags = shebangNodeFlags(bin);
    expect(flags).toEqual(["--max-semi-space-size=2", "--v8-pool-size=1"]);
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-shebang-"));
    const peers = setup(1, NS);
    const daemon = await trellis.start({ netns: NS.target, dir, peers, fib: false, repoRoot });
    try {
      // `ip netns exec` execs node in place: the pid is the daemon's node process.
      const [pid] = daemon.pids();
      const argv = commandLine(pid ?? -1);
      expect(argv.slice(1, argv.indexOf(bin))).toEqual(flags);
    } finally {
      await daemon.stop();
      teardown(NS);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("in-process RIB harness", () => {
  it("feeds decoded UPDATEs to one Rib until the Loc-RIB holds every prefix", () => {
    const r = runInproc(20_000, 4);
    expect(r.prefixes).toBe(20_000);
    expect(r.fibChanges).toBe(20_000);
  });
});

describe("route generator", () => {
  it("pre-encodes N prefixes with one attribute set into at most ceil(N/1000) UPDATEs", () => {
    const o = {
      target: "10.200.0.1",
      port: 179,
      targetAsn: 65000,
      peers: 2,
      prefixes: 10_000,
      localBase: "10.200.0.10",
      asnBase: 65100,
      overlap: false,
      holdTime: 180,
    };
    const u = encodePeerUpdates(o, 1);
    expect(u.length).toBeLessThanOrEqual(10);
    expect(u.every((b) => b.length <= 4096)).toBe(true);
    expect(benchPrefix(0)).toBe("32.0.0.0/24");
    expect(benchPrefix(65536)).toBe("33.0.0.0/24");
  });
});

describe("bench-bgp smoke (1×10k, all targets, RIB and FIB columns)", () => {
  const results: RunResult[] = [];
  const runs = [
    ...TARGETS.map((t) => [t.name, "rib", t] as const),
    ...TARGETS.filter((t) => t.fibProto !== undefined).map((t) => [t.name, "fib", t] as const),
  ];
  it.each(runs)(
    "%s reaches the %s milestone",
    async (_name, column, target) => {
      const r = await runOne(
        target,
        { peers: 1, prefixes: 10_000 },
        { repoRoot, column, overlap: false, timeoutMs: 60_000, ns: NS },
      );
      results.push(r);
      expect(r.error ?? "").toBe("");
      expect(r.ok).toBe(true);
      expect(r.column).toBe(column);
      // at least the read that saw every path (or route) was made and timed
      expect(r.poll!.reads).toBeGreaterThanOrEqual(1);
      // the generator is never the bottleneck: it reported its send time
      // (-1: no report within 1 s), and that is shorter than the milestone's
      expect(r.generatorSendMs).toBeGreaterThanOrEqual(0);
      expect(r.generatorSendMs!).toBeLessThan(r.ms!);
    },
    90_000,
  );
  afterAll(() => {
    if (results.length > 0) process.stderr.write(`${formatTable(results)}\n`);
  });
});
