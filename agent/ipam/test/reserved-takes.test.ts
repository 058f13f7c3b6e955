/**
 * Reserved addresses (reservations.ts): an ADD is granted from a
 * reservation once its take is in the journal, before its block's write;
 * and whatever dies when (the agent between journal and write, the API
 * server for a while), no address is handed out twice and none leaks.
 * The API is FakeIpamApi (the API server's CAS semantics); the journal is
 * a real file; "the agent dies" is a second IpamService on the same API
 * and journal, the first one's pending writes never answered.
 */
import { describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { IPAMBlock, IPPool } from "../../../crds/ipam.js";
import { poolView, type PoolView } from "../block-allocator.js";
import { FakeIpamApi } from "../fake-ipam-api.js";
import { IpamJournal } from "../ipam-journal.js";
import { type AllocateInput, IpamService } from "../ipam-service.js";
import { isReservation, isReservationOf } from "../reservations.js";

/** A fake whose block writes can be held (never answered: the agent dies meanwhile) or refused (API down). */
class GatedApi extends FakeIpamApi {
  hold = false;
  down = false;
  held = 0;
  refused = 0;
  constructor() {
    super();
    const replace = this.ipamBlocks.replace.bind(this.ipamBlocks);
    this.ipamBlocks.replace = (b: IPAMBlock): Promise<IPAMBlock | "conflict" | "gone"> => {
      if (this.down) {
        this.refused++;
        return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6443"));
      }
      if (this.hold) {
        this.held++;
        return new Promise(() => {}); // never answers, never lands
      }
      return replace(b);
    };
  }
}

function pool(strictAffinity = false): PoolView {
  const p: IPPool = { metadata: { name: "p" }, spec: { cidr: "10.9.0.0/26", blockSize: 28, strictAffinity } };
  const v = poolView(p);
  if (typeof v === "string") throw new Error(v);
  return v;
}

const ask = (handle: string): AllocateInput => ({
  handle,
  requestedIps: [],
  poolNames: { 4: ["p"], 6: [] },
  namespaceLabels: {},
  attributes: { namespace: "ns", pod: handle, containerID: handle, ifname: "eth0" },
});

interface Agent {
  ipam: IpamService;
  journal: IpamJournal;
}

function agent(api: FakeIpamApi, dir: string, node = "n1", reserve = 4): Agent {
  const journal = new IpamJournal(join(dir, `${node}-journal`));
  const pools = [pool()];
  const ipam = new IpamService({
    api,
    node: () => ({ name: node, labels: {}, strictAffinity: false }),
    pools: () => pools,
    log: pino({ level: "silent" }),
    journal,
    reservePerBlock: reserve,
  });
  made.push(ipam);
  return { ipam, journal };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every ordinal held by a pod's handle in the API, and by whom (a duplicate throws). */
function podHolders(api: FakeIpamApi): Map<string, string> {
  const out = new Map<string, string>();
  for (const b of api.blocks.values())
    for (const a of b.spec.allocations) {
      if (isReservation(a.handle)) continue;
      const k = `${b.metadata.name}/${a.ordinal}`;
      if (out.has(k)) throw new Error(`${k} held twice`);
      out.set(k, a.handle);
    }
  return out;
}

function reservationsOf(api: FakeIpamApi, node: string): number {
  let n = 0;
  for (const b of api.blocks.values())
    for (const a of b.spec.allocations) if (isReservationOf(a.handle, node)) n++;
  return n;
}

/** A node with its first block claimed (an ordinary ADD) and its reservations written. */
async function started(api: FakeIpamApi, dir: string, node = "n1"): Promise<Agent> {
  const a = agent(api, dir, node);
  await a.ipam.load();
  await a.ipam.replayJournal();
  await a.ipam.allocate(ask(`${node}-first`));
  await until("reservations written", () => reservationsOf(api, node) === 4);
  return a;
}

/** Every service a test made, quiesced before its journal directory goes. */
const made: IpamService[] = [];

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-ipam-journal-"));
    try {
      await fn(dir);
    } finally {
      // A held write never answers: a service stuck on one is not waited for.
      await Promise.race([
        Promise.all(made.splice(0).map((s) => s.quiesce())),
        new Promise((r) => setTimeout(r, 200)),
      ]);
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    }
  };
}

describe("reserved addresses: granted before the block's write", () => {
  it(
    "an ADD from a reservation is granted with no API call; the write that follows carries it",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { ipam, journal } = await started(api, dir);
      await until("no background write left", () => !api.calls.slice(-1)[0]?.startsWith("x"));
      const before = api.calls.length;
      api.hold = true;
      const got = await ipam.allocate(ask("pod-a"));
      expect(got.map((g) => g.address)).toEqual(["10.9.0.2"]);
      // Granted while its write is held: the journal has it, the block not yet.
      expect(api.calls.slice(before).filter((c) => c.startsWith("replaceBlock")).length).toBeLessThanOrEqual(
        1,
      );
      expect(readFileSync(journal.path, "utf8")).toContain('"handle":"pod-a"');
      expect([...podHolders(api).values()]).not.toContain("pod-a");
      // Every reader of this agent sees it already (CNI DEL, GC, CHECK, the leak check).
      expect(ipam.findAllocation("pod-a")).toEqual({ namespace: "ns", pod: "pod-a" });
      expect(
        ipam
          .nodeAllocations()
          .map((a) => a.handle)
          .sort(),
      ).toEqual(["n1-first", "pod-a"]);
    }),
  );

  it(
    "the write lands, the journal empties, the reservations are topped up",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { ipam, journal } = await started(api, dir);
      await ipam.allocate(ask("pod-a"));
      await ipam.allocate(ask("pod-b"));
      await until("takes written", () => ipam.owedCount() === 0);
      expect([...podHolders(api).values()].sort()).toEqual(["n1-first", "pod-a", "pod-b"]);
      expect(reservationsOf(api, "n1")).toBe(4);
      expect(readFileSync(journal.path, "utf8")).toBe("");
    }),
  );

  it(
    "a burst larger than the reservations: the rest take the ordinary path, no address twice",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { ipam } = await started(api, dir);
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => ipam.allocate(ask(`b${i}`))));
      const addrs = got.map((g) => g[0]?.address);
      expect(new Set(addrs).size).toBe(10);
      await until("takes written", () => ipam.owedCount() === 0);
      expect(podHolders(api).size).toBe(11);
    }),
  );

  it(
    "an ADD repeated for a handle that holds an address gets that address again, not a second one",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { ipam } = await started(api, dir);
      const [a] = await ipam.allocate(ask("pod-a"));
      const [again] = await ipam.allocate(ask("pod-a"));
      expect(again?.address).toBe(a?.address);
      await until("takes written", () => ipam.owedCount() === 0);
      expect([...podHolders(api).values()].filter((h) => h === "pod-a")).toHaveLength(1);
    }),
  );

  it(
    "a preferred pool without a reservation is not skipped for a later pool that has some",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { ipam } = await started(api, dir);
      // Pool q comes first for this request and this node has no block of it yet: a claim, the ordinary path.
      const q = poolView({ metadata: { name: "q" }, spec: { cidr: "10.8.0.0/26", blockSize: 28 } });
      if (typeof q === "string") throw new Error(q);
      const pools = [pool(), q];
      const two = new IpamService({
        api,
        node: () => ({ name: "n1", labels: {}, strictAffinity: false }),
        pools: () => pools,
        log: pino({ level: "silent" }),
        journal: new IpamJournal(join(dir, "n1-journal")),
        reservePerBlock: 4,
      });
      made.push(two);
      await ipam.quiesce();
      await two.load();
      await two.replayJournal();
      const [a] = await two.allocate({ ...ask("pod-q"), poolNames: { 4: ["q", "p"], 6: [] } });
      expect(a?.address.startsWith("10.8.0.")).toBe(true);
    }),
  );

  it(
    "another node borrowing from this node's block never gets a reserved address",
    withDir(async (dir) => {
      const api = new GatedApi();
      const pools = [pool()];
      // n1 holds every block of the /26 (4 × /28), so n2 can only borrow.
      const n1 = await started(api, dir);
      for (let i = 0; i < 44; i++) await n1.ipam.allocate(ask(`fill${i}`));
      await until("n1 settled", () => n1.ipam.owedCount() === 0);
      const n2 = new IpamService({
        api,
        node: () => ({ name: "n2", labels: {}, strictAffinity: false }),
        pools: () => pools,
        log: pino({ level: "silent" }),
      });
      await n2.load();
      const reserved = new Set<string>();
      for (const b of api.blocks.values())
        for (const a of b.spec.allocations)
          if (isReservationOf(a.handle, "n1")) reserved.add(`${b.spec.cidr}/${a.ordinal}`);
      expect(reserved.size).toBeGreaterThan(0);
      const borrowed: string[] = [];
      for (;;) {
        const r = await n2.allocate(ask(`n2-${borrowed.length}`)).catch(() => undefined);
        if (r === undefined) break;
        borrowed.push(r[0]?.address ?? "");
      }
      // Borrowing ran the pool dry except for n1's reservations, and took none of them.
      expect(borrowed.length).toBeGreaterThan(0);
      podHolders(api);
      for (const b of api.blocks.values())
        for (const a of b.spec.allocations)
          if (reserved.has(`${b.spec.cidr}/${a.ordinal}`)) expect(isReservationOf(a.handle, "n1")).toBe(true);
      // And n1 still grants them.
      const more = await n1.ipam.allocate(ask("after-borrow"));
      expect(more).toHaveLength(1);
      await until("n1 settled", () => n1.ipam.owedCount() === 0);
      podHolders(api);
    }),
  );

  it(
    "a DEL before the write landed releases the address; it is not reserved again in that write",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { ipam, journal } = await started(api, dir);
      api.down = true;
      const [a] = await ipam.allocate(ask("pod-a"));
      await until("the background write failed", () => api.refused > 0);
      api.down = false;
      // Its write has not landed: the release carries the take and removes it.
      expect(ipam.owedCount()).toBe(1);
      expect(await ipam.release(["pod-a"])).toBe(1);
      expect([...podHolders(api).values()]).not.toContain("pod-a");
      const ord = Number((a?.address ?? "").split(".")[3]);
      const at = [...api.blocks.values()][0]?.spec.allocations.find((x) => x.ordinal === ord);
      expect(at).toBeUndefined();
      expect(readFileSync(journal.path, "utf8")).not.toContain("pod-a");
    }),
  );
});

/**
 * A node grants pod-a from a reservation and dies while the block's write
 * is in flight (held: it never lands); later writes of the API go through.
 */
async function grantedThenDies(
  api: GatedApi,
  dir: string,
): Promise<{ first: Agent; granted: Awaited<ReturnType<IpamService["allocate"]>>[number] | undefined }> {
  const first = await started(api, dir);
  api.hold = true;
  const [granted] = await first.ipam.allocate(ask("pod-a"));
  await until("the write is in flight", () => api.held > 0);
  api.hold = false;
  return { first, granted };
}

describe("reserved addresses: the agent dies, the API server goes away", () => {
  it(
    "killed between the journal and the block's write: the restarted agent owes the take, hands it out to nobody else, and writes it",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { granted: a } = await grantedThenDies(api, dir);
      const second = agent(api, dir);
      await second.ipam.load();
      expect(await second.ipam.replayJournal()).toEqual({ owed: 1, dropped: 0 });
      const next = await Promise.all(Array.from({ length: 6 }, (_, i) => second.ipam.allocate(ask(`p${i}`))));
      expect(next.map((n) => n[0]?.address)).not.toContain(a?.address);
      await until("owed takes written", () => second.ipam.owedCount() === 0);
      const holders = podHolders(api);
      expect([...holders.entries()].find(([, h]) => h === "pod-a")?.[0]).toBe(
        `10-9-0-0-28/${Number((a?.address ?? "").split(".")[3])}`,
      );
      expect(holders.size).toBe(8);
    }),
  );

  it(
    "killed after the write landed, before the journal was compacted: the take is not owed again",
    withDir(async (dir) => {
      const api = new GatedApi();
      const first = await started(api, dir);
      await first.ipam.allocate(ask("pod-a"));
      await until("written", () => first.ipam.owedCount() === 0);
      // The journal as it was before compaction (the crash window): the take is still on file.
      const take = [...api.blocks.values()][0]?.spec.allocations.find((x) => x.handle === "pod-a");
      first.journal.append([{ block: "10-9-0-0-28", ordinal: take?.ordinal ?? -1, allocation: take! }]);
      const second = agent(api, dir);
      await second.ipam.load();
      expect(await second.ipam.replayJournal()).toEqual({ owed: 0, dropped: 1 });
      expect(second.ipam.nodeAllocations().filter((x) => x.handle === "pod-a")).toHaveLength(1);
    }),
  );

  it(
    "killed before the take reached the journal: the reservation is free again (nothing leaks)",
    withDir(async (dir) => {
      const api = new GatedApi();
      await started(api, dir);
      const second = agent(api, dir);
      await second.ipam.load();
      expect(await second.ipam.replayJournal()).toEqual({ owed: 0, dropped: 0 });
      expect(second.ipam.nodeAllocations().map((x) => x.handle)).toEqual(["n1-first"]);
      const [a] = await second.ipam.allocate(ask("pod-b"));
      expect(a?.address).toBe("10.9.0.2");
    }),
  );

  it(
    "a torn last line of the journal (a crash mid-append) is skipped: that take was never granted",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { first } = await grantedThenDies(api, dir);
      const { appendFileSync } = await import("node:fs");
      appendFileSync(first.journal.path, '{"block":"10-9-0-0-28","ordinal":3,"alloc');
      const second = agent(api, dir);
      await second.ipam.load();
      expect(await second.ipam.replayJournal()).toEqual({ owed: 1, dropped: 1 });
    }),
  );

  it(
    "the API server away: ADDs are still granted from reservations, written once it is back; then the ordinary path",
    withDir(async (dir) => {
      const api = new GatedApi();
      const { ipam } = await started(api, dir);
      api.down = true;
      const got = await Promise.all(["a", "b", "c", "d"].map((h) => ipam.allocate(ask(h))));
      expect(new Set(got.map((g) => g[0]?.address)).size).toBe(4);
      expect(ipam.owedCount()).toBe(4);
      // Reservations used up: the next ADD needs the API, and says to try again later.
      await expect(ipam.allocate(ask("e"))).rejects.toMatchObject({ retryable: true });
      api.down = false;
      await until("owed takes written after the outage", () => ipam.owedCount() === 0, 10_000);
      expect([...podHolders(api).values()].sort()).toEqual(["a", "b", "c", "d", "n1-first"]);
    }),
  );
});
