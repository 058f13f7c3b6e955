import { describe, it, expect, afterEach } from "@jest/globals";
import { pino } from "pino";
import { FakeNft } from "../../nft/fake-nft.js";
import { NftDriver } from "../../nft/driver.js";
import { NftError, type NftBackend } from "../../nft/backend.js";
import { podVethName } from "../../../net/veth-name.js";
import { PolicyAttachTimeout, PolicyManager } from "../policy-manager.js";
import { CORE_KINDS, POLICY_KINDS } from "../policy-inputs.js";

const NODE = "n1";
const silent = pino({ level: "silent" });
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

function setup(o: { minIntervalMs?: number } = {}): { fake: FakeNft; flaky: Flaky; m: PolicyManager } {
  const fake = new FakeNft();
  const flaky = new Flaky(fake);
  const m = new PolicyManager({
    node: NODE,
    driver: new NftDriver(flaky),
    log: silent,
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
    const { fake, m } = setup({ minIntervalMs: 100 });
    syncAll(m, { Namespace: [ns("x")] });
    await until(() => m.ready);
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
    const { fake, m } = setup({ minIntervalMs: 1000 });
    syncAll(m, { Namespace: [ns("x")] });
    await until(() => m.ready);
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
    const { fake, m } = setup({ minIntervalMs: 5000 });
    syncAll(m, { Namespace: [ns("x")] });
    await until(() => m.ready);
    m.upsert("Pod", "v1", pod("x", "other", "10.1.6.1")); // held back by the 5 s bound
    const t0 = Date.now();
    await m.attach({ namespace: "x", pod: "fast", ips: ["10.1.6.2"] }, 4000);
    expect(Date.now() - t0).toBeLessThan(2000);
    const t = await dump(fake);
    expect(t).toContain("10.1.6.2");
    expect(t).toContain("10.1.6.1"); // the pending change rode along
  });

  it("a burst of concurrent ADDs coalesces into few applies", async () => {
    const { fake, flaky, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")] });
    await until(() => m.ready);
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
    const { fake, m } = setup({ minIntervalMs: 10 });
    syncAll(m, { Namespace: [ns("x")] });
    await until(() => m.ready);
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
});
