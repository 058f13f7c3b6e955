import { describe, expect, it } from "@jest/globals";
import { bgpConfigurationView, clusterStatus } from "../cluster-status.js";

const NOW = Date.parse("2026-12-06T12:00:00Z");
const obj = (name: string, lastUpdated: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "trellis.dev/v1alpha1",
  kind: "TrellisNodeStatus",
  metadata: { name },
  status: {
    ready: true,
    reason: "ready",
    agentVersion: "0.1.0",
    startedAt: "2026-12-06T11:00:00Z",
    lastUpdated,
    refreshSeconds: 60,
    ...extra,
  },
});

describe("clusterStatus: nodes joined with the statuses their agents publish", () => {
  const c = clusterStatus(
    {
      nodes: ["n1", "n2", "n3", "n4"],
      statuses: [
        obj("n1", "2026-12-06T11:59:50Z"),
        obj("n2", "2026-12-06T11:56:59Z"),
        obj("n3", "2026-12-06T11:59:50Z", { ready: "yes" }),
        obj("gone", "2026-12-06T11:59:50Z"),
        { apiVersion: "trellis.dev/v1alpha1", kind: "TrellisNodeStatus", metadata: { name: "n4" } },
      ],
      pools: [],
    },
    NOW,
  );
  const by = new Map(c.nodes.map((n) => [n.name, n]));

  it("a fresh status is ok, with its age", () => {
    expect(by.get("n1")).toMatchObject({ state: "ok", nodeExists: true, ageSeconds: 10 });
  });
  it("older than 3 refresh intervals is stale", () => {
    expect(by.get("n2")).toMatchObject({ state: "stale", ageSeconds: 181 });
  });
  it("a status that does not parse is named, with the field", () => {
    expect(by.get("n3")).toMatchObject({
      state: "invalid status",
      problem: expect.stringContaining("status.ready"),
    });
  });
  it("a status whose Node is gone is shown and marked", () => {
    expect(by.get("gone")).toMatchObject({ state: "ok", nodeExists: false });
  });
  it("a node without a status object, or with an object not written yet: no agent status", () => {
    expect(by.get("n4")).toEqual({ name: "n4", state: "no agent status", nodeExists: true });
    expect(c.nodes.map((n) => n.name)).toEqual(["gone", "n1", "n2", "n3", "n4"]);
  });
  it("no BGPConfiguration: null", () => {
    expect(c.cluster.bgpConfiguration).toBeNull();
  });
});

describe("bgpConfigurationView: read generically", () => {
  it("asNumber and mesh when present", () => {
    expect(bgpConfigurationView({ spec: { asNumber: 64512, mesh: { enabled: true }, other: 1 } })).toEqual({
      asNumber: 64512,
      mesh: { enabled: true },
    });
    expect(bgpConfigurationView({ spec: { nodeToNodeMeshEnabled: false } })).toEqual({ mesh: false });
    expect(bgpConfigurationView({ metadata: {} })).toEqual({});
  });
});
