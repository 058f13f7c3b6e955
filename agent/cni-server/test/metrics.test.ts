// CniMetrics on a prom-client registry: counts by command/result/code, the
// library's cumulative histogram, every family parseable by a strict reader.
import { describe, expect, it } from "@jest/globals";
import { CniMetrics, LATENCY_BUCKETS } from "../metrics.js";
import { parseExposition, samples, value } from "../../../net/prom-text.js";

describe("CniMetrics", () => {
  const m = new CniMetrics();
  m.observe("ADD", 0, 0.003);
  m.observe("ADD", 0, 0.02);
  m.observe("ADD", 11, 0.5);
  m.observe("DEL", 0, 40);
  m.reject("busy");
  m.inFlight = 2;
  const scrape = async () => parseExposition(await m.registry.metrics());

  it("counts by command and result", async () => {
    expect(m.count("ADD")).toBe(3);
    expect(m.count("ADD", "success")).toBe(2);
    expect(m.count("ADD", "error")).toBe(1);
    const f = await scrape();
    expect(value(f, "trellis_cni_operations_total", { command: "ADD", result: "error", code: "11" })).toBe(1);
    expect(value(f, "trellis_cni_operations_total", { command: "ADD", result: "success", code: "0" })).toBe(
      2,
    );
    expect(f.get("trellis_cni_operations_total")?.type).toBe("counter");
  });

  it("the latency histogram has the same buckets as before, cumulative, +Inf = count", async () => {
    const f = await scrape();
    const add = samples(f, "trellis_cni_operation_duration_seconds_bucket", { command: "ADD" });
    expect(add.map((s) => s.labels["le"])).toEqual([...LATENCY_BUCKETS.map(String), "+Inf"]);
    expect(add.at(-1)?.value).toBe(3);
    expect(value(f, "trellis_cni_operation_duration_seconds_bucket", { command: "ADD", le: "0.0025" })).toBe(
      0,
    );
    expect(value(f, "trellis_cni_operation_duration_seconds_bucket", { command: "ADD", le: "0.025" })).toBe(
      2,
    );
    expect(value(f, "trellis_cni_operation_duration_seconds_bucket", { command: "DEL", le: "30" })).toBe(0);
    expect(value(f, "trellis_cni_operation_duration_seconds_bucket", { command: "DEL", le: "+Inf" })).toBe(1);
    expect(value(f, "trellis_cni_operation_duration_seconds_count", { command: "DEL" })).toBe(1);
  });

  it("rejections, in-flight and queued", async () => {
    const f = await scrape();
    expect(value(f, "trellis_cni_requests_rejected_total", { reason: "busy" })).toBe(1);
    expect(value(f, "trellis_cni_in_flight")).toBe(2);
    expect(value(f, "trellis_cni_queued")).toBe(0);
    expect(m.rejections("busy")).toBe(1);
  });
});
