/**
 * Prometheus families of the policy manager, on the agent's prom-client
 * registry (net/metrics.ts): applies by result and mode, apply latency
 * (compile + nft transaction), the size of the last transaction, and objects
 * left out because they do not validate. Registered only when policy is on.
 */
import { type Histogram, type Registry, counterFrom, gaugeFrom, histogram } from "../../net/metrics.js";

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class PolicyMetrics {
  /** `${result}/${mode}` -> count; result ok|error, mode full|diff|noop|none. */
  private readonly applies = new Map<string, number>();
  private readonly seconds: Histogram;
  lastTransactionCommands = 0;
  rejectedObjects = 0;
  localPods = 0;
  /** Established flows a policy change denied (marked) or allowed again (unmarked), and revocations that failed (revocation.ts). */
  flowsDenied = 0;
  flowsReallowed = 0;
  revocationErrors = 0;

  constructor(registry: Registry, ready: () => boolean) {
    gaugeFrom(
      registry,
      { name: "trellis_policy_enabled", help: "1 when this agent enforces policy (policy.enabled)." },
      () => 1,
    );
    gaugeFrom(
      registry,
      { name: "trellis_policy_ready", help: "1 once the first policy table has been applied." },
      () => (ready() ? 1 : 0),
    );
    counterFrom(
      registry,
      {
        name: "trellis_policy_applies_total",
        help: "Policy table applies, by result and driver mode.",
        labelNames: ["result", "mode"],
      },
      () =>
        [...this.applies].map(([k, v]) => {
          const [result = "", mode = ""] = k.split("/");
          return [{ result, mode }, v] as const;
        }),
    );
    this.seconds = histogram(registry, {
      name: "trellis_policy_apply_seconds",
      help: "Time from the start of a compile to the end of its nft transaction.",
      buckets: BUCKETS,
    });
    gaugeFrom(
      registry,
      {
        name: "trellis_policy_last_transaction_commands",
        help: "Commands in the last applied nft transaction (0 for a no-op).",
      },
      () => this.lastTransactionCommands,
    );
    gaugeFrom(
      registry,
      {
        name: "trellis_policy_rejected_objects",
        help: "Watched objects left out of the compile because they do not validate (see the log).",
      },
      () => this.rejectedObjects,
    );
    gaugeFrom(
      registry,
      { name: "trellis_policy_local_pods", help: "Pods of this node in the last applied table." },
      () => this.localPods,
    );
    counterFrom(
      registry,
      {
        name: "trellis_policy_flows_revoked_total",
        help: "Established flows (conntrack entries) cut off because a policy change denied them.",
      },
      () => this.flowsDenied,
    );
    counterFrom(
      registry,
      {
        name: "trellis_policy_flows_restored_total",
        help: "Cut-off flows whose conntrack entries a later policy change allowed again.",
      },
      () => this.flowsReallowed,
    );
    counterFrom(
      registry,
      {
        name: "trellis_policy_revocation_errors_total",
        help: "Revocations that failed (their prefixes are looked at again after the next apply).",
      },
      () => this.revocationErrors,
    );
  }

  observeApply(result: "ok" | "error", mode: string, seconds: number): void {
    const k = `${result}/${mode}`;
    this.applies.set(k, (this.applies.get(k) ?? 0) + 1);
    this.seconds.observe(seconds);
  }

  appliesOf(result: "ok" | "error"): number {
    let n = 0;
    for (const [k, v] of this.applies) if (k.startsWith(`${result}/`)) n += v;
    return n;
  }
}
