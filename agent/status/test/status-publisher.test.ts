import { describe, expect, it } from "@jest/globals";
import type { NodeStatusBody } from "../../../crds/node-status.js";
import type { NodeOwner, NodeStatusApi, StoredNodeStatus } from "../node-status-api.js";
import type { StatusSources } from "../node-status-build.js";
import { StatusPublisher } from "../status-publisher.js";

/** The API server's CAS semantics for one kind, in memory; `down` makes every call fail. */
class FakeApi implements NodeStatusApi {
  objects = new Map<string, { rv: number; owner?: string; status?: NodeStatusBody }>();
  private rv = 0;
  down = false;
  calls: string[] = [];
  /** Bump the stored object behind the publisher's back before the next status write. */
  raceOnce = false;

  private check(call: string): void {
    this.calls.push(call);
    if (this.down) throw new Error("connect ECONNREFUSED");
  }
  async get(name: string): Promise<StoredNodeStatus | undefined> {
    this.check("get");
    const o = this.objects.get(name);
    return o === undefined ? undefined : { resourceVersion: String(o.rv), ownedBy: o.owner };
  }
  async create(name: string, owner: NodeOwner | undefined): Promise<StoredNodeStatus | "exists"> {
    this.check("create");
    if (this.objects.has(name)) return "exists";
    const o = { rv: ++this.rv, ...(owner !== undefined ? { owner: owner.uid } : {}) };
    this.objects.set(name, o);
    return { resourceVersion: String(o.rv), ownedBy: o.owner };
  }
  async setOwner(name: string, rv: string, owner: NodeOwner): Promise<string | "conflict" | "gone"> {
    this.check("setOwner");
    const o = this.objects.get(name);
    if (o === undefined) return "gone";
    if (String(o.rv) !== rv) return "conflict";
    o.owner = owner.uid;
    o.rv = ++this.rv;
    return String(o.rv);
  }
  async replaceStatus(
    name: string,
    rv: string,
    status: NodeStatusBody,
  ): Promise<string | "conflict" | "gone"> {
    this.check("replaceStatus");
    const o = this.objects.get(name);
    if (o === undefined) return "gone";
    if (this.raceOnce) {
      this.raceOnce = false;
      o.rv = ++this.rv;
    }
    if (String(o.rv) !== rv) return "conflict";
    o.status = status;
    o.rv = ++this.rv;
    return String(o.rv);
  }
}

const silent = { info: () => {}, warn: () => {}, debug: () => {} };

function setup(over: { owner?: NodeOwner } = {}) {
  const api = new FakeApi();
  let now = Date.parse("2026-12-06T12:00:00Z");
  const state = { ready: false, inUse: 0, owner: over.owner };
  const src = (): Omit<StatusSources, "localRoutes"> => ({
    ready: state.ready,
    reason: state.ready ? "ready" : "waiting for the first sync",
    agentVersion: "t",
    startedAtMs: 0,
    intervalMs: 10_000,
    ipam: { affineBlocks: 0, addressesInUse: state.inUse, poolsRejected: new Map() },
    rolledBack: new Map(),
  });
  const pub = new StatusPublisher({
    node: "n1",
    api,
    sources: src,
    ready: () => state.ready,
    countLocalRoutes: async () => 2,
    owner: () => state.owner,
    intervalMs: 10_000,
    log: silent,
    now: () => now,
  });
  const tick = async (why: "tick" | "readiness" = "tick", advanceMs = 0): Promise<void> => {
    now += advanceMs;
    pub.kick(why);
    await pub.settled();
  };
  return { api, pub, state, tick, stored: () => api.objects.get("n1") };
}

/** After a first write, the API server turns faulty, addresses in use change, and the interval passes. */
async function changeUnder(fault: (api: FakeApi) => void, inUse: number) {
  const t = setup();
  await t.tick();
  fault(t.api);
  t.state.inUse = inUse;
  await t.tick("tick", 10_000);
  return t;
}

describe("StatusPublisher (the shell, on an in-memory API)", () => {
  it("creates the object, then writes its status through the subresource", async () => {
    const { api, tick, stored } = setup({ owner: { name: "n1", uid: "u1" } });
    await tick();
    expect(api.calls).toEqual(["get", "create", "replaceStatus"]);
    expect(stored()).toMatchObject({ owner: "u1", status: { ready: false, routes: { local: 2 } } });
  });

  it("adds the Node as owner when the Node shows up after the object was made", async () => {
    const { state, tick, stored } = setup();
    await tick();
    expect(stored()?.owner).toBeUndefined();
    state.owner = { name: "n1", uid: "u9" };
    state.inUse = 1;
    await tick("tick", 10_000);
    expect(stored()).toMatchObject({ owner: "u9", status: { ipam: { addressesInUse: 1 } } });
  });

  it("a 409 re-reads and writes again", async () => {
    const { api, stored } = await changeUnder((api) => (api.raceOnce = true), 5);
    expect(stored()?.status?.ipam?.addressesInUse).toBe(5);
    expect(api.calls.slice(-3)).toEqual(["replaceStatus", "get", "replaceStatus"]);
  });

  it("an object that exists already (an agent restart) is updated, not created", async () => {
    const { api, tick, stored, pub } = setup();
    await api.create("n1", undefined);
    api.calls = [];
    await tick();
    expect(api.calls).toEqual(["get", "replaceStatus"]);
    expect(stored()?.status).toBeDefined();
    expect(pub.writes).toBe(1);
  });

  it("the rate bound holds: a change inside the interval waits, a readiness change does not", async () => {
    const { api, state, tick, stored } = setup();
    await tick();
    state.inUse = 1;
    await tick("tick", 3000);
    expect(stored()?.status?.ipam?.addressesInUse).toBe(0);
    state.ready = true;
    await tick("readiness", 100);
    expect(stored()?.status).toMatchObject({ ready: true, ipam: { addressesInUse: 1 } });
    const writes = api.calls.filter((c) => c === "replaceStatus").length;
    await tick("tick", 10_000); // nothing changed since: skipped
    expect(api.calls.filter((c) => c === "replaceStatus").length).toBe(writes);
  });

  it("an API server that is away fails the write without throwing, and the next tick catches up", async () => {
    const { api, tick, stored } = await changeUnder((api) => (api.down = true), 3);
    expect(stored()?.status?.ipam?.addressesInUse).toBe(0);
    api.down = false;
    await tick("tick", 10_000);
    expect(stored()?.status?.ipam?.addressesInUse).toBe(3);
  });

  it("started: a readiness change is written within a second, however long the interval", async () => {
    const api = new FakeApi();
    let ready = false;
    const pub = new StatusPublisher({
      node: "n1",
      api,
      sources: () => ({
        ready,
        reason: ready ? "ready" : "waiting",
        agentVersion: "t",
        startedAtMs: 0,
        intervalMs: 3_600_000,
        ipam: { affineBlocks: 0, addressesInUse: 0, poolsRejected: new Map() },
        rolledBack: new Map(),
      }),
      ready: () => ready,
      owner: () => undefined,
      intervalMs: 3_600_000,
      log: silent,
    });
    pub.start();
    try {
      await pub.settled();
      expect(api.objects.get("n1")?.status?.ready).toBe(false);
      ready = true;
      const t0 = Date.now();
      while (api.objects.get("n1")?.status?.ready !== true && Date.now() - t0 < 2000)
        await new Promise((r) => setTimeout(r, 20));
      expect(api.objects.get("n1")?.status?.ready).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(pub.writes).toBe(2);
    } finally {
      pub.stop();
    }
  });
});
