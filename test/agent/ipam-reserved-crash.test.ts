/**
 * Reserved addresses (agent/ipam/reservations.ts) on the real
 * kube-apiserver and etcd, with trellis-node as a process: an ADD is
 * granted from a reservation once its take is in the node's journal, and
 * its block's write follows. Here the API server is killed (SIGKILL, 10 s
 * down), ADDs are granted from reservations meanwhile, and the agent is
 * killed with SIGKILL before any of their block writes could land. The
 * restarted agent owes those takes (journal replay) and writes them; no
 * address is held twice, none leaks, later ADDs get other addresses, and
 * the DELs release everything (`trellisctl ipam check` clean).
 */
import { describe, expect, it } from "@jest/globals";
import { type AgentProc, type CniAnswer, TestBed, cniSocket, podCall } from "./harness.js";
import { useTestBed } from "./bed-lifecycle.js";
import { until } from "../support/until.js";
import { isReservationOf } from "../../agent/ipam/reservations.js";

const bed = new TestBed("rJ", "real");
const NODE = "jrnl-1";
let node: { netns: string };
let agent: AgentProc;

useTestBed(bed, async () => {
  await bed.createPool("jrnl-v4", { cidr: "10.76.0.0/16", blockSize: 26 });
  await bed.core.createNode({ body: { metadata: { name: NODE } } });
  node = await bed.addNode();
  agent = await bed.startAgent(NODE, node.netns);
});

const add = (id: string, netns: string): Promise<CniAnswer> =>
  cniSocket(agent.socket, podCall("ADD", agent, id, netns));
const del = (id: string, netns: string): Promise<CniAnswer> =>
  cniSocket(agent.socket, podCall("DEL", agent, id, netns));
const address = (r: CniAnswer): string =>
  ((r.json["ips"] as { address: string }[] | undefined) ?? [])[0]?.address.split("/")[0] ?? "";

const podAllocations = (): Promise<Map<string, string>> => bed.podAllocations();

/** This node's reservations in the API. */
async function reservations(): Promise<number> {
  return [...(await bed.allocations()).values()].filter((a) => isReservationOf(a.handle, NODE)).length;
}

describe("reserved addresses on the real API server", () => {
  it("API server down, ADDs granted from reservations, agent SIGKILLed before their writes: the restart writes them, nothing twice, nothing leaked", async () => {
    const first = bed.netnsName("j0");
    const during = Array.from({ length: 5 }, (_, i) => bed.netnsName(`jd${i}`));
    const after = Array.from({ length: 5 }, (_, i) => bed.netnsName(`ja${i}`));
    await bed.addNetns([first, ...during, ...after]);

    // The first ADD claims the block; the reservations follow in the background.
    const r0 = await add("j-first", first);
    expect(r0.exitCode).toBe(0);
    await until(
      "reservations written",
      async () => ((await reservations()) >= 5 ? true : undefined),
      30_000,
      200,
    );

    // kube-apiserver killed (restarted by bed.outage after 10 s); ADDs meanwhile.
    const outage = bed.outage("kube-apiserver", 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    const rs = await Promise.all(during.map((ns, i) => add(`j-during-${i}`, ns)));
    expect(rs.map((r) => [r.exitCode, r.json["msg"]])).toEqual(during.map(() => [0, undefined]));
    const granted = rs.map(address);
    expect(new Set([...granted, address(r0)]).size).toBe(6);

    // The agent dies before any of those writes could land.
    await bed.stopAgent(agent, "SIGKILL");
    await outage;
    expect([...(await podAllocations()).values()]).not.toContain("j-during-0.eth0");

    // Restarted on the same journal: it owes the five takes and writes them.
    agent = await bed.startAgent(NODE, node.netns, {}, { wait: true });
    const want = new Map([
      [address(r0), "j-first.eth0"],
      ...granted.map((a, i) => [a, `j-during-${i}.eth0`] as [string, string]),
    ]);
    await until(
      "the owed takes written",
      async () => {
        const got = await podAllocations();
        return [...want].every(([a, h]) => got.get(a) === h) ? true : undefined;
      },
      60_000,
      250,
    );

    // New ADDs never get an address granted before the crash.
    const ra = await Promise.all(after.map((ns, i) => add(`j-after-${i}`, ns)));
    expect(ra.map((r) => r.exitCode)).toEqual(after.map(() => 0));
    const all = [address(r0), ...granted, ...ra.map(address)];
    expect(new Set(all).size).toBe(11);
    // Those ADDs may be granted from reservations too: their block writes follow within moments.
    const held = await until(
      "every pod's allocation written",
      async () => {
        const got = await podAllocations();
        return all.every((a) => got.has(a)) ? got : undefined;
      },
      30_000,
      100,
    );
    expect(held.size).toBe(11);
    const check = await bed.cli("ipam", "check", "-o", "json");
    expect((JSON.parse(check.out) as { findings: unknown[] }).findings).toEqual([]);

    // And the DELs release every one of them.
    const ds = await Promise.all([
      del("j-first", first),
      ...during.map((ns, i) => del(`j-during-${i}`, ns)),
      ...after.map((ns, i) => del(`j-after-${i}`, ns)),
    ]);
    expect(ds.map((r) => r.exitCode)).toEqual(ds.map(() => 0));
    await bed.delNetns([first, ...during, ...after]);
    expect((await podAllocations()).size).toBe(0);
    const check2 = await bed.cli("ipam", "check", "-o", "json");
    expect((JSON.parse(check2.out) as { findings: unknown[] }).findings).toEqual([]);
  }, 240_000);
});
