import { describe, it, expect, afterEach } from "@jest/globals";
import { type Logger, pino } from "pino";
import { FakeNft } from "../../nft/fake-nft.js";
import { NftDriver } from "../../nft/driver.js";
import { NftError, type NftBackend } from "../../nft/backend.js";
import { podVethName } from "../../../net/veth-name.js";
import { PolicyAttachTimeout, PolicyManager } from "../policy-manager.js";
import { CORE_KINDS, POLICY_KINDS } from "../policy-inputs.js";
import { parseListing } from "../../nft/kernel-state.js";
import { performance } from "node:perf_hooks";
import { ConntrackError, type Revoker } from "../conntrack-revoker.js";
import type { CtEntry } from "../revocation.js";

const NODE = "n1";
const silent = pino({ level: "silent" });

/** A pino logger that records the messages of its error lines (level 50) and drops the rest. */
function errorRecorder(into: string[]): Logger {
  return pino(
    { level: "error" },
    {
      write(line: string): void {
        const o = JSON.parse(line) as { level?: number; msg?: string };
        if (o.level === 50) into.push(o.msg ?? "");
      },
    },
  );
}
const managers: PolicyManager[] = [];

/** The fake, failing its next `fails` transactions (the driver retries once itself). */
class Flaky implements NftBackend {
  fails = 0;
  /** Each transaction takes this long (a slow kernel). */
  delayMs = 0;
  constructor(readonly fake: FakeNft) {}
  async run(doc: { nftables: readonly unknown[] }): Promise<void> {
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (this.fails > 0) {
      this.fails--;
      throw new NftError("injected: netlink busy");
    }
    return this.fake.run(doc);
  }
  listTable(): Promise<{ nftables: unknown[] } | null> {
    return this.fake.listTable();
  }
}

function setup(o: { minIntervalMs?: number; errors?: string[] } = {}): {
  fake: FakeNft;
  flaky: Flaky;
  m: PolicyManager;
} {
  const fake = new FakeNft();
  const flaky = new Flaky(fake);
  const errors = o.errors;
  const m = new PolicyManager({
    node: NODE,
    driver: new NftDriver(flaky),
    log: errors ? errorRecorder(errors) : silent,
    requiredKinds: [...CORE_KINDS, ...POLICY_KINDS.map((k) => k.kind)],
    minIntervalMs: o.minIntervalMs ?? 80,
    resyncIntervalMs: 3_600_000,
    retryMs: 30,
  });
  managers.push(m);
  return { fake, flaky, m };
}

afterEach(() => {
  for (const m of managers.splice(0)) m.stop();
});

// Objects as client-node's list items give them (no kind/apiVersion).
const ns = (name: string, labels: Record<string, string> = {}): object => ({ metadata: { name, labels } });
const pod = (namespace: string, name: string, ip: string | undefined, node = NODE): object => ({
  metadata: { name, namespace, labels: { app: name } },
  spec: { nodeName: node, containers: [{ name: "c" }] },
  status: ip !== undefined ? { podIP: ip, podIPs: [{ ip }] } : {},
});
const denyAll = (namespace: string, name = "deny-all"): object => ({
  metadata: { name, namespace },
  spec: { podSelector: {}, policyTypes: ["Ingress"] },
});

/** Lists every kind the manager waits for; the ones named in `skip` stay unlisted. */
function syncAll(
  m: PolicyManager,
  objs: { Pod?: object[]; Namespace?: object[] } = {},
  skip: string[] = [],
): void {
  for (const k of CORE_KINDS) {
    if (!skip.includes(k)) m.replaceAll(k, "v1", (objs as Record<string, object[]>)[k] ?? []);
  }
  for (const k of POLICY_KINDS) if (!skip.includes(k.kind)) m.replaceAll(k.kind, k.apiVersion, []);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(10);
  }
}

/** A manager with namespace x and no pods, every kind listed and its first table applied. */
async function readyX(minIntervalMs: number): Promise<ReturnType<typeof setup>> {
  const r = setup({ minIntervalMs });
  syncAll(r.m, { Namespace: [ns("x")] });
  await until(() => r.m.ready);
  return r;
}

/** The ingress verdict-map element of a veth ("accept", "jump", or "" when absent). */
async function ingressOf(fake: FakeNft, veth: string): Promise<string> {
  const map = ((await fake.listTable())?.nftables ?? []).find(
    (o) => (o as { map?: { name: string } }).map?.name === "ingress-pods",
  ) as { map: { elem?: [string, Record<string, unknown>][] } } | undefined;
  const e = (map?.map.elem ?? []).find(([k]) => k === veth);
  return e === undefined ? "" : (Object.keys(e[1])[0] ?? "");
}

async function dump(fake: FakeNft): Promise<string> {
  return JSON.stringify(await fake.listTable());
}

describe("PolicyManager", () => {
  it("applies nothing before every policy-relevant kind has listed once (not ready, kernel untouched)", async () => {
    const { fake, m } = setup();
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] }, ["ClusterNetworkPolicy"]);
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", denyAll("x"));
    await sleep(200);
    expect(fake.transactions).toHaveLength(0);
    expect(m.ready).toBe(false);
    expect(m.notReadyReason()).toMatch(/ClusterNetworkPolicy/);
    m.replaceAll("ClusterNetworkPolicy", "policy.networking.k8s.io/v1beta1", []);
    await until(() => m.ready);
    expect(fake.transactions).toHaveLength(1);
    const t = await dump(fake);
    expect(t).toContain(podVethName("x", "a"));
    expect(t).toContain("10.1.0.2");
  });

  it("coalesces a burst of updates into few applies, at most one per interval, ending in the last state", async () => {
    const { fake, m } = await readyX(100);
    const before = fake.transactions.length;
    const t0 = Date.now();
    for (let i = 0; i < 60; i++) m.upsert("Pod", "v1", pod("x", `p${i}`, `10.1.1.${i + 1}`));
    await until(() => fake.transactions.length > before);
    await m.settled();
    await sleep(250);
    await m.settled();
    const applies = fake.transactions.length - before;
    const elapsed = Date.now() - t0;
    // Rate bound: never more applies than intervals elapsed (+1 for the immediate one).
    expect(applies).toBeLessThanOrEqual(Math.floor(elapsed / 100) + 1);
    expect(applies).toBeLessThanOrEqual(3);
    const t = await dump(fake);
    for (const i of [0, 30, 59]) expect(t).toContain(podVethName("x", `p${i}`));
    expect(m.metrics.appliesOf("ok")).toBe(1 + applies);
  });

  it("applies at once when idle (no wait for the interval)", async () => {
    const { fake, m } = await readyX(1000);
    await sleep(50);
    // Idle now, but the last apply started < 1 s ago: the next waits for the bound;
    // a fresh manager that has not applied for a while goes at once.
    const n = fake.transactions.length;
    const t0 = Date.now();
    m.upsert("Pod", "v1", pod("x", "late", "10.1.2.2"));
    await until(() => fake.transactions.length > n, 8000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    const { fake: f2, m: m2 } = setup({ minIntervalMs: 1000 });
    const t1 = Date.now();
    syncAll(m2, { Namespace: [ns("x")] });
    await until(() => f2.transactions.length > 0);
    expect(Date.now() - t1).toBeLessThan(800);
  }, 15_000);

  it("after a failed apply keeps the last good rules, reads the kernel back and retries until it succeeds", async () => {
    const { fake, flaky, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] });
    await until(() => m.ready);
    const good = await dump(fake);
    expect(await ingressOf(fake, podVethName("x", "a"))).toBe("accept");
    // The diff, the driver's own rebuild and its restore of the last good table all fail.
    flaky.fails = 3;
    const lists = fake.lists;
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", denyAll("x"));
    await until(() => m.metrics.appliesOf("error") === 1);
    expect(await dump(fake)).toBe(good); // the kernel kept the last good table
    // No new event: the retry alone brings the policy in.
    await until(() => m.metrics.appliesOf("ok") >= 2);
    expect(fake.lists).toBeGreaterThan(lists);
    expect(await ingressOf(fake, podVethName("x", "a"))).toBe("jump");
  });

  it("a CNI ADD waits until a table with its veth and address is applied", async () => {
    const { fake, flaky, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "new", undefined)] });
    await until(() => m.ready);
    flaky.delayMs = 300;
    let resolvedWith = "";
    const p = m
      .attach({ namespace: "x", pod: "new", ips: ["10.1.3.7", "fd00::7"] }, 5000)
      .then(async () => (resolvedWith = await dump(fake)));
    await sleep(100);
    // The transaction is still on its way: the ADD must still be waiting.
    expect(resolvedWith).toBe("");
    expect(await dump(fake)).not.toContain("10.1.3.7");
    await p;
    expect(resolvedWith).toContain(podVethName("x", "new"));
    expect(resolvedWith).toContain("10.1.3.7");
  });

  it("an ADD skips the rate bound: it costs one apply, not the interval", async () => {
    const { fake, m } = await readyX(5000);
    m.upsert("Pod", "v1", pod("x", "other", "10.1.6.1")); // held back by the 5 s bound
    const t0 = Date.now();
    await m.attach({ namespace: "x", pod: "fast", ips: ["10.1.6.2"] }, 4000);
    expect(Date.now() - t0).toBeLessThan(2000);
    const t = await dump(fake);
    expect(t).toContain("10.1.6.2");
    expect(t).toContain("10.1.6.1"); // the pending change rode along
  });

  it("a burst of concurrent ADDs coalesces into few applies", async () => {
    const { fake, flaky, m } = await readyX(10);
    flaky.delayMs = 50;
    const before = fake.transactions.length;
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        m.attach({ namespace: "x", pod: `b${i}`, ips: [`10.1.7.${i + 1}`] }, 5000),
      ),
    );
    expect(fake.transactions.length - before).toBeLessThanOrEqual(3);
  });

  it("an ADD for a pod the informer has not seen is compiled from the attachment (fail closed)", async () => {
    const { fake, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")] });
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", denyAll("x"));
    await until(() => m.ready);
    await m.attach({ namespace: "x", pod: "ghost", ips: ["10.1.4.4"] }, 5000);
    const t = await dump(fake);
    expect(t).toContain(podVethName("x", "ghost"));
    // Selected by the namespace's deny-all: its veth jumps to an isolating chain, not accept.
    expect(await ingressOf(fake, podVethName("x", "ghost"))).toBe("jump");
  });

  it("an ADD that cannot be applied in time is rejected with PolicyAttachTimeout", async () => {
    const { m } = setup();
    syncAll(m, {}, ["Tenant"]); // never in sync
    await expect(m.attach({ namespace: "x", pod: "a", ips: ["10.1.0.9"] }, 150)).rejects.toBeInstanceOf(
      PolicyAttachTimeout,
    );
  });

  it("a policy that does not validate is left out and counted; the rest still applies", async () => {
    const { fake, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] });
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", {
      metadata: { name: "bad", namespace: "x" },
      spec: {
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: "10.9.0.0/16", except: ["10.8.0.0/24"] } }] }],
      },
    });
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", denyAll("x", "good"));
    await until(() => m.ready);
    await m.settled();
    expect(m.metrics.rejectedObjects).toBe(1);
    expect(await ingressOf(fake, podVethName("x", "a"))).toBe("jump");
  });

  it("a deleted pod takes its attachment along, even without a DEL", async () => {
    const { fake, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", undefined)] });
    await until(() => m.ready);
    await m.attach({ namespace: "x", pod: "a", ips: ["10.1.5.5"] }, 5000);
    expect(await dump(fake)).toContain("10.1.5.5");
    m.remove("Pod", pod("x", "a", undefined));
    await until(() => m.metrics.localPods === 0);
    await m.settled();
    const t = await dump(fake);
    expect(t).not.toContain("10.1.5.5");
    expect(t).not.toContain(podVethName("x", "a"));
  });
  it("a late DEL of a pod's old sandbox leaves the attachment of its new sandbox (same pod name)", async () => {
    const { fake, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "web-0", undefined)] });
    await until(() => m.ready);
    await m.attach({ namespace: "x", pod: "web-0", ips: ["10.1.8.1"], owner: "old.eth0" }, 5000);
    await m.attach({ namespace: "x", pod: "web-0", ips: ["10.1.8.2"], owner: "new.eth0" }, 5000);
    m.detach("x", "web-0", "old.eth0");
    await m.settled();
    expect(await dump(fake)).toContain("10.1.8.2");
    expect(m.metrics.localPods).toBe(1);
    m.detach("x", "web-0", "new.eth0");
    await m.settled();
    expect(await dump(fake)).not.toContain("10.1.8.2");
  });

  it("the deletion of a pod's old object leaves the attachment of its new pod (other uid)", async () => {
    const { fake, m } = await readyX(10);
    await m.attach(
      { namespace: "x", pod: "web-0", ips: ["10.1.9.2"], owner: "new.eth0", podUid: "uid-2" },
      5000,
    );
    const old = {
      ...pod("x", "web-0", undefined),
      metadata: { name: "web-0", namespace: "x", uid: "uid-1" },
    };
    m.remove("Pod", old);
    await m.settled();
    expect(m.metrics.localPods).toBe(1);
    expect(await dump(fake)).toContain("10.1.9.2");
    m.remove("Pod", { ...old, metadata: { ...old.metadata, uid: "uid-2" } });
    await until(() => m.metrics.localPods === 0);
  });

  // ---------------------------------------------------------------- the incremental path

  const isFullReplace = (tx: Record<string, unknown>[]) =>
    tx.some((c) => (c["delete"] as { table?: unknown } | undefined)?.table !== undefined);

  /** Pod a (10.1.0.2) in namespace x under default-deny ingress, the first (full) table applied. */
  async function deniedX(o: { errors?: string[] } = {}): Promise<ReturnType<typeof setup>> {
    const r = setup({ minIntervalMs: 10, ...o });
    syncAll(r.m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] });
    r.m.upsert("NetworkPolicy", "networking.k8s.io/v1", denyAll("x"));
    await until(() => r.m.ready);
    await r.m.settled();
    return r;
  }

  /** Adds pod `name` at `ip` to namespace x and waits for the apply it causes: the index of its transaction. */
  async function addPod(r: ReturnType<typeof setup>, name: string, ip: string): Promise<number> {
    const n = r.fake.transactions.length;
    r.m.upsert("Pod", "v1", pod("x", name, ip));
    await until(() => r.fake.transactions.length > n);
    await r.m.settled();
    return n;
  }

  /** The table of a fresh manager given the same objects: the full compile (normalised listing). */
  async function fullCompileOf(objs: { Pod?: object[]; Namespace?: object[]; policies?: object[] }) {
    const { fake, m } = setup({ minIntervalMs: 10 });
    syncAll(m, objs);
    for (const p of objs.policies ?? []) m.upsert("NetworkPolicy", "networking.k8s.io/v1", p);
    await until(() => m.ready);
    await m.settled();
    return normalised(fake);
  }

  async function normalised(fake: FakeNft): Promise<unknown> {
    const t = parseListing((await fake.listTable()) as { nftables: unknown[] });
    return {
      sets: [...t.sets.values()]
        .map((x) => ({ ...x, elements: [...x.elements].sort() }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)),
      chains: [...t.chains.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    };
  }

  it("after the first full apply, a pod event is one incremental transaction: its elements only, no table replace", async () => {
    const r = await deniedX();
    const { fake, m } = r;
    expect(isFullReplace(fake.transactions[0] ?? [])).toBe(true);
    const n = await addPod(r, "b", "10.1.0.9");
    const tx = fake.transactions[n] ?? [];
    expect(isFullReplace(tx)).toBe(false);
    expect(tx.every((c) => "element" in ((c["add"] ?? c["delete"]) as object))).toBe(true);
    expect(JSON.stringify(tx)).toContain(podVethName("x", "b"));
    expect(await ingressOf(fake, podVethName("x", "b"))).toBe("jump");
    expect(m.metrics.appliesOf("ok")).toBeGreaterThanOrEqual(2);
  });

  it("a CNI ADD is answered after the incremental transaction with its veth and address (isolated before it returns)", async () => {
    const { fake, m } = await deniedX();
    const n = fake.transactions.length;
    await m.attach({ namespace: "x", pod: "added", ips: ["10.1.0.3", "fd00::3"] }, 5000);
    expect(fake.transactions.slice(n).some(isFullReplace)).toBe(false);
    expect(await ingressOf(fake, podVethName("x", "added"))).toBe("jump");
    const t = await dump(fake);
    expect(t).toContain("10.1.0.3");
    expect(t).toContain("fd00::3");
  });

  it("after a sequence of incremental events the kernel holds exactly the full compile of the same objects", async () => {
    const { fake, m } = setup({ minIntervalMs: 10 });
    const allowFromB = {
      metadata: { name: "allow-b", namespace: "x" },
      spec: {
        podSelector: { matchLabels: { app: "a" } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "blue" } }, podSelector: {} }] }],
      },
    };
    syncAll(m, {
      Namespace: [ns("x"), ns("y")],
      Pod: [pod("x", "a", "10.1.0.2"), pod("y", "b", "10.1.1.2", "n2")],
    });
    await until(() => m.ready);
    await m.settled();
    const n = fake.transactions.length;
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", allowFromB);
    await m.settled();
    m.upsert("Namespace", "v1", ns("y", { team: "blue" }));
    await m.settled();
    m.upsert("Pod", "v1", pod("y", "c", "10.1.1.3", "n2"));
    await m.settled();
    m.upsert("Pod", "v1", pod("x", "d", "10.1.0.4"));
    await m.settled();
    m.remove("Pod", pod("y", "b", "10.1.1.2", "n2"));
    await m.settled();
    expect(fake.transactions.slice(n).some(isFullReplace)).toBe(false);
    expect(fake.transactions.length).toBeGreaterThan(n + 3);
    const want = await fullCompileOf({
      Namespace: [ns("x"), ns("y", { team: "blue" })],
      Pod: [pod("x", "a", "10.1.0.2"), pod("y", "c", "10.1.1.3", "n2"), pod("x", "d", "10.1.0.4")],
      policies: [allowFromB],
    });
    expect(await normalised(fake)).toEqual(want);
  });

  it("a rejected incremental transaction is followed by an atomic rebuild to the right table", async () => {
    const r = await deniedX();
    const { fake, flaky } = r;
    flaky.fails = 1;
    const n = await addPod(r, "b", "10.1.0.9");
    expect(isFullReplace(fake.transactions[n] ?? [])).toBe(true);
    expect(await ingressOf(fake, podVethName("x", "b"))).toBe("jump");
    // And the next event is incremental again.
    const next = await addPod(r, "c", "10.1.0.12");
    expect(isFullReplace(fake.transactions[next] ?? [])).toBe(false);
    expect(await ingressOf(fake, podVethName("x", "c"))).toBe("jump");
  });

  it("when the rebuild fails too, the last good table stays and the retry takes the full path", async () => {
    const { fake, flaky, m } = await deniedX();
    const good = await dump(fake);
    flaky.fails = 3; // the delta, the rebuild, the restore
    m.upsert("Pod", "v1", pod("x", "b", "10.1.0.9"));
    await until(() => m.metrics.appliesOf("error") === 1);
    expect(await dump(fake)).toBe(good);
    await until(() => m.metrics.appliesOf("ok") >= 2);
    expect(await ingressOf(fake, podVethName("x", "b"))).toBe("jump");
  });

  it("the periodic resync and a Node change take the full path (kernel read back, diffed)", async () => {
    const { fake, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] });
    await until(() => m.ready);
    await m.settled();
    const lists = fake.lists;
    m.resync();
    await m.settled();
    expect(fake.lists).toBe(lists + 1);
    m.upsert("Node", "v1", {
      metadata: { name: "n2", labels: {} },
      status: { addresses: [{ type: "InternalIP", address: "192.168.0.2" }] },
    });
    await m.settled();
    // Nothing selects nodes: the full compile diffs to nothing, and no incremental commands were sent.
    expect(m.metrics.appliesOf("ok")).toBeGreaterThanOrEqual(3);
  });

  it("the periodic resync checks the incremental state against the full compile and keeps it when equal", async () => {
    const errors: string[] = [];
    const r = await deniedX({ errors });
    const { fake, m } = r;
    m.upsert("Pod", "v1", pod("x", "b", "10.1.0.9"));
    await m.settled();
    m.upsert("Namespace", "v1", ns("x", { team: "red" }));
    m.resync(); // with a dirty object pending: brought up to date, then compared
    await m.settled();
    expect(errors).toEqual([]);
    const n = await addPod(r, "c", "10.1.0.12");
    expect(isFullReplace(fake.transactions[n] ?? [])).toBe(false);
    expect(await ingressOf(fake, podVethName("x", "c"))).toBe("jump");
  });
});

describe("PolicyManager revocation (policy/README.md, Revocation)", () => {
  /**
   * The conntrack table's part, scripted: `list` fails while `failures` > 0,
   * waits for `hold` on its first call when given, answers with `entries`,
   * and records what it was asked; `mark` records and counts one entry.
   */
  class ScriptedRevoker implements Revoker {
    failures = 0;
    hold: Promise<void> | undefined;
    entries: (prefixes: readonly string[]) => CtEntry[] = () => [];
    readonly asked: string[][] = [];
    /** When each list() came (performance.now()). */
    readonly askedAt: number[] = [];
    readonly marked: [CtEntry, boolean][] = [];
    async list(prefixes: readonly string[]): Promise<CtEntry[]> {
      this.asked.push([...prefixes]);
      this.askedAt.push(performance.now());
      if (this.asked.length === 1) await this.hold;
      if (this.failures > 0) {
        this.failures--;
        throw new ConntrackError("conntrack list IPv4 entries by orig-src 10.1.0.2: injected");
      }
      return this.entries(prefixes);
    }
    mark(e: CtEntry, denied: boolean): Promise<number> {
      this.marked.push([e, denied]);
      return Promise.resolve(1);
    }
  }

  function withRevoker(revoker: Revoker, revocationIntervalMs?: number): PolicyManager {
    const m = new PolicyManager({
      ...(revocationIntervalMs !== undefined ? { revocationIntervalMs } : {}),
      node: NODE,
      driver: new NftDriver(new FakeNft()),
      log: silent,
      requiredKinds: [...CORE_KINDS, ...POLICY_KINDS.map((k) => k.kind)],
      minIntervalMs: 10,
      resyncIntervalMs: 3_600_000,
      retryMs: 30,
      revoker,
    });
    managers.push(m);
    return m;
  }

  it("the first apply replaces the table: every local pod's addresses are looked at", async () => {
    const r = new ScriptedRevoker();
    const m = withRevoker(r);
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2"), pod("x", "r", "10.1.0.9", "n2")] });
    await until(() => m.ready);
    await m.quiescent();
    expect(r.asked).toEqual([["10.1.0.2/32"]]);
  });

  it("a failed revocation is counted, and its prefixes are looked at again after the next apply", async () => {
    const r = new ScriptedRevoker();
    r.failures = 1;
    const m = withRevoker(r);
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] });
    await until(() => m.ready);
    await m.quiescent();
    expect(m.metrics.revocationErrors).toBe(1);
    // A remote pod joins the cluster's pods: its address, and the failed one again.
    m.upsert("Pod", "v1", pod("x", "r", "10.1.0.9", "n2"));
    await until(() => r.asked.length === 2);
    await m.quiescent();
    expect(r.asked[1]).toEqual(["10.1.0.2/32", "10.1.0.9/32"]);
    expect(m.metrics.revocationErrors).toBe(1);
  });

  it("walks conntrack at most once per revocationIntervalMs: the addresses of the applies in between go in one walk", async () => {
    const r = new ScriptedRevoker();
    const m = withRevoker(r, 300);
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] });
    await until(() => r.asked.length === 1);
    // Three remote pods join, each its own apply (10 ms apart at most): one walk takes them all.
    for (const [i, ip] of ["10.1.0.7", "10.1.0.8", "10.1.0.9"].entries()) {
      m.upsert("Pod", "v1", pod("x", `r${i}`, ip, "n2"));
      await m.settled();
    }
    await until(() => r.asked.length === 2);
    await m.quiescent();
    expect(r.asked).toEqual([["10.1.0.2/32"], ["10.1.0.7/32", "10.1.0.8/32", "10.1.0.9/32"]]);
    expect((r.askedAt[1] ?? 0) - (r.askedAt[0] ?? 0)).toBeGreaterThanOrEqual(290);
  });

  it("a queued revocation re-checks every pending address, a later apply's too, against the latest applied table", async () => {
    // The remote pod r's flow to the local pod a, established while no policy applied.
    const flow: CtEntry = {
      protocol: "tcp",
      saddr: "10.1.0.9",
      daddr: "10.1.0.2",
      sport: 40000,
      dport: 80,
      mark: 0,
    };
    const r = new ScriptedRevoker();
    let release = (): void => undefined;
    // The first revocation (the first apply's) is held while two more applies land.
    r.hold = new Promise<void>((done) => (release = done));
    r.entries = (prefixes) => (prefixes.includes("10.1.0.2/32") && r.asked.length > 1 ? [flow] : []);
    const m = withRevoker(r);
    syncAll(m, { Namespace: [ns("x")], Pod: [pod("x", "a", "10.1.0.2")] });
    await until(() => r.asked.length === 1);
    // Apply 2: the remote pod joins (its address is queued, with a job that holds apply 2's table).
    m.upsert("Pod", "v1", pod("x", "r", "10.1.0.9", "n2"));
    await m.settled();
    // Apply 3: default-deny ingress in x (pod a's address is queued too).
    m.upsert("NetworkPolicy", "networking.k8s.io/v1", denyAll("x"));
    await m.settled();
    release();
    await m.quiescent();
    // Apply 2's job took both addresses; under apply 2's table the flow was allowed, under
    // apply 3's (the latest) it is denied: it must be marked.
    expect(r.asked).toEqual([["10.1.0.2/32"], ["10.1.0.2/32", "10.1.0.9/32"]]);
    expect(r.marked).toEqual([[flow, true]]);
    expect(m.metrics.flowsDenied).toBe(1);
  });
});
