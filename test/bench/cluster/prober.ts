/**
 * The cluster benchmark's client, started once inside a pod's network
 * namespace (`nsenter --net=…`): for each request (a JSON line on stdin) it
 * starts a new TCP connection to the target every `intervalMs`, each given
 * `attemptTimeoutMs`, until one attempt shows the verdict asked for, and
 * answers one JSON line: when that attempt started, or resolved, on the
 * clock it shares with the bench (probe-verdict.ts). Attempts overlap so that one slow or dropped SYN
 * never hides the moment the network changed.
 *
 * The attempt timeout is kept under Linux's initial SYN retransmission
 * timeout (1 s, RFC 6298 §2.1 as Linux implements it): an attempt whose first
 * SYN was dropped then fails instead of succeeding later on a retransmitted
 * SYN, so "first attempt with the new verdict" is exact to one interval.
 */
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { attemptVerdict, clockMs, type ProbeReply, type ProbeRequest } from "./probe-verdict.js";

function probe(r: ProbeRequest): Promise<ProbeReply> {
  return new Promise((resolve) => {
    let attempts = 0;
    let done = false;
    const open = new Set<ReturnType<typeof connect>>();
    const finish = (rep: ProbeReply): void => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(deadline);
      for (const s of open) s.destroy();
      resolve(rep);
    };
    const attempt = (): void => {
      const started = clockMs();
      attempts++;
      const s = connect({ host: r.ip, port: r.port, timeout: r.attemptTimeoutMs });
      open.add(s);
      const settle = (outcome: "connected" | "refused" | "timeout" | "unreachable"): void => {
        open.delete(s);
        s.destroy();
        if (!attemptVerdict(r.want, outcome)) return;
        finish({ id: r.id, ok: true, at: r.want === "reach" ? clockMs() : started, attempts });
      };
      s.once("connect", () => settle("connected"));
      s.once("timeout", () => settle("timeout"));
      s.once("error", (e: NodeJS.ErrnoException) =>
        settle(e.code === "ECONNREFUSED" ? "refused" : e.code === "ETIMEDOUT" ? "timeout" : "unreachable"),
      );
    };
    const ticker = setInterval(attempt, r.intervalMs);
    const deadline = setTimeout(() => finish({ id: r.id, ok: false, at: clockMs(), attempts }), r.deadlineMs);
    attempt();
  });
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const r = JSON.parse(line) as ProbeRequest;
  void probe(r).then((rep) => process.stdout.write(JSON.stringify(rep) + "\n"));
});
// The parent closing stdin ends us (the bench's teardown).
process.stdin.on("end", () => process.exit(0));
