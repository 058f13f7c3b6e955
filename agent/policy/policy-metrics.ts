/**
 * Prometheus families of the policy manager (text format 0.0.4): applies by
 * result and mode, apply latency (compile + nft transaction), the size of
 * the last transaction, and objects left out because they do not validate.
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class PolicyMetrics {
  /** `${result}/${mode}` -> count; result ok|error, mode full|diff|noop|none. */
  private readonly applies = new Map<string, number>();
  private readonly buckets = BUCKETS.map(() => 0);
  private count = 0;
  private sum = 0;
  lastTransactionCommands = 0;
  rejectedObjects = 0;
  localPods = 0;

  observeApply(result: "ok" | "error", mode: string, seconds: number): void {
    const k = `${result}/${mode}`;
    this.applies.set(k, (this.applies.get(k) ?? 0) + 1);
    this.count++;
    this.sum += seconds;
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) this.buckets[i] = (this.buckets[i] ?? 0) + 1;
    });
  }

  appliesOf(result: "ok" | "error"): number {
    let n = 0;
    for (const [k, v] of this.applies) if (k.startsWith(`${result}/`)) n += v;
    return n;
  }

  render(enabled: boolean, ready: boolean): string {
    const l: string[] = [];
    const family = (name: string, type: string, help: string): void => {
      l.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family("trellis_policy_enabled", "gauge", "1 when this agent enforces policy (policy.enabled).");
    l.push(`trellis_policy_enabled ${enabled ? 1 : 0}`);
    family("trellis_policy_ready", "gauge", "1 once the first policy table has been applied.");
    l.push(`trellis_policy_ready ${ready ? 1 : 0}`);
    family("trellis_policy_applies_total", "counter", "Policy table applies, by result and driver mode.");
    for (const [k, v] of [...this.applies].sort()) {
      const [result, mode] = k.split("/");
      l.push(`trellis_policy_applies_total{result="${result}",mode="${mode}"} ${v}`);
    }
    family(
      "trellis_policy_apply_seconds",
      "histogram",
      "Time from the start of a compile to the end of its nft transaction.",
    );
    BUCKETS.forEach((b, i) => l.push(`trellis_policy_apply_seconds_bucket{le="${b}"} ${this.buckets[i]}`));
    l.push(`trellis_policy_apply_seconds_bucket{le="+Inf"} ${this.count}`);
    l.push(`trellis_policy_apply_seconds_sum ${this.sum}`);
    l.push(`trellis_policy_apply_seconds_count ${this.count}`);
    family(
      "trellis_policy_last_transaction_commands",
      "gauge",
      "Commands in the last applied nft transaction (0 for a no-op).",
    );
    l.push(`trellis_policy_last_transaction_commands ${this.lastTransactionCommands}`);
    family(
      "trellis_policy_rejected_objects",
      "gauge",
      "Watched objects left out of the compile because they do not validate (see the log).",
    );
    l.push(`trellis_policy_rejected_objects ${this.rejectedObjects}`);
    family("trellis_policy_local_pods", "gauge", "Pods of this node in the last applied table.");
    l.push(`trellis_policy_local_pods ${this.localPods}`);
    return l.join("\n") + "\n";
  }
}
