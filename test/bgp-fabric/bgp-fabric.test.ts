// End to end, as root: the lab as a BGP fabric (issue 9). trellis-node on every
// node advertises its blocks to the ToR (BIRD, eBGP) and to the other nodes
// (iBGP mesh, or route reflectors), and installs what it learns (proto 202).
// Real traffic between pod namespaces, IPv4 and IPv6, with no static pod route
// anywhere; a released block withdrawn within a second; a reflector lost; the
// agents of both ends of an iperf3 stream killed -9 and restarted, one after
// the other, without a stall over a second; an agent stopped longer than the
// hold time withdrawn, then restored. Faults: faults.test.ts.
import { describe, expect, it } from "@jest/globals";
import { setTimeout as sleep } from "node:timers/promises";
import { isReservation } from "../../agent/ipam/reservations.js";
import { isAlive } from "../../lab/daemon.js";
import { labLayout } from "../../lab/lab-layout.js";
import { run } from "../lab/lab-commands.js";
import {
  LEARNED,
  LOCAL,
  allPairs,
  killAndRestart,
  labForSuite,
  learnedEverywhere,
  pingGap,
  waitFor,
} from "./fabric-lab.js";

/** Routes that carry pod traffic and are not BGP's (ToR: proto bird; node: 202 learned, 201 its own). */
function staticPodRoutes(lines: string[], where: "tor" | "node"): string[] {
  return lines.filter((l) => {
    if (!/^(blackhole )?(10\.244\.|fd00:10:244:)/.test(l)) return false;
    return where === "tor" ? !/proto bird/.test(l) : !(LOCAL.test(l) || LEARNED.test(l));
  });
}

/**
 * The iperf3 stream across the restarts: long enough for two kill -9 + resync
 * rounds. On a loaded machine (two suites beside each other on 2 cores) the two
 * took 49.8 s, so 40 s was too short.
 */
const IPERF_SECONDS = 60;
const IPERF_INTERVAL_S = 0.2;
/** Pings every 100 ms, both families, over most of the stream. */
const PINGS = (IPERF_SECONDS - 5) * 10;

/** A receiver's `iperf3 -J` report: how many intervals, how long, the longest run of empty ones. */
function iperfReport(json: string): {
  intervals: number;
  seconds: number;
  longestZeroS: number;
  lowestBps: number;
} {
  const r = JSON.parse(json) as {
    intervals?: { sum: { seconds: number; bytes: number; bits_per_second: number } }[];
    error?: string;
  };
  if (r.intervals === undefined) throw new Error(`iperf3: ${r.error ?? "no intervals"}`);
  let longest = 0;
  let cur = 0;
  let seconds = 0;
  for (const i of r.intervals) {
    seconds += i.sum.seconds;
    cur = i.sum.bytes === 0 ? cur + i.sum.seconds : 0;
    longest = Math.max(longest, cur);
  }
  return {
    intervals: r.intervals.length,
    seconds,
    longestZeroS: longest,
    lowestBps: Math.min(...r.intervals.map((i) => i.sum.bits_per_second)),
  };
}

describe("BGP fabric: full mesh (3 nodes)", () => {
  const { lab, pods } = labForSuite(3, "fabric");

  it("pods on every node reach pods on every other node over IPv4 and IPv6", async () => {
    expect(await allPairs(pods)).toEqual([]);
  }, 60_000);

  it("no static pod route anywhere: the ToR's are proto bird, the nodes' learned ones proto 202", async () => {
    const all = ["node-1", "node-2", "node-3"];
    // every other node's blocks are learned by BGP (iBGP converges a moment after the claim)
    const t0 = Date.now();
    await waitFor(
      "every block learned on every node",
      async () => ((await learnedEverywhere(lab, all)).length === 0 ? true : undefined),
      10_000,
    );
    process.stderr.write(`mesh: every block on every node ${Date.now() - t0} ms after the pods ran\n`);
    for (const fam of ["-4", "-6"] as const) {
      expect(staticPodRoutes(await lab.routes("tor", fam), "tor")).toEqual([]);
      for (const node of all) expect(staticPodRoutes(await lab.routes(node, fam), "node")).toEqual([]);
    }
  }, 60_000);

  it("the ToR's BIRD holds each node's blocks as BGP routes from that node", async () => {
    const L = labLayout(lab.dir);
    const r = await run("birdc", ["-s", L.birdSocket, "show", "route", "all"]);
    for (const [owner, cidrs] of await lab.blocks()) {
      const i = owner.replace("node-", "");
      for (const c of cidrs) {
        const proto = c.includes(":") ? `node_${i}_v6` : `node_${i}`;
        expect(r.out).toMatch(new RegExp(`${c.replace(/[.:/]/g, (m) => `\\${m}`)}\\s+unicast \\[${proto} `));
      }
    }
  }, 30_000);

  it("a BGPConfiguration change applies at once, without restarting the agents or resetting sessions", async () => {
    const L = labLayout(lab.dir);
    const since = async (): Promise<string[]> => {
      const r = await run("birdc", ["-s", L.birdSocket, "show", "protocols"]);
      return r.out
        .split("\n")
        .filter((l) => /^node_\d/.test(l))
        .map((l) => l.split(/\s+/).slice(0, 5).join(" "));
    };
    const before = await since();
    const pids = [1, 2, 3].map((i) => lab.agentPid(`node-${i}`));
    const patch = JSON.stringify({
      spec: {
        communities: [{ name: "pods", value: "64512:100" }],
        prefixAdvertisements: [{ cidr: "10.244.0.0/16", communities: ["pods"] }],
      },
    });
    const r = await lab.kubectl("patch", "bgpconfiguration", "default", "--type=merge", "-p", patch);
    expect(r.code).toBe(0);
    const block = ((await lab.blocks()).get("node-1") ?? []).find((c) => !c.includes(":")) as string;
    await waitFor(
      "the community on the ToR",
      async () => {
        const rt = await run("birdc", ["-s", L.birdSocket, "show", "route", "all", block]);
        return /BGP\.community:.*\(64512,100\)/.test(rt.out) ? true : undefined;
      },
      10_000,
    );
    expect(await since()).toEqual(before);
    expect([1, 2, 3].map((i) => lab.agentPid(`node-${i}`))).toEqual(pids);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
  }, 60_000);

  it("a released block is withdrawn from the ToR and every node within a second", async () => {
    const blocks = await lab.blocks();
    const victim = (blocks.get("node-3") ?? []).find((c) => !c.includes(":"));
    expect(victim).toBeDefined();
    const cidr = victim as string;
    // Free the block first: its one pod goes.
    await lab.kubectl("delete", "pod", "-n", "fabric", "p3", "--wait=true");
    const name = cidr.replace(/[./]/g, "-");
    // Empty of pods: node-3's reservations (free addresses it keeps, agent/ipam/reservations.ts) stay.
    await waitFor("the block to hold no pod", async () => {
      const g = await lab.kubectl("get", "ipamblock", name, "-o", "json");
      const { allocations } = (JSON.parse(g.out) as { spec: { allocations: { handle: string }[] } }).spec;
      return allocations.every((a) => isReservation(a.handle)) ? true : undefined;
    });
    const where = ["tor", "node-1", "node-2"];
    for (const w of where)
      expect((await run("ip", ["-n", lab.ns(w), "route", "show", cidr])).out).not.toBe("");
    const t0 = Date.now();
    const del = await lab.kubectl("delete", "ipamblock", name);
    expect(del.code).toBe(0);
    const gone = await Promise.all(
      where.map((w) =>
        waitFor(
          `${cidr} gone from ${w}`,
          async () =>
            (await run("ip", ["-n", lab.ns(w), "route", "show", cidr])).out === ""
              ? Date.now() - t0
              : undefined,
          10_000,
        ),
      ),
    );
    process.stderr.write(`withdrawal after release, ms (tor, node-1, node-2): ${gone.join(", ")}\n`);
    for (const ms of gone) expect(ms).toBeLessThanOrEqual(1000);
  }, 60_000);
});

describe("BGP fabric: agent restarts", () => {
  const { lab, pods } = labForSuite(2, "restart");

  it("kill -9 and restart of either node's agent: an iperf3 stream between their pods never stalls for more than a second", async () => {
    const [a, b] = [...pods].sort((x, y) => (x.node < y.node ? -1 : 1));
    if (a === undefined || b === undefined) throw new Error("pods missing");
    const v4 = b.ips.find((x) => !x.includes(":")) as string;
    const v6 = b.ips.find((x) => x.includes(":")) as string;
    // The receiver's intervals are the honest ones (a sender's socket buffer hides a stall).
    const server = run(
      "ip",
      ["netns", "exec", b.netns, "iperf3", "-s", "-1", "-p", "5201", "-i", String(IPERF_INTERVAL_S), "-J"],
      undefined,
      (IPERF_SECONDS + 30) * 1000,
    );
    await waitFor("the iperf3 server listening", async () =>
      (await run("ip", ["netns", "exec", b.netns, "ss", "-Htln", "sport", "= :5201"])).out.trim() !== ""
        ? true
        : undefined,
    );
    const t0 = Date.now();
    // Bounded: IPERF_SECONDS at a modest rate (the machine is shared).
    const client = run(
      "ip",
      ["netns", "exec", a.netns, "iperf3", "-c", v4, "-p", "5201", "-t", String(IPERF_SECONDS)].concat([
        "-i",
        String(IPERF_INTERVAL_S),
        "-b",
        "50M",
        "-J",
      ]),
      undefined,
      (IPERF_SECONDS + 30) * 1000,
    );
    const pinging = Promise.all([pingGap(a, v4, PINGS), pingGap(a, v6, PINGS)]);
    await sleep(2000);
    // The client's node first, then the server's: each back in sync before the next.
    const events: string[] = [];
    for (const node of [a.node, b.node]) {
      const restarted = await killAndRestart(lab, node);
      events.push(
        `${node} killed at ${restarted.killedMs - t0} ms, in sync again at ${restarted.syncedMs - t0} ms`,
      );
      await sleep(1000);
    }
    const lastEventMs = Date.now() - t0;
    const [g4, g6] = await pinging;
    const sent = await client;
    const recv = await server;
    expect([sent.code, sent.err]).toEqual([0, ""]);
    expect(recv.code).toBe(0);
    const report = iperfReport(recv.out);
    process.stderr.write(
      `kill -9 + restart: ${events.join("; ")}; iperf3 ${report.intervals} intervals of ${IPERF_INTERVAL_S} s ` +
        `over ${report.seconds.toFixed(1)} s, longest stretch without a byte ${report.longestZeroS.toFixed(1)} s, ` +
        `lowest ${(report.lowestBps / 1e6).toFixed(1)} Mbit/s\n`,
    );
    // Both restarts happened while the stream ran, and the stream ran to its end.
    expect(lastEventMs).toBeLessThan(IPERF_SECONDS * 1000);
    expect(report.seconds).toBeGreaterThanOrEqual(IPERF_SECONDS - 1);
    expect(report.longestZeroS).toBeLessThanOrEqual(1);
    process.stderr.write(
      `kill -9 + restart: v4 gap ${g4.gapMs} ms (${g4.received}/${PINGS}), v6 gap ${g6.gapMs} ms (${g6.received}/${PINGS})\n`,
    );
    expect(g4.gapMs).toBeLessThanOrEqual(1000);
    expect(g6.gapMs).toBeLessThanOrEqual(1000);
    expect(await allPairs(pods)).toEqual([]);
  }, 180_000);

  it("an agent stopped longer than the hold time is withdrawn from the ToR and the other node; restarted, it is back", async () => {
    const blocks = (await lab.blocks()).get("node-2") ?? [];
    // A block of each family, or the waits below would check nothing.
    expect([...new Set(blocks.map((c) => (c.includes(":") ? 6 : 4)))].sort()).toEqual([4, 6]);
    const v4 = blocks.find((c) => !c.includes(":")) ?? "";
    const pid = lab.agentPid("node-2");
    process.kill(pid, "SIGSTOP");
    const t0 = Date.now();
    try {
      for (const w of ["tor", "node-1"])
        await waitFor(
          `${v4} withdrawn from ${w}`,
          async () =>
            (await run("ip", ["-n", lab.ns(w), "route", "show", v4])).out === "" ? true : undefined,
          40_000,
        );
      process.stderr.write(`stopped agent withdrawn after ${Date.now() - t0} ms\n`);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // Back in both families (each has its own session, which may come up a moment after the other).
    for (const w of ["tor", "node-1"])
      for (const cidr of blocks)
        await waitFor(
          `${cidr} back on ${w}`,
          async () =>
            (await run("ip", ["-n", lab.ns(w), ...(cidr.includes(":") ? ["-6"] : []), "route", "show", cidr]))
              .out !== ""
              ? true
              : undefined,
          40_000,
        );
    expect(await allPairs(pods)).toEqual([]);
  }, 120_000);
});

describe("BGP fabric: route reflectors (4 nodes, 2 reflectors, mesh off)", () => {
  const { lab, pods } = labForSuite(4, "rr", ["--route-reflectors", "2"]);

  it("the mesh is off and every node still learns every other node's blocks, both families", async () => {
    const c = await lab.kubectl(
      "get",
      "bgpconfiguration",
      "default",
      "-o",
      "jsonpath={.spec.nodeToNodeMeshEnabled}",
    );
    expect(c.out).toBe("false");
    const all = ["node-1", "node-2", "node-3", "node-4"];
    await waitFor("routes learned through the reflectors", async () =>
      (await learnedEverywhere(lab, all)).length === 0 ? true : undefined,
    );
    expect(await allPairs(pods)).toEqual([]);
  }, 90_000);

  it("losing one reflector (its agent stopped) changes nothing for the others' traffic", async () => {
    const pid = lab.agentPid("node-1");
    const others = pods.filter((p) => p.node !== "node-1").sort((x, y) => (x.node < y.node ? -1 : 1));
    const [p3, p4] = [others.find((p) => p.node === "node-3"), others.find((p) => p.node === "node-4")];
    if (p3 === undefined || p4 === undefined) throw new Error("pods missing");
    const v4 = p4.ips.find((x) => !x.includes(":")) as string;
    const pinging = pingGap(p3, v4, 100);
    await sleep(1000);
    process.kill(pid, "SIGTERM");
    const g = await pinging;
    process.stderr.write(`reflector lost: gap ${g.gapMs} ms (${g.received}/100)\n`);
    expect(g.gapMs).toBeLessThanOrEqual(1000);
    expect(await learnedEverywhere(lab, ["node-2", "node-3", "node-4"])).toEqual([]);
    expect(await allPairs(others)).toEqual([]);
  }, 90_000);
});
