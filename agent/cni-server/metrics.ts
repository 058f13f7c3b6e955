// CNI operation metrics on the agent's prom-client registry (net/metrics.ts):
// counts by command and result, latency histograms by command, in-flight and
// queued gauges, rejections. The names are the ones trellis-node has exported
// since its first /metrics; dashboards rely on them.
import {
  type Histogram,
  type Registry,
  counterFrom,
  createRegistry,
  gaugeFrom,
  histogram,
} from "../../net/metrics.js";

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class CniMetrics {
  /** key: command \0 result \0 code */
  private readonly ops = new Map<string, number>();
  private readonly rejected = new Map<string, number>();
  private readonly latency: Histogram;
  inFlight = 0;
  queued = 0;

  /** Families go on `registry` (the agent's); a server built alone gets its own. */
  constructor(readonly registry: Registry = createRegistry({ defaultMetrics: false })) {
    counterFrom(
      registry,
      {
        name: "trellis_cni_operations_total",
        help: "CNI operations served, by command, result and CNI error code.",
        labelNames: ["command", "result", "code"],
      },
      () =>
        [...this.ops].map(([k, v]) => {
          const [command = "", result = "", code = ""] = k.split("\0");
          return [{ command, result, code }, v] as const;
        }),
    );
    this.latency = histogram(registry, {
      name: "trellis_cni_operation_duration_seconds",
      help: "CNI operation latency in the agent, by command.",
      labelNames: ["command"],
      buckets: LATENCY_BUCKETS,
    });
    counterFrom(
      registry,
      {
        name: "trellis_cni_requests_rejected_total",
        help: "CNI requests refused before handling, by reason.",
        labelNames: ["reason"],
      },
      () => [...this.rejected].map(([reason, v]) => [{ reason }, v] as const),
    );
    gaugeFrom(
      registry,
      { name: "trellis_cni_in_flight", help: "CNI requests being handled now." },
      () => this.inFlight,
    );
    gaugeFrom(
      registry,
      { name: "trellis_cni_queued", help: "CNI requests waiting for a handler slot." },
      () => this.queued,
    );
  }

  /** Record one finished operation; `code` 0 means success. */
  observe(command: string, code: number, seconds: number): void {
    const result = code === 0 ? "success" : "error";
    const key = `${command}\0${result}\0${code}`;
    this.ops.set(key, (this.ops.get(key) ?? 0) + 1);
    this.latency.observe({ command }, seconds);
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
}
