// CNI operation metrics: counts by command and result, latency histograms by
// command, in-flight and queued gauges, rejections. The agent's /metrics
// concatenates `render()` with its own families (Prometheus text format 0.0.4).

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export class CniMetrics {
  /** key: command \0 result \0 code */
  private readonly ops = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly rejected = new Map<string, number>();
  inFlight = 0;
  queued = 0;

  /** Record one finished operation; `code` 0 means success. */
  observe(command: string, code: number, seconds: number): void {
    const result = code === 0 ? "success" : "error";
    const key = `${command}\0${result}\0${code}`;
    this.ops.set(key, (this.ops.get(key) ?? 0) + 1);
    let h = this.latency.get(command);
    if (h === undefined) {
      h = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(command, h);
    }
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= (LATENCY_BUCKETS[i] ?? Infinity)) h.counts[i] = (h.counts[i] ?? 0) + 1;
    }
    h.sum += seconds;
    h.count += 1;
  }

  /** Record a request refused before the handler (busy, malformed frame, timeout). */
  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  /** Count of operations for a command and result ("success" | "error"). */
  count(command: string, result?: "success" | "error"): number {
    let n = 0;
    for (const [k, v] of this.ops) {
      const [c, r] = k.split("\0");
      if (c === command && (result === undefined || r === result)) n += v;
    }
    return n;
  }

  rejections(reason: string): number {
    return this.rejected.get(reason) ?? 0;
  }

  /** Prometheus text exposition of every CNI family. */
  render(): string {
    const lines: string[] = [];
    lines.push(
      "# HELP trellis_cni_operations_total CNI operations served, by command, result and CNI error code.",
    );
    lines.push("# TYPE trellis_cni_operations_total counter");
    for (const [k, v] of [...this.ops].sort()) {
      const [c, r, code] = k.split("\0");
      lines.push(
        `trellis_cni_operations_total{command="${esc(c ?? "")}",result="${r ?? ""}",code="${code ?? ""}"} ${v}`,
      );
    }
    lines.push(
      "# HELP trellis_cni_operation_duration_seconds CNI operation latency in the agent, by command.",
    );
    lines.push("# TYPE trellis_cni_operation_duration_seconds histogram");
    for (const [c, h] of [...this.latency].sort()) {
      const l = `command="${esc(c)}"`;
      LATENCY_BUCKETS.forEach((b, i) => {
        lines.push(`trellis_cni_operation_duration_seconds_bucket{${l},le="${b}"} ${h.counts[i] ?? 0}`);
      });
      lines.push(`trellis_cni_operation_duration_seconds_bucket{${l},le="+Inf"} ${h.count}`);
      lines.push(`trellis_cni_operation_duration_seconds_sum{${l}} ${h.sum}`);
      lines.push(`trellis_cni_operation_duration_seconds_count{${l}} ${h.count}`);
    }
    lines.push("# HELP trellis_cni_requests_rejected_total CNI requests refused before handling, by reason.");
    lines.push("# TYPE trellis_cni_requests_rejected_total counter");
    for (const [r, v] of [...this.rejected].sort()) {
      lines.push(`trellis_cni_requests_rejected_total{reason="${esc(r)}"} ${v}`);
    }
    lines.push("# HELP trellis_cni_in_flight CNI requests being handled now.");
    lines.push("# TYPE trellis_cni_in_flight gauge");
    lines.push(`trellis_cni_in_flight ${this.inFlight}`);
    lines.push("# HELP trellis_cni_queued CNI requests waiting for a handler slot.");
    lines.push("# TYPE trellis_cni_queued gauge");
    lines.push(`trellis_cni_queued ${this.queued}`);
    return lines.join("\n") + "\n";
  }
}
