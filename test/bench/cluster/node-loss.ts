/**
 * Measure 4: convergence after a node is lost. The last node of a lab is
 * the victim; the observers are the ToR and every other node. Two ways to
 * lose it, each undone before the next:
 * - `agent stopped`: SIGSTOP to its trellis-node (the BGP speaker and BFD run
 *   inside it): the kernel stays up, nothing speaks for the node;
 * - `uplink cut`: an nftables table in the victim's namespace drops every
 *   packet in and out of its uplink, carrier up (a dead link or switch port
 *   that keeps its light, or a hung host). Not `ip link set down`: the
 *   kernel would flush the link's routes and IPv6 addresses and BIRD would
 *   see the interface go at once, which measures the kernel, not BGP or BFD.
 * The clock stops, per observer, when none of the victim's blocks (both
 * families) is left in its kernel routing table (polled every 20 ms).
 * What bounds it: the hold time (lab/bgp-fabric.ts, LAB_HOLD_TIME; RFC 4271
 * §6.5: the session is closed when no message arrives within it), or BFD's
 * detection time where the lab runs BFD (RFC 5880 §6.8.4).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { run, type BenchLab } from "./bench-lab.js";
import { until } from "../../support/until.js";

export type LossMode = "agent stopped" | "uplink cut";
export const LOSS_MODES: readonly LossMode[] = ["agent stopped", "uplink cut"];

export interface LossSamples {
  mode: LossMode;
  /** per loss: fault → the ToR's kernel without the victim's blocks, ms */
  torMs: number[];
  /** per loss: fault → the slowest other node without them, ms */
  nodesMs: number[];
}

const CUT_TABLE = "bench_cluster_cut";

function cutScript(uplink: string): string {
  const chain = (name: string, hook: string, dir: "iifname" | "oifname"): string =>
    `add chain inet ${CUT_TABLE} ${name} { type filter hook ${hook} priority -400; policy accept; }\n` +
    `add rule inet ${CUT_TABLE} ${name} ${dir} "${uplink}" drop\n`;
  return (
    `add table inet ${CUT_TABLE}\n` +
    // chain names that are no nft keyword ("in", "fwd" are)
    chain("cut_in", "prerouting", "iifname") +
    chain("cut_out", "output", "oifname") +
    chain("cut_post", "postrouting", "oifname")
  );
}

async function nft(ns: string, script: string): Promise<void> {
  const r = await run("ip", ["netns", "exec", ns, "nft", "-f", "-"], script);
  if (r.code !== 0) throw new Error(`nft in ${ns}: ${r.err.trim()}`);
}

async function fault(lab: BenchLab, victim: string, mode: LossMode, on: boolean): Promise<void> {
  if (mode === "agent stopped") process.kill(lab.agentPid(victim), on ? "SIGSTOP" : "SIGCONT");
  else await nft(lab.ns(victim), on ? cutScript("eth0") : `delete table inet ${CUT_TABLE}\n`);
}

/** Observers that still hold at least one of `cidrs`. */
async function holding(lab: BenchLab, observers: string[], cidrs: string[]): Promise<string[]> {
  const has = await Promise.all(
    observers.map(async (o) => {
      const d = await lab.routeDestinations(o);
      return cidrs.some((c) => d.has(c));
    }),
  );
  return observers.filter((_, k) => has[k]);
}

export async function measureNodeLoss(
  lab: BenchLab,
  modes: readonly LossMode[],
  reps: number,
  log: (s: string) => void,
): Promise<LossSamples[]> {
  const victim = `node-${lab.nodes}`;
  const others = lab.nodeNames().filter((n) => n !== victim);
  const observers = ["tor", ...others];
  const cidrs = (await lab.blocks()).get(victim) ?? [];
  if (cidrs.length === 0) throw new Error(`${lab.name}: ${victim} has no block to lose (no pod on it)`);
  const out: LossSamples[] = [];
  for (const mode of modes) {
    const s: LossSamples = { mode, torMs: [], nodesMs: [] };
    for (let r = 0; r < reps; r++) {
      await until(
        `${victim}'s blocks on every observer before loss ${r + 1} (${mode})`,
        async () => (await holding(lab, observers, cidrs)).length === observers.length,
        90_000,
        200,
      );
      // Settle, and let the fault land anywhere in a keepalive interval.
      await sleep(1000 + Math.floor(Math.random() * 2000));
      const gone = new Map<string, number>();
      const t0 = performance.now();
      await fault(lab, victim, mode, true);
      try {
        await Promise.all(
          observers.map(async (o) => {
            while (performance.now() - t0 < 60_000) {
              if ((await holding(lab, [o], cidrs)).length === 0) {
                gone.set(o, performance.now() - t0);
                return;
              }
              await sleep(20);
            }
            throw new Error(`${lab.name} (${mode}): ${o} still holds ${victim}'s blocks after 60 s`);
          }),
        );
      } finally {
        await fault(lab, victim, mode, false);
      }
      s.torMs.push(gone.get("tor") ?? 0);
      s.nodesMs.push(Math.max(...others.map((o) => gone.get(o) ?? 0)));
      log(
        `node loss (${lab.name}, ${mode}) ${r + 1}/${reps}: ` +
          observers.map((o) => `${o} ${Math.round(gone.get(o) ?? 0)} ms`).join(", "),
      );
    }
    out.push(s);
  }
  // Restored, as the next user of the lab expects it.
  await until(
    `${victim}'s blocks back on every observer`,
    async () => (await holding(lab, observers, cidrs)).length === observers.length,
    90_000,
    200,
  );
  return out;
}
