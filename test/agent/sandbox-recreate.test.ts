/**
 * A pod recreated under its old name (every StatefulSet restart) gets a new
 * sandbox (new container ID, new netns) while its old sandbox's host veth,
 * which has the same pinned name, still exists: the old DEL comes late, or
 * was lost while the agent was down. Driven as a runtime does, through the
 * exec'd shim against a running trellis-node (agent/README.md, "Routed
 * veth": one name per pod, the owner recorded in the kernel).
 */
import { describe, expect, it } from "@jest/globals";
import { hostVethName } from "../../net/veth-name.js";
import { type AgentProc, TestBed, cniShim, netconf, sh } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";
import { until } from "../support/until.js";

const bed = new TestBed("Srec");
let node: { netns: string };
let agent: AgentProc;

useTestBed(bed, async () => {
  await bed.createPool("pool-v4", { cidr: "10.71.0.0/16", blockSize: 26 });
  await bed.createPool("pool-v6", { cidr: "fd00:71::/64", blockSize: 122 });
  node = await bed.addNode();
  agent = await bed.startAgent("node-1", node.netns);
});

const NS = "team-s";
const args = (pod: string, uid: string): string =>
  `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${pod};K8S_POD_UID=${uid}`;

interface Sandbox {
  id: string;
  netns: string;
  pod: string;
  uid: string;
}

function call(command: "ADD" | "DEL" | "CHECK", s: Sandbox, extra: Record<string, unknown> = {}) {
  return cniShim({
    command,
    containerID: s.id,
    netns: `/var/run/netns/${s.netns}`,
    ifname: "eth0",
    args: args(s.pod, s.uid),
    config: netconf(agent.socket, extra),
  });
}

async function add(s: Sandbox): Promise<{ result: Record<string, unknown>; v4: string; v6: string }> {
  const r = await call("ADD", s);
  expect(r.json).toMatchObject({ ips: expect.any(Array) });
  expect(r.exitCode).toBe(0);
  const ips = (r.json["ips"] as { address: string }[]).map((x) => x.address.split("/")[0] ?? "");
  // An ADD granted from a reservation is written to its block just after
  // (agent/ipam/reservations.ts): the checks below read the API, so wait
  // for that write (bounded) before going on.
  await until(
    `${s.id}'s allocation written`,
    async () => {
      const h = await held();
      return ips.every((ip) => h.get(ip) === `${s.id}.eth0`) ? true : undefined;
    },
    10_000,
    50,
  );
  return { result: r.json, v4: ips[0] ?? "", v6: ips[1] ?? "" };
}

function check(s: Sandbox, result: Record<string, unknown>) {
  return call("CHECK", s, { prevResult: { cniVersion: "1.1.0", ...result } });
}

function ipNode(...a: string[]): Promise<string> {
  return sh("ip", ["-n", node.netns, ...a]);
}

/** The host veth's ifalias (the owner marker), "" when it has none, undefined when it is gone. */
async function aliasOf(hostIf: string): Promise<string | undefined> {
  const out = await ipNode("-j", "link", "show", "dev", hostIf).catch(() => undefined);
  if (out === undefined) return undefined;
  return (JSON.parse(out) as { ifalias?: string }[])[0]?.ifalias ?? "";
}

/** address -> handle of the pods' allocations in the API. */
function held(): Promise<Map<string, string>> {
  return bed.podAllocations();
}

/** The policy table in the node namespace (the agent's attachment puts the pod's address there). */
function nftTable(): Promise<string> {
  return sh("ip", ["netns", "exec", node.netns, "nft", "list", "table", "inet", "trellis"]);
}

/** Everything the new sandbox needs is there and works. */
async function expectWired(s: Sandbox, a: { result: Record<string, unknown>; v4: string; v6: string }) {
  const hostIf = hostVethName({ namespace: NS, pod: s.pod });
  expect(await ipNode("route", "show", a.v4)).toMatch(
    new RegExp(`dev ${hostIf} proto (201|trellis) scope link`),
  );
  expect(await ipNode("-6", "route", "show", a.v6)).toMatch(new RegExp(`dev ${hostIf} proto (201|trellis) `));
  expect(await aliasOf(hostIf)).toBe(`trellis:${s.id}/eth0`);
  const c = await check(s, a.result);
  expect(c.json).toEqual({});
  expect(c.exitCode).toBe(0);
  // Reachability: pod -> its gateway and on to the node uplink, v4 (proxy ARP) and v6.
  await sh("ip", ["netns", "exec", s.netns, "busybox", "ping", "-c1", "-W2", "10.250.1.2"]);
  await sh("ip", ["netns", "exec", s.netns, "busybox", "ping", "-c1", "-W2", "fd00:250:1::2"]);
}

/** Its own DEL removes everything: veth, routes, address. */
async function expectOwnDelCleansUp(s: Sandbox, a: { v4: string; v6: string }) {
  const hostIf = hostVethName({ namespace: NS, pod: s.pod });
  const d = await call("DEL", s);
  expect(d.json).toEqual({});
  expect(d.exitCode).toBe(0);
  expect(await aliasOf(hostIf)).toBeUndefined();
  expect(await ipNode("route", "show", a.v4)).toBe("");
  expect(await ipNode("-6", "route", "show", a.v6)).toBe("");
  expect([...(await held()).values()]).not.toContain(`${s.id}.eth0`);
  // DEL stays idempotent.
  expect((await call("DEL", s)).exitCode).toBe(0);
}

/**
 * Sandbox `n` of a pod and the one that replaces it (the same pod name, a new
 * UID and container ID), their namespaces made; and the pod's host veth name,
 * which both share.
 */
async function recreatedPod(n: number, pod: string): Promise<{ old: Sandbox; neu: Sandbox; hostIf: string }> {
  const old: Sandbox = { id: `0ld5b0x0${n}`, netns: bed.netnsName(`a${n}`), pod, uid: `u-old${n}` };
  const neu: Sandbox = { id: `n3w5b0x0${n}`, netns: bed.netnsName(`b${n}`), pod, uid: `u-new${n}` };
  await bed.addNetns([old.netns, neu.netns]);
  return { old, neu, hostIf: hostVethName({ namespace: NS, pod }) };
}

describe("a pod recreated under its old name", () => {
  it("ADD of the new sandbox replaces the old one's veth; the old one's late DEL leaves the new pod alone", async () => {
    const { old, neu, hostIf } = await recreatedPod(1, "web-0");
    const a = await add(old);
    expect(await aliasOf(hostIf)).toBe(`trellis:${old.id}/eth0`);

    const b = await add(neu);
    expect(b.v4).not.toBe(a.v4);
    expect(b.v6).not.toBe(a.v6);
    // The old sandbox's veth went (its pod end with it); its addresses stay with its handle.
    expect(await sh("ip", ["-n", old.netns, "link"])).not.toContain("eth0");
    const h = await held();
    expect(h.get(a.v4)).toBe(`${old.id}.eth0`);
    expect(h.get(b.v4)).toBe(`${neu.id}.eth0`);

    // A retried ADD of the new sandbox itself is refused (code 101) and changes nothing.
    const again = await call("ADD", neu);
    expect(again.json).toMatchObject({ code: 101, msg: expect.stringMatching(/already exists/) });
    await expectWired(neu, b);

    // The old sandbox's late DEL.
    const d = await call("DEL", old);
    expect(d.json).toEqual({});
    expect(d.exitCode).toBe(0);
    const after = await held();
    expect(after.has(a.v4)).toBe(false);
    expect(after.has(a.v6)).toBe(false);
    expect(after.get(b.v4)).toBe(`${neu.id}.eth0`);
    await expectWired(neu, b);
    // The new pod's policy attachment survived the old one's DEL.
    await new Promise((r) => setTimeout(r, 300));
    expect(await nftTable()).toContain(b.v4);
    // CHECK for the old sandbox reports that the veth is another container's (not code 999).
    const oldCheck = await check(old, a.result);
    expect(oldCheck.json).toMatchObject({ code: 103, msg: expect.stringMatching(new RegExp(neu.id)) });

    await expectOwnDelCleansUp(neu, b);
    expect(await nftTable()).not.toContain(b.v4);
    await bed.delNetns([old.netns, neu.netns]);
  }, 60_000);

  it("a veth without marker (an older agent's) is replaced too, and its late DEL goes by IPAM's holder", async () => {
    const { old, neu, hostIf } = await recreatedPod(2, "web-2");
    const a = await add(old);
    await ipNode("link", "set", "dev", hostIf, "alias", "");
    expect(await aliasOf(hostIf)).toBe("");
    const b = await add(neu);
    expect(b.v4).not.toBe(a.v4);
    expect((await call("DEL", old)).exitCode).toBe(0);
    await expectWired(neu, b);
    expect((await held()).has(a.v4)).toBe(false);
    await expectOwnDelCleansUp(neu, b);
    await bed.delNetns([old.netns, neu.netns]);
  }, 60_000);
});

describe("a pod recreated under its old name, old DEL and new ADD at the same moment", () => {
  it("whichever the agent serves first, the new sandbox ends up wired and the old address released", async () => {
    for (let i = 0; i < 5; i++) {
      const old: Sandbox = {
        id: `0ld5b0x1${i}`,
        netns: bed.netnsName(`c${i}`),
        pod: `race-${i}`,
        uid: "u-o",
      };
      const neu: Sandbox = {
        id: `n3w5b0x1${i}`,
        netns: bed.netnsName(`d${i}`),
        pod: `race-${i}`,
        uid: "u-n",
      };
      await bed.addNetns([old.netns, neu.netns]);
      const a = await add(old);
      const [d, b] = await Promise.all([call("DEL", old), add(neu)]);
      expect(d.exitCode).toBe(0);
      // The old handle holds nothing; its address may already be the new pod's
      // (DEL served first): then its route must point at the new veth.
      expect([...(await held()).values()]).not.toContain(`${old.id}.eth0`);
      if (b.v4 !== a.v4) expect((await held()).has(a.v4)).toBe(false);
      await expectWired(neu, b);
      await expectOwnDelCleansUp(neu, b);
      await bed.delNetns([old.netns, neu.netns]);
    }
  }, 90_000);
});

describe("the old sandbox's DEL was lost while the agent was down", () => {
  it("old netns deleted while the agent is down: the new sandbox's ADD succeeds; GC then frees the old address", async () => {
    const { old, neu } = await recreatedPod(3, "db-0");
    const a = await add(old);
    await bed.stopAgent(agent);
    await bed.delNetns([old.netns]); // the runtime tore the sandbox down; its DEL never reached us
    agent = await bed.startAgent("node-1", node.netns);
    const b = await add(neu);
    expect(b.v4).not.toBe(a.v4);
    // The old handle keeps its address until its DEL, GC or the leak check.
    expect((await held()).get(a.v4)).toBe(`${old.id}.eth0`);
    await expectWired(neu, b);

    const gc = await cniShim({
      command: "GC",
      config: netconf(agent.socket, {
        "cni.dev/valid-attachments": [{ containerID: neu.id, ifname: "eth0" }],
      }),
    });
    expect(gc.exitCode).toBe(0);
    const h = await held();
    expect(h.has(a.v4)).toBe(false);
    expect(h.get(b.v4)).toBe(`${neu.id}.eth0`);
    await expectWired(neu, b);
    // A DEL of the old sandbox arriving after all is still success and harmless.
    expect((await call("DEL", old)).exitCode).toBe(0);
    await expectWired(neu, b);
    await expectOwnDelCleansUp(neu, b);
    await bed.delNetns([neu.netns]);
  }, 90_000);

  it("lost DEL and no GC: the leak check frees the old address once the pod's status shows the new one", async () => {
    const old: Sandbox = { id: "0ld5b0x05", netns: bed.netnsName("a5"), pod: "db-2", uid: "u-pod5" };
    const neu: Sandbox = { id: "n3w5b0x05", netns: bed.netnsName("b5"), pod: "db-2", uid: "u-pod5" };
    await bed.core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
    await bed.core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: old.pod, namespace: NS },
        spec: { nodeName: "node-1", containers: [{ name: "c", image: "busybox" }] },
      },
    });
    // The leak check every second with a 2 s grace: it must still keep what the status shows.
    await bed.stopAgent(agent);
    agent = await bed.startAgent("node-1", node.netns, { leakCheckIntervalSeconds: 1, leakGraceSeconds: 2 });
    await bed.addNetns([old.netns, neu.netns]);
    const a = await add(old);
    const setPodIPs = async (ips: string[]): Promise<void> => {
      const pod = await bed.core.readNamespacedPod({ name: old.pod, namespace: NS });
      pod.status = { phase: "Running", podIP: ips[0] ?? "", podIPs: ips.map((ip) => ({ ip })) };
      await bed.core.replaceNamespacedPodStatus({ name: old.pod, namespace: NS, body: pod });
    };
    await setPodIPs([a.v4, a.v6]);
    await bed.delNetns([old.netns]); // the old sandbox died; its DEL never comes, nor does a GC
    const b = await add(neu);
    expect(b.v4).not.toBe(a.v4);
    // Until the kubelet reports the new sandbox's addresses, both handles keep theirs (several leak checks run).
    await new Promise((r) => setTimeout(r, 5000));
    expect((await held()).get(a.v4)).toBe(`${old.id}.eth0`);
    expect((await held()).get(b.v4)).toBe(`${neu.id}.eth0`);
    await setPodIPs([b.v4, b.v6]);
    const deadline = Date.now() + 20_000;
    while ((await held()).has(a.v4) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const h = await held();
    expect(h.has(a.v4)).toBe(false);
    expect(h.has(a.v6)).toBe(false);
    expect(h.get(b.v4)).toBe(`${neu.id}.eth0`);
    expect(h.get(b.v6)).toBe(`${neu.id}.eth0`);
    await expectWired(neu, b);
    await expectOwnDelCleansUp(neu, b);
    await bed.delNetns([neu.netns]);
    await bed.core.deleteNamespacedPod({ name: old.pod, namespace: NS });
    // Back to the bed's agent settings (no leak check) for the cases that follow.
    await bed.stopAgent(agent);
    agent = await bed.startAgent("node-1", node.netns);
  }, 90_000);

  it("old veth still there after a restart: the marker the killed agent wrote tells ADD and the late DEL whose it is", async () => {
    const old: Sandbox = { id: "0ld5b0x04", netns: bed.netnsName("a4"), pod: "db-1", uid: "u-old4" };
    const neu: Sandbox = { id: "n3w5b0x04", netns: bed.netnsName("b4"), pod: "db-1", uid: "u-new4" };
    await bed.addNetns([old.netns, neu.netns]);
    const a = await add(old);
    await bed.stopAgent(agent, "SIGKILL");
    agent = await bed.startAgent("node-1", node.netns);
    const b = await add(neu);
    expect(b.v4).not.toBe(a.v4);
    expect((await held()).get(a.v4)).toBe(`${old.id}.eth0`);
    await expectWired(neu, b);
    await bed.stopAgent(agent, "SIGKILL");
    agent = await bed.startAgent("node-1", node.netns);
    const d = await call("DEL", old);
    expect(d.exitCode).toBe(0);
    expect((await held()).has(a.v4)).toBe(false);
    await expectWired(neu, b);
    await expectOwnDelCleansUp(neu, b);
    await bed.delNetns([old.netns, neu.netns]);
  }, 90_000);
});
