/**
 * What the cluster benchmark's probes ask and answer (pure; the prober and
 * its client share it). Verdicts, per attempt outcome:
 * - `reach`: the pod's stack answered, with a connection or a RST
 *   (`connected` or `refused`): the route to the pod works, listener or not;
 * - `open`: a connection (a policy that allows);
 * - `closed`: no answer before the attempt's timeout, or an ICMP error
 *   (a policy that drops: NetworkPolicy isolation drops, policy/compiler/to-nft.ts).
 */
export type Want = "reach" | "open" | "closed";
export type AttemptOutcome = "connected" | "refused" | "timeout" | "unreachable";

export interface ProbeRequest {
  id: number;
  ip: string;
  port: number;
  want: Want;
  /** a new attempt every this many ms */
  intervalMs: number;
  /** each attempt's own timeout; keep it under the 1 s initial SYN retransmission timeout */
  attemptTimeoutMs: number;
  /** give up (ok: false) after this long */
  deadlineMs: number;
}

export interface ProbeReply {
  id: number;
  ok: boolean;
  /**
   * on the shared clock (`clockMs`): for `reach`, when the first answering
   * attempt completed; for `open`/`closed`, when the first attempt with
   * that verdict started (its SYN left then, and met the rule in force)
   */
  at: number;
  attempts: number;
}

/**
 * The clock the bench and its probers share, in ms with sub-ms resolution:
 * each process's time origin plus its monotonic time since. Times from two
 * processes compare directly, so a prober scheduled late on a loaded machine
 * does not shift what it reports.
 */
export function clockMs(): number {
  return performance.timeOrigin + performance.now();
}

export function attemptVerdict(want: Want, outcome: AttemptOutcome): boolean {
  switch (want) {
    case "reach":
      return outcome === "connected" || outcome === "refused";
    case "open":
      return outcome === "connected";
    case "closed":
      return outcome === "timeout" || outcome === "unreachable";
  }
}
