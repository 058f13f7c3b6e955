import { describe, expect, it } from "@jest/globals";
import { nodeStatusBodySchema } from "../../../crds/node-status.js";
import {
  MIN_REFRESH_MS,
  type StatusSources,
  buildNodeStatus,
  decideWrite,
  isStale,
  refreshMs,
  statusKey,
} from "../node-status-build.js";

const T0 = Date.parse("2026-12-06T12:00:00Z");

function sources(over: Partial<StatusSources> = {}): StatusSources {
  return {
    ready: true,
    reason: "ready",
    agentVersion: "0.1.0",
    startedAtMs: T0 - 5000,
    intervalMs: 10_000,
    ipam: { affineBlocks: 1, addressesInUse: 3, poolsRejected: new Map() },
    rolledBack: new Map(),
    ...over,
  };
}

describe("buildNodeStatus", () => {
  it("a ready agent without BGP: no bgp section, no learned-route counts", () => {
    const b = buildNodeStatus(sources(), T0);
    expect(b).toEqual({
      ready: true,
      reason: "ready",
      agentVersion: "0.1.0",
      startedAt: "2026-12-06T11:59:55.000Z",
      lastUpdated: "2026-12-06T12:00:00.000Z",
      refreshSeconds: 60,
      ipam: { affineBlocks: 1, addressesInUse: 3, poolsRejected: [] },
      informers: { rolledBack: [] },
    });
    expect(nodeStatusBodySchema.safeParse(b).success).toBe(true);
  });

  it("a not-ready agent carries the reason", () => {
    const b = buildNodeStatus(sources({ ready: false, reason: "the CNI server is not listening" }), T0);
    expect(b).toMatchObject({ ready: false, reason: "the CNI server is not listening" });
  });

  it("the BGP source gives address, method, ASN, sessions (sorted by peer) and learned routes", () => {
    const b = buildNodeStatus(
      sources({
        bgp: {
          address4: "10.0.0.1",
          method: "interface",
          asn: 64512,
          sessions: [
            { peer: "10.0.0.3", kind: "mesh", state: "Active" },
            {
              peer: "10.0.0.2",
              kind: "external",
              state: "Established",
              uptimeSeconds: 12.7,
              prefixesReceived: 4,
              prefixesAccepted: 3,
              prefixesAdvertised: 1,
            },
          ],
          routesInstalled4: 3,
          routesInstalled6: 2,
        },
        localRoutes: 7,
      }),
      T0,
    );
    expect(b.bgp).toEqual({
      address4: "10.0.0.1",
      method: "interface",
      asn: 64512,
      sessionsEstablished: 1,
      sessions: [
        {
          peer: "10.0.0.2",
          kind: "external",
          state: "Established",
          uptimeSeconds: 12,
          prefixesReceived: 4,
          prefixesAccepted: 3,
          prefixesAdvertised: 1,
        },
        { peer: "10.0.0.3", kind: "mesh", state: "Active" },
      ],
    });
    expect(b.routes).toEqual({ installed: 5, installed4: 3, installed6: 2, local: 7 });
    expect(nodeStatusBodySchema.safeParse(b).success).toBe(true);
  });

  it("local routes alone when there is no BGP source", () => {
    expect(buildNodeStatus(sources({ localRoutes: 0 }), T0).routes).toEqual({ local: 0 });
  });

  it("policy: generation, last apply and last error; absent with policy off", () => {
    const b = buildNodeStatus(
      sources({ policy: { generation: 4, lastApplyMs: T0 - 1000, lastError: "nft: busy" } }),
      T0,
    );
    expect(b.policy).toEqual({
      generation: 4,
      lastApplyTime: "2026-12-06T11:59:59.000Z",
      lastError: "nft: busy",
    });
    expect(buildNodeStatus(sources(), T0).policy).toBeUndefined();
  });

  it("rejected pools and rolled-back informers, sorted by name", () => {
    const b = buildNodeStatus(
      sources({
        ipam: {
          affineBlocks: 0,
          addressesInUse: 0,
          poolsRejected: new Map([
            ["z", "overlaps a"],
            ["b", "overlaps a"],
          ]),
        },
        rolledBack: new Map([
          ["pods", { seen: 10, got: 2 }],
          ["nodes", { seen: 9, got: 1 }],
        ]),
      }),
      T0,
    );
    expect(b.ipam?.poolsRejected.map((p) => p.pool)).toEqual(["b", "z"]);
    expect(b.informers?.rolledBack).toEqual([
      { informer: "nodes", seen: 9, got: 1 },
      { informer: "pods", seen: 10, got: 2 },
    ]);
  });

  it("refreshSeconds is the longer of the interval and 60 s", () => {
    expect(buildNodeStatus(sources({ intervalMs: 120_000 }), T0).refreshSeconds).toBe(120);
    expect(refreshMs(1000)).toBe(MIN_REFRESH_MS);
  });
});

describe("statusKey: what counts as a change", () => {
  const withSession = (uptime: number) =>
    sources({
      bgp: {
        sessions: [{ peer: "p", kind: "mesh", state: "Established", uptimeSeconds: uptime }],
        routesInstalled4: 0,
        routesInstalled6: 0,
      },
    });

  it("lastUpdated alone is no change", () => {
    expect(statusKey(buildNodeStatus(sources(), T0), T0)).toBe(
      statusKey(buildNodeStatus(sources(), T0 + 30_000), T0 + 30_000),
    );
  });

  it("an uptime that grows with the clock is no change", () => {
    expect(statusKey(buildNodeStatus(withSession(100), T0), T0)).toBe(
      statusKey(buildNodeStatus(withSession(130), T0 + 30_000), T0 + 30_000),
    );
  });

  it("a session that restarted is a change", () => {
    expect(statusKey(buildNodeStatus(withSession(100), T0), T0)).not.toBe(
      statusKey(buildNodeStatus(withSession(5), T0 + 30_000), T0 + 30_000),
    );
  });

  it("one more address in use is a change", () => {
    const more = sources({ ipam: { affineBlocks: 1, addressesInUse: 4, poolsRejected: new Map() } });
    expect(statusKey(buildNodeStatus(sources(), T0), T0)).not.toBe(statusKey(buildNodeStatus(more, T0), T0));
  });
});

describe("decideWrite: the rate bound", () => {
  const I = 10_000;
  const last = { atMs: T0, key: "k", ready: true };

  it("the first status is written at once", () => {
    expect(decideWrite(undefined, { atMs: T0, key: "k", ready: false }, I)).toEqual({
      write: true,
      why: "first",
    });
  });

  it("a readiness change is written at once, inside the interval", () => {
    expect(decideWrite(last, { atMs: T0 + 200, key: "k2", ready: false }, I)).toEqual({
      write: true,
      why: "readiness",
    });
  });

  it("a change inside the interval waits", () => {
    expect(decideWrite(last, { atMs: T0 + 5000, key: "k2", ready: true }, I)).toEqual({
      write: false,
      why: "rate",
    });
  });

  it("a change an interval later is written (a timer a few ms early counts)", () => {
    expect(decideWrite(last, { atMs: T0 + I, key: "k2", ready: true }, I).write).toBe(true);
    expect(decideWrite(last, { atMs: T0 + I - 10, key: "k2", ready: true }, I).write).toBe(true);
  });

  it("nothing changed: skipped until lastUpdated is 60 s old, then refreshed", () => {
    expect(decideWrite(last, { atMs: T0 + 50_000, key: "k", ready: true }, I)).toEqual({
      write: false,
      why: "unchanged",
    });
    expect(decideWrite(last, { atMs: T0 + 60_000, key: "k", ready: true }, I)).toEqual({
      write: true,
      why: "refresh",
    });
  });

  it("with an interval over 60 s, the refresh follows the interval", () => {
    expect(decideWrite(last, { atMs: T0 + 60_000, key: "k", ready: true }, 90_000).write).toBe(false);
    expect(decideWrite(last, { atMs: T0 + 90_000, key: "k", ready: true }, 90_000).write).toBe(true);
  });
});

describe("isStale", () => {
  const s = { lastUpdated: new Date(T0).toISOString(), refreshSeconds: 60 };
  it("fresh within 3 refresh intervals, stale after", () => {
    expect(isStale(s, T0 + 180_000)).toBe(false);
    expect(isStale(s, T0 + 180_001)).toBe(true);
  });
  it("an unreadable lastUpdated is stale", () => {
    expect(isStale({ lastUpdated: "never", refreshSeconds: 60 }, T0)).toBe(true);
  });
});
