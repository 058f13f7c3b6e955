// CniMetrics: counts by command/result/code, cumulative histogram buckets,
// and a Prometheus text rendering the agent's /metrics can concatenate.
import { describe, expect, it } from "@jest/globals";
import { CniMetrics, LATENCY_BUCKETS } from "../metrics.js";

describe("CniMetrics", () => {
  const m = new CniMetrics();
  m.observe("ADD", 0, 0.003);
  m.observe("ADD", 0, 0.02);
  m.observe("ADD", 11, 0.5);
  m.observe("DEL", 0, 40);
  m.reject("busy");
  const text = m.render();

  it("counts by command and result", () => {
    expect(m.count("ADD")).toBe(3);
    expect(m.count("ADD", "success")).toBe(2);
    expect(m.count("ADD", "error")).toBe(1);
    expect(text).toContain('trellis_cni_operations_total{command="ADD",result="error",code="11"} 1');
  });

  it("histogram buckets are cumulative and end at +Inf = count", () => {
    const buckets = [
      ...text.matchAll(/trellis_cni_operation_duration_seconds_bucket\{command="ADD",le="([^"]+)"\} (\d+)/g),
    ];
    expect(buckets.map((b) => b[1])).toEqual([...LATENCY_BUCKETS.map(String), "+Inf"]);
    const counts = buckets.map((b) => Number(b[2]));
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] ?? 0);
    expect(counts.at(-1)).toBe(3);
    expect(text).toMatch(/trellis_cni_operation_duration_seconds_bucket\{command="DEL",le="30"\} 0/);
    expect(text).toMatch(/trellis_cni_operation_duration_seconds_bucket\{command="DEL",le="\+Inf"\} 1/);
  });

  it("every sample line belongs to a family declared with HELP and TYPE", () => {
    const declared = new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((x) => x[1]));
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      const name = line.split(/[{ ]/)[0] ?? "";
      const family = name.replace(/_(bucket|sum|count)$/, "");
      expect(declared.has(name) || declared.has(family)).toBe(true);
    }
    expect(text).toContain('trellis_cni_requests_rejected_total{reason="busy"} 1');
  });
});
